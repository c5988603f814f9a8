r"""What RetNet buys, measured: decoding with a fixed-size state vs a KV cache, the training cost of the retention
modes, and the package vs the official code (notebook 09).

Command line (``python -m retnet_edu.experiments.bench --help``)::

    python -m retnet_edu.experiments.bench decode            # RetNetLM recurrent decoding vs the Transformer's KV cache
    python -m retnet_edu.experiments.bench train             # forward + backward: parallel vs chunkwise retention vs attention
    python -m retnet_edu.experiments.bench official          # our modules vs torchscale 0.3.0: same outputs, time ratio
    python -m retnet_edu.experiments.bench decode --quick    # seconds (the tests run every sub-command this way)

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
  (``retnet_edu.experiments.measure.peak_tensor_bytes``: deterministic; it counts operator outputs, autograd's saved tensors
  and gradients, not the allocator's caching, BLAS scratch or anything outside PyTorch; it agrees with an
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

Layer: uses ``model``, ``transformer``, ``layers``, ``train`` (model sizes), ``measure``, ``notebook`` and
``torchscale_compat``; the command line draws its figures with ``viz`` (imported only there).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import gc
import json
import numbers
import os
import platform
import shlex
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import torch
from torch import Tensor, nn

from retnet_edu._args import check_int as _check_positive_int
from retnet_edu.experiments.data import CORPUS_VOCAB_SIZE
from retnet_edu.layers import RetentionState, RetNetBlock
from retnet_edu.experiments.measure import peak_tensor_bytes
from retnet_edu.model import RetNetConfig, RetNetLM, RetNetState
from retnet_edu.experiments.runtime import get_device
from retnet_edu.experiments.train import get_config, model_configs
from retnet_edu.baselines.transformer import KVCache, TransformerBlock, TransformerConfig, TransformerLM

__all__ = [
    "SCHEMA",
    "COMMANDS",
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
    "measure_train",
    "run_train",
    "run_official",
    "machine_info",
    "code_version",
    "save_result",
    "load_result",
    "main",
]

SCHEMA = "retnet_edu.experiments.bench/1"
COMMANDS = ("decode", "train", "official")
DECODE_CONTEXTS = tuple(2 ** i for i in range(7, 15))       # 128 … 16384, doubling
TRAIN_LENGTHS = tuple(2 ** i for i in range(9, 14))         # 512 … 8192
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16, "float64": torch.float64}


def _check_ints(values, name: str) -> tuple[int, ...]:
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(f"{name} must be a sequence of positive ints, got {type(values).__name__}")
    out = tuple(_check_positive_int(v, name) for v in values)
    if not out:
        raise ValueError(f"{name} must not be empty")
    return out


def _device(device) -> torch.device:
    if isinstance(device, torch.device):
        return device
    if device is None or device == "auto":
        return get_device()
    if not isinstance(device, str):
        raise TypeError(f"device must be a torch.device, 'auto', 'cpu', 'cuda' or 'mps', got {type(device).__name__}")
    return get_device(device)


def _dtype(dtype) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        if dtype not in DTYPES.values():
            raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {dtype}")
        return dtype
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
    return DTYPES[dtype]


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).replace("torch.", "")


# ----------------------------------------------------------------------------------------------------------
# model sizes
# ----------------------------------------------------------------------------------------------------------
def model_sizes(name: str, vocab_size: int = CORPUS_VOCAB_SIZE) -> tuple[RetNetConfig, TransformerConfig]:
    """The RetNet and the parameter-matched Transformer of the training config ``name`` (``retnet_edu.experiments.train``):
    "cpu" is the course's model (notebook 08: d = 128, 4 layers, 4 heads), "gpu" the larger one (d = 384, 6 layers,
    6 heads), "cpu-tiny" and "notebook" smaller ones. The vocabulary defaults to the course corpus's 76 characters."""
    return model_configs(get_config(name), _check_positive_int(vocab_size, "vocab_size"))


# ----------------------------------------------------------------------------------------------------------
# timing and memory, per device
# ----------------------------------------------------------------------------------------------------------
def synchronize(device: torch.device) -> None:
    """Wait until the device has finished its queued work (CUDA and MPS run asynchronously; the CPU does not)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


class Timer:
    """Seconds per call of ``fn``, averaged over ``inner`` back-to-back calls.

    CUDA: ``torch.cuda.synchronize``, then two ``torch.cuda.Event(enable_timing=True)`` recorded around the calls
    and ``elapsed_time`` between them (GPU time of the queued work, no Python launch gaps counted twice).
    CPU and MPS: the device is synchronised before and after, and ``time.perf_counter`` measures wall time.
    """

    def __init__(self, device: torch.device | str = "cpu"):
        self.device = _device(device)

    def __call__(self, fn: Callable[[], object], inner: int = 1) -> float:
        if not callable(fn):
            raise TypeError(f"fn must be callable, got {type(fn).__name__}")
        inner = _check_positive_int(inner, "inner")
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(inner):
                fn()
            end.record()
            end.synchronize()
            return start.elapsed_time(end) / 1e3 / inner
        synchronize(self.device)
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        synchronize(self.device)
        return (time.perf_counter() - t0) / inner


def time_interleaved(fns: dict[str, Callable[[], object]], repeats: int = 5, warmup: int = 1, inner: int = 1,
                     device: torch.device | str = "cpu") -> dict[str, list[float]]:
    """Time several candidates side by side: ``warmup`` untimed calls of each, then ``repeats`` rounds in which
    every candidate is timed once (``inner`` calls per block), the order reversed every other round. Returns
    name → the ``repeats`` seconds-per-call samples. Ratios of their medians compare the candidates under the same
    machine conditions."""
    if not isinstance(fns, dict) or not fns or not all(callable(f) for f in fns.values()):
        raise TypeError("fns must be a non-empty dict of name -> callable")
    repeats = _check_positive_int(repeats, "repeats")
    if isinstance(warmup, bool) or not isinstance(warmup, numbers.Integral) or warmup < 0:
        raise ValueError(f"warmup must be an int >= 0, got {warmup!r}")
    timer = Timer(device)
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    names = list(fns)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        for name in (names if r % 2 == 0 else names[::-1]):
            samples[name].append(timer(fns[name], inner))
    return samples


def summarize(samples) -> dict:
    """``{"median", "q25", "q75", "min", "n"}`` of a list of timings (seconds)."""
    xs = sorted(float(s) for s in samples)
    if not xs:
        raise ValueError("samples must not be empty")
    if len(xs) == 1:
        q25 = q75 = xs[0]
    else:
        q25, _, q75 = statistics.quantiles(xs, n=4, method="inclusive")
    return {"median": statistics.median(xs), "q25": q25, "q75": q75, "min": xs[0], "n": len(xs)}


def memory_method(device: torch.device | str) -> str:
    """What ``peak_memory`` measures on ``device``, in words (recorded in every result)."""
    device = _device(device)
    if device.type == "cuda":
        return "torch.cuda.max_memory_allocated during the call, minus torch.cuda.memory_allocated before it"
    return ("peak bytes held at once by tensors created by PyTorch operators during the call "
            "(retnet_edu.experiments.measure.peak_tensor_bytes; memory held before the call, e.g. the weights, not counted)")


def peak_memory(fn: Callable[[], object], device: torch.device | str = "cpu") -> int:
    """Peak bytes that ``fn()`` adds on ``device`` (see ``memory_method``); its result is dropped first."""
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    device = _device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        gc.collect()
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        result = fn()
        del result
        torch.cuda.synchronize(device)
        return int(torch.cuda.max_memory_allocated(device) - base)
    return int(peak_tensor_bytes(fn))


def rss_bytes() -> int | None:
    """The resident set size of this process (Linux ``/proc/self/statm``), or None where it cannot be read."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


