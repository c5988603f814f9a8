r"""Retention, the paper's equations as plain functions over tensors (Sun et al. 2023, arXiv 2307.08621, §2.1-2.2).

Shapes (one convention for the whole package):

- ``q``, ``k``: (B, H, T, d_k) -- batch, heads, tokens, query/key width per head;
- ``v``: (B, H, T, d_v);
- ``gamma``: (H,), one decay per head, each in (0, 1];
- the recurrent state ``S``: (B, H, d_k, d_v).

Every function here is the bare equation: no normalisation of any kind, computed in the dtype of ``q``, ``k``
and ``v`` (the decay powers are computed in float64 when the inputs or ``gamma`` are float64, in float32
otherwise, and then cast), differentiable with respect to ``q``, ``k`` and ``v``. Positions are 0-based.

The three forms (single head written out; every head works the same way with its own gamma):

- parallel, eq. (5):   ``o = (Q Kᵀ ⊙ D) V`` with ``D[n, m] = γ^(n-m)`` for n ≥ m and 0 otherwise;
- recurrent, eq. (6):  ``S_n = γ S_{n-1} + k_nᵀ v_n`` (``S_{-1}`` = the incoming state, zeros by default),
  ``o_n = q_n S_n``;
- chunkwise, eq. (7), chunk i covers positions iB … iB+B-1, in-chunk row j:
  ``o_[i] = (Q_[i] K_[i]ᵀ ⊙ D^(B)) V_[i] + ξ ⊙ (Q_[i] R_{i-1})`` with ``ξ_j = γ^(j+1)``,
  ``R_i = K_[i]ᵀ (V_[i] ⊙ ζ) + γ^B R_{i-1}`` with ``ζ_j = γ^(B-1-j)``.
  (Figure 4's pseudocode in the paper drops ζ; eq. 7 and the official code keep it.)

Bad input raises ``TypeError``/``ValueError`` naming the argument (the checks live in ``retnet_edu._args``;
γ's values are checked once per tensor and version, so decoding token by token does not re-check them); nothing
is broadcast silently and no input is modified in place.

Where an equation has a faster form, the function calls a named kernel of ``retnet_edu.kernels`` (each tested equal
to the equation) and says when: the decay matrix D is laid out from its T distinct powers, one token of
``recurrent_retention`` is one fused step, and ``chunkwise_retention`` computes its full chunks together when that
pays off. Inside ``kernels.shared_position_factors()`` (every model's forward) the decay factors are made once and
shared by every layer.
"""

from __future__ import annotations

import numbers

import torch
from torch import Tensor

import retnet_edu.kernels as kernels
from retnet_edu._args import check_chunk_size, check_gamma, check_int, check_qkv, check_state, check_tensor

__all__ = [
    "decay_gammas",
    "lm_decay_gammas",
    "decay_mask",
    "parallel_retention",
    "retention_step",
    "recurrent_retention",
    "chunkwise_retention",
    "chunk_cross_retention",
    "chunk_state_update",
]


# ----------------------------------------------------------------------------------------------------------
# decay rates
# ----------------------------------------------------------------------------------------------------------
def decay_gammas(num_heads: int) -> Tensor:
    r"""Per-head decay rates of eq. (8): ``γ_h = 1 - 2^(-5-h)`` for h = 0 … num_heads-1, float64.

    These are exact binary fractions (exact in float32 too for h ≤ 18). Effective memory ``1/(1-γ_h)`` is
    32, 64, 128, … tokens.
    """
    num_heads = check_int(num_heads, "num_heads")
    h = torch.arange(num_heads, dtype=torch.float64)
    return 1.0 - torch.pow(2.0, -5.0 - h)


def lm_decay_gammas(num_heads: int, shortest: float = 32.0, longest: float = 512.0) -> Tensor:
    r"""The decay schedule of the paper's language-model experiments (§3.1), float64:
    ``γ = 1 - exp(linspace(log(1/shortest), log(1/longest), num_heads))``.

    Effective memory ``1/(1-γ)`` then spans ``shortest`` … ``longest`` tokens whatever the number of heads
    (32 … 512 in the paper). With one head the single rate is ``1 - 1/shortest``.
    """
    num_heads = check_int(num_heads, "num_heads")
    if not (isinstance(shortest, numbers.Real) and isinstance(longest, numbers.Real)):
        raise TypeError("shortest and longest must be real numbers")
    if not (1.0 < shortest <= longest):
        raise ValueError(f"need 1 < shortest <= longest, got shortest={shortest}, longest={longest}")
    log_rates = torch.linspace(
        -torch.log(torch.tensor(float(shortest), dtype=torch.float64)).item(),
        -torch.log(torch.tensor(float(longest), dtype=torch.float64)).item(),
        num_heads,
        dtype=torch.float64,
    )
    return 1.0 - torch.exp(log_rates)


