"""The Hyena operator (retnet_edu.baselines.hyena) against loops written from its definition (float64), plus causality,
gradients, parameter counts and bad input."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from retnet_edu.baselines.hyena import (
    HyenaBlock,
    HyenaConfig,
    HyenaLM,
    HyenaOperator,
    ImplicitFilter,
    direct_causal_conv,
    exponential_window_rates,
    fft_causal_conv,
    filter_positional_encoding,
    matched_hyena_config,
)
from retnet_edu.model import RetNetConfig

TOL = 1e-12


# ---------------------------------------------------------------------------------------------------------
# independent references: Python loops over positions
# ---------------------------------------------------------------------------------------------------------
def naive_causal_conv(u, h):
    """y[b, c, n] = Σ_{m=0}^{n} h[c, m] u[b, c, n-m] (taps m ≥ K are zero)."""
    B, C, T = u.shape
    K = h.shape[1]
    y = torch.zeros(B, C, T, dtype=u.dtype)
    for n in range(T):
        for m in range(min(n, K - 1) + 1):
            y[:, :, n] += h[:, m] * u[:, :, n - m]
    return y


def naive_short_conv(u, weight, bias):
    """Depthwise causal conv with nn.Conv1d's weight (C, 1, k) (cross-correlation: tap j meets u[n - (k-1) + j])."""
    B, C, T = u.shape
    k = weight.shape[-1]
    y = bias[None, :, None].expand(B, C, T).clone()
    for n in range(T):
        for j in range(k):
            src = n - (k - 1) + j
            if src >= 0:
                y[:, :, n] += weight[:, 0, j] * u[:, :, src]
    return y


def naive_filter(f: ImplicitFilter, T: int):
    """h[c, n] = exp(-α_c t_n) · MLP(z_n)[c], one position at a time."""
    rows = []
    for n in range(T):
        a = torch.sin(f.act.freq * (f.fc_in.weight @ f.z[n] + f.fc_in.bias))
        for fc in f.fc_hidden:
            a = torch.sin(f.act.freq * (fc.weight @ a + fc.bias))
        rows.append((f.fc_out.weight @ a) * torch.exp(-f.rates * f.t[n]))
    return torch.stack(rows, dim=1)


def naive_operator(op: HyenaOperator, x):
    d = op.embed_dim
    p = naive_short_conv((x @ op.in_proj.weight.T).transpose(1, 2), op.short_conv.weight, op.short_conv.bias)
    x1, x2, v = p[:, :d], p[:, d : 2 * d], p[:, 2 * d :]
    u = x2 * v
    z = naive_causal_conv(u, naive_filter(op.filter, x.shape[1])) + op.D[None, :, None] * u
    return (x1 * z).transpose(1, 2) @ op.out_proj.weight.T


def randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


# ---------------------------------------------------------------------------------------------------------
# the long convolution
# ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("B,C,T,K", [(2, 3, 17, 17), (1, 4, 16, 5), (2, 2, 9, 30), (1, 1, 1, 1), (3, 2, 8, 1)])
def test_fft_conv_equals_direct_and_naive(B, C, T, K):
    u, h = randn(B, C, T, seed=1), randn(C, K, seed=2)
    ref = naive_causal_conv(u, h)
    assert (fft_causal_conv(u, h) - ref).abs().max() < TOL
    assert (direct_causal_conv(u, h) - ref).abs().max() < TOL


@settings(max_examples=25, deadline=None)
@given(B=st.integers(1, 3), C=st.integers(1, 4), T=st.integers(1, 40), K=st.integers(1, 50), seed=st.integers(0, 99))
def test_fft_conv_property(B, C, T, K, seed):
    u, h = randn(B, C, T, seed=seed), randn(C, K, seed=seed + 1)
    assert (fft_causal_conv(u, h) - direct_causal_conv(u, h)).abs().max() < TOL * max(1.0, K)


