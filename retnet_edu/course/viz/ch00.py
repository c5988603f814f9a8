"""The figures of notebook 00 (``notebooks/00_welcome_and_setup.ipynb``)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from retnet_edu.course.viz._common import _axes

__all__ = ["plot_decay_curves", "decay_curves_widget"]


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
    curves = g[:, None].numpy() ** n[None, :]
    with np.errstate(divide="ignore"):
        memory = np.where(g.numpy() < 1, 1.0 / (1.0 - g.numpy()), np.inf)
        half_life = np.where(g.numpy() < 1, np.log(2.0) / -np.log(g.numpy()), np.inf)
    fig, ax = _axes(ax)
    for gi, curve, mem in zip(g.tolist(), curves, memory, strict=True):
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
        gamma=widgets.FloatSlider(
            value=gamma, min=0.5, max=1.0, step=0.005, readout_format=".3f", description="γ", continuous_update=False
        ),
        T=widgets.IntSlider(value=T, min=10, max=1000, step=10, description="T", continuous_update=False),
    )
