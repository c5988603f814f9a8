"""The figures of notebook 11 (``notebooks/11_gating_the_decay.ipynb``)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from retnet_edu.course.viz._common import _MASKED, _masked_cmap
from retnet_edu.successors import segment_sums

__all__ = ["gate_mask", "plot_gate_masks", "gate_mask_widget"]

#: most tokens a widget offers sliders for (one slider per token)
MAX_WIDGET_TOKENS = 16


def _check_gates(gates, name: str = "gates") -> np.ndarray:
    if isinstance(gates, torch.Tensor):
        gates = gates.detach().cpu().to(torch.float64).numpy()
    g = np.asarray(gates, dtype=np.float64)
    if g.ndim != 1 or g.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence of gates, got shape {g.shape}")
    if np.isnan(g).any() or not bool(((g >= 0) & (g <= 1)).all()):
        raise ValueError(f"{name} must hold gates in [0, 1], got {g.tolist()}")
    return g


def gate_mask(gates) -> np.ndarray:
    r"""The decay mask of gated retention for one sequence of gates γ_0 … γ_{T-1} (each in [0, 1]), float64:
    ``D[n, m] = ∏_{m<i≤n} γ_i = exp(Σ_{m<i≤n} log γ_i)`` for n ≥ m (1 on the diagonal), 0 above it.

    Computed as ``exp(segment_sums(log γ))`` (``retnet_edu.successors.segment_sums``): every exponent is a sum
    over its own segment, so a gate of 0 (log γ = -∞) zeroes exactly the entries whose segment holds it, with no NaN.
    γ_0 never appears: a gate decays what came before its token, and nothing comes before token 0.
    """
    g = _check_gates(gates)
    with np.errstate(divide="ignore"):
        log_g = torch.from_numpy(np.log(g))
    return torch.exp(segment_sums(log_g)).numpy()


def plot_gate_masks(gate_sets: dict, fig=None, gate_label: str = "gate γ_n") -> dict:
    """One column per named gate sequence: its gates γ_n as bars (top) and the decay mask D they make (bottom;
    the masked future m > n in grey, so that it never looks like a weight that has decayed to nearly 0).

    ``gate_sets``: {name: gates}, each a 1-D sequence of gates in [0, 1]. ``fig``: a Figure to draw into (cleared
    first), or None. ``gate_label``: the y label of the bars. Returns ``{"gates", "masks", "row_sums", "fig"}``,
    the first three dicts by name (``row_sums[name][n]`` = Σ_m D[n, m], the total weight query n gives the past,
    itself included).
    """
    if not isinstance(gate_sets, dict) or not gate_sets:
        raise ValueError("gate_sets must be a non-empty dict {name: gates}")
    gates = {str(name): _check_gates(g, f"gate_sets[{name!r}]") for name, g in gate_sets.items()}
    masks = {name: gate_mask(g) for name, g in gates.items()}
    cols = len(gates)
    if fig is None:
        fig = plt.figure(figsize=(max(4.2, 3.4 * cols), 4.6))
    else:
        fig.clear()
    fig.patch.set_facecolor("white")
    grid = fig.add_gridspec(2, cols, height_ratios=[1, 3.2], hspace=0.08)
    cmap = _masked_cmap("viridis")
    im, tops, bottoms = None, [], []
    for c, (name, g) in enumerate(gates.items()):
        T = g.size
        top = fig.add_subplot(grid[0, c])
        tops.append(top)
        top.bar(np.arange(T), g, width=0.8, color="C0", edgecolor="0.2", linewidth=0.5)
        top.set_xlim(-0.5, T - 0.5)
        top.set_ylim(0, 1.08)
        top.set_yticks([0, 1])
        top.set_xticks([])
        top.set_title(name, fontsize=10)
        if c == 0:
            top.set_ylabel(gate_label, fontsize=9)
        bottom = fig.add_subplot(grid[1, c])
        future = np.triu(np.ones((T, T), dtype=bool), 1)
        im = bottom.imshow(np.ma.masked_array(masks[name], future), cmap=cmap, vmin=0.0, vmax=1.0)
        bottom.xaxis.set_major_locator(MaxNLocator(integer=True))
        bottom.yaxis.set_major_locator(MaxNLocator(integer=True))
        bottom.set_xlabel("key position m")
        if c == 0:
            bottom.set_ylabel("query position n")
        bottom.grid(False)
        bottoms.append(bottom)
    fig.colorbar(im, ax=tops + bottoms, fraction=0.03, pad=0.02, label="D[n, m]")
    if max(g.size for g in gates.values()) > 1:
        patch = Patch(facecolor=_MASKED, edgecolor="0.3", label="masked (m > n)")
        bottoms[-1].legend(handles=[patch], loc="upper right", fontsize=9, framealpha=0.9)
    return {
        "gates": gates,
        "masks": masks,
        "row_sums": {name: D.sum(axis=1) for name, D in masks.items()},
        "fig": fig,
    }


def gate_mask_widget(gates=(0.9, 0.9, 0.9, 0.9, 0.05, 0.9, 0.9, 0.9)):
    """One vertical slider per token's gate (at most ``MAX_WIDGET_TOKENS``) redrawing ``plot_gate_masks`` for the
    gates set, with one line under the figure: the total weight Σ_m D[n, m] that the last query gives the past.
    Displays the sliders and the figure, and returns the box that holds them."""
    import ipywidgets as widgets
    from IPython.display import display

    g = _check_gates(gates)
    if g.size > MAX_WIDGET_TOKENS:
        raise ValueError(f"gates: at most {MAX_WIDGET_TOKENS} tokens for the widget, got {g.size}")
    sliders = {
        f"g{n}": widgets.FloatSlider(
            value=float(g[n]),
            min=0.0,
            max=1.0,
            step=0.05,
            description=f"γ_{n}",
            orientation="vertical",
            readout_format=".2f",
            continuous_update=False,
        )
        for n in range(g.size)
    }

    def show(**values):
        current = [values[f"g{n}"] for n in range(g.size)]
        drawn = plot_gate_masks({"gates set by the sliders": current})
        plt.show()
        total = drawn["row_sums"]["gates set by the sliders"][-1]
        print(f"the last query (n = {g.size - 1}) gives the past a total weight of {total:.3f} (itself included)")

    out = widgets.interactive_output(show, sliders)
    box = widgets.VBox([widgets.HBox(list(sliders.values())), out])
    display(box)
    return box
