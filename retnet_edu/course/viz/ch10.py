"""The figures of notebook 10 (``notebooks/10_retnet_vs_hyena_mini_lra.ipynb``)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.container import BarContainer
from matplotlib.lines import Line2D
from matplotlib.patches import Arc

from retnet_edu._args import check_int as _check_int
from retnet_edu.course.viz._common import _axes
from retnet_edu.course.viz.ch01 import plot_score_matrices

__all__ = [
    "MINI_LRA_COLORS",
    "plot_listops_example",
    "plot_mqar_example",
    "plot_mixing_matrices",
    "plot_hyena_filters",
    "plot_accuracy_curves",
    "plot_accuracy_vs_length",
]


MINI_LRA_COLORS = {"retnet": "C0", "linear": "C1", "transformer": "C2", "hyena": "C3"}
# a second cue besides the colour (colour-blind readers, grey-scale prints): a line style and marker per model in
# curves, a hatch per model in bars
MINI_LRA_STYLES = {"retnet": "-", "linear": "--", "transformer": "-.", "hyena": ":"}
MINI_LRA_MARKERS = {"retnet": "o", "linear": "s", "transformer": "^", "hyena": "D"}
MINI_LRA_HATCHES = {"retnet": "", "linear": "//", "transformer": "..", "hyena": "xx"}
_MINI_LRA_LABELS = {
    "retnet": "RetNet",
    "linear": "RetNet γ = 1 (linear attention)",
    "transformer": "Transformer",
    "hyena": "Hyena",
}


def plot_listops_example(tokens, value: int | None = None, ax=None) -> dict:
    """A ListOps expression as a skyline: token i at x = i, at the height of its bracket nesting depth, so that
    each sub-list is a plateau. ``tokens``: the token strings (``[OP``, digits, ``]``). The answer depends on tokens
    at both ends: the outer operator (first token) and the last argument (just before the last ``]``).

    Returns ``{"depth" (len,), "tokens", "value", "fig"}``.
    """
    tokens = [str(t) for t in tokens if str(t) != "<pad>"]
    if not tokens:
        raise ValueError("tokens must hold at least one token")
    depth, d = [], 0
    for tok in tokens:
        if tok.startswith("["):
            d += 1
            depth.append(d)
        elif tok == "]":
            depth.append(d)
            d -= 1
        else:
            depth.append(d)
    if d != 0:
        raise ValueError("unbalanced brackets in tokens")
    depth = np.array(depth)
    fig, ax = _axes(ax, figsize=(min(16.0, 1.0 + 0.2 * len(tokens)), 2.6))
    ax.step(np.arange(len(tokens)), depth, where="mid", color="0.6", lw=1)
    for i, (tok, dd) in enumerate(zip(tokens, depth, strict=True)):
        color = "C3" if tok.startswith("[") else "0.4" if tok == "]" else "C0"
        ax.text(
            i,
            dd + 0.15,
            tok.lstrip("["),
            ha="center",
            va="bottom",
            fontsize=7,
            color=color,
            rotation=90 if tok.startswith("[") else 0,
        )
    ax.set_ylim(0, depth.max() + 1.2)
    ax.set_xlim(-1, len(tokens))
    ax.set_xlabel("position")
    ax.set_ylabel("nesting depth")
    ax.set_title(f"{len(tokens)} tokens" + (f" → value {value}" if value is not None else ""))
    ax.grid(False)
    return {"depth": depth, "tokens": tokens, "value": value, "fig": fig}


def plot_mqar_example(inputs, targets, ax=None, ignore: int = -100) -> dict:
    """One MQAR sequence: every token as a cell (keys blue, values orange, filler grey), and an arc from each
    query (a scored position, outlined) back to the pair it asks about. Returns ``{"queries" (positions), "pairs"
    (positions of the key in the context), "distances", "fig"}``."""
    x = np.asarray(torch.as_tensor(inputs)).reshape(-1)
    y = np.asarray(torch.as_tensor(targets)).reshape(-1)
    if x.shape != y.shape:
        raise ValueError(f"inputs and targets must have the same length, got {x.shape} and {y.shape}")
    queries = np.nonzero(y != ignore)[0]
    if queries.size == 0:
        raise ValueError("targets hold no scored position")
    first_query = int(queries.min())
    pairs = []
    for qpos in queries:
        hits = np.nonzero(x[:first_query] == x[qpos])[0]
        if hits.size == 0:
            raise ValueError(f"the key at position {qpos} does not occur before the first query")
        pairs.append(int(hits[0]))
    pairs = np.array(pairs)
    fig, ax = _axes(ax, figsize=(9.0, 2.2))
    n_pairs, scored = len(queries), set(queries.tolist())
    for i in range(len(x)):
        if i < 2 * n_pairs:
            color = "C0" if i % 2 == 0 else "C1"  # the context: key, value, key, value, …
        else:
            color = "C0" if i in scored else "0.85"  # queries are keys again; the rest is filler
        ax.add_patch(plt.Rectangle((i, 0), 0.9, 1, color=color, ec="black" if i in scored else None, lw=0.6))
    for qpos, kpos in zip(queries, pairs, strict=True):
        width = qpos - kpos
        ax.add_patch(
            Arc(
                ((qpos + kpos) / 2 + 0.45, 1),
                width,
                min(2.8, 0.03 * width + 0.6),
                theta1=0,
                theta2=180,
                color="0.3",
                lw=0.8,
            )
        )
    ax.set_xlim(-0.5, len(x) + 0.5)
    ax.set_ylim(-0.2, 2.6)
    ax.set_yticks([])
    ax.spines["left"].set_visible(False)
    ax.set_xlabel("position")
    ax.set_title(f"{n_pairs} key-value pairs, then each key again among filler (keys blue, values orange)")
    ax.grid(False)
    return {"queries": queries, "pairs": pairs, "distances": queries - pairs, "fig": fig}


def plot_mixing_matrices(fixed: dict, full: dict, fig=None) -> dict:
    """Two rows of heatmaps, one column per model: the part of each token mixer that does not depend on the data
    (top) and the whole matrix for one input (bottom), as returned by ``retnet_edu.experiments.lra.mixing_matrix``.
    ``fixed`` and ``full``: {name: (T, T)} with the same names. Returns ``{"fixed": …, "full": …, "fig"}`` (the
    arrays drawn, float64)."""
    if not isinstance(fixed, dict) or not isinstance(full, dict) or not fixed or list(fixed) != list(full):
        raise ValueError("fixed and full must be non-empty dicts with the same names, in the same order")
    n = len(fixed)
    if fig is None:
        fig = plt.figure(figsize=(3.3 * n, 6.2))
    axes = fig.subplots(2, n, squeeze=False)
    top = plot_score_matrices({f"{k}\nfixed part": v for k, v in fixed.items()}, ax=list(axes[0]))
    bottom = plot_score_matrices({f"{k}\nfor this input": v for k, v in full.items()}, ax=list(axes[1]))
    return {
        "fixed": dict(zip(fixed, top["matrices"].values(), strict=True)),
        "full": dict(zip(full, bottom["matrices"].values(), strict=True)),
        "fig": fig,
    }


def plot_hyena_filters(h, channels=None, ax=None, window=None) -> dict:
    """Implicit filters ``h[c, t]`` of a few channels against the lag t (solid), and their decay windows (dashed,
    when ``window`` (C, T) is given). ``h``: (C, T); ``channels``: the rows to draw (default 4 spread over C).
    Returns ``{"channels", "lags", "filters" (len(channels), T), "fig"}``."""
    h = torch.as_tensor(h).detach().to(torch.float64).cpu().numpy()
    if h.ndim != 2 or h.shape[1] < 1:
        raise ValueError(f"h must be (channels, T), got shape {h.shape}")
    C, T = h.shape
    if channels is None:
        channels = sorted({int(round(c)) for c in np.linspace(0, C - 1, min(4, C))})
    channels = [_check_int(c, "channel", 0) for c in channels]
    if any(c >= C for c in channels):
        raise ValueError(f"channels must lie in [0, {C}), got {channels}")
    fig, ax = _axes(ax)
    lags = np.arange(T)
    for i, c in enumerate(channels):
        ax.plot(lags, h[c], color=f"C{i}", lw=1.2, label=f"channel {c}")
        if window is not None:
            w = torch.as_tensor(window).detach().to(torch.float64).cpu().numpy()
            scale = np.abs(h[c]).max() or 1.0
            ax.plot(lags, scale * w[c], color=f"C{i}", ls="--", lw=0.8)
    ax.axhline(0, color="0.5", lw=0.5)
    ax.set_xlabel("lag t (tokens back)")
    ax.set_ylabel("filter h[c, t]")
    ax.set_title("Hyena's implicit filters" + (" (dashed: their windows, scaled)" if window is not None else ""))
    ax.legend(fontsize=8)
    return {"channels": channels, "lags": lags, "filters": h[channels], "fig": fig}


def plot_accuracy_curves(results: dict, ax=None, chance: float | None = None, guides: dict | None = None) -> dict:
    """Test accuracy against training step for several runs (``retnet_edu.experiments.lra.run`` results):
    {name: result}, each model with its own colour, line style and marker. ``chance``: a dotted level;
    ``guides``: {label: accuracy} more levels, dash-dotted (e.g. MQAR's guessing plateau). Returns ``{"steps":
    {name: array}, "accuracy": {name: array}, "fig"}``."""
    if not isinstance(results, dict) or not results:
        raise ValueError("results must be a non-empty dict {name: result of retnet_edu.experiments.lra.run}")
    fig, ax = _axes(ax)
    out = {"steps": {}, "accuracy": {}}
    for name, r in results.items():
        if not isinstance(r, dict) or "history" not in r:
            raise ValueError(f"result {name!r} must be a dict with a 'history'")
        hist = np.array([[row[0], row[2]] for row in r["history"]], dtype=float)
        out["steps"][name], out["accuracy"][name] = hist[:, 0], hist[:, 1]
        ax.plot(
            hist[:, 0],
            100 * hist[:, 1],
            ls=MINI_LRA_STYLES.get(name, "-"),
            marker=MINI_LRA_MARKERS.get(name, "o"),
            ms=4,
            color=MINI_LRA_COLORS.get(name),
            label=f"{_MINI_LRA_LABELS.get(name, name)}: {100 * hist[-1, 1]:.1f} %",
        )
    levels = ([(f"chance ({100 * chance:.1f} %)", chance, ":")] if chance is not None else []) + [
        (label, level, "-.") for label, level in (guides or {}).items()
    ]
    for label, level, ls in levels:
        ax.axhline(100 * level, ls=ls, color="grey", lw=1)
        ax.annotate(
            label,
            (1.0, 100 * level),
            xycoords=("axes fraction", "data"),
            xytext=(-4, 3),
            textcoords="offset points",
            ha="right",
            fontsize=8,
            color="0.35",
        )
    ax.set_xlabel("training step")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 102)
    ax.legend(fontsize=9, loc="center right")
    out["fig"] = fig
    return out


def plot_accuracy_vs_length(rows, ax=None, tasks=None, guides: dict | None = None) -> dict:
    """The sweep's result as grouped bars: for each task (a panel) and each sequence length (a group), one bar per
    model at its mean test accuracy, ± one standard deviation over seeds (error bar), each seed's accuracy as a
    dot when the rows carry ``"accuracies"``. The lengths are separate groups, not points on a line: two lengths
    show no trend. Each model has its colour and a hatch; the majority-class accuracy is a dotted segment over
    each group (it differs by length), chance a dashed line. ``rows``: ``retnet_edu.experiments.lra.summarize``
    or ``best_lr`` rows (one per task, length and model); ``guides``: {task: {label: accuracy}} more levels,
    dash-dotted (e.g. MQAR's 1/N guessing plateau). Returns ``{"series": {task: {model: (lengths, means, stds)}},
    "fig"}``."""
    rows = list(rows)
    if not rows:
        raise ValueError("rows must be a non-empty list of summary rows (retnet_edu.experiments.lra.summarize)")
    keys = [(r["task"], r["length"], r["model"]) for r in rows]
    if len(set(keys)) != len(keys):
        raise ValueError("rows must hold one row per (task, length, model): pick one learning rate (lra.best_lr)")
    tasks = tasks or sorted({r["task"] for r in rows})
    if ax is None:
        fig, axes = plt.subplots(1, len(tasks), figsize=(4.8 * len(tasks), 3.8), squeeze=False)
        axes = list(axes[0])
    else:
        axes = list(ax) if isinstance(ax, (list, tuple, np.ndarray)) else [ax]
        if len(axes) != len(tasks):
            raise ValueError(f"ax must hold {len(tasks)} axes, got {len(axes)}")
        fig = axes[0].figure
    series = {}
    for a, task in zip(axes, tasks, strict=True):
        series[task] = {}
        task_rows = [r for r in rows if r["task"] == task]
        models = list(dict.fromkeys(r["model"] for r in task_rows))
        lengths_all = sorted({r["length"] for r in task_rows})
        width = 0.8 / len(models)
        for i, model in enumerate(models):
            mr = sorted((r for r in task_rows if r["model"] == model), key=lambda r: r["length"])
            L = np.array([r["length"] for r in mr])
            m = np.array([r["mean"] for r in mr])
            s = np.array([r["std"] for r in mr])
            series[task][model] = (L, m, s)
            x = np.array([lengths_all.index(length) for length in L]) + (i - (len(models) - 1) / 2) * width
            a.bar(
                x,
                100 * m,
                width=0.92 * width,
                yerr=100 * s,
                capsize=2,
                color=MINI_LRA_COLORS.get(model),
                hatch=MINI_LRA_HATCHES.get(model, ""),
                edgecolor="white",
                linewidth=0,
                error_kw={"elinewidth": 1, "ecolor": "0.2"},
                label=_MINI_LRA_LABELS.get(model, model),
            )
            for xi, r in zip(x, mr, strict=True):
                accs = 100 * np.asarray(r.get("accuracies", []), dtype=float)
                a.plot(np.full(len(accs), xi), accs, "o", ms=2.5, color="black", alpha=0.7, zorder=3)
        majority = {r["length"]: r["majority"] for r in task_rows}
        for j, length in enumerate(lengths_all):
            a.hlines(100 * majority[length], j - 0.45, j + 0.45, colors="0.3", linestyles=":", lw=1.2)
        a.axhline(100 * task_rows[0]["chance"], ls="--", color="0.6", lw=1, label="chance")
        for label, level in (guides or {}).get(task, {}).items():
            a.axhline(100 * level, ls="-.", color="0.45", lw=1)
            a.annotate(
                label,
                (1.0, 100 * level),
                xycoords=("axes fraction", "data"),
                xytext=(-3, 3),
                textcoords="offset points",
                ha="right",
                fontsize=8,
                color="0.3",
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1},
            )
        a.set_xticks(range(len(lengths_all)))
        a.set_xticklabels([f"{L} tokens" for L in lengths_all])
        a.set_xlim(-0.6, len(lengths_all) - 0.4)
        a.set_ylabel("test accuracy (%)")
        a.set_ylim(0, 105)
        a.set_title(task)
        a.grid(axis="x", visible=False)
    pairs = list(zip(*axes[0].get_legend_handles_labels(), strict=True))
    pairs = [p for p in pairs if isinstance(p[0], BarContainer)] + [
        p for p in pairs if not isinstance(p[0], BarContainer)
    ]
    handles, labels = [h for h, _ in pairs], [label for _, label in pairs]
    handles.append(Line2D([], [], ls=":", color="0.3", lw=1.2))
    labels.append("majority class (per length)")
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=9, frameon=False, bbox_to_anchor=(0.5, -0.02))
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    return {"series": series, "fig": fig}
