"""The figures of notebook 12 (``notebooks/12_delta_rule_and_recall.ipynb``)."""

from __future__ import annotations

import numpy as np
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from retnet_edu.course.viz._common import _axes_pair
from retnet_edu.experiments.recall import MODEL_LABELS, MODELS

__all__ = ["RECALL_COLORS", "plot_recall_sweep"]

# one colour per model (Okabe & Ito's palette, course_setup's cycle), and a line style and marker as a second cue
RECALL_COLORS = {
    "retnet": "C0",
    "retention": "C6",
    "gated_retention": "C1",
    "gla": "C2",
    "deltanet": "C3",
    "gated_deltanet": "C4",
    "transformer": "C7",
}
_STYLES = {
    "retnet": "-",
    "retention": ":",
    "gated_retention": "--",
    "gla": "-.",
    "deltanet": "-",
    "gated_deltanet": "--",
    "transformer": ":",
}
_MARKERS = {
    "retnet": "o",
    "retention": "v",
    "gated_retention": "s",
    "gla": "D",
    "deltanet": "^",
    "gated_deltanet": "P",
    "transformer": "X",
}
_HATCHES = ("//", "..", "xx", "\\\\", "++")  # the shorter lengths' bars; the longest is solid
_NEEDED = ("length", "model", "mean", "std", "state_bytes")


def _kib(n: float) -> str:
    return f"{n / 1024:,.0f} KiB" if n >= 10 * 1024 else f"{n / 1024:,.1f} KiB"


def _binary_bytes(n: float, _pos=None) -> str:
    """A tick label for ``n`` bytes: B, KiB, MiB or GiB (powers of 2 come out whole)."""
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:g} {unit}"
    return f"{n:g} B"


