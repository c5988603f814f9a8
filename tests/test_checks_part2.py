"""Part II exercise checkers: 'not answered yet' for ..., a hint (never the answer) when wrong, ✓ when right."""

import math

import pytest
import torch

from retnet_edu.course import checks
from retnet_edu.course.buggy import BUG_LABELS, _answer_key
from retnet_edu.retention import _powers


def out(capsys):
    return capsys.readouterr().out


ALL = [checks.ex05_decay_split, checks.ex05_state_update, checks.ex05_balance_chunk_size,
       checks.ex06_overflow_length, checks.ex06_bf16_heads, checks.ex06_eps_rms, checks.ex06_find_the_bug,
       checks.ex07_layer_params, checks.ex07_ffn_width, checks.ex07_official_state, checks.ex07_greedy_decode]


@pytest.mark.parametrize("checker", ALL, ids=lambda f: f.__name__)
def test_placeholder_is_pending(checker, capsys):
    assert not checker(...)
    assert "not answered yet" in out(capsys)


@pytest.mark.parametrize("checker", [checks.ex05_state_update, checks.ex07_layer_params, checks.ex07_official_state,
                                     checks.ex07_greedy_decode], ids=lambda f: f.__name__)
def test_function_with_placeholder_body_is_pending(checker, capsys):
    def placeholder(*args):
        ...

    assert not checker(placeholder)
    assert "not answered yet" in out(capsys)


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
        z = _powers(gamma, b - zeta_offset - j) if zeta else torch.ones(gamma.shape[0], b, dtype=torch.float64)
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


def test_ex06_overflow_length(capsys):
    assert checks.ex06_overflow_length(351) and "✓" in out(capsys)
    assert not checks.ex06_overflow_length(350) and "off by one" in out(capsys)
    assert not checks.ex06_overflow_length(349.4) and "whole number" in out(capsys)
    assert not checks.ex06_overflow_length(2796) and "65504" in out(capsys)
    assert not checks.ex06_overflow_length("351") and "whole number" in out(capsys)


def test_ex06_bf16_heads(capsys):
    assert checks.ex06_bf16_heads(list(range(4, 12))) and "✓" in out(capsys)
    assert checks.ex06_bf16_heads(torch.arange(4, 12))
    out(capsys)
    assert not checks.ex06_bf16_heads(list(range(5, 12))) and "halfway" in out(capsys)
    assert not checks.ex06_bf16_heads([7, 8]) and "significant bits" in out(capsys)
    assert not checks.ex06_bf16_heads(3) and "list" in out(capsys)


def test_ex06_eps_rms(capsys):
    assert checks.ex06_eps_rms(0.99 * math.sqrt(1e-6 / (1 - 0.99 ** 2))) and "✓" in out(capsys)
    assert not checks.ex06_eps_rms(1e-3) and "0.99" in out(capsys)


def test_ex06_find_the_bug(capsys):
    key = _answer_key()
    assert checks.ex06_find_the_bug(dict(key)) and "✓" in out(capsys)
    wrong = dict(key)
    wrong["A"], wrong["B"] = key["B"], key["A"]
    assert not checks.ex06_find_the_bug(wrong)
    text = out(capsys)
    assert "2 of 4 right" in text and "Look again at A" in text
    for label in BUG_LABELS:                                  # a hint never names the right label
        assert label not in text.split("Look again")[1]
    assert not checks.ex06_find_the_bug({"A": ..., "B": "x", "C": "x", "D": "x"}) and "not answered" in out(capsys)
    assert not checks.ex06_find_the_bug({"A": "typo", "B": "x", "C": "x", "D": "x"}) and "unknown label" in out(capsys)
    assert not checks.ex06_find_the_bug(["A"]) and "dict" in out(capsys)


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
