"""What the figures of every notebook share: the axes to draw into (a new figure when none are given), and a colour
map that draws masked entries (the causal future) in a grey of their own."""

from __future__ import annotations

import matplotlib.pyplot as plt


def _axes(ax, figsize=None):
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
    return ax.figure, ax


def _axes_pair(ax, width_ratios=(1, 1.35)):
    """Two side-by-side axes (a new figure when ``ax`` is None, else the two axes given)."""
    if ax is None:
        fig, axes = plt.subplots(1, 2, figsize=(9.0, 3.6), gridspec_kw={"width_ratios": list(width_ratios)})
        return fig, list(axes)
    axes = list(ax)
    if len(axes) != 2:
        raise ValueError(f"ax must hold 2 axes, got {len(axes)}")
    return axes[0].figure, axes


# mid grey for masked entries (the causal future): apart from white (a zero of a diverging map) and from both ends
# of RdBu and viridis, and named in the figure's legend or title
_MASKED = "#999999"


def _masked_cmap(name: str):
    """A copy of the colour map ``name`` that draws masked entries (of a numpy masked array) in ``_MASKED``."""
    return plt.get_cmap(name).with_extremes(bad=_MASKED)
