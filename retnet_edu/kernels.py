r"""The named fast paths of the core: each computes the numbers of a plain equation in ``retention.py`` or
``position.py`` with fewer or larger operations, and each is tested equal to it (``tests/test_fast_paths.py``).

``retention.py`` and ``position.py`` read top to bottom as the paper: checks, then the equation. Where an equation
has a faster form, the public function calls the kernel from here and its docstring says when. What lives here:

- **decay numbers**: ``decay_dtype`` (the precision powers of γ are taken in), ``decay_powers`` (γ_h^e, exponents
  ≥ 0, never overflowing), ``toeplitz_decay_mask`` (D of eq. 5 from its T distinct powers, bit for bit the powers),
  ``chunk_factors`` (D^(n), ξ, ζ and γ^n of eq. 7 for a chunk of n tokens);
- **one cache for what depends only on positions and decays**: ``shared_position_factors()``: inside it the rotation
  factors and the decay factors are made once and reused by every later call that needs the same numbers (every
  layer of a model, q and k of a layer); ``shared_store()`` shows the cache (tests);
- **rotation**: ``rotation_factors`` (sines with the sign of ``rotate_every_two`` folded in, cosines) and
  ``rotate_pairs``: bit for bit ``x cos + rotate_every_two(x) sin``;
- **retention**: ``recurrent_decode_step`` (eq. 6 for one token in fewer operations, bit for bit the step),
  ``chunkwise_retention_batched`` (eq. 7 with all full chunks in one batched product: equal to the chunk loop up to
  rounding, the sums are taken in another order) and ``prefer_batched_chunks`` (when it pays off).

The split: kernels take **already-checked tensors only** and check nothing. The public functions check their
arguments (with ``retnet_edu._args``, where the tensor checks live so that this module, ``retention`` and the
course's proof lab share them) and then call a kernel. A decay argument named ``g`` is γ already converted to the
decay dtype (``decay_dtype``). This module imports nothing from the package but ``_args`` (its per-tensor memo).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable

import torch
from torch import Tensor

from retnet_edu._args import tensor_memo

__all__ = [
    "decay_dtype",
    "decay_powers",
    "toeplitz_decay_mask",
    "chunk_factors",
    "shared_position_factors",
    "shared_store",
    "rotation_factors",
    "rotate_pairs",
    "recurrent_decode_step",
    "prefer_batched_chunks",
    "chunkwise_retention_batched",
]


# ----------------------------------------------------------------------------------------------------------
# decay numbers
# ----------------------------------------------------------------------------------------------------------
def decay_dtype(*dtypes: torch.dtype) -> torch.dtype:
    """float64 if any of ``dtypes`` is float64, else float32: the precision in which powers of γ are taken (so that
    a bfloat16/float16 computation does not round γ to 1)."""
    return torch.float64 if torch.float64 in dtypes else torch.float32


def decay_powers(g: Tensor, exponents: Tensor) -> Tensor:
    """``g[h] ** exponents`` for every head: shape (H, *exponents.shape). Exponents must be ≥ 0 (then every power
    is at most 1 and nothing overflows)."""
    return torch.pow(g.reshape((-1,) + (1,) * exponents.dim()), exponents)


def toeplitz_decay_mask(g: Tensor, t: int) -> Tensor:
    """D of eq. 5, shape (H, t, t) in g's dtype: γ^(n-m) below and on the diagonal, exactly 0 above.

    Every power has a non-negative exponent (never γ^n · γ^(-m), which overflows once γ^(-m) exceeds the dtype's
    range). D is a Toeplitz matrix (its entries depend on n - m only), so only the t powers γ^0 … γ^(t-1) are
    computed, once each; a strided view lays them out along the diagonals and one copy writes the matrix (every
    diagonal holds one and the same number, so the result is bit for bit the powers).
    """
    h = g.shape[0]
    if t == 0:
        return g.new_zeros(h, 0, 0)
    w = g.new_zeros(h, 2 * t - 1)
    w[:, t - 1 :] = decay_powers(g, torch.arange(t, device=g.device, dtype=g.dtype))
    # w = [0, …, 0, γ^0, γ^1, …, γ^(t-1)] (t-1 zeros); F[n, j] = w[n + j] = D[n, t-1-j]: flip the columns
    return w.as_strided((h, t, t), (w.stride(0), 1, 1)).flip(-1)


# ----------------------------------------------------------------------------------------------------------
# one cache for what depends only on positions and decays
# ----------------------------------------------------------------------------------------------------------
_SHARED: contextvars.ContextVar[dict | None] = contextvars.ContextVar("retnet_edu_shared_factors", default=None)


@contextlib.contextmanager
def shared_position_factors():
    """Inside this block, calls that need the same position or decay factors share them.

    Rotating q and k needs the sines and cosines of their positions (``rotation_factors``); parallel and chunkwise
    retention need the decay matrix D (eq. 5) or the chunk factors D^(n), ξ, ζ, γ^n (eq. 7) (``chunk_factors``).
    All layers of a model see the same positions and (with the same γ) need the same numbers, so inside this block
    the first call makes them and the later ones reuse them (the official code computes them once per forward too,
    in ``RetNetRelPos``). The numbers are the same either way; the model is faster, and in training the autograd
    graph keeps one D instead of one per layer. ``RetNetLM.forward`` and ``TransformerLM.forward`` run their layers
    inside this block, and each retention or attention layer opens one around its own call (so that its q and k
    share one set of rotation factors when it is called alone). What is shared is released when the outermost block
    ends; nested blocks share the outer one's store.
    """
    if _SHARED.get() is not None:
        yield
        return
    token = _SHARED.set({})
    try:
        yield
    finally:
        _SHARED.reset(token)


def shared_store() -> dict | None:
    """The cache of the enclosing ``shared_position_factors`` block (key → factors), or None outside any block. Keys
    are tuples whose first entry says what is cached: "rotation" or "factors" (the chunk factors of one length)."""
    return _SHARED.get()


def _shared(key: Callable[[], tuple], make: Callable[[], tuple]) -> tuple:
    """``make()``, or inside ``shared_position_factors`` the value made earlier for ``key()`` (the key is built only
    inside a block: outside there is nothing to look up)."""
    store = _SHARED.get()
    if store is None:
        return make()
    k = key()
    if k not in store:
        store[k] = make()
    return store[k]


def _values_key(g: Tensor) -> tuple:
    """γ's values as a hashable key (layers with equal decays share factors), read once per tensor version."""
    memo = tensor_memo(g)
    if "values" not in memo:
        memo["values"] = tuple(g.tolist())
    return memo["values"]


