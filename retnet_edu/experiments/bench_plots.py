"""The figures of the benchmark results (``retnet_edu.experiments.bench``: decode, train, official): what
``python -m retnet_edu.experiments.bench`` saves as PNG next to each JSON result, and what notebook 09 shows (through
``retnet_edu.course.viz``). Plain matplotlib, nothing from the course.

Convention (as in ``retnet_edu.course.viz``): every ``plot_*`` function takes an optional ``ax`` (a new figure is made
when it is None), draws, and returns a dict holding the numbers it drew and the figure under ``"fig"``."""

from __future__ import annotations

import weakref

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


def _grid(ax, n: int, figsize):
    """n axes on a 2 × 2 grid (a new figure when ``ax`` is None, else the n axes given)."""
    if ax is None:
        fig, axes = plt.subplots(2, 2, figsize=figsize)
        return fig, list(np.ravel(axes))[:n]
    axes = list(np.ravel(ax))
    if len(axes) != n:
        raise ValueError(f"ax must hold {n} axes, got {len(axes)}")
    return axes[0].figure, axes


def _key_legend(fig, groups: list[tuple[str, str]], styles: list[tuple[str, dict]]) -> None:
    """One legend for the whole figure, below the panels, readable at notebook width: the colour of each group
    (``groups``: (colour, label)) and what each line style means (``styles``: (label, Line2D keywords))."""
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=c, lw=6, solid_capstyle="butt") for c, _ in groups]
    labels = [label for _, label in groups]
    handles += [Line2D([], [], color="0.25", **kw) for _, kw in styles]
    labels += [label for label, _ in styles]
    _legend_below(fig, handles, labels, _legend_height(fig, len(labels), 3), ncol=3)