# ----------------------------------------------------------------------------------------------------------
# the cost model of one decoding step
# ----------------------------------------------------------------------------------------------------------
def _retnet_layer_weights(c: RetNetConfig) -> int:
    d, V, F = c.embed_dim, c.value_dim, c.ffn_dim
    return 2 * d * d + 3 * d * V + 3 * d * F          # q, k; v, g, out; fc1, gate, fc2 (norm gains left out)


def _transformer_layer_weights(c: TransformerConfig) -> int:
    d, F = c.embed_dim, c.ffn_dim
    return 4 * d * d + 3 * d * F                      # q, k, v, o; fc1, gate, fc2


def decode_costs(retnet: RetNetConfig, transformer: TransformerConfig, context: int, batch: int = 1,
                 bytes_per_number: int = 4) -> dict:
    r"""The cost of one decoding step (one new token per sequence) after ``context`` tokens, from the sizes.

    Multiply-adds per sequence: the weight matrices (every layer's, plus the output projection; the embedding is a
    lookup) plus the token mixing of every layer: RetNet ``2 H d_k d_v`` (``S ← γS + kᵀv`` and ``q S``, eq. 6;
    ``4d²/H`` with d_v = 2d/H), independent of the context; the Transformer ``2 (t+1) d`` (scores ``q·k_m`` and the
    weighted sum of ``v_m`` over the t cached positions and the new one).

    Bytes a step must read: every weight once (shared by the batch; the embedding table only its B rows) plus, per
    sequence, RetNet's state (layers · H · d_k · d_v numbers) or the Transformer's cached keys and values
    (layers · 2 · t · d numbers). If a step's time is set by memory traffic, the time ratio is the byte ratio:
    ``ideal_ratio`` = transformer_bytes / retnet_bytes.
    """
    if not isinstance(retnet, RetNetConfig) or not isinstance(transformer, TransformerConfig):
        raise TypeError("retnet must be a RetNetConfig and transformer a TransformerConfig")
    if isinstance(context, bool) or not isinstance(context, numbers.Integral) or context < 0:
        raise ValueError(f"context must be an int >= 0, got {context!r}")
    batch = _check_positive_int(batch, "batch")
    bytes_per_number = _check_positive_int(bytes_per_number, "bytes_per_number")
    t, L, H = int(context), retnet.num_layers, retnet.num_heads
    d_k, d_v = retnet.embed_dim // H, retnet.value_dim // H
    d = transformer.embed_dim
    state_numbers = L * H * d_k * d_v                                   # per sequence
    kv_numbers = transformer.num_layers * 2 * t * d                     # per sequence
    r_weights = L * _retnet_layer_weights(retnet) + retnet.vocab_size * retnet.embed_dim
    t_weights = transformer.num_layers * _transformer_layer_weights(transformer) + transformer.vocab_size * d
    r_mix = L * 2 * H * d_k * d_v
    t_mix = transformer.num_layers * 2 * (t + 1) * d
    # everything a step reads: weight matrices, norm gains, the output projection, B embedding rows, state / cache
    r_read = (r_weights + L * 2 * retnet.embed_dim + retnet.embed_dim + batch * retnet.embed_dim
              + batch * state_numbers) * bytes_per_number
    t_read = (t_weights + transformer.num_layers * 2 * d + d + batch * d + batch * kv_numbers) * bytes_per_number
    return {
        "context": t,
        "batch": batch,
        "state_bytes": batch * state_numbers * bytes_per_number,
        "kv_bytes": batch * kv_numbers * bytes_per_number,
        "retnet_macs": batch * (r_weights + r_mix),
        "transformer_macs": batch * (t_weights + t_mix),
        "retnet_mixing_macs": batch * r_mix,
        "transformer_mixing_macs": batch * t_mix,
        "retnet_read_bytes": r_read,
        "transformer_read_bytes": t_read,
        "flop_ratio": (t_weights + t_mix) / (r_weights + r_mix),
        "ideal_ratio": t_read / r_read,
    }


# ----------------------------------------------------------------------------------------------------------
# decoding: one step at context t, with a state / cache of the right size
# ----------------------------------------------------------------------------------------------------------
def random_state(model: RetNetLM, batch: int, context: int, generator: torch.Generator | None = None) -> RetNetState:
    """A RetNet decoding state as if ``context`` tokens had been read: per layer S of shape (B, H, d_k, d_v) with
    random entries (uniform in ±0.1), offset = context. One step from it costs what a step after a real
    ``context``-token prompt costs."""
    if not isinstance(model, RetNetLM):
        raise TypeError(f"model must be a RetNetLM, got {type(model).__name__}")
    batch = _check_positive_int(batch, "batch")
    if isinstance(context, bool) or not isinstance(context, numbers.Integral) or context < 0:
        raise ValueError(f"context must be an int >= 0, got {context!r}")
    w = model.embed_tokens.weight
    layers = []
    for block in model.layers:
        msr = block.retention
        S = torch.empty(batch, msr.num_heads, msr.key_dim, msr.head_dim, dtype=w.dtype, device=w.device)
        S.uniform_(-0.1, 0.1, generator=generator)
        layers.append(RetentionState(S, int(context)))
    return RetNetState(tuple(layers))