# ----------------------------------------------------------------------------------------------------------
# the decay matrix
# ----------------------------------------------------------------------------------------------------------
def decay_mask(gamma: Tensor, T: int) -> Tensor:
    r"""The decay matrix D of eq. (5): shape (H, T, T), ``D[h, n, m] = γ_h^(n-m)`` for n ≥ m, else 0.

    Computed in gamma's dtype, without overflow for any T: every power has an exponent ≥ 0, never
    ``γ^n · γ^(-m)`` (``kernels.toeplitz_decay_mask`` computes the T distinct powers once each and lays them out
    along the diagonals). T = 0 gives shape (H, 0, 0).
    """
    check_gamma(gamma, None, None)
    if isinstance(T, bool) or not isinstance(T, numbers.Integral):
        raise TypeError(f"T must be an int, got {type(T).__name__}")
    if T < 0:
        raise ValueError(f"T must be >= 0, got {T}")
    return kernels.toeplitz_decay_mask(gamma, int(T))


def _decay(gamma: Tensor, dtype: torch.dtype) -> Tensor:
    """gamma in the decay dtype for inputs of ``dtype`` (``kernels.decay_dtype``), the same tensor if it already is."""
    want = kernels.decay_dtype(dtype, gamma.dtype)
    return gamma if gamma.dtype == want else gamma.to(want)


# ----------------------------------------------------------------------------------------------------------
# the three forms
# ----------------------------------------------------------------------------------------------------------
def parallel_retention(
    q: Tensor, k: Tensor, v: Tensor, gamma: Tensor, *, state: Tensor | None = None, return_state: bool = False
) -> Tensor | tuple[Tensor, Tensor]:
    r"""Parallel retention, eq. (5): ``o = (Q Kᵀ ⊙ D) V``, shape (B, H, T, d_v).

    O(T²) time and memory per head: the whole T × T matrix of scores is built.

    ``state`` (keyword, (B, H, d_k, d_v) or None): the recurrent state S before the first token, to continue a
    sequence. Its tokens then add eq. 7's cross term with the whole input as one chunk: ``o += ξ ⊙ (Q S)`` with
    ``ξ_n = γ^(n+1)`` (``chunk_cross_retention``). ``return_state=True`` returns ``(o, S_T)`` like the other two
    forms, with the state after the last token by eq. 7's update over one chunk of length T:
    ``S_T = Kᵀ (V ⊙ ζ) + γ^T S`` with ``ζ_m = γ^(T-1-m)`` (``chunk_state_update``); it equals what
    ``recurrent_retention`` returns. Without either keyword the result is ``o`` alone.
    """
    b, h, t, d_k, d_v = check_qkv(q, k, v, gamma)
    check_state(state, b, h, d_k, d_v, q)
    g = _decay(gamma, q.dtype)
    if state is None and not return_state:
        D = kernels.toeplitz_decay_mask(g, t).to(q.dtype)
        return ((q @ k.transpose(-1, -2)) * D) @ v  # (Q Kᵀ ⊙ D) V; Q Kᵀ[n, m] = q_n · k_m
    D, xi, zeta, chunk_decay = kernels.chunk_factors(g, t, q.dtype)  # the sequence as one chunk of eq. 7
    o = ((q @ k.transpose(-1, -2)) * D) @ v  # (Q Kᵀ ⊙ D) V
    if state is not None:
        o = o + (q @ state) * xi  # + ξ ⊙ (Q S)
    if not return_state:
        return o
    S = k.transpose(-1, -2) @ (v * zeta)  # Kᵀ (V ⊙ ζ)
    if state is not None:
        S = chunk_decay * state + S  # + γ^T S
    return o, S


def _step(q_n: Tensor, k_n: Tensor, v_n: Tensor, g: Tensor, S: Tensor) -> tuple[Tensor, Tensor]:
    """One recurrent step without checks. g: gamma (H,) in the decay dtype (at least float32, so that a
    bfloat16/float16 input does not round γ to 1: the product is taken in g's precision, then cast back)."""
    decayed = g[:, None, None] * S
    if decayed.dtype != S.dtype:
        decayed = decayed.to(S.dtype)
    S = decayed + k_n.unsqueeze(-1) * v_n.unsqueeze(-2)  # S_n = γ S_{n-1} + k_nᵀ v_n
    o_n = (q_n.unsqueeze(-2) @ S).squeeze(-2)  # o_n = q_n S_n
    return o_n, S


