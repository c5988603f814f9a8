"""Notebook 00's exercise checkers (``retnet_edu.course.checks.ch00``): ✓ for a right answer, a hint
that names the mistake for each common wrong answer (never the answer itself), 'not answered yet' for
the placeholder, and no exception for a learner's bug."""

import math

import torch

from retnet_edu.course import checks


def test_checker_messages(capsys):
    assert not checks.ex00_gamma_for_memory(...)
    assert "not answered yet" in capsys.readouterr().out
    assert not checks.ex00_gamma_for_memory(0.9)
    out = capsys.readouterr().out
    assert "✗" in out and "1/(1-γ)" in out
    assert checks.ex00_gamma_for_memory(torch.tensor(0.99))
    assert "✓" in capsys.readouterr().out
    assert not checks.ex00_half_life("21.8")
    assert "expected a number" in capsys.readouterr().out
    assert checks.ex00_half_life(math.log(2) / -math.log(31 / 32))


def test_right_answers_computed_in_float32_pass(capsys):
    """A learner who computes in float32 (torch's default dtype) is right too: the checkers' tolerance (1e-6
    relative) is above float32's rounding (~6e-8)."""
    g = torch.tensor(1.0) - 1 / torch.tensor(100.0)
    assert g.dtype == torch.float32 and checks.ex00_gamma_for_memory(g)
    n = torch.log(torch.tensor(2.0)) / -torch.log(torch.tensor(31.0) / 32)
    assert n.dtype == torch.float32 and checks.ex00_half_life(n)
    capsys.readouterr()
    assert not checks.ex00_half_life(21.8)  # rounded
    assert "rounded" in capsys.readouterr().out
    assert not checks.ex00_half_life(32.0)  # 1/(1-γ), the effective memory, not the half-life
    assert "logarithms" in capsys.readouterr().out