def test_fft_conv_is_not_circular():
    """Without zero-padding, the FFT would wrap the end of the sequence onto its start; check the first output
    only sees the first input."""
    u = torch.zeros(1, 1, 8, dtype=torch.float64)
    u[..., -1] = 1.0  # a spike at the last position
    h = torch.ones(1, 8, dtype=torch.float64)
    y = fft_causal_conv(u, h)
    assert y[..., :-1].abs().max() < TOL and abs(float(y[..., -1]) - 1.0) < TOL


def test_fft_conv_causal_under_perturbation():
    u, h = randn(2, 3, 32, seed=3), randn(3, 32, seed=4)
    y = fft_causal_conv(u, h)
    for t in (1, 5, 31):
        u2 = u.clone()
        u2[..., t] += 10.0
        y2 = fft_causal_conv(u2, h)
        assert (y2[..., :t] - y[..., :t]).abs().max() < TOL  # rounding only, never more
        assert (y2[..., t:] - y[..., t:]).abs().max() > 1e-3


def test_conv_gradients():
    u = randn(1, 2, 7, seed=5).requires_grad_()
    h = randn(2, 7, seed=6).requires_grad_()
    assert torch.autograd.gradcheck(fft_causal_conv, (u, h))
    assert torch.autograd.gradcheck(direct_causal_conv, (u, h))


@pytest.mark.parametrize(
    "u,h,err",
    [
        ("x", torch.zeros(1, 3), TypeError),
        (torch.zeros(1, 1, 3, dtype=torch.long), torch.zeros(1, 3), TypeError),
        (torch.zeros(1, 3), torch.zeros(1, 3), ValueError),
        (torch.zeros(1, 2, 3), torch.zeros(1, 3), ValueError),
        (torch.zeros(1, 1, 3), torch.zeros(1, 0), ValueError),
        (torch.zeros(1, 1, 3), torch.zeros(1, 3, dtype=torch.float64), TypeError),
    ],
)
def test_conv_bad_input(u, h, err):
    with pytest.raises(err):
        fft_causal_conv(u, h)
    with pytest.raises(err):
        direct_causal_conv(u, h)


# ---------------------------------------------------------------------------------------------------------
# the implicit filter
# ---------------------------------------------------------------------------------------------------------
def test_positional_encoding_formula():
    z, t = filter_positional_encoding(10, 5, torch.float64)
    assert z.shape == (10, 5) and t.shape == (10,)
    f = [1e-4, 1.0]  # linspace(1e-4, B - 1, B) with B = 2 bands
    for n in range(10):
        assert math.isclose(float(t[n]), n / 9, abs_tol=1e-15)
        for k in range(2):
            assert math.isclose(float(z[n, 1 + k]), math.cos(2 * math.pi * f[k] * n / 10), abs_tol=1e-14)
            assert math.isclose(float(z[n, 3 + k]), math.sin(2 * math.pi * f[k] * n / 10), abs_tol=1e-14)
    assert filter_positional_encoding(1, 3)[1].tolist() == [0.0]
    for bad in (4, 1, 2):
        with pytest.raises(ValueError, match="pos_dim"):
            filter_positional_encoding(10, bad)


def test_window_rates():
    r = exponential_window_rates(5, fast=0.3, slow=1.5, target=1e-2)
    assert math.isclose(math.exp(-float(r[0]) * 1.5), 1e-2, rel_tol=1e-12)  # slowest channel: 1 % at t = 1.5
    assert math.isclose(math.exp(-float(r[-1]) * 0.3), 1e-2, rel_tol=1e-12)  # fastest: 1 % at t = 0.3
    assert bool((r[1:] > r[:-1]).all())
    for kw in (dict(target=1.0), dict(target=0.0), dict(fast=-1.0)):
        with pytest.raises(ValueError):
            exponential_window_rates(5, **kw)


