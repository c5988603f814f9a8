"""The named kernels of ``retnet_edu.kernels`` (issue 6, after profiling against torchscale; named in issue 11)
compute exactly the numbers of the plain equations: bit for bit, not just within a tolerance.

- the decay matrix D is built from the t powers γ^0 … γ^(t-1) laid out along its diagonals (``toeplitz_decay_mask``);
- the rotation is made once per call for q and k, with the sign of rotate_every_two folded into the sines
  (``rotation_factors``, ``rotate_pairs``), and ``apply_rotation`` uses them;
- one recurrent token is one fused step (``recurrent_decode_step``);
- the module calls the public equations; γ's values are checked once per tensor, not once per call;
- inside ``shared_position_factors`` (every ``RetNetLM.forward``) layers share the rotation and decay factors;
- in chunkwise mode all full chunks are computed at once (``chunkwise_retention_batched``): the same equation summed
  in another order, so equal to the chunk loop (``chunkwise_retention(..., batched=False)``) up to rounding
  (float64: 1e-12), not bit for bit.
"""

import pytest
import torch
import torch.nn.functional as F

from retnet_edu import kernels
from retnet_edu.experiments.measure import peak_tensor_bytes
from retnet_edu.layers import MultiScaleRetention, RetentionState, group_rms_norm, shared_position_factors
from retnet_edu.model import RetNetConfig, RetNetLM
from retnet_edu.position import apply_rotation, rotate_every_two, rotation_angles, rotation_sin_cos
from retnet_edu.retention import (
    chunk_cross_retention,
    chunk_state_update,
    chunkwise_retention,
    decay_gammas,
    decay_mask,
    parallel_retention,
    recurrent_retention,
    retention_step,
)

DTYPES = (torch.float64, torch.float32, torch.bfloat16)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("T", [0, 1, 2, 7, 100])
def test_decay_matrix_is_toeplitz_of_the_powers(dtype, T):
    gamma = torch.tensor([0.5, 0.96875, 1.0], dtype=dtype)
    D = kernels.toeplitz_decay_mask(gamma, T)
    assert D.shape == (3, T, T) and D.dtype == dtype and D.is_contiguous()
    powers = torch.pow(gamma[:, None], torch.arange(T, dtype=dtype))  # γ^0 … γ^(T-1), one per distance
    for n in range(T):
        for m in range(T):
            expect = powers[:, n - m] if n >= m else torch.zeros(3, dtype=dtype)
            assert torch.equal(D[:, n, m], expect)
    if T:
        exact = torch.tensor(
            [
                [[g ** max(n - m, 0) if n >= m else 0.0 for m in range(T)] for n in range(T)]
                for g in gamma.double().tolist()
            ],
            dtype=torch.float64,
        )
        eps = torch.finfo(dtype).eps
        assert (D.double() - exact).abs().max() <= eps  # within one rounding of γ^(n-m)


def test_decay_matrix_never_overflows():
    g = torch.tensor([0.5, 0.9], dtype=torch.float32)
    D = decay_mask(g, 3000)  # 0.5^-2999 would be inf
    assert torch.isfinite(D).all() and D.max() == 1 and D[:, 0, 1:].abs().max() == 0
    peak = peak_tensor_bytes(lambda: kernels.toeplitz_decay_mask(g, 1000))
    assert peak < 1.2 * 2 * 1000 * 1000 * 4  # no T×T temporaries besides D


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("T,offset", [(1, 0), (1, 12345), (9, 0), (9, 70)])
def test_rotation_fast_path_is_apply_rotation(dtype, T, offset):
    x = torch.randn(2, 3, T, 16, generator=torch.Generator().manual_seed(T + offset)).to(dtype)
    x = x.transpose(1, 2).contiguous().transpose(1, 2)  # the strides the module has
    signed_sin, cos = kernels.rotation_factors(rotation_angles(16), T, offset, dtype, x.device)
    assert torch.equal(kernels.rotate_pairs(x, signed_sin, cos), apply_rotation(x, offset))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(5, 8), (1, 2), (2, 3, 1, 16), (2, 3, 9, 16), (1, 4, 33, 64), (3, 2, 2, 1, 6)])
