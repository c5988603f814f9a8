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

from retnet_edu._args import check_int as _check_int

__all__ = ["plot_decay_curves", "decay_curves_widget"]


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


# =========================================================================================================
# Part I (notebooks 01-04): from attention to recurrence, decay masks and heads, retention, rotation
# =========================================================================================================
__all__ += [
    "tokens_for_weight",
    "plot_score_matrices",
    "plot_eigen_spiral",
    "plot_decay_mask",
    "decay_mask_widget",
    "head_schedule",
    "plot_heads",
    "heads_explorer_widget",
    "plot_schedules",
    "plot_cost_vs_length",
    "plot_rotation_scores",
    "plot_rotation_angles",
]


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


def plot_score_matrices(matrices: dict, ax=None, title: str | None = None) -> dict:
    """Heatmaps of T × T score/weight matrices side by side (row n = query position, column m = key position).

    ``matrices``: {name: 2-D tensor/array}; ``ax``: a sequence of as many axes (or None). Each panel uses a
    colour scale symmetric around 0 (red positive, blue negative; exact zeros, e.g. the masked future, are white).
    Returns ``{"names", "matrices" (name -> float64 array), "fig"}``.
    """
    if not isinstance(matrices, dict) or not matrices:
        raise ValueError("matrices must be a non-empty dict {name: 2-D matrix}")
    arrays = {}
    for name, m in matrices.items():
        a = torch.as_tensor(m).detach().to(torch.float64).cpu().numpy()
        if a.ndim != 2:
            raise ValueError(f"matrix {name!r} must be 2-D, got shape {a.shape}")
        arrays[name] = a
    if ax is None:
        fig, axes = plt.subplots(1, len(arrays), figsize=(3.2 * len(arrays), 3.2), squeeze=False)
        axes = axes[0]
    else:
        axes = list(ax)
        if len(axes) != len(arrays):
            raise ValueError(f"ax must hold {len(arrays)} axes, got {len(axes)}")
        fig = axes[0].figure
    for a, (name, arr) in zip(axes, arrays.items()):
        lim = float(np.abs(arr).max()) or 1.0
        im = a.imshow(arr, cmap="RdBu_r", vmin=-lim, vmax=lim)
        a.set_title(name, fontsize=9)
        a.set_xlabel("key position m")
        a.set_ylabel("query position n")
        a.grid(False)
        fig.colorbar(im, ax=a, fraction=0.046, pad=0.04)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return {"names": list(arrays), "matrices": arrays, "fig": fig}


def plot_eigen_spiral(eigenvalues, steps: int = 40, ax=None) -> dict:
    """The eigenvalues λ = γ e^{iθ} of a recurrence matrix A in the complex plane, and their powers λ^n for
    n = 0 … steps: each power turns by θ and shrinks by γ, so the points spiral into 0 (what A^(n-m) does to a
    stored token, one eigen-direction at a time). The unit circle is dashed.

    Returns ``{"eigenvalues" (complex, (k,)), "powers" (complex, (k, steps+1)), "moduli", "angles", "fig"}``.
    """
    lam = torch.as_tensor(eigenvalues).detach().to(torch.complex128).reshape(-1).cpu().numpy()
    if lam.size == 0:
        raise ValueError("eigenvalues must not be empty")
    steps = _check_int(steps, "steps")
    n = np.arange(steps + 1)
    powers = lam[:, None] ** n[None, :]
    fig, ax = _axes(ax, figsize=(4.2, 4.2))
    circle = np.exp(1j * np.linspace(0, 2 * np.pi, 200))
    ax.plot(circle.real, circle.imag, "k--", lw=0.8, alpha=0.5, label="|z| = 1")
    for i, (l, p) in enumerate(zip(lam, powers)):
        line, = ax.plot(p.real, p.imag, ".-", lw=0.8, ms=3,
                        label=f"λ = {abs(l):.3g}·e^({np.angle(l):+.3f}i)")
        ax.plot([l.real], [l.imag], "o", color=line.get_color(), ms=7)
    ax.axhline(0, color="k", lw=0.5)
    ax.axvline(0, color="k", lw=0.5)
    ax.set_aspect("equal")
    ax.set_xlabel("real part")
    ax.set_ylabel("imaginary part")
    ax.set_title(f"powers λ^n, n = 0 … {steps}")
    ax.legend(fontsize=7, loc="lower left")
    return {"eigenvalues": lam, "powers": powers, "moduli": np.abs(lam), "angles": np.angle(lam), "fig": fig}


