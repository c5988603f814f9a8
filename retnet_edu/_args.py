"""Argument checks shared by the package's modules (the lowest layer: imports nothing from the package).

Bad input gets a TypeError or ValueError that names the argument and says what was expected.

Besides numbers and config fields, the retention tensors are checked here (``check_tensor``, ``check_gamma``,
``check_qkv``, ``check_qkv_shapes``, ``check_like``, ``check_state``, ``check_chunk_size``):
``retnet_edu.retention`` and ``retnet_edu.successors`` call them at the top of every public function, and the
course's proof lab (``course.buggy``, ``course.official_scaling``) reuses them. Checking
γ's *values* (NaN, range) takes tensor operations; ``tensor_memo`` lets that run once per tensor and version
instead of once per call (decoding calls retention once per token and layer with the same γ).
"""

from __future__ import annotations

import math
import numbers
import weakref

import torch
from torch import Tensor


def check_int(value, name: str, minimum: int = 1) -> int:
    """``value`` as an int if it is an integer (not a bool) ≥ ``minimum``: TypeError for a non-integer,
    ValueError for one that is too small."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        what = "a positive int" if minimum == 1 else f"an int >= {minimum}"
        raise ValueError(f"{name} must be {what}, got {value}")
    return int(value)


def check_real(value, name: str, positive: bool = True) -> float:
    """``value`` as a float if it is a finite real number (not a bool), and > 0 when ``positive``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise TypeError(f"{name} must be a finite real number, got {value!r}")
    if positive and value <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    return float(value)


def check_fields(obj, ints: dict[str, int] | None = None, reals: tuple[str, ...] = ()) -> None:
    """Validate a config object's fields: each name in ``ints`` an int (not a bool) ≥ its minimum, each name in
    ``reals`` a finite number ≥ 0. A ValueError naming the field either way (config values come from flags)."""
    for name, minimum in (ints or {}).items():
        v = getattr(obj, name)
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < minimum:
            raise ValueError(f"{name} must be an int >= {minimum}, got {v!r}")
    for name in reals:
        v = getattr(obj, name)
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v) or v < 0:
            raise ValueError(f"{name} must be a finite number >= 0, got {v!r}")


def check_schedule(lr: float, min_lr: float, warmup_steps: int, max_steps: int) -> None:
    """The warm-up + cosine schedule's constraints: 0 < lr, min_lr ≤ lr, warmup_steps < max_steps (ValueError)."""
    if lr <= 0 or min_lr > lr:
        raise ValueError(f"need 0 < lr and min_lr <= lr, got lr={lr}, min_lr={min_lr}")
    if warmup_steps >= max_steps:
        raise ValueError(f"warmup_steps ({warmup_steps}) must be smaller than max_steps ({max_steps})")


# ----------------------------------------------------------------------------------------------------------
# tensors: a memo per tensor version, and the checks of retnet_edu.retention
# ----------------------------------------------------------------------------------------------------------
_MEMO: dict[int, tuple[weakref.ref, int, dict]] = {}


def _forget(key: int, ref: weakref.ref) -> None:
    entry = _MEMO.get(key)
    if entry is not None and entry[0] is ref:
        del _MEMO[key]


def tensor_memo(x: Tensor) -> dict:
    """A dict for facts about ``x``'s current values (e.g. "checked"): the same dict on every call while ``x`` is
    unchanged, a fresh empty one once ``x`` has been modified in place, gone when ``x`` is freed.

    Correct because torch bumps ``x._version`` on every in-place write to ``x`` or to a view of it (``x[0] = …``,
    ``x.mul_(…)``, ``x.copy_(…)``); writes that bypass the version counter (through ``x.data`` or a NumPy view) are
    not seen. Keyed by ``id(x)`` with a weak reference, so the memo never keeps a tensor alive. Inference tensors have
    no version counter: they get a fresh dict every time (nothing is remembered).
    """
    try:
        version = x._version
    except RuntimeError:  # inference tensors (made under torch.inference_mode)
        return {}
    key = id(x)
    entry = _MEMO.get(key)
    if entry is not None and entry[1] == version and entry[0]() is x:
        return entry[2]
    memo: dict = {}
    _MEMO[key] = (weakref.ref(x, lambda ref, key=key: _forget(key, ref)), version, memo)
    return memo


