"""Argument checks shared by the package's modules (the lowest layer: imports nothing from the package).

Bad input gets a TypeError or ValueError that names the argument and says what was expected."""

from __future__ import annotations

import math
import numbers


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
