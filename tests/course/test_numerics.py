"""retnet_edu.course.numerics: error measures, mode comparisons (forward and backward), the seeded sweep, the bug
diagnosis, and the low-precision facts (γ rounding, split-decay overflow, log-space masks)."""

import math

import naive
import pytest
import torch

from retnet_edu.course.buggy import VARIANTS, chunkwise_without_zeta
from retnet_edu.course.numerics import (
    compare_modes,
    diagnose,
    format_diagnosis,
    heads_rounding_to_one,
    log_space_decay_mask,
    random_qkv,
    randomised_sweep,
    rel_error,
    rounded_gamma,
    split_decay_mask,
    split_decay_overflow_length,
    tolerance,
)
from retnet_edu.course.official_scaling import official_recurrent
from retnet_edu.retention import chunkwise_retention, decay_gammas, decay_mask


def test_tolerance_and_rel_error():
    assert tolerance(torch.float64) == 1e-10 and tolerance(torch.float32) == 1e-5
    with pytest.raises(ValueError, match="dtype"):
        tolerance(torch.float16)
    a = torch.tensor([1.0, 2.0, 4.0])
    assert rel_error(a, a) == 0.0
    assert rel_error(a + torch.tensor([0.0, 0.0, 0.4]), a) == pytest.approx(0.1)
    assert rel_error(torch.ones(2), torch.zeros(2)) == 1.0
    assert rel_error(torch.zeros(0), torch.zeros(0)) == 0.0
    with pytest.raises(ValueError, match="shape"):
        rel_error(a, a[:2])
    with pytest.raises(TypeError):
        rel_error([1.0], a)


def test_random_qkv_float32_is_rounded_float64():
    q64, _, v64 = random_qkv(1, 2, 5, 4, 3, torch.float64, seed=3, scale=2.0)
    q32, _, v32 = random_qkv(1, 2, 5, 4, 3, torch.float32, seed=3, scale=2.0)
    assert torch.equal(q32, q64.float()) and v32.shape == (1, 2, 5, 3)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_compare_modes_within_tolerance(dtype):
    q, k, v = random_qkv(2, 3, 20, 4, 5, dtype)
    S0 = torch.randn(2, 3, 4, 5, generator=torch.Generator().manual_seed(1)).to(dtype)
    for state in (None, S0):
        res = compare_modes(q, k, v, decay_gammas(3), chunk_sizes=(1, 3, 7, 40), state=state)
        assert set(res) == {"recurrent", "chunkwise B=1", "chunkwise B=3", "chunkwise B=7", "chunkwise B=40"}
        for errs in res.values():
            assert set(errs) == {"o", "S", "dq", "dk", "dv"}
            assert max(errs.values()) <= tolerance(dtype)


