r"""The official code's extra normalisations, transcribed as plain functions (torchscale 0.3.0, notebook 06).

The paper's retention (eq. 5-7) is the bare sum ``o_n = Σ_{m≤n} γ^(n-m) (q_n·k_m) v_m``. The official torchscale
code computes something else before its group norm: each mode rescales its rows to keep numbers in the fp16
range ("Retention Score Normalization", §2.2 of the paper; torchscale issue #81). With ``S_n = Σ_{i=0}^{n} γ^i``
(0-based positions, so ``S_0 = 1``):

- **parallel** (``RetNetRelPos`` + ``parallel_forward``): ``D̃[n, m] = γ^(n-m) / √S_n``, scores
  ``A = (Q Kᵀ) ⊙ D̃``, then ``A[n] / max(|Σ_m A[n, m]|, 1)`` (a detached divisor), times V.
  Row n is ``o_n / (√S_n · a_n)`` with ``a_n = max(|Σ_m A[n, m]|, 1)``;
- **recurrent** (``recurrent_forward``): a scale ``s_n = γ s_{n-1} + 1 = S_n`` and a state kept divided by
  ``√s_n``. Row n is ``o_n / √S_n``;
- **chunkwise** (``chunk_recurrent_forward``, chunk size B, in-chunk row j): the inner scores use ``D^(B) / √S_j``
  and are divided by ``c_j = max(Σ_m |A[j, m]|, 1)``; the carried state is ``R_{i-1} / S_{B-1}`` divided by
  ``s_i = max(max over d_v of Σ over d_k of |state|, 1)``; the two parts are aligned to ``max(c_j, s_i)``.
  Row ``iB + j`` is ``o_{iB+j} / (√S_j · max(c_j, s_i))``.

Every one is the bare output times a **positive number per (batch, head, token)**, a different number in each
mode. An RMS group norm with eps = 0 is blind to such a number (``norm(c·x) = norm(x)`` for c > 0), so the three
official modes and the bare equations agree after the norm when eps = 0, and only then (torchscale issues #40, #77).

Conventions of this package: q, k (B, H, T, d_k), already rotated and with k already scaled by d_k^-1/2 as the
official code does; v (B, H, T, d_v); gamma (H,). Outputs are the pre-norm rows, (B, H, T, d_v) (torchscale itself
returns them as (B, T, H, d_v)). Decay factors are computed in float64 for float64 inputs and float32 otherwise.
Layer: imports only the argument checks (``_args``) and the decay numbers of ``kernels``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from retnet_edu._args import check_chunk_size, check_qkv
from retnet_edu.kernels import decay_dtype, toeplitz_decay_mask

__all__ = [
    "partial_decay_sums",
    "official_parallel",
    "official_recurrent",
    "official_chunkwise",
    "official_prenorm",
]


def partial_decay_sums(gamma: Tensor, T: int) -> Tensor:
    r"""``S_n = Σ_{i=0}^{n} γ^i`` for n = 0 … T-1: the row sums of D, shape (H, T), in gamma's dtype.

    ``S_n = (1 - γ^(n+1)) / (1 - γ)`` for γ < 1 and ``n + 1`` for γ = 1; computed as the row sums of D so that it
    is the number the official code divides by.
    """
    return toeplitz_decay_mask(gamma, T).sum(-1)


def _prepare(q, k, v, gamma):
    b, h, t, d_k, d_v = check_qkv(q, k, v, gamma)
    g = gamma.to(decay_dtype(q.dtype, gamma.dtype))
    return (b, h, t, d_k, d_v), g


def official_parallel(q: Tensor, k: Tensor, v: Tensor, gamma: Tensor) -> Tensor:
    r"""torchscale 0.3.0's parallel mode before the group norm: ``(A / a) V`` with ``A = (Q Kᵀ) ⊙ D̃``,
    ``D̃[n, m] = γ^(n-m) / √S_n`` and ``a_n = max(|Σ_m A[n, m]|, 1)`` (detached, as in the official code).

    Row n equals ``parallel_retention(q, k, v, gamma)[..., n, :] / (√S_n · a_n)``.
    """
    (_, _, t, _, _), g = _prepare(q, k, v, gamma)
    D = toeplitz_decay_mask(g, t)
    D_tilde = (D / D.sum(-1, keepdim=True).sqrt()).to(q.dtype)  # rows of D divided by √S_n
    A = (q @ k.transpose(-1, -2)) * D_tilde
    a = A.detach().sum(-1, keepdim=True).abs().clamp(min=1)  # |signed row sum|, at least 1
    return (A / a) @ v


def official_recurrent(q: Tensor, k: Tensor, v: Tensor, gamma: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    r"""torchscale 0.3.0's recurrent mode, token by token, before the group norm.

    Returns ``(o, prev_key_value, scale)``: the pre-norm rows (B, H, T, d_v), and the official state after the
    last token: ``prev_key_value`` of shape (B, H, d_v, d_k) (transposed with respect to the paper's
    ``S = Σ kᵀ v``) equal to ``S_T^ᵀ / √scale``, and ``scale`` of shape (H,) equal to ``S_{T-1} = Σ_{i<T} γ^i``.
    Row n of ``o`` equals bare retention divided by ``√S_n``. T must be at least 1.
    """
    (b, h, t, d_k, d_v), g = _prepare(q, k, v, gamma)
    if t < 1:
        raise ValueError("official_recurrent needs at least one token (T >= 1)")
    gq = g.to(q.dtype)
    outs = []
    kv = scale = None
    for n in range(t):
        step = k[:, :, n, None, :] * v[:, :, n, :, None]  # (B, H, d_v, d_k): v_n k_nᵀ
        if kv is None:
            kv, scale = step, torch.ones_like(gq)
        else:
            new_scale = scale * gq + 1
            kv = kv * (scale.sqrt() * gq / new_scale.sqrt()).view(h, 1, 1) + step / new_scale.sqrt().view(h, 1, 1)
            scale = new_scale
        outs.append((q[:, :, n, None, :] * kv).sum(-1))  # (B, H, d_v)
    return torch.stack(outs, dim=2), kv, scale


def official_chunkwise(q: Tensor, k: Tensor, v: Tensor, gamma: Tensor, chunk_size: int) -> Tensor:
    r"""torchscale 0.3.0's chunkwise mode before the group norm (T must be a multiple of ``chunk_size``, as the
    official code asserts; its decoder zero-pads to get there).

    Inner part: ``A = (Q_[i] K_[i]ᵀ) ⊙ D^(B) / √S_j``, divided by ``c_j = max(Σ_m |A[j, m]|, 1)``; state:
    ``state_i = γ^B state_{i-1} + K_[i]ᵀ (V_[i] ⊙ ζ / S_{B-1})``, used as ``state / s`` with
    ``s = max(max_{d_v} Σ_{d_k} |state|, 1)``; cross part ``(Q_[i] ⊙ ξ S_{B-1} / √S_j) (state / s)``; both parts
    aligned to ``max(c_j, s)``. Row ``iB + j`` equals bare retention divided by ``√S_j · max(c_j, s_i)``.
    """
    (b, h, t, d_k, d_v), g = _prepare(q, k, v, gamma)
    chunk_size = check_chunk_size(chunk_size)
    if t % chunk_size:
        raise ValueError(f"the official chunkwise mode needs T divisible by chunk_size: T={t}, chunk_size={chunk_size}")
    C, n_chunks = chunk_size, t // chunk_size
    mask = toeplitz_decay_mask(g, C)  # (H, C, C)
    root = mask.sum(-1, keepdim=True).sqrt()  # √S_j, (H, C, 1)
    last = mask[:, -1].sum(-1)  # S_{C-1}, (H,)
    inner_mask = (mask / root).to(q.dtype)
    value_inner_decay = (mask[:, -1] / last[:, None]).unsqueeze(-1).to(q.dtype)  # ζ / S_{C-1}
    j = torch.arange(C, dtype=g.dtype, device=g.device)
    xi = torch.pow(g[:, None], j + 1)  # ξ_j = γ^(j+1)
    query_inner_decay = (xi[:, :, None] * last[:, None, None] / root).to(q.dtype)  # ξ S_{C-1} / √S_j
    cross_decay = torch.pow(g, float(C)).to(q.dtype).view(h, 1, 1)  # γ^C

    qc, kc, vc = (x.reshape(b, h, n_chunks, C, x.shape[-1]).transpose(1, 2) for x in (q, k, v))  # (B, N, H, C, d)
    A = (qc @ kc.transpose(-1, -2)) * inner_mask
    inner_scale = A.detach().abs().sum(-1, keepdim=True).clamp(min=1)
    inner = (A / inner_scale) @ vc
    kv = kc.transpose(-1, -2) @ (vc * value_inner_decay)  # (B, N, H, d_k, d_v)

    state = torch.zeros(b, h, d_k, d_v, dtype=q.dtype, device=q.device)
    s = torch.ones(b, h, 1, 1, dtype=q.dtype, device=q.device)
    carried, scales = [], []
    for i in range(n_chunks):
        carried.append(state / s)
        scales.append(s)
        state = state * cross_decay + kv[:, i]
        s = state.detach().abs().sum(-2, keepdim=True).amax(-1, keepdim=True).clamp(min=1)
    carried = torch.stack(carried, dim=1)
    scales = torch.stack(scales, dim=1)
    cross = (qc * query_inner_decay) @ carried
    all_scale = torch.maximum(inner_scale, scales)
    out = inner / (all_scale / inner_scale) + cross / (all_scale / scales)  # (B, N, H, C, d_v)
    return out.transpose(1, 2).reshape(b, h, t, d_v)


def official_prenorm(
    q: Tensor, k: Tensor, v: Tensor, gamma: Tensor, mode: str, chunk_size: int | None = None
) -> Tensor:
    """The official pre-norm rows in ``mode`` ("parallel", "recurrent" or "chunkwise"), shape (B, H, T, d_v)."""
    if mode == "parallel":
        return official_parallel(q, k, v, gamma)
    if mode == "recurrent":
        return official_recurrent(q, k, v, gamma)[0]
    if mode == "chunkwise":
        if chunk_size is None:
            raise ValueError("chunk_size is required in chunkwise mode (a positive int)")
        return official_chunkwise(q, k, v, gamma, chunk_size)
    raise ValueError(f"mode must be 'parallel', 'recurrent' or 'chunkwise', got {mode!r}")
