"""The figures of notebook 02 (``notebooks/02_decay_masks_and_multiscale_heads.ipynb``)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import Patch

from retnet_edu._args import check_int as _check_int
from retnet_edu.course.viz._common import _MASKED, _axes, _axes_pair, _masked_cmap
from retnet_edu.retention import decay_gammas, decay_mask, lm_decay_gammas

__all__ = [
    "tokens_for_weight",
    "plot_decay_mask",
    "decay_mask_widget",
    "head_schedule",
    "plot_heads",
    "heads_explorer_widget",
    "plot_schedules",
]


def _future(T: int) -> np.ndarray:
    """True above the diagonal (m > n): the entries D masks out."""
    return np.triu(np.ones((T, T), dtype=bool), 1)


def _check_gammas(gammas, name: str = "gammas") -> np.ndarray:
    g = torch.as_tensor(gammas, dtype=torch.float64).reshape(-1).numpy()
    if g.size == 0 or np.isnan(g).any() or not bool(((g > 0) & (g <= 1)).all()):
        raise ValueError(f"{name} must be non-empty values in (0, 1], got {g.tolist()}")
    return g


def _memory_and_half_life(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Effective memory 1/(1-γ) and half-life ln 2 / -ln γ (both infinite for γ = 1)."""
    with np.errstate(divide="ignore"):
        memory = np.where(g < 1, 1.0 / (1.0 - g), np.inf)
        half_life = np.where(g < 1, np.log(2.0) / -np.log(g), np.inf)
    return memory, half_life


def tokens_for_weight(gammas, fraction: float = 0.9) -> np.ndarray:
    """For each γ, the smallest number L of most recent tokens that hold at least ``fraction`` of the total weight
    Σ_{j≥0} γ^j = 1/(1-γ) of an infinitely long past: the L nearest hold 1 - γ^L, so L = ⌈ln(1-fraction) / ln γ⌉
    (infinite for γ = 1: without decay no finite window holds a fixed share)."""
    g = _check_gammas(gammas)
    if not (isinstance(fraction, (float, int)) and not isinstance(fraction, bool) and 0 < fraction < 1):
        raise ValueError(f"fraction must be a number in (0, 1), got {fraction!r}")
    out = np.full(g.shape, np.inf)
    finite = g < 1
    out[finite] = np.ceil(np.log1p(-fraction) / np.log(g[finite]) - 1e-9)
    return out


def plot_decay_mask(gamma: float, T: int = 32, ax=None) -> dict:
    """The decay mask D of eq. (5) for one γ as a heatmap (left; the masked future m > n in grey, so that it never
    looks like a weight that has decayed to nearly 0), and the weight γ^(n-m) a query gives a key n - m tokens back
    (right), with the half-life ln 2/(-ln γ) and the effective memory 1/(1-γ) marked.

    ``ax``: a pair of axes, or None. Returns ``{"D" (T, T), "distance", "curve", "memory", "half_life",
    "row_sums", "fig"}``; ``row_sums[n]`` = Σ_m D[n, m] = (1 - γ^(n+1))/(1 - γ).
    """
    g = _check_gammas([gamma], "gamma")
    if g.size != 1:
        raise ValueError(f"gamma must be one number, got {g.tolist()}")
    T = _check_int(T, "T")
    gamma_t = torch.tensor(g, dtype=torch.float64)
    D = decay_mask(gamma_t, T)[0].numpy()
    distance = np.arange(T)
    curve = g[0] ** distance
    memory, half_life = _memory_and_half_life(g)
    fig, axes = _axes_pair(ax)
    im = axes[0].imshow(np.ma.masked_array(D, _future(T)), cmap=_masked_cmap("viridis"), vmin=0.0, vmax=1.0)
    axes[0].set_title(f"D for γ = {g[0]:.4g}, T = {T}", fontsize=10)
    axes[0].set_xlabel("key position m")
    axes[0].set_ylabel("query position n")
    axes[0].grid(False)
    fig.colorbar(im, ax=axes[0], fraction=0.046, pad=0.04)
    if T > 1:
        patch = Patch(facecolor=_MASKED, edgecolor="0.3", label="masked (m > n)")
        axes[0].legend(handles=[patch], loc="upper right", fontsize=8, framealpha=0.9)
    axes[1].plot(distance, curve, ".-", ms=3, label="γ^(n-m)")
    if np.isfinite(half_life[0]) and half_life[0] <= T:
        axes[1].axvline(half_life[0], color="C1", ls="--", label=f"half-life {half_life[0]:.1f}")
    if np.isfinite(memory[0]) and memory[0] <= T:
        axes[1].axvline(memory[0], color="C2", ls=":", label=f"1/(1-γ) = {memory[0]:.1f}")
    axes[1].set_ylim(-0.02, 1.05)
    axes[1].set_xlabel("distance n - m (tokens)")
    axes[1].set_ylabel("weight")
    mem_txt = f"{memory[0]:.4g}" if np.isfinite(memory[0]) else "∞"
    axes[1].set_title(f"how a key fades: effective memory {mem_txt} tokens", fontsize=10)
    axes[1].legend()
    fig.tight_layout()
    return {
        "D": D,
        "distance": distance,
        "curve": curve,
        "memory": float(memory[0]),
        "half_life": float(half_life[0]),
        "row_sums": D.sum(axis=1),
        "fig": fig,
    }


