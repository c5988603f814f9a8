"""The figures of notebook 04 (``notebooks/04_relative_position_rotation.ipynb``)."""

from __future__ import annotations

import numpy as np
import torch

from retnet_edu._args import check_int as _check_int
from retnet_edu.course.viz._common import _axes, _axes_pair
from retnet_edu.position import apply_rotation, rotate_every_two, rotation_angles, rotation_sin_cos

__all__ = ["plot_rotation_scores", "plot_rotation_angles"]


def _rotated_scores(q: torch.Tensor, k: torch.Tensor, T: int, key_sign: int) -> np.ndarray:
    qs = apply_rotation(q.expand(T, -1).contiguous())  # q placed at positions 0 … T-1
    if key_sign == 1:
        ks = apply_rotation(k.expand(T, -1).contiguous())
    else:  # turned by -mθ instead of +mθ
        sin, cos = rotation_sin_cos(T, k.shape[-1], dtype=k.dtype)
        kk = k.expand(T, -1)
        ks = kk * cos - rotate_every_two(kk) * sin
    return (qs @ ks.T).numpy()


def plot_rotation_scores(q, k, T: int = 48, ax=None, key_sign: int = 1) -> dict:
    """The score between one query vector q (d_k,) placed at position n and one key vector k (d_k,) at position m, after
    both are rotated (``apply_rotation``), for all n, m < T (left), and the same scores against n - m (right).

    With ``key_sign=+1`` (both turned by +position·θ, as the official code does) the matrix is constant along
    every diagonal: the score depends only on n - m, and the right panel shows one curve. ``key_sign=-1`` turns
    the key the other way (the real twin of forgetting the complex conjugate): the score then depends on n + m
    and the right panel is a cloud. Returns ``{"scores" (T, T), "distance" (T, T) = n - m, "by_distance"
    (2T-1,) mean score per n - m, "spread" (2T-1,) max - min per n - m, "fig"}``.
    """
    q = torch.as_tensor(q, dtype=torch.float64)
    k = torch.as_tensor(k, dtype=torch.float64)
    if q.dim() != 1 or q.shape != k.shape or q.numel() < 2 or q.numel() % 2:
        raise ValueError(
            f"q and k must each be one vector (d_k,) of the same even length d_k, got shapes {tuple(q.shape)} and "
            f"{tuple(k.shape)} (a batch of heads or tokens would be flattened into a meaningless vector)"
        )
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
    axes[1].legend()
    fig.tight_layout()
    return {"scores": scores, "distance": distance, "by_distance": by_distance, "spread": spread, "fig": fig}


def plot_rotation_angles(d_k: int = 64, ax=None) -> dict:
    """The rotation angle θ_j of each coordinate pair j = 0 … d_k/2-1 in the official code
    (θ_j = 10000^(-j/(d_k/2-1)), a linspace of exponents) and in standard RoPE (θ_j = 10000^(-2j/d_k)), log scale.

    Returns ``{"pairs", "official", "rope", "fig"}`` (one angle per pair, float64).
    """
    d_k = _check_int(d_k, "d_k", minimum=4)
    if d_k % 2:
        raise ValueError(f"d_k must be even, got {d_k}")
    pairs = np.arange(d_k // 2)
    official = rotation_angles(d_k)[0::2].numpy()
    rope = 10000.0 ** (-2.0 * pairs / d_k)
    fig, ax = _axes(ax)
    ax.plot(pairs, official, "o-", ms=3, label="official: 1/10000^linspace(0, 1, d_k/2)")
    ax.plot(pairs, rope, "s--", ms=3, label="RoPE: 1/10000^(2j/d_k)")
    ax.set_yscale("log")
    ax.set_xlabel("pair j")
    ax.set_ylabel("angle θ_j (radians per token)")
    ax.set_title(f"rotation frequencies, d_k = {d_k}")
    ax.legend()
    return {"pairs": pairs, "official": official, "rope": rope, "fig": fig}
