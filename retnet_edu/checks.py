"""Self-checks for the notebooks' exercises.

Each checker takes the learner's answer and prints one line: ``✓ …`` when it is right, ``✗ …`` with a hint
that points at the idea (never the answer) when it is not, and ``… not answered yet`` while the answer is
still the placeholder ``...``. It returns a truthy/falsy ``Verdict`` and never raises on a wrong answer, so a notebook with
unfinished exercises still runs top to bottom. The solutions in ``notebooks/solutions/`` call the same
checkers and show ✓.
"""

from __future__ import annotations

import math
import numbers

import torch

__all__ = ["Verdict", "report", "unanswered", "check_close", "ex00_gamma_for_memory", "ex00_half_life"]

PASS, FAIL = "✓", "✗"


class Verdict:
    """What a checker returns: truthy when the answer is right. It shows nothing in a notebook (the checker
    has already printed its line), so a checker call can end a cell without an extra ``True``/``False``."""

    def __init__(self, ok: bool):
        self.ok = bool(ok)

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        return f"Verdict(ok={self.ok})"

    def _ipython_display_(self) -> None:
        pass


def unanswered(answer) -> bool:
    """True while the answer is still the placeholder (``...`` or None)."""
    return answer is ... or answer is None


def report(name: str, ok: bool, success: str, hint: str) -> Verdict:
    """Print the verdict line for exercise ``name`` and return it as a ``Verdict``."""
    print(f"{name}: {PASS} {success}" if ok else f"{name}: {FAIL} {hint}")
    return Verdict(ok)


def _pending(name: str) -> Verdict:
    print(f"{name}: not answered yet: replace the ... with your answer and run the cell again")
    return Verdict(False)


def _as_float(answer):
    if isinstance(answer, torch.Tensor) and answer.numel() == 1:
        return float(answer)
    if isinstance(answer, numbers.Real) and not isinstance(answer, bool):
        return float(answer)
    return None


def check_close(name: str, answer, expected: float, rtol: float = 1e-6, hint: str = "", success: str = "") -> Verdict:
    """A number (or one-element tensor) equal to ``expected`` within a relative tolerance."""
    if unanswered(answer):
        return _pending(name)
    value = _as_float(answer)
    if value is None:
        return report(name, False, "", f"expected a number, got {type(answer).__name__}")
    ok = math.isclose(value, expected, rel_tol=rtol, abs_tol=0.0)
    return report(name, ok, success or f"{value:.6g} is right", hint or f"{value:.6g} is not right yet")


# ---------------------------------------------------------------------------------------------------------
# 00_welcome_and_setup
# ---------------------------------------------------------------------------------------------------------
def ex00_gamma_for_memory(gamma) -> Verdict:
    """Exercise 00.1: the γ whose effective memory 1/(1-γ) is 100 tokens."""
    return check_close("Exercise 00.1", gamma, 1 - 1 / 100,
                       hint="effective memory is 1/(1-γ): solve 1/(1-γ) = 100 for γ",
                       success="a head with γ = 0.99 remembers about 100 tokens")


def ex00_half_life(n) -> Verdict:
    """Exercise 00.2: after how many tokens γ = 31/32 has decayed to one half (a real number, not rounded)."""
    return check_close("Exercise 00.2", n, math.log(2) / -math.log(31 / 32), rtol=1e-6,
                       hint="solve γ^n = 1/2 for n: take logarithms of both sides",
                       success="the fastest head (γ = 31/32) halves a token's weight after ~21.8 tokens")
