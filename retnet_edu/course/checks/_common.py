"""What every checker shares: the ``Verdict`` it returns, the line it prints (``report``), the checks of a
number (``check_close``) and the helpers of the checkers that take the learner's *function* as the answer.

A checker of that kind runs the learner's function on its own seeded inputs (``_seeded``, ``_call``) and compares
the result with the equation (``_same``); common mistakes are recognised by comparing with what each mistake would
give, so the hint can name the idea that is missing (never the answer)."""

from __future__ import annotations

import math
import numbers

import torch

__all__ = ["Verdict", "report", "unanswered", "check_close"]


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


def _short(e: Exception) -> str:
    msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{type(e).__name__}: {msg[:160]}" if msg else type(e).__name__


def _call(name: str, fn, *args):
    """Run the learner's function on copies of ``args``: ``(True, result)``, or ``(False, Verdict)`` when ``fn`` is
    not a function, raised, or returned nothing (a stub whose body is still ``...``: "not answered yet")."""
    if not callable(fn):
        return False, report(name, False, "", f"expected a function (def …), got {type(fn).__name__}")
    args = tuple(a.clone() if isinstance(a, torch.Tensor) else a for a in args)
    try:
        result = fn(*args)
    except Exception as e:  # noqa: BLE001 - a learner's bug must become a hint, never a crash
        return False, report(name, False, "", f"your function raised {_short(e)}")
    if result is None or result is ...:  # the stub whose body is still `...`
        return False, _pending(name)
    return True, result


def _tensor(x, dtype=torch.float64):
    """The learner's result as a tensor of ``dtype`` (from a tensor, an array or a list), or None."""
    try:
        if isinstance(x, torch.Tensor):
            return x.detach().to(dtype)
        return torch.as_tensor(x, dtype=dtype)  # straight to dtype: a Python float/complex keeps all digits
    except Exception:  # noqa: BLE001
        return None


def _same(a, b, tol: float = 1e-9) -> bool:
    """Same shape and equal within ``tol`` relative to the size of ``b`` (for float64 results)."""
    if not isinstance(a, torch.Tensor) or tuple(a.shape) != tuple(b.shape):
        return False
    a = a.detach().to(b.dtype)
    if not bool(torch.isfinite(a).all()):
        return False
    scale = max(1.0, float(b.abs().max())) if b.numel() else 1.0
    return b.numel() == 0 or float((a - b).abs().max()) <= tol * scale


# A right answer computed the natural way in float32 (torch.arange or torch.linspace without a dtype, float32
# inputs) is ~1e-7 off the float64 reference; typical wrong answers are off by far more than 1e-5.
_FLOAT32_TOL = 1e-5


def _rel_err(a, b) -> float:
    """max |a - b| relative to max(1, max |b|) (the scale ``_same`` uses), for two tensors or numbers."""
    a, b = torch.as_tensor(a), torch.as_tensor(b)
    if a.is_complex() or b.is_complex():
        a, b = a.to(torch.complex128), b.to(torch.complex128)
    else:
        a, b = a.to(torch.float64), b.to(torch.float64)
    scale = max(1.0, float(b.abs().max())) if b.numel() else 1.0
    return float((a - b).abs().max()) / scale if b.numel() else 0.0


def _precision_note(err: float) -> str:
    """What the success line adds for a right answer whose relative error is ``err``: nothing at float64 rounding,
    else a note that it agrees to float32 precision (right: the checker compares in float64)."""
    if err <= 1e-12:
        return ""
    return " (agrees to float32 precision, not float64's ~1e-16: right, and fine here)"


def _seeded(*shapes, seed: int = 0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(*s, generator=g, dtype=dtype) for s in shapes]


def _causal(T: int, diagonal: int = 0) -> torch.Tensor:
    return torch.tril(torch.ones(T, T, dtype=torch.float64), diagonal=diagonal)


def _D(gamma: float, T: int) -> torch.Tensor:
    """D[n, m] = γ^(n-m) for n ≥ m, else 0 (float64, written out independently of retnet_edu.retention)."""
    n = torch.arange(T, dtype=torch.float64)
    dist = n[:, None] - n[None, :]
    return torch.where(
        dist >= 0,
        torch.pow(torch.tensor(float(gamma), dtype=torch.float64), dist.clamp(min=0)),
        torch.zeros((), dtype=torch.float64),
    )


def _integer(answer):
    """An int from an int, an integral float or a one-element integral tensor; None otherwise."""
    value = _as_float(answer)
    if value is None or not math.isfinite(value) or value != round(value):
        return None
    return int(round(value))


def _expect_callable(name: str, fn, what: str):
    if unanswered(fn):
        return _pending(name)
    if not callable(fn):
        return report(name, False, "", f"expected a function {what}, got {type(fn).__name__}")
    return None
