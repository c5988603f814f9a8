"""Plotting for the notebooks: pure functions that draw and return what they drew, and thin widget wrappers.

Convention: every ``plot_*`` function takes an optional ``ax`` (a new figure is made when it is None), draws,
and returns a dict holding the numbers it drew (tests check those) and the figure under ``"fig"``. Notebooks
end the cell with ``plt.show()``. Every widget (``*_widget``) calls the same function that draws the static
figure above it, so the notebook reads well where widgets do not run (GitHub, CI).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

__all__ = ["plot_decay_curves", "decay_curves_widget"]


def _axes(ax, figsize=None):
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
    return ax.figure, ax


def plot_decay_curves(gammas, T: int = 200, ax=None, log: bool = False) -> dict:
    """γ^n against the distance n = 0 … T-1 for each γ, with each curve's effective memory 1/(1-γ) in the legend.

    Returns ``{"n", "curves" (len(gammas), T), "memory", "half_life", "fig"}`` where half_life = ln 2 / -ln γ
    (infinite for γ = 1).
    """
    g = torch.as_tensor(gammas, dtype=torch.float64).reshape(-1)
    if g.numel() == 0 or torch.isnan(g).any() or not bool(((g > 0) & (g <= 1)).all()):
        raise ValueError(f"gammas must be non-empty values in (0, 1], got {g.tolist()}")
    if isinstance(T, bool) or not isinstance(T, int) or T < 1:
        raise ValueError(f"T must be a positive int, got {T!r}")
    n = np.arange(T)
    curves = (g[:, None].numpy() ** n[None, :])
    with np.errstate(divide="ignore"):
        memory = np.where(g.numpy() < 1, 1.0 / (1.0 - g.numpy()), np.inf)
        half_life = np.where(g.numpy() < 1, np.log(2.0) / -np.log(g.numpy()), np.inf)
    fig, ax = _axes(ax)
    for gi, curve, mem in zip(g.tolist(), curves, memory):
        label = f"γ = {gi:.6g} (1/(1-γ) = {mem:.4g})" if np.isfinite(mem) else f"γ = {gi:.6g} (no decay)"
        ax.plot(n, curve, label=label)
    ax.set_xlabel("distance n - m (tokens)")
    ax.set_ylabel("weight γ^(n-m)")
    if log:
        ax.set_yscale("log")
    ax.set_title("How fast retention forgets")
    ax.legend(fontsize=8)
    return {"n": n, "curves": curves, "memory": memory, "half_life": half_life, "fig": fig}


def decay_curves_widget(gamma: float = 0.96875, T: int = 200):
    """A γ slider redrawing ``plot_decay_curves`` (the smoke test of notebook 00)."""
    import ipywidgets as widgets

    def show(gamma, T):
        plot_decay_curves([gamma], T)
        plt.show()

    return widgets.interact(
        show,
        gamma=widgets.FloatSlider(value=gamma, min=0.5, max=1.0, step=0.005, readout_format=".3f",
                                  description="γ", continuous_update=False),
        T=widgets.IntSlider(value=T, min=10, max=1000, step=10, description="T", continuous_update=False),
    )


# ---------------------------------------------------------------------------------------------------------
# part II: notebooks 05-07 (chunkwise retention, the three-modes proof lab, multi-scale retention and the block)
# ---------------------------------------------------------------------------------------------------------
__all__ += ["CHUNK_BLOCK_LABELS", "chunk_block_labels", "plot_chunk_blocks", "chunk_blocks_widget", "plot_curves",
            "plot_param_counts"]

#: what each entry (n, m) of the T × T retention matrix is in the chunkwise form (values of ``chunk_block_labels``)
CHUNK_BLOCK_LABELS = {
    0: "future (m > n): never computed",
    1: "inner-chunk: computed in a B × B block",
    2: "inner block, masked: computed, then zeroed by D",
    3: "earlier chunks: reached through the state R",
}


def _check_int(value, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


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
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    labels = chunk_block_labels(T, chunk_size)
    chunks = [(s, min(s + chunk_size, T)) for s in range(0, T, chunk_size)]
    counts = {code: int((labels == code).sum()) for code in CHUNK_BLOCK_LABELS}
    colours = ["#f2f2f2", "#1f77b4", "#aec7e8", "#ff7f0e"]
    fig, ax = _axes(ax, figsize=(5.6, 4.4))
    ax.imshow(labels, cmap=ListedColormap(colours), vmin=-0.5, vmax=3.5, interpolation="nearest")
    for start, _ in chunks[1:]:
        ax.axhline(start - 0.5, color="k", lw=0.8)
        ax.axvline(start - 0.5, color="k", lw=0.8)
    ax.grid(False)
    ax.set_xlabel("key position m")
    ax.set_ylabel("query position n")
    ax.set_title(f"T = {T}, chunk size B = {chunk_size}: {len(chunks)} chunk(s)")
    ax.legend(handles=[Patch(color=c, label=CHUNK_BLOCK_LABELS[i]) for i, c in enumerate(colours)],
              loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False)
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
        chunk_size=widgets.IntSlider(value=chunk_size, min=1, max=64, step=1, description="chunk size",
                                     continuous_update=False),
    )


def plot_curves(x, curves: dict, xlabel: str, ylabel: str, title: str = "", logx: bool = True, logy: bool = True,
                hlines: dict | None = None, vlines=(), marker: str = "o", xbase: int = 2, ax=None) -> dict:
    """Several named curves over one x axis (log-log by default), e.g. error against sequence length or cost
    against chunk size. ``hlines``: {label: y} drawn dashed (e.g. tolerances); ``vlines``: x positions drawn dotted
    (e.g. chunk boundaries). Non-positive values are not drawn on a log axis (a zero error has no logarithm).
    ``xbase``: the base of a logarithmic x axis (2 for sizes, 10 for scales).

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
    for label, y in data.items():
        keep = np.isfinite(y) & ((y > 0) if logy else True)
        ax.plot(x[keep], y[keep], marker=marker, ms=3, label=label)
    for i, (label, y) in enumerate((hlines or {}).items()):
        ax.axhline(y, ls="--", lw=1, color=f"C{len(data) + i}", label=label)
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
    ax.legend(fontsize=8)
    return {"x": x, "curves": data, "fig": fig}


