"""RetNet's successors as language models (retnet_edu.baselines.recurrent): each rule's mixer against a per-token loop
written from the module's docstring (float64), the three modes equal, causality, size matching, state sizes, the
hybrid's layout, bad configs."""

import dataclasses

import pytest
import torch
import torch.nn.functional as F
from naive import maxdiff

from retnet_edu.baselines.recurrent import (
    RULES,
    RecurrentBlock,
    RecurrentConfig,
    RecurrentLM,
    RecurrentMixer,
    matched_recurrent_config,
)
from retnet_edu.baselines.transformer import TransformerBlock
from retnet_edu.model import RetNetConfig
from retnet_edu.retention import lm_decay_gammas

SMALL = dict(vocab_size=23, embed_dim=16, num_layers=2, num_heads=2, conv_size=3, gate_rank=4)


def naive_mixer(mix: RecurrentMixer, x: torch.Tensor) -> torch.Tensor:
    """The mixer token by token, from the docstring: short conv + SiLU, the rule's gates, the state update written
    out with an explicit identity matrix, o_n = q_n S_n, group norm, the swish gate, the output projection."""
    b, t, _ = x.shape
    H, dk, dv = mix.num_heads, mix.key_dim, mix.head_dim

    def conv(sc, z):  # y_n = SiLU(Σ_j w_j ⊙ z_{n-j}); Conv1d is a cross-correlation, w_j = weight[..., size-1-j]
        w = sc.conv.weight[:, 0]  # (C, size)
        out = torch.zeros_like(z)
        for n in range(t):
            for j in range(sc.size):
                if n - j >= 0:
                    out[:, n] += w[:, sc.size - 1 - j] * z[:, n - j]
        return F.silu(out)

    q = conv(mix.q_conv, mix.q_proj(x)).view(b, t, H, dk)
    k = conv(mix.k_conv, mix.k_proj(x)).view(b, t, H, dk)
    v = conv(mix.v_conv, mix.v_proj(x)).view(b, t, H, dv)
    delta = mix.rule in ("deltanet", "gated_deltanet")
    if delta:
        q, k = F.normalize(q, dim=-1), F.normalize(k, dim=-1)
    else:
        k = k * dk**-0.5
    o = torch.zeros(b, t, H, dv, dtype=x.dtype)
    eye = torch.eye(dk, dtype=x.dtype)
    for bi in range(b):
        for h in range(H):
            S = torch.zeros(dk, dv, dtype=x.dtype)
            for n in range(t):
                xn = x[bi, n]
                kn, vn = k[bi, n, h][None], v[bi, n, h][None]  # row vectors
                if mix.rule == "retention":
                    decay = lm_decay_gammas(H)[h].to(x.dtype) * eye
                elif mix.rule in ("gated_retention", "gated_deltanet"):
                    decay = torch.exp(F.logsigmoid(mix.gate_proj(xn)[h]) / 16.0) * eye
                elif mix.rule == "gla":
                    alpha = torch.exp(F.logsigmoid(mix.gate_proj(mix.gate_down(xn))) / 16.0).view(H, dk)[h]
                    decay = torch.diag(alpha)
                else:
                    decay = eye
                if delta:
                    beta = torch.sigmoid(mix.beta_proj(xn)[h])
                    S = decay @ (eye - beta * kn.T @ kn) @ S + beta * kn.T @ vn
                else:
                    S = decay @ S + kn.T @ vn
                o[bi, n, h] = q[bi, n, h] @ S
    o = o / torch.sqrt((o * o).mean(-1, keepdim=True) + mix.norm_eps)  # group norm per head and token
    return mix.out_proj(F.silu(mix.g_proj(x)) * o.reshape(b, t, H * dv))


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("mode,chunk", [("parallel", 64), ("chunkwise", 3), ("recurrent", 64)])
def test_mixer_matches_the_per_token_loop(rule, mode, chunk):
    torch.manual_seed(0)
    cfg = RecurrentConfig(**SMALL, rule=rule, mode=mode, chunk_size=chunk)
    mix = RecurrentMixer(cfg).double()
    with torch.no_grad():  # non-trivial gates and β
        for name in ("gate_proj", "beta_proj"):
            if hasattr(mix, name):
                getattr(mix, name).weight.normal_(0, 2.0)
    x = torch.randn(2, 7, 16, dtype=torch.float64)
    assert maxdiff(mix(x), naive_mixer(mix, x)) < 1e-10


