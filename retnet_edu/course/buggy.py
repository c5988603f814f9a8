r"""Broken retention on purpose: the "find the bug" variants of notebook 06 (and the paper's Figure 4 of notebook 05).

Each variant has the signature ``f(q, k, v, gamma, chunk_size) -> o`` of shape (B, H, T, d_v), with the package's
shapes (q, k (B, H, T, d_k); v (B, H, T, d_v); gamma (H,)); variants that work token by token ignore
``chunk_size``. Each one is a mistake that real implementations made or easily make:

- ``chunkwise_without_zeta``: the paper's pseudocode (Figure 4 in arXiv v4) updates the chunk state as
  ``R_i = γ^B R_{i-1} + K_[i]ᵀ V_[i]``, without ζ: earlier tokens of a chunk are not decayed to the chunk's end.
  The first chunk is right (no state yet); every later chunk is wrong unless chunk_size = 1 or γ = 1 (then ζ = 1).
  Notebook 05 finds it and notebook 06 diagnoses it as the worked example, so it is *not* one of the mysteries;
- ``chunkwise_xi_off_by_one``: the cross-chunk factor ``ξ_j = γ^j`` instead of ``γ^(j+1)`` (0-based vs 1-based
  in-chunk index, which the paper mixes): the state is decayed one step too little. Wrong from the second chunk
  on, also with chunk_size = 1; right only when γ = 1;
- ``chunkwise_state_dropped``: each chunk's state update forgets the old state, ``R_i = K_[i]ᵀ (V_[i] ⊙ ζ)``
  without ``+ γ^B R_{i-1}``: a chunk sees only the chunk before it. The first two chunks are right (chunk 1
  reads R_0, which holds only chunk 0); wrong from the third chunk on, and also when γ = 1;
- ``recurrent_state_not_decayed``: ``S_n = S_{n-1} + k_nᵀ v_n``, forgetting γ: linear attention instead of
  retention. Wrong from the second token on unless γ = 1;
- ``recurrent_scaled_by_S``: torchscale's first recurrent mode (July 2023), whose state was divided by ``S_n``
  where the parallel mode divides by ``√S_n``. Every row is the bare output times ``1/S_n``, a positive number, so
  in exact arithmetic with eps = 0 it is *harmless*: the group norm removes any positive row factor. It is a bug
  only together with eps > 0: the rows shrink to about ``(1-γ)`` of their size, and the norm's eps (1e-5 in the
  first release) then distorts them far more than those of the parallel mode, which broke the parity of the two modes
  (torchscale issue #47; fixed by the ``√S_n`` form, PR #50).

``VARIANTS`` holds the four mysteries of Exercise 06.4 (everything above but the Figure 4 example);
``mystery_variants()`` hands them out under neutral letters. Layer: imports only the argument checks (``_args``)
and the decay numbers of ``kernels``, the ones ``retention`` uses.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from retnet_edu._args import check_chunk_size, check_qkv
from retnet_edu.kernels import decay_dtype, decay_powers, toeplitz_decay_mask

__all__ = [
    "chunkwise_without_zeta",
    "chunkwise_xi_off_by_one",
    "chunkwise_state_dropped",
    "recurrent_state_not_decayed",
    "recurrent_scaled_by_S",
    "VARIANTS",
    "BUG_LABELS",
    "mystery_variants",
]


def _chunkwise(q, k, v, gamma, chunk_size, *, zeta: bool = True, xi_shift: int = 0, carry: bool = True) -> Tensor:
    """Eq. 7 with switches: ``zeta`` (False drops ζ), ``xi_shift`` (ξ_j = γ^(j+1-xi_shift)) and ``carry`` (False
    drops ``γ^B R_{i-1}`` from the state update)."""
    b, h, t, d_k, d_v = check_qkv(q, k, v, gamma)
    chunk_size = check_chunk_size(chunk_size)
    g = gamma.to(decay_dtype(q.dtype, gamma.dtype))
    R = torch.zeros(b, h, d_k, d_v, dtype=q.dtype, device=q.device)
    outs = []
    for start in range(0, t, chunk_size):
        qc, kc, vc = (x[:, :, start : start + chunk_size] for x in (q, k, v))
        n = qc.shape[2]
        j = torch.arange(n, dtype=g.dtype, device=g.device)
        inner = ((qc @ kc.transpose(-1, -2)) * toeplitz_decay_mask(g, n).to(q.dtype)) @ vc
        xi = decay_powers(g, j + 1 - xi_shift).to(q.dtype)
        outs.append(inner + (qc @ R) * xi[..., None])
        z = decay_powers(g, (n - 1) - j).to(q.dtype) if zeta else torch.ones(h, n, dtype=q.dtype, device=q.device)
        old = torch.pow(g, float(n)).to(q.dtype)[:, None, None] * R if carry else 0.0
        R = old + kc.transpose(-1, -2) @ (vc * z[..., None])
    return torch.cat(outs, dim=2) if outs else q.new_zeros(b, h, 0, d_v)


def chunkwise_without_zeta(q: Tensor, k: Tensor, v: Tensor, gamma: Tensor, chunk_size: int) -> Tensor:
    """The paper's Figure 4 pseudocode, literally: ``R_i = γ^B R_{i-1} + K_[i]ᵀ V_[i]`` (ζ missing)."""
    return _chunkwise(q, k, v, gamma, chunk_size, zeta=False)


