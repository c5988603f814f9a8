"""retnet_edu.retention against naive per-token loops (tests/naive.py), across modes, chunk sizes and dtypes.

Tolerances: float64 max |Δ| ≤ 1e-10 · max(1, max |ref|); float32 max |Δ| ≤ 1e-5 · max |ref|.
"""

import naive
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from retnet_edu.retention import (
    chunk_cross_retention,
    chunk_state_update,
    chunkwise_retention,
    decay_gammas,
    decay_mask,
    lm_decay_gammas,
    parallel_retention,
    recurrent_retention,
    retention_step,
)

F64_TOL = 1e-10
F32_TOL = 1e-5


def close64(a, ref):
    if ref.numel() == 0:
        return a.shape == ref.shape
    return (a - ref).abs().max().item() <= F64_TOL * max(1.0, ref.abs().max().item())


def close32(a, ref):
    return (a.double() - ref).abs().max().item() <= F32_TOL * max(ref.abs().max().item(), 1e-30)


def make(B=2, H=3, T=11, d_k=4, d_v=5, dtype=torch.float64, seed=0, gamma=None, with_state=False):
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(B, H, T, d, generator=g, dtype=dtype) for d in (d_k, d_k, d_v))
    gamma = decay_gammas(H) if gamma is None else gamma
    S0 = torch.randn(B, H, d_k, d_v, generator=g, dtype=dtype) if with_state else None
    return q, k, v, gamma, S0


def run_mode(mode, q, k, v, gamma, S0=None, chunk_size=4):
    if mode == "parallel":
        assert S0 is None
        return parallel_retention(q, k, v, gamma), None
    if mode == "recurrent":
        return recurrent_retention(q, k, v, gamma, S0)
    return chunkwise_retention(q, k, v, gamma, chunk_size, S0)


# ------------------------------------------------------------------------------------------------------------
# decay rates and D
# ------------------------------------------------------------------------------------------------------------
def test_decay_gammas_are_eq8_exactly():
    g = decay_gammas(4)
    assert g.dtype == torch.float64
    assert g.tolist() == [0.96875, 0.984375, 0.9921875, 0.99609375]
    assert (1 / (1 - decay_gammas(6))).tolist() == [32, 64, 128, 256, 512, 1024]


def test_lm_decay_gammas_span_32_to_512():
    mem = (1 / (1 - lm_decay_gammas(8))).tolist()
    assert mem[0] == pytest.approx(32) and mem[-1] == pytest.approx(512)
    assert [round(m, 1) for m in mem] == [32.0, 47.6, 70.7, 105.0, 156.0, 231.9, 344.6, 512.0]
    assert lm_decay_gammas(1).tolist() == pytest.approx([1 - 1 / 32])


@pytest.mark.parametrize("T", [0, 1, 7, 20])
def test_decay_mask_matches_loop(T):
    gamma = torch.tensor([0.5, 0.9, 1.0], dtype=torch.float64)
    D = decay_mask(gamma, T)
    assert D.shape == (3, T, T) and D.dtype == torch.float64
    assert torch.equal(D, naive.decay_matrix(gamma, T))


