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