def retention_step(
    q_n: Tensor, k_n: Tensor, v_n: Tensor, gamma: Tensor, state: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    r"""One token of recurrent retention, eq. (6), for decoding.

    ``q_n``, ``k_n``: (B, H, d_k); ``v_n``: (B, H, d_v); ``state``: S_{n-1} of shape (B, H, d_k, d_v) or None
    (zeros). Returns ``(o_n, S_n)`` with ``S_n = γ S_{n-1} + k_nᵀ v_n`` and ``o_n = q_n S_n`` of shape (B, H, d_v).
    O(d_k d_v) per head, whatever the position n.
    """
    for name, x in (("q_n", q_n), ("k_n", k_n), ("v_n", v_n)):
        check_tensor(x, name)
        if x.dim() != 3:
            raise ValueError(f"{name} must be 3-D (B, H, d), got shape {tuple(x.shape)}")
    b, h, d_k, d_v = (*q_n.shape, v_n.shape[-1])
    check_qkv(q_n.unsqueeze(2), k_n.unsqueeze(2), v_n.unsqueeze(2), gamma)
    check_state(state, b, h, d_k, d_v, q_n)
    S = torch.zeros(b, h, d_k, d_v, dtype=q_n.dtype, device=q_n.device) if state is None else state
    return _step(q_n, k_n, v_n, _decay(gamma, q_n.dtype), S)


def recurrent_retention(
    q: Tensor, k: Tensor, v: Tensor, gamma: Tensor, state: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    r"""Recurrent retention, eq. (6), over a whole sequence: returns ``(o, S_T)``.

    ``o`` is (B, H, T, d_v); ``S_T`` is the state after the last token, (B, H, d_k, d_v), ready to be passed
    back as ``state`` to continue the sequence. O(T d_k d_v) time, O(d_k d_v) state per head. T = 0 returns
    an empty ``o`` and the incoming state (zeros when None). One token (T = 1, decoding) runs
    ``kernels.recurrent_decode_step``: the same step, bit for bit, in fewer operations.
    """
    b, h, t, d_k, d_v = check_qkv(q, k, v, gamma)
    check_state(state, b, h, d_k, d_v, q)
    g = _decay(gamma, q.dtype)
    S = torch.zeros(b, h, d_k, d_v, dtype=q.dtype, device=q.device) if state is None else state
    if t == 1:
        return kernels.recurrent_decode_step(q, k, v, g, S)
    outs = []
    for n in range(t):
        o_n, S = _step(q[:, :, n], k[:, :, n], v[:, :, n], g, S)  # S_n = γ S_{n-1} + k_nᵀ v_n; o_n = q_n S_n
        outs.append(o_n)
    o = torch.stack(outs, dim=2) if outs else q.new_zeros(b, h, 0, d_v)
    return o, (S.clone() if t == 0 else S)


def chunk_cross_retention(q: Tensor, gamma: Tensor, state: Tensor) -> Tensor:
    r"""The cross-chunk term of eq. (7): ``ξ ⊙ (Q_[i] R_{i-1})`` with ``ξ_j = γ^(j+1)`` for in-chunk row j.

    ``q``: (B, H, b, d_k) for one chunk of b tokens; ``state``: R_{i-1} = the state before the chunk,
    (B, H, d_k, d_v). Returns (B, H, b, d_v): what the tokens before the chunk contribute to its outputs.
    """
    check_tensor(q, "q")
    if q.dim() != 4:
        raise ValueError(f"q must be 4-D (B, H, T, d_k), got shape {tuple(q.shape)}")
    b, h, t, d_k = q.shape
    check_gamma(gamma, h, q.device)
    check_tensor(state, "state")
    if state.dim() != 4:
        raise ValueError(f"state must be 4-D (B, H, d_k, d_v), got shape {tuple(state.shape)}")
    check_state(state, b, h, d_k, state.shape[-1], q)
    g = _decay(gamma, q.dtype)
    j = torch.arange(t, device=q.device, dtype=g.dtype)
    xi = kernels.decay_powers(g, j + 1).to(q.dtype)  # (H, b): ξ_j = γ^(j+1)
    return (q @ state) * xi[..., None]


def chunk_state_update(k: Tensor, v: Tensor, gamma: Tensor, state: Tensor | None = None) -> Tensor:
    r"""The state update of eq. (7): ``R_i = K_[i]ᵀ (V_[i] ⊙ ζ) + γ^b R_{i-1}`` with ``ζ_j = γ^(b-1-j)``.

    ``k``: (B, H, b, d_k), ``v``: (B, H, b, d_v) for one chunk of b tokens (any b ≥ 0); ``state``: R_{i-1}
    (zeros when None). Returns R_i, which equals the recurrent state S after the chunk's last token.
    """
    check_tensor(k, "k")
    check_tensor(v, "v")
    if k.dim() != 4 or v.dim() != 4:
        raise ValueError(f"k and v must be 4-D, got shapes {tuple(k.shape)} and {tuple(v.shape)}")
    check_qkv(k, k, v, gamma)
    b, h, t, d_k = k.shape
    d_v = v.shape[-1]
    check_state(state, b, h, d_k, d_v, k)
    R = torch.zeros(b, h, d_k, d_v, dtype=k.dtype, device=k.device) if state is None else state
    g = _decay(gamma, k.dtype)
    j = torch.arange(t, device=k.device, dtype=g.dtype)
    zeta = kernels.decay_powers(g, (t - 1) - j).to(k.dtype)  # (H, b): ζ_j = γ^(b-1-j)
    chunk_decay = torch.pow(g, float(t)).to(k.dtype)  # γ^b
    return chunk_decay[:, None, None] * R + k.transpose(-1, -2) @ (v * zeta[..., None])


def chunkwise_retention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    gamma: Tensor,
    chunk_size: int,
    state: Tensor | None = None,
    *,
    batched: bool | None = False,
) -> tuple[Tensor, Tensor]:
    r"""Chunkwise recurrent retention, eq. (7): returns ``(o, S_T)``.

    The sequence is cut into chunks of ``chunk_size`` tokens (the last chunk may be shorter: any positive
    chunk_size works, also one that does not divide T or is larger than T). Inside a chunk the parallel form
    runs on a chunk × chunk decay matrix; across chunks the state R carries the past:

    - inner part: ``(Q_[i] K_[i]ᵀ ⊙ D^(b)) V_[i]``;
    - cross part: ``ξ ⊙ (Q_[i] R_{i-1})``, ``ξ_j = γ^(j+1)``;
    - update: ``R_i = K_[i]ᵀ (V_[i] ⊙ ζ) + γ^b R_{i-1}``, ``ζ_j = γ^(b-1-j)``,

    with b the length of chunk i. No T × T matrix is ever built. ``state`` is the
    state before the first token (zeros when None); the returned state is the one after the last token, equal
    to what ``recurrent_retention`` returns.

    ``batched`` (keyword): False (default) runs the chunk loop below, chunk after chunk, as eq. 7 reads, holding
    one state at a time (without gradients: memory O(B·H·chunk_size²) for the chunk's scores plus one state);
    True runs ``kernels.chunkwise_retention_batched`` (all full chunks in one batched product each: the same
    equation, summed in another order, so equal up to rounding, and faster, but the T/chunk_size states exist at
    once); None picks the batched kernel unless the chunks are so small that their states would outweigh them
    (``kernels.prefer_batched_chunks``: ``chunk_size · (d_k + d_v) < d_k · d_v``) — what ``MultiScaleRetention``
    asks for.
    """
    b, h, t, d_k, d_v = check_qkv(q, k, v, gamma)
    chunk_size = check_chunk_size(chunk_size)
    check_state(state, b, h, d_k, d_v, q)
    if batched is not None and not isinstance(batched, bool):
        raise TypeError(f"batched must be True, False or None, got {batched!r}")
    g = _decay(gamma, q.dtype)
    if batched or (batched is None and kernels.prefer_batched_chunks(chunk_size, d_k, d_v)):
        return kernels.chunkwise_retention_batched(q, k, v, g, chunk_size, state)
    R = torch.zeros(b, h, d_k, d_v, dtype=q.dtype, device=q.device) if state is None else state
    full = kernels.chunk_factors(g, chunk_size, q.dtype) if t >= chunk_size else None  # made once, used per chunk
    outs = []
    for start in range(0, t, chunk_size):
        qc, kc, vc = (x[:, :, start : start + chunk_size] for x in (q, k, v))
        n = qc.shape[2]
        D, xi, zeta, chunk_decay = full if n == chunk_size else kernels.chunk_factors(g, n, q.dtype)
        inner = ((qc @ kc.transpose(-1, -2)) * D) @ vc  # (Q_[i] K_[i]ᵀ ⊙ D^(n)) V_[i]
        outs.append(inner + (qc @ R) * xi)  # + ξ ⊙ (Q_[i] R_{i-1})
        R = chunk_decay * R + kc.transpose(-1, -2) @ (vc * zeta)  # R_i = K_[i]ᵀ(V_[i] ⊙ ζ) + γ^n R_{i-1}
    o = torch.cat(outs, dim=2) if outs else q.new_zeros(b, h, 0, d_v)
    return o, (R.clone() if t == 0 else R)
