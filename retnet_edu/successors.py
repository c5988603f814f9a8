r"""Retention's successors: a decay chosen by the input, and the delta rule, each in the three forms of
``retention.py`` (recurrent, chunkwise, parallel), proven equal by ``tests/test_successors.py``.

RetNet forgets at one fixed rate per head: ``S_n = γ S_{n-1} + k_nᵀ v_n`` (eq. 6). Its successors let each token
decide how much of the state to keep, and then which part of it to overwrite. With k_n, q_n row vectors
(1 × d_k), v_n (1 × d_v), the state S (d_k × d_v) and ``S_{-1} = state`` (zeros when None):

- **gated retention** (Sun et al. 2024, YOCO, arXiv 2405.05254; Mamba-2's scalar-decay SSD is the same recurrence,
  Dao & Gu 2024, arXiv 2405.21060): one gate per token and head,
  ``S_n = exp(log_gamma_n) · S_{n-1} + k_nᵀ v_n``;
- **gated linear attention, GLA** (Yang et al. 2023, arXiv 2312.06635): one gate per token, head and key channel
  (row of S), ``S_n = diag(exp(log_alpha_n)) · S_{n-1} + k_nᵀ v_n``;
- **the delta rule** (DeltaNet, Schlag et al. 2021; its chunkwise form: Yang et al. 2024, "Parallelizing Linear
  Transformers with the Delta Rule over Sequence Length", arXiv 2406.06484; with a gate: Gated DeltaNet, Yang,
  Kautz & Hatamizadeh 2024, arXiv 2412.06464):
  ``S_n = exp(log_gamma_n) · (I − β_n k_nᵀ k_n) · S_{n-1} + β_n k_nᵀ v_n``;

and every one reads ``o_n = q_n S_n``. Nothing is scaled or normalised inside (RetNet's ``d_k^(-1/2)`` and group
norm, and the delta rule's unit-norm keys, are the caller's business). With ``log_gamma = log γ_h`` constant over
time gated retention *is* RetNet's retention (``tests``: 1e-12 in float64); with ``log_gamma = 0`` it is causal
linear attention; GLA with a gate constant over channels is gated retention; the delta rule with β = 0 only decays.

Shapes as in ``retnet_edu.retention``: q, k (B, H, T, d_k); v (B, H, T, d_v); ``log_gamma`` and ``beta`` (B, H, T);
``log_alpha`` (B, H, T, d_k); ``state`` (B, H, d_k, d_v) or None. Every function returns ``(o, S_T)``: the outputs
(B, H, T, d_v) and the state after the last token (the incoming state, or zeros, when T = 0: T = 0 is allowed).

**The three modes** (keyword ``mode``), equal up to rounding:

- ``"recurrent"``: the recurrence above, token after token (O(T d_k d_v), what decoding runs);
- ``"chunkwise"``: eq. 7 of the RetNet paper with data-dependent factors, chunk after chunk of ``chunk_size``
  tokens (any positive int; the last chunk may be shorter, ``chunk_size > T`` is one chunk);
- ``"parallel"``: the T × T form: the whole sequence as one chunk (so it also takes and returns a state). For
  gated retention ``o = (Q Kᵀ ⊙ D) V`` with ``D[n, m] = exp(Σ_{m<i≤n} log_gamma_i)`` for n ≥ m, 0 above;
  for GLA the same per key channel (a T × T × d_k mask: memory O(T² d_k), meant for short sequences); for the
  delta rule the one-chunk UT form of ``delta_rule``'s docstring (a T × T triangular solve).

``chunk_size`` is used by ``"chunkwise"`` only; given with another mode it is checked and ignored (so that one call
can loop over the modes).

**Numerics.** Cumulative gates are never exponentiated with a positive sign: a naive factorisation
``exp(c_n) · exp(-c_m)`` of ``D[n, m]`` (c the cumulative sum of the log gates) overflows once -c_m exceeds ~88 in
float32 (after 18 tokens at log_gamma = -5), and even the difference ``c_n - c_m`` loses |c_n|·ε of absolute
accuracy inside the exponent. Every exponent here is a sum of log gates over its own segment, ≤ 0:
``segment_sums`` (Mamba-2's stable ``segsum``, Listing 1 of arXiv 2405.21060) for the masks and ζ, chunk-local
cumulative sums for ξ. Long float32 sequences stay finite and within 1e-5 of float64 in every mode (tested: T = 8192
at log_gamma ≈ -5 recurrent and chunkwise, T = 1024 in all three modes). The one-chunk (parallel) delta rule's
float32 error grows with T through its T × T solve (5e-6 at T = 1024 without a gate): chunks of ~64 are the
accurate and fast choice for long sequences. Float16 and bfloat16 inputs are computed in float32 (the cumulative
gates and the triangular solve need it) and the results cast back; float32 and float64 in their own dtype.

**Bad input** raises ``TypeError``/``ValueError`` naming the argument (``retnet_edu._args``): gates and β must
have q's dtype and device and exactly the shapes above; log gates must be finite and ≤ 0 (gates in (0, 1]: a
gate of 0 is a very negative log gate, e.g. -1e4); β must lie in [0, 2] (see ``delta_rule`` for why). No input is
modified in place; every mode is differentiable with respect to q, k, v, the gates, β and the state.
"""

