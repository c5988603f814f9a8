"""The figures of notebook 01 (``notebooks/01_attention_to_recurrence.ipynb``)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import Patch

from retnet_edu._args import check_int as _check_int
from retnet_edu.course.viz._common import _MASKED, _axes, _masked_cmap

__all__ = ["plot_score_matrices", "plot_eigen_spiral"]


def plot_score_matrices(matrices: dict, ax=None, title: str | None = None, masked=None) -> dict:
    """Heatmaps of T × T score/weight matrices side by side (row n = query position, column m = key position).

    ``matrices``: {name: 2-D tensor/array}; ``ax``: a sequence of as many axes (or None). Each panel uses a
    colour scale symmetric around 0 (red positive, blue negative, white zero: a diverging map that stays readable
    with the common colour-vision deficiencies). ``masked``: an optional boolean matrix of the same shape, True
    where an entry is masked out (the causal future): those are drawn grey and named in a legend, so that a masked
    entry never looks like a score that happens to be near zero. Returns ``{"names", "matrices" (name -> float64
    array), "masked" (bool array or None), "fig"}``.
    """
    if not isinstance(matrices, dict) or not matrices:
        raise ValueError("matrices must be a non-empty dict {name: 2-D matrix}")
    arrays = {}
    for name, m in matrices.items():
        a = torch.as_tensor(m).detach().to(torch.float64).cpu().numpy()
        if a.ndim != 2:
            raise ValueError(f"matrix {name!r} must be 2-D, got shape {a.shape}")
        arrays[name] = a
    mask = None
    if masked is not None:
        mask = torch.as_tensor(masked).detach().cpu().numpy().astype(bool)
        for name, a in arrays.items():
            if mask.shape != a.shape:
                raise ValueError(f"masked has shape {mask.shape} but matrix {name!r} has shape {a.shape}")
    if ax is None:
        fig, axes = plt.subplots(1, len(arrays), figsize=(3.2 * len(arrays), 3.3), squeeze=False)
        axes = axes[0]
    else:
        axes = list(ax)
        if len(axes) != len(arrays):
            raise ValueError(f"ax must hold {len(arrays)} axes, got {len(axes)}")
        fig = axes[0].figure
    for i, (a, (name, arr)) in enumerate(zip(axes, arrays.items(), strict=True)):
        shown = arr if mask is None else np.ma.masked_array(arr, mask)
        lim = float(np.abs(shown).max()) or 1.0
        im = a.imshow(shown, cmap=_masked_cmap("RdBu_r"), vmin=-lim, vmax=lim)
        a.set_title(name, fontsize=9)
        a.set_xlabel("key position m")
        a.set_ylabel("query position n")
        a.grid(False)
        fig.colorbar(im, ax=a, fraction=0.046, pad=0.04)
        if mask is not None and i == 0 and mask.any():
            patch = Patch(facecolor=_MASKED, edgecolor="0.3", label="masked (m > n)")
            a.legend(handles=[patch], loc="upper right", fontsize=8, framealpha=0.9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return {"names": list(arrays), "matrices": arrays, "masked": mask, "fig": fig}


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
    fig, ax = _axes(ax, figsize=(6.4, 4.2))
    circle = np.exp(1j * np.linspace(0, 2 * np.pi, 200))
    ax.plot(circle.real, circle.imag, color="0.5", ls=(0, (1, 2)), lw=0.8, label="|z| = 1")
    styles = ("-", "--", "-.", ":")  # a second cue besides the colour
    markers = ("o", "s", "^", "D", "v", "P")
    for i, (l, p) in enumerate(zip(lam, powers, strict=True)):
        (line,) = ax.plot(
            p.real,
            p.imag,
            ls=styles[i % len(styles)],
            marker=markers[i % len(markers)],
            lw=1.0,
            ms=3,
            label=f"λ = {abs(l):.3g}·e^({np.angle(l):+.3f}i)",
        )
        ax.plot([l.real], [l.imag], marker=markers[i % len(markers)], color=line.get_color(), ms=8, ls="none")
    ax.axhline(0, color="k", lw=0.5)
    ax.axvline(0, color="k", lw=0.5)
    ax.set_aspect("equal")
    ax.set_xlabel("real part")
    ax.set_ylabel("imaginary part")
    ax.set_title(f"powers λ^n, n = 0 … {steps} (big marker: n = 1)")
    ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=9)
    fig.tight_layout()
    return {"eigenvalues": lam, "powers": powers, "moduli": np.abs(lam), "angles": np.angle(lam), "fig": fig}
