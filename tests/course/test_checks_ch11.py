"""Notebook 11's exercise checkers (``retnet_edu.course.checks.ch11``): each gets the reference answer, a right
answer computed the natural float32 way, every wrong answer its hints name (each recognised by its own hint, never
told the answer), the placeholder, an answer of the wrong type and a learner's bug (a hint, never an exception)."""

import math

import numpy as np
import pytest
import torch
from verdicts import expect_hint, expect_pass, verdict

from retnet_edu.course import checks
from retnet_edu.course.checks.ch11 import GATES_11_1, P_RESET, G, gate_mask_reference, gated_memory_reference
from retnet_edu.successors import segment_sums

CHECKERS = [checks.ex11_gate_mask, checks.ex11_reset_gates, checks.ex11_retnet_log_gamma, checks.ex11_gated_memory]


@pytest.mark.parametrize("checker", CHECKERS, ids=lambda f: f.__name__)
def test_placeholder_and_wrong_type(capsys, checker):
    for placeholder in (..., None):
        ok, out = verdict(capsys, checker, placeholder)
        assert not ok and "not answered yet" in out and "✗" not in out
    ok, out = verdict(capsys, checker, "a string")
    assert not ok and "✗" in out


@pytest.mark.parametrize("checker", CHECKERS[1:3], ids=lambda f: f.__name__)
def test_function_checkers_stub_and_bug(capsys, checker):
    def stub(*args): ...

    ok, out = verdict(capsys, checker, stub)
    assert not ok and "not answered yet" in out
    expect_hint(capsys, checker, lambda *args: 1 / 0, "ZeroDivisionError")


# ---------------------------------------------------------------------------------------------------- 11.1


def _mask_by_products(gates, first=1, last=0):
    """D[n, m] = ∏_{m+first ≤ i ≤ n+last} γ_i, written independently of the checker (numpy, float64)."""
    T = len(gates)
    D = np.zeros((T, T))
    for n in range(T):
        for m in range(n + 1):
            D[n, m] = np.prod(gates[m + first : n + last + 1])
    return D


def test_ex11_gate_mask_reference_is_the_product_of_the_gates_between():
    D = gate_mask_reference().numpy()
    assert np.allclose(D, _mask_by_products(GATES_11_1), rtol=0, atol=1e-15)
    assert np.array_equal(np.diag(D), np.ones(6)) and D[3, 0] == 0.5 * 1.0 * 0.25 and (D[4:, :4] == 0).all()


def test_ex11_gate_mask(capsys):
    D = gate_mask_reference()
    expect_pass(capsys, checks.ex11_gate_mask, D)
    expect_pass(capsys, checks.ex11_gate_mask, D.tolist())
    expect_pass(capsys, checks.ex11_gate_mask, _mask_by_products(GATES_11_1))  # numpy
    # the natural float32 way: log gates in float32 (the reset's log is -inf), the package's segment sums, exp
    log_g = torch.tensor(GATES_11_1).log()  # float32
    ok, out = verdict(capsys, checks.ex11_gate_mask, torch.exp(segment_sums(log_g)))
    assert ok and "✓" in out
    ok, out = verdict(capsys, checks.ex11_gate_mask, D.float() * (1 + 3e-7))
    assert ok and "float32 precision" in out
    # a difference of cumulative sums (or the naive exp(c_n)·exp(-c_m)) meets -inf - (-inf) at the reset
    c = log_g.cumsum(0)
    diff = torch.exp(c[:, None] - c[None, :]).tril()
    expect_hint(capsys, checks.ex11_gate_mask, diff, "NaN", "-∞ - (-∞)")
    expect_hint(capsys, checks.ex11_gate_mask, D.T, "transposed")
    expect_hint(capsys, checks.ex11_gate_mask, D + torch.triu(torch.ones(6, 6), 1), "causal")
    expect_hint(capsys, checks.ex11_gate_mask, _mask_by_products(GATES_11_1, 0, 0), "diagonal", "inclusive")
    expect_hint(capsys, checks.ex11_gate_mask, _mask_by_products(GATES_11_1, 0, -1), "off by one")
    rows = np.cumprod(GATES_11_1)
    expect_hint(capsys, checks.ex11_gate_mask, np.tril(np.repeat(rows[:, None], 6, 1)), "each row is constant")
    wrong_diag = D.clone()
    wrong_diag[2, 2] = 0.5
    expect_hint(capsys, checks.ex11_gate_mask, wrong_diag, "diagonal must be 1")
    wrong_entry = D.clone()
    wrong_entry[5, 3] = 0.25  # the path from 3 to 5 crosses the reset at 4
    expect_hint(capsys, checks.ex11_gate_mask, wrong_entry, "some entries are off")
    expect_hint(capsys, checks.ex11_gate_mask, D[:5, :5], "6 × 6")


