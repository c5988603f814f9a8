"""``bench official``: the package's modules vs the official code (torchscale 0.3.0) on the CPU: the same outputs
(float64, eps = 0) and the ratio of their times (float32, the official defaults)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from retnet_edu._args import check_int as _check_positive_int
from retnet_edu.experiments.bench.common import check_ints, model_sizes, summarize, time_interleaved

__all__ = ["run_official"]


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

    def ours_recurrent(module, inputs):  # one token at a time, carrying our state
        state, outs = None, []
        for n in range(steps):
            y, state = module(inputs[:, n : n + 1], mode="recurrent", state=state)
            outs.append(y)
        return torch.cat(outs, 1)

    def ours_rec_msr():
        return ours_recurrent(ours_msr, x)

    def off_rec_msr():
        state, outs = {}, []
        for n in range(steps):
            outs.append(off_msr(x[:, n : n + 1], relpos(n + 1, activate_recurrent=True), incremental_state=state))
        return torch.cat(outs, 1)

    def ours_rec_dec():
        return ours_recurrent(ours_lm, tokens)

    def off_rec_dec():
        state, outs = {}, []
        for n in range(steps):
            outs.append(dec(tokens[:, : n + 1], incremental_state=state)[0])
        return torch.cat(outs, 1)

    return {
        ("msr", "parallel"): (lambda: ours_msr(x)[0], lambda: off_msr(x, relpos(T))),
        ("msr", "chunkwise"): (
            lambda: ours_msr(x, mode="chunkwise", chunk_size=chunk)[0],
            lambda: off_msr(x, relpos(T, chunkwise_recurrent=True), chunkwise_recurrent=True),
        ),
        ("msr", "recurrent"): (ours_rec_msr, off_rec_msr),
        ("decoder", "parallel"): (lambda: ours_lm(tokens)[0], lambda: dec(tokens)[0]),
        ("decoder", "chunkwise"): (
            lambda: ours_lm(tokens, mode="chunkwise", chunk_size=chunk)[0],
            lambda: off_chunk_dec()[0],
        ),
        ("decoder", "recurrent"): (ours_rec_dec, off_rec_dec),
    }


def run_official(
    size: str = "cpu",
    lengths=(512, 2048),
    batch: int = 2,
    chunk_size: int = 64,
    recurrent_steps: int = 64,
    repeats: int = 7,
    warmup: int = 2,
    tolerance: float = 1e-12,
    progress: Callable[[str], None] | None = None,
) -> dict:
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
        raise RuntimeError(
            "torchscale 0.3.0 is not installed: run python3 course.py setup "
            "(pip install --no-deps torchscale==0.3.0 fairscale==0.4.0)"
        )
    lengths = check_ints(lengths, "lengths")
    batch, chunk_size = _check_positive_int(batch, "batch"), _check_positive_int(chunk_size, "chunk_size")
    recurrent_steps = _check_positive_int(recurrent_steps, "recurrent_steps")
    for T in lengths:
        if T % chunk_size:
            raise ValueError(
                f"every length must be a multiple of chunk_size={chunk_size} (the official chunkwise "
                f"mode needs it), got {T}"
            )
        if recurrent_steps > T:
            raise ValueError(f"recurrent_steps ({recurrent_steps}) must not exceed a length ({T})")
    rcfg, _ = model_sizes(size)
    cfg = dict(
        decoder_embed_dim=rcfg.embed_dim,
        decoder_value_embed_dim=rcfg.value_dim,
        decoder_retention_heads=rcfg.num_heads,
        decoder_ffn_embed_dim=rcfg.ffn_dim,
        decoder_layers=rcfg.num_layers,
        vocab_size=rcfg.vocab_size,
        recurrent_chunk_size=chunk_size,
    )
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
            row = {
                "level": key[0],
                "mode": key[1],
                "T": T,
                "batch": batch,
                "chunk_size": chunk_size if key[1] == "chunkwise" else None,
                "tokens_timed": recurrent_steps if key[1] == "recurrent" else T,
                "ours_ms": s_o["median"] * 1e3 / per,
                "ours_ms_q25": s_o["q25"] * 1e3 / per,
                "ours_ms_q75": s_o["q75"] * 1e3 / per,
                "official_ms": s_t["median"] * 1e3 / per,
                "official_ms_q25": s_t["q25"] * 1e3 / per,
                "official_ms_q75": s_t["q75"] * 1e3 / per,
                "ratio": s_o["median"] / s_t["median"],
                "max_abs_diff": diff,
                "output_scale": scale,
                "equal": bool(diff <= tolerance),
            }
            rows.append(row)
            if progress:
                progress(_official_line(row))
    worst = max(rows, key=lambda r: r["ratio"])
    summary = {
        "all_equal": all(r["equal"] for r in rows),
        "max_abs_diff": max(r["max_abs_diff"] for r in rows),
        "worst_ratio": worst["ratio"],
        "worst": f"{worst['level']} {worst['mode']} T={worst['T']}",
        "ratios": {f"{r['level']} {r['mode']} T={r['T']}": r["ratio"] for r in rows},
    }
    return {
        "command": "official",
        "settings": {
            "size": size,
            "lengths": list(lengths),
            "batch": batch,
            "chunk_size": chunk_size,
            "recurrent_steps": recurrent_steps,
            "repeats": repeats,
            "warmup": warmup,
            "tolerance": tolerance,
            "torchscale": ts.version,
            "check": "float64, eps = 0, official modules made exact with exact_float64",
            "timing": "float32, eps = 1e-6 (the official default), official modules as shipped; "
            "MSR: the official RetNetRelPos is computed inside the timed call",
            "torchscale_config": cfg,
        },
        "rows": rows,
        "summary": summary,
    }


def _official_line(r: dict) -> str:
    return (
        f"{r['level']:>8s} {r['mode']:<10s} T={r['T']:>5d}  ours {r['ours_ms']:9.3f} ms  official "
        f"{r['official_ms']:9.3f} ms  ours/official ×{r['ratio']:5.2f}  "
        f"max|Δ| (f64, eps 0) {r['max_abs_diff']:.1e}"
        f" {'✓' if r['equal'] else '✗'}"
    )
