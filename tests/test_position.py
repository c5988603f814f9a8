"""The relative-position rotation: official angle convention, complex-number view, dependence on n - m only."""

import naive
import pytest
import torch

from retnet_edu.position import apply_rotation, rotate_every_two, rotation_angles, rotation_sin_cos


def test_angles_official_convention():
    a = rotation_angles(8)
    assert a.dtype == torch.float64 and a.shape == (8,)
    # 1/10000**linspace(0, 1, 4), each twice, interleaved: [1, 1, 0.0464, 0.0464, 0.00215, 0.00215, 1e-4, 1e-4]
    expected = torch.tensor(naive.angles(8), dtype=torch.float64).repeat_interleave(2)
    assert torch.allclose(a, expected, rtol=1e-15, atol=0)
    assert a[0] == 1.0 and a[-1] == pytest.approx(1e-4, rel=1e-14)
    assert rotation_angles(2).tolist() == [1.0, 1.0]


def test_angles_equal_torchscale_formula():
    d_k = 16
    official = 1.0 / (10000 ** torch.linspace(0, 1, d_k // 2, dtype=torch.float64))
    official = official.unsqueeze(-1).repeat(1, 2).flatten()
    assert torch.equal(rotation_angles(d_k), official)


def test_rotate_every_two_is_multiplication_by_i():
    x = torch.randn(3, 5, 6, dtype=torch.float64)
    r = rotate_every_two(x)
    z = torch.view_as_complex(x.reshape(3, 5, 3, 2).contiguous())
    assert torch.equal(torch.view_as_real(1j * z).reshape(3, 5, 6), r)
    assert torch.equal(rotate_every_two(r), -x)


@pytest.mark.parametrize("offset", [0, 3, 1000])
def test_apply_rotation_matches_complex_loop(offset):
    x = torch.randn(2, 2, 5, 6, dtype=torch.float64)
    assert torch.allclose(apply_rotation(x, offset), naive.rotate(x, offset), rtol=0, atol=1e-12)


def test_rotation_preserves_norm_and_position_zero():
    x = torch.randn(4, 9, 8, dtype=torch.float64)
    y = apply_rotation(x)
    assert torch.allclose(y.norm(dim=-1), x.norm(dim=-1), rtol=1e-14, atol=0)
    assert torch.allclose(y[:, 0], x[:, 0], rtol=0, atol=0)


def test_offset_equals_slicing_a_longer_sequence():
    x = torch.randn(2, 12, 4, dtype=torch.float64)
    assert torch.allclose(apply_rotation(x)[:, 7:], apply_rotation(x[:, 7:], offset=7), rtol=0, atol=1e-15)


@pytest.mark.parametrize("shift", [1, 17, 5000])
def test_score_depends_only_on_relative_position(shift):
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(2, 16, dtype=torch.float64, generator=g)
    seq_q = q.expand(40, 16).clone()
    seq_k = k.expand(40, 16).clone()
    scores = apply_rotation(seq_q) @ apply_rotation(seq_k).T  # positions 0..39
    shifted = apply_rotation(seq_q, shift) @ apply_rotation(seq_k, shift).T  # positions shift..shift+39
    assert torch.allclose(scores, shifted, rtol=0, atol=1e-10)
    # and the score at (n, m) is a function of n - m: constant along each diagonal
    for d in (-5, 0, 3):
        diag = torch.diagonal(scores, offset=d)
        assert torch.allclose(diag, diag[0].expand_as(diag), rtol=0, atol=1e-12)


def test_sin_cos_float64_then_cast():
    sin, cos = rotation_sin_cos(3, 4, offset=100000, dtype=torch.float32)
    assert sin.dtype == torch.float32
    ref = torch.sin(torch.arange(100000, 100003, dtype=torch.float64)[:, None] * rotation_angles(4)[None])
    assert torch.equal(sin, ref.float())
    assert torch.allclose(sin.double() ** 2 + cos.double() ** 2, torch.ones(3, 4, dtype=torch.float64), atol=1e-6)


@pytest.mark.parametrize(
    "call,exc,words",
    [
        (lambda: rotation_angles(7), ValueError, "d_k must be a positive even int"),
        (lambda: rotation_angles(0), ValueError, "d_k"),
        (lambda: rotation_angles(4.0), TypeError, "d_k must be an int"),
        (lambda: rotate_every_two(torch.zeros(3, 5)), ValueError, "even last dimension"),
        (lambda: rotate_every_two([1.0, 2.0]), TypeError, "x must be a torch.Tensor"),
        (lambda: apply_rotation(torch.zeros(3, 4, dtype=torch.long)), TypeError, "floating-point"),
        (lambda: apply_rotation(torch.zeros(4)), ValueError, "(..., T, d_k)"),
        (lambda: apply_rotation(torch.zeros(2, 4), offset=-1), ValueError, "offset must be >= 0"),
        (lambda: apply_rotation(torch.zeros(2, 4), offset=1.5), TypeError, "offset must be an int"),
        (lambda: apply_rotation(torch.zeros(2, 5)), ValueError, "even"),
    ],
)
def test_bad_input(call, exc, words):
    with pytest.raises(exc) as info:
        call()
    assert words in str(info.value)


def test_does_not_modify_input():
    x = torch.randn(3, 4)
    before = x.clone()
    apply_rotation(x, 2)
    rotate_every_two(x)
    assert torch.equal(x, before)