def test_decay_mask_upper_triangle_exactly_zero_and_row_sums():
    gamma = decay_gammas(3)
    D = decay_mask(gamma, 50)
    assert torch.count_nonzero(torch.triu(D, diagonal=1)) == 0
    assert torch.all(torch.diagonal(D, dim1=-2, dim2=-1) == 1)
    n = torch.arange(50, dtype=torch.float64)
    row_sums = (1 - gamma[:, None] ** (n + 1)) / (1 - gamma[:, None])  # S_n = (1-γ^(n+1))/(1-γ)
    assert torch.allclose(D.sum(-1), row_sums, rtol=1e-13, atol=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_decay_mask_never_overflows(dtype):
    # γ^(-m) overflows float32 beyond m ≈ 2795 for γ = 31/32 (float16 beyond ≈ 349): D must stay finite
    gamma = decay_gammas(2).to(dtype)
    D = decay_mask(gamma, 3000)
    assert torch.isfinite(D).all()
    assert D.min() >= 0 and D.max() == 1


# ------------------------------------------------------------------------------------------------------------
# each form against the naive loop
# ------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("T", [1, 5, 12])
def test_parallel_matches_naive(T):
    q, k, v, gamma, _ = make(T=T)
    assert close64(parallel_retention(q, k, v, gamma), naive.retention(q, k, v, gamma))


@pytest.mark.parametrize("with_state", [False, True])
def test_recurrent_matches_naive(with_state):
    q, k, v, gamma, S0 = make(with_state=with_state)
    o, S = recurrent_retention(q, k, v, gamma, S0)
    assert close64(o, naive.retention(q, k, v, gamma, S0))
    assert close64(S, naive.state(k, v, gamma, S0))


@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("chunk_size", [1, 3, 4, 7, 12, 24])  # 12 = T, 24 = 2T; 5 and 7 do not divide 12
def test_chunkwise_matches_naive(chunk_size, with_state):
    q, k, v, gamma, S0 = make(T=12, with_state=with_state)
    o, S = chunkwise_retention(q, k, v, gamma, chunk_size, S0)
    assert close64(o, naive.retention(q, k, v, gamma, S0))
    assert close64(S, naive.state(k, v, gamma, S0))


def test_chunk_pieces_match_naive():
    q, k, v, gamma, S0 = make(T=6, with_state=True)
    cross = chunk_cross_retention(q, gamma, S0)
    assert close64(cross, naive.retention(q, k, v, gamma, S0) - naive.retention(q, k, v, gamma))
    assert close64(chunk_state_update(k, v, gamma, S0), naive.state(k, v, gamma, S0))
    assert close64(chunk_state_update(k, v, gamma), naive.state(k, v, gamma))


@pytest.mark.parametrize("chunk_size", [3, 4])
def test_chunk_state_equals_recurrent_state_after_each_chunk(chunk_size):
    q, k, v, gamma, _ = make(T=12)
    for end in range(chunk_size, 13, chunk_size):
        _, R = chunkwise_retention(q[:, :, :end], k[:, :, :end], v[:, :, :end], gamma, chunk_size)
        _, S = recurrent_retention(q[:, :, :end], k[:, :, :end], v[:, :, :end], gamma)
        assert close64(R, S)


def test_retention_step_is_one_recurrent_token():
    q, k, v, gamma, S0 = make(T=1, with_state=True)
    o, S = retention_step(q[:, :, 0], k[:, :, 0], v[:, :, 0], gamma, S0)
    o_ref, S_ref = recurrent_retention(q, k, v, gamma, S0)
    assert torch.equal(o, o_ref[:, :, 0]) and torch.equal(S, S_ref)
    o0, S1 = retention_step(q[:, :, 0], k[:, :, 0], v[:, :, 0], gamma)
    assert close64(S1, k[:, :, 0].unsqueeze(-1) * v[:, :, 0].unsqueeze(-2))
    assert close64(o0, (q[:, :, 0].unsqueeze(-2) @ S1).squeeze(-2))


@pytest.mark.parametrize("mode", ["parallel", "recurrent", "chunkwise"])
def test_float32_within_1e5_of_float64_reference(mode):
    q, k, v, gamma, _ = make(B=2, H=4, T=64, d_k=16, d_v=32, dtype=torch.float32)
    ref = parallel_retention(q.double(), k.double(), v.double(), gamma)
    o, _ = run_mode(mode, q, k, v, gamma, chunk_size=7)
    assert o.dtype == torch.float32
    assert close32(o, ref)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("mode", ["parallel", "recurrent", "chunkwise"])
def test_output_dtype_is_input_dtype(mode, dtype):
    q, k, v, gamma, _ = make(T=6, dtype=dtype)
    o, S = run_mode(mode, q, k, v, gamma, chunk_size=4)
    assert o.dtype == dtype and o.shape == (2, 3, 6, 5)
    if S is not None:
        assert S.dtype == dtype and S.shape == (2, 3, 4, 5)


def test_gamma_one_is_causal_linear_attention():
    q, k, v, _, _ = make(T=9)
    ones = torch.ones(3, dtype=torch.float64)
    mask = torch.tril(torch.ones(9, 9, dtype=torch.float64))
    ref = ((q @ k.transpose(-1, -2)) * mask) @ v
    assert close64(parallel_retention(q, k, v, ones), ref)
    assert close64(chunkwise_retention(q, k, v, ones, 4)[0], ref)
    assert close64(recurrent_retention(q, k, v, ones)[0], ref)


# ------------------------------------------------------------------------------------------------------------
# sequences split anywhere, in any mix of modes
# ------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "cuts,modes",
    [
        ([5], ["recurrent", "chunkwise"]),
        ([1, 8], ["chunkwise", "recurrent", "chunkwise"]),
        ([3, 4, 11], ["recurrent", "recurrent", "chunkwise", "recurrent"]),
        ([0, 13], ["chunkwise", "chunkwise", "recurrent"]),
    ],
)
def test_split_sequence_with_carried_state_equals_one_call(cuts, modes):
    q, k, v, gamma, _ = make(T=13)
    full, S_full = recurrent_retention(q, k, v, gamma)
    bounds = [0, *cuts, 13]
    S, outs = None, []
    for (a, b), mode in zip(zip(bounds[:-1], bounds[1:], strict=True), modes, strict=True):
        o, S = run_mode(mode, q[:, :, a:b], k[:, :, a:b], v[:, :, a:b], gamma, S, chunk_size=3)
        outs.append(o)
    assert close64(torch.cat(outs, dim=2), full)
    assert close64(S, S_full)