@pytest.mark.parametrize("offset", [0, 1, 7, 12345])
def test_apply_rotation_is_the_formula_bit_for_bit(dtype, shape, offset):
    """apply_rotation runs kernels.rotate_pairs on kernels.rotation_factors; it must be the formula of notebook 04,
    x cos(nθ) + rotate_every_two(x) sin(nθ) with rotation_sin_cos's numbers, exactly, inside the shared cache or not."""
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(offset + len(shape))).to(dtype)
    sin, cos = rotation_sin_cos(shape[-2], shape[-1], offset, dtype)
    want = x * cos + rotate_every_two(x) * sin
    assert torch.equal(apply_rotation(x, offset), want)
    with shared_position_factors():
        first = apply_rotation(x, offset)
        again = apply_rotation(x.clone(), offset)  # from the cache
        assert [key[0] for key in kernels.shared_store()] == ["rotation"]
    assert torch.equal(first, want) and torch.equal(again, want)
    if len(shape) == 4:  # the strides of a transposed view
        xt = x.transpose(1, 2).contiguous().transpose(1, 2)
        assert torch.equal(apply_rotation(xt, offset), want)


@pytest.mark.parametrize("dtype", DTYPES)
def test_decode_step_is_retention_step(dtype):
    g = torch.Generator().manual_seed(3)
    q, k = (torch.randn(2, 3, 1, 8, generator=g).to(dtype) for _ in range(2))
    v = torch.randn(2, 3, 1, 6, generator=g).to(dtype)
    S = torch.randn(2, 3, 8, 6, generator=g).to(dtype)
    gamma = decay_gammas(3).to(kernels.decay_dtype(dtype))
    o, S1 = kernels.recurrent_decode_step(q, k, v, gamma, S)
    o_ref, S_ref = retention_step(q[:, :, 0], k[:, :, 0], v[:, :, 0], gamma, S)
    assert torch.equal(o[:, :, 0], o_ref) and torch.equal(S1, S_ref)
    o2, S2 = recurrent_retention(q, k, v, gamma, S)  # T = 1 runs the kernel
    assert torch.equal(o2, o) and torch.equal(S2, S1)


def test_chunkwise_retention_picks_the_kernel_by_the_rule(monkeypatch):
    calls = []
    real = kernels.chunkwise_retention_batched
    monkeypatch.setattr(kernels, "chunkwise_retention_batched", lambda *a: calls.append(a[4]) or real(*a))
    q, k = (torch.randn(1, 2, 20, 8, dtype=torch.float64) for _ in range(2))
    v = torch.randn(1, 2, 20, 16, dtype=torch.float64)  # d_k·d_v / (d_k + d_v) = 5.33
    gamma = decay_gammas(2)
    for chunk_size in (1, 5, 6, 20):
        chunkwise_retention(q, k, v, gamma, chunk_size, batched=None)  # by the rule (what the layer asks for)
    chunkwise_retention(q, k, v, gamma, 1, batched=True)
    chunkwise_retention(q, k, v, gamma, 20, batched=False)
    chunkwise_retention(q, k, v, gamma, 20)  # the default: the chunk loop eq. 7 reads as
    assert calls == [6, 20, 1]
    assert kernels.prefer_batched_chunks(6, 8, 16) and not kernels.prefer_batched_chunks(5, 8, 16)
    with pytest.raises(TypeError, match="batched"):
        chunkwise_retention(q, k, v, gamma, 4, batched="yes")


def aten_ops(fn) -> list[str]:
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        fn()
    return [e.name for e in prof.events() if e.cpu_parent is None]


def test_decoding_checks_gamma_once():
    """The layer calls the checked public functions for every token; γ's values (NaN, range) are checked with tensor
    operations the first time only: the second call dispatches no isnan."""
    m = MultiScaleRetention(16, 32, 2)
    x = torch.randn(1, 1, 16)
    with torch.no_grad():
        first = aten_ops(lambda: m(x, mode="recurrent"))
        _, state = m(x, mode="recurrent")
        second = aten_ops(lambda: m(x, mode="recurrent", state=state))
    assert "aten::isnan" in first and "aten::isnan" not in second


