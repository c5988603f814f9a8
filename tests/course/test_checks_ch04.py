"""Notebook 04's exercise checkers (``retnet_edu.course.checks.ch04``). Each is fed (a) the reference answer, (b) a
right answer computed the natural float32 way, and (c) every wrong answer its hints name: ✓, ✓ (with a note on the
precision where it shows), and the specific hint."""

import math

import torch
from verdicts import expect_hint, expect_pass, verdict

from retnet_edu.course import checks
from retnet_edu.position import apply_rotation, rotate_every_two

NOTE = "float32 precision"


def passes(capsys, checker, answer):
    ok, out = verdict(capsys, checker, answer)
    assert ok and "✓" in out, out
    return out


def test_ex04_rotate_every_two(capsys):
    J2 = torch.tensor([[0.0, 1.0], [-1.0, 0.0]], dtype=torch.float64)
    expect_pass(capsys, checks.ex04_rotate_every_two, lambda d: torch.block_diag(*[J2] * (d // 2)))  # (a)
    expect_pass(capsys, checks.ex04_rotate_every_two, lambda d: rotate_every_two(torch.eye(d)))  # (b) float32
    expect_pass(capsys, checks.ex04_rotate_every_two, lambda d: rotate_every_two(torch.eye(d)).tolist())
    expect_hint(capsys, checks.ex04_rotate_every_two, lambda d: rotate_every_two(torch.eye(d)).T, "-i")

    def rotate_half_matrix(d):
        eye = torch.eye(d)
        return torch.cat((-eye[:, d // 2 :], eye[:, : d // 2]), dim=-1)

    expect_hint(capsys, checks.ex04_rotate_every_two, rotate_half_matrix, "rotate_half")
    expect_hint(capsys, checks.ex04_rotate_every_two, lambda d: rotate_every_two(torch.eye(d)).abs(), "minus sign")
    expect_hint(
        capsys,
        checks.ex04_rotate_every_two,
        lambda d: J2 if d == 2 else torch.zeros(d, d),
        "not for d_k = 8",
    )
    expect_hint(capsys, checks.ex04_rotate_every_two, lambda d: torch.eye(d), "basis vector")
    expect_hint(capsys, checks.ex04_rotate_every_two, lambda d: torch.eye(d)[0], "matrix")
    expect_hint(capsys, checks.ex04_rotate_every_two, lambda d: 1 / 0, "ZeroDivisionError")


def official(d):
    return 1 / 10000 ** torch.linspace(0, 1, d // 2, dtype=torch.float64)


def rope(d):
    return 10000.0 ** (-2 * torch.arange(d // 2, dtype=torch.float64) / d)


def mover(theta_fn=official, sign=1, interleave=True, mode="shift"):
    """move(y, old, new) built from rotate_every_two, with the usual ways to get it wrong."""

    def move(y, old_offset, new_offset):
        d = y.shape[-1]
        th = theta_fn(d)
        th = th.repeat_interleave(2) if interleave else th.repeat(2)
        if mode == "shift":  # the same turn for every token
            ang = sign * (new_offset - old_offset) * th[None, :]
        elif mode == "on top":  # turned again by the new positions
            ang = torch.arange(new_offset, new_offset + y.shape[-2], dtype=torch.float64)[:, None] * th
        else:  # "per token": positions new - old + t
            start = new_offset - old_offset
            ang = torch.arange(start, start + y.shape[-2], dtype=torch.float64)[:, None] * th
        return y * torch.cos(ang) + rotate_every_two(y) * torch.sin(ang)

    return move


def test_ex04_rotate(capsys):
    expect_pass(capsys, checks.ex04_rotate, mover())  # (a)

    def via_complex(y, old_offset, new_offset):  # complex numbers: multiply each pair by e^(i(new-old)θ)
        d = y.shape[-1]
        z = torch.view_as_complex(y.reshape(*y.shape[:-1], d // 2, 2).contiguous())
        turn = torch.polar(torch.ones((), dtype=torch.float64), (new_offset - old_offset) * official(d))
        return torch.view_as_real(z * turn).flatten(-2)

    expect_pass(capsys, checks.ex04_rotate, via_complex)

    def undo_then_redo(y, old_offset, new_offset):  # back to the unrotated keys, then forward: right too
        return mover()(mover()(y, old_offset, 0), 0, new_offset)

    expect_pass(capsys, checks.ex04_rotate, undo_then_redo)

    def as_the_official_code_writes_it(y, old_offset, new_offset):  # (b) float32 angles, torch.linspace without a dtype
        d = y.shape[-1]
        angle = (1.0 / (10000 ** torch.linspace(0, 1, d // 2))).unsqueeze(-1).repeat(1, 2).flatten()
        assert angle.dtype == torch.float32
        ang = (new_offset - old_offset) * angle
        return y * torch.cos(ang) + rotate_every_two(y) * torch.sin(ang)

    assert NOTE in passes(capsys, checks.ex04_rotate, as_the_official_code_writes_it)
    expect_hint(capsys, checks.ex04_rotate, lambda y, old, new: y, "nothing moved")
    expect_hint(capsys, checks.ex04_rotate, mover(mode="on top"), "already turned")
    expect_hint(capsys, checks.ex04_rotate, mover(sign=-1), "wrong way")
    expect_hint(capsys, checks.ex04_rotate, mover(mode="per token"), "does not depend on t")
    expect_hint(capsys, checks.ex04_rotate, mover(rope), "RoPE")
    expect_hint(capsys, checks.ex04_rotate, mover(interleave=False), "θ0, θ0")
    expect_hint(capsys, checks.ex04_rotate, lambda y, old, new: y[:2], "shape")
    expect_hint(capsys, checks.ex04_rotate, lambda y, old, new: 2 * mover()(y, old, new), "old = 7, new = 2")
    expect_hint(capsys, checks.ex04_rotate, lambda y, old, new: apply_rotation(y, new - old), "ValueError")


def test_ex04_full_turn(capsys):
    theta = 1 / 10000 ** torch.linspace(0, 1, 128, dtype=torch.float64)
    count = int((2047 * theta < 2 * math.pi).sum())
    assert count == 48
    expect_pass(capsys, checks.ex04_full_turn, count)  # (a)
    natural = (2047 * (1 / 10000 ** torch.linspace(0, 1, 128)) < 2 * math.pi).sum()  # (b) float32 angles
    expect_pass(capsys, checks.ex04_full_turn, natural)
    expect_pass(capsys, checks.ex04_full_turn, 48.0)
    expect_hint(capsys, checks.ex04_full_turn, 128 - count, "do complete a turn")
    rope_count = int((2047 * rope(256) < 2 * math.pi).sum())
    assert rope_count == 47
    expect_hint(capsys, checks.ex04_full_turn, rope_count, "RoPE")
    expect_hint(capsys, checks.ex04_full_turn, 49, "off by one")
    expect_hint(capsys, checks.ex04_full_turn, 62832, "count the j")
    expect_hint(capsys, checks.ex04_full_turn, 47.5, "whole number")
    expect_hint(capsys, checks.ex04_full_turn, "48", "expected a number of pairs")


def test_ex04_rope_angles(capsys):
    expect_pass(capsys, checks.ex04_rope_angles, 10000 ** (8 / 6))  # (a)
    natural = torch.tensor(10000.0) ** (4 / 3)  # (b) float32
    assert NOTE in passes(capsys, checks.ex04_rope_angles, natural)
    b = 10000 ** (8 / 6)
    assert torch.allclose(b ** (-2 * torch.arange(4.0, dtype=torch.float64) / 8), official(8), rtol=1e-12)
    expect_hint(capsys, checks.ex04_rope_angles, 10000, "fall faster")
    expect_hint(capsys, checks.ex04_rope_angles, 10000 ** (6 / 8), "upside down")
    expect_hint(capsys, checks.ex04_rope_angles, 10000 ** (1 / 3), "1/θ_1")
    expect_hint(capsys, checks.ex04_rope_angles, 12345.0, "match the exponents")
    expect_hint(capsys, checks.ex04_rope_angles, [1.0, 0.1], "expected a number")
