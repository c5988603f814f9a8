"""Notebook 09's exercise checkers (``retnet_edu.course.checks.ch09``): ✓ for the reference answer and for a right
answer computed the natural way in float32, a hint that names the mistake for each wrong answer a hint names (never
the answer itself), 'not answered yet' for the placeholder, and no exception for a learner's bug."""

import math

import numpy as np
import torch

from retnet_edu.course import checks


def expect(capsys, ok, mark, words=()):
    out = capsys.readouterr().out
    assert bool(ok) == (mark == "✓") and mark in out, out
    for w in words:
        assert w in out, out
    return out


def test_ex09_kv_cache_gib(capsys):
    assert not checks.ex09_kv_cache_gib(...)
    assert "not answered yet" in capsys.readouterr().out
    expect(capsys, checks.ex09_kv_cache_gib(3.125), "✓")
    expect(capsys, checks.ex09_kv_cache_gib(2 * 40 * 4096 * 5120 * 2 / 2**30), "✓")
    # the natural float32 way: numbers as a float32 tensor, bytes, GiB
    numbers = torch.tensor(2.0, dtype=torch.float32) * 40 * 4096 * 5120
    expect(capsys, checks.ex09_kv_cache_gib(numbers * 2 / 2**30), "✓")
    expect(capsys, checks.ex09_kv_cache_gib(np.float32(2 * 40 * 4096 * 5120 * 2) / np.float32(2**30)), "✓")
    for wrong, words in (
        (3.125 / 2, "AND"),
        (3.125 / 40, "40 layers"),
        (6.25, "2 bytes"),
        (2 * 40 * 4096 * 5120 * 2 / 1e9, "2^30"),
        (np.float32(2 * 40 * 4096 * 5120 * 2 / 1e9), "2^30"),
        (4.0, "6.7B model at 8192"),
        (5.0, "count numbers first"),
    ):
        out = expect(capsys, checks.ex09_kv_cache_gib(wrong), "✗", [words])
        assert "3.125" not in out
    expect(capsys, checks.ex09_kv_cache_gib("4"), "✗", ["expected a number"])


def test_ex09_ideal_ratio(capsys):
    assert not checks.ex09_ideal_ratio(...)
    assert "not answered yet" in capsys.readouterr().out

    def stub(weight_bytes, state_bytes, kv_bytes_per_token, context, batch): ...

    assert not checks.ex09_ideal_ratio(stub)
    assert "not answered yet" in capsys.readouterr().out
    expect(capsys, checks.ex09_ideal_ratio(lambda W, S, kv, t, B: (W + B * kv * t) / (W + B * S)), "✓")

    def in_float32(W, S, kv, t, B):  # a natural float32 answer: tensors of the default dtype
        W, S, kv = (torch.tensor(float(x)) for x in (W, S, kv))
        return (W + B * kv * t) / (W + B * S)

    expect(capsys, checks.ex09_ideal_ratio(in_float32), "✓")
    f32 = np.float32
    cases = (
        (lambda W, S, kv, t, B: (B * W + B * kv * t) / (B * W + B * S), "once per step for all"),
        (lambda W, S, kv, t, B: (W + kv * t) / (W + S), "its own state"),
        (lambda W, S, kv, t, B: (f32(W) + f32(kv) * t) / (f32(W) + f32(S)), "its own state"),
        (lambda W, S, kv, t, B: kv * t / S, "every weight"),
        (lambda W, S, kv, t, B: (W + B * S) / (W + B * kv * t), "upside down"),
        (lambda W, S, kv, t, B: (f32(W) + B * f32(S)) / (f32(W) + B * f32(kv) * t), "upside down"),
        (lambda W, S, kv, t, B: 1.0, "not right for context"),
        (lambda W, S, kv, t, B: "x", "return one number"),
        (lambda W, S: 1.0, "raised TypeError"),
        (3, "expected a function"),
    )
    for fn, words in cases:
        out = expect(capsys, checks.ex09_ideal_ratio(fn), "✗", [words])
        assert "(W + B·t·kv)" not in out


def test_ex09_overhead_speedup(capsys):
    assert not checks.ex09_overhead_speedup(...)
    assert "not answered yet" in capsys.readouterr().out
    expect(capsys, checks.ex09_overhead_speedup(5.6 / 2.4), "✓")
    fixed, bandwidth = np.float32(2.0), np.float32(1e10)  # the natural float32 way, in ms
    t_r, t_t = fixed + np.float32(4e6) / bandwidth * 1e3, fixed + np.float32(36e6) / bandwidth * 1e3
    expect(capsys, checks.ex09_overhead_speedup(t_t / t_r), "✓")
    expect(capsys, checks.ex09_overhead_speedup(round(5.6 / 2.4, 4)), "✓")
    for wrong, words in (
        (9.0, "bytes ratio"),
        (np.float32(36e6) / np.float32(4e6), "bytes ratio"),
        (14.0, "fixed 2 ms too"),
        ((fixed + np.float32(3.6)) / np.float32(0.4), "fixed 2 ms too"),
        (2.4 / 5.6, "upside down"),
        (3.0, "fixed + bytes / bandwidth"),
    ):
        out = expect(capsys, checks.ex09_overhead_speedup(wrong), "✗", [words])
        assert "2.33" not in out


def test_ex09_batch_fit(capsys):
    assert not checks.ex09_batch_fit(...)
    assert "not answered yet" in capsys.readouterr().out
    expect(capsys, checks.ex09_batch_fit((3, 217)), "✓")
    expect(capsys, checks.ex09_batch_fit([3.0, 217.0]), "✓")
    free = np.float32(40) - np.float32(12.8)  # the natural float32 way
    expect(capsys, checks.ex09_batch_fit((np.floor(free / 8), np.floor(free / np.float32(0.125)))), "✓")
    expect(capsys, checks.ex09_batch_fit((int((40 - 12.8) // 8), int((40 - 12.8) // 0.125))), "✓")
    expect(capsys, checks.ex09_batch_fit(torch.tensor([3, 217])), "✓")
    for wrong, words in (
        ((5, 320), "40 - 12.8"),
        ((4, 218), "round down"),
        ((math.ceil(27.2 / 8), 217), "round down"),
        ((6, 217), "twice the 8k one"),
        ((16, 537), "80 GiB GPU at 8192"),
        ((16, 536), "80 GiB GPU at 8192"),
        ((3, 3), "far smaller"),
        ((3, 4), "free memory"),
        ((3,), "two whole numbers"),
        ("ab", "two whole numbers"),
        ((3.5, 217), "two whole numbers"),
    ):
        out = expect(capsys, checks.ex09_batch_fit(wrong), "✗", [words])
        assert "217" not in out.split("✗")[1]
