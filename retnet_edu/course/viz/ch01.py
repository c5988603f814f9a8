"""The figures of notebook 01 (``notebooks/01_attention_to_recurrence.ipynb``)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from retnet_edu._args import check_int as _check_int
from retnet_edu.course.viz._common import _axes

__all__ = ["plot_score_matrices", "plot_eigen_spiral"]


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
    for a, (name, arr) in zip(axes, arrays.items(), strict=True):
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
    for l, p in zip(lam, powers, strict=True):
        (line,) = ax.plot(p.real, p.imag, ".-", lw=0.8, ms=3, label=f"λ = {abs(l):.3g}·e^({np.angle(l):+.3f}i)")
        ax.plot([l.real], [l.imag], "o", color=line.get_color(), ms=7)
    ax.axhline(0, color="k", lw=0.5)
    ax.axvline(0, color="k", lw=0.5)
    ax.set_aspect("equal")
    ax.set_xlabel("real part")
    ax.set_ylabel("imaginary part")
    ax.set_title(f"powers λ^n, n = 0 … {steps}")
    ax.legend(fontsize=7, loc="lower left")
    return {"eigenvalues": lam, "powers": powers, "moduli": np.abs(lam), "angles": np.angle(lam), "fig": fig}