def plot_param_counts(breakdowns: dict, d: int, ax=None) -> dict:
    """Stacked horizontal bars: the parameters of one layer of each model, part by part, in units of d².

    ``breakdowns``: {model: {part: count}}. Returns ``{"totals" {model: count}, "in_d2" {model: {part: count/d²}},
    "fig"}``.
    """
    from matplotlib.patches import Patch

    d = _check_int(d, "d")
    if not isinstance(breakdowns, dict) or not breakdowns:
        raise ValueError("breakdowns must be a non-empty dict {model: {part: count}}")
    totals, in_d2 = {}, {}
    fig, ax = _axes(ax, figsize=(6.4, 1.2 + 0.6 * len(breakdowns)))
    colour = {}
    for row, (model, parts) in enumerate(breakdowns.items()):
        left = 0.0
        in_d2[model] = {}
        for part, count in parts.items():
            if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 0:
                raise ValueError(f"count of {model!r}/{part!r} must be an int >= 0, got {count!r}")
            width = count / d ** 2
            in_d2[model][part] = width
            c = colour.setdefault(part, f"C{len(colour) % 10}")
            ax.barh(row, width, left=left, color=c, edgecolor="white")
            if width >= 1.5:
                ax.text(left + width / 2, row, part, ha="center", va="center", fontsize=7, color="white")
            left += width
        totals[model] = int(sum(parts.values()))
        ax.text(left + 0.1, row, f"{left:.2f} d²", va="center", fontsize=8)
    ax.set_yticks(range(len(breakdowns)))
    ax.set_yticklabels(list(breakdowns))
    ax.invert_yaxis()
    ax.set_xlabel("parameters per layer, in units of d²")
    ax.set_xlim(0, max(sum(v.values()) for v in in_d2.values()) * 1.18)
    ax.set_title(f"One layer at d = {d}")
    ax.legend(handles=[Patch(color=c, label=p) for p, c in colour.items()], loc="upper left",
              bbox_to_anchor=(1.02, 1.0), fontsize=7, frameon=False)
    return {"totals": totals, "in_d2": in_d2, "fig": fig}