def chunk_factors(g: Tensor, n: int, dtype: torch.dtype) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """For a chunk of n tokens (eq. 7): ``D^(n)`` (H, n, n), ``ξ`` (H, n, 1) with ξ_j = γ^(j+1), ``ζ`` (H, n, 1) with
    ζ_j = γ^(n-1-j), and ``γ^n`` (H, 1, 1), computed in g's dtype and cast to ``dtype``: the numbers that
    ``chunk_cross_retention`` and ``chunk_state_update`` compute, bit for bit. Shared inside
    ``shared_position_factors`` by every call with the same decays, n and dtype.

    With n = T they are also what parallel retention with a state needs: the whole sequence as one chunk.
    """

    def make():
        j = torch.arange(n, device=g.device, dtype=g.dtype)
        xi = decay_powers(g, j + 1).to(dtype)[..., None]  # ξ_j = γ^(j+1)
        zeta = decay_powers(g, (n - 1) - j).to(dtype)[..., None]  # ζ_j = γ^(n-1-j)
        chunk_decay = torch.pow(g, float(n)).to(dtype)[:, None, None]  # γ^n
        return toeplitz_decay_mask(g, n).to(dtype), xi, zeta, chunk_decay

    return _shared(lambda: ("factors", _values_key(g), g.dtype, n, dtype, g.device), make)


# ----------------------------------------------------------------------------------------------------------
# rotation
# ----------------------------------------------------------------------------------------------------------
_SIGNS: dict[tuple[int, torch.dtype, torch.device], Tensor] = {}