def test_filter_equals_naive_and_is_prefix_consistent():
    torch.manual_seed(0)
    f = ImplicitFilter(6, max_len=40, filter_dim=8, pos_dim=5).double()
    h = f(40)
    assert h.shape == (6, 40)
    assert (h - naive_filter(f, 40)).abs().max() < TOL
    assert (f(13) - h[:, :13]).abs().max() == 0  # any T ≤ max_len: a prefix
    # the window: the fastest channel has decayed ~100x by 30 % of max_len, the slowest not
    env = f.window(40)
    assert float(env[-1, 0]) == 1.0 and float(env[0, 0]) == 1.0
    t = 12 / 39  # position 12 of 40
    assert math.isclose(float(env[-1, 12]), 1e-2 ** (t / 0.3), rel_tol=1e-6)  # fastest: 1 % at t = 0.3
    assert math.isclose(float(env[0, 12]), 1e-2 ** (t / 1.5), rel_tol=1e-6)  # slowest: 1 % at t = 1.5
    with pytest.raises(ValueError, match="max_len"):
        f(41)


def test_filter_parameters_do_not_grow_with_length():
    a = ImplicitFilter(16, max_len=64, filter_dim=8, pos_dim=5)
    b = ImplicitFilter(16, max_len=4096, filter_dim=8, pos_dim=5)

    def count(m):
        return sum(p.numel() for p in m.parameters())

    assert count(a) == count(b) == 5 * 8 + 8 + 2 * (8 * 8 + 8) + 8 + 8 * 16


# ---------------------------------------------------------------------------------------------------------
# the operator, the block and the LM
# ---------------------------------------------------------------------------------------------------------
def make_operator(d=6, max_len=24, seed=0):
    torch.manual_seed(seed)
    return HyenaOperator(d, max_len, short_kernel=3, filter_dim=8, pos_dim=5).double()


@pytest.mark.parametrize("T", [1, 2, 11, 24])
def test_operator_equals_naive(T):
    op = make_operator()
    x = randn(2, T, 6, seed=T)
    ref = naive_operator(op, x)
    assert (op(x) - ref).abs().max() < 1e-11
    assert (op(x, conv="direct") - ref).abs().max() < 1e-11


def test_operator_shapes_and_empty():
    op = make_operator()
    assert op(randn(3, 7, 6)).shape == (3, 7, 6)
    assert op(torch.zeros(2, 0, 6, dtype=torch.float64)).shape == (2, 0, 6)
    x1, x2, v = op.gates(randn(1, 5, 6))
    assert x1.shape == x2.shape == v.shape == (1, 6, 5)


def test_operator_is_causal():
    op = make_operator()
    x = randn(1, 20, 6, seed=7)
    y = op(x)
    y_direct = op(x, conv="direct")
    for t in (1, 9, 19):
        x2 = x.clone()
        x2[:, t] += 3.0
        assert (op(x2)[:, :t] - y[:, :t]).abs().max() < TOL  # FFT: rounding only
        assert torch.equal(op(x2, conv="direct")[:, :t], y_direct[:, :t])  # direct: bit for bit
        assert (op(x2)[:, t] - y[:, t]).abs().max() > 1e-6


def test_operator_gradients():
    op = make_operator(d=4, max_len=6)
    x = randn(1, 6, 4, seed=8).requires_grad_()
    assert torch.autograd.gradcheck(lambda inp: op(inp), (x,))
    op.zero_grad()
    op(x).pow(2).sum().backward()
    for name, p in op.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, f"no gradient reaches {name}"


@pytest.mark.parametrize(
    "x,err",
    [
        ("x", TypeError),
        (torch.zeros(1, 4, 6, dtype=torch.long), TypeError),
        (torch.zeros(4, 6, dtype=torch.float64), ValueError),
        (torch.zeros(1, 4, 5, dtype=torch.float64), ValueError),
        (torch.zeros(1, 25, 6, dtype=torch.float64), ValueError),  # longer than max_len
        (torch.zeros(1, 4, 6, dtype=torch.float32), TypeError),  # weights are float64
    ],
)
def test_operator_bad_input(x, err):
    with pytest.raises(err):
        make_operator()(x)


def test_operator_bad_conv_and_sizes():
    with pytest.raises(ValueError, match="conv"):
        make_operator()(randn(1, 3, 6), conv="fast")
    with pytest.raises(ValueError):
        HyenaOperator(0, 10)
    with pytest.raises(TypeError):
        HyenaOperator(8, 10.0)


