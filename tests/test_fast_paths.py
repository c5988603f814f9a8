"""The faster internals used by MultiScaleRetention and RetNetLM (issue 6, after profiling against torchscale) compute
exactly the numbers of the public, checked functions: bit for bit, not just within a tolerance.

- the decay matrix D is built from the t powers γ^0 … γ^(t-1) laid out along its diagonals (Toeplitz);
- the rotation is made once per call for q and k, with the sign of rotate_every_two folded into the sines;
- the module calls the equations without re-checking its (already checked) inputs;
- inside ``shared_position_factors`` (every ``RetNetLM.forward``) layers share the rotation and decay factors;
- in chunkwise mode the module computes all full chunks at once (``_chunkwise_batched``): the same equation summed
  in another order, so equal to ``chunkwise_retention`` up to rounding (float64: 1e-12), not bit for bit.
"""

import pytest
import torch
import torch.nn.functional as F

from retnet_edu import layers as L
from retnet_edu.layers import MultiScaleRetention, RetentionState, group_rms_norm, shared_position_factors
from retnet_edu.experiments.measure import peak_tensor_bytes
from retnet_edu.model import RetNetConfig, RetNetLM
from retnet_edu.position import _rotate_pairs, _rotation_factors, apply_rotation
from retnet_edu.retention import (
    _chunkwise,
    _chunkwise_batched,
    _mask,
    chunk_cross_retention,
    chunk_state_update,
    chunkwise_retention,
    decay_gammas,
    decay_mask,
    parallel_retention,
    recurrent_retention,
)

DTYPES = (torch.float64, torch.float32, torch.bfloat16)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("T", [0, 1, 2, 7, 100])
def test_decay_matrix_is_toeplitz_of_the_powers(dtype, T):
    gamma = torch.tensor([0.5, 0.96875, 1.0], dtype=dtype)
    D = _mask(gamma, T)
    assert D.shape == (3, T, T) and D.dtype == dtype and D.is_contiguous()
    powers = torch.pow(gamma[:, None], torch.arange(T, dtype=dtype))          # γ^0 … γ^(T-1), one per distance
    for n in range(T):
        for m in range(T):
            expect = powers[:, n - m] if n >= m else torch.zeros(3, dtype=dtype)
            assert torch.equal(D[:, n, m], expect)
    if T:
        exact = torch.tensor([[[g ** max(n - m, 0) if n >= m else 0.0 for m in range(T)] for n in range(T)]
                              for g in gamma.double().tolist()], dtype=torch.float64)
        eps = torch.finfo(dtype).eps
        assert (D.double() - exact).abs().max() <= eps                          # within one rounding of γ^(n-m)


def test_decay_matrix_never_overflows():
    g = torch.tensor([0.5, 0.9], dtype=torch.float32)
    D = decay_mask(g, 3000)                                                     # 0.5^-2999 would be inf
    assert torch.isfinite(D).all() and D.max() == 1 and D[:, 0, 1:].abs().max() == 0
    assert peak_tensor_bytes(lambda: _mask(g, 1000)) < 1.2 * 2 * 1000 * 1000 * 4   # no T×T temporaries besides D


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("T,offset", [(1, 0), (1, 12345), (9, 0), (9, 70)])
def test_rotation_fast_path_is_apply_rotation(dtype, T, offset):
    x = torch.randn(2, 3, T, 16, generator=torch.Generator().manual_seed(T + offset)).to(dtype)
    x = x.transpose(1, 2).contiguous().transpose(1, 2)                          # the strides the module has
    signed_sin, cos = _rotation_factors(T, 16, offset, dtype, x.device)
    assert torch.equal(_rotate_pairs(x, signed_sin, cos), apply_rotation(x, offset))


def reference_msr(m, x, mode, chunk_size=None, state=None):
    """MultiScaleRetention.forward written with the public, checked functions only (its pre-issue-6 form)."""
    bsz, t, _ = x.shape
    h, d_k, d_v = m.num_heads, m.key_dim, m.head_dim
    offset = 0 if state is None else state.offset
    S0 = None if state is None else state.S
    q = apply_rotation(m.q_proj(x).view(bsz, t, h, d_k).transpose(1, 2), offset)
    k = apply_rotation((m.k_proj(x) * m.scaling).view(bsz, t, h, d_k).transpose(1, 2), offset)
    v = m.v_proj(x).view(bsz, t, h, d_v).transpose(1, 2)
    gamma = m._gamma_for(x)
    if mode == "parallel":
        o = parallel_retention(q, k, v, gamma)
        if S0 is not None:
            o = o + chunk_cross_retention(q, gamma, S0)
        S = chunk_state_update(k, v, gamma, S0)
    elif mode == "recurrent":
        o, S = recurrent_retention(q, k, v, gamma, S0)
    else:
        o, S = chunkwise_retention(q, k, v, gamma, chunk_size, S0)
    o = group_rms_norm(o, m.norm_eps).transpose(1, 2).reshape(bsz, t, h * d_v)
    return m.out_proj(F.silu(m.g_proj(x)) * o), RetentionState(S, offset + t)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["parallel", "recurrent", "chunkwise"])
