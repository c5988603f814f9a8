"""The RetNet language model: the three modes, prefill-then-decode, generation, parameter counts, bad input."""

import pytest
import torch
from naive import maxdiff

from retnet_edu.layers import RetentionState
from retnet_edu.lm import sample_next_token
from retnet_edu.model import RetNetConfig, RetNetLM, RetNetState

TOL = 1e-10


def model64(eps=1e-6, **kw):
    torch.manual_seed(0)
    cfg = dict(vocab_size=17, embed_dim=16, num_heads=2, num_layers=3, norm_eps=eps, chunk_size=4)
    cfg.update(kw)
    return RetNetLM(RetNetConfig(**cfg)).double().eval()


def tokens(B=2, T=13, V=17, seed=0):
    return torch.randint(0, V, (B, T), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("eps", [0.0, 1e-6])
@pytest.mark.parametrize("decay", ["eq8", "lm", "none"])
def test_three_modes_same_logits(eps, decay):
    m = model64(eps=eps, decay=decay)
    t = tokens()
    ref, s_ref = m(t, mode="parallel")
    assert ref.shape == (2, 13, 17)
    for mode, cs in (("recurrent", None), ("chunkwise", None), ("chunkwise", 1), ("chunkwise", 5), ("chunkwise", 40)):
        out, s = m(t, mode=mode, chunk_size=cs)
        assert maxdiff(out, ref) <= TOL
        assert all(maxdiff(a.S, b.S) <= TOL for a, b in zip(s.layers, s_ref.layers, strict=True))
        assert s.offset == 13


@pytest.mark.parametrize("prefill", ["parallel", "chunkwise", "recurrent"])
def test_prefill_then_decode_equals_full_forward(prefill):
    m = model64()
    t = tokens(T=12)
    ref, _ = m(t)
    logits, state = m(t[:, :5], mode=prefill, chunk_size=3)
    outs = [logits]
    for i in range(5, 12):
        logits, state = m(t[:, i : i + 1], mode="recurrent", state=state)
        outs.append(logits)
    assert maxdiff(torch.cat(outs, 1), ref) <= TOL
    assert state.offset == 12


def test_greedy_generate_same_tokens_in_every_mode():
    m = model64()
    prompt = tokens(B=2, T=4)
    outs = [m.generate(prompt, 20, temperature=0, mode=mode) for mode in ("recurrent", "parallel", "chunkwise")]
    outs.append(m.generate(prompt, 20, temperature=0, mode="recurrent", prefill_mode="parallel"))
    outs.append(m.generate(prompt, 20, temperature=0, mode="recurrent", prefill_mode="chunkwise"))
    assert outs[0].shape == (2, 24)
    assert all(torch.equal(o, outs[0]) for o in outs)
    assert torch.equal(outs[0][:, :4], prompt)


def test_sampled_generate_same_tokens_with_same_seed():
    m = model64()
    prompt = tokens(B=1, T=3)[0]
    a = m.generate(prompt, 15, temperature=1.0, top_k=5, mode="recurrent", generator=torch.Generator().manual_seed(3))
    b = m.generate(prompt, 15, temperature=1.0, top_k=5, mode="parallel", generator=torch.Generator().manual_seed(3))
    assert a.shape == (18,) and torch.equal(a, b)


def test_generate_restores_training_mode_and_keeps_prompt():
    m = model64().train()
    prompt = tokens(B=1, T=3)
    before = prompt.clone()
    m.generate(prompt, 3, temperature=0)
    assert m.training and torch.equal(prompt, before)
    assert torch.equal(m.generate(prompt, 0), prompt)


def test_sample_next_token():
    logits = torch.tensor([[0.0, 5.0, 1.0], [3.0, 0.0, 0.0]])
    assert sample_next_token(logits, temperature=0).tolist() == [1, 0]
    g = torch.Generator().manual_seed(0)
    assert sample_next_token(logits, temperature=1.0, top_k=1, generator=g).tolist() == [1, 0]
    draws = torch.stack([sample_next_token(logits, 1.0, top_k=2, generator=g) for _ in range(200)])
    assert set(draws[:, 0].tolist()) <= {1, 2} and 2 in draws[:, 0].tolist()


def test_parameter_count_12_d_squared_per_layer():
    d = 48
    m = RetNetLM(RetNetConfig(vocab_size=10, embed_dim=d, num_heads=4, num_layers=2))
    per_layer = sum(p.numel() for p in m.layers[0].parameters())
    assert m.config.value_dim == 2 * d and m.config.ffn_dim == 64
    assert per_layer == 12 * d * d + 2 * d  # retention 8d², gated FFN 4d², two RMSNorm gains
    retention = sum(p.numel() for p in m.layers[0].retention.parameters())
    assert retention == 8 * d * d
    assert m.num_parameters() == 2 * per_layer + d + 2 * 10 * d
    assert m.num_parameters(exclude_embeddings=True) == 2 * per_layer + d


def test_state_nbytes_independent_of_length():
    m = model64()
    _, s1 = m(tokens(T=3))
    _, s2 = m(tokens(T=13))
    assert s1.nbytes() == s2.nbytes() == 3 * 2 * 2 * 8 * 16 * 8  # layers × B × H × d_k × d_v × 8 bytes


@pytest.mark.parametrize(
    "call,exc,words",
    [
        (lambda m: m(tokens(V=18)), ValueError, "tokens must lie in [0, vocab_size=17)"),
        (lambda m: m(-tokens() - 1), ValueError, "tokens must lie in"),
        (lambda m: m(tokens().float()), TypeError, "integer dtype"),
        (lambda m: m(tokens().bool()), TypeError, "integer dtype"),
        (lambda m: m(tokens()[0]), ValueError, "tokens must be 2-D"),
        (lambda m: m(tokens().tolist()), TypeError, "tokens must be a torch.Tensor"),
        (lambda m: m(tokens(), mode="turbo"), ValueError, "mode must be one of"),
        (lambda m: m(tokens(), state=[None]), TypeError, "state must be a RetNetState"),
        (
            lambda m: m(tokens(), state=RetNetState((RetentionState(torch.zeros(2, 2, 8, 16), 0),))),
            ValueError,
            "state has 1 layers",
        ),
        (lambda m: m.generate(tokens()[:, :0], 3), ValueError, "at least one token"),
        (lambda m: m.generate(tokens(), -1), ValueError, "max_new_tokens"),
        (lambda m: m.generate(tokens(), 2, temperature=-1.0), ValueError, "temperature"),
        (lambda m: m.generate(tokens(), 2, top_k=0), ValueError, "top_k"),
        (lambda m: m.generate(tokens(), 2, mode="beam"), ValueError, "mode must be one of"),
    ],
)
def test_model_bad_input(call, exc, words):
    with pytest.raises(exc) as info:
        call(model64())
    assert words in str(info.value)


@pytest.mark.parametrize(
    "kw,words",
    [
        (dict(embed_dim=16, num_heads=3), "embed_dim (16) must split"),
        (dict(embed_dim=12, num_heads=4), "even width"),
        (dict(vocab_size=0), "vocab_size must be a positive int"),
        (dict(decay="fast"), "decay must be one of"),
        (dict(activation="relu"), "activation"),
        (dict(value_dim=33, num_heads=2), "value_dim (33)"),
    ],
)
def test_config_validation(kw, words):
    cfg = dict(vocab_size=10, embed_dim=16, num_heads=2)
    cfg.update(kw)
    with pytest.raises(ValueError) as info:
        RetNetConfig(**cfg)
    assert words in str(info.value)


def test_model_requires_config():
    with pytest.raises(TypeError, match="config must be a RetNetConfig"):
        RetNetLM({"vocab_size": 10})


def test_empty_sequence_model():
    m = model64()
    logits, s = m(tokens(T=0))
    assert logits.shape == (2, 0, 17) and s.offset == 0
