"""Notebook 02's exercise checkers (``retnet_edu.course.checks.ch02``). Each is fed (a) the reference answer, (b) a
right answer computed the natural float32 way, and (c) every wrong answer its hints name: ✓, ✓ (with a note on the
precision where it shows), and the specific hint."""

import math

import torch
from verdicts import expect_hint, expect_pass, verdict

from retnet_edu.course import checks
from retnet_edu.retention import decay_gammas, decay_mask, lm_decay_gammas

NOTE = "float32 precision"


def passes(capsys, checker, answer):
    ok, out = verdict(capsys, checker, answer)
    assert ok and "✓" in out, out
    return out


def from_log(log_gamma, T, dtype=torch.float64):
    """The reference: D = exp((n - m) log γ) on and below the diagonal, 0 above (never a positive exponent)."""
    n = torch.arange(T, dtype=dtype)
    dist = n[:, None] - n[None, :]
    return torch.where(dist >= 0, torch.exp(dist.clamp(min=0) * log_gamma), torch.zeros((), dtype=dtype))


def test_ex02_decay_mask(capsys):
    expect_pass(capsys, checks.ex02_decay_mask, from_log)  # (a)
    expect_pass(
        capsys,
        checks.ex02_decay_mask,
        lambda lg, T: decay_mask(torch.tensor([math.exp(lg)], dtype=torch.float64), T)[0],
    )

    def natural_float32(log_gamma, T):  # (b) torch.arange without a dtype: float32 all the way
        n = torch.arange(T)
        dist = n[:, None] - n[None, :]
        return torch.where(dist >= 0, torch.exp(dist.clamp(min=0) * log_gamma), 0.0)

    assert natural_float32(-0.1, 3).dtype == torch.float32
    assert NOTE in passes(capsys, checks.ex02_decay_mask, natural_float32)

    def official_trick(log_gamma, T):  # future distances set to +inf, without the official nan_to_num
        n = torch.arange(T, dtype=torch.float64)
        dist = (n[:, None] - n[None, :]).masked_fill(torch.ones(T, T).triu(1).bool(), float("inf"))
        return torch.exp(-dist * -log_gamma)

    expect_hint(capsys, checks.ex02_decay_mask, official_trick, "log γ = 0", "nan_to_num")
    expect_pass(capsys, checks.ex02_decay_mask, lambda lg, T: torch.nan_to_num(official_trick(lg, T)))

    def exp_then_mask(log_gamma, T):  # exp of a positive exponent, times the mask: inf · 0 = NaN for T = 1100
        n = torch.arange(T, dtype=torch.float64)
        return torch.exp((n[:, None] - n[None, :]) * log_gamma) * torch.ones(T, T, dtype=torch.float64).tril()

    expect_hint(capsys, checks.ex02_decay_mask, exp_then_mask, "NaN or inf for γ = 0.5")

    def gamma_not_log(log_gamma, T):  # log γ used as if it were γ
        n = torch.arange(T, dtype=torch.float64)
        dist = n[:, None] - n[None, :]
        return torch.where(dist >= 0, torch.tensor(log_gamma, dtype=torch.float64) ** dist.clamp(min=0), 0.0)

    expect_hint(capsys, checks.ex02_decay_mask, gamma_not_log, "not γ")
    expect_hint(capsys, checks.ex02_decay_mask, lambda lg, T: from_log(-lg, T), "shrink with distance")
    expect_hint(capsys, checks.ex02_decay_mask, lambda lg, T: from_log(lg, T).T, "rows are queries")

    def no_mask(log_gamma, T):
        n = torch.arange(T).double()
        return torch.exp((n[:, None] - n[None, :]).abs() * log_gamma)

    expect_hint(capsys, checks.ex02_decay_mask, no_mask, "causal")
    expect_hint(capsys, checks.ex02_decay_mask, lambda lg, T: from_log(lg, T) * 0.5, "diagonal")
    expect_hint(capsys, checks.ex02_decay_mask, lambda lg, T: torch.ones(T, T).tril(), "γ = 0.9")
    expect_hint(capsys, checks.ex02_decay_mask, lambda lg, T: torch.ones(T), "matrix")