def random_cache(model: TransformerLM, batch: int, context: int, spare: int = 1,
                 generator: torch.Generator | None = None) -> KVCache:
    """A KV cache as if ``context`` tokens had been read: per layer keys and values (B, H, context + spare, d_h)
    with random entries (uniform in ±1), length = context. ``spare`` free positions (≥ 1) let a step append
    without the cache growing."""
    if not isinstance(model, TransformerLM):
        raise TypeError(f"model must be a TransformerLM, got {type(model).__name__}")
    batch = _check_positive_int(batch, "batch")
    spare = _check_positive_int(spare, "spare")
    if isinstance(context, bool) or not isinstance(context, numbers.Integral) or context < 0:
        raise ValueError(f"context must be an int >= 0, got {context!r}")
    c = model.config
    w = model.embed_tokens.weight
    shape = (batch, c.num_heads, int(context) + spare, c.head_dim)
    keys, values = [], []
    for _ in range(c.num_layers):
        for store in (keys, values):
            buf = torch.empty(shape, dtype=w.dtype, device=w.device)
            store.append(buf.uniform_(-1.0, 1.0, generator=generator))
    return KVCache(keys, values, int(context))


def _decode_steps(retnet: RetNetLM, transformer: TransformerLM, batch: int, context: int,
                  generator: torch.Generator):
    """(retnet_step, transformer_step, state, cache): each step decodes one token at position ``context``."""
    state = random_state(retnet, batch, context, generator)
    cache = random_cache(transformer, batch, context, generator=generator)
    device = retnet.embed_tokens.weight.device
    tok = torch.randint(0, retnet.config.vocab_size, (batch, 1), generator=generator, device=device)

    def retnet_step():
        return retnet(tok, mode="recurrent", state=state)

    def transformer_step():
        cache.length = context                  # write position `context` again, read the same t keys/values
        return transformer(tok, cache)

    return retnet_step, transformer_step, state, cache


def _memory_of_decoding(model, batch: int, context: int, device: torch.device, generator: torch.Generator) -> int:
    """Peak bytes added by building the state/cache for ``context`` tokens and decoding one step from it."""
    vocab = model.config.vocab_size

    def run():
        tok = torch.randint(0, vocab, (batch, 1), generator=generator, device=device)
        if isinstance(model, RetNetLM):
            state = random_state(model, batch, context, generator)
            return model(tok, mode="recurrent", state=state)
        cache = random_cache(model, batch, context, generator=generator)
        return model(tok, cache)

    with torch.no_grad():
        return peak_memory(run, device)


def _weight_bytes(model: nn.Module) -> int:
    return sum(p.numel() * p.element_size() for p in model.parameters())


def measure_decode(retnet: RetNetLM, transformer: TransformerLM, batch: int, context: int, repeats: int = 5,
                   inner: int = 5, warmup: int = 3, memory: bool = True, seed: int = 0) -> dict:
    """One row of the decode benchmark: both models decode one token per sequence at position ``context``.

    Times (ms per step, i.e. per generated token of each sequence) are measured interleaved; ``speed_ratio`` =
    Transformer median / RetNet median. Memory: ``*_bytes_exact`` from the sizes, ``*_bytes_held`` the tensors the
    state/cache hold (``nbytes``), ``*_step_peak_bytes`` the measured peak of building it and decoding one step
    (``memory_method``), ``*_rss_delta_bytes`` the change of the process's resident memory while it is held
    (Linux CPU only; indicative: the allocator may reuse memory it already holds).
    """
    if not isinstance(retnet, RetNetLM) or not isinstance(transformer, TransformerLM):
        raise TypeError("retnet must be a RetNetLM and transformer a TransformerLM")
    batch = _check_positive_int(batch, "batch")
    context = _check_positive_int(context, "context")
    device = retnet.embed_tokens.weight.device
    dtype = retnet.embed_tokens.weight.dtype
    gen = torch.Generator(device=device).manual_seed(seed)          # random numbers made where they are used
    row: dict = {"batch": batch, "context": context}
    costs = decode_costs(retnet.config, transformer.config, context, batch,
                         torch.empty((), dtype=dtype).element_size())
    row.update({k: costs[k] for k in ("state_bytes", "kv_bytes", "retnet_read_bytes", "transformer_read_bytes",
                                      "flop_ratio", "ideal_ratio")})
    row["state_bytes_exact"] = row.pop("state_bytes")
    row["kv_bytes_exact"] = row.pop("kv_bytes")
    if memory:
        row["retnet_step_peak_bytes"] = _memory_of_decoding(retnet, batch, context, device, gen)
        row["transformer_step_peak_bytes"] = _memory_of_decoding(transformer, batch, context, device, gen)
    gc.collect()
    with torch.no_grad():
        rss0 = rss_bytes() if device.type == "cpu" else None
        r_step, t_step, state, cache = _decode_steps(retnet, transformer, batch, context, gen)
        rss1 = rss_bytes() if device.type == "cpu" else None
        row["state_bytes_held"] = state.nbytes()
        row["kv_bytes_held"] = cache.capacity_nbytes()
        samples = time_interleaved({"retnet": r_step, "transformer": t_step}, repeats, warmup, inner, device)
    if rss0 is not None and rss1 is not None:
        row["cache_and_state_rss_delta_bytes"] = rss1 - rss0
    del state, cache, r_step, t_step
    gc.collect()
    for name in ("retnet", "transformer"):
        s = summarize(samples[name])
        row[f"{name}_ms"] = s["median"] * 1e3
        row[f"{name}_ms_q25"] = s["q25"] * 1e3
        row[f"{name}_ms_q75"] = s["q75"] * 1e3
        row[f"{name}_tokens_per_s"] = batch / s["median"]
    row["speed_ratio"] = row["transformer_ms"] / row["retnet_ms"]
    row["ratio_vs_ideal"] = row["speed_ratio"] / row["ideal_ratio"]
    if memory:
        w_r, w_t = _weight_bytes(retnet), _weight_bytes(transformer)
        row["retnet_memory_bytes"] = w_r + row["retnet_step_peak_bytes"]
        row["transformer_memory_bytes"] = w_t + row["transformer_step_peak_bytes"]
        row["memory_ratio"] = row["transformer_memory_bytes"] / row["retnet_memory_bytes"]
    return row


def _build_pair(size: str, device: torch.device, dtype: torch.dtype, seed: int = 0):
    rcfg, tcfg = model_sizes(size)
    torch.manual_seed(seed)
    retnet = RetNetLM(rcfg).to(device=device, dtype=dtype).eval()
    transformer = TransformerLM(tcfg).to(device=device, dtype=dtype).eval()
    return retnet, transformer