# ---------------------------------------------------------------------------------------------------- 11.2


def _reset(at=0, value=-1e4, float32=False, every_later=False):
    """reset_gates the natural way (clone, one very negative log gate at m), or one of the typical mistakes."""

    def fn(log_gamma, m):
        out = log_gamma.float() if float32 else log_gamma.clone()
        out[m + at] = value
        if every_later:
            out[m:] = value
        return out

    return fn


def test_ex11_reset_gates(capsys):
    expect_pass(capsys, checks.ex11_reset_gates, _reset())
    expect_pass(capsys, checks.ex11_reset_gates, _reset(value=-1e30))
    ok, out = verdict(capsys, checks.ex11_reset_gates, _reset(float32=True))
    assert ok and "float32 precision" in out
    expect_pass(capsys, checks.ex11_reset_gates, lambda lg, m: torch.where(torch.arange(len(lg)) == m, -1e4, lg))
    expect_pass(capsys, checks.ex11_reset_gates, lambda lg, m: [(-1e4 if i == m else x) for i, x in enumerate(lg)])
    expect_hint(capsys, checks.ex11_reset_gates, _reset(value=-math.inf), "-inf", "-1e4")
    expect_hint(capsys, checks.ex11_reset_gates, _reset(at=-1), "off by one", "token m-1 is still")
    expect_hint(capsys, checks.ex11_reset_gates, _reset(at=-1, value=-3.0), "off by one")
    expect_hint(capsys, checks.ex11_reset_gates, _reset(at=1), "off by one", "one token late")
    expect_hint(capsys, checks.ex11_reset_gates, _reset(value=-5.0), "not close enough to 0")
    expect_hint(capsys, checks.ex11_reset_gates, _reset(every_later=True), "only token m's gate")
    expect_hint(capsys, checks.ex11_reset_gates, lambda lg, m: torch.zeros_like(lg), "before token m changed")
    expect_hint(capsys, checks.ex11_reset_gates, lambda lg, m: lg.exp(), "log gates are ≤ 0")
    expect_hint(capsys, checks.ex11_reset_gates, lambda lg, m: lg[:m], "shape (T,)")

    def both_sides(lg, m):
        out = lg.clone()
        out[m] = -1e4
        out[m - 1] = -1.0
        return out

    expect_hint(capsys, checks.ex11_reset_gates, both_sides, "before token m changed")

    def reset_and_later(lg, m):
        out = lg.clone()
        out[m] = -1e4
        out[m:] = out[m:] * 2 if m + 1 < len(lg) else out[m:]
        return out

    expect_hint(capsys, checks.ex11_reset_gates, reset_and_later, "only token m's gate")

    def stray(lg, m):
        out = lg.clone()
        out[m] = -5.0
        out[-1] = -2.0 if m + 1 < len(lg) else out[-1]
        return out

    expect_hint(capsys, checks.ex11_reset_gates, stray, "not yet")


def test_ex11_reset_gates_does_not_see_the_learner_modify_its_inputs(capsys):
    def in_place(lg, m):
        lg[m] = -1e4
        return lg

    expect_pass(capsys, checks.ex11_reset_gates, in_place)  # _call hands over copies


# ---------------------------------------------------------------------------------------------------- 11.3


def _log_gates(gamma, B, T):
    return gamma.log()[None, :, None].expand(B, -1, T)


