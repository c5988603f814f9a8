"""Notebook 05's exercise checkers (``retnet_edu.course.checks.ch05``): ✓ for a right answer, a hint
that names the mistake for each common wrong answer (never the answer itself), 'not answered yet' for
the placeholder, and no exception for a learner's bug."""

import torch
from verdicts import out

from retnet_edu.course import checks
from retnet_edu.kernels import decay_powers


def test_ex05_decay_split(capsys):
    assert checks.ex05_decay_split((2, 1, 2)) and "✓" in out(capsys)
    assert not checks.ex05_decay_split((1, 2, 2)) and "swapped" in out(capsys)
    assert not checks.ex05_decay_split((3, 0, 2)) and "wrong split" in out(capsys)
    assert not checks.ex05_decay_split((1, 1, 1)) and "add up" in out(capsys)
    assert not checks.ex05_decay_split("x") and "three whole numbers" in out(capsys)
    assert not checks.ex05_decay_split((1, 2)) and "three whole numbers" in out(capsys)


def _update(zeta_offset=1, decay_old=True, zeta=True):
    def fn(k, v, gamma, R):
        b = k.shape[2]
        j = torch.arange(b, dtype=torch.float64)
        z = decay_powers(gamma, b - zeta_offset - j) if zeta else torch.ones(gamma.shape[0], b, dtype=torch.float64)
        old = gamma.pow(b)[:, None, None] * R if decay_old else R
        return old + k.transpose(-1, -2) @ (v * z[..., None])

    return fn


def test_ex05_state_update(capsys):
    assert checks.ex05_state_update(_update()) and "✓" in out(capsys)
    assert not checks.ex05_state_update(_update(zeta=False)) and "Figure 4" in out(capsys)
    assert not checks.ex05_state_update(_update(zeta_offset=0)) and "off by one" in out(capsys)
    assert not checks.ex05_state_update(_update(decay_old=False)) and "decayed by γ^b" in out(capsys)
    assert not checks.ex05_state_update(lambda k, v, g, R: R[..., :1]) and "shape" in out(capsys)
    assert not checks.ex05_state_update(lambda k, v, g, R: 1 / 0) and "ZeroDivisionError" in out(capsys)
    assert not checks.ex05_state_update(lambda k, v, g, R: R * 2) and "wrong for a chunk" in out(capsys)
    assert not checks.ex05_state_update(3) and "expected a function" in out(capsys)


def test_ex05_balance(capsys):
    assert checks.ex05_balance_chunk_size(2 * 64 * 128 / 192) and "✓" in out(capsys)
    assert not checks.ex05_balance_chunk_size(64) and "set them equal" in out(capsys)
