"""Notebook 06's exercise checkers (``retnet_edu.course.checks.ch06``): each gets the reference answer, a right
answer computed the natural float32 way (it passes, with a note on its precision where it shows), every wrong
answer its hints name (never told the answer), the placeholder, and answers of the wrong type."""

import math

import numpy as np
import torch
from verdicts import expect_hint, expect_pass, verdict

from retnet_edu.course import checks
from retnet_edu.course.buggy import BUG_LABELS, answer_key

# ---------------------------------------------------------------------------------------------------- 06.1


def test_ex06_overflow_length(capsys):
    first = math.floor(math.log(65504) / math.log(32 / 31)) + 1  # the first exponent m with (32/31)^m > 65504
    expect_pass(capsys, checks.ex06_overflow_length, 2 * first)
    expect_pass(capsys, checks.ex06_overflow_length, 700)
    expect_pass(capsys, checks.ex06_overflow_length, 700.0)  # a whole number in any type
    expect_pass(capsys, checks.ex06_overflow_length, torch.tensor(700.0, dtype=torch.float32))
    expect_pass(capsys, checks.ex06_overflow_length, np.int64(700))
    expect_hint(capsys, checks.ex06_overflow_length, 351, "uncentred")
    expect_hint(capsys, checks.ex06_overflow_length, 699, "off by one")
    expect_hint(capsys, checks.ex06_overflow_length, 701, "off by one")
    expect_hint(capsys, checks.ex06_overflow_length, 702, "not exactly twice")
    expect_hint(capsys, checks.ex06_overflow_length, 2 * math.log(65504) / math.log(32 / 31), "whole number")
    expect_hint(capsys, checks.ex06_overflow_length, 2796, "take logs")
    expect_hint(capsys, checks.ex06_overflow_length, "700", "whole number")
    ok, out = verdict(capsys, checks.ex06_overflow_length, ...)
    assert not ok and "not answered yet" in out


# ---------------------------------------------------------------------------------------------------- 06.2


def test_ex06_float16_heads(capsys):
    expect_pass(capsys, checks.ex06_float16_heads, list(range(7, 12)))
    expect_pass(capsys, checks.ex06_float16_heads, torch.arange(7, 12))
    expect_pass(capsys, checks.ex06_float16_heads, np.array([11, 10, 9, 8, 7]))
    expect_pass(capsys, checks.ex06_float16_heads, [7.0, 8.0, 9.0, 10.0, 11.0])
    expect_hint(capsys, checks.ex06_float16_heads, list(range(8, 12)), "halfway")
    expect_hint(capsys, checks.ex06_float16_heads, list(range(4, 12)), "bfloat16")
    expect_hint(capsys, checks.ex06_float16_heads, [7, 8], "significant bits")
    expect_hint(capsys, checks.ex06_float16_heads, 3, "list")
    ok, out = verdict(capsys, checks.ex06_float16_heads, ...)
    assert not ok and "not answered yet" in out


# ---------------------------------------------------------------------------------------------------- 06.3


def test_ex06_eps_rms(capsys):
    r = 0.99 * math.sqrt(1e-6 / (1 - 0.99**2))
    expect_pass(capsys, checks.ex06_eps_rms, r)
    r32 = 0.99 * torch.sqrt(torch.tensor(1e-6) / (1 - torch.tensor(0.99) ** 2))  # float32 throughout
    ok, out = verdict(capsys, checks.ex06_eps_rms, r32)
    assert ok and "✓" in out
    expect_hint(capsys, checks.ex06_eps_rms, 1e-3, "29 %")
    expect_hint(capsys, checks.ex06_eps_rms, math.sqrt(1e-6 / 0.02), "first-order")
    expect_hint(capsys, checks.ex06_eps_rms, math.sqrt(0.99e-6 / 0.01), "0.99²")
    expect_hint(capsys, checks.ex06_eps_rms, 0.02, "solve")
    expect_hint(capsys, checks.ex06_eps_rms, "7e-3", "expected a number")
    ok, out = verdict(capsys, checks.ex06_eps_rms, ...)
    assert not ok and "not answered yet" in out


# ---------------------------------------------------------------------------------------------------- 06.4


def test_ex06_find_the_bug(capsys):
    key = answer_key()
    expect_pass(capsys, checks.ex06_find_the_bug, dict(key))
    hints = {
        "xi off by one": "chunk_size = 1",
        "old state dropped": "third chunk",
        "state not decayed": "second token",
        "1/S instead of 1/sqrt(S)": "row factors",
    }
    assert set(hints) == set(BUG_LABELS)
    for letter in "ABCD":  # each bug's own hint, and never the right label in it
        wrong = dict(key)
        wrong[letter] = next(label for label in BUG_LABELS if label != key[letter])
        text = expect_hint(capsys, checks.ex06_find_the_bug, wrong, "3 of 4 right", f"Look again at {letter}")
        assert hints[key[letter]] in text
        assert not any(label in text.split("Look again")[1] for label in BUG_LABELS)
    swapped = dict(key)
    swapped["A"], swapped["B"] = key["B"], key["A"]
    expect_hint(capsys, checks.ex06_find_the_bug, swapped, "2 of 4 right", "Look again at A")
    ok, out = verdict(capsys, checks.ex06_find_the_bug, {"A": ..., "B": "x", "C": "x", "D": "x"})
    assert not ok and "not answered" in out
    expect_hint(capsys, checks.ex06_find_the_bug, {"A": "typo", "B": "x", "C": "x", "D": "x"}, "unknown label")
    expect_hint(capsys, checks.ex06_find_the_bug, {"A": "zeta missing", "B": "x", "C": "x", "D": "x"}, "unknown label")
    expect_hint(capsys, checks.ex06_find_the_bug, ["A"], "dict")