def small_config(**kw):
    return HyenaConfig(**{**dict(vocab_size=11, max_len=32, embed_dim=8, num_layers=2, filter_dim=8, pos_dim=5), **kw})


def test_lm_shapes_causality_and_float64():
    torch.manual_seed(0)
    lm = HyenaLM(small_config()).double().eval()
    tokens = torch.randint(0, 11, (2, 20), generator=torch.Generator().manual_seed(1))
    logits, none = lm(tokens)
    assert logits.shape == (2, 20, 11) and logits.dtype == torch.float64 and none is None
    for t in (1, 10, 19):
        changed = tokens.clone()
        changed[:, t] = (changed[:, t] + 1) % 11
        new, _ = lm(changed)
        assert (new[:, :t] - logits[:, :t]).abs().max() < 1e-11
        assert (new[:, t:] - logits[:, t:]).abs().max() > 1e-6
    assert lm(tokens[:, :0])[0].shape == (2, 0, 11)
    block = HyenaBlock(small_config()).double()
    x = randn(1, 5, 8)
    assert block(x).shape == (1, 5, 8) and (block(x) - block(x, conv="direct")).abs().max() < 1e-11


@pytest.mark.parametrize(
    "tokens,err",
    [
        ([[1, 2]], TypeError),
        (torch.zeros(1, 3), TypeError),
        (torch.zeros(3, dtype=torch.long), ValueError),
        (torch.full((1, 3), 11), ValueError),
        (torch.zeros(1, 33, dtype=torch.long), ValueError),  # longer than max_len
    ],
)
def test_lm_bad_tokens(tokens, err):
    with pytest.raises(err):
        HyenaLM(small_config())(tokens)


@pytest.mark.parametrize(
    "kw",
    [
        dict(vocab_size=0),
        dict(max_len=0),
        dict(pos_dim=4),
        dict(pos_dim=1),
        dict(activation="relu"),
        dict(dropout=1.0),
        dict(decay_target=1.5),
        dict(freq=0.0),
        dict(ffn_dim=0),
        dict(norm_eps=-1.0),
    ],
)
def test_config_bad_values(kw):
    with pytest.raises(ValueError):
        small_config(**kw)


def test_lm_bad_config_type():
    with pytest.raises(TypeError):
        HyenaLM(RetNetConfig(vocab_size=5))


@pytest.mark.parametrize(
    "kw", [dict(), dict(embed_dim=16, num_layers=3, filter_dim=4, short_kernel=5), dict(ffn_dim=7, pos_dim=9)]
)
def test_parameter_count_formula(kw):
    cfg = small_config(**kw)
    lm = HyenaLM(cfg)
    assert cfg.num_parameters() == lm.num_parameters()
    assert cfg.num_parameters(exclude_embeddings=True) == lm.num_parameters(exclude_embeddings=True)


@pytest.mark.parametrize("d,L,H,V", [(32, 2, 2, 16), (64, 2, 4, 128), (128, 4, 4, 65), (96, 3, 2, 20)])
def test_matched_budget_within_five_percent(d, L, H, V):
    retnet = RetNetConfig(vocab_size=V, embed_dim=d, num_layers=L, num_heads=H)
    cfg = matched_hyena_config(retnet, max_len=256)
    got, want = cfg.num_parameters(), retnet.num_parameters()
    assert abs(got - want) <= 0.05 * want
    assert abs(got - want) <= 3 * d * L  # within one FFN column per layer
    assert (cfg.embed_dim, cfg.num_layers, cfg.vocab_size) == (d, L, V)


def test_matched_budget_refuses_a_mismatch():
    retnet = RetNetConfig(vocab_size=16, embed_dim=64, num_layers=2, num_heads=4)
    with pytest.raises(ValueError, match="apart"):
        matched_hyena_config(retnet, max_len=64, ffn_dim=10)
    with pytest.raises(TypeError):
        matched_hyena_config("retnet", max_len=64)
    with pytest.raises(ValueError):
        matched_hyena_config(retnet, max_len=64, tolerance=2.0)
