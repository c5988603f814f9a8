"""The exercise checkers of notebook 06 (``notebooks/06_three_modes_are_one.ipynb``)."""

from __future__ import annotations

import math

import torch

from retnet_edu.course.buggy import BUG_LABELS, answer_key
from retnet_edu.course.checks._common import (
    Verdict,
    _as_float,
    _integer,
    _pending,
    _precision_note,
    report,
    unanswered,
)
from retnet_edu.course.numerics import heads_rounding_to_one, split_decay_overflow_length
from retnet_edu.retention import decay_gammas

__all__ = ["ex06_overflow_length", "ex06_float16_heads", "ex06_eps_rms", "ex06_find_the_bug"]


def _centred_overflow_length() -> int:
    """The first T at which the centred split γ^(n-c) · γ^(c-m), c = T // 2, overflows float16 for γ = 31/32: its
    largest negative exponent is max(c, T-1-c) = T // 2, so T = 2 m*, m* the first exponent that overflows."""
    first_overflowing_exponent = split_decay_overflow_length(31 / 32, torch.float16) - 1
    return 2 * first_overflowing_exponent


def ex06_overflow_length(T) -> Verdict:
    """Exercise 06.1: the first sequence length T at which the *centred* split decay γ^(n-c) · γ^(c-m), with
    c = T // 2, overflows float16 for the fastest head, γ = 31/32 (each factor computed in float16)."""
    name = "Exercise 06.1"
    if unanswered(T):
        return _pending(name)
    want = _centred_overflow_length()
    uncentred = split_decay_overflow_length(31 / 32, torch.float16)
    value = _integer(T)
    if value is None:
        number = _as_float(T)
        if number is not None and abs(number - want) < 4:
            return report(
                name,
                False,
                "",
                "close, but a length is a whole number of tokens: which integer T first makes a factor overflow?",
            )
        return report(name, False, "", "expected a whole number of tokens")
    if value == want:
        return report(
            name,
            True,
            f"T = {value}: the largest negative exponent is T // 2 = {value // 2}, and γ^(-{value // 2}) exceeds "
            "65504: centring buys a factor 2 in length, no more",
            "",
        )
    if value == uncentred:
        return report(
            name,
            False,
            "",
            "that is where the uncentred split overflows; with c = T // 2, what is the most negative exponent of "
            "either factor?",
        )
    if value in (want - 1, want + 1):
        return report(
            name,
            False,
            "",
            "off by one: write the largest negative exponent, max(c, T-1-c) with c = T // 2, for T even and T odd",
        )
    if value == 2 * uncentred:
        return report(
            name,
            False,
            "",
            "not exactly twice the uncentred length: find the first exponent that overflows, then the first T "
            "whose T // 2 reaches it",
        )
    return report(
        name,
        False,
        "",
        "γ^(-m) = (32/31)^m overflows once it exceeds float16's maximum, 65504 (take logs); then ask which T "
        "first gives a factor with that exponent",
    )


def ex06_float16_heads(heads) -> Verdict:
    """Exercise 06.2: which heads h = 0 … 11 of the eq. 8 schedule (γ_h = 1 - 2^(-5-h)) have γ_h == 1 in float16."""
    name = "Exercise 06.2"
    if unanswered(heads):
        return _pending(name)
    try:
        got = sorted({int(h) for h in heads})
    except (TypeError, ValueError):
        return report(name, False, "", "answer with a list of head indices, e.g. [0, 1]")
    want = heads_rounding_to_one(decay_gammas(12), torch.float16)
    if got == want:
        return report(
            name,
            True,
            "heads 7 … 11: float16 keeps 11 significant bits, so below 1 its steps are 2^-11 apart and 1 - 2^-12 "
            "(a tie) rounds to 1",
            "",
        )
    if got == want[1:]:
        return report(
            name,
            False,
            "",
            "almost: one γ lies exactly halfway between two float16 numbers; round-to-nearest-even picks the one "
            "with an even last bit",
        )
    if got == heads_rounding_to_one(decay_gammas(12), torch.bfloat16):
        return report(name, False, "", "that is bfloat16's answer (8 significant bits); float16 keeps 11")
    return report(name, False, "", "float16 has 11 significant bits: how far apart are its numbers just below 1?")


def ex06_eps_rms(r) -> Verdict:
    """Exercise 06.3: the RMS r of a pre-norm row at which the group norm with eps = 1e-6 returns the row 1 %
    smaller than with eps = 0 (x / √(r² + eps) = 0.99 · x / r)."""
    name = "Exercise 06.3"
    if unanswered(r):
        return _pending(name)
    value = _as_float(r)
    if value is None:
        return report(name, False, "", f"expected a number, got {type(r).__name__}")
    eps = 1e-6
    want = 0.99 * math.sqrt(eps / (1 - 0.99**2))
    close = lambda x: math.isclose(value, x, rel_tol=1e-4)  # noqa: E731
    if close(want):
        return report(
            name,
            True,
            "r ≈ 7.0e-3: rows whose RMS is below ~1e-2 are visibly shrunk by eps = 1e-6"
            + _precision_note(abs(value - want) / want),
            "",
        )
    if close(math.sqrt(eps)):
        return report(name, False, "", "at r = √eps the row shrinks by a factor 1/√2, 29 %, not 1 %")
    if close(math.sqrt(eps / (2 * 0.01))):
        return report(
            name, False, "", "that is the first-order approximation 1 - eps/(2r²) = 0.99; solve the equation exactly"
        )
    if close(math.sqrt(0.99 * eps / 0.01)):
        return report(name, False, "", "squaring r / √(r² + eps) = 0.99 turns the right-hand side into 0.99²")
    return report(name, False, "", "solve r / √(r² + eps) = 0.99 for r")


_BUG_HINTS = {
    "xi off by one": "it is right within the first chunk and when γ = 1, but wrong with chunk_size = 1: which "
    "factor multiplies every cross-chunk term, even for a chunk of one token?",
    "old state dropped": "the second chunk is right, the third is not: what does the state read by the third chunk "
    "hold that the state read by the second does not?",
    "state not decayed": "its first wrong token is 1 (the second token) and it is right whenever γ = 1",
    "1/S instead of 1/sqrt(S)": "its rows are only rescaled: compare its row factors with 1/√S_n and 1/S_n, "
    "S_n = Σ_(i≤n) γ^i",
}


def ex06_find_the_bug(answers) -> Verdict:
    """Exercise 06.4: name the bug of each mystery variant: ``{"A": label, …, "D": label}`` with labels from
    ``retnet_edu.course.buggy.BUG_LABELS``."""
    name = "Exercise 06.4"
    if unanswered(answers) or (isinstance(answers, dict) and any(unanswered(a) for a in answers.values())):
        return _pending(name)
    if not isinstance(answers, dict) or sorted(answers) != list("ABCD"):
        return report(name, False, "", 'answer with a dict {"A": label, "B": label, "C": label, "D": label}')
    unknown = [a for a in answers.values() if a not in BUG_LABELS]
    if unknown:
        return report(name, False, "", f"unknown label {unknown[0]!r}: use one of {list(BUG_LABELS)}")
    key = answer_key()
    wrong = [letter for letter in "ABCD" if answers[letter] != key[letter]]
    if not wrong:
        return report(name, True, "all four bugs found from their symptoms", "")
    first = wrong[0]
    return report(name, False, "", f"{4 - len(wrong)} of 4 right. Look again at {first}: {_BUG_HINTS[key[first]]}")
