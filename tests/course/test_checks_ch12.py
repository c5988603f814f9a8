"""Notebook 12's exercise checkers (``retnet_edu.course.checks.ch12``): each gets the reference answer, a right
answer computed the natural float32 way, every wrong answer its hints name (each recognised by its own hint, never
told the answer), the placeholder and an answer of the wrong type."""

import numpy as np
import pytest
import torch
from verdicts import expect_hint, expect_pass, verdict

from retnet_edu.baselines.recurrent import RecurrentConfig
from retnet_edu.baselines.transformer import TransformerConfig
from retnet_edu.course import checks
from retnet_edu.course.checks.ch12 import (
    HYBRID_12_3,
    KEY_12_2,
    LENGTH_12_3,
    QUERY_12_1,
    SCALE_12_4,
    WRITES_12_1,
    delta_writes_reference,
    hybrid_reference,
)
from retnet_edu.successors import delta_rule

CHECKERS = [checks.ex12_delta_writes, checks.ex12_half_overwrite, checks.ex12_hybrid_state, checks.ex12_bounded_beta]


@pytest.mark.parametrize("checker", CHECKERS, ids=lambda f: f.__name__)
def test_placeholder_and_wrong_type(capsys, checker):
    for placeholder in (..., None):
        ok, out = verdict(capsys, checker, placeholder)
        assert not ok and "not answered yet" in out and "✗" not in out
    ok, out = verdict(capsys, checker, "a string")
    assert not ok and "✗" in out


# ---------------------------------------------------------------------------------------------------- 12.1


def _state(dtype=torch.float64, beta=True, erase=True, beta_on_erase=True):
    """The three writes by a loop (or one of the typical mistakes), in ``dtype``."""
    S = torch.zeros(2, 2, dtype=dtype)
    for k, v, b in WRITES_12_1:
        k, v = torch.tensor(k, dtype=dtype), torch.tensor(v, dtype=dtype)
        b = b if beta else 1.0
        read = k @ S if erase else torch.zeros(2, dtype=dtype)
        S = S + (b * torch.outer(k, v - read) if beta_on_erase else torch.outer(k, b * v - read))
    return S


def test_ex12_delta_writes_reference_matches_the_package():
    """The reference state is the package's delta rule (recurrent mode) on the same writes, and reads as stated."""
    S, o = delta_writes_reference()
    k = torch.tensor([w[0] for w in WRITES_12_1], dtype=torch.float64)[None, None]
    v = torch.tensor([w[1] for w in WRITES_12_1], dtype=torch.float64)[None, None]
    beta = torch.tensor([w[2] for w in WRITES_12_1], dtype=torch.float64)[None, None]
    _, S_pkg = delta_rule(k, k, v, beta, mode="recurrent")
    assert torch.allclose(S, S_pkg[0, 0], rtol=0, atol=1e-14)
    assert torch.allclose(o, torch.tensor([1.164, 3.38], dtype=torch.float64), rtol=0, atol=1e-12)
    assert torch.allclose(S, torch.tensor([[1.94, 0.3], [0.0, 4.0]], dtype=torch.float64), rtol=0, atol=1e-12)


