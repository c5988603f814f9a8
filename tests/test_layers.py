"""Multi-scale retention, RMSNorm, the gated feed-forward and the RetNet block."""

import naive
import pytest
import torch
import torch.nn.functional as F
from naive import maxdiff

from retnet_edu.layers import (
    GatedFeedForward,
    MultiScaleRetention,
    RetentionState,
    RetNetBlock,
    RMSNorm,
    group_rms_norm,
)
from retnet_edu.retention import decay_gammas, lm_decay_gammas

TOL = 1e-10


def msr64(E=16, V=24, H=2, eps=1e-6, seed=0, gamma=None):
    torch.manual_seed(seed)
    return MultiScaleRetention(E, V, H, norm_eps=eps, gamma=gamma).double()


def x64(B=2, T=11, E=16, seed=1, scale=1.0):
    return scale * torch.randn(B, T, E, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


def weights(m):
    return {n: getattr(m, f"{n}_proj").weight.detach() for n in ("q", "k", "v", "g", "out")}


# ------------------------------------------------------------------------------------------------------------
def test_parameter_names_and_shapes_are_torchscale_s():
    m = MultiScaleRetention(32, 64, 4)
    shapes = {k: tuple(v.shape) for k, v in m.state_dict().items()}
    assert shapes == {
        "q_proj.weight": (32, 32),
        "k_proj.weight": (32, 32),
        "v_proj.weight": (64, 32),
        "g_proj.weight": (64, 32),
        "out_proj.weight": (32, 64),
    }
    assert all(lin.bias is None for lin in (m.q_proj, m.k_proj, m.v_proj, m.g_proj, m.out_proj))
    block = RetNetBlock(32, 64, 4, 48)
    assert set(block.state_dict()) == {
        "retention_layer_norm.weight",
        "final_layer_norm.weight",
        "ffn.fc1.weight",
        "ffn.fc2.weight",
        "ffn.gate.weight",
        *(f"retention.{k}" for k in m.state_dict()),
    }


@pytest.mark.parametrize("eps", [0.0, 1e-6])
@pytest.mark.parametrize("with_state", [False, True])
def test_msr_matches_definition(eps, with_state):
    m = msr64(eps=eps)
    x = x64(T=6)
    state = None
    S0 = None
    if with_state:
        S0 = torch.randn(2, 2, 8, 12, dtype=torch.float64)
        state = RetentionState(S0, 5)
    ref = naive.msr(x, weights(m), decay_gammas(2), 2, eps, offset=5 if with_state else 0, S0=S0)
    for mode in ("parallel", "recurrent", "chunkwise"):
        y, _ = m(x, mode=mode, chunk_size=4, state=state)
        assert maxdiff(y, ref) <= TOL * max(1.0, ref.abs().max().item())


@pytest.mark.parametrize("eps", [0.0, 1e-6, 1e-2])
@pytest.mark.parametrize("scale", [1.0, 1e-3])
@pytest.mark.parametrize("chunk_size", [1, 3, 4, 11, 30])
def test_msr_three_modes_agree_for_any_eps(eps, scale, chunk_size):
    """No mode rescales its pre-norm output, so any norm eps gives the same y in every mode (unlike torchscale)."""
    m = msr64(eps=eps)
    x = x64(scale=scale)
    y_par, s_par = m(x, mode="parallel")
    y_rec, s_rec = m(x, mode="recurrent")
    y_chk, s_chk = m(x, mode="chunkwise", chunk_size=chunk_size)
    assert maxdiff(y_rec, y_par) <= TOL and maxdiff(y_chk, y_par) <= TOL
    assert maxdiff(s_rec.S, s_par.S) <= TOL and maxdiff(s_chk.S, s_par.S) <= TOL
    assert s_par.offset == s_rec.offset == s_chk.offset == 11


@pytest.mark.parametrize(
    "modes",
    [("parallel", "recurrent"), ("chunkwise", "parallel"), ("recurrent", "chunkwise"), ("parallel", "parallel")],
)
@pytest.mark.parametrize("cut", [1, 4, 10])
def test_msr_state_continues_in_any_mode(modes, cut):
    m = msr64()
    x = x64()
    full, s_full = m(x)
    y1, s = m(x[:, :cut], mode=modes[0], chunk_size=3)
    y2, s = m(x[:, cut:], mode=modes[1], chunk_size=3, state=s)
    assert maxdiff(torch.cat([y1, y2], 1), full) <= TOL
    assert maxdiff(s.S, s_full.S) <= TOL and s.offset == 11


def test_msr_token_by_token_decoding():
    m = msr64()
    x = x64(T=7)
    full, _ = m(x)
    state, ys = None, []
    for t in range(7):
        y, state = m(x[:, t : t + 1], mode="recurrent", state=state)
        ys.append(y)
    assert maxdiff(torch.cat(ys, 1), full) <= TOL


def test_msr_float64_rates_and_angles_are_exact():
    m = MultiScaleRetention(16, 16, 4).float().double()  # round trip through float32 must not round them
    assert m.gamma.dtype == torch.float64
    assert torch.equal(m.gamma, decay_gammas(4))
    x = x64(E=16, T=5)
    g = m._gamma_for(x)
    assert g.dtype == torch.float64 and torch.equal(g, decay_gammas(4))


def test_msr_custom_gamma():
    gamma = lm_decay_gammas(2)
    m = msr64(gamma=gamma)
    x = x64(T=5)
    ref = naive.msr(x, weights(m), gamma, 2, 1e-6)
    assert maxdiff(m(x)[0], ref) <= TOL
    m1 = msr64(gamma=torch.ones(2, dtype=torch.float64))
    assert maxdiff(m1(x, mode="recurrent")[0], m1(x)[0]) <= TOL


def test_msr_gate_zero_gives_zero():
    m = msr64()
    with torch.no_grad():
        m.g_proj.weight.zero_()
    assert torch.equal(m(x64())[0], torch.zeros(2, 11, 16, dtype=torch.float64))


def test_msr_float32_modes_agree():
    torch.manual_seed(0)
    m = MultiScaleRetention(32, 64, 4)
    x = torch.randn(2, 40, 32)
    y, _ = m(x)
    for mode in ("recurrent", "chunkwise"):
        y2, _ = m(x, mode=mode, chunk_size=16)
        assert maxdiff(y2, y) <= 1e-5 * y.abs().max().item()


def test_msr_gradients_equal_across_modes():
    m = msr64()
    x = x64(T=9)
    grads = {}
    for mode in ("parallel", "recurrent", "chunkwise"):
        m.zero_grad()
        xx = x.clone().requires_grad_()
        y, _ = m(xx, mode=mode, chunk_size=4)
        (y**2).sum().backward()
        grads[mode] = [xx.grad] + [p.grad.clone() for p in m.parameters()]
    for mode in ("recurrent", "chunkwise"):
        for a, b in zip(grads[mode], grads["parallel"], strict=True):
            assert maxdiff(a, b) <= TOL


def test_empty_sequence_msr():
    m = msr64()
    y, s = m(x64(T=0))
    assert y.shape == (2, 0, 16) and s.offset == 0 and torch.equal(s.S, torch.zeros_like(s.S))


# ------------------------------------------------------------------------------------------------------------
def test_rmsnorm_and_group_norm():
    x = torch.randn(3, 5, 8, dtype=torch.float64)
    n = RMSNorm(8, eps=1e-6).double()
    with torch.no_grad():
        n.weight.copy_(torch.arange(8))
    assert maxdiff(n(x), naive.rms(x, 1e-6) * torch.arange(8)) <= 1e-14
    assert maxdiff(group_rms_norm(x, 0.0), naive.rms(x, 0.0)) <= 1e-14
    # scale invariance at eps = 0, and its failure for a tiny input when eps > 0
    assert maxdiff(group_rms_norm(7.5 * x, 0.0), group_rms_norm(x, 0.0)) <= 1e-14
    assert maxdiff(group_rms_norm(1e-4 * x, 1e-6), group_rms_norm(x, 1e-6)) > 1e-2
    # half precision is normalised in float32
    h = group_rms_norm(x.half(), 1e-6)
    assert h.dtype == torch.float16 and maxdiff(h.double(), naive.rms(x, 1e-6)) < 1e-2


def test_gated_feed_forward_formula():
    torch.manual_seed(0)
    ffn = GatedFeedForward(8, 12).double()
    x = torch.randn(4, 8, dtype=torch.float64)
    ref = ffn.fc2(F.gelu(ffn.fc1(x)) * ffn.gate(x))
    assert torch.equal(ffn(x), ref)
    swish = GatedFeedForward(8, 12, activation="swish").double()
    assert torch.equal(swish(x), swish.fc2(F.silu(swish.fc1(x)) * swish.gate(x)))


def test_block_formula_and_modes():
    torch.manual_seed(0)
    block = RetNetBlock(16, 32, 2, 24, norm_eps=1e-6).double()
    x = x64()
    y, _ = block(x)
    h = x + block.retention(block.retention_layer_norm(x))[0]
    ref = h + block.ffn(block.final_layer_norm(h))
    assert maxdiff(y, ref) <= 1e-14
    for mode in ("recurrent", "chunkwise"):
        assert maxdiff(block(x, mode=mode, chunk_size=5)[0], y) <= TOL


# ------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "call,exc,words",
    [
        (lambda m: m(torch.randn(2, 5, 16, dtype=torch.float64), mode="fast"), ValueError, "mode must be one of"),
        (
            lambda m: m(torch.randn(2, 5, 16, dtype=torch.float64), mode="chunkwise"),
            ValueError,
            "chunk_size is required",
        ),
        (
            lambda m: m(torch.randn(2, 5, 16, dtype=torch.float64), mode="chunkwise", chunk_size=0),
            ValueError,
            "chunk_size",
        ),
        (lambda m: m(torch.randn(2, 5, 15, dtype=torch.float64)), ValueError, "x must be (B, T, embed_dim=16)"),
        (lambda m: m(torch.randn(5, 16, dtype=torch.float64)), ValueError, "x must be (B, T, embed_dim=16)"),
        (lambda m: m(torch.randn(2, 5, 16)), TypeError, "x has dtype torch.float32"),
        (lambda m: m(torch.ones(2, 5, 16, dtype=torch.long)), TypeError, "floating-point"),
        (lambda m: m(torch.randn(2, 5, 16, dtype=torch.float64, device="meta")), ValueError, "x is on meta"),
        (lambda m: m(x64(), state=torch.zeros(2, 2, 8, 12)), TypeError, "state must be a RetentionState"),
        (
            lambda m: m(x64(), state=RetentionState(torch.zeros(3, 2, 8, 12, dtype=torch.float64), 0)),
            ValueError,
            "state.S must have shape",
        ),
        (lambda m: m(x64(), state=RetentionState(torch.zeros(2, 2, 8, 12), 0)), TypeError, "state.S has dtype"),
        (
            lambda m: m(x64(), state=RetentionState(torch.zeros(2, 2, 8, 12, dtype=torch.float64), -1)),
            ValueError,
            "state.offset",
        ),
    ],
)
def test_msr_bad_input(call, exc, words):
    with pytest.raises(exc) as info:
        call(msr64())
    assert words in str(info.value)