def plot_decay_mask(gamma: float, T: int = 32, ax=None) -> dict:
    """The decay mask D of eq. (5) for one γ as a heatmap (left), and the weight γ^(n-m) a query gives a key
    n - m tokens back (right), with the half-life ln 2/(-ln γ) and the effective memory 1/(1-γ) marked.

    ``ax``: a pair of axes, or None. Returns ``{"D" (T, T), "distance", "curve", "memory", "half_life",
    "row_sums", "fig"}``; ``row_sums[n]`` = Σ_m D[n, m] = (1 - γ^(n+1))/(1 - γ).
    """
    g = _check_gammas([gamma], "gamma")
    if g.size != 1:
        raise ValueError(f"gamma must be one number, got {g.tolist()}")
    T = _check_int(T, "T")
    gamma_t = torch.tensor(g, dtype=torch.float64)
    from retnet_edu.retention import decay_mask

    D = decay_mask(gamma_t, T)[0].numpy()
    distance = np.arange(T)
    curve = g[0] ** distance
    memory, half_life = _memory_and_half_life(g)
    fig, axes = _axes_pair(ax)
    im = axes[0].imshow(D, cmap="viridis", vmin=0.0, vmax=1.0)
    axes[0].set_title(f"D for γ = {g[0]:.4g}, T = {T}", fontsize=10)
    axes[0].set_xlabel("key position m")
    axes[0].set_ylabel("query position n")
    axes[0].grid(False)
    fig.colorbar(im, ax=axes[0], fraction=0.046, pad=0.04)
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
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    return {"D": D, "distance": distance, "curve": curve, "memory": float(memory[0]),
            "half_life": float(half_life[0]), "row_sums": D.sum(axis=1), "fig": fig}


def decay_mask_widget(gamma: float = 0.9, T: int = 32):
    """A γ slider and a length slider redrawing ``plot_decay_mask`` (notebook 02), with one line of numbers under
    the figure (``γ = 0.900, T = 32: effective memory 10.0 tokens, half-life 6.58 tokens``)."""
    import ipywidgets as widgets

    def show(gamma, T):
        drawn = plot_decay_mask(gamma, T)
        plt.show()
        print(f"γ = {gamma:.3f}, T = {T}: effective memory {drawn['memory']:.1f} tokens, "
              f"half-life {drawn['half_life']:.2f} tokens")

    return widgets.interact(
        show,
        gamma=widgets.FloatSlider(value=gamma, min=0.5, max=1.0, step=0.005, readout_format=".3f",
                                  description="γ", continuous_update=False),
        T=widgets.IntSlider(value=T, min=4, max=128, step=4, description="T", continuous_update=False),
    )


def head_schedule(num_heads: int, schedule: str = "eq. 8"):
    """The per-head decay rates of a named schedule: "eq. 8" (γ_h = 1 - 2^(-5-h)) or "LM" (the paper's
    language-model runs, §3.1: 1 - exp(linspace(log 1/32, log 1/512, H))). float64 tensor of shape (H,)."""
    from retnet_edu.retention import decay_gammas, lm_decay_gammas

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
    from retnet_edu.retention import decay_mask

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
        a.imshow(masks[h], cmap="viridis", vmin=0.0, vmax=1.0)
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
    bar.legend(fontsize=7, loc="upper left")
    fig.suptitle(f"{H} head(s): masks D (title: effective memory), and how far each head sees", fontsize=10)
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
    ax.plot(heads, lm, "s-", label="LM runs (§3.1): 32 … 512, log-spaced")
    ax.set_yscale("log", base=2)
    ax.set_xticks(heads)
    ax.set_xlabel("head h")
    ax.set_ylabel("effective memory 1/(1-γ) (tokens)")
    ax.set_title(f"two decay schedules for {num_heads} heads")
    ax.legend(fontsize=8)
    return {"heads": heads, "eq8": eq8, "lm": lm, "fig": fig}


def plot_cost_vs_length(lengths, series: dict, ylabel: str = "cost", ax=None, title: str | None = None) -> dict:
    """Log-log plot of costs against sequence length, one line per entry of ``series`` ({name: values}), each
    labelled with its fitted log-log slope (≈ 2 for O(T²), ≈ 1 for O(T), ≈ 0 for O(1)).

    A value may be None (or NaN) where that method was not run (e.g. too slow at that length); such points are left
    out of the line and of the slope. Returns ``{"lengths", "series" (name -> float array, NaN where missing),
    "slopes" (name -> float), "fig"}``.
    """
    L = np.asarray(lengths, dtype=np.float64).reshape(-1)
    if L.size < 2 or not np.all(L > 0):
        raise ValueError(f"lengths must hold at least two positive numbers, got {L.tolist()}")
    if not isinstance(series, dict) or not series:
        raise ValueError("series must be a non-empty dict {name: values}")
    data, slopes = {}, {}
    for name, values in series.items():
        y = np.array([np.nan if v is None else v for v in np.asarray(values, dtype=object).reshape(-1)],
                     dtype=np.float64)
        have = ~np.isnan(y)
        if y.shape != L.shape or have.sum() < 2 or not np.all(y[have] > 0):
            raise ValueError(f"series {name!r} must hold {L.size} values (None where missing), at least two of "
                             f"them, all positive; got {y.tolist()}")
        data[name] = y
        slopes[name] = float(np.polyfit(np.log(L[have]), np.log(y[have]), 1)[0])
    fig, ax = _axes(ax)
    for name, y in data.items():
        have = ~np.isnan(y)
        ax.plot(L[have], y[have], "o-", label=f"{name} (slope {slopes[name]:.2f})")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("sequence length T")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8)
    return {"lengths": L, "series": data, "slopes": slopes, "fig": fig}


