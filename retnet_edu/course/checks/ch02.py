"""The exercise checkers of notebook 02 (``notebooks/02_decay_masks_and_multiscale_heads.ipynb``)."""

from __future__ import annotations

import math

import torch

from retnet_edu.course.checks._common import (
    _D,
    _FLOAT32_TOL,
    Verdict,
    _as_float,
    _call,
    _integer,
    _pending,
    _precision_note,
    _rel_err,
    _same,
    _tensor,
    report,
    unanswered,
)

__all__ = ["ex02_decay_mask", "ex02_tokens_for_weight", "ex02_lm_schedule", "ex02_slowest_memory"]


def ex02_decay_mask(fn) -> Verdict:
    """Exercise 02.1: ``fn(log_gamma, T)`` returns the T × T decay mask D[n, m] = γ^(n-m) = exp((n-m)·log γ) for
    n ≥ m, else 0, from log γ (a float ≤ 0), as the official code stores the decay. Tried on log γ = log 0.9,
    0 (γ = 1, where inf · 0 = NaN catches the official masking trick without its nan_to_num), and log 0.5 with
    T = 1100, where exp((m-n)·|log γ|) overflows even float64 above the diagonal."""
    name = "Exercise 02.1"
    if unanswered(fn):
        return _pending(name)
    worst = 0.0
    for gamma, T in ((0.9, 6), (1.0, 4), (0.5, 1), (0.5, 1100)):
        log_gamma = math.log(gamma)
        ok, out = _call(name, fn, log_gamma, T)
        if not ok:
            return out
        got = _tensor(out)
        expected = _D(gamma, T)
        if _same(got, expected, _FLOAT32_TOL):
            worst = max(worst, _rel_err(got, expected))
            continue
        if got is None or tuple(got.shape) != (T, T):
            return report(
                name,
                False,
                "",
                f"for T = {T} expected a ({T}, {T}) matrix, got shape {None if got is None else tuple(got.shape)}",
            )
        if not bool(torch.isfinite(got).all()):
            if log_gamma == 0.0:
                return report(
                    name,
                    False,
                    "",
                    "NaN or inf for log γ = 0 (γ = 1): inf · 0 is NaN, so an infinite exponent cannot mask the "
                    "future here; set the future to 0 after the exp (torch.where), or clean up as the official "
                    "code does (nan_to_num)",
                )
            return report(
                name,
                False,
                "",
                f"NaN or inf for γ = {gamma}, T = {T}: exp((n-m)·log γ) blows up above the diagonal before the "
                "mask can zero it; never take the exp of a positive exponent (mask first, or clamp n - m at 0)",
            )
        if T > 1 and gamma < 1 and _same(got, _D(log_gamma, T), _FLOAT32_TOL):
            return report(name, False, "", "the argument is log γ, not γ: D[n, m] = exp((n - m) · log γ)")
        if T > 1 and gamma < 1 and _same(got, _D(1 / gamma, T), _FLOAT32_TOL):
            return report(
                name, False, "", "the weights must shrink with distance: exp(+(n - m) · log γ), and log γ < 0"
            )
        if _same(got, expected.T, _FLOAT32_TOL):
            return report(
                name, False, "", "rows are queries n, columns keys m: the non-zeros belong on and below the diagonal"
            )
        if bool((torch.triu(got, 1) != 0).any()):
            return report(
                name, False, "", "D is causal: D[n, m] must be exactly 0 for m > n (a query never sees later keys)"
            )
        if not bool((torch.diagonal(got) == 1).all()):
            return report(name, False, "", "the diagonal is exp(0) = 1: a token gives itself full weight")
        return report(
            name,
            False,
            "",
            f"wrong values for γ = {gamma}, T = {T}: D[n, m] = exp((n-m)·log γ) on and below the diagonal",
        )
    return report(name, True, "D from log γ, for any γ and T, and never a NaN" + _precision_note(worst), "")


def ex02_tokens_for_weight(L) -> Verdict:
    """Exercise 02.2: for γ = 0.99 and an infinitely long past, the smallest number L of most recent tokens that
    hold at least 95% of the total weight 1/(1-γ)."""
    name = "Exercise 02.2"
    if unanswered(L):
        return _pending(name)
    if _as_float(L) is None:
        return report(name, False, "", f"expected a number of tokens, got {type(L).__name__}")
    value = _integer(L)
    if value is None:
        return report(name, False, "", "a number of tokens is a whole number: take the smallest L that is enough")
    expected = math.ceil(math.log(0.05) / math.log(0.99))  # 299
    if value == expected:
        return report(name, True, "the most recent 299 tokens hold 95% of this head's weight (1 - 0.99^299 ≥ 0.95)", "")
    if value == expected - 1:
        return report(name, False, "", "just short: with that many tokens 1 - γ^L is still below 0.95")
    return report(
        name,
        False,
        "",
        "the L most recent tokens carry Σ_{j<L} γ^j = (1 - γ^L)/(1 - γ), a fraction "
        "1 - γ^L of the total: solve 1 - γ^L ≥ 0.95 for the smallest whole L",
    )


