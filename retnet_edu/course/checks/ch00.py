"""The exercise checkers of notebook 00 (``notebooks/00_welcome_and_setup.ipynb``)."""

from __future__ import annotations

import math

from retnet_edu.course.checks._common import Verdict, _as_float, check_close

__all__ = ["ex00_gamma_for_memory", "ex00_half_life"]


def ex00_gamma_for_memory(gamma) -> Verdict:
    """Exercise 00.1: the γ whose effective memory 1/(1-γ) is 100 tokens."""
    return check_close(
        "Exercise 00.1",
        gamma,
        1 - 1 / 100,
        hint="effective memory is 1/(1-γ): solve 1/(1-γ) = 100 for γ",
        success="a head with γ = 0.99 remembers about 100 tokens",
    )


def ex00_half_life(n) -> Verdict:
    """Exercise 00.2: after how many tokens γ = 31/32 has decayed to one half (a real number, not rounded).

    Right within 1e-6 relative (float32 arithmetic is right too); an answer within 1 % is a rounded one."""
    exact = math.log(2) / -math.log(31 / 32)
    value = _as_float(n)
    rounded = value is not None and not math.isclose(value, exact, rel_tol=1e-6) and abs(value / exact - 1) < 1e-2
    return check_close(
        "Exercise 00.2",
        n,
        exact,
        rtol=1e-6,
        hint="close, but rounded: compute the number itself with math.log instead of typing its digits"
        if rounded
        else "solve γ^n = 1/2 for n: take logarithms of both sides",
        success="the fastest head (γ = 31/32) halves a token's weight after ~21.8 tokens",
    )