def _size_info(retnet: RetNetLM, transformer: TransformerLM) -> dict:
    c = retnet.config
    return {"retnet": c.to_dict(), "transformer": transformer.config.to_dict(),
            "retnet_parameters": retnet.num_parameters(), "transformer_parameters": transformer.num_parameters(),
            "retnet_weight_bytes": _weight_bytes(retnet), "transformer_weight_bytes": _weight_bytes(transformer),
            "d_k": c.embed_dim // c.num_heads, "d_v": c.value_dim // c.num_heads}


def run_decode(sizes=("cpu", "gpu"), batches=(1, 8), contexts=DECODE_CONTEXTS, device="cpu", dtype="float32",
               repeats: int = 5, inner: int = 5, warmup: int = 3, memory: bool = True,
               max_cache_mib: float = 3072.0, progress: Callable[[str], None] | None = None) -> dict:
    """The decode benchmark: ``measure_decode`` for every model size × batch × context. Points whose KV cache would
    exceed ``max_cache_mib`` are skipped (listed under ``"skipped"``). Returns the result body (rows, summary);
    ``main`` adds the provenance."""
    device, dtype = _device(device), _dtype(dtype)
    sizes = tuple(sizes)
    batches, contexts = _check_ints(batches, "batches"), _check_ints(contexts, "contexts")
    rows, skipped, size_info = [], [], {}
    for size in sizes:
        retnet, transformer = _build_pair(size, device, dtype)
        size_info[size] = _size_info(retnet, transformer)
        for batch in batches:
            for context in contexts:
                kv = decode_costs(retnet.config, transformer.config, context, batch,
                                  torch.empty((), dtype=dtype).element_size())["kv_bytes"]
                if kv > max_cache_mib * 2 ** 20:
                    skipped.append({"size": size, "batch": batch, "context": context,
                                    "reason": f"KV cache {kv / 2**20:.0f} MiB > --max-cache-mib {max_cache_mib:g}"})
                    continue
                row = {"size": size, **measure_decode(retnet, transformer, batch, context, repeats, inner, warmup,
                                                      memory)}
                rows.append(row)
                if progress:
                    progress(_decode_line(row))
        del retnet, transformer
        gc.collect()
    return {"command": "decode", "settings": {"sizes": list(sizes), "batches": list(batches), "contexts": list(contexts),
                         "dtype": _dtype_name(dtype), "repeats": repeats, "inner": inner, "warmup": warmup,
                         "memory": memory, "max_cache_mib": max_cache_mib,
                         "memory_method": memory_method(device) if memory else None,
                         "state_and_cache": "filled with random numbers at the context position (no real prefill)"},
            "sizes": size_info, "rows": rows, "skipped": skipped, "summary": _decode_summary(rows)}


def _decode_line(r: dict) -> str:
    mem = (f"  state {r['state_bytes_exact'] / 2**20:8.3f} MiB (held {r['state_bytes_held'] / 2**20:.3f})"
           f"  KV {r['kv_bytes_exact'] / 2**20:9.2f} MiB (held {r['kv_bytes_held'] / 2**20:.2f})")
    if "retnet_step_peak_bytes" in r:
        mem += (f"  measured {r['retnet_step_peak_bytes'] / 2**20:.3f} vs "
                f"{r['transformer_step_peak_bytes'] / 2**20:.2f} MiB")
    return (f"{r['size']:>8s} B={r['batch']:<2d} t={r['context']:>6d}  RetNet {r['retnet_ms']:8.3f} ms"
            f"  Transformer {r['transformer_ms']:8.3f} ms  speed ×{r['speed_ratio']:6.2f}"
            f" (ideal ×{r['ideal_ratio']:6.2f}){mem}")


def fit_step_time(read_bytes, ms) -> tuple[float, float] | None:
    """Least-squares fit ``ms = fixed_ms + read_bytes / bandwidth`` over a series of decoding steps: the fixed cost
    per step (operator dispatch, Python, the weights' arithmetic) and the effective memory bandwidth (bytes/s).
    Returns ``(fixed_ms, bandwidth)``, or None where the fit means nothing physical: fewer than two distinct byte
    counts, a slope that is not positive (time does not grow with the bytes read) or a negative fixed cost."""
    xs, ys = [float(b) for b in read_bytes], [float(t) for t in ms]
    if len(xs) != len(ys):
        raise ValueError("read_bytes and ms must have the same length")
    if len(set(xs)) < 2:
        return None
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    if slope <= 0 or my - slope * mx < 0:
        return None
    return my - slope * mx, 1e3 / slope          # ms per byte → bytes per second


def _decode_summary(rows: list[dict]) -> dict:
    """Per (size, batch): flatness of RetNet's step time, growth of the Transformer's, the headline ratios at
    1k/8k/16k, and the fit of ``fit_step_time`` to the Transformer's steps (each row then gets ``fitted_ratio``:
    the speed ratio that fixed cost and bandwidth predict from the bytes each model reads)."""
    out = {}
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["size"], r["batch"]), []).append(r)
    for (size, batch), rs in groups.items():
        rs = sorted(rs, key=lambda r: r["context"])
        key = f"{size}/batch{batch}"
        entry = {"retnet_flatness": rs[-1]["retnet_ms"] / rs[0]["retnet_ms"],
                 "flatness_contexts": [rs[0]["context"], rs[-1]["context"]],
                 "transformer_growth": rs[-1]["transformer_ms"] / rs[0]["transformer_ms"]}
        fit = fit_step_time([r["transformer_read_bytes"] for r in rs], [r["transformer_ms"] for r in rs])
        if fit is not None:
            fixed_ms, bandwidth = fit
            entry["transformer_fixed_ms"] = fixed_ms
            entry["transformer_bandwidth_GBps"] = bandwidth / 1e9
            for r in rs:       # the ratio the fit predicts: the same fixed cost, bytes at the fitted bandwidth
                t_ms = fixed_ms + r["transformer_read_bytes"] / bandwidth * 1e3
                r_ms = fixed_ms + r["retnet_read_bytes"] / bandwidth * 1e3
                r["fitted_ratio"] = t_ms / r_ms if r_ms > 0 else None
        for r in rs:
            if r["context"] in (1024, 8192, 16384):
                k = f"{r['context'] // 1024}k"
                entry[f"speed_ratio_{k}"] = r["speed_ratio"]
                entry[f"ideal_ratio_{k}"] = r["ideal_ratio"]
                if "memory_ratio" in r:
                    entry[f"memory_ratio_{k}"] = r["memory_ratio"]
        out[key] = entry
    return out


