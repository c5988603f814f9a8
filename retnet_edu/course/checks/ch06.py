"""The exercise checkers of notebook 06 (``notebooks/06_three_modes_are_one.ipynb``)."""

from __future__ import annotations

import math
import numbers

import torch

from retnet_edu.course.buggy import BUG_LABELS, answer_key
from retnet_edu.course.checks._common import Verdict, _pending, check_close, report, unanswered
from retnet_edu.course.numerics import split_decay_overflow_length

__all__ = ["ex06_overflow_length", "ex06_bf16_heads", "ex06_eps_rms", "ex06_find_the_bug"]


def ex06_overflow_length(T) -> Verdict:
    """Exercise 06.1: the first sequence length T at which the split decay γ^n · γ^(-m) overflows float16 for the
    fastest head, γ = 31/32."""
    name = "Exercise 06.1"
    if unanswered(T):
        return _pending(name)
    want = split_decay_overflow_length(31 / 32, torch.float16)
    if isinstance(T, bool) or not isinstance(T, numbers.Integral):
        if isinstance(T, numbers.Real) and abs(T - 1 - math.log(65504) / math.log(32 / 31)) < 2:
            return report(
                name,
                False,
                "",
                "close, but a length is a whole number of tokens: which integer T is the "
                "first one whose largest exponent T-1 overflows?",
            )
        return report(name, False, "", "expected a whole number of tokens")
    if T == want:
        return report(name, True, f"T = {T}: γ^(-{T - 1}) exceeds 65504, the largest float16", "")
    if T == want - 1:
        return report(name, False, "", "off by one: positions run from 0 to T-1, so the largest exponent is T-1")
    return report(name, False, "", "γ^(-m) = (32/31)^m overflows when it exceeds float16's maximum, 65504: take logs")


def ex06_bf16_heads(heads) -> Verdict:
    """Exercise 06.2: which heads h = 0 … 11 of the eq. 8 schedule (γ_h = 1 - 2^(-5-h)) have γ_h == 1 in bfloat16."""
    name = "Exercise 06.2"
    if unanswered(heads):
        return _pending(name)
    try:
        got = sorted({int(h) for h in heads})
    except (TypeError, ValueError):
        return report(name, False, "", "answer with a list of head indices, e.g. [0, 1]")
    want = list(range(4, 12))
    if got == want:
        return report(
            name,
            True,
            "heads 4 … 11: bfloat16 keeps 8 significant bits, so below 1 its steps are "
            "2^-8 apart and 1 - 2^-9 (a tie) rounds to 1",
            "",
        )
    if got == list(range(5, 12)):
        return report(
            name,
            False,
            "",
            "almost: 1 - 2^-9 lies exactly halfway between two bfloat16 numbers; "
            "round-to-nearest-even picks the one with an even last bit",
        )
    return report(name, False, "", "bfloat16 has 8 significant bits: how far apart are its numbers just below 1?")


def ex06_eps_rms(r) -> Verdict:
    """Exercise 06.3: the RMS r of a pre-norm row at which the group norm with eps = 1e-6 returns the row 1 %
    smaller than with eps = 0 (x / √(r² + eps) = 0.99 · x / r)."""
    return check_close(
        "Exercise 06.3",
        r,
        0.99 * math.sqrt(1e-6 / (1 - 0.99**2)),
        rtol=1e-4,
        hint="solve r / √(r² + eps) = 0.99 for r",
        success="r ≈ 7.0e-3: rows whose RMS is below ~1e-2 are visibly shrunk by eps = 1e-6",
    )


_BUG_HINTS = {
    "zeta missing": "it is right within the first chunk, and also with chunk_size = 1 and with γ = 1: which "
    "factor of eq. 7 is 1 in both cases?",
    "xi off by one": "it is right within the first chunk and when γ = 1, but wrong with chunk_size = 1: which "
    "factor multiplies every cross-chunk term, even for a chunk of one token?",
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
