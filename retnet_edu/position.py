r"""Relative-position rotation of queries and keys (the paper's Θ, eq. 3-5), exactly as the official code does it.

The paper writes ``Q = (X W_Q) ⊙ Θ`` and ``K = (X W_K) ⊙ Θ̄`` with ``Θ_n = e^{inθ}``: pairs of real coordinates
are treated as one complex number and turned by the angle ``nθ_i``. The official torchscale code (and this
module) keeps everything real:

- angles: ``θ_i = 1 / 10000^(i / (d_k/2 - 1))`` for i = 0 … d_k/2-1, i.e. ``1/10000**linspace(0, 1, d_k/2)``
  (a ``linspace``, not RoPE's ``arange(0, d, 2)/d``), each repeated twice, interleaved ``[θ0, θ0, θ1, θ1, …]``;
- ``rotate_every_two`` maps each pair ``(x_{2i}, x_{2i+1})`` to ``(-x_{2i+1}, x_{2i})``: multiplication by i;
- ``apply_rotation(x)`` = ``x cos(nθ) + rotate_every_two(x) sin(nθ)``: the pair (as a complex number z)
  becomes ``z e^{inθ_i}``.

Both q and k are rotated by +nθ with the same function; the real dot product of the rotated vectors is
``Re[Σ_i q_i conj(k_i) e^{i(n-m)θ_i}]``, which depends on positions only through n - m.
Sines and cosines are computed in float64 (positions times angles lose digits in float32 at large n) and then
cast to the input dtype.

``apply_rotation`` computes exactly this formula with the named kernels ``kernels.rotation_factors`` and
``kernels.rotate_pairs`` (bit for bit the same numbers, in fewer operations); inside
``kernels.shared_position_factors()`` the factors of one set of positions are made once and reused (by q and k, and
by every layer of a model).
"""

from __future__ import annotations

import numbers

import torch
from torch import Tensor

import retnet_edu.kernels as kernels

__all__ = ["rotation_angles", "rotate_every_two", "rotation_sin_cos", "apply_rotation"]


def _check_d_k(d_k) -> int:
    if isinstance(d_k, bool) or not isinstance(d_k, numbers.Integral):
        raise TypeError(f"d_k must be an int, got {type(d_k).__name__}")
    if d_k < 2 or d_k % 2:
        raise ValueError(f"d_k must be a positive even int (coordinates are rotated in pairs), got {d_k}")
    return int(d_k)


def rotation_angles(d_k: int, dtype: torch.dtype = torch.float64, device=None) -> Tensor:
    """The d_k rotation angles ``[θ0, θ0, θ1, θ1, …]`` with ``θ_i = 1/10000**linspace(0, 1, d_k/2)[i]``.

    Computed in float64 and then cast to ``dtype``.
    """
    d_k = _check_d_k(d_k)
    theta = 1.0 / (10000.0 ** torch.linspace(0.0, 1.0, d_k // 2, dtype=torch.float64))
    return theta.repeat_interleave(2).to(dtype=dtype, device=device)


def rotate_every_two(x: Tensor) -> Tensor:
    """Map each interleaved pair ``(x_{2i}, x_{2i+1})`` of the last dimension to ``(-x_{2i+1}, x_{2i})``.

    Seen as complex numbers ``z = x_{2i} + i x_{2i+1}`` this is ``i z``; applying it twice gives ``-x``.
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() < 1 or x.shape[-1] % 2:
        raise ValueError(f"x must have an even last dimension, got shape {tuple(x.shape)}")
    x1 = x[..., 0::2]
    x2 = x[..., 1::2]
    return torch.stack((-x2, x1), dim=-1).flatten(-2)


def rotation_sin_cos(
    T: int, d_k: int, offset: int = 0, dtype: torch.dtype = torch.float64, device=None
) -> tuple[Tensor, Tensor]:
    """``sin(nθ)`` and ``cos(nθ)`` for positions n = offset … offset+T-1: two tensors of shape (T, d_k)."""
    d_k = _check_d_k(d_k)
    for name, val in (("T", T), ("offset", offset)):
        if isinstance(val, bool) or not isinstance(val, numbers.Integral):
            raise TypeError(f"{name} must be an int, got {type(val).__name__}")
        if val < 0:
            raise ValueError(f"{name} must be >= 0, got {val}")
    device = torch.device(device) if device is not None else torch.device("cpu")
    # float64 everywhere it exists (MPS has no float64: compute on the CPU, then move)
    work = torch.device("cpu") if device.type == "mps" else device
    pos = torch.arange(offset, offset + T, dtype=torch.float64, device=work)
    angles = pos[:, None] * _angles64(d_k, work)[None, :]
    return torch.sin(angles).to(dtype=dtype, device=device), torch.cos(angles).to(dtype=dtype, device=device)


_ANGLES64: dict[tuple[int, torch.device], Tensor] = {}


def _angles64(d_k: int, device: torch.device) -> Tensor:
    """``rotation_angles(d_k, float64, device)``, computed once per (d_k, device): decoding asks for the same
    angles at every token of every layer. Internal (handed only to ``kernels.rotation_factors``, which reads it)."""
    key = (d_k, device)
    if key not in _ANGLES64:
        _ANGLES64[key] = rotation_angles(d_k, torch.float64, device)
    return _ANGLES64[key]


def apply_rotation(x: Tensor, offset: int = 0) -> Tensor:
    r"""Rotate queries or keys by their absolute positions: ``x cos(nθ) + rotate_every_two(x) sin(nθ)``.

    ``x``: (..., T, d_k) with d_k even; token t of the input sits at position n = offset + t. Returns a new
    tensor of the same shape and dtype. The rotation preserves norms, and ``apply_rotation(x, 0)`` leaves
    the token at position 0 unchanged. Inside ``kernels.shared_position_factors()`` calls for the same positions,
    width, dtype and device share one set of sines and cosines.
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if not torch.is_floating_point(x):
        raise TypeError(f"x must have a floating-point dtype, got {x.dtype}")
    if x.dim() < 2:
        raise ValueError(f"x must be (..., T, d_k), got shape {tuple(x.shape)}")
    d_k = _check_d_k(x.shape[-1])
    if isinstance(offset, bool) or not isinstance(offset, numbers.Integral):
        raise TypeError(f"offset must be an int, got {type(offset).__name__}")
    if offset < 0:
        raise ValueError(f"offset must be >= 0, got {offset}")
    # x cos(nθ) + rotate_every_two(x) sin(nθ), with sin and cos as rotation_sin_cos makes them, bit for bit
    work = torch.device("cpu") if x.device.type == "mps" else x.device  # float64 where it exists
    signed_sin, cos = kernels.rotation_factors(_angles64(d_k, work), x.shape[-2], int(offset), x.dtype, x.device)
    return kernels.rotate_pairs(x, signed_sin, cos)
