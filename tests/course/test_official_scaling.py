"""retnet_edu.course.official_scaling: torchscale 0.3.0's per-mode rescalings, checked three ways.

1. Each mode's pre-norm rows are the bare retention rows times a positive factor, and the factor is the documented
   one (1/(√S_n a_n), 1/√S_n, 1/(√S_j max(c_j, s_i))), in float64 to 1e-12.
2. After an RMS group norm with eps = 0 all modes agree with bare retention; with eps > 0 and small rows they do not.
3. Against torchscale's own methods (parallel_forward, recurrent_forward, chunk_recurrent_forward) in exact float64,
   when torchscale is installed (required in CI).
"""

import os

import naive
import pytest
import torch

from retnet_edu.course.official_scaling import (
    official_chunkwise,
    official_parallel,
    official_prenorm,
    official_recurrent,
    partial_decay_sums,
)
from retnet_edu.layers import group_rms_norm
from retnet_edu.retention import decay_gammas, parallel_retention, recurrent_retention
from retnet_edu.torchscale_compat import exact_float64, import_torchscale


def make(B=2, H=4, T=12, d_k=4, d_v=6, scale=1.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(B, H, T, d, generator=g, dtype=torch.float64) * scale for d in (d_k, d_k, d_v))
    return q, k, v, decay_gammas(H)


def factors(pre, bare):
    ratio = pre / bare
    assert ((ratio.amax(-1) - ratio.amin(-1)).abs() <= 1e-10 * ratio.abs().amax(-1)).all(), "not a row rescaling"
    assert (ratio > 0).all()
    return ratio.mean(-1)  # (B, H, T)


def test_partial_decay_sums():
    gamma = torch.tensor([0.5, 0.9, 1.0], dtype=torch.float64)
    S = partial_decay_sums(gamma, 6)
    assert torch.allclose(S, naive.decay_matrix(gamma, 6).sum(-1), rtol=0, atol=1e-15)
    assert S[2].tolist() == [1, 2, 3, 4, 5, 6]
    assert S[0, 0] == 1.0


@pytest.mark.parametrize("scale", [0.05, 1.0, 30.0])
def test_parallel_factor_is_inverse_sqrtS_times_abs_row_sum(scale):
    q, k, v, gamma = make(scale=scale)
    bare = naive.retention(q, k, v, gamma)
    f = factors(official_parallel(q, k, v, gamma), bare)
    S = partial_decay_sums(gamma, 12)
    D_tilde = naive.decay_matrix(gamma, 12) / S.sqrt()[..., None]
    a = ((q @ k.transpose(-1, -2)) * D_tilde).sum(-1).abs().clamp(min=1)
    assert torch.allclose(f, 1 / (S.sqrt() * a), rtol=1e-10, atol=0)