def _legend_height(fig, entries: int, ncol: int) -> float:
    """The figure fraction a legend of ``entries`` in ``ncol`` columns at 9 pt needs below the panels."""
    rows = -(-entries // ncol)
    return (0.12 + 0.21 * rows) / fig.get_figheight()


_BOTTOM: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # figure → its legend below the panels


def _legend_below(fig, handles, labels, bottom: float, ncol: int, footnote: float = 0.0) -> None:
    """A figure legend in the strip of height ``bottom`` below the panels (above a ``footnote`` strip)."""
    for old in list(fig.legends):
        old.remove()
    fig.legend(
        handles, labels, loc="lower center", ncol=ncol, frameon=False, fontsize=9, bbox_to_anchor=(0.5, footnote)
    )
    fig.tight_layout(rect=(0, bottom + footnote, 1, 1))
    _BOTTOM[fig] = (handles, labels, bottom, ncol)


def _decode_group_label(result: dict, g: tuple) -> str:
    widths = {name: info.get("retnet", {}).get("embed_dim") for name, info in (result.get("sizes") or {}).items()}
    return f"d = {widths[g[0]]}, batch {g[1]}" if widths.get(g[0]) else f"{g[0]}, batch {g[1]}"


def plot_decode_benchmark(result: dict, groups=None, ax=None, compiled: bool | None = None) -> dict:
    """Four panels from a ``bench decode`` result, one colour per (size, batch) group, one legend below them.

    Eager steps only (``compiled=False``, the default for a result without compiled timings): milliseconds per
    decoding step against the context length (RetNet solid ●, Transformer dashed ■, bars = quartiles); the memory a
    step needs beyond the weights (state and KV cache from the sizes as lines, the measured peaks as hollow
    markers); the measured speed ratio (solid ●) next to the bandwidth-bound ideal (dotted, no markers); and the
    fraction of that ideal the measurement reached (measured / ideal).

    With compiled timings (``compiled=True``, the default for a ``decode --compile`` result): eager (thin, hollow
    markers) and compiled (thick, filled markers) milliseconds per step of both models; each model's compiled time
    over its eager time; the speed ratio eager (dash-dot ○), compiled (solid ●) and ideal (dotted); and the fraction
    of the ideal reached, eager and compiled. ``groups``: the (size, batch) pairs to draw (default all).

    Returns ``{"groups", "compiled", "context", "retnet_ms", "transformer_ms", "speed_ratio", "ideal_ratio",
    "ratio_vs_ideal", "state_mib", "kv_mib", "retnet_measured_mib", "transformer_measured_mib", "fig"}`` (dicts
    keyed by group, arrays over the contexts; NaN where a value was not measured) and, with compiled timings,
    ``"retnet_compiled_ms"``, ``"transformer_compiled_ms"``, ``"compiled_speed_ratio"``,
    ``"compiled_ratio_vs_ideal"``."""
    rows = _result_rows(result, "decode")
    found = list(dict.fromkeys((r["size"], r["batch"]) for r in rows))
    if groups is None:
        groups = found
    groups = [tuple(g) for g in groups]
    missing = [g for g in groups if g not in found]
    if missing or not groups:
        raise ValueError(f"groups must be (size, batch) pairs of the result {found}, got {groups}")
    has_compiled = all("compiled_speed_ratio" in r for r in rows if (r["size"], r["batch"]) in groups)
    if compiled is None:
        compiled = has_compiled
    if compiled and not has_compiled:
        raise ValueError("compiled=True needs a result with compiled timings (bench decode --compile)")
    fig, (a_t, a_m, a_r, a_f) = _grid(ax, 4, (11.0, 8.2))
    keys = [
        "context",
        "retnet_ms",
        "transformer_ms",
        "speed_ratio",
        "ideal_ratio",
        "ratio_vs_ideal",
        "state_mib",
        "kv_mib",
        "retnet_measured_mib",
        "transformer_measured_mib",
    ]
    if compiled:
        keys += ["retnet_compiled_ms", "transformer_compiled_ms", "compiled_speed_ratio", "compiled_ratio_vs_ideal"]
    out = {k: {} for k in keys}
    legend_groups = []
    for i, g in enumerate(groups):
        rs = sorted((r for r in rows if (r["size"], r["batch"]) == g), key=lambda r: r["context"])
        col = f"C{i}"
        legend_groups.append((col, _decode_group_label(result, g)))
        x = np.array([r["context"] for r in rs], dtype=float)
        get = lambda key, rs=rs: np.array([r.get(key, np.nan) for r in rs], dtype=float)  # noqa: E731
        vals = {k: get(k) for k in keys if k not in ("context", "state_mib", "kv_mib")}
        vals.update(
            context=x,
            state_mib=get("state_bytes_exact") / _MiB,
            kv_mib=get("kv_bytes_exact") / _MiB,
            retnet_measured_mib=get("retnet_step_peak_bytes") / _MiB,
            transformer_measured_mib=get("transformer_step_peak_bytes") / _MiB,
        )
        for k in keys:
            out[k][g] = vals[k]
        for name, ls, mk in (("retnet", "-", "o"), ("transformer", "--", "s")):
            y = vals[f"{name}_ms"]
            err = np.vstack([y - get(f"{name}_ms_q25"), get(f"{name}_ms_q75") - y])
            style = dict(ls=ls, marker=mk, color=col, capsize=2)
            if compiled:
                style.update(lw=0.9, ms=4, mfc="white")
            a_t.errorbar(x, y, yerr=np.nan_to_num(np.clip(err, 0, None)), **style)
            if compiled:
                yc = vals[f"{name}_compiled_ms"]
                errc = np.vstack([yc - get(f"{name}_compiled_ms_q25"), get(f"{name}_compiled_ms_q75") - yc])
                errc = np.nan_to_num(np.clip(errc, 0, None))
                a_t.errorbar(x, yc, yerr=errc, ls=ls, marker=mk, ms=4, lw=2, color=col, capsize=2)
                a_m.plot(x, yc / y, ls=ls, marker=mk, ms=4, color=col)
        if not compiled:
            a_m.plot(x, vals["state_mib"], "-", color=col)
            a_m.plot(x, vals["kv_mib"], "--", color=col)
            if np.isfinite(vals["retnet_measured_mib"]).any():
                a_m.plot(x, vals["retnet_measured_mib"], "o", color=col, ms=5, mfc="none")
                a_m.plot(x, vals["transformer_measured_mib"], "s", color=col, ms=5, mfc="none")
        eager_style = dict(ls="-.", marker="o", mfc="white", ms=5) if compiled else dict(ls="-", marker="o", ms=4)
        a_r.plot(x, vals["speed_ratio"], color=col, **eager_style)
        a_r.plot(x, vals["ideal_ratio"], ":", color=col, lw=2)
        a_f.plot(x, vals["ratio_vs_ideal"], color=col, **eager_style)
        if compiled:
            a_r.plot(x, vals["compiled_speed_ratio"], "-", marker="o", ms=5, color=col)
            a_f.plot(x, vals["compiled_ratio_vs_ideal"], "-", marker="o", ms=5, color=col)
    for a in (a_t, a_m, a_r, a_f):
        a.set_xscale("log", base=2)
        if a is not a_f:
            a.set_yscale("log")
        _plain_log_axes(a, y=a is not a_f)
        a.set_xlabel("context length t (tokens already read)")
    fractions = [v for k in ("ratio_vs_ideal", "compiled_ratio_vs_ideal") for v in out.get(k, {}).values()]
    top = max((float(np.nanmax(v)) for v in fractions if np.isfinite(v).any()), default=1.0)
    a_f.set_ylim(0, max(1.05, 1.05 * top))
    a_f.axhline(1.0, color="0.5", lw=0.8)
    a_t.set_ylabel("ms per decoding step")
    a_r.axhline(1.0, color="0.5", lw=0.8)
    a_r.set_ylabel("Transformer time / RetNet time")
    a_f.set_ylabel("measured speed-up / bandwidth ideal")
    a_f.set_title("Fraction of the bandwidth ideal reached")
    if compiled:
        a_t.set_title("Latency of one new token: eager vs compiled")
        a_m.axhline(1.0, color="0.5", lw=0.8)
        a_m.set_ylabel("compiled time / eager time")
        a_m.set_title("What compiling buys each model's step")
        a_r.set_title("Speed-up: eager, compiled, bandwidth ideal")
        styles = [
            ("RetNet (solid, ●)", dict(ls="-", marker="o")),
            ("Transformer (dashed, ■)", dict(ls="--", marker="s")),
            ("eager: thin, hollow / dash-dot ○", dict(ls="-.", marker="o", mfc="white", lw=0.9)),
            ("compiled: thick, filled / solid ●", dict(ls="-", marker="o", lw=2)),
            ("bandwidth ideal (dotted)", dict(ls=":", lw=2)),
        ]
    else:
        a_t.set_title("Latency of one new token")
        a_m.set_ylabel("MiB beyond the weights")
        a_m.set_title("State vs KV cache (lines: sizes; ○ □: measured)")
        a_r.set_title("Speed-up: measured vs bandwidth ideal")
        styles = [
            ("RetNet / RetNet state (solid, ●)", dict(ls="-", marker="o")),
            ("Transformer / KV cache (dashed, ■)", dict(ls="--", marker="s")),
            ("measured speed-up (solid, ●)", dict(ls="-", marker="o")),
            ("bandwidth ideal (dotted)", dict(ls=":", lw=2)),
        ]
    _key_legend(fig, legend_groups, styles)
    out["groups"] = groups
    out["compiled"] = compiled
    out["fig"] = fig
    return out


_TRAIN_STYLE = {
    "retnet parallel": ("-", "o"),
    "transformer sdpa": ("--", "s"),
    "transformer naive": (":", "^"),
}
_CHUNK_STYLES = [((0, (5, 1.5, 1, 1.5)), "D"), ((0, (1, 1)), "v"), ((0, (8, 2)), "P"), ((0, (3, 1, 1, 1, 1, 1)), "X")]


def _train_style(impl: str, chunk_index: int) -> tuple:
    """Line style and marker of an implementation: each its own, so that lines stay apart without colour."""
    if impl in _TRAIN_STYLE:
        return _TRAIN_STYLE[impl]
    return _CHUNK_STYLES[chunk_index % len(_CHUNK_STYLES)]


def plot_train_benchmark(result: dict, ax=None) -> dict:
    """Two panels from a ``bench train`` result: microseconds per token of one forward + backward against the
    sequence length, and the peak memory per token, for each implementation (retention parallel and chunkwise at
    each chunk size, attention sdpa and naive), each with its own colour, line style and marker, one legend below
    both panels. Skipped points are left out.

    Returns ``{"impls", "T" {impl: array}, "us_per_token", "peak_kib_per_token" (NaN where not measured),
    "fig"}``."""
    from matplotlib.lines import Line2D

    rows = _result_rows(result, "train")
    impls = list(dict.fromkeys(r["impl"] for r in rows))
    fig, (a_t, a_m) = _axes_row(ax, 2, 10.5)
    out = {"impls": impls, "T": {}, "us_per_token": {}, "peak_kib_per_token": {}}
    handles, chunk_index = [], 0
    for i, impl in enumerate(impls):
        rs = sorted((r for r in rows if r["impl"] == impl), key=lambda r: r["T"])
        T = np.array([r["T"] for r in rs], dtype=float)
        us = np.array([r["us_per_token"] for r in rs], dtype=float)
        mem = np.array([r.get("peak_bytes_per_token", np.nan) for r in rs], dtype=float) / 1024
        out["T"][impl], out["us_per_token"][impl], out["peak_kib_per_token"][impl] = T, us, mem
        ls, mk = _train_style(impl, chunk_index)
        chunk_index += impl not in _TRAIN_STYLE
        style = dict(ls=ls, marker=mk, ms=5, color=f"C{i}", lw=1.6)
        a_t.plot(T, us, **style)
        if np.isfinite(mem).any():
            a_m.plot(T, mem, **style)
        handles.append(Line2D([], [], **style))
    for a in (a_t, a_m):
        a.set_xscale("log", base=2)
        a.set_yscale("log")
        _plain_log_axes(a)
        a.set_xlabel("sequence length T")
    a_t.set_ylabel("µs per token (forward + backward)")
    a_t.set_title("Training time per token, one layer")
    a_m.set_ylabel("peak KiB per token")
    a_m.set_title("Training memory per token, one layer")
    _legend_below(fig, handles, impls, _legend_height(fig, len(impls), 3), ncol=3)
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
                    fontsize=8,
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
    saves as PNG), with its provenance (``benchmark_provenance``) as a footnote. A ``decode --compile`` result is
    drawn with its compiled timings (``plot_decode_benchmark(compiled=True)``)."""
    if not isinstance(result, dict) or result.get("command") not in ("decode", "train", "official"):
        raise ValueError(
            "result must be a retnet_edu.experiments.bench result with command 'decode', 'train' or 'official'"
        )
    drawn = {"decode": plot_decode_benchmark, "train": plot_train_benchmark, "official": plot_official_benchmark}[
        result["command"]
    ](result)
    fig = drawn["fig"]
    footnote = 0.2 / fig.get_figheight()  # about 0.2 inch for the provenance line
    if fig in _BOTTOM:  # a legend below the panels: move it up above the footnote
        handles, labels, bottom, ncol = _BOTTOM[fig]
        _legend_below(fig, handles, labels, bottom, ncol, footnote=footnote)
    else:
        fig.tight_layout(rect=(0, footnote + 0.02, 1, 1))
    fig.text(0.005, 0.005, benchmark_provenance(result), fontsize=7, color="0.35", ha="left", va="bottom")
    return drawn