def test_ex12_delta_writes(capsys):
    S, o = delta_writes_reference()
    q = torch.tensor(QUERY_12_1, dtype=torch.float64)
    expect_pass(capsys, checks.ex12_delta_writes, (S, o))
    expect_pass(capsys, checks.ex12_delta_writes, [S.tolist(), o.tolist()])
    expect_pass(capsys, checks.ex12_delta_writes, {"S": S.numpy(), "o": o.numpy()})
    expect_pass(capsys, checks.ex12_delta_writes, (S, o[None]))  # o as a 1 × 2 row
    S32 = _state(torch.float32)  # the natural float32 loop
    ok, out = verdict(capsys, checks.ex12_delta_writes, (S32, torch.tensor(QUERY_12_1) @ S32))
    assert ok and "✓" in out
    ok, out = verdict(capsys, checks.ex12_delta_writes, (S * (1 + 3e-7), o))
    assert ok and "float32 precision" in out
    expect_hint(capsys, checks.ex12_delta_writes, (S.T, o), "transposed")
    expect_hint(capsys, checks.ex12_delta_writes, (_state(beta=False, erase=False), o), "linear attention")
    expect_hint(capsys, checks.ex12_delta_writes, (_state(erase=False), o), "erased nothing")
    expect_hint(capsys, checks.ex12_delta_writes, (_state(beta=False), o), "left out β")
    expect_hint(capsys, checks.ex12_delta_writes, (_state(beta_on_erase=False), o), "erase included")
    expect_hint(capsys, checks.ex12_delta_writes, (S + 0.1, o), "not right yet")
    expect_hint(capsys, checks.ex12_delta_writes, (S, S @ q), "o = q S")
    expect_hint(capsys, checks.ex12_delta_writes, (S, torch.tensor(WRITES_12_1[-1][0]).double() @ S), "last key")
    expect_hint(capsys, checks.ex12_delta_writes, (S, torch.tensor([1.1, 0.5])), "before the last write")
    expect_hint(capsys, checks.ex12_delta_writes, (S, o + 1), "weighted sum of the rows")
    expect_hint(capsys, checks.ex12_delta_writes, (S[:1], o), "2 × 2")
    expect_hint(capsys, checks.ex12_delta_writes, (S, o[:1]), "d_v = 2")
    expect_hint(capsys, checks.ex12_delta_writes, S, "pair (S, o)")
    ok, out = verdict(capsys, checks.ex12_delta_writes, (S, ...))
    assert not ok and "not answered yet" in out


# ---------------------------------------------------------------------------------------------------- 12.2


def test_ex12_half_overwrite(capsys):
    k = torch.tensor(KEY_12_2)  # float32, the natural way
    expect_pass(capsys, checks.ex12_half_overwrite, 1 / 18)
    expect_pass(capsys, checks.ex12_half_overwrite, 0.5 / (k @ k))  # a float32 tensor
    expect_pass(capsys, checks.ex12_half_overwrite, np.float32(1) / np.float32(18))
    expect_hint(capsys, checks.ex12_half_overwrite, 0.5, "unit key")
    expect_hint(capsys, checks.ex12_half_overwrite, 1, "replace")
    expect_hint(capsys, checks.ex12_half_overwrite, 1 / 9, "full overwrite")
    expect_hint(capsys, checks.ex12_half_overwrite, 1 / 6, "norm squared")
    expect_hint(capsys, checks.ex12_half_overwrite, 1 / 3, "norm squared")
    expect_hint(capsys, checks.ex12_half_overwrite, 2 / 9, "bounded")
    expect_hint(capsys, checks.ex12_half_overwrite, 0.07, "coefficient of v_new")


def test_ex12_half_overwrite_answer_does_what_it_says():
    """With β = 1/18 and the key (1, 2, 2), one delta-rule write makes k S the average of the old read and v."""
    gen = torch.Generator().manual_seed(0)
    S0, v = torch.randn(3, 4, generator=gen, dtype=torch.float64), torch.randn(4, generator=gen, dtype=torch.float64)
    k = torch.tensor(KEY_12_2, dtype=torch.float64)
    S1 = S0 + (1 / 18) * torch.outer(k, v - k @ S0)
    assert torch.allclose(k @ S1, 0.5 * (k @ S0 + v), rtol=0, atol=1e-12)


# ---------------------------------------------------------------------------------------------------- 12.3


def _natural():
    hybrid = RecurrentConfig(**HYBRID_12_3)
    transformer = TransformerConfig(vocab_size=256, embed_dim=64, num_layers=4, num_heads=4)
    return {
        "parameters": hybrid.num_parameters(),
        "state_bytes": hybrid.state_bytes(LENGTH_12_3),
        "transformer_state_bytes": 4 * 2 * LENGTH_12_3 * transformer.embed_dim * 4,
    }


def test_ex12_hybrid_reference():
    want = hybrid_reference()
    assert want == _natural()
    c = RecurrentConfig(**HYBRID_12_3)
    per_recurrent = (c.num_heads * c.key_dim * c.head_dim + (c.conv_size - 1) * (2 * c.embed_dim + c.value_dim)) * 4
    assert want["state_bytes"] == 3 * per_recurrent + 2 * LENGTH_12_3 * c.embed_dim * 4
    assert want["transformer_state_bytes"] == 8 * 2**20