def test_ex11_retnet_log_gamma(capsys):
    expect_pass(capsys, checks.ex11_retnet_log_gamma, _log_gates)
    ok, out = verdict(capsys, checks.ex11_retnet_log_gamma, _log_gates)
    assert ok and "float32 precision" not in out  # the float64 cases agree to float64 rounding
    ok, out = verdict(capsys, checks.ex11_retnet_log_gamma, lambda g, B, T: _log_gates(g.float(), B, T))
    assert ok and "float32 precision" in out
    expect_pass(
        capsys,
        checks.ex11_retnet_log_gamma,
        lambda g, B, T: np.log(g.double().numpy())[None, :, None] * np.ones((B, 1, T)),
    )
    expect_pass(capsys, checks.ex11_retnet_log_gamma, lambda g, B, T: torch.log(g).repeat(B, T, 1).transpose(1, 2))
    expect_hint(
        capsys, checks.ex11_retnet_log_gamma, lambda g, B, T: g[None, :, None].expand(B, -1, T), "γ_h themselves"
    )
    expect_hint(capsys, checks.ex11_retnet_log_gamma, lambda g, B, T: -_log_gates(g, B, T), "log gates are ≤ 0")
    expect_hint(
        capsys, checks.ex11_retnet_log_gamma, lambda g, B, T: torch.log1p(-g)[None, :, None].expand(B, -1, T), "1 - γ_h"
    )
    cumulative = lambda g, B, T: _log_gates(g, B, T).cumsum(-1)  # noqa: E731
    expect_hint(capsys, checks.ex11_retnet_log_gamma, cumulative, "cumulative")
    expect_hint(capsys, checks.ex11_retnet_log_gamma, lambda g, B, T: _log_gates(g, B, T).flip(1), "reverse order")
    expect_hint(capsys, checks.ex11_retnet_log_gamma, lambda g, B, T: _log_gates(g, B, T)[0], "(B, H, T)", "batch")
    expect_hint(
        capsys, checks.ex11_retnet_log_gamma, lambda g, B, T: _log_gates(g, B, T).transpose(1, 2), "heads before time"
    )
    expect_hint(capsys, checks.ex11_retnet_log_gamma, lambda g, B, T: g.log(), "does not broadcast")
    expect_hint(capsys, checks.ex11_retnet_log_gamma, lambda g, B, T: g.log()[None, :, None], "does not broadcast")
    expect_hint(capsys, checks.ex11_retnet_log_gamma, lambda g, B, T: torch.zeros(B, T, T + 1), "expected shape")
    expect_hint(capsys, checks.ex11_retnet_log_gamma, lambda g, B, T: 2 * _log_gates(g, B, T), "not yet")
    nan = lambda g, B, T: torch.full((B, g.numel(), T), math.nan)  # noqa: E731
    expect_hint(capsys, checks.ex11_retnet_log_gamma, nan, "NaN")
    expect_hint(capsys, checks.ex11_retnet_log_gamma, lambda g, B, T: object(), "expected a tensor")


# ---------------------------------------------------------------------------------------------------- 11.4


def test_ex11_gated_memory_reference_by_simulation():
    """1/(1 - E[γ]) against the mean row sum of many sampled masks (independent of the formula)."""
    gen = torch.Generator().manual_seed(0)
    N, T = 4000, 300
    gates = torch.where(torch.rand(N, T, generator=gen, dtype=torch.float64) < P_RESET, 0.0, G)
    weight = torch.ones(N, dtype=torch.float64)  # D[T-1, T-1-j] = γ_{T-j} … γ_{T-1}, built from the end
    total = weight.clone()
    for j in range(1, T):
        weight = weight * gates[:, T - j]
        total += weight
    assert abs(total.mean().item() - gated_memory_reference()) / gated_memory_reference() < 0.02


def test_ex11_gated_memory(capsys):
    want = 1 / (1 - (1 - P_RESET) * G)
    expect_pass(capsys, checks.ex11_gated_memory, want)
    ok, out = verdict(capsys, checks.ex11_gated_memory, torch.tensor(1 / (1 - 0.95 * 0.98), dtype=torch.float32))
    assert ok and "float32 precision" in out
    expect_pass(capsys, checks.ex11_gated_memory, np.float32(want))
    ok, out = verdict(capsys, checks.ex11_gated_memory, want * 1.012)  # a Monte-Carlo estimate
    assert ok and "good estimate" in out
    expect_hint(capsys, checks.ex11_gated_memory, 1 / (1 - G), "ignores the resets")
    expect_hint(capsys, checks.ex11_gated_memory, 0.95 * 50 + 0.05 * 1, "averages the memories")
    expect_hint(capsys, checks.ex11_gated_memory, 20, "1/p")
    expect_hint(capsys, checks.ex11_gated_memory, want - 1, "token itself")
    expect_hint(capsys, checks.ex11_gated_memory, 1, "logarithms")
    expect_hint(capsys, checks.ex11_gated_memory, 12.0, "expectation")