from __future__ import annotations

import torch
from torch import Tensor

import retnet_edu.kernels as kernels
from retnet_edu._args import check_chunk_size, check_like, check_qkv_shapes, check_state, check_tensor

__all__ = ["MODES", "segment_sums", "gated_retention", "gla", "delta_rule"]

MODES = ("parallel", "recurrent", "chunkwise")


# ----------------------------------------------------------------------------------------------------------
# segment sums: exponents that are never positive
# ----------------------------------------------------------------------------------------------------------
def segment_sums(a: Tensor) -> Tensor:
    r"""The segment sums of log gates along the last axis: for ``a`` of shape (..., L) returns (..., L, L) with

    ``out[..., n, m] = Σ_{m<i≤n} a[..., i]`` for n ≥ m (0 on the diagonal) and -inf above it,

    so that ``exp(segment_sums(log_gamma))`` is the decay mask D of gated retention (γ^(n-m) when the log gates are
    all log γ: eq. 5's D). As Mamba-2's stable ``segsum`` (Listing 1 of arXiv 2405.21060) each entry is summed over
    its own segment, a cumulative sum down each column of a matrix that holds a_i below the diagonal and zeros
    elsewhere, never as a difference ``c_n - c_m`` of cumulative sums (which in float32 loses |c_n|·ε of absolute
    accuracy in the exponent: 2e-5 relative once |c_n| ≈ 300). O(L²) memory.
    """
    check_tensor(a, "a")
    if a.dim() < 1:
        raise ValueError("a must have at least one axis (..., L), got a 0-D tensor")
    return _segment_sums(a)


def _segment_sums(a: Tensor) -> Tensor:
    L = a.shape[-1]
    ones = torch.ones(L, L, dtype=torch.bool, device=a.device)
    x = a.unsqueeze(-1).expand(*a.shape, L)  # x[..., i, j] = a_i
    s = torch.where(ones.tril(-1), x, 0).cumsum(-2)  # s[..., n, m] = Σ_{i≤n, i>m} a_i
    return s.masked_fill(~ones.tril(), float("-inf"))


# ----------------------------------------------------------------------------------------------------------
# checks
# ----------------------------------------------------------------------------------------------------------
def _check_values(x: Tensor, name: str, low: float, high: float, what: str) -> None:
    """ValueError naming ``name`` unless every entry is finite and in [low, high] (skipped on the meta device)."""
    if x.device.type == "meta" or x.numel() == 0:
        return
    g = x.detach()
    if torch.isnan(g).any():
        raise ValueError(f"{name} contains NaN")
    bad = ~(torch.isfinite(g) & (g >= low) & (g <= high))
    if bad.any():
        raise ValueError(f"{name} must be finite and {what}, got {g[bad].flatten()[0].item()!r}")


def _check_log_gate(x, name: str, shape: tuple[int, ...], layout: str, q: Tensor) -> None:
    check_like(x, name, shape, layout, q)
    _check_values(x, name, float("-inf"), 0.0, f"<= 0 (a log gate: exp({name}) lies in (0, 1])")


