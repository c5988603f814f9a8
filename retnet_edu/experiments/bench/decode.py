"""``bench decode``: one decoding step of RetNetLM (fixed-size state) vs the Transformer (KV cache) at growing
context lengths: time, memory, and the cost model (``decode_costs``) that predicts their ratio. With
``compile=True`` (``--compile``) each row also times one compiled step of each model (``bench.compiled``) beside
the eager ones, interleaved in the same run."""

from __future__ import annotations

import contextlib
import gc
import numbers
import statistics
import time
import warnings
import weakref
from collections.abc import Callable

import torch
from torch import nn

from retnet_edu._args import check_int as _check_positive_int
from retnet_edu.baselines.transformer import KVCache, TransformerConfig, TransformerLM
from retnet_edu.experiments.bench.common import (
    _device,
    _dtype,
    _dtype_name,
    check_ints,
    memory_method,
    model_sizes,
    peak_memory,
    rss_bytes,
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
from retnet_edu.layers import RetentionState
from retnet_edu.model import RetNetConfig, RetNetLM, RetNetState

__all__ = [
    "DECODE_CONTEXTS",
    "decode_costs",
    "random_state",
    "random_cache",
    "measure_decode",
    "run_decode",
    "fit_step_time",
]

DECODE_CONTEXTS = tuple(2**i for i in range(7, 15))  # 128 … 16384, doubling


# ----------------------------------------------------------------------------------------------------------
# the cost model of one decoding step
# ----------------------------------------------------------------------------------------------------------
def _retnet_layer_weights(c: RetNetConfig) -> int:
    d, V, F = c.embed_dim, c.value_dim, c.ffn_dim
    return 2 * d * d + 3 * d * V + 3 * d * F  # q, k; v, g, out; fc1, gate, fc2 (norm gains left out)


def _transformer_layer_weights(c: TransformerConfig) -> int:
    d, F = c.embed_dim, c.ffn_dim
    return 4 * d * d + 3 * d * F  # q, k, v, o; fc1, gate, fc2


def decode_costs(
    retnet: RetNetConfig, transformer: TransformerConfig, context: int, batch: int = 1, bytes_per_number: int = 4
) -> dict:
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
    state_numbers = L * H * d_k * d_v  # per sequence
    kv_numbers = transformer.num_layers * 2 * t * d  # per sequence
    r_weights = L * _retnet_layer_weights(retnet) + retnet.vocab_size * retnet.embed_dim
    t_weights = transformer.num_layers * _transformer_layer_weights(transformer) + transformer.vocab_size * d
    r_mix = L * 2 * H * d_k * d_v
    t_mix = transformer.num_layers * 2 * (t + 1) * d
    # everything a step reads: weight matrices, norm gains, the output projection, B embedding rows, state / cache
    r_read = (
        r_weights + L * 2 * retnet.embed_dim + retnet.embed_dim + batch * retnet.embed_dim + batch * state_numbers
    ) * bytes_per_number
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


def random_cache(
    model: TransformerLM, batch: int, context: int, spare: int = 1, generator: torch.Generator | None = None
) -> KVCache:
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


def _decode_steps(retnet: RetNetLM, transformer: TransformerLM, batch: int, context: int, generator: torch.Generator):
    """(retnet_step, transformer_step, state, cache, tokens): each step decodes ``tokens`` at position ``context``."""
    state = random_state(retnet, batch, context, generator)
    cache = random_cache(transformer, batch, context, generator=generator)
    device = retnet.embed_tokens.weight.device
    tok = torch.randint(0, retnet.config.vocab_size, (batch, 1), generator=generator, device=device)

    retnet_options = retnet.decoding_plan().step  # {"mode": "recurrent"}: one O(1) step

    def retnet_step():
        return retnet(tok, state=state, **retnet_options)

    def transformer_step():
        cache.length = context  # write position `context` again, read the same t keys/values
        return transformer(tok, state=cache)

    return retnet_step, transformer_step, state, cache, tok


_STEP_FUNCTIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _step_functions(model, make, mode: str | None) -> tuple[Callable, Callable]:
    """(plain, compiled) step functions of ``model``, made once per model and compile mode (so that dynamo's cache
    of compiled graphs is reused from one row to the next instead of filling up)."""
    per_model = _STEP_FUNCTIONS.setdefault(model, {})
    if mode not in per_model:
        plain = make(model)
        per_model[mode] = (plain, compile_step(plain, mode))
    return per_model[mode]


def _relative_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    """max |a - b| / max(1, max |b|): the float32 test convention (1e-5) applies to it."""
    return float((a.double() - b.double()).abs().max()) / max(1.0, float(b.abs().max()))


def _first_call(fn: Callable, device: torch.device) -> tuple[object, float, int]:
    """(result, seconds, graphs compiled) of the first call of a compiled step: the compilation happens here."""
    before = compiled_graphs()
    synchronize(device)
    t0 = time.perf_counter()
    out = fn()
    synchronize(device)
    return out, time.perf_counter() - t0, compiled_graphs() - before


def _compiled_candidates(retnet, transformer, state, cache, tok, context, mode, device, row, eager) -> dict:
    """The compiled (and plain) step candidates of one row: compile them (first call, timed: ``*_compile_s``,
    ``*_compiled_graphs``), compare their outputs with the eager step's (``*_compiled_max_diff``, relative to
    max(1, |eager|)) and return them for ``time_interleaved``."""
    r_plain, r_comp = _step_functions(retnet, retnet_step_function, mode)
    t_plain, t_comp = _step_functions(transformer, transformer_step_function, mode)
    pos = torch.tensor(context, device=device)
    states = [layer.S for layer in state.layers]
    keys, values = cache.keys, cache.values
    mark_cache_dynamic(keys + values)
    (r_logits, r_state), (t_logits, _) = eager["retnet"](), eager["transformer"]()
    (rc_logits, rc_states), row["retnet_compile_s"], row["retnet_compiled_graphs"] = _first_call(
        lambda: r_comp(tok, pos, states), device
    )
    tc_logits, row["transformer_compile_s"], row["transformer_compiled_graphs"] = _first_call(
        lambda: t_comp(tok, pos, keys, values), device
    )
    row["retnet_compiled_max_diff"] = max(
        [_relative_diff(rc_logits, r_logits)]
        + [_relative_diff(a, b.S) for a, b in zip(rc_states, r_state.layers, strict=True)]
    )
    row["transformer_compiled_max_diff"] = _relative_diff(tc_logits, t_logits)
    return {
        "retnet_compiled": lambda: r_comp(tok, pos, states),
        "transformer_compiled": lambda: t_comp(tok, pos, keys, values),
        "retnet_plain": lambda: r_plain(tok, pos, states),
        "transformer_plain": lambda: t_plain(tok, pos, keys, values),
    }


def _memory_of_decoding(model, make_state, batch: int, device: torch.device, generator: torch.Generator) -> int:
    """Peak bytes added by building the state (``make_state()``: RetNet's state or the Transformer's cache for the
    context) and decoding one step from it, as ``generate`` would."""
    vocab = model.config.vocab_size
    step = model.decoding_plan().step

    def run():
        tok = torch.randint(0, vocab, (batch, 1), generator=generator, device=device)
        return model(tok, state=make_state(), **step)

    with torch.no_grad():
        return peak_memory(run, device)


def _weight_bytes(model: nn.Module) -> int:
    return sum(p.numel() * p.element_size() for p in model.parameters())


def measure_decode(
    retnet: RetNetLM,
    transformer: TransformerLM,
    batch: int,
    context: int,
    repeats: int = 5,
    inner: int = 5,
    warmup: int = 3,
    memory: bool = True,
    seed: int = 0,
    compile: bool = False,
    compile_mode: str | None = None,
) -> dict:
    """One row of the decode benchmark: both models decode one token per sequence at position ``context``.

    Times (ms per step, i.e. per generated token of each sequence) are measured interleaved; ``speed_ratio`` =
    Transformer median / RetNet median. Memory: ``*_bytes_exact`` from the sizes, ``*_bytes_held`` the tensors the
    state/cache hold (``nbytes``), ``*_step_peak_bytes`` the measured peak of building it and decoding one step
    (``memory_method``), ``*_rss_delta_bytes`` the change of the process's resident memory while it is held
    (Linux CPU only; indicative: the allocator may reuse memory it already holds).

    ``compile=True`` adds four candidates to the same interleaved timing: each model's step compiled
    (``bench.compiled``: ``*_compiled_ms``, ``compiled_speed_ratio``, ``compiled_ratio_vs_ideal``) and the same step
    functions run without compiling (``*_plain_ms``), on the same state and cache. Their first call compiles (the
    warm-up; ``*_compile_s``, ``*_compiled_graphs``: graphs compiled then, 0 when an earlier row's graph is reused);
    ``*_compiled_max_diff`` compares their outputs with the eager step's (relative to max(1, |eager|));
    ``compiled_recompilations`` counts graphs compiled after the first call (0: no recompilation while timing).
    """
    if not isinstance(retnet, RetNetLM) or not isinstance(transformer, TransformerLM):
        raise TypeError("retnet must be a RetNetLM and transformer a TransformerLM")
    batch = _check_positive_int(batch, "batch")
    context = _check_positive_int(context, "context")
    device = retnet.embed_tokens.weight.device
    dtype = retnet.embed_tokens.weight.dtype
    gen = torch.Generator(device=device).manual_seed(seed)  # random numbers made where they are used
    row: dict = {"batch": batch, "context": context}
    costs = decode_costs(retnet.config, transformer.config, context, batch, torch.empty((), dtype=dtype).element_size())
    row.update(
        {
            k: costs[k]
            for k in (
                "state_bytes",
                "kv_bytes",
                "retnet_read_bytes",
                "transformer_read_bytes",
                "flop_ratio",
                "ideal_ratio",
            )
        }
    )
    row["state_bytes_exact"] = row.pop("state_bytes")
    row["kv_bytes_exact"] = row.pop("kv_bytes")
    if memory:
        row["retnet_step_peak_bytes"] = _memory_of_decoding(
            retnet, lambda: random_state(retnet, batch, context, gen), batch, device, gen
        )
        row["transformer_step_peak_bytes"] = _memory_of_decoding(
            transformer, lambda: random_cache(transformer, batch, context, generator=gen), batch, device, gen
        )
    gc.collect()
    with torch.no_grad():
        rss0 = rss_bytes() if device.type == "cpu" else None
        r_step, t_step, state, cache, tok = _decode_steps(retnet, transformer, batch, context, gen)
        rss1 = rss_bytes() if device.type == "cpu" else None
        row["state_bytes_held"] = state.nbytes()
        row["kv_bytes_held"] = cache.capacity_nbytes()
        candidates = {"retnet": r_step, "transformer": t_step}
        if compile:
            candidates.update(
                _compiled_candidates(
                    retnet, transformer, state, cache, tok, context, compile_mode, device, row, candidates
                )
            )
            graphs = compiled_graphs()
        samples = time_interleaved(candidates, repeats, warmup, inner, device)
        if compile:
            row["compiled_recompilations"] = compiled_graphs() - graphs
    if rss0 is not None and rss1 is not None:
        row["cache_and_state_rss_delta_bytes"] = rss1 - rss0
    del state, cache, r_step, t_step, candidates
    gc.collect()
    for name in samples:
        s = summarize(samples[name])
        row[f"{name}_ms"] = s["median"] * 1e3
        row[f"{name}_ms_q25"] = s["q25"] * 1e3
        row[f"{name}_ms_q75"] = s["q75"] * 1e3
        row[f"{name}_tokens_per_s"] = batch / s["median"]
    row["speed_ratio"] = row["transformer_ms"] / row["retnet_ms"]
    row["ratio_vs_ideal"] = row["speed_ratio"] / row["ideal_ratio"]
    if compile:
        row["compiled_speed_ratio"] = row["transformer_compiled_ms"] / row["retnet_compiled_ms"]
        row["compiled_ratio_vs_ideal"] = row["compiled_speed_ratio"] / row["ideal_ratio"]
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
    return {
        "retnet": c.to_dict(),
        "transformer": transformer.config.to_dict(),
        "retnet_parameters": retnet.num_parameters(),
        "transformer_parameters": transformer.num_parameters(),
        "retnet_weight_bytes": _weight_bytes(retnet),
        "transformer_weight_bytes": _weight_bytes(transformer),
        "d_k": c.embed_dim // c.num_heads,
        "d_v": c.value_dim // c.num_heads,
    }


def run_decode(
    sizes=("cpu", "gpu"),
    batches=(1, 8),
    contexts=DECODE_CONTEXTS,
    device="cpu",
    dtype="float32",
    repeats: int = 5,
    inner: int = 5,
    warmup: int = 3,
    memory: bool = True,
    max_cache_mib: float = 3072.0,
    progress: Callable[[str], None] | None = None,
    compile: bool = False,
    compile_mode: str | None = None,
) -> dict:
    """The decode benchmark: ``measure_decode`` for every model size × batch × context. Points whose KV cache would
    exceed ``max_cache_mib`` are skipped (listed under ``"skipped"``). Returns the result body (rows, summary);
    ``main`` adds the provenance.

    ``compile=True`` times the compiled steps too (``measure_decode``; the result's ``variant`` is "compiled"). Every
    compilation is cold: TorchInductor's on-disk caches are switched off for the run, dynamo's in-memory cache is
    reset before each model size, and one trivial function is compiled first so that the one-time start-up of the
    compiler (``settings["compile"]["setup_s"]``) is not charged to the first row."""
    device, dtype = _device(device), _dtype(dtype)
    sizes = tuple(sizes)
    batches, contexts = check_ints(batches, "batches"), check_ints(contexts, "contexts")
    if not isinstance(compile, bool):
        raise TypeError(f"compile must be a bool, got {type(compile).__name__}")
    if compile and device.type not in ("cpu", "cuda"):
        raise ValueError(f"compile=True runs on the CPU or CUDA, not {device.type}")
    rows, skipped, size_info = [], [], {}
    with _cold_compiler(compile) as setup_s:
        for size in sizes:
            if compile:
                torch._dynamo.reset()  # every size starts with no compiled graph: its first row compiles cold
            retnet, transformer = _build_pair(size, device, dtype)
            size_info[size] = _size_info(retnet, transformer)
            for batch in batches:
                for context in contexts:
                    kv = decode_costs(
                        retnet.config, transformer.config, context, batch, torch.empty((), dtype=dtype).element_size()
                    )["kv_bytes"]
                    if kv > max_cache_mib * 2**20:
                        skipped.append(
                            {
                                "size": size,
                                "batch": batch,
                                "context": context,
                                "reason": f"KV cache {kv / 2**20:.0f} MiB > --max-cache-mib {max_cache_mib:g}",
                            }
                        )
                        continue
                    row = {
                        "size": size,
                        **measure_decode(
                            retnet,
                            transformer,
                            batch,
                            context,
                            repeats,
                            inner,
                            warmup,
                            memory,
                            compile=compile,
                            compile_mode=compile_mode,
                        ),
                    }
                    rows.append(row)
                    if progress:
                        progress(_decode_line(row))
            del retnet, transformer
            gc.collect()
    settings = {
        "sizes": list(sizes),
        "batches": list(batches),
        "contexts": list(contexts),
        "dtype": _dtype_name(dtype),
        "repeats": repeats,
        "inner": inner,
        "warmup": warmup,
        "memory": memory,
        "max_cache_mib": max_cache_mib,
        "memory_method": memory_method(device) if memory else None,
        "state_and_cache": "filled with random numbers at the context position (no real prefill)",
    }
    body = {"command": "decode"}
    if compile:
        body["variant"] = "compiled"
        settings["compile"] = {
            "how": "torch.compile(step, fullgraph=True, dynamic=False, mode) of retnet_edu.experiments.bench."
            "compiled's step functions: position as a 0-d tensor; the Transformer's cache buffers with their "
            "capacity marked dynamic, written in place at the position, attention masked to positions <= position",
            "mode": compile_mode,
            "backend": "inductor",
            "torch": torch.__version__,
            "caches": "TorchInductor's caches off (force_disable_caches); dynamo reset before each model size",
            "setup_s": setup_s[0],
            "memory": "not measured for the compiled steps (their kernels allocate outside PyTorch's operators)",
        }
    return {
        **body,
        "settings": settings,
        "sizes": size_info,
        "rows": rows,
        "skipped": skipped,
        "summary": _decode_summary(rows),
    }


@contextlib.contextmanager
def _cold_compiler(enabled: bool):
    """Inside: TorchInductor's caches off (every compilation cold). Yields a one-element list holding the seconds
    one trivial compilation took (the compiler's one-time start-up in this process), or None when not enabled."""
    if not enabled:
        yield [None]
        return
    import torch._inductor.config as inductor_config

    with inductor_config.patch(force_disable_caches=True), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*force disabled by .*force_disable_caches")  # says so once
        t0 = time.perf_counter()
        torch.compile(lambda x: x * 2 + 1, fullgraph=True)(torch.zeros(4))
        yield [round(time.perf_counter() - t0, 2)]


def _decode_line(r: dict) -> str:
    mem = (
        f"  state {r['state_bytes_exact'] / 2**20:8.3f} MiB (held {r['state_bytes_held'] / 2**20:.3f})"
        f"  KV {r['kv_bytes_exact'] / 2**20:9.2f} MiB (held {r['kv_bytes_held'] / 2**20:.2f})"
    )
    if "retnet_step_peak_bytes" in r:
        mem += (
            f"  measured {r['retnet_step_peak_bytes'] / 2**20:.3f} vs "
            f"{r['transformer_step_peak_bytes'] / 2**20:.2f} MiB"
        )
    line = (
        f"{r['size']:>8s} B={r['batch']:<2d} t={r['context']:>6d}  RetNet {r['retnet_ms']:8.3f} ms"
        f"  Transformer {r['transformer_ms']:8.3f} ms  speed ×{r['speed_ratio']:6.2f}"
        f" (ideal ×{r['ideal_ratio']:6.2f}){mem}"
    )
    if "compiled_speed_ratio" in r:
        line += (
            f"\n{'':19s}compiled: RetNet {r['retnet_compiled_ms']:8.3f} ms  Transformer "
            f"{r['transformer_compiled_ms']:8.3f} ms  speed ×{r['compiled_speed_ratio']:6.2f}"
            f"  (compile {r['retnet_compile_s']:.1f} s / {r['transformer_compile_s']:.1f} s,"
            f" max diff {max(r['retnet_compiled_max_diff'], r['transformer_compiled_max_diff']):.1e})"
        )
    return line


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
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)
    if slope <= 0 or my - slope * mx < 0:
        return None
    return my - slope * mx, 1e3 / slope  # ms per byte → bytes per second