def _rotated_scores(q: torch.Tensor, k: torch.Tensor, T: int, key_sign: int) -> np.ndarray:
    from retnet_edu.position import apply_rotation, rotation_sin_cos, rotate_every_two

    qs = apply_rotation(q.expand(T, -1).contiguous())                  # q placed at positions 0 … T-1
    if key_sign == 1:
        ks = apply_rotation(k.expand(T, -1).contiguous())
    else:                                                               # turned by -mθ instead of +mθ
        sin, cos = rotation_sin_cos(T, k.shape[-1], dtype=k.dtype)
        kk = k.expand(T, -1)
        ks = kk * cos - rotate_every_two(kk) * sin
    return (qs @ ks.T).numpy()


def plot_rotation_scores(q, k, T: int = 48, ax=None, key_sign: int = 1) -> dict:
    """The score between one query vector q placed at position n and one key vector k placed at position m, after
    both are rotated (``apply_rotation``), for all n, m < T (left), and the same scores against n - m (right).

    With ``key_sign=+1`` (both turned by +position·θ, as the official code does) the matrix is constant along
    every diagonal: the score depends only on n - m, and the right panel shows one curve. ``key_sign=-1`` turns
    the key the other way (the real twin of forgetting the complex conjugate): the score then depends on n + m
    and the right panel is a cloud. Returns ``{"scores" (T, T), "distance" (T, T) = n - m, "by_distance"
    (2T-1,) mean score per n - m, "spread" (2T-1,) max - min per n - m, "fig"}``.
    """
    q = torch.as_tensor(q, dtype=torch.float64).reshape(-1)
    k = torch.as_tensor(k, dtype=torch.float64).reshape(-1)
    if q.shape != k.shape or q.numel() < 2 or q.numel() % 2:
        raise ValueError(f"q and k must be 1-D of the same even length, got {tuple(q.shape)} and {tuple(k.shape)}")
    T = _check_int(T, "T")
    if key_sign not in (1, -1):
        raise ValueError(f"key_sign must be +1 or -1, got {key_sign!r}")
    scores = _rotated_scores(q, k, T, key_sign)
    n = np.arange(T)
    distance = n[:, None] - n[None, :]
    offsets = np.arange(-(T - 1), T)
    by_distance = np.array([scores[distance == d].mean() for d in offsets])
    spread = np.array([np.ptp(scores[distance == d]) for d in offsets])
    fig, axes = _axes_pair(ax)
    lim = float(np.abs(scores).max()) or 1.0
    im = axes[0].imshow(scores, cmap="RdBu_r", vmin=-lim, vmax=lim)
    axes[0].set_xlabel("key position m")
    axes[0].set_ylabel("query position n")
    axes[0].set_title("rot(q, n) · rot(k, %sm)" % ("" if key_sign == 1 else "-"), fontsize=10)
    axes[0].grid(False)
    fig.colorbar(im, ax=axes[0], fraction=0.046, pad=0.04)
    axes[1].plot(distance.ravel(), scores.ravel(), ".", ms=2, alpha=0.5, label="every (n, m)")
    axes[1].plot(offsets, by_distance, "-", lw=1, label="mean per n - m")
    axes[1].set_xlabel("n - m")
    axes[1].set_ylabel("score")
    axes[1].set_title("a function of n - m only" if key_sign == 1 else "not a function of n - m", fontsize=10)
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    return {"scores": scores, "distance": distance, "by_distance": by_distance, "spread": spread, "fig": fig}