def test_ex12_hybrid_state(capsys):
    want = hybrid_reference()
    expect_pass(capsys, checks.ex12_hybrid_state, want)
    expect_pass(capsys, checks.ex12_hybrid_state, {k: np.float32(v) for k, v in want.items()})  # exact in float32
    expect_pass(capsys, checks.ex12_hybrid_state, {k: float(v) for k, v in want.items()})
    pure = RecurrentConfig(**{**HYBRID_12_3, "attention_layers": ()})
    c = RecurrentConfig(**HYBRID_12_3)
    T, E = LENGTH_12_3, 64
    kv = 2 * T * E * 4
    recurrent = (4 * 16 * 32 + 3 * (2 * 64 + 128)) * 4
    cases = [
        ("parameters", pure.num_parameters(), "pure Gated DeltaNet"),
        ("parameters", c.num_parameters(exclude_embeddings=True), "embedding"),
        ("parameters", want["parameters"] + 1, "parameters is not right yet"),
        ("state_bytes", pure.state_bytes(T), f"all {T} tokens"),
        ("state_bytes", want["state_bytes"] // 4, "4 bytes"),
        ("state_bytes", 4 * kv, "only one of the four"),
        ("state_bytes", 3 * 4 * 16 * 32 * 4 + kv, "short convolutions"),
        ("state_bytes", 3 * recurrent + kv // 2, "*and* values"),
        ("state_bytes", kv, "three recurrent layers"),
        ("state_bytes", 3 * recurrent, "KV cache"),
        ("state_bytes", want["state_bytes"] + 4, "state_bytes is not right yet"),
        ("transformer_state_bytes", 4 * kv // 4, "4 bytes"),
        ("transformer_state_bytes", 4 * kv // 2, "*and* values"),
        ("transformer_state_bytes", kv, "every one of the Transformer's 4 layers"),
        ("transformer_state_bytes", 4 * kv * 4, "heads split E"),
        ("transformer_state_bytes", 4 * kv + 1, "transformer_state_bytes is not right yet"),
    ]
    for key, value, words in cases:
        assert value != want[key], (key, words)
        expect_hint(capsys, checks.ex12_hybrid_state, {**want, key: value}, words)
    expect_hint(capsys, checks.ex12_hybrid_state, {"parameters": 1}, "missing")
    expect_hint(capsys, checks.ex12_hybrid_state, {**want, "parameters": 1.5}, "whole number")
    expect_hint(capsys, checks.ex12_hybrid_state, [1, 2, 3], "dict")
    ok, out = verdict(capsys, checks.ex12_hybrid_state, {**want, "state_bytes": ...})
    assert not ok and "not answered yet" in out


# ---------------------------------------------------------------------------------------------------- 12.4


def test_ex12_bounded_beta(capsys):
    expect_pass(capsys, checks.ex12_bounded_beta, 8 / 9)
    expect_pass(capsys, checks.ex12_bounded_beta, np.float32(2) / np.float32(SCALE_12_4) ** 2)
    expect_pass(capsys, checks.ex12_bounded_beta, (0, 8 / 9))  # the interval
    expect_hint(capsys, checks.ex12_bounded_beta, 2, "unit keys")
    expect_hint(capsys, checks.ex12_bounded_beta, 4 / 3, "squared")
    expect_hint(capsys, checks.ex12_bounded_beta, 4 / 9, "reflection")
    expect_hint(capsys, checks.ex12_bounded_beta, 1.0, "sigmoid")
    expect_hint(capsys, checks.ex12_bounded_beta, 0.8, "|1 − β‖k‖²| ≤ 1")
    expect_hint(capsys, checks.ex12_bounded_beta, (0.1, 0.2), "expected a number")


def test_ex12_bounded_beta_is_the_edge_of_stability():
    """At β = 8/9 the transition for a key of norm 1.5 has eigenvalues in [-1, 1]; a little above, one leaves."""
    gen = torch.Generator().manual_seed(1)
    k = torch.randn(6, generator=gen, dtype=torch.float64)
    k = SCALE_12_4 * k / k.norm()
    for beta, bounded in ((8 / 9, True), (8 / 9 * 1.01, False), (4 / 9, True)):
        eig = torch.linalg.eigvalsh(torch.eye(6, dtype=torch.float64) - beta * torch.outer(k, k))
        assert bool((eig.abs() <= 1 + 1e-12).all()) == bounded
