"""The exercise checkers of notebook 04 (``notebooks/04_relative_position_rotation.ipynb``)."""

from __future__ import annotations

import math

import torch

from retnet_edu.course.checks._common import (
    Verdict,
    _as_float,
    _call,
    _pending,
    _same,
    _seeded,
    _tensor,
    report,
    unanswered,
)

__all__ = ["ex04_rotate_every_two", "ex04_rotate", "ex04_full_turn", "ex04_rope_angles"]


def _rotate_every_two(x):
    return torch.stack((-x[..., 1::2], x[..., 0::2]), dim=-1).flatten(-2)


def _official_angles(d_k: int) -> torch.Tensor:
    return (1.0 / 10000.0 ** torch.linspace(0.0, 1.0, d_k // 2, dtype=torch.float64)).repeat_interleave(2)


def _turn(x, offset, angles):
    pos = torch.arange(offset, offset + x.shape[-2], dtype=torch.float64)[:, None] * angles[None, :]
    return x * torch.cos(pos) + _rotate_every_two(x) * torch.sin(pos)


def ex04_rotate_every_two(fn) -> Verdict:
    """Exercise 04.1: ``fn(x)`` maps each interleaved pair (x_2i, x_2i+1) of the last dimension to
    (-x_2i+1, x_2i)."""
    name = "Exercise 04.1"
    if unanswered(fn):
        return _pending(name)
    (x,) = _seeded((3, 8), seed=41)
    ok, out = _call(name, fn, x)
    if not ok:
        return out
    got = _tensor(out)
    if _same(got, _rotate_every_two(x), 0):
        return report(name, True, "each pair multiplied by i; applying it twice gives -x", "")
    if got is None or tuple(got.shape) != (3, 8):
        return report(
            name, False, "", f"expected the shape of x, (3, 8), got {None if got is None else tuple(got.shape)}"
        )
    if _same(got, -_rotate_every_two(x), 0):
        return report(name, False, "", "the sign is on the wrong coordinate: this multiplies each pair by -i, not by i")
    if _same(got, torch.cat((-x[..., 4:], x[..., :4]), dim=-1), 0):
        return report(
            name,
            False,
            "",
            "that is rotate_half (pairs i and i + d/2); the official code pairs neighbours: (x_0, x_1), (x_2, x_3), …",
        )
    if _same(got, torch.stack((x[..., 1::2], x[..., 0::2]), dim=-1).flatten(-2), 0):
        return report(name, False, "", "swapping is a reflection: a quarter turn also needs a minus sign")
    return report(
        name,
        False,
        "",
        "take the even coordinates x[..., 0::2] and the odd ones x[..., 1::2], and "
        "interleave (-odd, even) back into one last dimension",
    )


def ex04_rotate(fn) -> Verdict:
    """Exercise 04.2: ``fn(x, offset)`` rotates x (T, d_k) as the official code does: token t sits at position
    n = offset + t and each pair i turns by the angle n·θ_i, θ_i = 1/10000^linspace(0, 1, d_k/2)[i]."""
    name = "Exercise 04.2"
    if unanswered(fn):
        return _pending(name)
    (x,) = _seeded((5, 8), seed=42)
    angles = _official_angles(8)
    for offset in (0, 7):
        ok, out = _call(name, fn, x, offset)
        if not ok:
            return out
        got = _tensor(out)
        expected = _turn(x, offset, angles)
        if _same(got, expected):
            continue
        if got is None or tuple(got.shape) != (5, 8):
            return report(
                name, False, "", f"expected the shape of x, (5, 8), got {None if got is None else tuple(got.shape)}"
            )
        rope = (10000.0 ** (-2.0 * torch.arange(4, dtype=torch.float64) / 8)).repeat_interleave(2)
        if _same(got, _turn(x, offset, rope)):
            return report(
                name,
                False,
                "",
                "those are standard RoPE's angles 10000^(-2i/d_k); the official code "
                "uses 1/10000^linspace(0, 1, d_k/2)",
            )
        if _same(got, _turn(x, offset, -angles)):
            return report(name, False, "", "you turned by -nθ: both queries and keys turn by +nθ")
        if offset and _same(got, _turn(x, 0, angles)):
            return report(name, False, "", "the offset is ignored: token t sits at position offset + t")
        if _same(got, _turn(x, offset, angles[torch.tensor([0, 2, 4, 6, 0, 2, 4, 6])])):
            return report(name, False, "", "each angle serves both coordinates of its pair: [θ0, θ0, θ1, θ1, …]")
        return report(name, False, "", f"wrong values for offset = {offset}: x cos(nθ) + rotate_every_two(x) sin(nθ)")
    return report(name, True, "your rotation equals the official one, at any offset", "")


def ex04_full_turn(tokens) -> Verdict:
    """Exercise 04.3: with d_k = 64 (official angles), how many tokens apart must a query and a key be for the
    slowest pair (θ = 1e-4) to turn by one full circle?"""
    name = "Exercise 04.3"
    if unanswered(tokens):
        return _pending(name)
    value = _as_float(tokens)
    if value is None:
        return report(name, False, "", f"expected a number, got {type(tokens).__name__}")
    expected = 2 * math.pi / 1e-4
    if math.isclose(value, expected, rel_tol=1e-6):
        return report(
            name, True, "2π/θ ≈ 62 832 tokens: the slowest pair can tell positions apart across long distances", ""
        )
    if math.isclose(value, 1e4, rel_tol=1e-6):
        return report(name, False, "", "a full turn is 2π radians, not 1")
    if math.isclose(value, math.pi / 1e-4, rel_tol=1e-6):
        return report(name, False, "", "that is half a turn (π radians)")
    return report(name, False, "", "the pair turns by (n - m)·θ radians: solve (n - m)·θ = 2π")


def ex04_rope_angles(theta) -> Verdict:
    """Exercise 04.4: the standard RoPE angles for d_k = 8, one per pair: θ_i = 10000^(-2i/d_k), i = 0 … 3."""
    name = "Exercise 04.4"
    if unanswered(theta):
        return _pending(name)
    got = _tensor(theta)
    if got is None:
        return report(name, False, "", f"expected 4 numbers in a tensor or list, got {type(theta).__name__}")
    got = got.reshape(-1)
    i = torch.arange(4, dtype=torch.float64)
    expected = 10000.0 ** (-2 * i / 8)
    if _same(got, expected, 1e-12):
        return report(name, True, "RoPE: 1, 0.1, 0.01, 0.001 (the official code: 1, 0.0464, 0.00215, 0.0001)", "")
    if got.numel() == 8:
        return report(name, False, "", "one angle per pair: d_k/2 = 4 values")
    if _same(got, _official_angles(8)[0::2], 1e-12):
        return report(name, False, "", "that is the official linspace convention; RoPE's exponent is 2i/d_k")
    if _same(got, 10000.0 ** (2 * i / 8), 1e-12):
        return report(name, False, "", "the angles shrink with i: the exponent is negative")
    return report(name, False, "", "θ_i = 10000^(-2i/d_k) for i = 0, 1, 2, 3")
