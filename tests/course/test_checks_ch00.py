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