def test_recurrent_factor_and_state():
    q, k, v, gamma = make()
    o, kv, scale = official_recurrent(q, k, v, gamma)
    bare = naive.retention(q, k, v, gamma)
    S = partial_decay_sums(gamma, 12)
    assert torch.allclose(factors(o, bare), (1 / S.sqrt()).expand(2, 4, 12), rtol=1e-10, atol=0)
    assert torch.allclose(scale, S[:, -1], rtol=1e-13, atol=0)
    _, S_T = recurrent_retention(q, k, v, gamma)
    assert kv.shape == (2, 4, 6, 4)
    assert torch.allclose(kv, S_T.transpose(-1, -2) / S[:, -1].sqrt()[None, :, None, None], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("chunk_size", [1, 3, 4, 6, 12])
@pytest.mark.parametrize("scale", [0.05, 1.0, 30.0])
def test_chunkwise_is_a_row_rescaling_with_local_sqrtS(chunk_size, scale):
    q, k, v, gamma = make(scale=scale)
    f = factors(official_chunkwise(q, k, v, gamma, chunk_size), naive.retention(q, k, v, gamma))
    Sj = partial_decay_sums(gamma, chunk_size).repeat(1, 12 // chunk_size)  # √S_j with the in-chunk j
    scaled = f * Sj.sqrt()  # = 1 / max(c_j, s_i) <= 1
    assert (scaled <= 1 + 1e-12).all()
    if scale == 0.05:  # clamps inactive: exactly 1/√S_j
        assert torch.allclose(scaled, torch.ones_like(scaled), rtol=1e-12, atol=0)


@pytest.mark.parametrize("scale", [0.05, 1.0])
def test_group_norm_with_eps_0_removes_every_rescaling(scale):
    q, k, v, gamma = make(scale=scale)
    ref = group_rms_norm(parallel_retention(q, k, v, gamma), 0.0)
    for mode, c in (("parallel", None), ("recurrent", None), ("chunkwise", 3), ("chunkwise", 4)):
        out = group_rms_norm(official_prenorm(q, k, v, gamma, mode, c), 0.0)
        assert (out - ref).abs().max() <= 1e-12


def test_group_norm_with_eps_breaks_agreement_on_small_rows():
    q, k, v, gamma = make(scale=0.05, T=16)
    par = group_rms_norm(official_parallel(q, k, v, gamma), 1e-6)
    chk = group_rms_norm(official_chunkwise(q, k, v, gamma, 4), 1e-6)
    err = (chk - par).abs().amax(dim=(0, 1, 3))
    assert err[:4].max() <= 1e-12  # first chunk: j = n, the same factor in both modes
    assert err[4:].max() > 1e-2  # after chunk_size tokens: torchscale issue #77


def test_official_gradients_equal_after_norm():
    q, k, v, gamma = make(T=8)
    w = torch.randn(2, 4, 8, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    grads = []
    for mode, c in (("parallel", None), ("recurrent", None), ("chunkwise", 4), ("bare", None)):
        leaves = [x.clone().requires_grad_() for x in (q, k, v)]
        pre = parallel_retention(*leaves, gamma) if mode == "bare" else official_prenorm(*leaves, gamma, mode, c)
        (group_rms_norm(pre, 0.0) * w).sum().backward()
        grads.append(torch.cat([x.grad.flatten() for x in leaves]))
    for g in grads[:-1]:
        assert (g - grads[-1]).abs().max() <= 1e-11 * grads[-1].abs().max()


def test_bad_inputs():
    q, k, v, gamma = make()
    with pytest.raises(ValueError, match="divisible by chunk_size"):
        official_chunkwise(q, k, v, gamma, 5)
    with pytest.raises(ValueError, match="chunk_size"):
        official_chunkwise(q, k, v, gamma, 0)
    with pytest.raises(ValueError, match="chunk_size is required"):
        official_prenorm(q, k, v, gamma, "chunkwise")
    with pytest.raises(ValueError, match="mode"):
        official_prenorm(q, k, v, gamma, "sideways")
    with pytest.raises(ValueError, match="at least one token"):
        official_recurrent(q[:, :, :0], k[:, :, :0], v[:, :, :0], gamma)
    with pytest.raises(ValueError, match="gamma"):
        official_parallel(q, k, v, gamma[:2])
    with pytest.raises(TypeError, match="dtype"):
        official_parallel(q, k.float(), v, gamma)


ts = import_torchscale()


@pytest.mark.skipif(ts is None and not os.environ.get("CI"), reason="torchscale is not installed")
@torch.no_grad()
def test_matches_torchscale_internals():
    assert ts is not None, "torchscale 0.3.0 must be installed in CI"
    E, V, H, T, C, B = 32, 64, 4, 16, 4, 2
    args = ts.RetNetConfig(
        decoder_embed_dim=E,
        decoder_value_embed_dim=V,
        decoder_retention_heads=H,
        decoder_ffn_embed_dim=48,
        layernorm_eps=0.0,
        recurrent_chunk_size=C,
        vocab_size=10,
    )
    relpos = exact_float64(ts.RetNetRelPos(args))
    off = exact_float64(ts.MultiScaleRetention(args, E, V, H))
    q, k, v, gamma = make(B=B, H=H, T=T, d_k=E // H, d_v=V // H, scale=3.0)
    v_flat = v.transpose(1, 2).reshape(B, T, V)  # torchscale keeps v as (B, T, V)
    ref = off.parallel_forward(q, k, v_flat, relpos(T)[1]).transpose(1, 2)
    assert (official_parallel(q, k, v, gamma) - ref).abs().max() <= 1e-13
    ref = off.chunk_recurrent_forward(q, k, v_flat, relpos(T, chunkwise_recurrent=True)[1])
    ref = ref.reshape(B, T, H, V // H).transpose(1, 2)
    assert (official_chunkwise(q, k, v, gamma, C) - ref).abs().max() <= 1e-13
    state, outs = {}, []
    for n in range(T):
        decay = relpos(n + 1, activate_recurrent=True)[1]
        outs.append(off.recurrent_forward(q[:, :, n : n + 1], k[:, :, n : n + 1], v_flat[:, n : n + 1], decay, state))
    o, kv, scale = official_recurrent(q, k, v, gamma)
    assert (o - torch.stack(outs, 2)).abs().max() <= 1e-13
    assert (kv - state["prev_key_value"]).abs().max() <= 1e-13
    assert (scale - state["scale"]).abs().max() <= 1e-13