# ----------------------------------------------------------------------------------------------------------
# training: forward + backward of one layer, per token
# ----------------------------------------------------------------------------------------------------------
def _train_layers(size: str, device: torch.device, dtype: torch.dtype, seed: int = 0):
    rcfg, tcfg = model_sizes(size)
    torch.manual_seed(seed)
    retnet = RetNetBlock(rcfg.embed_dim, rcfg.value_dim, rcfg.num_heads, rcfg.ffn_dim, norm_eps=rcfg.norm_eps,
                         activation=rcfg.activation, gamma=rcfg.gammas()).to(device=device, dtype=dtype)
    sdpa = TransformerBlock(tcfg).to(device=device, dtype=dtype)
    naive_cfg = TransformerConfig(**{**tcfg.to_dict(), "attention": "naive"})
    naive = TransformerBlock(naive_cfg).to(device=device, dtype=dtype)
    naive.load_state_dict(sdpa.state_dict())
    return rcfg, tcfg, {"retnet": retnet, "sdpa": sdpa, "naive": naive}


def _train_step(layer: nn.Module, x: Tensor, grad: Tensor, mode: str | None, chunk_size: int | None):
    """One forward + backward of ``layer`` on ``x`` (gradients of the weights and of x freshly allocated)."""

    def step():
        layer.zero_grad(set_to_none=True)
        x.grad = None
        if mode is None:
            y = layer(x)
        else:
            y, _ = layer(x, mode=mode, chunk_size=chunk_size)
        y.backward(grad)

    return step


def _impl_name(kind: str, chunk_size: int | None) -> str:
    if kind == "chunkwise":
        return f"retnet chunkwise {chunk_size}"
    return {"parallel": "retnet parallel", "sdpa": "transformer sdpa", "naive": "transformer naive"}[kind]


def measure_train(layers: dict, T: int, batch: int, chunk_sizes=(64, 256, 512), repeats: int = 5, warmup: int = 1,
                  memory: bool = True, skip: dict | None = None, seed: int = 0) -> list[dict]:
    """Rows of the train benchmark at sequence length ``T``: forward + backward of one layer on (batch, T, d)
    inputs, for retention in parallel and chunkwise mode (each chunk size) and attention (sdpa and naive), timed
    interleaved. ``skip``: implementation name → reason, for points left out (e.g. memory)."""
    T, batch = _check_positive_int(T, "T"), _check_positive_int(batch, "batch")
    chunk_sizes = _check_ints(chunk_sizes, "chunk_sizes")
    skip = skip or {}
    ref = layers["retnet"]
    p = next(ref.parameters())
    gen = torch.Generator().manual_seed(seed)
    d = ref.retention.embed_dim
    x = torch.randn(batch, T, d, generator=gen).to(device=p.device, dtype=p.dtype).requires_grad_(True)
    grad = torch.randn(batch, T, d, generator=gen).to(device=p.device, dtype=p.dtype)
    candidates = {"parallel": (layers["retnet"], "parallel", None)}
    for c in chunk_sizes:
        candidates[f"chunkwise{c}"] = (layers["retnet"], "chunkwise", c)
    candidates["sdpa"] = (layers["sdpa"], None, None)
    candidates["naive"] = (layers["naive"], None, None)
    fns, names = {}, {}
    for key, (layer, mode, c) in candidates.items():
        kind = "chunkwise" if key.startswith("chunkwise") else key
        name = _impl_name(kind, c)
        if name in skip:
            continue
        names[key] = (name, kind, c)
        fns[key] = _train_step(layer, x, grad, mode, c)
    rows = []
    peaks = {key: peak_memory(fn, p.device) for key, fn in fns.items()} if memory else {}
    samples = time_interleaved(fns, repeats, warmup, 1, p.device)
    tokens = batch * T
    for key in fns:
        name, kind, c = names[key]
        s = summarize(samples[key])
        row = {"impl": name, "kind": kind, "chunk_size": c, "T": T, "batch": batch, "tokens": tokens,
               "ms": s["median"] * 1e3, "ms_q25": s["q25"] * 1e3, "ms_q75": s["q75"] * 1e3,
               "us_per_token": s["median"] / tokens * 1e6}
        if memory:
            row["peak_bytes"] = peaks[key]
            row["peak_bytes_per_token"] = peaks[key] / tokens
        rows.append(row)
    for name, reason in skip.items():
        rows.append({"impl": name, "T": T, "batch": batch, "skipped": reason})
    return rows


def _predicted_train_peak(kind: str, T: int, batch: int, heads: int, bytes_per_number: int) -> int:
    """A rough upper estimate of the T × T score memory of parallel retention / naive attention (for skipping)."""
    if kind in ("parallel", "naive"):
        return 5 * batch * heads * T * T * bytes_per_number
    return 0


