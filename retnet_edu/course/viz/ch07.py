"""The figures of notebook 07 (``notebooks/07_multiscale_retention_and_the_block.ipynb``)."""

from __future__ import annotations

import numpy as np
from matplotlib.patches import Patch

from retnet_edu._args import check_int as _check_int
from retnet_edu.course.viz._common import _axes

__all__ = ["plot_param_counts"]


#: hatch patterns: each part of a layer gets a colour *and* a pattern, so the parts stay apart without colour
HATCHES = ("", "//", "..", "xx", "\\\\", "oo", "--", "++")


def plot_param_counts(breakdowns: dict, d: int, ax=None) -> dict:
    """Stacked horizontal bars: the parameters of one layer of each model, part by part, in units of d². Each part
    has its own colour and hatch pattern (the same in every bar); the total is written at the end of each bar.

    ``breakdowns``: {model: {part: count}}. Returns ``{"totals" {model: count}, "in_d2" {model: {part: count/d²}},
    "fig"}``.
    """
    d = _check_int(d, "d")
    if not isinstance(breakdowns, dict) or not breakdowns:
        raise ValueError("breakdowns must be a non-empty dict {model: {part: count}}")
    totals, in_d2 = {}, {}
    fig, ax = _axes(ax, figsize=(6.4, 1.2 + 0.6 * len(breakdowns)))
    colour, hatch = {}, {}
    for row, (model, parts) in enumerate(breakdowns.items()):
        left = 0.0
        in_d2[model] = {}
        for part, count in parts.items():
            if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 0:
                raise ValueError(f"count of {model!r}/{part!r} must be an int >= 0, got {count!r}")
            width = count / d**2
            in_d2[model][part] = width
            c = colour.setdefault(part, f"C{len(colour) % 8}")
            h = hatch.setdefault(part, HATCHES[len(hatch) % len(HATCHES)])
            ax.barh(row, width, left=left, color=c, edgecolor="white", hatch=h)
            left += width
        totals[model] = int(sum(parts.values()))
        ax.text(left + 0.1, row, f"{left:.3f} d²", va="center", fontsize=9)
    ax.set_yticks(range(len(breakdowns)))
    ax.set_yticklabels(list(breakdowns))
    ax.invert_yaxis()
    ax.set_xlabel("parameters per layer, in units of d²")
    ax.set_xlim(0, max(sum(v.values()) for v in in_d2.values()) * 1.22)
    ax.set_title(f"One layer at d = {d}")
    ax.legend(
        handles=[Patch(facecolor=c, edgecolor="white", hatch=hatch[p], label=p) for p, c in colour.items()],
        loc="upper left",
        bbox_to_anchor=(1.02, 1.0),
        fontsize=9,
        frameon=False,
    )
    return {"totals": totals, "in_d2": in_d2, "fig": fig}
