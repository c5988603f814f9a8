r"""What RetNet buys, measured: decoding with a fixed-size state vs a KV cache, the training cost of the retention
modes, and the package vs the official code (notebook 09).

Command line (``python -m retnet_edu.experiments.bench --help``)::

    python -m retnet_edu.experiments.bench decode          # RetNetLM recurrent decoding vs the Transformer's KV cache
    python -m retnet_edu.experiments.bench train           # forward + backward: parallel/chunkwise retention, attention
    python -m retnet_edu.experiments.bench official        # our modules vs torchscale 0.3.0: same outputs, time ratio
    python -m retnet_edu.experiments.bench decode --quick  # seconds (the tests run every sub-command this way)
    python -m retnet_edu.experiments.bench decode --compile  # also one torch.compile'd step of each model

Each sub-command prints a table and writes ``<out>/<command>-<device>.json`` and ``.png`` (``--out``, default
``runs/bench/``, git-ignored; the course's recorded runs are in ``benchmarks/``, written with ``--out benchmarks``).
The JSON holds the exact command line, the machine (CPU model, cores, torch version, threads, device, load averages
before and after), the package version and git commit, the date, the settings, one row per measurement and a summary
of the headline ratios (schema ``SCHEMA``; ``load_result`` reads it back).

How things are measured:

- **Time**: warm-up calls first, then ``repeats`` timed blocks; the candidates of one comparison are timed
  *interleaved* (A, B, B, A, A, B, …) in the same run, so a busy machine slows all of them alike and their ratio
  stays meaningful. Reported: the median and the quartiles of the blocks. On CUDA a block is timed with CUDA events
  (``torch.cuda.Event``) after ``torch.cuda.synchronize()``; on the CPU with ``time.perf_counter``.
- **Memory**: on the CPU, the peak bytes held at once by tensors that PyTorch operators create during the call
  (``retnet_edu.experiments.measure.peak_tensor_bytes``: deterministic; it counts operator outputs, autograd's saved
  tensors and gradients, not the allocator's caching, BLAS scratch or anything outside PyTorch; it agrees with an
  allocator-level ``torch.profiler`` memory trace to the byte on the calls measured here, see
  ``benchmarks/README.md``); on CUDA, ``torch.cuda.max_memory_allocated`` minus what was allocated before the call.
  Memory held before the call (the weights) is not counted in either.
- **Decoding without a real prefill**: the step at context length t costs the same whatever the numbers in the
  state or the cache are, so the RetNet state (B, H, d_k, d_v) and the Transformer's keys and values
  (B, H, t, d_h) are filled with random numbers at position t instead of running a t-token prompt. Every timed
  step reads the same state/cache and writes position t (the cache's length is reset after each step).

The analytic side (``decode_costs``) counts multiply-adds and the bytes a step must read: every weight once (shared
by the batch) plus, per sequence, the state (RetNet) or the keys and values of every earlier token (Transformer).
When a step is limited by memory bandwidth, time is proportional to bytes read, and the ratio of the two byte
counts is the speed-up to expect; ``ideal_ratio`` in the results.

- **Compiled decoding** (``decode --compile``): each model's step as a plain function of tensors (``compiled.py``:
  the same modules and kernels, the position as a tensor, the Transformer's cache as a fixed-capacity buffer),
  compiled with ``torch.compile(fullgraph=True)`` into one graph and timed interleaved with the eager steps; its
  outputs are compared with the eager step's on every row, its compile time is recorded apart from the timings.

Files: ``common.py`` (argument checks, model sizes, timing, memory, machine and code provenance, result files),
``decode.py``, ``train.py`` and ``official.py`` (one per command), ``compiled.py`` (the compiled decoding steps),
``__main__.py`` (the command line). Layer:
uses ``model``, ``layers``, ``baselines.transformer``, ``experiments.train`` (model sizes), ``experiments.measure``
and ``torchscale_compat``; ``save_result`` draws the figures with ``experiments.bench_plots`` (imported only there,
after matplotlib's backend is chosen).
"""

from __future__ import annotations

from retnet_edu.experiments.bench.common import (
    COMMANDS,
    DEFAULT_OUT,
    SCHEMA,
    Timer,
    code_version,
    load_result,
    machine_info,
    memory_method,
    model_sizes,
    peak_memory,
    result_stem,
    rss_bytes,
    save_result,
    summarize,
    synchronize,
    time_interleaved,
)
from retnet_edu.experiments.bench.compiled import (
    compile_step,
    compiled_graphs,
    mark_cache_dynamic,
    retnet_step_function,
    transformer_step_function,
)
from retnet_edu.experiments.bench.decode import (
    DECODE_CONTEXTS,
    decode_costs,
    fit_step_time,
    measure_decode,
    random_cache,
    random_state,
    run_decode,
)
from retnet_edu.experiments.bench.official import run_official
from retnet_edu.experiments.bench.train import TRAIN_LENGTHS, measure_train, run_train

__all__ = [
    "SCHEMA",
    "COMMANDS",
    "DEFAULT_OUT",
    "DECODE_CONTEXTS",
    "TRAIN_LENGTHS",
    "model_sizes",
    "synchronize",
    "Timer",
    "time_interleaved",
    "summarize",
    "peak_memory",
    "memory_method",
    "rss_bytes",
    "decode_costs",
    "random_state",
    "random_cache",
    "measure_decode",
    "run_decode",
    "fit_step_time",
    "retnet_step_function",
    "transformer_step_function",
    "compile_step",
    "mark_cache_dynamic",
    "compiled_graphs",
    "measure_train",
    "run_train",
    "run_official",
    "machine_info",
    "code_version",
    "result_stem",
    "save_result",
    "load_result",
    "main",
]


def main(argv: list[str] | None = None) -> int:
    """The command line (``__main__.py``): ``main(["decode", "--quick"])`` is ``python -m
    retnet_edu.experiments.bench decode --quick``. Returns the exit status."""
    from retnet_edu.experiments.bench.__main__ import main as cli_main  # imported here: ``-m`` runs it afresh

    return cli_main(argv)
