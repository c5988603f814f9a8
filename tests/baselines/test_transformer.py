"""retnet_edu.baselines.transformer: attention against a loop written from the formula, KV-cache decoding equal to
the full forward (float64), generation, parameter counts and matching, bad input."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from naive import maxdiff

from retnet_edu.baselines.transformer import (
    KVCache,
    TransformerConfig,
    TransformerLM,
    causal_attention,
    matched_transformer_config,
)
from retnet_edu.model import RetNetConfig, RetNetLM
from retnet_edu.position import apply_rotation

TOL = 1e-12


def naive_attention(q, k, v, offset=0):
    """o_i = Σ_{j ≤ offset+i} softmax_j(q_i·k_j / √d) v_j, one query at a time with Python loops."""
    B, H, t, d = q.shape
    out = torch.zeros(B, H, t, v.shape[-1], dtype=q.dtype)
    for b in range(B):
        for h in range(H):
            for i in range(t):
                scores = [float(q[b, h, i] @ k[b, h, j]) / math.sqrt(d) for j in range(offset + i + 1)]
                top = max(scores)
                w = [math.exp(s - top) for s in scores]
                z = sum(w)
                for j, wj in enumerate(w):
                    out[b, h, i] += (wj / z) * v[b, h, j]
    return out


def model64(attention="sdpa", **kw):
    torch.manual_seed(0)
    cfg = dict(vocab_size=13, embed_dim=16, num_heads=2, num_layers=2, attention=attention)
    cfg.update(kw)
    return TransformerLM(TransformerConfig(**cfg)).double().eval()


def tokens(B=2, T=21, V=13, seed=0):
    return torch.randint(0, V, (B, T), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("impl", ["naive", "sdpa"])
@pytest.mark.parametrize("offset,t", [(0, 7), (5, 1), (5, 3), (0, 1)])
def test_causal_attention_matches_the_formula(impl, offset, t):
    g = torch.Generator().manual_seed(1)
    q = torch.randn(2, 3, t, 4, dtype=torch.float64, generator=g)
    k = torch.randn(2, 3, offset + t, 4, dtype=torch.float64, generator=g)
    v = torch.randn(2, 3, offset + t, 5, dtype=torch.float64, generator=g)
    assert maxdiff(causal_attention(q, k, v, offset, impl), naive_attention(q, k, v, offset)) <= TOL


def test_causal_attention_bad_input():
    q = torch.zeros(1, 1, 2, 4)
    with pytest.raises(ValueError, match="offset \\+ t = 2"):
        causal_attention(q, torch.zeros(1, 1, 3, 4), torch.zeros(1, 1, 3, 4))
    with pytest.raises(ValueError, match="impl must be one of"):
        causal_attention(q, q, q, impl="flash")
    with pytest.raises(ValueError, match="4-D"):
        causal_attention(q[0], q[0], q[0])


def test_sdpa_and_naive_models_agree():
    a, b = model64("sdpa"), model64("naive")
    b.load_state_dict(a.state_dict())
    t = tokens()
    assert maxdiff(a(t)[0], b(t)[0]) <= TOL


@torch.no_grad()
def test_first_layer_is_rotary_attention_written_out():
    """The first block's attention output, rebuilt from its weights with the loop above."""
    m = model64()
    t = tokens(B=1, T=6)
    blk = m.layers[0]
    x = blk.attention_layer_norm(m.embed_tokens(t))
    att = blk.attention
    heads = lambda w: w(x).view(1, 6, 2, 8).transpose(1, 2)  # noqa: E731
    q, k, v = apply_rotation(heads(att.q_proj)), apply_rotation(heads(att.k_proj)), heads(att.v_proj)
    o = naive_attention(q, k, v).transpose(1, 2).reshape(1, 6, 16)
    assert maxdiff(att(x), att.out_proj(o)) <= TOL