def plot_recall_sweep(rows, guides: dict | None = None, ax=None) -> dict:
    """The recall sweep in two panels. Left: each model's test accuracy against the sequence length (log scale),
    mean ± one standard deviation over seeds at its best learning rate (error bars; each seed a small dot when the
    rows carry ``"accuracies"``), chance as a dashed line when the rows carry ``"chance"``, and ``guides``
    ({label: accuracy}, e.g. the guessing plateau 1/N) as dash-dotted lines; chance is one line, or a short segment at
    each length when it differs by length. Right: the bytes of state each model's
    decoder keeps after L tokens, one bar per length (the longest solid, shorter ones hatched), on a log scale: flat
    for the recurrent models, growing with L for the Transformer's KV cache.

    ``rows``: ``retnet_edu.experiments.recall.recall_table`` rows (one per length and model). ``ax``: two axes, or
    None for a new figure. Returns ``{"lengths", "models", "accuracy" {model: (lengths, means, stds)},
    "state_bytes" {model: {length: bytes}}, "chance" {length: accuracy}, "fig"}``.
    """
    rows = list(rows)
    if not rows:
        raise ValueError("rows must be a non-empty list of recall_table rows")
    for r in rows:
        if not isinstance(r, dict) or any(key not in r for key in _NEEDED):
            raise ValueError(f"each row must be a dict with the keys {', '.join(_NEEDED)} (recall_table's rows)")
    keys = [(r["length"], r["model"]) for r in rows]
    if len(set(keys)) != len(keys):
        raise ValueError("rows must hold one row per (length, model): one learning rate each (recall_table)")
    order = {m: i for i, m in enumerate(MODELS)}
    models = sorted({r["model"] for r in rows}, key=lambda m: (order.get(m, len(order)), m))
    lengths = sorted({r["length"] for r in rows})
    fig, (left, right) = _axes_pair(ax, width_ratios=(1.25, 1))

    accuracy, state = {}, {}
    width = 0.03 * (len(models) - 1) / 2
    for i, m in enumerate(models):
        mr = sorted((r for r in rows if r["model"] == m), key=lambda r: r["length"])
        L = np.array([r["length"] for r in mr], dtype=float)
        mean = np.array([r["mean"] for r in mr], dtype=float)
        std = np.array([r["std"] for r in mr], dtype=float)
        accuracy[m] = (L.astype(int), mean, std)
        state[m] = {int(r["length"]): int(r["state_bytes"]) for r in mr}
        x = L * 2 ** (0.03 * i - width)  # a small sideways shift per model so that error bars do not overlap
        color = RECALL_COLORS.get(m, f"C{i % 8}")
        left.errorbar(
            x,
            100 * mean,
            yerr=100 * std,
            color=color,
            ls=_STYLES.get(m, "-"),
            marker=_MARKERS.get(m, "o"),
            ms=5,
            lw=1.5,
            capsize=3,
            label=MODEL_LABELS.get(m, m),
        )
        for xi, r in zip(x, mr, strict=True):
            accs = 100 * np.asarray(r.get("accuracies", []), dtype=float)
            left.plot(np.full(len(accs), xi), accs, ".", ms=3, color=color, alpha=0.6, zorder=3)
    chance = {r["length"]: r["chance"] for r in rows if r.get("chance") is not None}
    if len(set(chance.values())) == 1:
        left.axhline(100 * next(iter(chance.values())), ls="--", color="0.6", lw=1, label="chance")
    elif chance:  # chance differs by length (MQAR's vocabulary grows with it): a short dashed segment at each length
        at = sorted(chance)
        levels = [100 * chance[L] for L in at]
        left.hlines(
            levels, [L / 1.3 for L in at], [L * 1.3 for L in at], linestyles="--", colors="0.6", lw=1, label="chance"
        )
    for label, level in (guides or {}).items():
        left.axhline(100 * level, ls="-.", color="0.45", lw=1)
        left.annotate(
            label,
            (0.0, 100 * level),
            xycoords=("axes fraction", "data"),
            xytext=(3, 3),
            textcoords="offset points",
            fontsize=8,
            color="0.3",
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1},
        )
    left.set_xscale("log", base=2)
    left.set_xticks(lengths, [str(L) for L in lengths])
    left.minorticks_off()
    left.set_xlim(lengths[0] / 1.4, lengths[-1] * 1.4)
    left.set_ylim(-2, 102)
    left.set_xlabel("sequence length L (tokens)")
    left.set_ylabel("MQAR test accuracy (%)")
    left.set_title("recall: best lr, mean ± std over seeds")
    left.legend(fontsize=8, loc="best")

    group = 0.8 / len(lengths)
    for j, L in enumerate(lengths):
        longest = j == len(lengths) - 1
        for i, m in enumerate(models):
            if L not in state[m]:
                continue
            x = i + (j - (len(lengths) - 1) / 2) * group
            color = RECALL_COLORS.get(m, f"C{i % 8}")
            right.bar(
                x,
                state[m][L],
                width=0.92 * group,
                color=color if longest else "white",
                edgecolor=color,
                hatch="" if longest else _HATCHES[j % len(_HATCHES)],
                linewidth=1,
            )
            if longest:
                right.annotate(
                    _kib(state[m][L]),
                    (x, state[m][L]),
                    xytext=(0, 2),
                    textcoords="offset points",
                    ha="center",
                    va="bottom",
                    fontsize=7,
                    rotation=90,
                )
    right.set_yscale("log", base=2)
    right.yaxis.set_major_formatter(FuncFormatter(_binary_bytes))
    top = max(b for s in state.values() for b in s.values())
    bottom = min(b for s in state.values() for b in s.values())
    right.set_ylim(bottom / 4, top * 16)
    right.set_xticks(range(len(models)), [MODEL_LABELS.get(m, m) for m in models], rotation=30, ha="right")
    right.set_ylabel("state after L tokens (bytes, log scale)")
    right.set_title("what a decoder keeps (float32)")
    right.grid(axis="x", visible=False)
    handles = [
        Patch(
            facecolor="0.5" if j == len(lengths) - 1 else "white",
            edgecolor="0.3",
            hatch="" if j == len(lengths) - 1 else _HATCHES[j % len(_HATCHES)],
            label=f"L = {L}",
        )
        for j, L in enumerate(lengths)
    ]
    right.legend(handles=handles, fontsize=8, loc="upper left")
    fig.tight_layout()
    return {
        "lengths": lengths,
        "models": models,
        "accuracy": accuracy,
        "state_bytes": state,
        "chance": chance,
        "fig": fig,
    }
