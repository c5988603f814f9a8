"""The exercise checkers of notebook 02 (``notebooks/02_decay_masks_and_multiscale_heads.ipynb``)."""

from __future__ import annotations

import math

import torch

from retnet_edu.course.checks._common import (
    _D,
    Verdict,
    _as_float,
    _call,
    _integer,
    _pending,
    _same,
    _tensor,
    report,
    unanswered,
)

__all__ = ["ex02_decay_mask", "ex02_tokens_for_weight", "ex02_lm_schedule", "ex02_slowest_memory"]


def ex02_decay_mask(fn) -> Verdict:
    """Exercise 02.1: ``fn(gamma, T)`` returns the T × T decay mask D[n, m] = γ^(n-m) for n ≥ m, else 0."""
    name = "Exercise 02.1"
    if unanswered(fn):
        return _pending(name)
    # (0.5, 1100): γ^-(T-1) = 2^1099 overflows even float64, so D must never hold γ^(n-m) for m > n
    for gamma, T in ((0.9, 6), (1.0, 4), (0.5, 1), (0.5, 1100)):
        ok, out = _call(name, fn, gamma, T)
        if not ok:
            return out
        got = _tensor(out)
        expected = _D(gamma, T)
        if _same(got, expected, 1e-6):  # float32 answers are fine
            continue
        if got is None or tuple(got.shape) != (T, T):
            return report(
                name,
                False,
                "",
                f"for T = {T} expected a ({T}, {T}) matrix, got shape {None if got is None else tuple(got.shape)}",
            )
        if not bool(torch.isfinite(got).all()):
            return report(
                name,
                False,
                "",
                f"NaN or inf for γ = {gamma}, T = {T}: a negative exponent n - m "
                "blows up before the mask can zero it; never compute γ^(n-m) for m > n",
            )
        if _same(got, expected.T, 1e-6):
            return report(
                name, False, "", "rows are queries n, columns keys m: the non-zeros belong on and below the diagonal"
            )
        if bool((torch.triu(got, 1) != 0).any()):
            return report(
                name, False, "", "D is causal: D[n, m] must be exactly 0 for m > n (a query never sees later keys)"
            )
        if not bool((torch.diagonal(got) == 1).all()):
            return report(name, False, "", "the diagonal is γ^0 = 1: a token gives itself full weight")
        return report(
            name, False, "", f"wrong values for γ = {gamma}, T = {T}: D[n, m] = γ^(n-m) on and below the diagonal"
        )
    return report(name, True, "D = causal mask ⊙ decay, for any γ and T", "")


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


def ex02_lm_schedule(gammas) -> Verdict:
    """Exercise 02.3: the 6 decay rates of the paper's LM schedule, 1 - exp(linspace(log 1/32, log 1/512, 6))."""
    name = "Exercise 02.3"
    if unanswered(gammas):
        return _pending(name)
    got = _tensor(gammas)
    if got is None or got.dim() != 1 or got.numel() != 6:
        return report(name, False, "", "expected 6 decay rates (one per head) in a 1-D tensor or list")
    h = torch.arange(6, dtype=torch.float64)
    expected = 1 - torch.exp(torch.linspace(math.log(1 / 32), math.log(1 / 512), 6, dtype=torch.float64))
    if _same(got, expected, 1e-12):
        return report(name, True, "effective memories 32 … 512, evenly spaced on a log scale", "")
    if _same(got, 1 - 2.0 ** (-5 - h), 1e-12):
        return report(
            name,
            False,
            "",
            "that is eq. 8's schedule 1 - 2^(-5-h); the LM runs spread log(1 - γ) evenly from log 1/32 to log 1/512",
        )
    if _same(got, 1 / (1 - expected), 1e-9):
        return report(name, False, "", "those are the effective memories 1/(1 - γ); the exercise asks for γ")
    if _same(got, 1 - 1 / torch.linspace(32, 512, 6, dtype=torch.float64), 1e-12):
        return report(name, False, "", "spaced evenly in memory; the paper spaces them evenly in log(1 - γ)")
    if _same(got, torch.linspace(1 - 1 / 32, 1 - 1 / 512, 6, dtype=torch.float64), 1e-12):
        return report(name, False, "", "spaced evenly in γ; the paper spaces them evenly in log(1 - γ)")
    return report(
        name,
        False,
        "",
        "take 6 points evenly spaced from log(1/32) to log(1/512), exponentiate them to get 1 - γ, then γ",
    )


def ex02_slowest_memory(memory) -> Verdict:
    """Exercise 02.4: the effective memory (tokens) of the slowest head among H = 16 heads of eq. 8."""
    name = "Exercise 02.4"
    if unanswered(memory):
        return _pending(name)
    value = _as_float(memory)
    if value is None:
        return report(name, False, "", f"expected a number, got {type(memory).__name__}")
    expected = 2.0**20
    if math.isclose(value, expected, rel_tol=1e-9):
        return report(name, True, "2^20 ≈ 1.05 million tokens: far beyond any training length, almost no decay", "")
    if math.isclose(value, 2.0**21, rel_tol=1e-9):
        return report(name, False, "", "heads are numbered h = 0 … H-1: the slowest of 16 is h = 15")
    if math.isclose(value, 1 - 2.0**-20, rel_tol=1e-12) or math.isclose(value, 2.0**-20, rel_tol=1e-9):
        return report(name, False, "", "that is γ or 1 - γ; effective memory is 1/(1 - γ), counted in tokens")
    return report(name, False, "", "γ_h = 1 - 2^(-5-h) gives 1/(1 - γ_h) = 2^(5+h): use the last head")