def rotation_factors(
    angles64: Tensor, T: int, offset: int, dtype: torch.dtype, device: torch.device
) -> tuple[Tensor, Tensor]:
    """``(signed_sin, cos)``, each (T, d_k) in ``dtype`` on ``device``, for positions offset … offset+T-1.

    ``angles64``: the d_k rotation angles ``[θ0, θ0, θ1, θ1, …]`` in float64 (``position.rotation_angles``), on the
    device where float64 exists (the CPU for MPS). Positions times angles and their sines and cosines are taken in
    float64 and then cast, exactly as ``position.rotation_sin_cos`` does; the sines get the sign of
    ``rotate_every_two`` folded in (``-sin`` on even coordinates, ``+sin`` on odd ones: a sign change is exact).
    Shared inside ``shared_position_factors`` (keyed by the angles tensor, which ``position`` makes once per d_k).
    """

    def make():
        if T == 1:  # decoding: position times angle, the same products without an arange
            angles = (angles64 * float(offset))[None, :]
        else:
            pos = torch.arange(offset, offset + T, dtype=torch.float64, device=angles64.device)
            angles = pos[:, None] * angles64[None, :]
        sin = torch.sin(angles).to(dtype=dtype, device=device)
        cos = torch.cos(angles).to(dtype=dtype, device=device)
        key = (angles64.shape[0], sin.dtype, sin.device)
        if key not in _SIGNS:
            _SIGNS[key] = torch.tensor([-1.0, 1.0], dtype=sin.dtype, device=sin.device).repeat(angles64.shape[0] // 2)
        return sin * _SIGNS[key], cos, angles64  # angles64 kept: its id stays valid while the store holds it

    signed_sin, cos, _ = _shared(lambda: ("rotation", id(angles64), T, offset, dtype, device), make)
    return signed_sin, cos


def rotate_pairs(x: Tensor, signed_sin: Tensor, cos: Tensor) -> Tensor:
    """``x cos + rotate_every_two(x) sin`` from ``rotation_factors``, bit for bit, in fewer operations: each pair
    ``(x_2i, x_2i+1)`` swapped is ``(x_2i+1, x_2i)``, and ``(-x_2i+1)·sin = x_2i+1·(-sin)`` exactly."""
    pairs = x.unflatten(-1, (-1, 2))
    if x.shape[-2] == 1:  # one token (decoding): fewest operations
        swapped = pairs.flip(-1).flatten(-2)
    else:  # many tokens: two strided copies beat flip's indexing
        swapped = torch.stack((pairs[..., 1], pairs[..., 0]), dim=-1).flatten(-2)
    return x * cos + swapped * signed_sin


# ----------------------------------------------------------------------------------------------------------
# retention
# ----------------------------------------------------------------------------------------------------------
def recurrent_decode_step(q: Tensor, k: Tensor, v: Tensor, g: Tensor, S: Tensor) -> tuple[Tensor, Tensor]:
    """Eq. 6 for one token on (B, H, 1, d) slices: ``S_n = γ S_{n-1} + k_nᵀ v_n``, ``o_n = q_n S_n``; returns
    ``(o (B, H, 1, d_v), S_n)``. Bit for bit ``retention_step``: ``k_nᵀ v_n`` as a product over an inner dimension of
    1 rounds each entry once, exactly like the elementwise product; the decay is applied in g's precision."""
    decayed = g[:, None, None] * S
    if decayed.dtype != S.dtype:
        decayed = decayed.to(S.dtype)
    S = decayed + k.transpose(-1, -2) @ v  # S_n = γ S_{n-1} + k_nᵀ v_n
    return q @ S, S  # o_n = q_n S_n


def prefer_batched_chunks(chunk_size: int, d_k: int, d_v: int) -> bool:
    """Whether ``chunkwise_retention_batched`` beats the chunk loop: yes unless the chunks are so small that their
    T/B states (d_k·d_v numbers each) would outweigh the chunks themselves (B·(d_k + d_v) numbers)."""
    return chunk_size * (d_k + d_v) >= d_k * d_v


def chunkwise_retention_batched(
    q: Tensor, k: Tensor, v: Tensor, g: Tensor, chunk_size: int, state: Tensor | None
) -> tuple[Tensor, Tensor]:
    """Eq. 7 with the full chunks computed together: ``(o, S_T)`` like ``chunkwise_retention``, equal to its chunk
    loop up to rounding (the products are summed in another order).

    The inner parts of the full chunks and their contributions K_[i]ᵀ(V_[i] ⊙ ζ) to the state are independent of
    each other, so each is one batched product over all chunks; only the state update
    R_i = γ^B R_{i-1} + K_[i]ᵀ(V_[i] ⊙ ζ) runs chunk after chunk (two small operations per chunk), and the cross
    parts ξ ⊙ (Q_[i] R_{i-1}) are again one batched product. A shorter last chunk follows on its own. The price: the
    T/B states R_{i-1} exist at once (T/B · d_k · d_v numbers per head; training keeps them for the backward pass in
    either form), where the loop without gradients holds one at a time (see ``prefer_batched_chunks``).
    """
    b, h, t, d_k = q.shape
    d_v = v.shape[-1]
    R = torch.zeros(b, h, d_k, d_v, dtype=q.dtype, device=q.device) if state is None else state
    outs = []
    n_full = t // chunk_size
    if n_full:
        C, tf = chunk_size, n_full * chunk_size
        D, xi, zeta, chunk_decay = chunk_factors(g, C, q.dtype)
        qf, kf, vf = (x[:, :, :tf].reshape(b, h, n_full, C, x.shape[-1]) for x in (q, k, v))
        inner = ((qf @ kf.transpose(-1, -2)) * D[:, None]) @ vf  # (B, H, chunks, C, d_v)
        updates = kf.transpose(-1, -2) @ (vf * zeta[:, None])  # K_[i]ᵀ (V_[i] ⊙ ζ), every chunk
        before = []  # R_{i-1} for each chunk i
        for i in range(n_full):
            before.append(R)
            R = chunk_decay * R + updates[:, :, i]  # R_i = γ^C R_{i-1} + K_[i]ᵀ(V_[i] ⊙ ζ)
        cross = (qf @ torch.stack(before, dim=2)) * xi[:, None]  # ξ ⊙ (Q_[i] R_{i-1})
        outs.append((inner + cross).reshape(b, h, tf, d_v))
    if t > n_full * chunk_size:  # the shorter last chunk
        qc, kc, vc = (x[:, :, n_full * chunk_size :] for x in (q, k, v))
        D, xi, zeta, chunk_decay = chunk_factors(g, qc.shape[2], q.dtype)
        outs.append(((qc @ kc.transpose(-1, -2)) * D) @ vc + (qc @ R) * xi)
        R = chunk_decay * R + kc.transpose(-1, -2) @ (vc * zeta)
    o = torch.cat(outs, dim=2) if len(outs) > 1 else outs[0] if outs else q.new_zeros(b, h, 0, d_v)
    return o, (R.clone() if t == 0 else R)
