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
    assert "expected an int" in capsys.readouterr().out
    assert not checks.ex10_listops_value(lambda tokens: stack_value(tokens, median=lambda s: s[len(s) // 2]))
    assert "rounded down" in capsys.readouterr().out  # the upper middle value for an even count

    def flat(tokens):  # the first operator over every digit: ignores the nesting
        digits = sorted(int(t) for t in tokens if t.isdigit())
        if len(tokens) == 1:
            return digits[0]
        return stack_value([tokens[0], *map(str, digits), "]"])

    assert not checks.ex10_listops_value(flat)
    assert "with a stack" in capsys.readouterr().out
    assert not checks.ex10_listops_value(lambda tokens: stack_value(tokens) if len(tokens) > 1 else 0)
    assert "lone digit" in capsys.readouterr().out
    assert not checks.ex10_listops_value(lambda tokens: stack_value(tokens, median=lambda s: s[0]))
    assert "MED of an odd number" in capsys.readouterr().out
    assert not checks.ex10_listops_value(lambda tokens: 1 / 0)
    assert "✗" in capsys.readouterr().out  # a learner's bug is reported, not raised
    # the package's own evaluator (trees) passes too
    from retnet_edu.experiments.tasks import listops_expressions

    assert all(stack_value(list(t)) == v for t, v in listops_expressions(50, 5, 40, seed=1))
    assert listops_value(("SM", [1, 2])) == 3


def fft_conv(u, h):
    T = u.shape[-1]
    return torch.fft.irfft(torch.fft.rfft(u, n=2 * T) * torch.fft.rfft(h, n=2 * T), n=2 * T)[..., :T]


def test_ex10_causal_fft_conv(capsys):
    assert checks.ex10_causal_fft_conv(fft_conv)
    out = capsys.readouterr().out
    assert "✓" in out and "float32" not in out

    def fft_conv_float32(u, h):  # the natural code on float32 copies of the data: ~1e-7 off
        return fft_conv(u.float(), h.float())

    assert checks.ex10_causal_fft_conv(fft_conv_float32)
    out = capsys.readouterr().out
    assert "✓" in out and "float32 precision" in out
    assert not checks.ex10_causal_fft_conv(
        lambda u, h: torch.fft.irfft(torch.fft.rfft(u) * torch.fft.rfft(h), n=u.shape[-1])
    )
    assert "circular" in capsys.readouterr().out
    assert not checks.ex10_causal_fft_conv(lambda u, h: fft_conv(u.flip(-1), h).flip(-1))
    assert "✗" in capsys.readouterr().out
    assert not checks.ex10_causal_fft_conv(lambda u, h: fft_conv(u, h).flip(-1))
    assert "wrong way" in capsys.readouterr().out
    assert not checks.ex10_causal_fft_conv(lambda u, h: u[:, :3])
    assert "shape" in capsys.readouterr().out
    assert not checks.ex10_causal_fft_conv(lambda u, h: fft_conv(u, h) + 1e-3)
    assert "pad both signals" in capsys.readouterr().out
    assert not checks.ex10_causal_fft_conv(...)
    assert "not answered yet" in capsys.readouterr().out


def test_ex10_guessing_plateau(capsys):
    """Exercise 10.3: the fraction p of queries really recalled, from an accuracy of 62.5 % with N = 4 (p = 0.5)."""
    assert checks.ex10_guessing_plateau(0.5)
    assert checks.ex10_guessing_plateau((0.625 - 1 / 4) / (1 - 1 / 4))  # the reference formula
    a = np.float32(0.625)
    assert checks.ex10_guessing_plateau((a - np.float32(1) / 4) / (1 - np.float32(1) / 4))  # in float32
    assert checks.ex10_guessing_plateau(torch.tensor(0.5, dtype=torch.float32))
    assert checks.ex10_guessing_plateau((0.4 - 1 / 8) / (1 - 1 / 8), accuracy=0.4, num_pairs=8)
    assert "✓" in capsys.readouterr().out
    assert not checks.ex10_guessing_plateau(0.625)
    assert "the accuracy itself" in capsys.readouterr().out
    assert not checks.ex10_guessing_plateau(0.375)
    assert "did not rescale" in capsys.readouterr().out
    assert not checks.ex10_guessing_plateau((0.625 - 1 / 128) / (1 - 1 / 128))
    assert "chance over all 128 value tokens" in capsys.readouterr().out
    assert not checks.ex10_guessing_plateau(50)
    assert "fraction" in capsys.readouterr().out
    assert not checks.ex10_guessing_plateau(0.25)
    assert "p + (1 - p)/N" in capsys.readouterr().out
    assert not checks.ex10_guessing_plateau(...)
    assert "not answered yet" in capsys.readouterr().out


def test_ex10_hyena_ffn_width(capsys):
    assert checks.ex10_hyena_ffn_width(330)  # d = 128 (the gpu preset's width)
    assert checks.ex10_hyena_ffn_width(330.0) and checks.ex10_hyena_ffn_width(np.int64(330))
    assert checks.ex10_hyena_ffn_width(157, embed_dim=64, num_layers=2, vocab_size=16, max_len=64)
    assert "✓" in capsys.readouterr().out
    assert not checks.ex10_hyena_ffn_width(341)
    assert "Transformer" in capsys.readouterr().out
    assert not checks.ex10_hyena_ffn_width(171)
    assert "RetNet's own" in capsys.readouterr().out
    assert not checks.ex10_hyena_ffn_width(157)
    assert "width at d = 64" in capsys.readouterr().out
    assert not checks.ex10_hyena_ffn_width(314)
    assert "✗" in capsys.readouterr().out
    assert not checks.ex10_hyena_ffn_width(...)
    assert "not answered yet" in capsys.readouterr().out