def decay_mask_widget(gamma: float = 0.9, T: int = 32):
    """A γ slider and a length slider redrawing ``plot_decay_mask`` (notebook 02), with one line of numbers under
    the figure (``γ = 0.900, T = 32: effective memory 10.0 tokens, half-life 6.58 tokens``)."""
    import ipywidgets as widgets

    def show(gamma, T):
        drawn = plot_decay_mask(gamma, T)
        plt.show()
        print(
            f"γ = {gamma:.3f}, T = {T}: effective memory {drawn['memory']:.1f} tokens, "
            f"half-life {drawn['half_life']:.2f} tokens"
        )

    return widgets.interact(
        show,
        gamma=widgets.FloatSlider(
            value=gamma, min=0.5, max=1.0, step=0.005, readout_format=".3f", description="γ", continuous_update=False
        ),
        T=widgets.IntSlider(value=T, min=4, max=128, step=4, description="T", continuous_update=False),
    )


def head_schedule(num_heads: int, schedule: str = "eq. 8"):
    """The per-head decay rates of a named schedule: "eq. 8" (γ_h = 1 - 2^(-5-h)) or "LM" (the paper's
    language-model runs, §3.1: 1 - exp(linspace(log 1/32, log 1/512, H))). float64 tensor of shape (H,)."""
    schedules = {"eq. 8": decay_gammas, "LM": lm_decay_gammas}
    if schedule not in schedules:
        raise ValueError(f"schedule must be one of {tuple(schedules)}, got {schedule!r}")
    return schedules[schedule](num_heads)


