"""retnet_edu.course.buggy: each broken variant is wrong, and wrong exactly in the documented way (float64, against
tests/naive.py)."""

import naive
import pytest
import torch

from retnet_edu.course.buggy import (
    BUG_LABELS,
    VARIANTS,
    answer_key,
    chunkwise_state_dropped,
    chunkwise_without_zeta,
    chunkwise_xi_off_by_one,
    mystery_variants,
    recurrent_scaled_by_S,
    recurrent_state_not_decayed,
)
from retnet_edu.retention import decay_gammas

TOL = 1e-10


def make(T=12, H=3, seed=0, gamma=None):
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(2, H, T, d, generator=g, dtype=torch.float64) for d in (4, 4, 5))
    return q, k, v, decay_gammas(H) if gamma is None else gamma


def row_err(o, ref):
    return (o - ref).abs().amax(dim=(0, 1, 3)) / ref.abs().max()


@pytest.mark.parametrize("chunk_size", [2, 4, 5])
def test_without_zeta_first_chunk_right_then_wrong(chunk_size):
    q, k, v, gamma = make()
    err = row_err(chunkwise_without_zeta(q, k, v, gamma, chunk_size), naive.retention(q, k, v, gamma))
    assert err[:chunk_size].max() <= TOL
    assert err[chunk_size:].min() > 1e-4


def test_without_zeta_right_when_zeta_is_one():
    q, k, v, gamma = make()
    ref = naive.retention(q, k, v, gamma)
    assert row_err(chunkwise_without_zeta(q, k, v, gamma, 1), ref).max() <= TOL  # ζ_0 = γ^0 = 1
    ones = torch.ones(3, dtype=torch.float64)
    assert row_err(chunkwise_without_zeta(q, k, v, ones, 4), naive.retention(q, k, v, ones)).max() <= TOL


def test_without_zeta_is_the_state_without_zeta():
    """The state it carries weighs a token of chunk i' by γ^(B·hops), not γ^(B-1-j') · γ^(B·hops): over-weighted
    by γ^-(B-1-j'). One-hot values read those weights off directly."""
    T, B, gamma = 8, 4, torch.tensor([0.5], dtype=torch.float64)
    q = k = torch.ones(1, 1, T, 1, dtype=torch.float64)
    v = torch.eye(T, dtype=torch.float64)[None, None]
    W = chunkwise_without_zeta(q, k, v, gamma, B)[0, 0]  # W[n, m] = weight of token m in output n
    for n in range(B, T):
        for m in range(B):
            assert W[n, m].item() == pytest.approx(0.5 ** (n - m) * 0.5 ** -(B - 1 - m), rel=1e-12)


def test_xi_off_by_one_wrong_by_factor_one_over_gamma_on_cross_terms():
    T, B, gamma = 8, 4, torch.tensor([0.5], dtype=torch.float64)
    q = k = torch.ones(1, 1, T, 1, dtype=torch.float64)
    v = torch.eye(T, dtype=torch.float64)[None, None]
    W = chunkwise_xi_off_by_one(q, k, v, gamma, B)[0, 0]
    for n in range(T):
        for m in range(n + 1):
            factor = 2.0 if m // B < n // B else 1.0  # cross-chunk weights too large by 1/γ
            assert W[n, m].item() == pytest.approx(0.5 ** (n - m) * factor, rel=1e-12)
    q, k, v, gamma3 = make()
    err = row_err(chunkwise_xi_off_by_one(q, k, v, gamma3, 1), naive.retention(q, k, v, gamma3))
    assert err[0] <= TOL and err[1:].min() > 1e-4  # wrong also with chunk_size = 1


def test_state_dropped_reads_only_the_previous_chunk():
    """Each chunk's state holds only the chunk before it: chunks 0 and 1 are right, chunk 2 on wrong (also at γ = 1),
    and every output row equals retention over the current and the previous chunk alone."""
    T, B = 12, 4
    q, k, v, gamma = make(T=T)
    o = chunkwise_state_dropped(q, k, v, gamma, B)
    err = row_err(o, naive.retention(q, k, v, gamma))
    assert err[: 2 * B].max() <= TOL and err[2 * B :].min() > 1e-4
    ones = torch.ones(3, dtype=torch.float64)
    assert row_err(chunkwise_state_dropped(q, k, v, ones, B), naive.retention(q, k, v, ones))[2 * B :].min() > 1e-4
    for i in range(1, T // B):  # chunk i = retention over chunks i-1 and i, read at chunk i's rows
        window = slice((i - 1) * B, (i + 1) * B)
        local = naive.retention(q[:, :, window], k[:, :, window], v[:, :, window], gamma)[:, :, B:]
        assert (o[:, :, i * B : (i + 1) * B] - local).abs().max() <= TOL


def test_state_not_decayed_is_linear_attention():
    q, k, v, gamma = make()
    o = recurrent_state_not_decayed(q, k, v, gamma)
    ones = torch.ones(3, dtype=torch.float64)
    assert row_err(o, naive.retention(q, k, v, ones)).max() <= TOL
    err = row_err(o, naive.retention(q, k, v, gamma))
    assert err[0] <= TOL and err[1:].min() > 1e-4


def test_scaled_by_S_is_bare_over_S():
    q, k, v, gamma = make()
    o = recurrent_scaled_by_S(q, k, v, gamma, 4)
    S = naive.decay_matrix(gamma, 12).sum(-1)  # (H, T): S_n = Σ_{i≤n} γ^i
    assert torch.allclose(o, naive.retention(q, k, v, gamma) / S[None, :, :, None], rtol=1e-10, atol=1e-13)


def test_variants_registry_and_mysteries():
    assert set(VARIANTS) == set(BUG_LABELS) and len(BUG_LABELS) == 4
    assert chunkwise_without_zeta not in VARIANTS.values()  # notebook 06's worked example, not a mystery
    key = answer_key()
    assert sorted(key) == list("ABCD") and sorted(key.values()) == sorted(BUG_LABELS)
    q, k, v, gamma = make()
    for letter, fn in mystery_variants().items():
        assert torch.equal(fn(q, k, v, gamma, 4), VARIANTS[key[letter]](q, k, v, gamma, 4))
        assert "bug" in fn.__doc__ and VARIANTS[key[letter]].__name__ not in fn.__doc__


@pytest.mark.parametrize("fn", [*VARIANTS.values(), chunkwise_without_zeta], ids=[*VARIANTS, "zeta missing"])
def test_variants_accept_empty_and_check_inputs(fn):
    q, k, v, gamma = make(T=0)
    assert fn(q, k, v, gamma, 4).shape == (2, 3, 0, 5)
    q, k, v, gamma = make()
    with pytest.raises(ValueError, match="gamma"):
        fn(q, k, v, gamma[:1], 4)