def chunkwise_xi_off_by_one(q: Tensor, k: Tensor, v: Tensor, gamma: Tensor, chunk_size: int) -> Tensor:
    """Eq. 7 with the cross-chunk factor ``ξ_j = γ^j`` instead of ``γ^(j+1)``."""
    return _chunkwise(q, k, v, gamma, chunk_size, xi_shift=1)


def chunkwise_state_dropped(q: Tensor, k: Tensor, v: Tensor, gamma: Tensor, chunk_size: int) -> Tensor:
    """Eq. 7 with a state update that forgets the old state: ``R_i = K_[i]ᵀ (V_[i] ⊙ ζ)`` (``+ γ^B R_{i-1}``
    missing), so each chunk reads only the chunk before it."""
    return _chunkwise(q, k, v, gamma, chunk_size, carry=False)


def recurrent_state_not_decayed(
    q: Tensor, k: Tensor, v: Tensor, gamma: Tensor, chunk_size: int | None = None
) -> Tensor:
    """Eq. 6 without the decay: ``S_n = S_{n-1} + k_nᵀ v_n``, ``o_n = q_n S_n`` (``chunk_size`` is ignored)."""
    b, h, t, d_k, d_v = check_qkv(q, k, v, gamma)
    S = torch.zeros(b, h, d_k, d_v, dtype=q.dtype, device=q.device)
    outs = []
    for n in range(t):
        S = S + k[:, :, n, :, None] * v[:, :, n, None, :]
        outs.append((q[:, :, n, None, :] @ S).squeeze(-2))
    return torch.stack(outs, dim=2) if outs else q.new_zeros(b, h, 0, d_v)


def recurrent_scaled_by_S(q: Tensor, k: Tensor, v: Tensor, gamma: Tensor, chunk_size: int | None = None) -> Tensor:
    r"""torchscale's July 2023 recurrent mode: the state divided by ``S_n`` instead of ``√S_n``,
    ``state_n = state_{n-1} · γ S_{n-1}/S_n + k_nᵀ v_n / S_n``, ``o_n = q_n state_n`` = bare ``o_n / S_n``
    (``chunk_size`` is ignored). A positive factor per row: harmless after a group norm with eps = 0, a broken
    parity with eps > 0 (issue #47)."""
    b, h, t, d_k, d_v = check_qkv(q, k, v, gamma)
    g = gamma.to(decay_dtype(q.dtype, gamma.dtype)).to(q.dtype)
    state = torch.zeros(b, h, d_k, d_v, dtype=q.dtype, device=q.device)
    scale = torch.zeros_like(g)
    outs = []
    for n in range(t):
        new_scale = scale * g + 1
        state = (
            state * (g * scale / new_scale)[:, None, None]
            + k[:, :, n, :, None] * v[:, :, n, None, :] / new_scale[:, None, None]
        )
        scale = new_scale
        outs.append((q[:, :, n, None, :] @ state).squeeze(-2))
    return torch.stack(outs, dim=2) if outs else q.new_zeros(b, h, 0, d_v)


VARIANTS: dict[str, Callable[..., Tensor]] = {
    "xi off by one": chunkwise_xi_off_by_one,
    "old state dropped": chunkwise_state_dropped,
    "state not decayed": recurrent_state_not_decayed,
    "1/S instead of 1/sqrt(S)": recurrent_scaled_by_S,
}
BUG_LABELS = tuple(VARIANTS)

# A fixed, arbitrary assignment of letters to bugs (the exercise's answer key; checks.ex06_find_the_bug reads it).
_MYSTERY_ORDER = ("state not decayed", "1/S instead of 1/sqrt(S)", "old state dropped", "xi off by one")


def mystery_variants() -> dict[str, Callable[..., Tensor]]:
    """The four broken variants under the letters "A" … "D" (no peeking at which is which: diagnose them).

    Each is ``f(q, k, v, gamma, chunk_size) -> o``; the correct answer would be ``parallel_retention(q, k, v,
    gamma)`` (up to a positive factor per row if the variant claims to be one of the official code's rescaled
    modes).
    """
    return {letter: _anonymous(VARIANTS[label]) for letter, label in zip("ABCD", _MYSTERY_ORDER, strict=True)}


def _anonymous(fn: Callable[..., Tensor]) -> Callable[..., Tensor]:
    def mystery(q: Tensor, k: Tensor, v: Tensor, gamma: Tensor, chunk_size: int = 4) -> Tensor:
        return fn(q, k, v, gamma, chunk_size)

    mystery.__doc__ = "A retention implementation with one bug: f(q, k, v, gamma, chunk_size) -> o (B, H, T, d_v)."
    return mystery


def answer_key() -> dict[str, str]:
    return dict(zip("ABCD", _MYSTERY_ORDER, strict=True))