@pytest.mark.parametrize("T", [1, 6, 29])
def test_module_is_bitwise_the_public_functions(dtype, mode, T):
    torch.manual_seed(0)
    m = MultiScaleRetention(32, 64, 4).to(dtype)
    x = torch.randn(2, T, 32).to(dtype)
    with torch.no_grad():
        _, state = m(torch.randn(2, 7, 32).to(dtype))
        for s in (None, state):
            want = reference_msr(m, x, mode, 6, s)
            got = m(x, mode=mode, chunk_size=6, state=s)
            with shared_position_factors():
                shared = [m(x, mode=mode, chunk_size=6, state=s) for _ in range(2)]
            for y, st in [got] + shared:
                assert st.offset == want[1].offset
                if mode == "chunkwise" and T > 6:                 # full chunks batched: rounding-level differences
                    tol = {torch.float64: 1e-12, torch.float32: 1e-5, torch.bfloat16: 5e-2}[dtype]
                    assert (y - want[0]).abs().max() <= tol and (st.S - want[1].S).abs().max() <= tol * 10
                else:
                    assert torch.equal(y, want[0]) and torch.equal(st.S, want[1].S)


@pytest.mark.parametrize("T,chunk_size", [(0, 4), (1, 4), (4, 4), (13, 4), (64, 16), (50, 7), (30, 64), (40, 1)])
def test_batched_chunkwise_is_the_loop(T, chunk_size):
    g = torch.Generator().manual_seed(T * 100 + chunk_size)
    q, k = (torch.randn(2, 3, T, 8, generator=g, dtype=torch.float64) for _ in range(2))
    v = torch.randn(2, 3, T, 6, generator=g, dtype=torch.float64)
    gamma = decay_gammas(3)
    for S0 in (None, torch.randn(2, 3, 8, 6, generator=g, dtype=torch.float64)):
        o1, S1 = _chunkwise(q, k, v, gamma, chunk_size, S0)
        o2, S2 = _chunkwise_batched(q, k, v, gamma, chunk_size, S0)
        o3 = parallel_retention(q, k, v, gamma) + (0 if S0 is None else chunk_cross_retention(q, gamma, S0))
        assert o2.shape == o1.shape == (2, 3, T, 6) and S2.shape == S1.shape
        assert (S2 - S1).abs().max() <= 1e-12
        if T:
            assert (o2 - o1).abs().max() <= 1e-12 and (o2 - o3).abs().max() <= 1e-12
    if T:                                   # gradients flow through the batched form like through the loop
        qs, ks, vs = (x.clone().requires_grad_() for x in (q, k, v))
        (_chunkwise_batched(qs, ks, vs, gamma, chunk_size, None)[0].sum()).backward()
        qg = q.clone().requires_grad_()
        (_chunkwise(qg, k, v, gamma, chunk_size, None)[0].sum()).backward()
        assert (qs.grad - qg.grad).abs().max() <= 1e-12


def test_module_picks_the_chunk_loop_for_tiny_chunks():
    """With chunks smaller than d_k·d_v/(d_k + d_v) the T/B states would outweigh the chunks: one at a time."""
    m = MultiScaleRetention(32, 64, 4).double()                     # d_k = 8, d_v = 16: threshold 128/24 ≈ 5.3
    x = torch.randn(1, 40, 32, dtype=torch.float64)
    with torch.no_grad():
        small = peak_tensor_bytes(lambda: m(x, mode="chunkwise", chunk_size=1))
        want = reference_msr(m, x, "chunkwise", 1)
        got = m(x, mode="chunkwise", chunk_size=1)
    assert torch.equal(got[0], want[0]) and torch.equal(got[1].S, want[1].S)    # the loop: bit for bit
    assert small < 40 * 4 * 8 * 16 * 8                                          # not 40 states at once


def test_lm_shares_factors_and_agrees_with_its_layers():
    cfg = RetNetConfig(vocab_size=20, embed_dim=32, num_layers=3, num_heads=4)
    torch.manual_seed(0)
    lm = RetNetLM(cfg).double()
    tok = torch.randint(0, 20, (2, 23))
    for mode in ("parallel", "recurrent", "chunkwise"):
        logits, _ = lm(tok, mode=mode, chunk_size=5)
        x = lm.embed_tokens(tok)
        for layer in lm.layers:                                                 # no sharing: each layer its own
            x, _ = layer(x, mode=mode, chunk_size=5)
        assert torch.equal(lm.output_projection(lm.layer_norm(x)), logits), mode
    assert L._SHARED.get() is None                                              # released after the forward


def test_shared_store_scope():
    m1, m2 = MultiScaleRetention(16, 32, 2), MultiScaleRetention(16, 32, 2)
    m3 = MultiScaleRetention(16, 32, 2, gamma=torch.tensor([0.5, 0.75], dtype=torch.float64))
    x = torch.randn(1, 10, 16)
    with shared_position_factors():
        store = L._SHARED.get()
        with shared_position_factors():                                         # nested: the same store
            assert L._SHARED.get() is store
        for m in (m1, m2, m3):
            m(x)
        kinds = sorted(k[0] for k in store)
        assert kinds == ["factors", "factors", "rotation"]                      # m1, m2 share; m3 has other decays
    assert L._SHARED.get() is None


def test_training_graph_keeps_one_decay_matrix():
    """In parallel mode each layer's backward needs D; shared, the graph holds one D instead of one per layer."""
    cfg = RetNetConfig(vocab_size=20, embed_dim=32, num_layers=4, num_heads=4)
    torch.manual_seed(0)
    lm = RetNetLM(cfg)
    tok = torch.randint(0, 20, (1, 256))

    def shared():
        return lm(tok)[0]

    def unshared():
        x = lm.embed_tokens(tok)
        for layer in lm.layers:
            x, _ = layer(x)
        return lm.output_projection(lm.layer_norm(x))

    D_bytes = 4 * 256 * 256 * 4                                                 # (H, T, T) float32
    saved = peak_tensor_bytes(unshared) - peak_tensor_bytes(shared)
    assert 2.5 * D_bytes <= saved <= 4 * D_bytes                                # about three of the four D