def test_compare_modes_gradients_match_naive_loop():
    q, k, v = random_qkv(1, 2, 6, 2, 3)
    leaves = [x.clone().requires_grad_() for x in (q, k, v)]
    w = torch.randn(1, 2, 6, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    (naive.retention(*leaves, decay_gammas(2)) * w).sum().backward()
    res = compare_modes(q, k, v, decay_gammas(2), chunk_sizes=(4,), seed=0)
    assert max(max(e.values()) for e in res.values()) <= 1e-12
    assert compare_modes(q, k, v, decay_gammas(2), chunk_sizes=(), grad=False)["recurrent"].keys() == {"o", "S"}


def test_randomised_sweep_passes_and_is_seeded():
    a = randomised_sweep(12, seed=1)
    b = randomised_sweep(12, seed=1)
    assert [r["T"] for r in a] == [r["T"] for r in b] and [r["worst"] for r in a] == [r["worst"] for r in b]
    assert all(r["ok"] for r in a)
    assert {r["dtype"] for r in randomised_sweep(20, seed=0, grad=False)} == {torch.float64, torch.float32}
    with pytest.raises(ValueError, match="n_cases"):
        randomised_sweep(0)


def test_diagnose_correct_and_each_bug():
    good = diagnose(lambda q, k, v, g, c: chunkwise_retention(q, k, v, g, c)[0])
    assert good["max_error"] <= 1e-10 and good["first_wrong_token"] is None and good["proportional"]
    assert good["right_when_gamma_is_1"] and good["right_with_chunk_size_1"]
    r = {name: diagnose(fn) for name, fn in VARIANTS.items()}
    x, s, S, d = r["xi off by one"], r["state not decayed"], r["1/S instead of 1/sqrt(S)"], r["old state dropped"]
    z = diagnose(chunkwise_without_zeta)
    assert z["first_wrong_token"] == 4 and z["right_with_chunk_size_1"] and z["right_when_gamma_is_1"]
    assert d["first_wrong_token"] == 8 and not d["right_with_chunk_size_1"] and not d["right_when_gamma_is_1"]
    symptoms = ("first_wrong_token", "right_when_gamma_is_1", "right_with_chunk_size_1", "proportional")
    fingerprints = {tuple(rep[key] for key in symptoms) for rep in [z, *r.values()]}
    assert len(fingerprints) == 5  # every mystery has its own symptoms, none the worked example's
    assert x["first_wrong_token"] == 4 and not x["right_with_chunk_size_1"] and x["right_when_gamma_is_1"]
    assert s["first_wrong_token"] == 1 and s["right_when_gamma_is_1"] and not s["proportional"]
    assert S["proportional"] and S["after_norm_eps0"] <= 1e-10 and S["after_norm_eps1e-6"] > 0.1
    Sn = decay_mask(decay_gammas(4), 12).sum(-1)[:, -1]
    assert torch.allclose(S["row_factor_last"], 1 / Sn, rtol=1e-9, atol=0)
    off = diagnose(lambda q, k, v, g, c: official_recurrent(q, k, v, g)[0])
    assert torch.allclose(off["row_factor_last"], 1 / Sn.sqrt(), rtol=1e-9, atol=0)
    text = format_diagnosis(S)
    assert "row factor at the last token" in text and "< 1e-10" in text
    assert "row factor" not in format_diagnosis(z)


def test_diagnose_bad_input():
    with pytest.raises(TypeError, match="callable"):
        diagnose(3)
    with pytest.raises(ValueError, match="shape"):
        diagnose(lambda q, k, v, g, c: q[..., :3])


def test_rounding_of_gamma():
    g = decay_gammas(12)
    assert heads_rounding_to_one(g, torch.bfloat16) == list(range(4, 12))
    assert heads_rounding_to_one(g, torch.float16) == list(range(7, 12))
    assert heads_rounding_to_one(g, torch.float32) == []
    assert rounded_gamma(g, torch.float32).equal(g)  # exact binary fractions
    with pytest.raises(TypeError, match="dtype"):
        rounded_gamma(g, torch.int32)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_split_decay_overflow_length(dtype):
    for gamma in decay_gammas(3).tolist():
        T = split_decay_overflow_length(gamma, dtype)
        analytic = 1 + math.log(torch.finfo(dtype).max) / -math.log(gamma)
        assert abs(T - analytic) <= 20, (T, analytic)  # bfloat16 rounds γ^-m coarsely
        g = torch.tensor(gamma, dtype=torch.float64).to(dtype)
        assert torch.isinf(torch.pow(g, torch.tensor(-(T - 1))))
        assert torch.isfinite(torch.pow(g, torch.tensor(-(T - 2))))
    assert split_decay_overflow_length(1 - 2**-9, torch.bfloat16) is None  # γ rounds to 1: nothing decays
    assert split_decay_overflow_length(31 / 32, torch.float16) == 351
    assert split_decay_overflow_length(31 / 32, torch.float64, limit=1000) is None
    with pytest.raises(ValueError, match="gamma"):
        split_decay_overflow_length(1.5, torch.float32)


def test_split_mask_breaks_where_predicted_and_log_space_does_not():
    g = torch.tensor([31 / 32], dtype=torch.float64)
    T = split_decay_overflow_length(31 / 32, torch.float16)
    assert torch.isfinite(split_decay_mask(g, T - 1, torch.float16)).all()
    bad = split_decay_mask(g, T, torch.float16)
    assert not torch.isfinite(bad).all() and torch.isnan(bad).any()
    small = split_decay_mask(g, 40, torch.float64)
    assert torch.allclose(small, decay_mask(g, 40), rtol=1e-12, atol=0)
    head0 = decay_gammas(1)  # γ = 31/32: the split form overflows float32 at 2796
    assert torch.isnan(split_decay_mask(head0, 3000, torch.float32)).any()
    good = log_space_decay_mask(head0, 3000, torch.float32)
    assert torch.isfinite(good).all() and (good.triu(1) == 0).all()
    ref = decay_mask(decay_gammas(4), 64)
    assert torch.allclose(log_space_decay_mask(decay_gammas(4), 64, torch.float64), ref, rtol=1e-13, atol=1e-300)
    ones = log_space_decay_mask(torch.ones(1, dtype=torch.float64), 5, torch.float64)
    assert torch.equal(ones[0], torch.ones(5, 5, dtype=torch.float64).tril())
    with pytest.raises(ValueError, match="T"):
        split_decay_mask(g, -1, torch.float32)
