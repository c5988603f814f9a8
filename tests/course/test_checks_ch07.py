"""Notebook 07's exercise checkers (``retnet_edu.course.checks.ch07``): ✓ for a right answer, a hint
that names the mistake for each common wrong answer (never the answer itself), 'not answered yet' for
the placeholder, and no exception for a learner's bug."""

import torch
from verdicts import out

from retnet_edu.course import checks


def test_ex07_layer_params(capsys):
    def right(d, V, F):
        return 2 * d * d + 3 * d * V + 3 * d * F + 2 * d

    assert checks.ex07_layer_params(right) and "✓" in out(capsys)
    assert not checks.ex07_layer_params(lambda d, V, F: right(d, V, F) - 2 * d) and "RMSNorm" in out(capsys)
    assert not checks.ex07_layer_params(lambda d, V, F: 12 * d * d) and "no biases" in out(capsys)


def test_ex07_ffn_width(capsys):
    assert checks.ex07_ffn_width(1024) and "✓" in out(capsys)
    assert not checks.ex07_ffn_width(1536) and "three" in out(capsys)
    assert not checks.ex07_ffn_width(1000) and "solve" in out(capsys)
    assert not checks.ex07_ffn_width("1024") and "number" in out(capsys)


def test_ex07_official_state(capsys):
    assert checks.ex07_official_state(lambda kv, s: kv.transpose(-1, -2) * s.sqrt()[None, :, None, None])
    assert "✓" in out(capsys)
    assert not checks.ex07_official_state(lambda kv, s: kv.transpose(-1, -2)) and "√scale" in out(capsys)
    assert not checks.ex07_official_state(lambda kv, s: kv.transpose(-1, -2) * s[None, :, None, None])
    assert "square root" in out(capsys)
    assert not checks.ex07_official_state(lambda kv, s: kv) and "transposed" in out(capsys)


def _greedy(reuse_state=True):
    def fn(model, prompt, n_new):
        tokens = prompt
        logits, state = model(prompt, mode="parallel")
        for _ in range(n_new):
            nxt = logits[:, -1].argmax(-1, keepdim=True)
            tokens = torch.cat([tokens, nxt], 1)
            if reuse_state:
                logits, state = model(nxt, mode="recurrent", state=state)
            else:
                logits, _ = model(tokens, mode="parallel")
        return tokens

    return fn


def test_ex07_greedy_decode(capsys):
    assert checks.ex07_greedy_decode(_greedy()) and "✓" in out(capsys)
    assert not checks.ex07_greedy_decode(_greedy(reuse_state=False)) and "read" in out(capsys)
    assert not checks.ex07_greedy_decode(lambda m, p, n: p) and "shape" in out(capsys)
    assert not checks.ex07_greedy_decode(lambda m, p, n: torch.zeros(1, 16, dtype=torch.long))
    assert "different tokens" in out(capsys)
