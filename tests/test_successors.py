"""retnet_edu.successors: gated retention, GLA and the delta rule, each in three modes, against per-token loops
written straight from the recurrences (tests/naive.py), against RetNet's retention, and against each other.

Tolerances (CONTRIBUTING.md): float64 max |Δ| ≤ 1e-10 · max(1, max |ref|); float32 max |Δ| ≤ 1e-5 · max |ref| against a
float64 computation; RetNet recovered at 1e-12 · max(1, max |ref|).

Four cases run through most tests: ``gated`` (gated retention), ``gla``, ``delta`` (Gated DeltaNet: the delta rule
with log_gamma) and ``deltanet`` (log_gamma None). Keys are drawn with unit norm (as the delta rule's callers make
them; the property test scales them off it).
"""

import math

import naive
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from retnet_edu.retention import (
    chunkwise_retention,
    decay_gammas,
    lm_decay_gammas,
    parallel_retention,
    recurrent_retention,
)
from retnet_edu.successors import MODES, delta_rule, gated_retention, gla, segment_sums

F64_TOL = 1e-10
F32_TOL = 1e-5
CASES = ("gated", "gla", "delta", "deltanet")
GATES = {"gated": ("log_gamma",), "gla": ("log_alpha",), "delta": ("beta", "log_gamma"), "deltanet": ("beta",)}


def close64(a, ref, tol=F64_TOL):
    assert a.shape == ref.shape, (a.shape, ref.shape)
    if ref.numel() == 0:
        return True
    return (a - ref).abs().max().item() <= tol * max(1.0, ref.abs().max().item())


def rel32(a, ref):
    """max |a - ref| / max |ref| (a float32 result against a float64 reference)."""
    return ((a.double() - ref).abs().max() / ref.abs().max().clamp_min(1e-30)).item()


def make(B=2, H=3, T=11, d_k=4, d_v=5, dtype=torch.float64, seed=0, strength=1.0, beta_max=2.0, with_state=False):
    """q, k (unit rows), v, the gates (log gates uniform in [-strength, 0], β uniform in [0, beta_max]) and a state
    (or None)."""
    g = torch.Generator().manual_seed(seed)

    def rnd(*shape):
        return torch.randn(*shape, generator=g, dtype=torch.float64)

    def uni(*shape):
        return torch.rand(*shape, generator=g, dtype=torch.float64)

    x = dict(
        q=rnd(B, H, T, d_k),
        k=F.normalize(rnd(B, H, T, d_k), dim=-1),
        v=rnd(B, H, T, d_v),
        log_gamma=-strength * uni(B, H, T),
        log_alpha=-strength * uni(B, H, T, d_k),
        beta=beta_max * uni(B, H, T),
        state=rnd(B, H, d_k, d_v) if with_state else None,
    )
    return {n: (t if t is None else t.to(dtype)) for n, t in x.items()}


def run(case, x, mode, chunk_size=None, **over):
    """Run ``case`` on the inputs ``x`` (entries in ``over`` replace them) in ``mode``: (o, S_T)."""
    a = {**x, **over}
    kw = dict(mode=mode, chunk_size=chunk_size, state=a["state"])
    if case == "gated":
        return gated_retention(a["q"], a["k"], a["v"], a["log_gamma"], **kw)
    if case == "gla":
        return gla(a["q"], a["k"], a["v"], a["log_alpha"], **kw)
    if case == "delta":
        return delta_rule(a["q"], a["k"], a["v"], a["beta"], log_gamma=a["log_gamma"], **kw)
    return delta_rule(a["q"], a["k"], a["v"], a["beta"], **kw)


def reference(case, x):
    """The per-token loop of tests/naive.py for ``case``: (o, S_T)."""
    q, k, v, S0 = x["q"], x["k"], x["v"], x["state"]
    if case == "gated":
        return naive.gated_retention(q, k, v, x["log_gamma"], S0)
    if case == "gla":
        return naive.gla(q, k, v, x["log_alpha"], S0)
    return naive.delta_rule(q, k, v, x["beta"], x["log_gamma"] if case == "delta" else None, S0)