@pytest.mark.parametrize("attention", ["sdpa", "naive"])
@pytest.mark.parametrize("prefill", [1, 4, 9])
def test_cached_decoding_equals_full_forward(attention, prefill):
    m = model64(attention)
    t = tokens(T=40)  # long enough for the cache to grow past its first capacity (16)
    ref, none = m(t)
    assert none is None and ref.shape == (2, 40, 13)
    cache = KVCache()
    logits, cache2 = m(t[:, :prefill], cache)
    assert cache2 is cache and cache.length == prefill
    outs = [logits]
    i = prefill
    while i < 40:  # one token at a time, with a 3-token block once in a while
        step = 3 if i % 10 == 0 and i + 3 <= 40 else 1
        logits, cache = m(t[:, i : i + step], cache)
        outs.append(logits)
        i += step
    assert maxdiff(torch.cat(outs, 1), ref) <= TOL
    assert cache.length == cache.offset == 40


def test_causal_and_relative():
    m = model64()
    t = tokens(T=12)
    t2 = t.clone()
    t2[:, 7] = (t2[:, 7] + 1) % 13
    a, b = m(t)[0], m(t2)[0]
    assert torch.equal(a[:, :7], b[:, :7]) and maxdiff(a[:, 7:], b[:, 7:]) > 1e-6


def test_kv_cache_bytes_grow_with_length():
    m = model64()
    cache = KVCache()
    m(tokens(T=5), cache)
    assert cache.nbytes() == 2 * 2 * 2 * 5 * 16 * 8  # 2 (k, v) · layers · B · T · d · 8 bytes
    m(tokens(T=20), cache)
    assert cache.nbytes() == 2 * 2 * 2 * 25 * 16 * 8
    assert cache.capacity_nbytes() >= cache.nbytes()
    copy = cache.clone()
    m(tokens(T=1), cache)
    assert copy.length == 25 and cache.length == 26


def test_generate_same_tokens_with_and_without_cache():
    m = model64()
    prompt = tokens(B=2, T=3)
    a = m.generate(prompt, 25, temperature=0)
    b = m.generate(prompt, 25, temperature=0, use_cache=False)
    assert a.shape == (2, 28) and torch.equal(a, b) and torch.equal(a[:, :3], prompt)
    p1 = prompt[0]
    s1 = m.generate(p1, 15, temperature=1.0, top_k=4, generator=torch.Generator().manual_seed(3))
    s2 = m.generate(p1, 15, temperature=1.0, top_k=4, use_cache=False, generator=torch.Generator().manual_seed(3))
    assert s1.shape == (18,) and torch.equal(s1, s2)
    assert torch.equal(m.generate(prompt, 0), prompt)


def test_generate_restores_training_mode():
    m = model64().train()
    m.generate(tokens(B=1, T=2), 2, temperature=0)
    assert m.training


def test_gradients_flow_to_every_parameter():
    m = model64().train()
    logits, _ = m(tokens())
    logits.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in m.parameters())


def test_parameter_count_formulas():
    for kw in (dict(embed_dim=16, num_heads=2, num_layers=2), dict(embed_dim=24, num_heads=3, num_layers=1, ffn_dim=7)):
        cfg = TransformerConfig(vocab_size=11, **kw)
        m = TransformerLM(cfg)
        assert cfg.num_parameters() == m.num_parameters()
        assert cfg.num_parameters(exclude_embeddings=True) == m.num_parameters(exclude_embeddings=True)
    d = 48
    cfg = TransformerConfig(vocab_size=11, embed_dim=d, num_heads=4, num_layers=1)
    assert cfg.ffn_dim == 128 and cfg.num_parameters(True) == 12 * d * d + 2 * d + d
    for kw in (dict(embed_dim=16, num_heads=2), dict(embed_dim=24, num_heads=4, value_dim=48, ffn_dim=10)):
        rc = RetNetConfig(vocab_size=9, num_layers=2, **kw)
        assert rc.num_parameters() == RetNetLM(rc).num_parameters()
        assert rc.num_parameters(True) == RetNetLM(rc).num_parameters(exclude_embeddings=True)