def plot_rotation_angles(d_k: int = 64, ax=None) -> dict:
    """The rotation angle θ_i of each coordinate pair i = 0 … d_k/2-1 in the official code
    (θ_i = 10000^(-i/(d_k/2-1)), a linspace of exponents) and in standard RoPE (θ_i = 10000^(-2i/d_k)), log scale.

    Returns ``{"pairs", "official", "rope", "fig"}`` (one angle per pair, float64).
    """
    d_k = _check_int(d_k, "d_k", minimum=4)
    if d_k % 2:
        raise ValueError(f"d_k must be even, got {d_k}")
    from retnet_edu.position import rotation_angles

    pairs = np.arange(d_k // 2)
    official = rotation_angles(d_k)[0::2].numpy()
    rope = 10000.0 ** (-2.0 * pairs / d_k)
    fig, ax = _axes(ax)
    ax.plot(pairs, official, "o-", ms=3, label="official: 1/10000^linspace(0, 1, d_k/2)")
    ax.plot(pairs, rope, "s--", ms=3, label="RoPE: 1/10000^(2i/d_k)")
    ax.set_yscale("log")
    ax.set_xlabel("pair i")
    ax.set_ylabel("angle θ_i (radians per token)")
    ax.set_title(f"rotation frequencies, d_k = {d_k}")
    ax.legend(fontsize=8)
    return {"pairs": pairs, "official": official, "rope": rope, "fig": fig}


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


# ---------------------------------------------------------------------------------------------------------
# 08_training_a_small_retnet
# ---------------------------------------------------------------------------------------------------------
__all__ += ["plot_loss_curves", "plot_lr_schedule"]


def _history(run) -> dict:
    """Accept a training history dict, a whole log (``{"history": …}``) or a ``TrainResult``."""
    if hasattr(run, "history"):
        run = run.history
    if isinstance(run, dict) and "history" in run:
        run = run["history"]
    if not isinstance(run, dict) or "eval" not in run or "train" not in run:
        raise ValueError("each run must be a training history (with 'train' and 'eval' rows), a log.json dict "
                         "or a TrainResult")
    return run


def plot_loss_curves(runs: dict, ax=None, baselines: dict | None = None, show_train: bool = True,
                     zoom_from: int | None = None, title: str = "Validation loss while training") -> dict:
    """Loss (nats per character) against training step for several runs on one plot.

    ``runs``: name → a history (``train(...).history``, a log.json dict or a ``TrainResult``). Solid lines with
    dots are the validation loss at each evaluation; thin lines (``show_train``) the running training loss.
    ``baselines``: name → a constant loss drawn as a dotted horizontal line (e.g. the uniform guess ln V), when
    it lies within the plotted range. ``zoom_from``: show only steps ≥ this (the axes fit those points), to
    see the end of training up close. Returns ``{"steps": {name: array}, "val": {name: array}, "train_steps": …,
    "train": …, "ylim", "fig"}``.
    """
    if not isinstance(runs, dict) or not runs:
        raise ValueError("runs must be a non-empty dict of name -> training history")
    fig, ax = _axes(ax)
    out = {"steps": {}, "val": {}, "train_steps": {}, "train": {}}
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    first = 0 if zoom_from is None else zoom_from
    shown = []
    for i, (name, run) in enumerate(runs.items()):
        h = _history(run)
        ev = np.array([row[:3] for row in h["eval"]], dtype=float).reshape(-1, 3)
        tr = np.array([row[:2] for row in h["train"]], dtype=float).reshape(-1, 2)
        c = colors[i % len(colors)]
        out["steps"][name], out["val"][name] = ev[:, 0], ev[:, 2]
        out["train_steps"][name], out["train"][name] = tr[:, 0], tr[:, 1]
        ev, tr = ev[ev[:, 0] >= first], tr[tr[:, 0] >= first]
        if show_train and len(tr):
            ax.plot(tr[:, 0], tr[:, 1], color=c, alpha=0.35, lw=1)
            shown.append(tr[:, 1])
        label = f"{name}: {ev[-1, 2]:.3f}" if len(ev) else name
        ax.plot(ev[:, 0], ev[:, 2], "o-", color=c, ms=3, label=label)
        shown.append(ev[:, 2])
    values = np.concatenate(shown) if shown else np.zeros(0)
    if values.size:
        lo, hi = float(values.min()), float(values.max())
        if zoom_from is None:
            hi = max([hi] + [float(v) for v in (baselines or {}).values()])
        pad = 0.05 * max(hi - lo, 0.1)
        ax.set_ylim(lo - pad, hi + pad)
    ylim = ax.get_ylim()
    for name, value in (baselines or {}).items():
        if ylim[0] <= value <= ylim[1]:
            ax.axhline(value, ls=":", color="grey", lw=1)
            ax.annotate(f"{name} ({value:.2f})", (1.0, value), xycoords=("axes fraction", "data"), xytext=(-4, 3),
                        textcoords="offset points", ha="right", fontsize=8, color="grey")
    if zoom_from is not None:
        last = max((float(v.max()) for v in out["steps"].values() if len(v)), default=first)
        ax.set_xlim(first - 0.02 * (last - first), last + 0.02 * (last - first))
    ax.set_xlabel("training step")
    ax.set_ylabel("loss (nats per character)")
    ax.set_title(title)
    ax.legend(fontsize=8, title="final validation loss", title_fontsize=8)
    out["ylim"] = ylim
    out["fig"] = fig
    return out


def plot_lr_schedule(lr: float, min_lr: float, warmup_steps: int, max_steps: int, ax=None) -> dict:
    """The learning rate of every step: linear warm-up, then a cosine down to ``min_lr`` (``train.lr_at``).
    Returns ``{"step", "lr", "fig"}``."""
    from retnet_edu.experiments.train import lr_at

    steps = np.arange(max_steps)
    lrs = np.array([lr_at(int(s), lr, min_lr, warmup_steps, max_steps) for s in steps])
    fig, ax = _axes(ax)
    ax.plot(steps, lrs)
    ax.axvline(warmup_steps, ls=":", color="grey", lw=1)
    ax.annotate("end of warm-up", (warmup_steps, lr), xytext=(4, -12), textcoords="offset points", fontsize=8)
    ax.set_xlabel("training step")
    ax.set_ylabel("learning rate")
    ax.set_title(f"Warm-up ({warmup_steps} steps) then cosine decay to {min_lr:g}")
    return {"step": steps, "lr": lrs, "fig": fig}


# ---------------------------------------------------------------------------------------------------------
# 09_inference_cost: the benchmark results of retnet_edu.experiments.bench (decode, train, official), drawn
# ---------------------------------------------------------------------------------------------------------
__all__ += ["plot_decode_benchmark", "plot_train_benchmark", "plot_official_benchmark", "plot_benchmark",
            "benchmark_provenance"]

_MiB = 2.0 ** 20


def _axes_row(ax, n: int, width: float):
    """n side-by-side axes (a new figure when ``ax`` is None, else the n axes given)."""
    if ax is None:
        fig, axes = plt.subplots(1, n, figsize=(width, 3.8))
        return fig, list(np.atleast_1d(axes))
    axes = list(np.atleast_1d(ax))
    if len(axes) != n:
        raise ValueError(f"ax must hold {n} axes, got {len(axes)}")
    return axes[0].figure, axes


def _plain_log_axes(ax, x: bool = True, y: bool = True) -> None:
    """Tick labels of log axes as plain numbers (128, 1024, 0.5) instead of powers (2^7, 5×10^-1); on the y axis
    ticks at 1, 2 and 5 of every decade, so that a range of less than a decade still shows numbers."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    fmt = FuncFormatter(lambda v, _: f"{v:g}")
    if x:
        ax.xaxis.set_major_formatter(fmt)
        ax.xaxis.set_minor_formatter(NullFormatter())
    if y:
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(fmt)
        ax.yaxis.set_minor_formatter(NullFormatter())


def _result_rows(result: dict, command: str) -> list:
    if not isinstance(result, dict) or result.get("command") != command or not isinstance(result.get("rows"), list):
        raise ValueError(f"result must be a retnet_edu.experiments.bench '{command}' result (a dict with 'command' and 'rows')")
    rows = [r for r in result["rows"] if "skipped" not in r]
    if not rows:
        raise ValueError(f"the '{command}' result holds no measured rows")
    return rows


def benchmark_provenance(result: dict) -> str:
    """One line saying where a benchmark result comes from: command line, date, machine, threads, load."""
    if not isinstance(result, dict) or "machine" not in result:
        raise ValueError("result must be a retnet_edu.experiments.bench result (with 'machine')")
    m = result["machine"]
    load = m.get("load_avg_before")
    load_txt = f", load {load[0]:.2f}" if load else ""
    gpu = f" + {m['gpu']}" if m.get("gpu") else ""
    return (f"{result.get('command_line', '?')}  ·  {result.get('date', '?')[:10]}  ·  {m.get('cpu', '?')}{gpu}, "
            f"{m.get('cores', '?')} cores, {m.get('threads', '?')} thread(s), torch {str(m.get('torch', '?')).split('+')[0]}"
            f"{load_txt}")


def plot_decode_benchmark(result: dict, groups=None, ax=None) -> dict:
    """Three panels from a ``bench decode`` result: milliseconds per decoding step against the context length
    (RetNet solid, Transformer dashed, the bar = quartiles), the memory a step needs beyond the weights (the state
    and the KV cache from the sizes as lines, the measured peaks as markers), and the measured speed ratio next to
    the bandwidth-bound ideal (dotted). ``groups``: the (size, batch) pairs to draw (default all).

    Returns ``{"groups", "context", "retnet_ms", "transformer_ms", "speed_ratio", "ideal_ratio", "state_mib",
    "kv_mib", "retnet_measured_mib", "transformer_measured_mib", "fig"}`` (dicts keyed by group, arrays over the
    contexts; measured memory is NaN where it was not measured)."""
    rows = _result_rows(result, "decode")
    found = list(dict.fromkeys((r["size"], r["batch"]) for r in rows))
    if groups is None:
        groups = found
    groups = [tuple(g) for g in groups]
    missing = [g for g in groups if g not in found]
    if missing or not groups:
        raise ValueError(f"groups must be (size, batch) pairs of the result {found}, got {groups}")
    fig, (a_t, a_m, a_r) = _axes_row(ax, 3, 13.5)
    out = {k: {} for k in ("context", "retnet_ms", "transformer_ms", "speed_ratio", "ideal_ratio", "state_mib",
                           "kv_mib", "retnet_measured_mib", "transformer_measured_mib")}
    widths = {name: info.get("retnet", {}).get("embed_dim") for name, info in (result.get("sizes") or {}).items()}
    for i, g in enumerate(groups):
        rs = sorted((r for r in rows if (r["size"], r["batch"]) == g), key=lambda r: r["context"])
        col = f"C{i}"
        label = f"{g[0]} d={widths[g[0]]}, batch {g[1]}" if widths.get(g[0]) else f"{g[0]}, batch {g[1]}"
        x = np.array([r["context"] for r in rs], dtype=float)
        get = lambda key: np.array([r.get(key, np.nan) for r in rs], dtype=float)  # noqa: E731
        vals = {"context": x, "retnet_ms": get("retnet_ms"), "transformer_ms": get("transformer_ms"),
                "speed_ratio": get("speed_ratio"), "ideal_ratio": get("ideal_ratio"),
                "state_mib": get("state_bytes_exact") / _MiB, "kv_mib": get("kv_bytes_exact") / _MiB,
                "retnet_measured_mib": get("retnet_step_peak_bytes") / _MiB,
                "transformer_measured_mib": get("transformer_step_peak_bytes") / _MiB}
        for k, v in vals.items():
            out[k][g] = v
        for name, ls, mk in (("retnet", "-", "o"), ("transformer", "--", "s")):
            y = vals[f"{name}_ms"]
            err = np.vstack([y - get(f"{name}_ms_q25"), get(f"{name}_ms_q75") - y])
            a_t.errorbar(x, y, yerr=np.nan_to_num(np.clip(err, 0, None)), ls=ls, marker=mk, ms=3, color=col,
                         capsize=2, label=f"{'RetNet' if name == 'retnet' else 'Transformer'} ({label})")
        a_m.plot(x, vals["state_mib"], "-", color=col, label=f"RetNet state ({label})")
        a_m.plot(x, vals["kv_mib"], "--", color=col, label=f"KV cache ({label})")
        if np.isfinite(vals["retnet_measured_mib"]).any():
            a_m.plot(x, vals["retnet_measured_mib"], "o", color=col, ms=4, mfc="none")
            a_m.plot(x, vals["transformer_measured_mib"], "s", color=col, ms=4, mfc="none")
        a_r.plot(x, vals["speed_ratio"], "o-", color=col, ms=3, label=f"measured ({label})")
        a_r.plot(x, vals["ideal_ratio"], ":", color=col, label=f"bandwidth ideal ({label})")
    for a in (a_t, a_m, a_r):
        a.set_xscale("log", base=2)
        a.set_yscale("log")
        _plain_log_axes(a)
        a.set_xlabel("context length t (tokens already read)")
    a_t.set_ylabel("ms per decoding step")
    a_t.set_title("Latency of one new token")
    a_m.set_ylabel("MiB beyond the weights")
    a_m.set_title("State vs KV cache (lines: sizes; markers: measured)")
    a_r.axhline(1.0, color="0.5", lw=0.8)
    a_r.set_ylabel("Transformer time / RetNet time")
    a_r.set_title("Speed-up: measured vs bandwidth ideal")
    for a in (a_t, a_m, a_r):
        a.legend(fontsize=6)
    fig.tight_layout()
    out["groups"] = groups
    out["fig"] = fig
    return out


_TRAIN_STYLE = {"retnet parallel": ("-", "o"), "transformer sdpa": ("--", "s"), "transformer naive": (":", "^")}


def plot_train_benchmark(result: dict, ax=None) -> dict:
    """Two panels from a ``bench train`` result: microseconds per token of one forward + backward against the
    sequence length, and the peak memory per token, for each implementation (retention parallel and chunkwise at
    each chunk size, attention sdpa and naive). Skipped points are left out.

    Returns ``{"impls", "T" {impl: array}, "us_per_token", "peak_kib_per_token" (NaN where not measured),
    "fig"}``."""
    rows = _result_rows(result, "train")
    impls = list(dict.fromkeys(r["impl"] for r in rows))
    fig, (a_t, a_m) = _axes_row(ax, 2, 11.0)
    out = {"impls": impls, "T": {}, "us_per_token": {}, "peak_kib_per_token": {}}
    for i, impl in enumerate(impls):
        rs = sorted((r for r in rows if r["impl"] == impl), key=lambda r: r["T"])
        T = np.array([r["T"] for r in rs], dtype=float)
        us = np.array([r["us_per_token"] for r in rs], dtype=float)
        mem = np.array([r.get("peak_bytes_per_token", np.nan) for r in rs], dtype=float) / 1024
        out["T"][impl], out["us_per_token"][impl], out["peak_kib_per_token"][impl] = T, us, mem
        ls, mk = _TRAIN_STYLE.get(impl, ("-", "D"))
        a_t.plot(T, us, ls=ls, marker=mk, ms=3, color=f"C{i}", label=impl)
        if np.isfinite(mem).any():
            a_m.plot(T, mem, ls=ls, marker=mk, ms=3, color=f"C{i}", label=impl)
    for a in (a_t, a_m):
        a.set_xscale("log", base=2)
        a.set_yscale("log")
        _plain_log_axes(a)
        a.set_xlabel("sequence length T")
        a.legend(fontsize=7)
    a_t.set_ylabel("µs per token (forward + backward)")
    a_t.set_title("Training time per token, one layer")
    a_m.set_ylabel("peak KiB per token")
    a_m.set_title("Training memory per token, one layer")
    fig.tight_layout()
    out["fig"] = fig
    return out


def plot_official_benchmark(result: dict, ax=None) -> dict:
    """Bars from a ``bench official`` result: our time / the official time for each level (MSR, decoder) and
    mode, one bar per sequence length, with the line ratio = 1 (below it ours is faster). The title reports the
    float64 agreement. Returns ``{"labels", "lengths", "ratios" (labels × lengths, NaN where missing),
    "max_abs_diff", "fig"}``."""
    rows = _result_rows(result, "official")
    labels = list(dict.fromkeys(f"{r['level']} {r['mode']}" for r in rows))
    lengths = sorted({r["T"] for r in rows})
    ratios = np.full((len(labels), len(lengths)), np.nan)
    for r in rows:
        ratios[labels.index(f"{r['level']} {r['mode']}"), lengths.index(r["T"])] = r["ratio"]
    fig, ax = _axes(ax, figsize=(7.5, 3.6))
    width = 0.8 / len(lengths)
    xs = np.arange(len(labels))
    for j, T in enumerate(lengths):
        bars = ax.bar(xs + (j - (len(lengths) - 1) / 2) * width, ratios[:, j], width, label=f"T = {T}",
                      color=f"C{j}")
        for b, v in zip(bars, ratios[:, j]):
            if np.isfinite(v):
                ax.annotate(f"{v:.2f}", (b.get_x() + b.get_width() / 2, v), xytext=(0, 2), textcoords="offset points",
                            ha="center", fontsize=7)
    ax.axhline(1.0, color="0.3", lw=1)
    ax.set_xticks(xs)
    ax.set_xticklabels([lab.replace("msr", "MSR") for lab in labels], rotation=20, fontsize=8)
    ax.set_ylabel("ours / official time")
    diff = max(r["max_abs_diff"] for r in rows)
    equal = all(r["equal"] for r in rows)
    ax.set_title(f"retnet_edu vs torchscale {result.get('settings', {}).get('torchscale', '')}: outputs "
                 f"{'equal' if equal else 'DIFFERENT'} (float64, eps 0: max |Δ| {diff:.1e})", fontsize=9)
    ax.set_ylim(0, max(1.2, float(np.nanmax(ratios)) * 1.15))
    ax.legend(fontsize=8)
    return {"labels": labels, "lengths": lengths, "ratios": ratios, "max_abs_diff": diff, "fig": fig}


def plot_benchmark(result: dict) -> dict:
    """The figure of any ``retnet_edu.experiments.bench`` result (what ``python -m retnet_edu.experiments.bench`` saves as PNG), with its
    provenance (``benchmark_provenance``) as a footnote."""
    if not isinstance(result, dict) or result.get("command") not in ("decode", "train", "official"):
        raise ValueError("result must be a retnet_edu.experiments.bench result with command 'decode', 'train' or 'official'")
    drawn = {"decode": plot_decode_benchmark, "train": plot_train_benchmark,
             "official": plot_official_benchmark}[result["command"]](result)
    fig = drawn["fig"]
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    fig.text(0.005, 0.005, benchmark_provenance(result), fontsize=6, color="0.35", ha="left", va="bottom")
    return drawn


# ---------------------------------------------------------------------------------------------------------
# mini-LRA (10_retnet_vs_hyena_mini_lra)
# ---------------------------------------------------------------------------------------------------------
from matplotlib.patches import Arc  # noqa: E402

__all__ += ["MINI_LRA_COLORS", "plot_listops_example", "plot_mqar_example", "plot_mixing_matrices",
            "plot_hyena_filters", "plot_accuracy_curves", "plot_accuracy_vs_length"]

MINI_LRA_COLORS = {"retnet": "C0", "linear": "C1", "transformer": "C2", "hyena": "C3"}
_MINI_LRA_LABELS = {"retnet": "RetNet", "linear": "linear attention", "transformer": "Transformer", "hyena": "Hyena"}


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
    for i, (tok, dd) in enumerate(zip(tokens, depth)):
        color = "C3" if tok.startswith("[") else "0.4" if tok == "]" else "C0"
        ax.text(i, dd + 0.15, tok.lstrip("["), ha="center", va="bottom", fontsize=7, color=color,
                rotation=90 if tok.startswith("[") else 0)
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
            color = "C0" if i % 2 == 0 else "C1"          # the context: key, value, key, value, …
        else:
            color = "C0" if i in scored else "0.85"       # queries are keys again; the rest is filler
        ax.add_patch(plt.Rectangle((i, 0), 0.9, 1, color=color, ec="black" if i in scored else None, lw=0.6))
    for qpos, kpos in zip(queries, pairs):
        width = qpos - kpos
        ax.add_patch(Arc(((qpos + kpos) / 2 + 0.45, 1), width, min(2.8, 0.03 * width + 0.6), theta1=0, theta2=180,
                         color="0.3", lw=0.8))
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
    return {"fixed": dict(zip(fixed, top["matrices"].values())), "full": dict(zip(full, bottom["matrices"].values())),
            "fig": fig}


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


def plot_accuracy_curves(results: dict, ax=None, chance: float | None = None) -> dict:
    """Test accuracy against training step for several runs (``retnet_edu.experiments.lra.run`` results): {name: result}.
    Returns ``{"steps": {name: array}, "accuracy": {name: array}, "fig"}``."""
    if not isinstance(results, dict) or not results:
        raise ValueError("results must be a non-empty dict {name: result of retnet_edu.experiments.lra.run}")
    fig, ax = _axes(ax)
    out = {"steps": {}, "accuracy": {}}
    for name, r in results.items():
        if not isinstance(r, dict) or "history" not in r:
            raise ValueError(f"result {name!r} must be a dict with a 'history'")
        hist = np.array([[row[0], row[2]] for row in r["history"]], dtype=float)
        out["steps"][name], out["accuracy"][name] = hist[:, 0], hist[:, 1]
        ax.plot(hist[:, 0], 100 * hist[:, 1], "o-", ms=3, color=MINI_LRA_COLORS.get(name),
                label=f"{_MINI_LRA_LABELS.get(name, name)}: {100 * hist[-1, 1]:.1f} %")
    if chance is not None:
        ax.axhline(100 * chance, ls=":", color="grey", lw=1)
        ax.annotate(f"chance ({100 * chance:.1f} %)", (0.0, 100 * chance), xycoords=("axes fraction", "data"),
                    xytext=(4, 3), textcoords="offset points", fontsize=8, color="grey")
    ax.set_xlabel("training step")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 102)
    ax.legend(fontsize=8)
    out["fig"] = fig
    return out


def plot_accuracy_vs_length(rows, ax=None, tasks=None, guides: dict | None = None) -> dict:
    """The sweep's result: mean test accuracy (± one standard deviation over seeds, error bars) against the
    sequence length, one line per model, one panel per task; dotted: the majority-class accuracy, dashed: chance.
    ``rows``: ``retnet_edu.experiments.lra.summarize(...)``; ``guides``: {task: {label: accuracy}} more reference levels, drawn
    dash-dotted (e.g. MQAR's 1/N guessing plateau). Returns ``{"series": {task: {model: (lengths, means, stds)}},
    "fig"}``."""
    rows = list(rows)
    if not rows:
        raise ValueError("rows must be a non-empty list of summary rows (retnet_edu.experiments.lra.summarize)")
    tasks = tasks or sorted({r["task"] for r in rows})
    if ax is None:
        fig, axes = plt.subplots(1, len(tasks), figsize=(4.6 * len(tasks), 3.6), squeeze=False)
        axes = list(axes[0])
    else:
        axes = list(ax) if isinstance(ax, (list, tuple, np.ndarray)) else [ax]
        if len(axes) != len(tasks):
            raise ValueError(f"ax must hold {len(tasks)} axes, got {len(axes)}")
        fig = axes[0].figure
    series = {}
    for a, task in zip(axes, tasks):
        series[task] = {}
        task_rows = [r for r in rows if r["task"] == task]
        models = list(dict.fromkeys(r["model"] for r in task_rows))
        lengths_all = sorted({r["length"] for r in task_rows})
        for i, model in enumerate(models):
            mr = sorted((r for r in task_rows if r["model"] == model), key=lambda r: r["length"])
            L = np.array([r["length"] for r in mr])
            m = np.array([r["mean"] for r in mr])
            s = np.array([r["std"] for r in mr])
            series[task][model] = (L, m, s)
            offset = (i - (len(models) - 1) / 2) * 0.03            # keep overlapping error bars apart
            a.errorbar(L * (1 + offset), 100 * m, yerr=100 * s, marker="o", ms=4, capsize=3,
                       color=MINI_LRA_COLORS.get(model), label=_MINI_LRA_LABELS.get(model, model))
        majority = {r["length"]: r["majority"] for r in task_rows}
        a.plot(lengths_all, [100 * majority[L] for L in lengths_all], ":", color="grey", lw=1, label="majority class")
        a.axhline(100 * task_rows[0]["chance"], ls="--", color="0.7", lw=1, label="chance")
        for label, level in (guides or {}).get(task, {}).items():
            a.axhline(100 * level, ls="-.", color="0.5", lw=1)
            a.annotate(label, (0.02, 100 * level), xycoords=("axes fraction", "data"), xytext=(0, 3),
                       textcoords="offset points", fontsize=7, color="0.4")
        a.set_xscale("log", base=2)
        a.set_xticks(lengths_all)
        a.set_xticklabels([str(L) for L in lengths_all])
        a.set_xlabel("sequence length")
        a.set_ylabel("test accuracy (%)")
        a.set_ylim(0, 102)
        a.set_title(task)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return {"series": series, "fig": fig}
