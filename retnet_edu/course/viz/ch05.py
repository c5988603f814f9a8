"""The figures of notebook 05 (``notebooks/05_chunkwise_retention.ipynb``); ``plot_curves`` also serves 06 and 09."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch

from retnet_edu._args import check_int as _check_int
from retnet_edu.course.viz._common import _axes

__all__ = ["CHUNK_BLOCK_LABELS", "chunk_block_labels", "plot_chunk_blocks", "chunk_blocks_widget", "plot_curves"]


#: what each entry (n, m) of the T × T retention matrix is in the chunkwise form (values of ``chunk_block_labels``)
CHUNK_BLOCK_LABELS = {
    0: "future (m > n): never computed",
    1: "inner-chunk: computed in a B × B block",
    2: "inner block, masked: computed, then zeroed by D",
    3: "earlier chunks: reached through the state R",
}


def chunk_block_labels(T: int, chunk_size: int) -> np.ndarray:
    """For each entry (n, m) of the T × T matrix of eq. 5, how the chunkwise form (eq. 7) gets it: a (T, T) int
    array with the codes of ``CHUNK_BLOCK_LABELS``. Chunk i covers positions i·B … i·B+B-1 (the last may be shorter).
    """
    T = _check_int(T, "T")
    B = _check_int(chunk_size, "chunk_size")
    n = np.arange(T)[:, None]
    m = np.arange(T)[None, :]
    same_chunk = (n // B) == (m // B)
    labels = np.zeros((T, T), dtype=int)
    labels[same_chunk & (m <= n)] = 1
    labels[same_chunk & (m > n)] = 2
    labels[(m // B) < (n // B)] = 3
    return labels


def plot_chunk_blocks(T: int = 16, chunk_size: int = 4, ax=None) -> dict:
    """The T × T retention matrix coloured by how the chunkwise form computes each entry: the B × B blocks on the
    diagonal are computed explicitly (their upper triangles then zeroed by D), everything left of them is reached
    through the state R without ever being written down, and the future is never touched.

    Returns ``{"labels" (T, T), "chunks" [(start, stop)], "counts" {code: entries}, "fig"}``.
    """
    labels = chunk_block_labels(T, chunk_size)
    chunks = [(s, min(s + chunk_size, T)) for s in range(0, T, chunk_size)]
    counts = {code: int((labels == code).sum()) for code in CHUNK_BLOCK_LABELS}
    # grey, dark blue, light blue, orange from Okabe & Ito's colour-blind-safe palette (the two blues also differ
    # in lightness); the legend names each colour's meaning
    colours = ["#eeeeee", "#0072B2", "#9fd3f2", "#E69F00"]
    fig, ax = _axes(ax, figsize=(5.6, 4.4))
    ax.imshow(labels, cmap=ListedColormap(colours), vmin=-0.5, vmax=3.5, interpolation="nearest")
    for start, _ in chunks[1:]:
        ax.axhline(start - 0.5, color="k", lw=0.8)
        ax.axvline(start - 0.5, color="k", lw=0.8)
    ax.grid(False)
    ax.set_xlabel("key position m")
    ax.set_ylabel("query position n")
    ax.set_title(f"T = {T}, chunk size B = {chunk_size}: {len(chunks)} chunk(s)")
    ax.legend(
        handles=[Patch(color=c, label=CHUNK_BLOCK_LABELS[i]) for i, c in enumerate(colours)],
        loc="upper left",
        bbox_to_anchor=(1.02, 1.0),
        fontsize=9,
        frameon=False,
    )
    return {"labels": labels, "chunks": chunks, "counts": counts, "fig": fig}


def chunk_blocks_widget(T: int = 16, chunk_size: int = 4):
    """Sliders for T and the chunk size, redrawing ``plot_chunk_blocks``."""
    import ipywidgets as widgets

    def show(T, chunk_size):
        plot_chunk_blocks(T, chunk_size)
        plt.show()

    return widgets.interact(
        show,
        T=widgets.IntSlider(value=T, min=2, max=64, step=1, description="T", continuous_update=False),
        chunk_size=widgets.IntSlider(
            value=chunk_size, min=1, max=64, step=1, description="chunk size", continuous_update=False
        ),
    )


#: line styles and markers that tell curves apart without colour (cycled in order)
LINE_STYLES = ("-", "--", "-.", ":", (0, (5, 1, 1, 1, 1, 1)))
MARKERS = ("o", "s", "^", "D", "v", "P")
#: reference lines (hlines): thin, dark (a pale colour would vanish on white) and told apart by their dash patterns
HLINE_STYLES = ((0, (8, 3)), (0, (2, 2)), (0, (8, 2, 2, 2)))
HLINE_COLOURS = ("0.1", "0.45", "0.3")


def plot_curves(
    x,
    curves: dict,
    xlabel: str,
    ylabel: str,
    title: str = "",
    logx: bool = True,
    logy: bool = True,
    hlines: dict | None = None,
    vlines=(),
    marker: str | None = None,
    xbase: int = 2,
    ax=None,
) -> dict:
    """Several named curves over one x axis (log-log by default), e.g. error against sequence length or cost
    against chunk size. Each curve has its own colour *and* line style and marker (``LINE_STYLES``, ``MARKERS``), so
    the curves stay apart in grey print and for colour-blind readers; ``marker`` forces one marker for every curve.
    ``hlines``: {label: y} drawn as thin dark dashed reference lines (e.g. tolerances); ``vlines``: x positions
    drawn dotted (e.g. chunk boundaries). Non-positive values are not drawn on a log axis (a zero error has no
    logarithm). ``xbase``: the base of a logarithmic x axis (2 for sizes, 10 for scales).

    Returns ``{"x", "curves" {label: array}, "fig"}``.
    """
    x = np.asarray(x, dtype=float)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"x must be a non-empty 1-D sequence, got shape {x.shape}")
    if not isinstance(curves, dict) or not curves:
        raise ValueError("curves must be a non-empty dict {label: values}")
    data = {}
    for label, y in curves.items():
        y = np.asarray(y, dtype=float)
        if y.shape != x.shape:
            raise ValueError(f"curve {label!r} has shape {y.shape}, x has {x.shape}")
        data[label] = y
    fig, ax = _axes(ax)
    for i, (label, y) in enumerate(data.items()):
        keep = np.isfinite(y) & ((y > 0) if logy else True)
        style = LINE_STYLES[i % len(LINE_STYLES)]
        ax.plot(x[keep], y[keep], ls=style, marker=marker or MARKERS[i % len(MARKERS)], ms=4, lw=1.6, label=label)
    for i, (label, y) in enumerate((hlines or {}).items()):
        ax.axhline(
            y, ls=HLINE_STYLES[i % len(HLINE_STYLES)], lw=1.0, color=HLINE_COLOURS[i % len(HLINE_COLOURS)], label=label
        )
    for xv in vlines:
        ax.axvline(xv, ls=":", lw=0.8, color="0.5")
    if logx:
        ax.set_xscale("log", base=xbase)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=9)
    return {"x": x, "curves": data, "fig": fig}