def plot_heads(gammas, T: int = 64, fig=None, max_cols: int = 8, fraction: float = 0.9) -> dict:
    """The heads explorer: every head's decay mask D (T × T) side by side, titled with its effective memory,
    and below them, per head, the effective memory 1/(1-γ), the half-life and the number of most recent tokens
    that hold ``fraction`` of its weight (log scale).

    ``fig``: a matplotlib Figure to draw into (cleared first), or None. Returns ``{"gammas", "memory",
    "half_life", "tokens", "masks" (H, T, T), "fig"}``.
    """
    g = _check_gammas(gammas)
    T = _check_int(T, "T")
    max_cols = _check_int(max_cols, "max_cols")
    H = g.size
    masks = decay_mask(torch.tensor(g, dtype=torch.float64), T).numpy()
    memory, half_life = _memory_and_half_life(g)
    tokens = tokens_for_weight(g, fraction)
    cols = min(H, max_cols)
    rows = -(-H // cols)
    if fig is None:
        fig = plt.figure(figsize=(max(6.4, 1.25 * cols), 1.35 * rows + 2.8))
    else:
        fig.clear()
    grid = fig.add_gridspec(rows + 1, cols, height_ratios=[1.0] * rows + [1.6])
    for h in range(H):
        a = fig.add_subplot(grid[h // cols, h % cols])
        a.imshow(np.ma.masked_array(masks[h], _future(T)), cmap=_masked_cmap("viridis"), vmin=0.0, vmax=1.0)
        mem = f"{memory[h]:.0f}" if np.isfinite(memory[h]) else "∞"
        a.set_title(f"h={h}: {mem}", fontsize=8)
        a.set_xticks([])
        a.set_yticks([])
        a.grid(False)
    bar = fig.add_subplot(grid[rows, :])
    x = np.arange(H)
    finite = lambda v: np.where(np.isfinite(v), v, np.nan)  # noqa: E731
    bar.plot(x, finite(memory), "o-", label="effective memory 1/(1-γ)")
    bar.plot(x, finite(half_life), "s--", label="half-life")
    bar.plot(x, finite(tokens), "^:", label=f"tokens holding {fraction:.0%} of the weight")
    bar.axhline(T, color="k", lw=0.8, alpha=0.6, label=f"T = {T} (the masks above)")
    bar.set_yscale("log", base=2)
    bar.set_xticks(x)
    bar.set_xlabel("head h")
    bar.set_ylabel("tokens")
    bar.legend(fontsize=8, loc="upper left")
    fig.suptitle(
        f"{H} head(s): masks D (title: effective memory; grey: the masked future), and how far each head sees",
        fontsize=10,
    )
    fig.tight_layout()
    return {"gammas": g, "memory": memory, "half_life": half_life, "tokens": tokens, "masks": masks, "fig": fig}


def heads_explorer_widget(num_heads: int = 4, schedule: str = "eq. 8", T: int = 64):
    """The heads explorer (notebook 02): number of heads, decay schedule and mask length redraw ``plot_heads``."""
    import ipywidgets as widgets

    def show(num_heads, schedule, T):
        plot_heads(head_schedule(num_heads, schedule), T)
        plt.show()

    return widgets.interact(
        show,
        num_heads=widgets.IntSlider(value=num_heads, min=1, max=16, description="heads", continuous_update=False),
        schedule=widgets.Dropdown(options=["eq. 8", "LM"], value=schedule, description="schedule"),
        T=widgets.IntSlider(value=T, min=16, max=256, step=16, description="T", continuous_update=False),
    )


def plot_schedules(num_heads: int = 8, ax=None) -> dict:
    """Effective memory 1/(1-γ_h) per head for eq. 8's schedule and for the paper's LM schedule (log scale).

    Returns ``{"heads", "eq8", "lm", "fig"}`` (the effective memories).
    """
    num_heads = _check_int(num_heads, "num_heads")
    heads = np.arange(num_heads)
    eq8 = 1.0 / (1.0 - head_schedule(num_heads, "eq. 8").numpy())
    lm = 1.0 / (1.0 - head_schedule(num_heads, "LM").numpy())
    fig, ax = _axes(ax)
    ax.plot(heads, eq8, "o-", label="eq. 8: γ_h = 1 - 2^(-5-h)")
    ax.plot(heads, lm, "s--", label="LM runs (§3.1): 32 … 512, log-spaced")
    ax.set_yscale("log", base=2)
    ax.set_xticks(heads)
    ax.set_xlabel("head h")
    ax.set_ylabel("effective memory 1/(1-γ) (tokens)")
    ax.set_title(f"two decay schedules for {num_heads} heads")
    ax.legend()
    return {"heads": heads, "eq8": eq8, "lm": lm, "fig": fig}
