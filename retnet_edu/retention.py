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

Bad input raises ``TypeError``/``ValueError`` naming the argument; nothing is broadcast silently and no input
is modified in place.
"""

from __future__ import annotations

import numbers

import torch
from torch import Tensor

from retnet_edu._args import check_int as _check_count

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
    num_heads = _check_count(num_heads, "num_heads")
    h = torch.arange(num_heads, dtype=torch.float64)
    return 1.0 - torch.pow(2.0, -5.0 - h)


def lm_decay_gammas(num_heads: int, shortest: float = 32.0, longest: float = 512.0) -> Tensor:
    r"""The decay schedule of the paper's language-model experiments (§3.1), float64:
    ``γ = 1 - exp(linspace(log(1/shortest), log(1/longest), num_heads))``.

    Effective memory ``1/(1-γ)`` then spans ``shortest`` … ``longest`` tokens whatever the number of heads
    (32 … 512 in the paper). With one head the single rate is ``1 - 1/shortest``.
    """
    num_heads = _check_count(num_heads, "num_heads")
    if not (isinstance(shortest, numbers.Real) and isinstance(longest, numbers.Real)):
        raise TypeError("shortest and longest must be real numbers")
    if not (1.0 < shortest <= longest):
        raise ValueError(f"need 1 < shortest <= longest, got shortest={shortest}, longest={longest}")
    log_rates = torch.linspace(-torch.log(torch.tensor(float(shortest), dtype=torch.float64)).item(),
                               -torch.log(torch.tensor(float(longest), dtype=torch.float64)).item(),
                               num_heads, dtype=torch.float64)
    return 1.0 - torch.exp(log_rates)


# ----------------------------------------------------------------------------------------------------------
# input checks
# ----------------------------------------------------------------------------------------------------------
def _check_tensor(x, name: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not torch.is_floating_point(x):
        raise TypeError(f"{name} must have a floating-point dtype, got {x.dtype}")
    return x


def _check_gamma(gamma, num_heads: int | None, device: torch.device | None) -> Tensor:
    _check_tensor(gamma, "gamma")
    if gamma.dim() != 1:
        raise ValueError(f"gamma must be a 1-D tensor of shape (H,), got shape {tuple(gamma.shape)}")
    if num_heads is not None and gamma.shape[0] != num_heads:
        raise ValueError(f"gamma must have one entry per head: expected shape ({num_heads},), "
                         f"got {tuple(gamma.shape)}")
    if gamma.shape[0] == 0:
        raise ValueError("gamma must have at least one entry (one per head)")
    if device is not None and gamma.device != device:
        raise ValueError(f"gamma is on {gamma.device} but q is on {device}: put them on the same device")
    if gamma.device.type != "meta":
        g = gamma.detach()
        if torch.isnan(g).any():
            raise ValueError("gamma contains NaN")
        if not bool(((g > 0) & (g <= 1)).all()):
            raise ValueError(f"every gamma must lie in (0, 1], got {g.tolist()}")
    return gamma


def _check_qkv(q, k, v, gamma) -> tuple[int, int, int, int, int]:
    for name, x in (("q", q), ("k", k), ("v", v)):
        _check_tensor(x, name)
        if x.dim() != 4:
            raise ValueError(f"{name} must be 4-D (B, H, T, d), got shape {tuple(x.shape)}")
    for name, x in (("k", k), ("v", v)):
        if x.dtype != q.dtype:
            raise TypeError(f"{name} has dtype {x.dtype} but q has {q.dtype}: q, k and v must share one dtype")
        if x.device != q.device:
            raise ValueError(f"{name} is on {x.device} but q is on {q.device}: put q, k and v on one device")
    if k.shape != q.shape:
        raise ValueError(f"k must have the shape of q (B, H, T, d_k) = {tuple(q.shape)}, got {tuple(k.shape)}")
    if v.shape[:3] != q.shape[:3]:
        raise ValueError(f"v must be (B, H, T, d_v) with B, H, T of q = {tuple(q.shape[:3])}, "
                         f"got {tuple(v.shape)}")
    b, h, t, d_k = q.shape
    d_v = v.shape[-1]
    if h < 1 or d_k < 1 or d_v < 1:
        raise ValueError(f"need H, d_k, d_v >= 1, got q {tuple(q.shape)} and v {tuple(v.shape)}")
    _check_gamma(gamma, h, q.device)
    return b, h, t, d_k, d_v


def _check_state(state, b: int, h: int, d_k: int, d_v: int, like: Tensor) -> Tensor | None:
    if state is None:
        return None
    if not isinstance(state, Tensor):
        raise TypeError(f"state must be a torch.Tensor of shape (B, H, d_k, d_v) or None, "
                        f"got {type(state).__name__}")
    if state.dtype != like.dtype:
        raise TypeError(f"state has dtype {state.dtype} but q has {like.dtype}")
    if state.device != like.device:
        raise ValueError(f"state is on {state.device} but q is on {like.device}")
    if tuple(state.shape) != (b, h, d_k, d_v):
        raise ValueError(f"state must have shape (B, H, d_k, d_v) = {(b, h, d_k, d_v)}, got {tuple(state.shape)}")
    return state


def _check_chunk_size(chunk_size) -> int:
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, numbers.Integral):
        raise TypeError(f"chunk_size must be a positive int, got {type(chunk_size).__name__}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive int, got {chunk_size}")
    return int(chunk_size)


# ----------------------------------------------------------------------------------------------------------
# decay powers, never overflowing
# ----------------------------------------------------------------------------------------------------------
def _decay_dtype(*dtypes: torch.dtype) -> torch.dtype:
    """float64 if anything is float64, else float32: the precision in which powers of gamma are taken."""
    return torch.float64 if torch.float64 in dtypes else torch.float32


def _powers(gamma: Tensor, exponents: Tensor) -> Tensor:
    """gamma[h] ** exponents for every head: shape (H, *exponents.shape). Exponents must be >= 0."""
    return torch.pow(gamma.reshape((-1,) + (1,) * exponents.dim()), exponents)


def _mask(gamma: Tensor, t: int) -> Tensor:
    """D of shape (H, t, t) in gamma's dtype: γ^(n-m) below and on the diagonal, exactly 0 above.

    Every power has a non-negative exponent (so nothing can overflow: each is at most 1); never γ^n · γ^(-m),
    which overflows once γ^(-m) exceeds the dtype's range. D is a Toeplitz matrix (its entries depend on n - m
    only), so only the t powers γ^0 … γ^(t-1) are computed, once each; a strided view lays them out along the
    diagonals and one copy writes the matrix (every diagonal holds one and the same number).
    """
    h = gamma.shape[0]
    if t == 0:
        return gamma.new_zeros(h, 0, 0)
    w = gamma.new_zeros(h, 2 * t - 1)
    w[:, t - 1:] = _powers(gamma, torch.arange(t, device=gamma.device, dtype=gamma.dtype))
    # w = [0, …, 0, γ^0, γ^1, …, γ^(t-1)] (t-1 zeros); F[n, j] = w[n + j] = D[n, t-1-j]: flip the columns
    return w.as_strided((h, t, t), (w.stride(0), 1, 1)).flip(-1)


def decay_mask(gamma: Tensor, T: int) -> Tensor:
    r"""The decay matrix D of eq. (5): shape (H, T, T), ``D[h, n, m] = γ_h^(n-m)`` for n ≥ m, else 0.

    Computed in gamma's dtype, without overflow for any T (see ``_mask``). T = 0 gives shape (H, 0, 0).
    """
    _check_gamma(gamma, None, None)
    if isinstance(T, bool) or not isinstance(T, numbers.Integral):
        raise TypeError(f"T must be an int, got {type(T).__name__}")
    if T < 0:
        raise ValueError(f"T must be >= 0, got {T}")
    return _mask(gamma, int(T))


# ----------------------------------------------------------------------------------------------------------
# the three forms
# ----------------------------------------------------------------------------------------------------------
def parallel_retention(q: Tensor, k: Tensor, v: Tensor, gamma: Tensor) -> Tensor:
    r"""Parallel retention, eq. (5): ``o = (Q Kᵀ ⊙ D) V``, shape (B, H, T, d_v).

    O(T²) time and memory per head: the whole T × T matrix of scores is built.
    """
    _check_qkv(q, k, v, gamma)
    return _parallel(q, k, v, gamma.to(_decay_dtype(q.dtype, gamma.dtype)))


def _parallel(q: Tensor, k: Tensor, v: Tensor, g: Tensor) -> Tensor:
    """Eq. 5 without checks; g: gamma in the decay dtype."""
    D = _mask(g, q.shape[2]).to(q.dtype)
    scores = q @ k.transpose(-1, -2)          # (B, H, T, T): q_n · k_m
    return (scores * D) @ v


def _step(q_n: Tensor, k_n: Tensor, v_n: Tensor, g: Tensor, S: Tensor) -> tuple[Tensor, Tensor]:
    """One recurrent step without checks. g: gamma (H,) in the decay dtype (at least float32, so that a
    bfloat16/float16 input does not round γ to 1: the product is taken in g's precision, then cast back)."""
    decayed = g[:, None, None] * S
    if decayed.dtype != S.dtype:
        decayed = decayed.to(S.dtype)
    S = decayed + k_n.unsqueeze(-1) * v_n.unsqueeze(-2)                # S_n = γ S_{n-1} + k_nᵀ v_n
    o_n = (q_n.unsqueeze(-2) @ S).squeeze(-2)                          # o_n = q_n S_n
    return o_n, S


def retention_step(q_n: Tensor, k_n: Tensor, v_n: Tensor, gamma: Tensor,
                   state: Tensor | None = None) -> tuple[Tensor, Tensor]:
    r"""One token of recurrent retention, eq. (6), for decoding.

    ``q_n``, ``k_n``: (B, H, d_k); ``v_n``: (B, H, d_v); ``state``: S_{n-1} of shape (B, H, d_k, d_v) or None
    (zeros). Returns ``(o_n, S_n)`` with ``S_n = γ S_{n-1} + k_nᵀ v_n`` and ``o_n = q_n S_n`` of shape (B, H, d_v).
    O(d_k d_v) per head, whatever the position n.
    """
    for name, x in (("q_n", q_n), ("k_n", k_n), ("v_n", v_n)):
        _check_tensor(x, name)
        if x.dim() != 3:
            raise ValueError(f"{name} must be 3-D (B, H, d), got shape {tuple(x.shape)}")
    b, h, d_k, d_v = (*q_n.shape, v_n.shape[-1])
    _check_qkv(q_n.unsqueeze(2), k_n.unsqueeze(2), v_n.unsqueeze(2), gamma)
    _check_state(state, b, h, d_k, d_v, q_n)
    S = torch.zeros(b, h, d_k, d_v, dtype=q_n.dtype, device=q_n.device) if state is None else state
    return _step(q_n, k_n, v_n, gamma.to(_decay_dtype(q_n.dtype, gamma.dtype)), S)


def recurrent_retention(q: Tensor, k: Tensor, v: Tensor, gamma: Tensor,
                        state: Tensor | None = None) -> tuple[Tensor, Tensor]:
    r"""Recurrent retention, eq. (6), over a whole sequence: returns ``(o, S_T)``.

    ``o`` is (B, H, T, d_v); ``S_T`` is the state after the last token, (B, H, d_k, d_v), ready to be passed
    back as ``state`` to continue the sequence. O(T d_k d_v) time, O(d_k d_v) state per head. T = 0 returns
    an empty ``o`` and the incoming state (zeros when None).
    """
    b, h, t, d_k, d_v = _check_qkv(q, k, v, gamma)
    _check_state(state, b, h, d_k, d_v, q)
    return _recurrent(q, k, v, gamma.to(_decay_dtype(q.dtype, gamma.dtype)), state)


def _recurrent(q: Tensor, k: Tensor, v: Tensor, g: Tensor, state: Tensor | None) -> tuple[Tensor, Tensor]:
    """Eq. 6 over a sequence without checks; g: gamma in the decay dtype."""
    b, h, t, d_k = q.shape
    d_v = v.shape[-1]
    S = torch.zeros(b, h, d_k, d_v, dtype=q.dtype, device=q.device) if state is None else state
    if t == 1:
        # Decoding: the step of _step on (B, H, 1, d) slices directly, in fewer operations. k_nᵀ v_n as a
        # product over an inner dimension of 1 rounds each entry once, exactly like the elementwise product.
        decayed = g[:, None, None] * S
        if decayed.dtype != S.dtype:
            decayed = decayed.to(S.dtype)
        S = decayed + k.transpose(-1, -2) @ v                              # S_n = γ S_{n-1} + k_nᵀ v_n
        return q @ S, S                                                    # o_n = q_n S_n
    outs = []
    for n in range(t):
        o_n, S = _step(q[:, :, n], k[:, :, n], v[:, :, n], g, S)
        outs.append(o_n)
    o = torch.stack(outs, dim=2) if outs else q.new_zeros(b, h, 0, d_v)
    return o, (S.clone() if t == 0 else S)


def chunk_cross_retention(q: Tensor, gamma: Tensor, state: Tensor) -> Tensor:
    r"""The cross-chunk term of eq. (7): ``ξ ⊙ (Q_[i] R_{i-1})`` with ``ξ_j = γ^(j+1)`` for in-chunk row j.

    ``q``: (B, H, b, d_k) for one chunk of b tokens; ``state``: R_{i-1} = the state before the chunk,
    (B, H, d_k, d_v). Returns (B, H, b, d_v): what the tokens before the chunk contribute to its outputs.
    """
    _check_tensor(q, "q")
    if q.dim() != 4:
        raise ValueError(f"q must be 4-D (B, H, T, d_k), got shape {tuple(q.shape)}")
    b, h, t, d_k = q.shape
    _check_gamma(gamma, h, q.device)
    _check_tensor(state, "state")
    if state.dim() != 4:
        raise ValueError(f"state must be 4-D (B, H, d_k, d_v), got shape {tuple(state.shape)}")
    _check_state(state, b, h, d_k, state.shape[-1], q)
    return _cross(q, gamma.to(_decay_dtype(q.dtype, gamma.dtype)), state)


def _cross(q: Tensor, g: Tensor, R: Tensor) -> Tensor:
    j = torch.arange(q.shape[2], device=q.device, dtype=g.dtype)
    xi = _powers(g, j + 1).to(q.dtype)                    # (H, b): ξ_j = γ^(j+1)
    return (q @ R) * xi[..., None]


def chunk_state_update(k: Tensor, v: Tensor, gamma: Tensor, state: Tensor | None = None) -> Tensor:
    r"""The state update of eq. (7): ``R_i = K_[i]ᵀ (V_[i] ⊙ ζ) + γ^b R_{i-1}`` with ``ζ_j = γ^(b-1-j)``.

    ``k``: (B, H, b, d_k), ``v``: (B, H, b, d_v) for one chunk of b tokens (any b ≥ 0); ``state``: R_{i-1}
    (zeros when None). Returns R_i, which equals the recurrent state S after the chunk's last token.
    """
    _check_tensor(k, "k")
    _check_tensor(v, "v")
    if k.dim() != 4 or v.dim() != 4:
        raise ValueError(f"k and v must be 4-D, got shapes {tuple(k.shape)} and {tuple(v.shape)}")
    _check_qkv(k, k, v, gamma)
    b, h, _, d_k = k.shape
    d_v = v.shape[-1]
    _check_state(state, b, h, d_k, d_v, k)
    R = torch.zeros(b, h, d_k, d_v, dtype=k.dtype, device=k.device) if state is None else state
    return _advance(k, v, gamma.to(_decay_dtype(k.dtype, gamma.dtype)), R)


def _advance(k: Tensor, v: Tensor, g: Tensor, R: Tensor) -> Tensor:
    t = k.shape[2]
    j = torch.arange(t, device=k.device, dtype=g.dtype)
    zeta = _powers(g, (t - 1) - j).to(k.dtype)            # (H, b): ζ_j = γ^(b-1-j)
    chunk_decay = torch.pow(g, float(t)).to(k.dtype)      # γ^b
    return chunk_decay[:, None, None] * R + k.transpose(-1, -2) @ (v * zeta[..., None])


def chunkwise_retention(q: Tensor, k: Tensor, v: Tensor, gamma: Tensor, chunk_size: int,
                        state: Tensor | None = None) -> tuple[Tensor, Tensor]:
    r"""Chunkwise recurrent retention, eq. (7): returns ``(o, S_T)``.

    The sequence is cut into chunks of ``chunk_size`` tokens (the last chunk may be shorter: any positive
    chunk_size works, also one that does not divide T or is larger than T). Inside a chunk the parallel form
    runs on a chunk × chunk decay matrix; across chunks the state R carries the past:

    - inner part: ``(Q_[i] K_[i]ᵀ ⊙ D^(b)) V_[i]``;
    - cross part: ``ξ ⊙ (Q_[i] R_{i-1})``, ``ξ_j = γ^(j+1)``;
    - update: ``R_i = K_[i]ᵀ (V_[i] ⊙ ζ) + γ^b R_{i-1}``, ``ζ_j = γ^(b-1-j)``,

    with b the length of chunk i. Memory O(T · chunk_size): no T × T matrix is ever built. ``state`` is the
    state before the first token (zeros when None); the returned state is the one after the last token, equal
    to what ``recurrent_retention`` returns.
    """
    b, h, t, d_k, d_v = _check_qkv(q, k, v, gamma)
    chunk_size = _check_chunk_size(chunk_size)
    _check_state(state, b, h, d_k, d_v, q)
    return _chunkwise(q, k, v, gamma.to(_decay_dtype(q.dtype, gamma.dtype)), chunk_size, state)


def _chunk_factors(g: Tensor, n: int, dtype: torch.dtype) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """For a chunk of n tokens: D^(n) (H, n, n), ξ (H, n, 1), ζ (H, n, 1) and γ^n (H, 1, 1), in ``dtype``
    (the same numbers ``_cross`` and ``_advance`` compute, made once per chunk length)."""
    j = torch.arange(n, device=g.device, dtype=g.dtype)
    xi = _powers(g, j + 1).to(dtype)[..., None]                # ξ_j = γ^(j+1)
    zeta = _powers(g, (n - 1) - j).to(dtype)[..., None]        # ζ_j = γ^(n-1-j)
    chunk_decay = torch.pow(g, float(n)).to(dtype)[:, None, None]
    return _mask(g, n).to(dtype), xi, zeta, chunk_decay


def _chunkwise(q: Tensor, k: Tensor, v: Tensor, g: Tensor, chunk_size: int, state: Tensor | None,
               factors: dict | None = None) -> tuple[Tensor, Tensor]:
    """Eq. 7 without checks; g: gamma in the decay dtype. The decay factors are made once per chunk length
    (``factors``: chunk length → ``_chunk_factors``, a dict that may be shared by calls with the same g and dtype)."""
    b, h, t, d_k = q.shape
    d_v = v.shape[-1]
    R = torch.zeros(b, h, d_k, d_v, dtype=q.dtype, device=q.device) if state is None else state
    if factors is None:
        factors = {}
    outs = []
    for start in range(0, t, chunk_size):
        qc, kc, vc = (x[:, :, start:start + chunk_size] for x in (q, k, v))
        n = qc.shape[2]
        if n not in factors:
            factors[n] = _chunk_factors(g, n, q.dtype)
        D, xi, zeta, chunk_decay = factors[n]
        inner = ((qc @ kc.transpose(-1, -2)) * D) @ vc
        outs.append(inner + (qc @ R) * xi)                                   # + ξ ⊙ (Q_[i] R_{i-1})
        R = chunk_decay * R + kc.transpose(-1, -2) @ (vc * zeta)             # R_i = K_[i]ᵀ(V_[i] ⊙ ζ) + γ^n R_{i-1}
    o = torch.cat(outs, dim=2) if outs else q.new_zeros(b, h, 0, d_v)
    return o, (R.clone() if t == 0 else R)


def _chunkwise_batched(q: Tensor, k: Tensor, v: Tensor, g: Tensor, chunk_size: int, state: Tensor | None,
                       factors: dict | None = None) -> tuple[Tensor, Tensor]:
    """``_chunkwise`` with the full chunks computed together (what ``MultiScaleRetention`` uses): faster, the same
    equation, equal to ``_chunkwise`` up to rounding (the products are summed in another order).

    The full chunks are computed together: their inner parts and their contributions K_[i]ᵀ(V_[i] ⊙ ζ) to the
    state are independent of each other, so each is one batched product over all chunks; only the state update
    R_i = γ^B R_{i-1} + K_[i]ᵀ(V_[i] ⊙ ζ) runs chunk after chunk (two small operations per chunk), and the cross
    parts ξ ⊙ (Q_[i] R_{i-1}) are again one batched product. A shorter last chunk follows on its own. The price:
    the T/B states R_{i-1} exist at once (T/B · d_k · d_v numbers per head; training keeps them for the backward
    pass in either form), where ``_chunkwise`` without gradients holds one at a time.
    """
    b, h, t, d_k = q.shape
    d_v = v.shape[-1]
    R = torch.zeros(b, h, d_k, d_v, dtype=q.dtype, device=q.device) if state is None else state
    if factors is None:
        factors = {}

    def chunk_factors(n):
        if n not in factors:
            factors[n] = _chunk_factors(g, n, q.dtype)
        return factors[n]

    outs = []
    n_full = t // chunk_size
    if n_full:
        C, tf = chunk_size, n_full * chunk_size
        D, xi, zeta, chunk_decay = chunk_factors(C)
        qf, kf, vf = (x[:, :, :tf].reshape(b, h, n_full, C, x.shape[-1]) for x in (q, k, v))
        inner = ((qf @ kf.transpose(-1, -2)) * D[:, None]) @ vf            # (B, H, chunks, C, d_v)
        updates = kf.transpose(-1, -2) @ (vf * zeta[:, None])               # K_[i]ᵀ (V_[i] ⊙ ζ), every chunk
        before = []                                                         # R_{i-1} for each chunk i
        for i in range(n_full):
            before.append(R)
            R = chunk_decay * R + updates[:, :, i]                          # R_i = γ^C R_{i-1} + K_[i]ᵀ(V_[i] ⊙ ζ)
        cross = (qf @ torch.stack(before, dim=2)) * xi[:, None]             # ξ ⊙ (Q_[i] R_{i-1})
        outs.append((inner + cross).reshape(b, h, tf, d_v))
    if t > n_full * chunk_size:                                             # the shorter last chunk
        qc, kc, vc = (x[:, :, n_full * chunk_size:] for x in (q, k, v))
        D, xi, zeta, chunk_decay = chunk_factors(qc.shape[2])
        outs.append(((qc @ kc.transpose(-1, -2)) * D) @ vc + (qc @ R) * xi)
        R = chunk_decay * R + kc.transpose(-1, -2) @ (vc * zeta)
    o = torch.cat(outs, dim=2) if len(outs) > 1 else outs[0] if outs else q.new_zeros(b, h, 0, d_v)
    return o, (R.clone() if t == 0 else R)
