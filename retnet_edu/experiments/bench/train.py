"""``bench train``: forward + backward of one layer per token: retention in parallel and chunkwise mode vs
attention (sdpa and naive), at growing sequence lengths with the same number of tokens per step."""

from __future__ import annotations

import statistics
from collections.abc import Callable

import torch
from torch import Tensor, nn

from retnet_edu._args import check_int as _check_positive_int
from retnet_edu.baselines.transformer import TransformerBlock, TransformerConfig
from retnet_edu.experiments.bench.common import (
    _device,
    _dtype,
    _dtype_name,
    check_ints,
    memory_method,
    model_sizes,
    peak_memory,
    summarize,
    time_interleaved,
)
from retnet_edu.layers import RetNetBlock

__all__ = ["TRAIN_LENGTHS", "measure_train", "run_train"]

TRAIN_LENGTHS = tuple(2**i for i in range(9, 14))  # 512 … 8192


# ----------------------------------------------------------------------------------------------------------
# training: forward + backward of one layer, per token
# ----------------------------------------------------------------------------------------------------------
def _train_layers(size: str, device: torch.device, dtype: torch.dtype, seed: int = 0):
    rcfg, tcfg = model_sizes(size)
    torch.manual_seed(seed)
    retnet = RetNetBlock(
        rcfg.embed_dim,
        rcfg.value_dim,
        rcfg.num_heads,
        rcfg.ffn_dim,
        norm_eps=rcfg.norm_eps,
        activation=rcfg.activation,
        gamma=rcfg.gammas(),
    ).to(device=device, dtype=dtype)
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


def measure_train(
    layers: dict,
    T: int,
    batch: int,
    chunk_sizes=(64, 256, 512),
    repeats: int = 5,
    warmup: int = 1,
    memory: bool = True,
    skip: dict | None = None,
    seed: int = 0,
) -> list[dict]:
    """Rows of the train benchmark at sequence length ``T``: forward + backward of one layer on (batch, T, d)
    inputs, for retention in parallel and chunkwise mode (each chunk size) and attention (sdpa and naive), timed
    interleaved. ``skip``: implementation name → reason, for points left out (e.g. memory)."""
    T, batch = _check_positive_int(T, "T"), _check_positive_int(batch, "batch")
    chunk_sizes = check_ints(chunk_sizes, "chunk_sizes")
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
        row = {
            "impl": name,
            "kind": kind,
            "chunk_size": c,
            "T": T,
            "batch": batch,
            "tokens": tokens,
            "ms": s["median"] * 1e3,
            "ms_q25": s["q25"] * 1e3,
            "ms_q75": s["q75"] * 1e3,
            "us_per_token": s["median"] / tokens * 1e6,
        }
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


def run_train(
    size: str = "cpu",
    lengths=TRAIN_LENGTHS,
    tokens: int = 8192,
    chunk_sizes=(64, 256, 512),
    device="cpu",
    dtype="float32",
    repeats: int = 5,
    warmup: int = 1,
    memory: bool = True,
    max_gib: float = 8.0,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """The train benchmark: ``measure_train`` at every T in ``lengths`` with batch = tokens // T (the same number
    of tokens per step at every length, so time and memory per token compare across lengths). One layer of the
    model size ``size``. Parallel retention and naive attention are skipped where their T × T scores would exceed
    ``max_gib`` (estimate)."""
    device, dtype = _device(device), _dtype(dtype)
    lengths = check_ints(lengths, "lengths")
    tokens = _check_positive_int(tokens, "tokens")
    rcfg, tcfg, layers = _train_layers(size, device, dtype)
    rows = []
    nbytes = torch.empty((), dtype=dtype).element_size()
    for T in lengths:
        batch = max(1, tokens // T)
        skip = {}
        for kind in ("parallel", "naive"):
            est = _predicted_train_peak(kind, T, batch, rcfg.num_heads, nbytes)
            if est > max_gib * 2**30:
                skip[_impl_name(kind, None)] = f"estimated {est / 2**30:.1f} GiB > --max-gib {max_gib:g}"
        new = measure_train(layers, T, batch, chunk_sizes, repeats, warmup, memory, skip)
        rows.extend(new)
        if progress:
            for r in new:
                progress(_train_line(r))
    return {
        "command": "train",
        "settings": {
            "size": size,
            "lengths": list(lengths),
            "tokens_per_step": tokens,
            "chunk_sizes": list(chunk_sizes),
            "dtype": _dtype_name(dtype),
            "repeats": repeats,
            "warmup": warmup,
            "memory": memory,
            "max_gib": max_gib,
            "memory_method": memory_method(device) if memory else None,
            "what": "forward + backward of one layer (RetNetBlock or TransformerBlock, matched "
            "parameters) on (tokens/T, T, d) inputs; gradients of weights and inputs included",
        },
        "sizes": {size: {"retnet": rcfg.to_dict(), "transformer": tcfg.to_dict()}},
        "rows": rows,
        "summary": _train_summary(rows),
    }


def _train_line(r: dict) -> str:
    if "skipped" in r:
        return f"T={r['T']:>5d} {r['impl']:<26s} skipped: {r['skipped']}"
    mem = (
        f"  peak {r['peak_bytes'] / 2**20:9.1f} MiB ({r['peak_bytes_per_token'] / 1024:7.1f} KiB/token)"
        if "peak_bytes" in r
        else ""
    )
    return (
        f"T={r['T']:>5d} B={r['batch']:<3d} {r['impl']:<26s} {r['ms']:9.1f} ms  {r['us_per_token']:8.2f} µs/token{mem}"
    )


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
        out["time_per_token_spread"][impl] = {
            "max_over_min": max(per_tok) / min(per_tok),
            "last_over_first": per_tok[-1] / per_tok[0],
            "max_off_median": max(abs(x / mid - 1) for x in per_tok),
            "lengths": [rs[0]["T"], rs[-1]["T"]],
        }
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