def test_ex02_tokens_for_weight(capsys):
    L = math.ceil(math.log(0.05) / math.log(0.99))
    assert L == 299 and 1 - 0.99**L >= 0.95 > 1 - 0.99 ** (L - 1)
    expect_pass(capsys, checks.ex02_tokens_for_weight, L)  # (a)
    natural = torch.ceil(torch.log(torch.tensor(0.05)) / torch.log(torch.tensor(0.99)))  # (b) float32
    assert natural.dtype == torch.float32
    expect_pass(capsys, checks.ex02_tokens_for_weight, natural)
    expect_pass(capsys, checks.ex02_tokens_for_weight, 299.0)
    expect_hint(capsys, checks.ex02_tokens_for_weight, math.log(0.05) / math.log(0.99), "whole number")
    expect_hint(capsys, checks.ex02_tokens_for_weight, 298, "still below 0.95")
    expect_hint(capsys, checks.ex02_tokens_for_weight, 100, "1 - γ^L")
    expect_hint(capsys, checks.ex02_tokens_for_weight, "299", "expected a number of tokens")


def test_ex02_lm_schedule(capsys):
    reference = 1 - torch.exp(torch.linspace(math.log(1 / 16), math.log(1 / 2048), 4, dtype=torch.float64))
    expect_pass(capsys, checks.ex02_lm_schedule, reference)  # (a)
    expect_pass(capsys, checks.ex02_lm_schedule, reference.tolist())
    natural = 1 - torch.exp(torch.linspace(math.log(1 / 16), math.log(1 / 2048), 4))  # (b) float32 linspace
    assert natural.dtype == torch.float32
    assert NOTE in passes(capsys, checks.ex02_lm_schedule, natural)
    expect_hint(capsys, checks.ex02_lm_schedule, reference.flip(0), "shortest memory")
    expect_hint(capsys, checks.ex02_lm_schedule, 1 / (1 - reference), "effective memories")
    expect_hint(capsys, checks.ex02_lm_schedule, lm_decay_gammas(4), "32 and 512")
    expect_hint(capsys, checks.ex02_lm_schedule, 1 - 2.0 ** (-4 - torch.arange(4.0)), "doubles")
    expect_hint(
        capsys, checks.ex02_lm_schedule, 1 - 1 / torch.linspace(16, 2048, 4, dtype=torch.float64), "evenly in memory"
    )
    expect_hint(
        capsys, checks.ex02_lm_schedule, torch.linspace(1 - 1 / 16, 1 - 1 / 2048, 4, dtype=torch.float64), "evenly in γ"
    )
    expect_hint(capsys, checks.ex02_lm_schedule, lm_decay_gammas(6), "4 decay rates")
    expect_hint(capsys, checks.ex02_lm_schedule, torch.full((4,), 0.99), "log(1/16)")


def test_ex02_slowest_memory(capsys):
    memories = 1 / (1 - decay_gammas(16))
    expect_pass(capsys, checks.ex02_slowest_memory, int((memories > 2048).sum()))  # (a)
    natural = (1 / (1 - decay_gammas(16).float()) > 2048).sum()  # (b) float32 γ, an integer tensor
    expect_pass(capsys, checks.ex02_slowest_memory, natural)
    expect_pass(capsys, checks.ex02_slowest_memory, 9.0)
    expect_hint(capsys, checks.ex02_slowest_memory, int((memories >= 2048).sum()), "exactly 2048")
    expect_hint(capsys, checks.ex02_slowest_memory, 7, "first such head")
    expect_hint(capsys, checks.ex02_slowest_memory, 0, "LM schedule")
    expect_hint(capsys, checks.ex02_slowest_memory, 8, "off by one")
    expect_hint(capsys, checks.ex02_slowest_memory, 16, "2^(5+h) > 2048")
    expect_hint(capsys, checks.ex02_slowest_memory, 8.5, "whole number")
    expect_hint(capsys, checks.ex02_slowest_memory, [9], "expected a number of heads")
