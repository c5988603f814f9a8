"""What the figures of every notebook share: the axes to draw into (a new figure when none are given)."""

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