def _chunk_length(mode, chunk_size, t: int) -> int | None:
    """The chunk length the mode runs with (None: token by token), after checking ``mode`` and ``chunk_size``."""
    if not isinstance(mode, str):
        raise TypeError(f"mode must be a str, one of {MODES}, got {type(mode).__name__}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if chunk_size is not None:
        chunk_size = check_chunk_size(chunk_size)
    if mode == "recurrent":
        return None
    if mode == "parallel":
        return max(t, 1)  # the whole sequence as one chunk
    if chunk_size is None:
        raise ValueError("mode='chunkwise' needs chunk_size, a positive int; got None")
    return chunk_size


# ----------------------------------------------------------------------------------------------------------
# the driver: token by token or chunk by chunk
# ----------------------------------------------------------------------------------------------------------
def _run(step, chunk, seqs: tuple[Tensor, ...], chunk_len: int | None, state: Tensor | None) -> tuple[Tensor, Tensor]:
    """Run ``step`` over the tokens (chunk_len None) or ``chunk`` over the chunks of ``seqs`` (q, k, v, then the
    gates; time is axis 2 of each), starting from ``state``. Float16/bfloat16 are computed in float32."""
    q, v = seqs[0], seqs[2]
    b, h, t, d_k = q.shape
    d_v = v.shape[-1]
    dtype, work = q.dtype, kernels.decay_dtype(q.dtype)
    if work != dtype:
        seqs = tuple(x.to(work) for x in seqs)
        state = None if state is None else state.to(work)
    if t == 0:
        S = torch.zeros(b, h, d_k, d_v, dtype=work, device=q.device) if state is None else state.clone()
        o = q.new_zeros(b, h, 0, d_v, dtype=work)
    elif chunk_len is None:
        S = torch.zeros(b, h, d_k, d_v, dtype=work, device=q.device) if state is None else state
        outs = []
        for n in range(t):
            o_n, S = step(*(x[:, :, n] for x in seqs), S)
            outs.append(o_n)
        o = torch.stack(outs, dim=2)
    else:
        S, outs = state, []  # S None: no cross part and no decayed state in the first chunk
        for start in range(0, t, chunk_len):
            o_c, S = chunk(*(x[:, :, start : start + chunk_len] for x in seqs), S)
            outs.append(o_c)
        o = torch.cat(outs, dim=2) if len(outs) > 1 else outs[0]
    return (o, S) if work == dtype else (o.to(dtype), S.to(dtype))


def _outer(k_n: Tensor, v_n: Tensor) -> Tensor:
    """k_nᵀ v_n for every batch and head: (B, H, d_k) × (B, H, d_v) → (B, H, d_k, d_v)."""
    return k_n.unsqueeze(-1) * v_n.unsqueeze(-2)


def _read(q_n: Tensor, S: Tensor) -> Tensor:
    """o_n = q_n S_n: (B, H, d_k) × (B, H, d_k, d_v) → (B, H, d_v)."""
    return (q_n.unsqueeze(-2) @ S).squeeze(-2)


# ----------------------------------------------------------------------------------------------------------
# gated retention
# ----------------------------------------------------------------------------------------------------------
def _gated_step(q_n, k_n, v_n, a_n, S):
    S = torch.exp(a_n)[..., None, None] * S + _outer(k_n, v_n)  # S_n = exp(log γ_n) S_{n-1} + k_nᵀ v_n
    return _read(q_n, S), S


def _gated_chunk(q, k, v, a, R):
    D = torch.exp(_segment_sums(a))  # D[j, l] = exp(Σ_{l<i≤j} a_i), 0 above the diagonal
    o = ((q @ k.transpose(-1, -2)) * D) @ v  # inner part (Q Kᵀ ⊙ D) V
    zeta = D[..., -1, :, None]  # ζ_l = exp(Σ_{l<i≤L-1} a_i) = D[L-1, l]
    S = k.transpose(-1, -2) @ (v * zeta)  # Kᵀ (V ⊙ ζ)
    if R is not None:
        xi = torch.exp(a.cumsum(-1))[..., None]  # ξ_j = exp(Σ_{i≤j} a_i)
        o = o + (q @ R) * xi  # + ξ ⊙ (Q R_{i-1})
        S = S + xi[..., -1:, :] * R  # + ξ_{L-1} R_{i-1}
    return o, S


def gated_retention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    log_gamma: Tensor,
    *,
    mode: str = "parallel",
    chunk_size: int | None = None,
    state: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    r"""Gated retention: ``S_n = exp(log_gamma_n) · S_{n-1} + k_nᵀ v_n``, ``o_n = q_n S_n``; returns ``(o, S_T)``.

    Retention (eq. 6) with the fixed γ_h replaced by a gate per token and head, ``log_gamma`` (B, H, T), each ≤ 0
    (YOCO's gated retention, arXiv 2405.05254, makes the gate from the token with a sigmoid; Mamba-2's SSD, arXiv
    2405.21060, writes it exp(Δ_n A)). Unrolled, ``o_n = Σ_{m≤n} D[n, m] (q_n · k_m) v_m + exp(c_n) q_n S_{-1}`` with
    ``D[n, m] = exp(Σ_{m<i≤n} log_gamma_i)`` and ``c_n = Σ_{i≤n} log_gamma_i``: eq. 5's D with γ^(n-m) replaced
    by the product of the gates between m and n (a 1-semiseparable mask, in Mamba-2's words).

    - ``mode="parallel"``: ``o = (Q Kᵀ ⊙ D) V + ξ ⊙ (Q S_{-1})``, D = exp(``segment_sums(log_gamma)``), and the state
      ``S_T = Kᵀ (V ⊙ ζ) + exp(c_{T-1}) S_{-1}`` — the chunkwise form below with one chunk of T tokens.
    - ``mode="chunkwise"``: eq. 7 of the RetNet paper with data-dependent factors, from the chunk-local cumulative
      log gates b_j = Σ_{i≤j} a_i of each chunk (a its log gates, j = 0 … L-1):
      inner part ``(Q_[i] K_[i]ᵀ ⊙ D) V_[i]`` with D the chunk's L × L mask; cross part ``ξ ⊙ (Q_[i] R_{i-1})``,
      ``ξ_j = exp(b_j)`` (γ^(j+1) in RetNet); state ``R_i = K_[i]ᵀ (V_[i] ⊙ ζ) + exp(b_{L-1}) R_{i-1}``,
      ``ζ_j = exp(Σ_{j<i≤L-1} a_i)`` (γ^(L-1-j) in RetNet; the last row of D, summed over its own segment).
    - ``mode="recurrent"``: the recurrence, token by token.
    """
    b, h, t, d_k, d_v = check_qkv_shapes(q, k, v)
    _check_log_gate(log_gamma, "log_gamma", (b, h, t), "(B, H, T)", q)
    chunk_len = _chunk_length(mode, chunk_size, t)
    check_state(state, b, h, d_k, d_v, q)
    return _run(_gated_step, _gated_chunk, (q, k, v, log_gamma), chunk_len, state)


# ----------------------------------------------------------------------------------------------------------
# gated linear attention
# ----------------------------------------------------------------------------------------------------------
def _gla_step(q_n, k_n, v_n, a_n, S):
    S = torch.exp(a_n)[..., :, None] * S + _outer(k_n, v_n)  # S_n = diag(exp(log α_n)) S_{n-1} + k_nᵀ v_n
    return _read(q_n, S), S


def _gla_chunk(q, k, v, a, R):
    D = torch.exp(_segment_sums(a.transpose(-1, -2)))  # (B, H, d_k, L, L): D[c, j, l] = exp(Σ_{l<i≤j} a_{i,c})
    scores = torch.einsum("bhjc,bhlc,bhcjl->bhjl", q, k, D)  # Σ_c q_{j,c} k_{l,c} D[c, j, l]
    o = scores @ v  # inner part
    zeta = D[..., -1, :].transpose(-1, -2)  # (B, H, L, d_k): ζ_{l,c} = exp(Σ_{l<i≤L-1} a_{i,c})
    S = (k * zeta).transpose(-1, -2) @ v  # (K ⊙ ζ)ᵀ V
    if R is not None:
        xi = torch.exp(a.cumsum(-2))  # (B, H, L, d_k): ξ_{j,c} = exp(Σ_{i≤j} a_{i,c})
        o = o + (q * xi) @ R  # + (Q ⊙ ξ) R_{i-1}
        S = S + xi[..., -1, :, None] * R  # + diag(ξ_{L-1}) R_{i-1}
    return o, S


def gla(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    log_alpha: Tensor,
    *,
    mode: str = "parallel",
    chunk_size: int | None = None,
    state: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    r"""Gated linear attention (GLA, Yang et al. 2023, arXiv 2312.06635): ``S_n = diag(exp(log_alpha_n)) · S_{n-1}
    + k_nᵀ v_n``, ``o_n = q_n S_n``; returns ``(o, S_T)``.

    ``log_alpha`` (B, H, T, d_k), each ≤ 0: a gate for every key channel, i.e. every row of the state (the GLA
    paper's α_t, there written ``S_t = (α_tᵀ 1) ⊙ S_{t-1} + k_tᵀ v_t``). Unrolled,
    ``o_n = Σ_{m≤n} Σ_c q_{n,c} k_{m,c} exp(Σ_{m<i≤n} log_alpha_{i,c}) v_m + (q_n ⊙ exp(c_n)) S_{-1}``: gated
    retention's mask, one per channel.

    - ``mode="parallel"``: that sum as written, with a T × T × d_k mask D[c] = exp(``segment_sums``) per channel
      (memory O(T² d_k): the plain equation for short sequences; the GLA paper's secondary chunking computes the
      same numbers in less memory).
    - ``mode="chunkwise"``: per chunk, with chunk-local cumulative gates b_{j,c} = Σ_{i≤j} a_{i,c}: inner part as
      the parallel form on the chunk; cross part ``(Q_[i] ⊙ ξ) R_{i-1}``, ``ξ_{j,c} = exp(b_{j,c})``; state
      ``R_i = (K_[i] ⊙ ζ)ᵀ V_[i] + diag(exp(b_{L-1})) R_{i-1}``, ``ζ_{j,c} = exp(Σ_{j<i≤L-1} a_{i,c})``: gated
      retention's ξ and ζ per channel, multiplying q and k (a channel's decay cannot be moved onto v).
    - ``mode="recurrent"``: the recurrence, token by token.
    """
    b, h, t, d_k, d_v = check_qkv_shapes(q, k, v)
    _check_log_gate(log_alpha, "log_alpha", (b, h, t, d_k), "(B, H, T, d_k)", q)
    chunk_len = _chunk_length(mode, chunk_size, t)
    check_state(state, b, h, d_k, d_v, q)
    return _run(_gla_step, _gla_chunk, (q, k, v, log_alpha), chunk_len, state)


# ----------------------------------------------------------------------------------------------------------
# the delta rule
# ----------------------------------------------------------------------------------------------------------
def _delta_step(q_n, k_n, v_n, beta_n, a_n, S):
    beta_n = beta_n[..., None, None]
    kS = k_n.unsqueeze(-2) @ S  # k_n S_{n-1}, (B, H, 1, d_v)
    erased = S - beta_n * (k_n.unsqueeze(-1) * kS)  # (I - β_n k_nᵀ k_n) S_{n-1}
    S = torch.exp(a_n)[..., None, None] * erased + beta_n * _outer(k_n, v_n)  # exp(log γ_n)(…) + β_n k_nᵀ v_n
    return _read(q_n, S), S


def _delta_chunk(q, k, v, beta, a, R):
    L, d_v = q.shape[-2], v.shape[-1]
    G = torch.exp(_segment_sums(a))  # Γ[j, l] = exp(Σ_{l<i≤j} a_i), 0 above the diagonal
    A = torch.tril(beta[..., None] * (k @ k.transpose(-1, -2)) * G, -1)  # A[j, l] = β_j (k_j · k_l) Γ[j, l], l < j
    rhs = v * beta[..., None]  # diag(β) V
    if R is not None:
        xi = torch.exp(a.cumsum(-1))[..., None]  # ξ_j = exp(Σ_{i≤j} a_i)
        rhs = torch.cat([rhs, k * (beta[..., None] * xi)], dim=-1)  # [diag(β) V, diag(β ⊙ ξ) K]
    eye = torch.eye(L, dtype=q.dtype, device=q.device)
    X = torch.linalg.solve_triangular(eye + A, rhs, upper=False, unitriangular=True)  # (I + A)^(-1) rhs
    U = X[..., :d_v]  # U' = (I + A)^(-1) diag(β) V
    if R is not None:
        U = U - X[..., d_v:] @ R  # U = U' - W R_{i-1}, W = (I + A)^(-1) diag(β ⊙ ξ) K
    o = ((q @ k.transpose(-1, -2)) * G) @ U  # inner part (Q Kᵀ ⊙ Γ) U
    S = k.transpose(-1, -2) @ (U * G[..., -1, :, None])  # Kᵀ (U ⊙ ζ), ζ_l = Γ[L-1, l]
    if R is not None:
        o = o + (q @ R) * xi  # + ξ ⊙ (Q R_{i-1})
        S = S + xi[..., -1:, :] * R  # + ξ_{L-1} R_{i-1}
    return o, S


def delta_rule(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    beta: Tensor,
    *,
    log_gamma: Tensor | None = None,
    mode: str = "parallel",
    chunk_size: int | None = None,
    state: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    r"""The delta rule: ``S_n = exp(log_gamma_n) · (I − β_n k_nᵀ k_n) · S_{n-1} + β_n k_nᵀ v_n``,
    ``o_n = q_n S_n``; returns ``(o, S_T)``. ``log_gamma`` None (= 0): DeltaNet; given (B, H, T), each ≤ 0:
    Gated DeltaNet (arXiv 2412.06464).

    **What it does.** Ungated, ``S_n = S_{n-1} + β_n k_nᵀ (v_n − k_n S_{n-1})``: one step of gradient descent, with
    learning rate β_n, on ``½‖k_n S − v_n‖²``. With a unit-norm key and β_n = 1 the value stored under k_n is
    *replaced* by v_n (``k_n S_n = v_n`` exactly), where linear attention would add it to what is there.

    **β ∈ [0, 2].** The transition ``I − β k_nᵀ k_n`` has eigenvalue 1 on the keys' orthogonal complement and
    ``1 − β‖k_n‖²`` along k_n. With unit-norm keys (the caller normalises) that eigenvalue lies in [−1, 1], so the
    state never grows under the transition, exactly for β ∈ [0, 2]: [0, 1] is DeltaNet's range (β = sigmoid(·),
    a partial or full overwrite); (1, 2] gives the negative eigenvalues that some work uses for state tracking
    (β = 2: a reflection). Outside [0, 2] the state grows geometrically, so those values are rejected.

    **The chunkwise form (the WY representation, computed by the UT transform, as in arXiv 2406.06484; gated as
    in arXiv 2412.06464).** Take one chunk of L tokens, j = 0 … L-1, with the state R = R_{i-1} before it, its
    log gates a_j, the chunk-local cumulative gates b_j = Σ_{i≤j} a_i, ξ_j = exp(b_j) and the mask
    Γ[j, l] = exp(Σ_{l<i≤j} a_i) for j ≥ l, 0 above (gated retention's D). Define the value actually written at
    token j, the *pseudo-value*

        u_j = β_j (v_j − exp(a_j) k_j S_{j-1}).

    Then ``S_j = exp(a_j) S_{j-1} + k_jᵀ u_j`` (expand: exp(a_j) S_{j-1} − β_j exp(a_j) k_jᵀ k_j S_{j-1} + β_j k_jᵀ
    v_j), which is *gated retention with values u*, so, unrolled over the chunk,

        S_j = ξ_j R + Σ_{l≤j} Γ[j, l] k_lᵀ u_l,   exp(a_j) S_{j-1} = ξ_j R + Σ_{l<j} Γ[j, l] k_lᵀ u_l.

    Substituting the second into u_j:  u_j + β_j Σ_{l<j} Γ[j, l] (k_j · k_l) u_l = β_j v_j − β_j ξ_j k_j R, i.e.
    the unit-lower-triangular system

        (I + A) U = diag(β) V − diag(β ⊙ ξ) K R,   A = tril(diag(β) (K Kᵀ) ⊙ Γ, −1).

    With the inverse (I + A)^(-1) (the UT transform; here a triangular solve), ``W = (I + A)^(-1) diag(β ⊙ ξ) K``
    and ``U' = (I + A)^(-1) diag(β) V`` depend on the chunk alone (the hardware-efficient algorithm makes every
    chunk's at once), and ``U = U' − W R`` brings in the state. The rest is gated retention's chunk with values U:

        O_[i] = (Q Kᵀ ⊙ Γ) U + ξ ⊙ (Q R),        R_i = Kᵀ (U ⊙ ζ) + ξ_{L-1} R,   ζ_l = Γ[L-1, l].

    Ungated (Γ = the causal mask of ones, ξ = 1) this is DeltaNet's chunkwise form; the transition product of the
    chunk is ``exp(b_{L-1}) I − Kᵀ diag(ζ) W`` (its WY form), which ``R_i`` applies without building it.

    - ``mode="parallel"``: the form above with one chunk of T tokens (a T × T triangular solve).
    - ``mode="chunkwise"``: the form above chunk after chunk (L = ``chunk_size``, the last chunk possibly shorter).
    - ``mode="recurrent"``: the recurrence, token by token, as written in the first line.
    """
    b, h, t, d_k, d_v = check_qkv_shapes(q, k, v)
    check_like(beta, "beta", (b, h, t), "(B, H, T)", q)
    _check_values(beta, "beta", 0.0, 2.0, "in [0, 2]")
    if log_gamma is None:
        log_gamma = q.new_zeros(b, h, t)  # DeltaNet: no decay (exp(0) = 1 exactly)
    else:
        _check_log_gate(log_gamma, "log_gamma", (b, h, t), "(B, H, T)", q)
    chunk_len = _chunk_length(mode, chunk_size, t)
    check_state(state, b, h, d_k, d_v, q)
    return _run(_delta_step, _delta_chunk, (q, k, v, beta, log_gamma), chunk_len, state)