@pytest.mark.parametrize("rule", RULES)
def test_language_model_modes_agree_and_are_causal(rule):
    torch.manual_seed(1)
    base = RecurrentConfig(**SMALL, rule=rule)
    model = RecurrentLM(base).double()
    tokens = torch.randint(0, 23, (2, 11))
    ref = model(tokens)[0]
    for mode, chunk in [("recurrent", 64), ("chunkwise", 4), ("chunkwise", 11), ("chunkwise", 20)]:
        other = RecurrentLM(dataclasses.replace(base, mode=mode, chunk_size=chunk)).double()
        other.load_state_dict(model.state_dict())
        assert maxdiff(other(tokens)[0], ref) < 1e-10, (mode, chunk)
    changed = tokens.clone()
    changed[:, 6] = (changed[:, 6] + 1) % 23
    out = model(changed)[0]
    assert maxdiff(out[:, :6], ref[:, :6]) == 0 and maxdiff(out[:, 6:], ref[:, 6:]) > 0


@pytest.mark.parametrize("rule", RULES)
def test_gradients_are_finite_and_reach_every_weight(rule):
    torch.manual_seed(2)
    model = RecurrentLM(RecurrentConfig(**SMALL, rule=rule, mode="chunkwise", chunk_size=4))
    logits, state = model(torch.randint(0, 23, (3, 9)))
    assert state is None
    logits.square().mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("d,layers,heads,vocab", [(64, 2, 4, 256), (32, 2, 2, 100), (128, 4, 4, 512)])
def test_matched_to_retnet_within_two_percent(rule, d, layers, heads, vocab):
    retnet = RetNetConfig(vocab_size=vocab, embed_dim=d, num_layers=layers, num_heads=heads, decay="lm")
    cfg = matched_recurrent_config(retnet, rule)
    assert cfg.rule == rule and cfg.value_dim == retnet.value_dim
    n = RecurrentLM(cfg).num_parameters()
    assert n == cfg.num_parameters() and abs(n - retnet.num_parameters()) <= 0.02 * retnet.num_parameters()
    with pytest.raises(TypeError, match="retnet"):
        matched_recurrent_config(cfg, rule)


def test_state_bytes_and_the_hybrid_layout():
    cfg = RecurrentConfig(vocab_size=50, embed_dim=32, num_layers=4, num_heads=4, conv_size=4)
    per_layer = 4 * 8 * 16 + 3 * (2 * 32 + 64)  # H d_k d_v + (conv_size - 1)(2E + V)
    assert cfg.state_bytes(1000) == 4 * 4 * per_layer and cfg.state_bytes(0) == cfg.state_bytes(10**6)
    hybrid = dataclasses.replace(cfg, attention_layers=(3,))
    assert hybrid.state_bytes(100) == 4 * (3 * per_layer + 2 * 100 * 32)
    assert hybrid.state_bytes(200) - hybrid.state_bytes(100) == 4 * 2 * 100 * 32  # the KV cache grows
    model = RecurrentLM(hybrid)
    kinds = [type(layer) for layer in model.layers]
    assert kinds == [RecurrentBlock, RecurrentBlock, RecurrentBlock, TransformerBlock]
    logits, _ = model(torch.randint(0, 50, (2, 9)))
    assert logits.shape == (2, 9, 50) and torch.isfinite(logits).all()
    assert RecurrentLM(dataclasses.replace(cfg, attention_layers=[0, 2])).layers[2].__class__ is TransformerBlock
    assert hybrid.to_dict()["attention_layers"] == [3]
    with pytest.raises(ValueError, match="length"):
        cfg.state_bytes(-1)


@pytest.mark.parametrize(
    "field,value,match",
    [
        ("rule", "mamba", "rule"),
        ("attention_layers", (4,), "attention_layers"),
        ("attention_layers", (1, 1), "attention_layers"),
        ("attention_layers", (True,), "attention_layers"),
        ("num_heads", 3, "heads"),
        ("conv_size", 0, "conv_size"),
        ("gate_temperature", 0.5, "gate_temperature"),
        ("mode", "fast", "mode"),
        ("value_dim", 15, "value_dim"),
    ],
)
def test_bad_configs_name_the_field(field, value, match):
    with pytest.raises(ValueError, match=match):
        RecurrentConfig(**{**dict(vocab_size=10, embed_dim=16, num_layers=4, num_heads=2), field: value})


def test_bad_calls():
    model = RecurrentLM(RecurrentConfig(**SMALL))
    with pytest.raises(ValueError, match="state"):
        model(torch.zeros(1, 3, dtype=torch.long), state=object())
    with pytest.raises(TypeError, match="integer"):
        model(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="vocab_size"):
        model(torch.full((1, 3), 23))
    assert model(torch.zeros(2, 0, dtype=torch.long))[0].shape == (2, 0, 23)
