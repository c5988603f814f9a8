"""Notebook 06's exercise checkers (``retnet_edu.course.checks.ch06``): ✓ for a right answer, a hint
that names the mistake for each common wrong answer (never the answer itself), 'not answered yet' for
the placeholder, and no exception for a learner's bug."""

import math

import torch
from verdicts import out

from retnet_edu.course import checks
from retnet_edu.course.buggy import BUG_LABELS, answer_key


def test_ex06_overflow_length(capsys):
    assert checks.ex06_overflow_length(351) and "✓" in out(capsys)
    assert not checks.ex06_overflow_length(350) and "off by one" in out(capsys)
    assert not checks.ex06_overflow_length(349.4) and "whole number" in out(capsys)
    assert not checks.ex06_overflow_length(2796) and "65504" in out(capsys)
    assert not checks.ex06_overflow_length("351") and "whole number" in out(capsys)


def test_ex06_bf16_heads(capsys):
    assert checks.ex06_bf16_heads(list(range(4, 12))) and "✓" in out(capsys)
    assert checks.ex06_bf16_heads(torch.arange(4, 12))
    out(capsys)
    assert not checks.ex06_bf16_heads(list(range(5, 12))) and "halfway" in out(capsys)
    assert not checks.ex06_bf16_heads([7, 8]) and "significant bits" in out(capsys)
    assert not checks.ex06_bf16_heads(3) and "list" in out(capsys)


def test_ex06_eps_rms(capsys):
    assert checks.ex06_eps_rms(0.99 * math.sqrt(1e-6 / (1 - 0.99**2))) and "✓" in out(capsys)
    assert not checks.ex06_eps_rms(1e-3) and "0.99" in out(capsys)


def test_ex06_find_the_bug(capsys):
    key = answer_key()
    assert checks.ex06_find_the_bug(dict(key)) and "✓" in out(capsys)
    wrong = dict(key)
    wrong["A"], wrong["B"] = key["B"], key["A"]
    assert not checks.ex06_find_the_bug(wrong)
    text = out(capsys)
    assert "2 of 4 right" in text and "Look again at A" in text
    for label in BUG_LABELS:  # a hint never names the right label
        assert label not in text.split("Look again")[1]
    assert not checks.ex06_find_the_bug({"A": ..., "B": "x", "C": "x", "D": "x"}) and "not answered" in out(capsys)
    assert not checks.ex06_find_the_bug({"A": "typo", "B": "x", "C": "x", "D": "x"}) and "unknown label" in out(capsys)
    assert not checks.ex06_find_the_bug(["A"]) and "dict" in out(capsys)