def _log_spaced(first: float, last: float, H: int) -> torch.Tensor:
    """γ for H heads whose effective memories 1/(1-γ) run from ``first`` to ``last``, evenly spaced on a log scale."""
    return 1 - torch.exp(torch.linspace(math.log(1 / first), math.log(1 / last), H, dtype=torch.float64))


def ex02_lm_schedule(gammas) -> Verdict:
    """Exercise 02.3: the LM schedule's idea with other end points: 4 heads whose effective memories run from 16 to
    2048 tokens, evenly spaced on a log scale, i.e. γ = 1 - exp(linspace(log 1/16, log 1/2048, 4))."""
    name = "Exercise 02.3"
    if unanswered(gammas):
        return _pending(name)
    got = _tensor(gammas)
    if got is None or got.dim() != 1 or got.numel() != 4:
        return report(name, False, "", "expected 4 decay rates (one per head) in a 1-D tensor or list")
    h = torch.arange(4, dtype=torch.float64)
    expected = _log_spaced(16, 2048, 4)
    if _same(got, expected, _FLOAT32_TOL):
        note = _precision_note(_rel_err(got, expected))
        return report(name, True, "effective memories 16, 80.6, 406, 2048: evenly spaced on a log scale" + note, "")
    if _same(got, expected.flip(0), _FLOAT32_TOL):
        return report(name, False, "", "order the heads from the shortest memory (head 0, 16 tokens) to the longest")
    if _same(got, 1 / (1 - expected), 1e-9):
        return report(name, False, "", "those are the effective memories 1/(1 - γ); the exercise asks for γ")
    if _same(got, _log_spaced(32, 512, 4), _FLOAT32_TOL):
        return report(
            name, False, "", "those are the paper's end points, 32 and 512 tokens; this design runs 16 … 2048"
        )
    if _same(got, 1 - 2.0 ** (-4 - h), _FLOAT32_TOL):
        return report(
            name,
            False,
            "",
            "that doubles the memory per head (eq. 8's idea) and stops at 128; the ends are 16 and 2048",
        )
    if _same(got, 1 - 1 / torch.linspace(16, 2048, 4, dtype=torch.float64), _FLOAT32_TOL):
        return report(name, False, "", "spaced evenly in memory; the LM schedule spaces log(1 - γ) evenly")
    if _same(got, torch.linspace(1 - 1 / 16, 1 - 1 / 2048, 4, dtype=torch.float64), _FLOAT32_TOL):
        return report(name, False, "", "spaced evenly in γ; the LM schedule spaces log(1 - γ) evenly")
    return report(
        name,
        False,
        "",
        "1 - γ = 1/memory: take 4 points evenly spaced from log(1/16) to log(1/2048), exponentiate them, "
        "subtract from 1",
    )


def ex02_slowest_memory(count) -> Verdict:
    """Exercise 02.4: with eq. 8's schedule and H = 16 heads (the paper's 6.7B model), how many heads have an
    effective memory 1/(1-γ_h) = 2^(5+h) longer than the 2048-token training context? (h = 7 … 15: 9 heads.)"""
    name = "Exercise 02.4"
    if unanswered(count):
        return _pending(name)
    if _as_float(count) is None:
        return report(name, False, "", f"expected a number of heads, got {type(count).__name__}")
    value = _integer(count)
    if value is None:
        return report(name, False, "", "a number of heads is a whole number")
    memories = [2 ** (5 + h) for h in range(16)]
    expected = sum(m > 2048 for m in memories)  # 9
    if value == expected:
        return report(
            name,
            True,
            "heads 7 … 15 (4096 … 1 048 576 tokens): more than half of the heads barely decay within the context",
            "",
        )
    if value == sum(m >= 2048 for m in memories):
        return report(name, False, "", "head 6 has exactly 2048 tokens of memory: that is not longer than the context")
    if value == 7:
        return report(name, False, "", "7 is the number of the first such head; the question asks how many there are")
    if value == 0:
        return report(
            name, False, "", "that holds for the LM schedule (at most 512 tokens); eq. 8 doubles the memory per head"
        )
    if value in (expected - 1, expected + 2):
        return report(
            name, False, "", "off by one: heads are numbered h = 0 … 15; list 2^(5+h) and count those above 2048"
        )
    return report(
        name, False, "", "γ_h = 1 - 2^(-5-h) gives 1/(1 - γ_h) = 2^(5+h): count the h in 0 … 15 with 2^(5+h) > 2048"
    )