def check_tensor(x, name: str) -> Tensor:
    """``x`` unchanged if it is a floating-point tensor, else a TypeError naming ``name``."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not torch.is_floating_point(x):
        raise TypeError(f"{name} must have a floating-point dtype, got {x.dtype}")
    return x


def check_gamma(gamma, num_heads: int | None, device: torch.device | None) -> Tensor:
    """``gamma`` unchanged if it is a floating-point (H,) tensor (H = ``num_heads`` unless None) on ``device`` (unless
    None) with every entry in (0, 1]. The values are checked once per tensor version (``tensor_memo``): a second
    call with the same, unmodified tensor runs no tensor operation."""
    check_tensor(gamma, "gamma")
    if gamma.dim() != 1:
        raise ValueError(f"gamma must be a 1-D tensor of shape (H,), got shape {tuple(gamma.shape)}")
    if num_heads is not None and gamma.shape[0] != num_heads:
        raise ValueError(f"gamma must have one entry per head: expected shape ({num_heads},), got {tuple(gamma.shape)}")
    if gamma.shape[0] == 0:
        raise ValueError("gamma must have at least one entry (one per head)")
    if device is not None and gamma.device != device:
        raise ValueError(f"gamma is on {gamma.device} but q is on {device}: put them on the same device")
    if gamma.device.type != "meta":
        memo = tensor_memo(gamma)
        if "gamma checked" not in memo:
            g = gamma.detach()
            if torch.isnan(g).any():
                raise ValueError("gamma contains NaN")
            if not bool(((g > 0) & (g <= 1)).all()):
                raise ValueError(f"every gamma must lie in (0, 1], got {g.tolist()}")
            memo["gamma checked"] = True
    return gamma


def check_qkv(q, k, v, gamma) -> tuple[int, int, int, int, int]:
    """Check q, k (B, H, T, d_k), v (B, H, T, d_v) (one dtype, one device) and gamma (H,).

    Returns (B, H, T, d_k, d_v)."""
    b, h, t, d_k, d_v = check_qkv_shapes(q, k, v)
    check_gamma(gamma, h, q.device)
    return b, h, t, d_k, d_v


def check_qkv_shapes(q, k, v) -> tuple[int, int, int, int, int]:
    """Check q, k (B, H, T, d_k) and v (B, H, T, d_v): floating-point, one dtype, one device, H, d_k, d_v ≥ 1.

    Returns (B, H, T, d_k, d_v). ``check_qkv`` adds the fixed decays γ; ``retnet_edu.successors`` adds its
    data-dependent gates with ``check_like``."""
    for name, x in (("q", q), ("k", k), ("v", v)):
        check_tensor(x, name)
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
        raise ValueError(f"v must be (B, H, T, d_v) with B, H, T of q = {tuple(q.shape[:3])}, got {tuple(v.shape)}")
    b, h, t, d_k = q.shape
    d_v = v.shape[-1]
    if h < 1 or d_k < 1 or d_v < 1:
        raise ValueError(f"need H, d_k, d_v >= 1, got q {tuple(q.shape)} and v {tuple(v.shape)}")
    return b, h, t, d_k, d_v


def check_like(x, name: str, shape: tuple[int, ...], layout: str, like: Tensor) -> Tensor:
    """``x`` unchanged if it is a floating-point tensor of exactly ``shape`` with the dtype and device of ``like``
    (q). ``layout`` names the axes for the message, e.g. "(B, H, T)". For per-token inputs besides q, k, v (the
    gates of ``retnet_edu.successors``): nothing is broadcast."""
    check_tensor(x, name)
    if x.dtype != like.dtype:
        raise TypeError(f"{name} has dtype {x.dtype} but q has {like.dtype}: give it q's dtype")
    if x.device != like.device:
        raise ValueError(f"{name} is on {x.device} but q is on {like.device}: put them on one device")
    if tuple(x.shape) != tuple(shape):
        raise ValueError(f"{name} must have shape {layout} = {tuple(shape)}, got {tuple(x.shape)}")
    return x


def check_state(state, b: int, h: int, d_k: int, d_v: int, like: Tensor) -> Tensor | None:
    """``state`` unchanged if it is None or a (b, h, d_k, d_v) tensor with the dtype and device of ``like`` (q)."""
    if state is None:
        return None
    if not isinstance(state, Tensor):
        raise TypeError(f"state must be a torch.Tensor of shape (B, H, d_k, d_v) or None, got {type(state).__name__}")
    if state.dtype != like.dtype:
        raise TypeError(f"state has dtype {state.dtype} but q has {like.dtype}")
    if state.device != like.device:
        raise ValueError(f"state is on {state.device} but q is on {like.device}")
    if tuple(state.shape) != (b, h, d_k, d_v):
        raise ValueError(f"state must have shape (B, H, d_k, d_v) = {(b, h, d_k, d_v)}, got {tuple(state.shape)}")
    return state


def check_chunk_size(chunk_size) -> int:
    """``chunk_size`` as an int if it is a positive integer (not a bool, not a tensor)."""
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, numbers.Integral):
        raise TypeError(f"chunk_size must be a positive int, got {type(chunk_size).__name__}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive int, got {chunk_size}")
    return int(chunk_size)
