"""Notebook 04's exercise checkers (``retnet_edu.course.checks.ch04``): ✓ for a right answer, a hint
that names the mistake for each common wrong answer (never the answer itself), 'not answered yet' for
the placeholder, and no exception for a learner's bug."""

import math

import torch
from verdicts import expect_hint, expect_pass

from retnet_edu.course import checks
from retnet_edu.position import apply_rotation, rotate_every_two


def test_ex04_rotate_every_two(capsys):
    expect_pass(capsys, checks.ex04_rotate_every_two, rotate_every_two)

    def complex_i(x):
        z = torch.view_as_complex(x.reshape(*x.shape[:-1], -1, 2).contiguous())
        return torch.view_as_real(1j * z).flatten(-2)

    expect_pass(capsys, checks.ex04_rotate_every_two, complex_i)
    expect_hint(capsys, checks.ex04_rotate_every_two, lambda x: -rotate_every_two(x), "-i")
    expect_hint(
        capsys,
        checks.ex04_rotate_every_two,
        lambda x: torch.cat((-x[..., x.shape[-1] // 2 :], x[..., : x.shape[-1] // 2]), -1),
        "rotate_half",
    )
    expect_hint(
        capsys,
        checks.ex04_rotate_every_two,
        lambda x: torch.stack((x[..., 1::2], x[..., 0::2]), -1).flatten(-2),
        "minus sign",
    )
    expect_hint(capsys, checks.ex04_rotate_every_two, lambda x: x, "interleave")
    expect_hint(capsys, checks.ex04_rotate_every_two, lambda x: x[0], "shape")


def test_ex04_rotate(capsys):
    expect_pass(capsys, checks.ex04_rotate, apply_rotation)

    def complex_rotation(x, offset):
        d = x.shape[-1]
        theta = 1 / 10000 ** torch.linspace(0, 1, d // 2, dtype=torch.float64)
        n = torch.arange(offset, offset + x.shape[-2], dtype=torch.float64)
        z = torch.view_as_complex(x.reshape(*x.shape[:-1], d // 2, 2).contiguous())
        return torch.view_as_real(z * torch.polar(torch.ones((), dtype=torch.float64), n[:, None] * theta)).flatten(-2)

    expect_pass(capsys, checks.ex04_rotate, complex_rotation)

    def with_angles(theta_fn, sign=1, use_offset=True, interleave=True):
        def fn(x, offset):
            d = x.shape[-1]
            th = theta_fn(d)
            th = th.repeat_interleave(2) if interleave else th.repeat(2)
            n = torch.arange(
                offset if use_offset else 0, (offset if use_offset else 0) + x.shape[-2], dtype=torch.float64
            )
            ang = sign * n[:, None] * th
            return x * torch.cos(ang) + rotate_every_two(x) * torch.sin(ang)

        return fn

    official = lambda d: 1 / 10000 ** torch.linspace(0, 1, d // 2, dtype=torch.float64)  # noqa: E731
    rope = lambda d: 10000.0 ** (-2 * torch.arange(d // 2, dtype=torch.float64) / d)  # noqa: E731
    expect_pass(capsys, checks.ex04_rotate, with_angles(official))
    expect_hint(capsys, checks.ex04_rotate, with_angles(rope), "RoPE")
    expect_hint(capsys, checks.ex04_rotate, with_angles(official, sign=-1), "-nθ")
    expect_hint(capsys, checks.ex04_rotate, with_angles(official, use_offset=False), "offset")
    expect_hint(capsys, checks.ex04_rotate, with_angles(official, interleave=False), "θ0, θ0")
    expect_hint(capsys, checks.ex04_rotate, lambda x, offset: x[:2], "shape")
    expect_hint(capsys, checks.ex04_rotate, lambda x, offset: 2 * apply_rotation(x, offset), "offset = 0")


def test_ex04_full_turn(capsys):
    expect_pass(capsys, checks.ex04_full_turn, 2 * math.pi / 1e-4)
    expect_hint(capsys, checks.ex04_full_turn, 1e4, "2π")
    expect_hint(capsys, checks.ex04_full_turn, math.pi / 1e-4, "half a turn")
    expect_hint(capsys, checks.ex04_full_turn, 64, "solve")


def test_ex04_rope_angles(capsys):
    expect_pass(capsys, checks.ex04_rope_angles, [1.0, 0.1, 0.01, 0.001])
    expect_pass(capsys, checks.ex04_rope_angles, 10000.0 ** (-torch.arange(0, 8, 2, dtype=torch.float64) / 8))
    expect_hint(
        capsys,
        checks.ex04_rope_angles,
        torch.tensor([1.0, 0.1, 0.01, 0.001]).repeat_interleave(2),
        "one angle per pair",
    )
    expect_hint(capsys, checks.ex04_rope_angles, 1 / 10000 ** torch.linspace(0, 1, 4, dtype=torch.float64), "linspace")
    expect_hint(capsys, checks.ex04_rope_angles, [1.0, 10.0, 100.0, 1000.0], "negative")
    expect_hint(capsys, checks.ex04_rope_angles, [1.0, 0.5, 0.25, 0.125], "θ_i")