def all_modes(case, x, chunk_size):
    return {
        "recurrent": run(case, x, "recurrent"),
        "chunkwise": run(case, x, "chunkwise", chunk_size),
        "parallel": run(case, x, "parallel"),
    }


# ------------------------------------------------------------------------------------------------------------
# every mode against the per-token loops
# ------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("case", CASES)
def test_every_mode_matches_the_recurrence(case, with_state):
    x = make(T=12, with_state=with_state)
    o_ref, S_ref = reference(case, x)
    for mode in MODES:
        for chunk_size in [1, 3, 5, 12, 30] if mode == "chunkwise" else [None]:  # 5 does not divide 12; 30 > T
            o, S = run(case, x, mode, chunk_size)
            assert o.shape == (2, 3, 12, 5) and S.shape == (2, 3, 4, 5) and o.dtype == S.dtype == torch.float64
            assert close64(o, o_ref), (mode, chunk_size)
            assert close64(S, S_ref), (mode, chunk_size)


@settings(max_examples=60, deadline=None)
@given(
    case=st.sampled_from(CASES),
    B=st.integers(1, 2),
    H=st.integers(1, 2),
    T=st.integers(0, 13),
    d_k=st.integers(1, 4),
    d_v=st.integers(1, 3),
    chunk_size=st.integers(1, 15),
    strength=st.sampled_from([0.0, 0.05, 1.0, 5.0, 30.0]),
    beta_max=st.sampled_from([0.0, 1.0, 2.0]),
    key_scale=st.sampled_from([0.5, 1.0, 1.3]),
    with_state=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_property_three_modes_and_the_loop_agree(
    case, B, H, T, d_k, d_v, chunk_size, strength, beta_max, key_scale, with_state, seed
):
    """Any shape (T = 0 and 1 included), any chunk size (1, non-divisors, > T), weak to very strong gates, β over
    all of [0, 2], keys off unit norm."""
    x = make(B, H, T, d_k, d_v, seed=seed, strength=strength, beta_max=beta_max, with_state=with_state)
    x["k"] = key_scale * x["k"]
    o_ref, S_ref = reference(case, x)
    for mode in MODES:
        o, S = run(case, x, mode, chunk_size)
        assert o.shape == (B, H, T, d_v) and S.shape == (B, H, d_k, d_v)
        assert close64(o, o_ref) and close64(S, S_ref), mode


# ------------------------------------------------------------------------------------------------------------
# float32 against a float64 computation
# ------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES)
def test_float32_within_1e5_of_float64(case):
    x = make(B=2, H=2, T=64, d_k=16, d_v=16, seed=3, with_state=True)
    o64, S64 = run(case, x, "recurrent")
    x32 = {n: (t if t is None else t.float()) for n, t in x.items()}
    for mode, (o, S) in all_modes(case, x32, 7).items():
        assert o.dtype == S.dtype == torch.float32
        assert rel32(o, o64) <= F32_TOL and rel32(S, S64) <= F32_TOL, mode


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("case", CASES)
def test_half_precision_inputs_computed_in_float32(case, dtype):
    """Float16/bfloat16 inputs are computed in float32 and cast back: the result is the float64 result on the same
    (rounded) inputs up to the final cast (2^-8 relative for bfloat16)."""
    x = make(T=9, with_state=True, dtype=dtype)
    x64 = {n: t.double() for n, t in x.items()}
    o64, S64 = run(case, x64, "recurrent")
    for mode, (o, S) in all_modes(case, x, 4).items():
        assert o.dtype == S.dtype == dtype and o.shape == (2, 3, 9, 5)
        assert rel32(o.float(), o64) <= 1e-2 and rel32(S.float(), S64) <= 1e-2, mode


# ------------------------------------------------------------------------------------------------------------
# gradients
# ------------------------------------------------------------------------------------------------------------
def grads(case, x, mode, chunk_size=None, seed=7):
    """d/d(q, k, v, the case's gates, state) of a random linear functional of (o, S_T)."""
    x = {n: (t if t is None else t.clone().requires_grad_()) for n, t in x.items()}
    o, S = run(case, x, mode, chunk_size)
    g = torch.Generator().manual_seed(seed)
    w_o = torch.randn(o.shape, generator=g, dtype=torch.float64).to(o.dtype)
    w_S = torch.randn(S.shape, generator=g, dtype=torch.float64).to(S.dtype)
    names = ["q", "k", "v", *GATES[case], "state"]
    return dict(zip(names, torch.autograd.grad((o * w_o).sum() + (S * w_S).sum(), [x[n] for n in names]), strict=True))


@pytest.mark.parametrize("case", CASES)
def test_gradients_equal_across_modes_and_float32(case):
    x = make(T=10, with_state=True, seed=1)
    ref = grads(case, x, "recurrent")
    for mode, chunk_size in [("parallel", None), ("chunkwise", 1), ("chunkwise", 3), ("chunkwise", 16)]:
        got = grads(case, x, mode, chunk_size)
        for name in ref:
            assert close64(got[name], ref[name]), (mode, chunk_size, name)
    x32 = {n: t.float() for n, t in x.items()}
    for mode in MODES:
        got = grads(case, x32, mode, 4)
        for name in ref:
            assert got[name].dtype == torch.float32
            assert rel32(got[name], ref[name]) <= F32_TOL, (mode, name)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", CASES)
def test_gradcheck(case, mode):
    # gates kept 0.05 away from the ends of their ranges: gradcheck's ±1e-6 steps must stay valid input
    x = make(B=1, H=2, T=5, d_k=2, d_v=2, seed=2, with_state=True)
    x["log_gamma"] = -0.05 - x["log_gamma"].abs()
    x["log_alpha"] = -0.05 - x["log_alpha"].abs()
    x["beta"] = 0.05 + 0.9 * x["beta"] / 2
    names = ["q", "k", "v", *GATES[case], "state"]
    leaves = [x[n].clone().requires_grad_() for n in names]

    def f(*ts):
        return run(case, x, mode, 2, **dict(zip(names, ts, strict=True)))

    assert torch.autograd.gradcheck(f, leaves)


# ------------------------------------------------------------------------------------------------------------
# state carry, T = 0, inputs untouched, chunk_size with the other modes
# ------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cuts", [[5], [1, 8], [0, 4, 11, 13], [3, 4, 10]])
@pytest.mark.parametrize("case", CASES)
def test_pieces_with_the_state_passed_on_equal_one_run(case, cuts):
    x = make(T=13, with_state=True, seed=4)
    full, S_full = run(case, x, "recurrent")
    bounds, S, outs = [0, *cuts, 13], x["state"], []
    for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        piece = {n: (t[:, :, a:b] if n != "state" else S) for n, t in x.items()}
        o, S = run(case, piece, MODES[i % 3], 3)
        outs.append(o)
    assert close64(torch.cat(outs, dim=2), full) and close64(S, S_full)


@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("case", CASES)
def test_empty_sequence(case, with_state):
    x = make(T=0, with_state=with_state)
    for mode in MODES:
        o, S = run(case, x, mode, 3)
        assert o.shape == (2, 3, 0, 5) and S.shape == (2, 3, 4, 5)
        if with_state:
            assert torch.equal(S, x["state"]) and S is not x["state"]
        else:
            assert torch.equal(S, torch.zeros(2, 3, 4, 5, dtype=torch.float64))


@pytest.mark.parametrize("case", CASES)
def test_inputs_not_modified(case):
    x = make(T=9, with_state=True)
    before = {n: t.clone() for n, t in x.items()}
    for mode in MODES:
        run(case, x, mode, 4)
    assert all(torch.equal(x[n], before[n]) for n in x)


def test_chunk_size_is_ignored_by_the_other_modes_but_checked():
    x = make(T=7, with_state=True)
    for mode in ("parallel", "recurrent"):
        o, S = run("gated", x, mode)
        o3, S3 = run("gated", x, mode, 3)
        assert torch.equal(o, o3) and torch.equal(S, S3)
        with pytest.raises(ValueError, match="chunk_size"):
            run("gated", x, mode, 0)


# ------------------------------------------------------------------------------------------------------------
# what the successors reduce to
# ------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("gamma", [decay_gammas(3), lm_decay_gammas(3), torch.tensor([0.5, 0.9, 1.0])])
def test_constant_gate_is_retnet_exactly(gamma):
    """log_gamma = log γ_h at every token: RetNet's retention, eq. 5-7, at 1e-12 in every mode (T = 40)."""
    x = make(T=40, with_state=True, seed=5)
    q, k, v, S0 = x["q"], x["k"], x["v"], x["state"]
    gamma = gamma.double()
    log_gamma = torch.log(gamma)[None, :, None].expand(2, 3, 40)
    refs = {
        "parallel": parallel_retention(q, k, v, gamma, state=S0, return_state=True),
        "recurrent": recurrent_retention(q, k, v, gamma, S0),
        "chunkwise": chunkwise_retention(q, k, v, gamma, 6, S0),
    }
    for mode, (o_ref, S_ref) in refs.items():
        o, S = gated_retention(q, k, v, log_gamma, mode=mode, chunk_size=6, state=S0)
        assert close64(o, o_ref, 1e-12) and close64(S, S_ref, 1e-12), mode
        o, S = gated_retention(q, k, v, log_gamma, mode=mode, chunk_size=6)  # no state
        o_ref, S_ref = recurrent_retention(q, k, v, gamma)
        assert close64(o, o_ref, 1e-12) and close64(S, S_ref, 1e-12), mode


def test_zero_log_gate_is_causal_linear_attention():
    x = make(T=9)
    q, k, v = x["q"], x["k"], x["v"]
    ref = ((q @ k.transpose(-1, -2)) * torch.tril(torch.ones(9, 9, dtype=torch.float64))) @ v
    zeros = torch.zeros(2, 3, 9, dtype=torch.float64)
    for mode in MODES:
        o, S = gated_retention(q, k, v, zeros, mode=mode, chunk_size=4)
        assert close64(o, ref) and close64(S, k.transpose(-1, -2) @ v)
        o, S = gla(q, k, v, torch.zeros(2, 3, 9, 4, dtype=torch.float64), mode=mode, chunk_size=4)
        assert close64(o, ref) and close64(S, k.transpose(-1, -2) @ v)


@pytest.mark.parametrize("strength", [0.1, 3.0])
def test_gla_with_a_gate_constant_over_channels_is_gated_retention(strength):
    x = make(T=11, with_state=True, strength=strength, seed=6)
    q, k, v, lg, S0 = x["q"], x["k"], x["v"], x["log_gamma"], x["state"]
    for mode in MODES:
        o_g, S_g = gated_retention(q, k, v, lg, mode=mode, chunk_size=4, state=S0)
        o_a, S_a = gla(q, k, v, lg[..., None].expand(2, 3, 11, 4), mode=mode, chunk_size=4, state=S0)
        assert close64(o_a, o_g) and close64(S_a, S_g), mode


def test_deltanet_is_the_delta_rule_with_zero_log_gate():
    x = make(T=10, with_state=True)
    for mode in MODES:
        o, S = run("deltanet", x, mode, 3)
        o0, S0 = run("delta", x, mode, 3, log_gamma=torch.zeros(2, 3, 10, dtype=torch.float64))
        assert torch.equal(o, o0) and torch.equal(S, S0)


def test_delta_rule_with_beta_zero_only_decays():
    """β = 0: nothing is written or erased, S_n = exp(c_n) S_{-1} with c the cumulative log gates."""
    x = make(T=8, with_state=True)
    q, S0 = x["q"], x["state"]
    c = x["log_gamma"].cumsum(-1)
    zeros = torch.zeros(2, 3, 8, dtype=torch.float64)
    for mode in MODES:
        o, S = run("delta", x, mode, 3, beta=zeros)
        assert close64(o, torch.exp(c)[..., None] * (q @ S0))
        assert close64(S, torch.exp(c[..., -1])[..., None, None] * S0)
        o, S = run("deltanet", x, mode, 3, beta=zeros)
        assert close64(o, q @ S0) and close64(S, S0)
        o, S = run("delta", {**x, "state": None}, mode, 3, beta=zeros)
        assert torch.count_nonzero(o) == 0 and torch.count_nonzero(S) == 0


def test_delta_rule_writes_a_key_and_reads_back_its_value_even_after_an_overwrite():
    """The delta rule's point: with unit-norm keys and β = 1, writing (k, v) makes q = k read exactly v, whatever was
    stored under k before; linear attention instead returns the sum of everything written under k."""
    g = torch.Generator().manual_seed(8)
    d_k, d_v = 4, 3
    keys = torch.linalg.qr(torch.randn(d_k, d_k, generator=g, dtype=torch.float64))[0].T  # orthonormal rows
    v1, v2, v3 = torch.randn(3, d_v, generator=g, dtype=torch.float64)
    k = torch.stack([keys[0], keys[1], keys[0]])[None, None]  # write k1 → v1, k2 → v2, then k1 → v3
    v = torch.stack([v1, v2, v3])[None, None]
    q = torch.stack([keys[0], keys[1], keys[1]])[None, None]  # read k1, then k2, then k2 after the overwrite
    beta = torch.ones(1, 1, 3, dtype=torch.float64)
    S_rand = torch.randn(1, 1, d_k, d_v, generator=g, dtype=torch.float64)
    for mode in MODES:
        for state in (None, S_rand):  # whatever the state held before
            o, S = delta_rule(q, k, v, beta, mode=mode, chunk_size=2, state=state)
            assert close64(o[0, 0, 0], v1, 1e-12)  # k1 reads v1 after it was written
            assert close64(keys[0] @ S[0, 0], v3, 1e-12)  # the overwrite replaced v1 by v3
            assert close64(o[0, 0, 2], v2, 1e-12) and close64(keys[1] @ S[0, 0], v2, 1e-12)  # k2 untouched
        o_lin, S_lin = gated_retention(q, k, v, torch.zeros(1, 1, 3, dtype=torch.float64), mode=mode, chunk_size=2)
        assert close64(keys[0] @ S_lin[0, 0], v1 + v3)  # linear attention only adds
    # one random unit key over a random state: reads back exactly what was written (also with a gate)
    kr = F.normalize(torch.randn(1, 1, 1, d_k, generator=g, dtype=torch.float64), dim=-1)
    vr = torch.randn(1, 1, 1, d_v, generator=g, dtype=torch.float64)
    for mode in MODES:
        o, _ = delta_rule(kr, kr, vr, beta[..., :1], log_gamma=-beta[..., :1], mode=mode, chunk_size=1, state=S_rand)
        assert close64(o, vr, 1e-12)


# ------------------------------------------------------------------------------------------------------------
# segment sums and long sequences
# ------------------------------------------------------------------------------------------------------------
def test_segment_sums_are_sums_over_each_segment():
    a = -torch.rand(2, 7, dtype=torch.float64)
    s = segment_sums(a)
    assert s.shape == (2, 7, 7)
    for n in range(7):
        for m in range(7):
            if n >= m:
                assert torch.allclose(s[:, n, m], a[:, m + 1 : n + 1].sum(-1), rtol=1e-14, atol=0)
            else:
                assert (s[:, n, m] == -math.inf).all()
    # exp of them is gated retention's mask; at a constant gate it is eq. 5's D
    gamma = decay_gammas(3)
    D = torch.exp(segment_sums(torch.log(gamma)[:, None].expand(3, 20)))
    assert close64(D, naive.decay_matrix(gamma, 20), 1e-13)
    assert segment_sums(torch.zeros(0)).shape == (0, 0)
    with pytest.raises(TypeError, match="a must be a torch.Tensor"):
        segment_sums([1.0, 2.0])
    with pytest.raises(ValueError, match="a must have"):
        segment_sums(torch.tensor(1.0))


def test_segment_sums_float32_keep_their_accuracy_far_into_a_sequence():
    """At log gates ≈ -5, 2000 tokens in, the cumulative sum is ≈ -10⁴: a difference c_n - c_m of cumulative sums
    would carry ≈ 10⁴ · 6e-8 ≈ 6e-4 of absolute error into the exponent. The segment sums stay near exact."""
    a64 = -5.0 + 0.5 * torch.rand(2048, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    D32 = torch.exp(segment_sums(a64.float())[-8:, -8:]).double()
    D64 = torch.exp(segment_sums(a64)[-8:, -8:])
    assert (D32 - D64).abs().max() <= 1e-6


def _long_inputs(T, dtype=torch.float32):
    """Two heads: one with strong gates (log ≈ -5: the cumulative sum reaches -4·10⁴ at T = 8192, whose exp(+·)
    overflows float32 after 18 tokens), one with weak ones (log ≈ -0.01: memory ≈ 100 tokens)."""
    x = make(B=1, H=2, T=T, d_k=4, d_v=4, seed=9, beta_max=1.0, dtype=torch.float64)
    lg = torch.stack([-5.0 + 0.5 * x["log_gamma"][:, 0], 0.01 * x["log_gamma"][:, 1]], dim=1)
    x["log_gamma"], x["log_alpha"] = lg, lg[..., None] * (0.5 + torch.rand(1, 2, T, 4, dtype=torch.float64))
    return {n: (t if t is None else t.to(dtype)) for n, t in x.items()}


@pytest.mark.parametrize("case", CASES)
def test_float32_sequence_of_1024_finite_and_equal_across_modes(case):
    x = _long_inputs(1024)
    o64, S64 = run(case, {n: (t if t is None else t.double()) for n, t in x.items()}, "chunkwise", 64)
    for mode, (o, S) in all_modes(case, x, 64).items():
        assert torch.isfinite(o).all() and torch.isfinite(S).all()
        assert rel32(o, o64) <= F32_TOL and rel32(S, S64) <= F32_TOL, mode


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES)
def test_float32_sequence_of_8192_finite_and_equal_across_modes(case):
    """T = 8192 in float32, recurrent and chunkwise (chunks of 64, and of 1000: a non-divisor), against a float64 run.
    (The T × T parallel forms are tested at T = 1024 above: at 8192 they take O(T²) = 6.7·10⁷ entries per head and
    mask, seconds each on a CPU.)"""
    x = _long_inputs(8192)
    o64, S64 = run(case, {n: (t if t is None else t.double()) for n, t in x.items()}, "chunkwise", 64)
    for mode, chunk_size in [("recurrent", None), ("chunkwise", 64), ("chunkwise", 1000)]:
        o, S = run(case, x, mode, chunk_size)
        assert torch.isfinite(o).all() and torch.isfinite(S).all()
        assert rel32(o, o64) <= F32_TOL and rel32(S, S64) <= F32_TOL, (mode, chunk_size)


# ------------------------------------------------------------------------------------------------------------
# bad input
# ------------------------------------------------------------------------------------------------------------
def _f64(*shape):
    return torch.zeros(*shape, dtype=torch.float64)


COMMON_BAD = [
    # (description, change, exception, words the message must contain)
    ("q not a tensor", dict(q=[[0.0]]), TypeError, "q must be a torch.Tensor"),
    ("q 3-D", dict(q=_f64(3, 6, 4)), ValueError, "q must be 4-D"),
    ("k other shape", dict(k=_f64(2, 3, 5, 4)), ValueError, "k must have the shape of q"),
    ("v other T", dict(v=_f64(2, 3, 5, 5)), ValueError, "v must be"),
    ("integer q", dict(q=torch.zeros(2, 3, 6, 4, dtype=torch.long)), TypeError, "q must have a floating-point"),
    ("mixed dtypes", dict(k=torch.zeros(2, 3, 6, 4)), TypeError, "k has dtype"),
    ("unknown mode", dict(mode="fast"), ValueError, "mode must be one of"),
    ("mode not a str", dict(mode=3), TypeError, "mode must be a str"),
    ("chunkwise without chunk_size", dict(mode="chunkwise", chunk_size=None), ValueError, "chunk_size"),
    ("chunk_size 0", dict(mode="chunkwise", chunk_size=0), ValueError, "chunk_size"),
    ("chunk_size float", dict(mode="chunkwise", chunk_size=2.0), TypeError, "chunk_size"),
    ("chunk_size bool", dict(mode="chunkwise", chunk_size=True), TypeError, "chunk_size"),
    ("state wrong shape", dict(state=_f64(2, 3, 4, 4)), ValueError, "state must have shape"),
    ("state wrong dtype", dict(state=torch.zeros(2, 3, 4, 5)), TypeError, "state has dtype"),
    ("state integer", dict(state=torch.zeros(2, 3, 4, 5, dtype=torch.long)), TypeError, "state has dtype"),
    ("state on meta", dict(state=torch.zeros(2, 3, 4, 5, dtype=torch.float64, device="meta")), ValueError, "state is"),
    ("state not a tensor", dict(state=[[0.0]]), TypeError, "state must be a torch.Tensor"),
]


def _gate_bad(name, shape):
    """Bad versions of one gate argument whose right shape is ``shape``."""
    bad = [
        (f"{name} not a tensor", {name: 0.5}, TypeError, f"{name} must be a torch.Tensor"),
        (f"{name} integer", {name: torch.zeros(shape, dtype=torch.long)}, TypeError, f"{name} must have a floating"),
        (f"{name} float32", {name: torch.zeros(shape)}, TypeError, f"{name} has dtype"),
        (
            f"{name} on meta",
            {name: torch.zeros(shape, dtype=torch.float64, device="meta")},
            ValueError,
            f"{name} is on",
        ),
        (f"{name} one token short", {name: _f64(*shape[:2], 5, *shape[3:])}, ValueError, f"{name} must have shape"),
        (f"{name} extra axis", {name: _f64(*shape, 1)}, ValueError, f"{name} must have shape"),
        (f"{name} missing axis", {name: _f64(*shape[:-1])}, ValueError, f"{name} must have shape"),
    ]
    rule = f"{name} must be finite and " + ("in [0, 2]" if name == "beta" else "<= 0")
    values = [-0.1, 2.5, math.inf, -math.inf] if name == "beta" else [0.1, math.inf, -math.inf]
    for value in [math.nan, *values]:
        t = _f64(*shape)
        t.view(-1)[-1] = value
        bad.append((f"{name} = {value}", {name: t}, ValueError, f"{name} contains NaN" if value != value else rule))
    return bad


BAD = [(case, *b) for case in ("gated", "gla", "delta") for b in COMMON_BAD] + [
    (case, *b)
    for case, gates in (("gated", ["log_gamma"]), ("gla", ["log_alpha"]), ("delta", ["beta", "log_gamma"]))
    for name in gates
    for b in _gate_bad(name, (2, 3, 6, 4) if name == "log_alpha" else (2, 3, 6))
]


@pytest.mark.parametrize("case,desc,change,exc,words", BAD, ids=[f"{b[0]}: {b[1]}" for b in BAD])
def test_bad_input_raises_naming_the_argument(case, desc, change, exc, words):
    a = {**make(T=6), "mode": "recurrent", "chunk_size": 2, **change}
    kw = dict(mode=a["mode"], chunk_size=a["chunk_size"], state=a["state"])
    with pytest.raises(exc) as info:
        if case == "gated":
            gated_retention(a["q"], a["k"], a["v"], a["log_gamma"], **kw)
        elif case == "gla":
            gla(a["q"], a["k"], a["v"], a["log_alpha"], **kw)
        else:
            delta_rule(a["q"], a["k"], a["v"], a["beta"], log_gamma=a["log_gamma"], **kw)
    assert words in str(info.value), str(info.value)


@pytest.mark.parametrize("mode", MODES)
def test_bad_gates_are_caught_in_every_mode(mode):
    x = make(T=4)
    pos = x["log_gamma"].clone()
    pos[0, 0, 1] = 0.5
    with pytest.raises(ValueError, match="log_gamma must be finite and <= 0"):
        gated_retention(x["q"], x["k"], x["v"], pos, mode=mode, chunk_size=2)
    with pytest.raises(ValueError, match="log_alpha must be finite and <= 0"):
        gla(x["q"], x["k"], x["v"], pos[..., None].expand(2, 3, 4, 4), mode=mode, chunk_size=2)
    with pytest.raises(ValueError, match=r"beta must be finite and in \[0, 2\]"):
        delta_rule(x["q"], x["k"], x["v"], x["beta"] + 2.5, mode=mode, chunk_size=2)
    with pytest.raises(ValueError, match="log_gamma must be finite and <= 0"):
        delta_rule(x["q"], x["k"], x["v"], x["beta"], log_gamma=pos, mode=mode, chunk_size=2)
    with pytest.raises(TypeError):
        gated_retention(x["q"], x["k"], x["v"], x["log_gamma"], mode)  # mode is keyword-only