def run_train(size: str = "cpu", lengths=TRAIN_LENGTHS, tokens: int = 8192, chunk_sizes=(64, 256, 512),
              device="cpu", dtype="float32", repeats: int = 5, warmup: int = 1, memory: bool = True,
              max_gib: float = 8.0, progress: Callable[[str], None] | None = None) -> dict:
    """The train benchmark: ``measure_train`` at every T in ``lengths`` with batch = tokens // T (the same number
    of tokens per step at every length, so time and memory per token compare across lengths). One layer of the
    model size ``size``. Parallel retention and naive attention are skipped where their T × T scores would exceed
    ``max_gib`` (estimate)."""
    device, dtype = _device(device), _dtype(dtype)
    lengths = _check_ints(lengths, "lengths")
    tokens = _check_positive_int(tokens, "tokens")
    rcfg, tcfg, layers = _train_layers(size, device, dtype)
    rows = []
    nbytes = torch.empty((), dtype=dtype).element_size()
    for T in lengths:
        batch = max(1, tokens // T)
        skip = {}
        for kind in ("parallel", "naive"):
            est = _predicted_train_peak(kind, T, batch, rcfg.num_heads, nbytes)
            if est > max_gib * 2 ** 30:
                skip[_impl_name(kind, None)] = f"estimated {est / 2**30:.1f} GiB > --max-gib {max_gib:g}"
        new = measure_train(layers, T, batch, chunk_sizes, repeats, warmup, memory, skip)
        rows.extend(new)
        if progress:
            for r in new:
                progress(_train_line(r))
    return {"command": "train", "settings": {"size": size, "lengths": list(lengths), "tokens_per_step": tokens,
                         "chunk_sizes": list(chunk_sizes), "dtype": _dtype_name(dtype), "repeats": repeats,
                         "warmup": warmup, "memory": memory, "max_gib": max_gib,
                         "memory_method": memory_method(device) if memory else None,
                         "what": "forward + backward of one layer (RetNetBlock or TransformerBlock, matched "
                                 "parameters) on (tokens/T, T, d) inputs; gradients of weights and inputs included"},
            "sizes": {size: {"retnet": rcfg.to_dict(), "transformer": tcfg.to_dict()}},
            "rows": rows, "summary": _train_summary(rows)}


def _train_line(r: dict) -> str:
    if "skipped" in r:
        return f"T={r['T']:>5d} {r['impl']:<26s} skipped: {r['skipped']}"
    mem = f"  peak {r['peak_bytes'] / 2**20:9.1f} MiB ({r['peak_bytes_per_token'] / 1024:7.1f} KiB/token)" \
        if "peak_bytes" in r else ""
    return f"T={r['T']:>5d} B={r['batch']:<3d} {r['impl']:<26s} {r['ms']:9.1f} ms  {r['us_per_token']:8.2f} µs/token{mem}"


def _train_summary(rows: list[dict]) -> dict:
    ok = [r for r in rows if "skipped" not in r]
    by_impl: dict[str, list[dict]] = {}
    for r in ok:
        by_impl.setdefault(r["impl"], []).append(r)
    out: dict = {"time_per_token_spread": {}}
    for impl, rs in by_impl.items():
        rs.sort(key=lambda r: r["T"])
        per_tok = [r["us_per_token"] for r in rs]
        mid = statistics.median(per_tok)
        out["time_per_token_spread"][impl] = {"max_over_min": max(per_tok) / min(per_tok),
                                              "last_over_first": per_tok[-1] / per_tok[0],
                                              "max_off_median": max(abs(x / mid - 1) for x in per_tok),
                                              "lengths": [rs[0]["T"], rs[-1]["T"]]}
    T_max = max((r["T"] for r in ok), default=None)
    if T_max is not None:
        at = {r["impl"]: r for r in ok if r["T"] == T_max}
        out["T_max"] = T_max
        par = at.get("retnet parallel")
        for impl, r in at.items():
            if par is not None and impl != "retnet parallel":
                out.setdefault("time_vs_parallel", {})[impl] = r["ms"] / par["ms"]
                if "peak_bytes" in r and "peak_bytes" in par:
                    out.setdefault("parallel_memory_over", {})[impl] = par["peak_bytes"] / r["peak_bytes"]
            sd = at.get("transformer sdpa")
            if sd is not None and impl != "transformer sdpa":
                out.setdefault("time_vs_sdpa", {})[impl] = r["ms"] / sd["ms"]
                if "peak_bytes" in r and "peak_bytes" in sd:
                    out.setdefault("memory_vs_sdpa", {})[impl] = r["peak_bytes"] / sd["peak_bytes"]
    return out


# ----------------------------------------------------------------------------------------------------------
# the package vs the official code (torchscale 0.3.0)
# ----------------------------------------------------------------------------------------------------------
def _official_models(ts, cfg: dict, eps: float, exact: bool, seed: int = 0):
    """An official MSR + rel-pos and decoder (with its embedding), and ours loaded with their weights."""
    from retnet_edu.layers import MultiScaleRetention
    from retnet_edu.torchscale_compat import exact_float64, load_torchscale_decoder

    args = ts.RetNetConfig(**cfg, layernorm_eps=eps)
    E, V, H = cfg["decoder_embed_dim"], cfg["decoder_value_embed_dim"], cfg["decoder_retention_heads"]
    torch.manual_seed(seed)
    off_msr = ts.MultiScaleRetention(args, E, V, H).eval()
    relpos = ts.RetNetRelPos(args).eval()
    dec = ts.RetNetDecoder(args, embed_tokens=nn.Embedding(cfg["vocab_size"], E)).eval()
    if exact:
        exact_float64(off_msr)
        exact_float64(relpos)
        exact_float64(dec)
    dtype = torch.float64 if exact else torch.float32
    ours_msr = MultiScaleRetention(E, V, H, norm_eps=eps).to(dtype).eval()
    ours_msr.load_state_dict(off_msr.state_dict())
    ours_lm = load_torchscale_decoder(dec.state_dict(), dict(cfg, layernorm_eps=eps)).to(dtype).eval()
    return off_msr, relpos, dec, ours_msr, ours_lm


def _official_fns(ts_models, x: Tensor, tokens: Tensor, chunk: int, steps: int):
    """name → (ours, official) callables for each mode, MSR level and decoder level."""
    off_msr, relpos, dec, ours_msr, ours_lm = ts_models
    T = x.shape[1]

    def off_chunk_dec():
        dec.chunkwise_recurrent = True
        try:
            return dec(tokens)
        finally:
            dec.chunkwise_recurrent = False

    def ours_recurrent(module, inputs):                   # one token at a time, carrying our state
        state, outs = None, []
        for n in range(steps):
            y, state = module(inputs[:, n:n + 1], mode="recurrent", state=state)
            outs.append(y)
        return torch.cat(outs, 1)

    def ours_rec_msr():
        return ours_recurrent(ours_msr, x)

    def off_rec_msr():
        state, outs = {}, []
        for n in range(steps):
            outs.append(off_msr(x[:, n:n + 1], relpos(n + 1, activate_recurrent=True), incremental_state=state))
        return torch.cat(outs, 1)

    def ours_rec_dec():
        return ours_recurrent(ours_lm, tokens)

    def off_rec_dec():
        state, outs = {}, []
        for n in range(steps):
            outs.append(dec(tokens[:, :n + 1], incremental_state=state)[0])
        return torch.cat(outs, 1)

    return {
        ("msr", "parallel"): (lambda: ours_msr(x)[0], lambda: off_msr(x, relpos(T))),
        ("msr", "chunkwise"): (lambda: ours_msr(x, mode="chunkwise", chunk_size=chunk)[0],
                               lambda: off_msr(x, relpos(T, chunkwise_recurrent=True), chunkwise_recurrent=True)),
        ("msr", "recurrent"): (ours_rec_msr, off_rec_msr),
        ("decoder", "parallel"): (lambda: ours_lm(tokens)[0], lambda: dec(tokens)[0]),
        ("decoder", "chunkwise"): (lambda: ours_lm(tokens, mode="chunkwise", chunk_size=chunk)[0],
                                   lambda: off_chunk_dec()[0]),
        ("decoder", "recurrent"): (ours_rec_dec, off_rec_dec),
    }


def run_official(size: str = "cpu", lengths=(512, 2048), batch: int = 2, chunk_size: int = 64,
                 recurrent_steps: int = 64, repeats: int = 7, warmup: int = 2, tolerance: float = 1e-12,
                 progress: Callable[[str], None] | None = None) -> dict:
    """Ours vs torchscale 0.3.0 on the CPU, same weights, same input: ``MultiScaleRetention`` in each mode (the
    official one with its ``RetNetRelPos`` computed in the timed call, as ours computes its decays and rotation
    inside) and the whole decoders (``RetNetLM`` vs ``RetNetDecoder``). Recurrent mode decodes
    ``recurrent_steps`` tokens one call at a time (times are per token).

    Outputs are compared in float64 at eps = 0 with the official modules made exact (``exact_float64``):
    ``max_abs_diff`` per mode must be ≤ ``tolerance`` (``equal``). Times are measured in float32 with the official
    default eps = 1e-6, interleaved; ``ratio`` = ours / official (below 1: ours is faster)."""
    from retnet_edu.torchscale_compat import import_torchscale

    ts = import_torchscale()
    if ts is None:
        raise RuntimeError("torchscale 0.3.0 is not installed: run python3 course.py setup "
                           "(pip install --no-deps torchscale==0.3.0 fairscale==0.4.0)")
    lengths = _check_ints(lengths, "lengths")
    batch, chunk_size = _check_positive_int(batch, "batch"), _check_positive_int(chunk_size, "chunk_size")
    recurrent_steps = _check_positive_int(recurrent_steps, "recurrent_steps")
    for T in lengths:
        if T % chunk_size:
            raise ValueError(f"every length must be a multiple of chunk_size={chunk_size} (the official chunkwise "
                             f"mode needs it), got {T}")
        if recurrent_steps > T:
            raise ValueError(f"recurrent_steps ({recurrent_steps}) must not exceed a length ({T})")
    rcfg, _ = model_sizes(size)
    cfg = dict(decoder_embed_dim=rcfg.embed_dim, decoder_value_embed_dim=rcfg.value_dim,
               decoder_retention_heads=rcfg.num_heads, decoder_ffn_embed_dim=rcfg.ffn_dim,
               decoder_layers=rcfg.num_layers, vocab_size=rcfg.vocab_size, recurrent_chunk_size=chunk_size)
    E = rcfg.embed_dim
    rows = []
    exact = _official_models(ts, cfg, 0.0, True)
    timed = _official_models(ts, cfg, 1e-6, False)
    for T in lengths:
        gen = torch.Generator().manual_seed(T)
        x64 = torch.randn(batch, T, E, generator=gen, dtype=torch.float64)
        tokens = torch.randint(0, rcfg.vocab_size, (batch, T), generator=gen)
        checks = _official_fns(exact, x64, tokens, chunk_size, recurrent_steps)
        fns = _official_fns(timed, x64.float(), tokens, chunk_size, recurrent_steps)
        for key in checks:
            with torch.no_grad():
                ours_out, off_out = checks[key][0](), checks[key][1]()
                diff = (ours_out - off_out).abs().max().item()
                scale = off_out.abs().max().item()
                samples = time_interleaved({"ours": fns[key][0], "official": fns[key][1]}, repeats, warmup)
            per = recurrent_steps if key[1] == "recurrent" else 1
            s_o, s_t = summarize(samples["ours"]), summarize(samples["official"])
            row = {"level": key[0], "mode": key[1], "T": T, "batch": batch,
                   "chunk_size": chunk_size if key[1] == "chunkwise" else None,
                   "tokens_timed": recurrent_steps if key[1] == "recurrent" else T,
                   "ours_ms": s_o["median"] * 1e3 / per, "ours_ms_q25": s_o["q25"] * 1e3 / per,
                   "ours_ms_q75": s_o["q75"] * 1e3 / per,
                   "official_ms": s_t["median"] * 1e3 / per, "official_ms_q25": s_t["q25"] * 1e3 / per,
                   "official_ms_q75": s_t["q75"] * 1e3 / per,
                   "ratio": s_o["median"] / s_t["median"],
                   "max_abs_diff": diff, "output_scale": scale, "equal": bool(diff <= tolerance)}
            rows.append(row)
            if progress:
                progress(_official_line(row))
    worst = max(rows, key=lambda r: r["ratio"])
    summary = {"all_equal": all(r["equal"] for r in rows), "max_abs_diff": max(r["max_abs_diff"] for r in rows),
               "worst_ratio": worst["ratio"], "worst": f"{worst['level']} {worst['mode']} T={worst['T']}",
               "ratios": {f"{r['level']} {r['mode']} T={r['T']}": r["ratio"] for r in rows}}
    return {"command": "official", "settings": {"size": size, "lengths": list(lengths), "batch": batch, "chunk_size": chunk_size,
                         "recurrent_steps": recurrent_steps, "repeats": repeats, "warmup": warmup,
                         "tolerance": tolerance, "torchscale": ts.version,
                         "check": "float64, eps = 0, official modules made exact with exact_float64",
                         "timing": "float32, eps = 1e-6 (the official default), official modules as shipped; "
                                   "MSR: the official RetNetRelPos is computed inside the timed call",
                         "torchscale_config": cfg},
            "rows": rows, "summary": summary}


def _official_line(r: dict) -> str:
    return (f"{r['level']:>8s} {r['mode']:<10s} T={r['T']:>5d}  ours {r['ours_ms']:9.3f} ms  official "
            f"{r['official_ms']:9.3f} ms  ours/official ×{r['ratio']:5.2f}  max|Δ| (f64, eps 0) {r['max_abs_diff']:.1e}"
            f" {'✓' if r['equal'] else '✗'}")


# ----------------------------------------------------------------------------------------------------------
# provenance, files, command line
# ----------------------------------------------------------------------------------------------------------
def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _load() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (OSError, AttributeError):
        return None


def machine_info(device: torch.device | str = "cpu") -> dict:
    """CPU model, core count, Python, torch, threads, device (and GPU name), load averages (1, 5, 15 min)."""
    device = _device(device)
    info = {"cpu": _cpu_model(), "cores": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "torch": torch.__version__, "threads": torch.get_num_threads(),
            "device": device.type, "gpu": None, "load_avg": _load()}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
        info["cuda"] = torch.version.cuda
    return info


def save_result(result: dict, out_dir: str | Path) -> tuple[Path, Path | None]:
    """Write ``<out>/<command>-<device>.json`` and its figure (``.png``, drawn by ``retnet_edu.course.viz``); returns
    both paths (the PNG is None when matplotlib is missing)."""
    if not isinstance(result, dict) or result.get("schema") != SCHEMA:
        raise ValueError(f"result must be a dict with schema {SCHEMA!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{result['command']}-{result['machine']['device']}"
    path = out / f"{stem}.json"
    path.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        from retnet_edu.course import viz
    except ImportError:  # pragma: no cover - matplotlib is a dependency
        return path, None
    drawn = viz.plot_benchmark(result)
    png = out / f"{stem}.png"
    drawn["fig"].savefig(png, dpi=110, bbox_inches="tight")
    plt.close(drawn["fig"])
    return path, png


def load_result(path: str | Path) -> dict:
    """Read a result written by ``save_result`` (checks the schema)."""
    data = json.loads(Path(path).read_text())
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise ValueError(f"{path} is not a retnet_edu.experiments.bench result (schema {SCHEMA!r})")
    return data


DEFAULT_OUT = "runs/bench"      # runs/ is git-ignored: a re-run never overwrites the recorded results in benchmarks/


def code_version() -> dict:
    """The package version and, when it runs from a git checkout, the commit and whether tracked files other than
    the recorded results (``benchmarks/``) differ from it."""
    from retnet_edu import __version__

    info = {"retnet_edu": __version__, "git_commit": None, "git_dirty": None}
    root = Path(__file__).resolve().parents[2]
    if (root / ".git").exists():
        import subprocess

        try:
            commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                                    timeout=10, check=True).stdout.strip()
            dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                    ":(exclude)benchmarks"], cwd=root, capture_output=True, text=True, timeout=10,
                                   check=True).stdout.strip()
            info.update(git_commit=commit, git_dirty=bool(dirty))
        except (OSError, subprocess.SubprocessError):
            pass
    return info