def _decode_summary(rows: list[dict]) -> dict:
    """Per (size, batch): flatness of RetNet's step time, growth of the Transformer's, the headline ratios at
    1k/8k/16k (the speed-up, the bytes ideal and ``ratio_vs_ideal_*``: the fraction of the ideal reached), and the
    fit of ``fit_step_time`` to the Transformer's steps (each row then gets ``fitted_ratio``: the speed ratio that
    fixed cost and bandwidth predict from the bytes each model reads).

    With compiled rows also: ``compiled_speed_ratio_*``, ``compiled_ratio_vs_ideal_*``, each model's compiled step
    time over its eager one (``*_compiled_over_eager_*``), the fit to the compiled Transformer's steps
    (``compiled_transformer_fixed_ms``, ``compiled_transformer_bandwidth_GBps``), the compile seconds of the row
    that compiled (``*_compile_s``), the graphs compiled over the group (``*_compiled_graphs``), recompilations
    while timing (``compiled_recompilations``) and the largest output difference from eager
    (``compiled_max_diff``)."""
    out = {}
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["size"], r["batch"]), []).append(r)
    for (size, batch), rs in groups.items():
        rs = sorted(rs, key=lambda r: r["context"])
        key = f"{size}/batch{batch}"
        entry = {
            "retnet_flatness": rs[-1]["retnet_ms"] / rs[0]["retnet_ms"],
            "flatness_contexts": [rs[0]["context"], rs[-1]["context"]],
            "transformer_growth": rs[-1]["transformer_ms"] / rs[0]["transformer_ms"],
        }
        fit = fit_step_time([r["transformer_read_bytes"] for r in rs], [r["transformer_ms"] for r in rs])
        if fit is not None:
            fixed_ms, bandwidth = fit
            entry["transformer_fixed_ms"] = fixed_ms
            entry["transformer_bandwidth_GBps"] = bandwidth / 1e9
            for r in rs:  # the ratio the fit predicts: the same fixed cost, bytes at the fitted bandwidth
                t_ms = fixed_ms + r["transformer_read_bytes"] / bandwidth * 1e3
                r_ms = fixed_ms + r["retnet_read_bytes"] / bandwidth * 1e3
                r["fitted_ratio"] = t_ms / r_ms if r_ms > 0 else None
        compiled = all("compiled_speed_ratio" in r for r in rs)
        if compiled:
            fit = fit_step_time([r["transformer_read_bytes"] for r in rs], [r["transformer_compiled_ms"] for r in rs])
            if fit is not None:
                entry["compiled_transformer_fixed_ms"] = fit[0]
                entry["compiled_transformer_bandwidth_GBps"] = fit[1] / 1e9
            for name in ("retnet", "transformer"):
                entry[f"{name}_compile_s"] = max(r[f"{name}_compile_s"] for r in rs)
                entry[f"{name}_compiled_graphs"] = sum(r[f"{name}_compiled_graphs"] for r in rs)
            entry["compiled_recompilations"] = sum(r["compiled_recompilations"] for r in rs)
            entry["compiled_max_diff"] = max(
                max(r["retnet_compiled_max_diff"], r["transformer_compiled_max_diff"]) for r in rs
            )
        for r in rs:
            if r["context"] in (1024, 8192, 16384):
                k = f"{r['context'] // 1024}k"
                entry[f"speed_ratio_{k}"] = r["speed_ratio"]
                entry[f"ideal_ratio_{k}"] = r["ideal_ratio"]
                entry[f"ratio_vs_ideal_{k}"] = r["ratio_vs_ideal"]
                if "memory_ratio" in r:
                    entry[f"memory_ratio_{k}"] = r["memory_ratio"]
                if compiled:
                    entry[f"compiled_speed_ratio_{k}"] = r["compiled_speed_ratio"]
                    entry[f"compiled_ratio_vs_ideal_{k}"] = r["compiled_ratio_vs_ideal"]
                    for name in ("retnet", "transformer"):
                        entry[f"{name}_compiled_over_eager_{k}"] = r[f"{name}_compiled_ms"] / r[f"{name}_ms"]
        out[key] = entry
    return out
