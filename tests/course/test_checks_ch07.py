"""Notebook 07's exercise checkers (``retnet_edu.course.checks.ch07``): each gets the reference answer, a right
answer computed the natural float32 way where the data are float64 (it passes, with a note on its precision),
every wrong answer its hints name (never told the answer), the placeholder, and a learner's bug (a hint, never an
exception)."""

import math

import numpy as np
import torch
from verdicts import expect_hint, expect_pass, verdict

from retnet_edu.course import checks

# ---------------------------------------------------------------------------------------------------- 07.1


def _params(vocab, d, L, V, F):
    return L * (2 * d * d + 3 * d * V + 3 * d * F + 2 * d) + d + 2 * vocab * d


def test_ex07_model_params(capsys):
    expect_pass(capsys, checks.ex07_model_params, _params)
    expect_pass(capsys, checks.ex07_model_params, lambda *a: float(_params(*a)))  # a whole float is fine
    expect_pass(capsys, checks.ex07_model_params, lambda *a: np.int64(_params(*a)))
    expect_hint(capsys, checks.ex07_model_params, lambda vocab, d, L, V, F: _params(vocab, d, L, V, F) - d, "final")
    expect_hint(
        capsys, checks.ex07_model_params, lambda vocab, d, L, V, F: _params(vocab, d, L, V, F) - vocab * d, "tied"
    )
    expect_hint(
        capsys,
        checks.ex07_model_params,
        lambda vocab, d, L, V, F: _params(vocab, d, L, V, F) - 2 * vocab * d,
        "embedding and the output projection",
    )
    expect_hint(
        capsys,
        checks.ex07_model_params,
        lambda vocab, d, L, V, F: _params(vocab, d, L, V, F) - 2 * d * L,
        "two RMSNorms",
    )
    expect_hint(capsys, checks.ex07_model_params, lambda vocab, d, L, V, F: 12 * d * d * L, "value_dim and ffn_dim")
    expect_hint(
        capsys,
        checks.ex07_model_params,
        lambda vocab, d, L, V, F: L * (12 * d * d + 2 * d) + d + 2 * vocab * d,  # right only for V = 2d, F = 4d/3
        "value_dim and ffn_dim",
    )
    expect_hint(capsys, checks.ex07_model_params, lambda *a: _params(*a) + 1, "count every matrix")
    expect_hint(capsys, checks.ex07_model_params, lambda *a: _params(*a) + 0.5, "whole number")
    expect_hint(capsys, checks.ex07_model_params, lambda *a: 1 / 0, "ZeroDivisionError")
    expect_hint(capsys, checks.ex07_model_params, 3, "expected a function")
    ok, out = verdict(capsys, checks.ex07_model_params, ...)
    assert not ok and "not answered yet" in out


# ---------------------------------------------------------------------------------------------------- 07.2


def test_ex07_ffn_width(capsys):
    expect_pass(capsys, checks.ex07_ffn_width, 1792)
    expect_pass(capsys, checks.ex07_ffn_width, 7 * 768 / 3)
    expect_pass(capsys, checks.ex07_ffn_width, torch.tensor(7 * 768 / 3, dtype=torch.float32))
    expect_hint(capsys, checks.ex07_ffn_width, 1024, "value_dim = 2d")
    expect_hint(capsys, checks.ex07_ffn_width, 2688, "plain FFN")
    expect_hint(capsys, checks.ex07_ffn_width, 1000, "12d²")
    expect_hint(capsys, checks.ex07_ffn_width, "1792", "expected a number")
    ok, out = verdict(capsys, checks.ex07_ffn_width, ...)
    assert not ok and "not answered yet" in out


# ---------------------------------------------------------------------------------------------------- 07.3


def test_ex07_official_state(capsys):
    expect_pass(capsys, checks.ex07_official_state, lambda kv, s: kv.transpose(-1, -2) * s.sqrt()[None, :, None, None])

    def float32_sqrt(kv, s):  # √scale per head from Python floats: a float32 tensor
        return kv.transpose(-1, -2) * torch.tensor([math.sqrt(x) for x in s.tolist()])[None, :, None, None]

    ok, out = verdict(capsys, checks.ex07_official_state, float32_sqrt)
    assert ok and "float32 precision" in out
    expect_hint(capsys, checks.ex07_official_state, lambda kv, s: kv.transpose(-1, -2), "√scale")
    expect_hint(
        capsys,
        checks.ex07_official_state,
        lambda kv, s: kv.transpose(-1, -2) / s.sqrt()[None, :, None, None],
        "multiplying, not dividing",
    )
    expect_hint(
        capsys, checks.ex07_official_state, lambda kv, s: kv.transpose(-1, -2) * s[None, :, None, None], "square root"
    )
    expect_hint(capsys, checks.ex07_official_state, lambda kv, s: kv, "transposed")
    expect_hint(capsys, checks.ex07_official_state, lambda kv, s: 2 * kv.transpose(-1, -2), "undo the official scaling")
    expect_hint(capsys, checks.ex07_official_state, lambda kv, s: 1 / 0, "ZeroDivisionError")
    ok, out = verdict(capsys, checks.ex07_official_state, ...)
    assert not ok and "not answered yet" in out


# ---------------------------------------------------------------------------------------------------- 07.4


def _long_prompt(carry_state=True, max_piece=None, decode_state=True, float32_logits=False):
    def fn(model, prompt, n_new, piece):
        size = piece if max_piece is None else max_piece
        state = None
        for start in range(0, prompt.shape[1], size):
            logits, state = model(
                prompt[:, start : start + size], mode="parallel", state=state if carry_state else None
            )
        tokens = prompt
        for i in range(n_new):
            last = logits[:, -1].float() if float32_logits else logits[:, -1]
            nxt = last.argmax(-1, keepdim=True)
            tokens = torch.cat([tokens, nxt], dim=1)
            if i + 1 < n_new:
                logits, state = model(nxt, mode="recurrent", state=state if decode_state else None)
        return tokens

    return fn


def test_ex07_long_prompt(capsys):
    expect_pass(capsys, checks.ex07_long_prompt, _long_prompt())
    expect_pass(capsys, checks.ex07_long_prompt, _long_prompt(float32_logits=True))
    expect_hint(capsys, checks.ex07_long_prompt, _long_prompt(max_piece=1000), "more than piece")
    expect_hint(capsys, checks.ex07_long_prompt, _long_prompt(carry_state=False), "previous piece returned")
    expect_hint(capsys, checks.ex07_long_prompt, _long_prompt(decode_state=False), "different tokens")

    def reads_twice(model, prompt, n_new, piece):  # right tokens, but the prompt is read twice
        for start in range(0, prompt.shape[1], piece):
            model(prompt[:, start : start + piece], mode="parallel")
        return _long_prompt()(model, prompt, n_new, piece)

    expect_hint(capsys, checks.ex07_long_prompt, reads_twice, "right tokens", "read each prompt token once")
    expect_hint(capsys, checks.ex07_long_prompt, lambda m, p, n, c: p, "shape")
    expect_hint(
        capsys,
        checks.ex07_long_prompt,
        lambda m, p, n, c: torch.zeros(1, p.shape[1] + n, dtype=torch.long),
        "different",
    )
    expect_hint(capsys, checks.ex07_long_prompt, lambda m, p, n, c: 1 / 0, "ZeroDivisionError")
    ok, out = verdict(capsys, checks.ex07_long_prompt, ...)
    assert not ok and "not answered yet" in out
