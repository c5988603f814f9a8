"""The figures of the benchmark results (``retnet_edu.experiments.bench``: decode, train, official): what
``python -m retnet_edu.experiments.bench`` saves as PNG next to each JSON result, and what notebook 09 shows (through
``retnet_edu.course.viz``). Plain matplotlib, nothing from the course.

Convention (as in ``retnet_edu.course.viz``): every ``plot_*`` function takes an optional ``ax`` (a new figure is made
when it is None), draws, and returns a dict holding the numbers it drew and the figure under ``"fig"``."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

__all__ = [
    "plot_decode_benchmark",
    "plot_train_benchmark",
    "plot_official_benchmark",
    "plot_benchmark",
    "benchmark_provenance",
]


def _axes(ax, figsize=None):
    """One axes (a new figure when ``ax`` is None); the same as ``retnet_edu.course.viz._common._axes``, which this
    module may not import (experiments come before the course)."""
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
    return ax.figure, ax


_MiB = 2.0**20


def _axes_row(ax, n: int, width: float):
    """n side-by-side axes (a new figure when ``ax`` is None, else the n axes given)."""
    if ax is None:
        fig, axes = plt.subplots(1, n, figsize=(width, 3.8))
        return fig, list(np.atleast_1d(axes))
    axes = list(np.atleast_1d(ax))
    if len(axes) != n:
        raise ValueError(f"ax must hold {n} axes, got {len(axes)}")
    return axes[0].figure, axes


def _plain_log_axes(ax, x: bool = True, y: bool = True) -> None:
    """Tick labels of log axes as plain numbers (128, 1024, 0.5) instead of powers (2^7, 5×10^-1); on the y axis
    ticks at 1, 2 and 5 of every decade, so that a range of less than a decade still shows numbers."""
    fmt = FuncFormatter(lambda v, _: f"{v:g}")
    if x:
        ax.xaxis.set_major_formatter(fmt)
        ax.xaxis.set_minor_formatter(NullFormatter())
    if y:
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(fmt)
        ax.yaxis.set_minor_formatter(NullFormatter())


def _result_rows(result: dict, command: str) -> list:
    if not isinstance(result, dict) or result.get("command") != command or not isinstance(result.get("rows"), list):
        raise ValueError(
            f"result must be a retnet_edu.experiments.bench '{command}' result (a dict with 'command' and 'rows')"
        )
    rows = [r for r in result["rows"] if "skipped" not in r]
    if not rows:
        raise ValueError(f"the '{command}' result holds no measured rows")
    return rows


def benchmark_provenance(result: dict) -> str:
    """One line saying where a benchmark result comes from: command line, date, machine, threads, load."""
    if not isinstance(result, dict) or "machine" not in result:
        raise ValueError("result must be a retnet_edu.experiments.bench result (with 'machine')")
    m = result["machine"]
    load = m.get("load_avg_before")
    load_txt = f", load {load[0]:.2f}" if load else ""
    gpu = f" + {m['gpu']}" if m.get("gpu") else ""
    return (
        f"{result.get('command_line', '?')}  ·  {result.get('date', '?')[:10]}  ·  {m.get('cpu', '?')}{gpu}, "
        f"{m.get('cores', '?')} cores, {m.get('threads', '?')} thread(s), "
        f"torch {str(m.get('torch', '?')).split('+')[0]}"
        f"{load_txt}"
    )


def plot_decode_benchmark(result: dict, groups=None, ax=None) -> dict:
    """Three panels from a ``bench decode`` result: milliseconds per decoding step against the context length
    (RetNet solid, Transformer dashed, the bar = quartiles), the memory a step needs beyond the weights (the state
    and the KV cache from the sizes as lines, the measured peaks as markers), and the measured speed ratio next to
    the bandwidth-bound ideal (dotted). ``groups``: the (size, batch) pairs to draw (default all).

    Returns ``{"groups", "context", "retnet_ms", "transformer_ms", "speed_ratio", "ideal_ratio", "state_mib",
    "kv_mib", "retnet_measured_mib", "transformer_measured_mib", "fig"}`` (dicts keyed by group, arrays over the
    contexts; measured memory is NaN where it was not measured)."""
    rows = _result_rows(result, "decode")
    found = list(dict.fromkeys((r["size"], r["batch"]) for r in rows))
    if groups is None:
        groups = found
    groups = [tuple(g) for g in groups]
    missing = [g for g in groups if g not in found]
    if missing or not groups:
        raise ValueError(f"groups must be (size, batch) pairs of the result {found}, got {groups}")
    fig, (a_t, a_m, a_r) = _axes_row(ax, 3, 13.5)
    out = {
        k: {}
        for k in (
            "context",
            "retnet_ms",
            "transformer_ms",
            "speed_ratio",
            "ideal_ratio",
            "state_mib",
            "kv_mib",
            "retnet_measured_mib",
            "transformer_measured_mib",
        )
    }
    widths = {name: info.get("retnet", {}).get("embed_dim") for name, info in (result.get("sizes") or {}).items()}
    for i, g in enumerate(groups):
        rs = sorted((r for r in rows if (r["size"], r["batch"]) == g), key=lambda r: r["context"])
        col = f"C{i}"
        label = f"{g[0]} d={widths[g[0]]}, batch {g[1]}" if widths.get(g[0]) else f"{g[0]}, batch {g[1]}"
        x = np.array([r["context"] for r in rs], dtype=float)
        get = lambda key, rs=rs: np.array([r.get(key, np.nan) for r in rs], dtype=float)  # noqa: E731
        vals = {
            "context": x,
            "retnet_ms": get("retnet_ms"),
            "transformer_ms": get("transformer_ms"),
            "speed_ratio": get("speed_ratio"),
            "ideal_ratio": get("ideal_ratio"),
            "state_mib": get("state_bytes_exact") / _MiB,
            "kv_mib": get("kv_bytes_exact") / _MiB,
            "retnet_measured_mib": get("retnet_step_peak_bytes") / _MiB,
            "transformer_measured_mib": get("transformer_step_peak_bytes") / _MiB,
        }
        for k, v in vals.items():
            out[k][g] = v
        for name, ls, mk in (("retnet", "-", "o"), ("transformer", "--", "s")):
            y = vals[f"{name}_ms"]
            err = np.vstack([y - get(f"{name}_ms_q25"), get(f"{name}_ms_q75") - y])
            a_t.errorbar(
                x,
                y,
                yerr=np.nan_to_num(np.clip(err, 0, None)),
                ls=ls,
                marker=mk,
                ms=3,
                color=col,
                capsize=2,
                label=f"{'RetNet' if name == 'retnet' else 'Transformer'} ({label})",
            )
        a_m.plot(x, vals["state_mib"], "-", color=col, label=f"RetNet state ({label})")
        a_m.plot(x, vals["kv_mib"], "--", color=col, label=f"KV cache ({label})")
        if np.isfinite(vals["retnet_measured_mib"]).any():
            a_m.plot(x, vals["retnet_measured_mib"], "o", color=col, ms=4, mfc="none")
            a_m.plot(x, vals["transformer_measured_mib"], "s", color=col, ms=4, mfc="none")
        a_r.plot(x, vals["speed_ratio"], "o-", color=col, ms=3, label=f"measured ({label})")
        a_r.plot(x, vals["ideal_ratio"], ":", color=col, label=f"bandwidth ideal ({label})")
    for a in (a_t, a_m, a_r):
        a.set_xscale("log", base=2)
        a.set_yscale("log")
        _plain_log_axes(a)
        a.set_xlabel("context length t (tokens already read)")
    a_t.set_ylabel("ms per decoding step")
    a_t.set_title("Latency of one new token")
    a_m.set_ylabel("MiB beyond the weights")
    a_m.set_title("State vs KV cache (lines: sizes; markers: measured)")
    a_r.axhline(1.0, color="0.5", lw=0.8)
    a_r.set_ylabel("Transformer time / RetNet time")
    a_r.set_title("Speed-up: measured vs bandwidth ideal")
    for a in (a_t, a_m, a_r):
        a.legend(fontsize=6)
    fig.tight_layout()
    out["groups"] = groups
    out["fig"] = fig
    return out


_TRAIN_STYLE = {"retnet parallel": ("-", "o"), "transformer sdpa": ("--", "s"), "transformer naive": (":", "^")}


def plot_train_benchmark(result: dict, ax=None) -> dict:
    """Two panels from a ``bench train`` result: microseconds per token of one forward + backward against the
    sequence length, and the peak memory per token, for each implementation (retention parallel and chunkwise at
    each chunk size, attention sdpa and naive). Skipped points are left out.

    Returns ``{"impls", "T" {impl: array}, "us_per_token", "peak_kib_per_token" (NaN where not measured),
    "fig"}``."""
    rows = _result_rows(result, "train")
    impls = list(dict.fromkeys(r["impl"] for r in rows))
    fig, (a_t, a_m) = _axes_row(ax, 2, 11.0)
    out = {"impls": impls, "T": {}, "us_per_token": {}, "peak_kib_per_token": {}}
    for i, impl in enumerate(impls):
        rs = sorted((r for r in rows if r["impl"] == impl), key=lambda r: r["T"])
        T = np.array([r["T"] for r in rs], dtype=float)
        us = np.array([r["us_per_token"] for r in rs], dtype=float)
        mem = np.array([r.get("peak_bytes_per_token", np.nan) for r in rs], dtype=float) / 1024
        out["T"][impl], out["us_per_token"][impl], out["peak_kib_per_token"][impl] = T, us, mem
        ls, mk = _TRAIN_STYLE.get(impl, ("-", "D"))
        a_t.plot(T, us, ls=ls, marker=mk, ms=3, color=f"C{i}", label=impl)
        if np.isfinite(mem).any():
            a_m.plot(T, mem, ls=ls, marker=mk, ms=3, color=f"C{i}", label=impl)
    for a in (a_t, a_m):
        a.set_xscale("log", base=2)
        a.set_yscale("log")
        _plain_log_axes(a)
        a.set_xlabel("sequence length T")
        a.legend(fontsize=7)
    a_t.set_ylabel("µs per token (forward + backward)")
    a_t.set_title("Training time per token, one layer")
    a_m.set_ylabel("peak KiB per token")
    a_m.set_title("Training memory per token, one layer")
    fig.tight_layout()
    out["fig"] = fig
    return out


def plot_official_benchmark(result: dict, ax=None) -> dict:
    """Bars from a ``bench official`` result: our time / the official time for each level (MSR, decoder) and
    mode, one bar per sequence length, with the line ratio = 1 (below it ours is faster). The title reports the
    float64 agreement. Returns ``{"labels", "lengths", "ratios" (labels × lengths, NaN where missing),
    "max_abs_diff", "fig"}``."""
    rows = _result_rows(result, "official")
    labels = list(dict.fromkeys(f"{r['level']} {r['mode']}" for r in rows))
    lengths = sorted({r["T"] for r in rows})
    ratios = np.full((len(labels), len(lengths)), np.nan)
    for r in rows:
        ratios[labels.index(f"{r['level']} {r['mode']}"), lengths.index(r["T"])] = r["ratio"]
    fig, ax = _axes(ax, figsize=(7.5, 3.6))
    width = 0.8 / len(lengths)
    xs = np.arange(len(labels))
    for j, T in enumerate(lengths):
        bars = ax.bar(xs + (j - (len(lengths) - 1) / 2) * width, ratios[:, j], width, label=f"T = {T}", color=f"C{j}")
        for b, v in zip(bars, ratios[:, j], strict=True):
            if np.isfinite(v):
                ax.annotate(
                    f"{v:.2f}",
                    (b.get_x() + b.get_width() / 2, v),
                    xytext=(0, 2),
                    textcoords="offset points",
                    ha="center",
                    fontsize=7,
                )
    ax.axhline(1.0, color="0.3", lw=1)
    ax.set_xticks(xs)
    ax.set_xticklabels([lab.replace("msr", "MSR") for lab in labels], rotation=20, fontsize=8)
    ax.set_ylabel("ours / official time")
    diff = max(r["max_abs_diff"] for r in rows)
    equal = all(r["equal"] for r in rows)
    ax.set_title(
        f"retnet_edu vs torchscale {result.get('settings', {}).get('torchscale', '')}: outputs "
        f"{'equal' if equal else 'DIFFERENT'} (float64, eps 0: max |Δ| {diff:.1e})",
        fontsize=9,
    )
    ax.set_ylim(0, max(1.2, float(np.nanmax(ratios)) * 1.15))
    ax.legend(fontsize=8)
    return {"labels": labels, "lengths": lengths, "ratios": ratios, "max_abs_diff": diff, "fig": fig}


def plot_benchmark(result: dict) -> dict:
    """The figure of any ``retnet_edu.experiments.bench`` result (what ``python -m retnet_edu.experiments.bench``
    saves as PNG), with its provenance (``benchmark_provenance``) as a footnote."""
    if not isinstance(result, dict) or result.get("command") not in ("decode", "train", "official"):
        raise ValueError(
            "result must be a retnet_edu.experiments.bench result with command 'decode', 'train' or 'official'"
        )
    drawn = {"decode": plot_decode_benchmark, "train": plot_train_benchmark, "official": plot_official_benchmark}[
        result["command"]
    ](result)
    fig = drawn["fig"]
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    fig.text(0.005, 0.005, benchmark_provenance(result), fontsize=6, color="0.35", ha="left", va="bottom")
    return drawn