QUICK = {
    "decode": dict(sizes=("cpu-tiny",), batches=(1, 2), contexts=(16, 32), repeats=2, inner=2, warmup=1),
    "train": dict(size="cpu-tiny", lengths=(32, 64), tokens=64, chunk_sizes=(8, 16), repeats=2, warmup=1),
    "official": dict(size="cpu-tiny", lengths=(32,), batch=1, chunk_size=8, recurrent_steps=4, repeats=2, warmup=1),
}


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m retnet_edu.experiments.bench", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("command", choices=COMMANDS)
    ap.add_argument("--quick", action="store_true", help="tiny sizes, a few repeats: seconds (for tests)")
    ap.add_argument("--out", default=DEFAULT_OUT, help="folder for <command>-<device>.json and .png (git-ignored by "
                    "default; the course's recorded runs were written with --out benchmarks)")
    ap.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda", "mps"],
                    help="official: always the CPU")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (0 = leave PyTorch's default)")
    ap.add_argument("--dtype", default="float32", choices=sorted(DTYPES), help="decode and train")
    ap.add_argument("--repeats", type=int, default=None, help="timed blocks per point (default per command)")
    ap.add_argument("--sizes", default="cpu,gpu", help="decode: model sizes (training config names)")
    ap.add_argument("--size", default="cpu", help="train, official: the model size")
    ap.add_argument("--batches", default="1,8", help="decode: batch sizes")
    ap.add_argument("--contexts", default=",".join(map(str, DECODE_CONTEXTS)), help="decode: context lengths")
    ap.add_argument("--lengths", default=None, help="train: sequence lengths (default 512,…,8192); "
                                                    "official: default 512,2048")
    ap.add_argument("--tokens", type=int, default=8192, help="train: tokens per step (batch = tokens // T)")
    ap.add_argument("--chunk-sizes", default="64,256,512", help="train: chunk sizes")
    ap.add_argument("--max-cache-mib", type=float, default=3072.0, help="decode: skip larger KV caches")
    ap.add_argument("--max-gib", type=float, default=8.0, help="train: skip larger T×T score memory (estimate)")
    ap.add_argument("--no-memory", action="store_true", help="decode, train: time only")
    return ap


def _ints(text: str, name: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise SystemExit(f"--{name} must be a comma-separated list of integers, got {text!r}") from None


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ns = _parser().parse_args(argv)
    if ns.threads < 0:
        raise SystemExit("--threads must be >= 0")
    if ns.threads:
        torch.set_num_threads(ns.threads)
    device = torch.device("cpu") if ns.command == "official" else _device(ns.device)
    started = time.perf_counter()
    load_before = _load()
    code = code_version()                 # before anything is written
    say = lambda line: print(line, flush=True)  # noqa: E731
    kw: dict = {}
    if ns.command == "decode":
        kw = dict(sizes=tuple(s for s in ns.sizes.split(",") if s), batches=_ints(ns.batches, "batches"),
                  contexts=_ints(ns.contexts, "contexts"), device=device, dtype=ns.dtype,
                  memory=not ns.no_memory, max_cache_mib=ns.max_cache_mib)
    elif ns.command == "train":
        kw = dict(size=ns.size, lengths=_ints(ns.lengths, "lengths") if ns.lengths else TRAIN_LENGTHS,
                  tokens=ns.tokens, chunk_sizes=_ints(ns.chunk_sizes, "chunk-sizes"), device=device, dtype=ns.dtype,
                  memory=not ns.no_memory, max_gib=ns.max_gib)
    else:
        kw = dict(size=ns.size, lengths=_ints(ns.lengths, "lengths") if ns.lengths else (512, 2048))
    if ns.quick:
        kw.update(QUICK[ns.command])
    if ns.repeats is not None:
        kw["repeats"] = ns.repeats
    runner = {"decode": run_decode, "train": run_train, "official": run_official}[ns.command]
    say(f"[bench] {ns.command} on {device.type}, torch threads {torch.get_num_threads()}, load {load_before}")
    body = runner(progress=say, **kw)
    machine = machine_info(device)
    machine["load_avg_before"] = load_before
    machine["load_avg_after"] = machine.pop("load_avg")
    result = {"schema": SCHEMA, "quick": bool(ns.quick),
              "command_line": "python -m retnet_edu.experiments.bench " + " ".join(shlex.quote(a) for a in argv),
              "date": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
              "machine": machine, "code": code, "wall_seconds": round(time.perf_counter() - started, 1),
              **body}                                                                    # body: command, settings, …
    json_path, png_path = save_result(result, ns.out)
    say(f"[bench] summary: {json.dumps(result['summary'], ensure_ascii=False)}")
    say(f"[bench] wrote {json_path}" + (f" and {png_path}" if png_path else "") +
        f" in {result['wall_seconds']:.0f} s; load {load_before} → {machine['load_avg_after']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