def test_parallel_prefix_plus_cross_term_continues_a_sequence():
    # what MultiScaleRetention's parallel mode does with an incoming state
    q, k, v, gamma, _ = make(T=10)
    _, S = recurrent_retention(q[:, :, :4], k[:, :, :4], v[:, :, :4], gamma)
    tail = parallel_retention(q[:, :, 4:], k[:, :, 4:], v[:, :, 4:], gamma) + chunk_cross_retention(
        q[:, :, 4:], gamma, S
    )
    assert close64(tail, parallel_retention(q, k, v, gamma)[:, :, 4:])


@pytest.mark.parametrize("T", [0, 1, 2, 7, 13])
@pytest.mark.parametrize("with_state", [False, True])
def test_parallel_with_state_and_return_state_is_recurrent(T, with_state):
    """parallel_retention(..., state=S0, return_state=True): eq. 5 plus ξ ⊙ (Q S0), and the state by eq. 7's update
    over one chunk of length T, equal to recurrent_retention; without the keywords it is still o alone."""
    q, k, v, gamma, S0 = make(T=T, with_state=with_state)
    o_ref, S_ref = recurrent_retention(q, k, v, gamma, S0)
    o, S = parallel_retention(q, k, v, gamma, state=S0, return_state=True)
    assert o.shape == o_ref.shape and S.shape == S_ref.shape == (2, 3, 4, 5)
    assert close64(o, o_ref) and close64(S, S_ref)
    assert torch.equal(parallel_retention(q, k, v, gamma, state=S0), o)  # o alone
    if not with_state:
        assert torch.equal(parallel_retention(q, k, v, gamma), o)
        assert torch.equal(parallel_retention(q, k, v, gamma, state=None, return_state=False), o)
    if with_state:
        assert S is not S0 and torch.equal(S0, make(T=T, with_state=True)[4])  # S0 not modified
    # the pieces of eq. 7 it is made of, bit for bit
    pieces = parallel_retention(q, k, v, gamma) + (chunk_cross_retention(q, gamma, S0) if with_state else 0)
    assert torch.equal(o, pieces) and torch.equal(S, chunk_state_update(k, v, gamma, S0))


@pytest.mark.parametrize("cuts", [[5], [3, 7], [1, 2, 3, 4, 5], [6, 12], [12]])
def test_parallel_pieces_that_do_not_divide_T_carry_the_state(cuts):
    """A sequence of 13 tokens read in parallel pieces of uneven lengths (none dividing 13), each continuing from the
    state the previous one returned: the outputs and final state of one recurrent pass, at 1e-10 relative."""
    q, k, v, gamma, S0 = make(T=13, with_state=True)
    full, S_full = recurrent_retention(q, k, v, gamma, S0)
    bounds, S, outs = [0, *cuts, 13], S0, []
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        o, S = parallel_retention(q[:, :, a:b], k[:, :, a:b], v[:, :, a:b], gamma, state=S, return_state=True)
        outs.append(o)
    assert close64(torch.cat(outs, dim=2), full) and close64(S, S_full)