@pytest.mark.parametrize(
    "args,exc,words",
    [
        ((16, 24, 3), ValueError, "embed_dim (16) must be divisible by num_heads (3)"),
        ((16, 25, 2), ValueError, "value_dim (25) must be divisible"),
        ((12, 24, 4), ValueError, "must be even"),
        ((16, 24, 0), ValueError, "num_heads must be a positive int"),
        ((16.0, 24, 2), TypeError, "embed_dim must be an int"),
    ],
)
def test_msr_bad_construction(args, exc, words):
    with pytest.raises(exc) as info:
        MultiScaleRetention(*args)
    assert words in str(info.value)


@pytest.mark.parametrize(
    "gamma,exc",
    [
        (torch.tensor([0.5, 1.5], dtype=torch.float64), ValueError),
        (torch.tensor([0.5], dtype=torch.float64), ValueError),
        ([0.5, 0.5], TypeError),
        (torch.tensor([float("nan"), 0.5], dtype=torch.float64), ValueError),
    ],
)
def test_msr_bad_gamma(gamma, exc):
    with pytest.raises(exc, match="gamma"):
        MultiScaleRetention(16, 24, 2, gamma=gamma)


@pytest.mark.parametrize(
    "call,exc,words",
    [
        (lambda: RMSNorm(8, eps=-1.0), ValueError, "eps"),
        (lambda: RMSNorm(8)(torch.zeros(2, 7)), ValueError, "last dimension 8"),
        (lambda: GatedFeedForward(8, 12, activation="relu"), ValueError, "activation"),
        (lambda: RetNetBlock(16, 32, 2, 24, dropout=1.5), ValueError, "dropout"),
    ],
)
def test_other_modules_bad_input(call, exc, words):
    with pytest.raises(exc) as info:
        call()
    assert words in str(info.value)


def test_msr_does_not_modify_inputs():
    m = msr64()
    x = x64()
    S = torch.randn(2, 2, 8, 12, dtype=torch.float64)
    xb, Sb = x.clone(), S.clone()
    for mode in ("parallel", "recurrent", "chunkwise"):
        m(x, mode=mode, chunk_size=3, state=RetentionState(S, 2))
    assert torch.equal(x, xb) and torch.equal(S, Sb)