def test_transformer_rotates_with_one_set_of_factors():
    """CausalSelfAttention rotates q and k with apply_rotation and one set of sines and cosines; TransformerLM.forward
    runs its layers inside shared_position_factors, so one forward makes one set for all layers (like RetNetLM)."""
    from retnet_edu.baselines.transformer import CausalSelfAttention, TransformerConfig, TransformerLM

    att = CausalSelfAttention(32, 4)
    with torch.no_grad():
        assert aten_ops(lambda: att(torch.randn(2, 5, 32))).count("aten::sin") == 1
        lm = TransformerLM(TransformerConfig(vocab_size=20, embed_dim=32, num_layers=3, num_heads=4))
        assert aten_ops(lambda: lm(torch.randint(0, 20, (2, 5)))).count("aten::sin") == 1
        retnet = RetNetLM(RetNetConfig(vocab_size=20, embed_dim=32, num_layers=3, num_heads=4))
        assert aten_ops(lambda: retnet(torch.randint(0, 20, (2, 5)))).count("aten::sin") == 1


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
        o, S = chunkwise_retention(q, k, v, gamma, chunk_size, S0, batched=False)  # eq. 7 chunk after chunk
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
                if mode == "chunkwise" and T > 6:  # full chunks batched: rounding-level differences
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
        o1, S1 = chunkwise_retention(q, k, v, gamma, chunk_size, S0, batched=False)
        o2, S2 = kernels.chunkwise_retention_batched(q, k, v, gamma, chunk_size, S0)
        o3 = parallel_retention(q, k, v, gamma) + (0 if S0 is None else chunk_cross_retention(q, gamma, S0))
        assert o2.shape == o1.shape == (2, 3, T, 6) and S2.shape == S1.shape
        assert (S2 - S1).abs().max() <= 1e-12
        if T:
            assert (o2 - o1).abs().max() <= 1e-12 and (o2 - o3).abs().max() <= 1e-12
    if T:  # gradients flow through the batched form like through the loop
        qs, ks, vs = (x.clone().requires_grad_() for x in (q, k, v))
        (kernels.chunkwise_retention_batched(qs, ks, vs, gamma, chunk_size, None)[0].sum()).backward()
        qg = q.clone().requires_grad_()
        (chunkwise_retention(qg, k, v, gamma, chunk_size, None, batched=False)[0].sum()).backward()
        assert (qs.grad - qg.grad).abs().max() <= 1e-12


def test_module_picks_the_chunk_loop_for_tiny_chunks():
    """With chunks smaller than d_k·d_v/(d_k + d_v) the T/B states would outweigh the chunks: one at a time."""
    m = MultiScaleRetention(32, 64, 4).double()  # d_k = 8, d_v = 16: threshold 128/24 ≈ 5.3
    x = torch.randn(1, 40, 32, dtype=torch.float64)
    with torch.no_grad():
        small = peak_tensor_bytes(lambda: m(x, mode="chunkwise", chunk_size=1))
        want = reference_msr(m, x, "chunkwise", 1)
        got = m(x, mode="chunkwise", chunk_size=1)
    assert torch.equal(got[0], want[0]) and torch.equal(got[1].S, want[1].S)  # the loop: bit for bit
    assert small < 40 * 4 * 8 * 16 * 8  # not 40 states at once


def test_lm_shares_factors_and_agrees_with_its_layers():
    cfg = RetNetConfig(vocab_size=20, embed_dim=32, num_layers=3, num_heads=4)
    torch.manual_seed(0)
    lm = RetNetLM(cfg).double()
    tok = torch.randint(0, 20, (2, 23))
    for mode in ("parallel", "recurrent", "chunkwise"):
        logits, _ = lm(tok, mode=mode, chunk_size=5)
        x = lm.embed_tokens(tok)
        for layer in lm.layers:  # no sharing: each layer its own
            x, _ = layer(x, mode=mode, chunk_size=5)
        assert torch.equal(lm.output_projection(lm.layer_norm(x)), logits), mode
    assert kernels.shared_store() is None  # released after the forward


def test_shared_store_scope():
    m1, m2 = MultiScaleRetention(16, 32, 2), MultiScaleRetention(16, 32, 2)
    m3 = MultiScaleRetention(16, 32, 2, gamma=torch.tensor([0.5, 0.75], dtype=torch.float64))
    x = torch.randn(1, 10, 16)
    with shared_position_factors():
        store = kernels.shared_store()
        with shared_position_factors():  # nested: the same store
            assert kernels.shared_store() is store
        for m in (m1, m2, m3):
            m(x)
        kinds = sorted(k[0] for k in store)
        assert kinds == ["factors", "factors", "rotation"]  # m1, m2 share; m3 has other decays
    assert kernels.shared_store() is None


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

    D_bytes = 4 * 256 * 256 * 4  # (H, T, T) float32
    saved = peak_tensor_bytes(unshared) - peak_tensor_bytes(shared)
    assert 2.5 * D_bytes <= saved <= 4 * D_bytes  # about three of the four D
