"""Notebook 10's exercise checkers (``retnet_edu.course.checks.ch10``): ✓ for a right answer, a hint
that names the mistake for each common wrong answer (never the answer itself), 'not answered yet' for
the placeholder, and no exception for a learner's bug."""

import numpy as np
import torch

from retnet_edu.course import checks
from retnet_edu.experiments.tasks import listops_value


def lra_median(s):
    """LRA's MED: the lower-rounded mean of the two middle values of the sorted arguments."""
    return (s[(len(s) - 1) // 2] + s[len(s) // 2]) // 2


def stack_value(tokens, median=lra_median):
    stack = [[]]
    for tok in tokens:
        if tok.startswith("["):
            stack.append([tok])
        elif tok == "]":
            op, *args = stack.pop()
            s = sorted(args)
            stack[-1].append({"[MIN": s[0], "[MAX": s[-1], "[SM": sum(s) % 10, "[MED": median(s)}[op])
        else:
            stack[-1].append(int(tok))
    return stack[0][0]


def test_ex10_listops_value(capsys):
    assert checks.ex10_listops_value(stack_value)
    assert "✓" in capsys.readouterr().out
    assert not checks.ex10_listops_value(...)
    assert "not answered yet" in capsys.readouterr().out

    def rounded_median(tokens):
        return stack_value(tokens, median=lambda s: round(float(np.median(s)) + 0.01))

    assert not checks.ex10_listops_value(rounded_median)
    out = capsys.readouterr().out
    assert "✗" in out and "rounded down" in out
    assert not checks.ex10_listops_value(lambda tokens: sum(int(t) for t in tokens if t.isdigit()) % 10)
    assert "MIN is the smallest" in capsys.readouterr().out
    assert not checks.ex10_listops_value(lambda tokens: "5")
    assert "✗" in capsys.readouterr().out
    # the package's own evaluator (trees) passes too
    from retnet_edu.experiments.tasks import listops_expressions

    assert all(stack_value(list(t)) == v for t, v in listops_expressions(50, 5, 40, seed=1))
    assert listops_value(("SM", [1, 2])) == 3


def fft_conv(u, h):
    T = u.shape[-1]
    return torch.fft.irfft(torch.fft.rfft(u, n=2 * T) * torch.fft.rfft(h, n=2 * T), n=2 * T)[..., :T]


def test_ex10_causal_fft_conv(capsys):
    assert checks.ex10_causal_fft_conv(fft_conv)
    assert "✓" in capsys.readouterr().out
    assert not checks.ex10_causal_fft_conv(
        lambda u, h: torch.fft.irfft(torch.fft.rfft(u) * torch.fft.rfft(h), n=u.shape[-1])
    )
    assert "circular" in capsys.readouterr().out
    assert not checks.ex10_causal_fft_conv(lambda u, h: fft_conv(u.flip(-1), h).flip(-1))
    assert "✗" in capsys.readouterr().out
    assert not checks.ex10_causal_fft_conv(lambda u, h: u[:, :3])
    assert "shape" in capsys.readouterr().out
    assert not checks.ex10_causal_fft_conv(...)
    assert "not answered yet" in capsys.readouterr().out


def test_ex10_guessing_plateau(capsys):
    assert checks.ex10_guessing_plateau(1 / 8, num_pairs=8)
    assert checks.ex10_guessing_plateau(0.25)
    assert "✓" in capsys.readouterr().out
    assert not checks.ex10_guessing_plateau(1 / 32)
    assert "chance over all 32 value tokens" in capsys.readouterr().out
    assert not checks.ex10_guessing_plateau(25)
    assert "fraction" in capsys.readouterr().out
    assert not checks.ex10_guessing_plateau(0.5)
    assert "✗" in capsys.readouterr().out


def test_ex10_hyena_ffn_width(capsys):
    assert checks.ex10_hyena_ffn_width(157)
    assert "✓" in capsys.readouterr().out
    assert not checks.ex10_hyena_ffn_width(171)
    assert "Transformer" in capsys.readouterr().out
    assert not checks.ex10_hyena_ffn_width(85)
    assert "RetNet's own" in capsys.readouterr().out
    assert not checks.ex10_hyena_ffn_width(150)
    assert "✗" in capsys.readouterr().out
    assert not checks.ex10_hyena_ffn_width(...)
    assert "not answered yet" in capsys.readouterr().out