@settings(max_examples=40, deadline=None)
@given(
    heads=st.integers(1, 6),
    width=st.integers(1, 12),
    layers=st.integers(1, 8),
    vocab=st.integers(2, 300),
    decay=st.sampled_from(["eq8", "lm"]),
)
def test_matched_transformer_within_5_percent(heads, width, layers, vocab, decay):
    d = 2 * heads * width
    rc = RetNetConfig(vocab_size=vocab, embed_dim=d, num_heads=heads, num_layers=layers, decay=decay)
    tc = matched_transformer_config(rc)
    target, got = rc.num_parameters(), tc.num_parameters()
    assert abs(got - target) <= 0.05 * target
    assert abs(got - target) <= 1.5 * d * layers  # exact up to rounding the FFN width to an integer
    assert (tc.embed_dim, tc.num_layers, tc.num_heads, tc.vocab_size) == (d, layers, heads, vocab)


def test_matched_transformer_instantiated_counts():
    rc = RetNetConfig(vocab_size=76, embed_dim=96, num_heads=2, num_layers=3)
    tc = matched_transformer_config(rc, attention="naive")
    assert tc.attention == "naive" and tc.ffn_dim == 256  # 8d/3 for the default RetNet
    a, b = RetNetLM(rc).num_parameters(), TransformerLM(tc).num_parameters()
    assert abs(a - b) / a < 0.05
    with pytest.raises(ValueError, match="more than 5% apart"):
        matched_transformer_config(rc, ffn_dim=10)
    with pytest.raises(TypeError, match="retnet must be a RetNetConfig"):
        matched_transformer_config(tc)
    with pytest.raises(ValueError, match="tolerance"):
        matched_transformer_config(rc, tolerance=0)


@pytest.mark.parametrize(
    "call,exc,words",
    [
        (lambda m: m(tokens(V=14)), ValueError, "tokens must lie in [0, vocab_size=13)"),
        (lambda m: m(tokens().float()), TypeError, "integer dtype"),
        (lambda m: m(tokens()[0]), ValueError, "tokens must be 2-D"),
        (lambda m: m(tokens().tolist()), TypeError, "tokens must be a torch.Tensor"),
        (lambda m: m(tokens(), state={}), TypeError, "state must be a KVCache"),
        (lambda m: m(tokens(B=1), m(tokens(B=2), KVCache())[1]), ValueError, "cache holds batch size 2"),
        (lambda m: m.generate(tokens()[:, :0], 3), ValueError, "at least one token"),
        (lambda m: m.generate(tokens(), -1), ValueError, "max_new_tokens"),
        (lambda m: m.generate(tokens(), 2, temperature=-1.0), ValueError, "temperature"),
        (lambda m: m.generate(tokens(), 2, use_cache="yes"), TypeError, "use_cache must be a bool"),
        (lambda m: m.generate("ab", 2), TypeError, "prompt must be a torch.Tensor"),
    ],
)
def test_model_bad_input(call, exc, words):
    with pytest.raises(exc) as info:
        call(model64())
    assert words in str(info.value)


def test_cache_from_another_model_is_rejected():
    cache = KVCache()
    model64(num_layers=3)(tokens(), cache)
    with pytest.raises(ValueError, match="cache has 3 layers, the model 2"):
        model64()(tokens(), cache)


@pytest.mark.parametrize(
    "kw,words",
    [
        (dict(embed_dim=16, num_heads=3), "embed_dim (16) must split"),
        (dict(embed_dim=12, num_heads=4), "even width"),
        (dict(vocab_size=0), "vocab_size must be a positive int"),
        (dict(attention="flash"), "attention must be one of"),
        (dict(activation="relu"), "activation"),
        (dict(ffn_dim=0), "ffn_dim"),
        (dict(dropout=1.0), "dropout"),
        (dict(norm_eps=-1.0), "norm_eps"),
    ],
)
def test_config_validation(kw, words):
    cfg = dict(vocab_size=10, embed_dim=16, num_heads=2)
    cfg.update(kw)
    with pytest.raises(ValueError) as info:
        TransformerConfig(**cfg)
    assert words in str(info.value)


def test_model_requires_config():
    with pytest.raises(TypeError, match="config must be a TransformerConfig"):
        TransformerLM({"vocab_size": 10})


def test_empty_sequence():
    m = model64()
    logits, cache = m(tokens(T=0))
    assert logits.shape == (2, 0, 13) and cache is None
