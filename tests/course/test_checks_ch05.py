"""Notebook 05's exercise checkers (``retnet_edu.course.checks.ch05``): each gets the reference answer, a right
answer computed the natural float32 way where the data are float64 (it passes, with a note on its precision),
every wrong answer its hints name (each recognised by its own hint, never told the answer), the placeholder, and a
learner's bug (a hint, never an exception)."""

import numpy as np
import torch
from verdicts import expect_hint, expect_pass, verdict

from retnet_edu.course import checks

# ---------------------------------------------------------------------------------------------------- 05.1


def test_ex05_decay_split(capsys):
    expect_pass(capsys, checks.ex05_decay_split, (2, 1, 2))
    expect_pass(capsys, checks.ex05_decay_split, [2.0, 1.0, 2.0])  # whole numbers in any type
    expect_pass(capsys, checks.ex05_decay_split, tuple(torch.tensor([2, 1, 2], dtype=torch.float32)))
    expect_hint(capsys, checks.ex05_decay_split, (1, 2, 2), "swapped")
    expect_hint(capsys, checks.ex05_decay_split, (3, 0, 2), "wrong split")
    expect_hint(capsys, checks.ex05_decay_split, (1, 1, 1), "add up")
    expect_hint(capsys, checks.ex05_decay_split, "x", "three whole numbers")
    expect_hint(capsys, checks.ex05_decay_split, (1, 2), "three whole numbers")
    expect_hint(capsys, checks.ex05_decay_split, (2.5, 0.5, 2), "three whole numbers")
    ok, out = verdict(capsys, checks.ex05_decay_split, ...)
    assert not ok and "not answered yet" in out


# ---------------------------------------------------------------------------------------------------- 05.2


def _merge(state="right", outputs="right", float32=False):
    """merge_halves written the natural way, or with one of the typical mistakes."""

    def fn(q2, o2, R1, R2, gamma):
        b = q2.shape[2]
        if float32:  # ξ and γ^b built from Python floats in float32 (torch.tensor's default dtype)
            g = torch.tensor(gamma.tolist())
            j = torch.arange(b)
        else:
            g, j = gamma, torch.arange(b, dtype=torch.float64)
        exponent = {"right": j + 1, "xi_short": j, "xi_long": j + 2}.get(outputs)
        cross = q2 @ R1
        o = (
            o2
            if outputs == "missing"
            else o2 + (cross if exponent is None else g[:, None].pow(exponent)[..., None] * cross)
        )
        decay_power = {"right": b, "none": 0, "short": b - 1, "long": b + 1}.get(state, b)
        R = g.pow(decay_power)[:, None, None] * R1 + R2
        if state == "swapped":
            R = R1 + g.pow(b)[:, None, None] * R2
        return o, R

    return fn


def test_ex05_merge_halves(capsys):
    expect_pass(capsys, checks.ex05_merge_halves, _merge())
    ok, out = verdict(capsys, checks.ex05_merge_halves, _merge(float32=True))
    assert ok and "float32 precision" in out
    expect_hint(capsys, checks.ex05_merge_halves, _merge(state="none"), "decay over the b tokens")
    expect_hint(capsys, checks.ex05_merge_halves, _merge(state="short"), "off by one")
    expect_hint(capsys, checks.ex05_merge_halves, _merge(state="long"), "off by one")
    expect_hint(capsys, checks.ex05_merge_halves, _merge(state="swapped"), "older")
    expect_hint(capsys, checks.ex05_merge_halves, _merge(outputs="missing"), "zero state")
    expect_hint(capsys, checks.ex05_merge_halves, _merge(outputs="none"), "decayed from token a-1")
    expect_hint(capsys, checks.ex05_merge_halves, _merge(outputs="xi_short"), "ξ is off by one")
    expect_hint(capsys, checks.ex05_merge_halves, _merge(outputs="xi_long"), "ξ is off by one")
    expect_hint(capsys, checks.ex05_merge_halves, lambda q2, o2, R1, R2, g: (2 * o2, R1 + R2), "the state")
    expect_hint(
        capsys,
        checks.ex05_merge_halves,
        lambda q2, o2, R1, R2, g: (3 * o2, _merge()(q2, o2, R1, R2, g)[1]),
        "not right yet",
    )
    expect_hint(capsys, checks.ex05_merge_halves, lambda q2, o2, R1, R2, g: o2, "pair")
    expect_hint(capsys, checks.ex05_merge_halves, lambda q2, o2, R1, R2, g: (o2, R1[..., :1]), "shape")
    expect_hint(capsys, checks.ex05_merge_halves, lambda q2, o2, R1, R2, g: 1 / 0, "ZeroDivisionError")
    expect_hint(capsys, checks.ex05_merge_halves, 3, "expected a function")
    ok, out = verdict(capsys, checks.ex05_merge_halves, ...)
    assert not ok and "not answered yet" in out


# ---------------------------------------------------------------------------------------------------- 05.3


def test_ex05_balance(capsys):
    expect_pass(capsys, checks.ex05_balance_chunk_size, 2 * 64 * 128 / 192)
    ok, out = verdict(capsys, checks.ex05_balance_chunk_size, torch.tensor(2 * 64 * 128 / 192, dtype=torch.float32))
    assert ok and "float32 precision" in out
    expect_pass(capsys, checks.ex05_balance_chunk_size, np.float64(2 * 64 * 128 / 192))
    expect_hint(capsys, checks.ex05_balance_chunk_size, 64 * 128 / 192, "two terms")
    expect_hint(capsys, checks.ex05_balance_chunk_size, 256, "two products")
    expect_hint(capsys, checks.ex05_balance_chunk_size, 128, "two products")
    expect_hint(capsys, checks.ex05_balance_chunk_size, 64.5, "set them equal")
    expect_hint(capsys, checks.ex05_balance_chunk_size, "85", "expected a number")


# ---------------------------------------------------------------------------------------------------- 05.4


def _blocks(T, B):
    full, rest = divmod(T, B)
    return full * B * B + rest * rest


def test_ex05_block_entries(capsys):
    expect_pass(capsys, checks.ex05_block_entries, _blocks)
    expect_pass(capsys, checks.ex05_block_entries, lambda T, B: float(_blocks(T, B)))  # a whole float is fine
    expect_pass(capsys, checks.ex05_block_entries, lambda T, B: np.int64(_blocks(T, B)))
    expect_hint(capsys, checks.ex05_block_entries, lambda T, B: T * B, "short")
    expect_hint(capsys, checks.ex05_block_entries, lambda T, B: -(-T // B) * B * B, "padded")

    def kept_only(T, B):
        full, rest = divmod(T, B)
        return full * B * (B + 1) // 2 + rest * (rest + 1) // 2

    expect_hint(capsys, checks.ex05_block_entries, kept_only, "dark-blue")
    expect_hint(capsys, checks.ex05_block_entries, lambda T, B: T * T, "b²")
    expect_hint(capsys, checks.ex05_block_entries, lambda T, B: _blocks(T, B) + 0.5, "whole number")
    expect_hint(capsys, checks.ex05_block_entries, lambda T, B: [1], "whole number")
    expect_hint(capsys, checks.ex05_block_entries, lambda T, B: 1 // 0, "ZeroDivisionError")
    ok, out = verdict(capsys, checks.ex05_block_entries, ...)
    assert not ok and "not answered yet" in out
