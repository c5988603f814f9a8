"""Notebook 02's exercise checkers (``retnet_edu.course.checks.ch02``): ✓ for a right answer, a hint
that names the mistake for each common wrong answer (never the answer itself), 'not answered yet' for
the placeholder, and no exception for a learner's bug."""

import math

import torch
from verdicts import expect_hint, expect_pass

from retnet_edu.course import checks
from retnet_edu.retention import decay_gammas, decay_mask, lm_decay_gammas


def test_ex02_decay_mask(capsys):
    expect_pass(
        capsys, checks.ex02_decay_mask, lambda gamma, T: decay_mask(torch.tensor([gamma], dtype=torch.float64), T)[0]
    )

    def by_hand(gamma, T):
        n = torch.arange(T)
        dist = (n[:, None] - n[None, :]).double()
        return torch.where(dist >= 0, gamma ** dist.clamp(min=0), torch.zeros(()))

    expect_pass(capsys, checks.ex02_decay_mask, by_hand)
    expect_pass(capsys, checks.ex02_decay_mask, lambda g, T: by_hand(g, T).numpy())  # arrays are fine
    expect_hint(capsys, checks.ex02_decay_mask, lambda g, T: by_hand(g, T).T, "rows are queries")

    def no_mask(gamma, T):
        n = torch.arange(T).double()
        return gamma ** (n[:, None] - n[None, :]).abs()

    expect_hint(capsys, checks.ex02_decay_mask, no_mask, "causal")

    def overflow(gamma, T):
        n = torch.arange(T, dtype=torch.float32)
        full = torch.tensor(gamma, dtype=torch.float32) ** (n[:, None] - n[None, :])
        return (full * torch.tril(torch.ones(T, T))).double()

    expect_hint(capsys, checks.ex02_decay_mask, overflow, "NaN or inf")
    expect_hint(capsys, checks.ex02_decay_mask, lambda g, T: by_hand(g, T) * 0.5, "diagonal")
    expect_hint(capsys, checks.ex02_decay_mask, lambda g, T: torch.tril(torch.ones(T, T)), "γ = 0.9")
    expect_hint(capsys, checks.ex02_decay_mask, lambda g, T: torch.ones(T), "matrix")


def test_ex02_tokens_for_weight(capsys):
    L = math.ceil(math.log(0.05) / math.log(0.99))
    assert L == 299 and 1 - 0.99**L >= 0.95 > 1 - 0.99 ** (L - 1)
    expect_pass(capsys, checks.ex02_tokens_for_weight, L)
    expect_pass(capsys, checks.ex02_tokens_for_weight, 299.0)
    expect_pass(capsys, checks.ex02_tokens_for_weight, torch.tensor(299))
    expect_hint(capsys, checks.ex02_tokens_for_weight, math.log(0.05) / math.log(0.99), "whole number")
    expect_hint(capsys, checks.ex02_tokens_for_weight, 298, "still below 0.95")
    expect_hint(capsys, checks.ex02_tokens_for_weight, 100, "1 - γ^L")


def test_ex02_lm_schedule(capsys):
    expect_pass(capsys, checks.ex02_lm_schedule, lm_decay_gammas(6))
    expect_pass(capsys, checks.ex02_lm_schedule, lm_decay_gammas(6).tolist())
    expect_hint(capsys, checks.ex02_lm_schedule, decay_gammas(6), "eq. 8")
    expect_hint(capsys, checks.ex02_lm_schedule, 1 / (1 - lm_decay_gammas(6)), "effective memories")
    expect_hint(
        capsys, checks.ex02_lm_schedule, 1 - 1 / torch.linspace(32, 512, 6, dtype=torch.float64), "evenly in memory"
    )
    expect_hint(
        capsys, checks.ex02_lm_schedule, torch.linspace(1 - 1 / 32, 1 - 1 / 512, 6, dtype=torch.float64), "evenly in γ"
    )
    expect_hint(capsys, checks.ex02_lm_schedule, lm_decay_gammas(8), "6 decay rates")
    expect_hint(capsys, checks.ex02_lm_schedule, torch.full((6,), 0.99), "log(1/32)")


def test_ex02_slowest_memory(capsys):
    expect_pass(capsys, checks.ex02_slowest_memory, 1 / (1 - decay_gammas(16)[-1]))
    expect_pass(capsys, checks.ex02_slowest_memory, 2**20)
    expect_hint(capsys, checks.ex02_slowest_memory, 2**21, "h = 0")
    expect_hint(capsys, checks.ex02_slowest_memory, 1 - 2**-20, "1/(1 - γ)")
    expect_hint(capsys, checks.ex02_slowest_memory, 32, "2^(5+h)")