def test_parallel_with_state_gradients_are_recurrent():
    q, k, v, gamma, S0 = make(T=9, with_state=True)
    w = torch.randn(2, 3, 9, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    grads = {}
    for name, fn in (
        ("parallel", lambda *a: parallel_retention(*a[:4], state=a[4], return_state=True)),
        ("recurrent", recurrent_retention),
    ):
        leaves = [x.clone().requires_grad_() for x in (q, k, v, S0)]
        o, S = fn(*leaves[:3], gamma, leaves[3])
        ((o * w).sum() + (S**2).sum()).backward()
        grads[name] = [x.grad for x in leaves]
    for a, b in zip(grads["parallel"], grads["recurrent"], strict=True):
        assert close64(a, b)
    small = (q[:1, :2, :5, :2], k[:1, :2, :5, :2], v[:1, :2, :5, :3], S0[:1, :2, :2, :3])
    leaves = [x.clone().requires_grad_() for x in small]
    assert torch.autograd.gradcheck(
        lambda q, k, v, s: parallel_retention(q, k, v, gamma[:2], state=s, return_state=True), leaves
    )


def test_parallel_state_arguments_are_checked():
    q, k, v, gamma, _ = make(T=4)
    with pytest.raises(ValueError, match="state must have shape"):
        parallel_retention(q, k, v, gamma, state=torch.zeros(2, 3, 4, 4, dtype=torch.float64))
    with pytest.raises(TypeError, match="state has dtype"):
        parallel_retention(q, k, v, gamma, state=torch.zeros(2, 3, 4, 5), return_state=True)
    with pytest.raises(TypeError):
        parallel_retention(q, k, v, gamma, torch.zeros(2, 3, 4, 5, dtype=torch.float64))  # keyword only


@pytest.mark.parametrize("mode", ["parallel", "recurrent", "chunkwise"])
def test_gamma_checked_again_after_an_in_place_edit(mode):
    """γ's values are checked once per tensor and version (decoding does not re-check them every token); an in-place
    edit bumps the version, so a γ made invalid after a successful call is caught on the next call."""
    q, k, v, _, _ = make(T=4)
    gamma = decay_gammas(3)
    run_mode(mode, q, k, v, gamma, chunk_size=2)
    run_mode(mode, q, k, v, gamma, chunk_size=2)  # memoised: still fine
    for edit, words in [
        (lambda g: g.__setitem__(1, 1.5), "(0, 1]"),
        (lambda g: g[2:].fill_(float("nan")), "NaN"),  # through a view
        (lambda g: g.mul_(0), "(0, 1]"),
        (lambda g: g.copy_(torch.tensor([0.5, -1.0, 0.5])), "(0, 1]"),
    ]:
        gamma.copy_(decay_gammas(3))
        run_mode(mode, q, k, v, gamma, chunk_size=2)
        edit(gamma)
        with pytest.raises(ValueError) as info:
            run_mode(mode, q, k, v, gamma, chunk_size=2)
        assert words in str(info.value) and "gamma" in str(info.value)
    gamma.copy_(decay_gammas(3))  # valid again: accepted
    run_mode(mode, q, k, v, gamma, chunk_size=2)
    with torch.inference_mode():  # no version counter there
        g_inf = decay_gammas(3)
        run_mode(mode, q, k, v, g_inf, chunk_size=2)
        g_inf[0] = 2.0
        with pytest.raises(ValueError, match=r"\(0, 1\]"):
            run_mode(mode, q, k, v, g_inf, chunk_size=2)


# ------------------------------------------------------------------------------------------------------------
# gradients
# ------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("chunk_size", [1, 3, 5, 16])
def test_gradients_equal_across_modes(chunk_size):
    q, k, v, gamma, _ = make(T=10)
    w = torch.randn(2, 3, 10, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    grads = {}
    for mode in ("parallel", "recurrent", "chunkwise"):
        leaves = [x.clone().requires_grad_() for x in (q, k, v)]
        o, _ = run_mode(mode, *leaves, gamma, chunk_size=chunk_size)
        (o * w).sum().backward()
        grads[mode] = [x.grad for x in leaves]
    for mode in ("recurrent", "chunkwise"):
        for g_mode, g_par in zip(grads[mode], grads["parallel"], strict=True):
            assert close64(g_mode, g_par)


def test_gradient_of_state_path_equal():
    q, k, v, gamma, S0 = make(T=7, with_state=True)
    outs = {}
    for mode in ("recurrent", "chunkwise"):
        leaves = [x.clone().requires_grad_() for x in (q, k, v, S0)]
        o, S = run_mode(mode, *leaves[:3], gamma, leaves[3], chunk_size=3)
        (o.sum() + (S**2).sum()).backward()
        outs[mode] = [x.grad for x in leaves]
    for a, b in zip(outs["recurrent"], outs["chunkwise"], strict=True):
        assert close64(a, b)


@pytest.mark.parametrize("mode", ["parallel", "recurrent", "chunkwise"])
def test_gradcheck(mode):
    q, k, v, gamma, S0 = make(B=1, H=2, T=5, d_k=2, d_v=3, with_state=(mode != "parallel"))
    leaves = [x.clone().requires_grad_() for x in (q, k, v)]

    def f(q, k, v):
        o, S = run_mode(mode, q, k, v, gamma, S0, chunk_size=2)
        return o if S is None else (o, S)

    assert torch.autograd.gradcheck(f, leaves)


# ------------------------------------------------------------------------------------------------------------
# properties over random shapes, decays and chunk sizes
# ------------------------------------------------------------------------------------------------------------
@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    B=st.integers(1, 2),
    H=st.integers(1, 3),
    T=st.integers(0, 14),
    d_k=st.integers(1, 4),
    d_v=st.integers(1, 4),
    chunk_size=st.integers(1, 17),
    seed=st.integers(0, 2**16),
    gammas=st.lists(st.floats(0.05, 1.0), min_size=3, max_size=3),
    with_state=st.booleans(),
)
def test_property_three_modes_and_naive_agree(B, H, T, d_k, d_v, chunk_size, seed, gammas, with_state):
    gamma = torch.tensor(gammas[:H], dtype=torch.float64)
    q, k, v, _, S0 = make(B, H, T, d_k, d_v, seed=seed, with_state=with_state)
    ref = naive.retention(q, k, v, gamma, S0)
    S_ref = naive.state(k, v, gamma, S0)
    o_r, S_r = recurrent_retention(q, k, v, gamma, S0)
    o_c, S_c = chunkwise_retention(q, k, v, gamma, chunk_size, S0)
    for o, S in ((o_r, S_r), (o_c, S_c)):
        assert o.shape == (B, H, T, d_v) and S.shape == (B, H, d_k, d_v)
        assert close64(o, ref) and close64(S, S_ref)
    if not with_state:
        assert close64(parallel_retention(q, k, v, gamma), ref)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(T=st.integers(2, 30), t=st.integers(0, 29), chunk_size=st.integers(1, 9), seed=st.integers(0, 999))
def test_property_causality(T, t, chunk_size, seed):
    """Changing token t leaves every output before t bit-identical, in every mode."""
    t = t % T
    q, k, v, gamma, _ = make(B=1, H=2, T=T, seed=seed)
    q2, k2, v2 = q.clone(), k.clone(), v.clone()
    for x in (q2, k2, v2):
        x[:, :, t] += 1.0
    for mode in ("parallel", "recurrent", "chunkwise"):
        a, _ = run_mode(mode, q, k, v, gamma, chunk_size=chunk_size)
        b, _ = run_mode(mode, q2, k2, v2, gamma, chunk_size=chunk_size)
        assert torch.equal(a[:, :, :t], b[:, :, :t])
        assert not torch.equal(a[:, :, t:], b[:, :, t:])


# ------------------------------------------------------------------------------------------------------------
# long sequences
# ------------------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_long_sequence_float32_recurrent_and_chunkwise_agree():
    T = 16384
    q, k, v, gamma, _ = make(B=1, H=4, T=T, d_k=4, d_v=4, dtype=torch.float32)
    o_r, S_r = recurrent_retention(q, k, v, gamma)
    o_c, S_c = chunkwise_retention(q, k, v, gamma, 512)
    assert torch.isfinite(o_r).all() and torch.isfinite(o_c).all()
    assert (o_r - o_c).abs().max() <= F32_TOL * o_r.abs().max()
    assert (S_r - S_c).abs().max() <= F32_TOL * S_r.abs().max()
    # and both agree with a float64 computation on the last chunk
    o64, _ = chunkwise_retention(q.double(), k.double(), v.double(), gamma, 512)
    assert close32(o_c[:, :, -512:], o64[:, :, -512:])


def test_parallel_long_sequence_float32_is_finite():
    # float32 all the way (gamma too): γ^(n-m) for n - m up to 4095 must not overflow or turn into NaN
    q, k, v, _, _ = make(B=1, H=2, T=4096, d_k=2, d_v=2, dtype=torch.float32)
    gamma = decay_gammas(2).float()
    o = parallel_retention(q, k, v, gamma)
    assert torch.isfinite(o).all()
    o_c, _ = chunkwise_retention(q, k, v, gamma, 256)
    assert (o - o_c).abs().max() <= F32_TOL * o.abs().max()


# ------------------------------------------------------------------------------------------------------------
# T = 0, no in-place modification
# ------------------------------------------------------------------------------------------------------------
def test_empty_sequence():
    q, k, v, gamma, S0 = make(T=0, with_state=True)
    assert parallel_retention(q, k, v, gamma).shape == (2, 3, 0, 5)
    for mode in ("recurrent", "chunkwise"):
        o, S = run_mode(mode, q, k, v, gamma, S0)
        assert o.shape == (2, 3, 0, 5)
        assert torch.equal(S, S0) and S is not S0
        o, S = run_mode(mode, q, k, v, gamma, None)
        assert torch.equal(S, torch.zeros(2, 3, 4, 5, dtype=torch.float64))


@pytest.mark.parametrize("mode", ["parallel", "recurrent", "chunkwise"])
def test_inputs_not_modified(mode):
    q, k, v, gamma, S0 = make(T=9, with_state=(mode != "parallel"))
    before = [x.clone() for x in (q, k, v, gamma)] + ([S0.clone()] if S0 is not None else [])
    run_mode(mode, q, k, v, gamma, S0, chunk_size=4)
    after = [q, k, v, gamma] + ([S0] if S0 is not None else [])
    assert all(torch.equal(a, b) for a, b in zip(before, after, strict=True))


# ------------------------------------------------------------------------------------------------------------
# bad input
# ------------------------------------------------------------------------------------------------------------
def _good():
    q, k, v, gamma, _ = make(T=4)
    return dict(q=q, k=k, v=v, gamma=gamma)


BAD = [
    # (description, change, exception, words the message must contain)
    ("q not a tensor", lambda a: a.update(q=a["q"].tolist()), TypeError, "q"),
    ("q 3-D", lambda a: a.update(q=a["q"][0]), ValueError, "q must be 4-D"),
    ("v 5-D", lambda a: a.update(v=a["v"][None]), ValueError, "v must be 4-D"),
    ("k other shape", lambda a: a.update(k=a["k"][:, :, :3]), ValueError, "k must have the shape of q"),
    ("k other d_k", lambda a: a.update(k=torch.randn(2, 3, 4, 6, dtype=torch.float64)), ValueError, "k must"),
    ("v other T", lambda a: a.update(v=a["v"][:, :, :2]), ValueError, "v must be"),
    ("v other B", lambda a: a.update(v=a["v"][:1]), ValueError, "v must be"),
    ("v other H", lambda a: a.update(v=a["v"][:, :2]), ValueError, "v must be"),
    ("integer q", lambda a: a.update(q=a["q"].long()), TypeError, "q must have a floating-point dtype"),
    ("mixed dtypes", lambda a: a.update(k=a["k"].float()), TypeError, "k has dtype"),
    ("mixed dtypes v", lambda a: a.update(v=a["v"].half()), TypeError, "v has dtype"),
    (
        "k on another device",
        lambda a: a.update(k=torch.empty(2, 3, 4, 4, dtype=torch.float64, device="meta")),
        ValueError,
        "k is on meta",
    ),
    (
        "gamma on another device",
        lambda a: a.update(gamma=torch.empty(3, dtype=torch.float64, device="meta")),
        ValueError,
        "gamma is on meta",
    ),
    ("gamma not a tensor", lambda a: a.update(gamma=[0.9, 0.9, 0.9]), TypeError, "gamma must be a torch.Tensor"),
    ("gamma wrong length", lambda a: a.update(gamma=decay_gammas(2)), ValueError, "one entry per head"),
    ("gamma 2-D", lambda a: a.update(gamma=decay_gammas(3)[None]), ValueError, "gamma must be a 1-D"),
    ("gamma > 1", lambda a: a.update(gamma=torch.tensor([0.5, 1.5, 0.9], dtype=torch.float64)), ValueError, "(0, 1]"),
    ("gamma = 0", lambda a: a.update(gamma=torch.tensor([0.0, 0.5, 0.9], dtype=torch.float64)), ValueError, "(0, 1]"),
    (
        "gamma negative",
        lambda a: a.update(gamma=torch.tensor([-0.5, 0.5, 0.9], dtype=torch.float64)),
        ValueError,
        "(0, 1]",
    ),
    (
        "gamma NaN",
        lambda a: a.update(gamma=torch.tensor([float("nan"), 0.5, 0.9], dtype=torch.float64)),
        ValueError,
        "NaN",
    ),
    ("gamma integer", lambda a: a.update(gamma=torch.tensor([1, 1, 1])), TypeError, "gamma must have a floating"),
]


@pytest.mark.parametrize("mode", ["parallel", "recurrent", "chunkwise"])
@pytest.mark.parametrize("desc,change,exc,words", BAD, ids=[b[0] for b in BAD])
def test_bad_input_raises_naming_the_argument(mode, desc, change, exc, words):
    args = _good()
    change(args)
    with pytest.raises(exc) as info:
        run_mode(mode, args["q"], args["k"], args["v"], args["gamma"], chunk_size=2)
    assert words in str(info.value), str(info.value)


@pytest.mark.parametrize(
    "chunk_size,exc",
    [
        (0, ValueError),
        (-3, ValueError),
        (2.0, TypeError),
        (True, TypeError),
        ("4", TypeError),
        (None, TypeError),
        (torch.tensor(4), TypeError),
    ],
)
def test_bad_chunk_size(chunk_size, exc):
    q, k, v, gamma, _ = make(T=4)
    with pytest.raises(exc, match="chunk_size"):
        chunkwise_retention(q, k, v, gamma, chunk_size)


@pytest.mark.parametrize("mode", ["recurrent", "chunkwise"])
@pytest.mark.parametrize(
    "state,exc,words",
    [
        (torch.zeros(2, 3, 4, 4, dtype=torch.float64), ValueError, "state must have shape"),
        (torch.zeros(1, 3, 4, 5, dtype=torch.float64), ValueError, "state must have shape"),
        (torch.zeros(2, 3, 4, 5, dtype=torch.float32), TypeError, "state has dtype"),
        (torch.zeros(2, 3, 4, 5, dtype=torch.float64, device="meta"), ValueError, "state is on meta"),
        ([[0.0]], TypeError, "state must be a torch.Tensor"),
    ],
)
def test_bad_state(mode, state, exc, words):
    q, k, v, gamma, _ = make(T=4)
    with pytest.raises(exc) as info:
        run_mode(mode, q, k, v, gamma, state, chunk_size=2)
    assert words in str(info.value)


@pytest.mark.parametrize(
    "call,exc,words",
    [
        (lambda: decay_gammas(0), ValueError, "num_heads"),
        (lambda: decay_gammas(2.0), TypeError, "num_heads"),
        (lambda: lm_decay_gammas(4, shortest=512, longest=32), ValueError, "shortest"),
        (lambda: decay_mask(decay_gammas(2), -1), ValueError, "T must be >= 0"),
        (lambda: decay_mask(decay_gammas(2), 3.0), TypeError, "T must be an int"),
        (lambda: decay_mask(torch.tensor([1.5]), 3), ValueError, "(0, 1]"),
        (
            lambda: retention_step(*(x[:, :, 0] for x in make(T=1)[:3]), decay_gammas(2)),
            ValueError,
            "one entry per head",
        ),
        (lambda: retention_step(*make(T=1)[:3], decay_gammas(3)), ValueError, "q_n must be 3-D"),
        (
            lambda: chunk_cross_retention(make(T=3)[0], decay_gammas(3), torch.zeros(2, 3, 4, 5)),
            TypeError,
            "state has dtype",
        ),
    ],
)
def test_other_bad_inputs(call, exc, words):
    with pytest.raises(exc) as info:
        call()
    assert words in str(info.value)


def test_error_message_is_readable():
    q, k, v, gamma, _ = make(T=4)
    with pytest.raises(ValueError) as info:
        parallel_retention(q, k[:, :, :3], v, gamma)
    msg = str(info.value)
    assert "(2, 3, 4, 4)" in msg and "(2, 3, 3, 4)" in msg
