"""The exercise checkers of notebook 04 (``notebooks/04_relative_position_rotation.ipynb``)."""

from __future__ import annotations

import math

import torch

from retnet_edu.course.checks._common import (
    _FLOAT32_TOL,
    Verdict,
    _as_float,
    _call,
    _integer,
    _pending,
    _precision_note,
    _rel_err,
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
    """[θ_0, θ_0, θ_1, θ_1, …], θ_j = 1/10000^linspace(0, 1, d_k/2)[j] (float64)."""
    return (1.0 / 10000.0 ** torch.linspace(0.0, 1.0, d_k // 2, dtype=torch.float64)).repeat_interleave(2)


def _turn(x, offset, angles):
    pos = torch.arange(offset, offset + x.shape[-2], dtype=torch.float64)[:, None] * angles[None, :]
    return x * torch.cos(pos) + _rotate_every_two(x) * torch.sin(pos)


def _shift(y, delta, angles):
    """y turned by delta·θ in every pair, the same for every token (row)."""
    return y * torch.cos(delta * angles) + _rotate_every_two(y) * torch.sin(delta * angles)


def ex04_rotate_every_two(fn) -> Verdict:
    """Exercise 04.1: ``fn(d_k)`` returns the real d_k × d_k matrix J with ``rotate_every_two(x) == x @ J`` for every
    row vector x: block-diagonal, one block [[0, 1], [-1, 0]] per pair (multiplication by i as a matrix). Tried
    for d_k = 2 and 8."""
    name = "Exercise 04.1"
    if unanswered(fn):
        return _pending(name)
    for d in (2, 8):
        ok, out = _call(name, fn, d)
        if not ok:
            return out
        got = _tensor(out)
        eye = torch.eye(d, dtype=torch.float64)
        J = _rotate_every_two(eye)  # row r: what rotate_every_two does to the basis vector e_r
        if _same(got, J, _FLOAT32_TOL):
            continue
        if got is None or tuple(got.shape) != (d, d):
            return report(
                name,
                False,
                "",
                f"for d_k = {d} expected a ({d}, {d}) matrix, got {None if got is None else tuple(got.shape)}",
            )
        if _same(got, J.T, _FLOAT32_TOL):
            return report(
                name,
                False,
                "",
                "x @ J with this J multiplies each pair by -i: x is a row vector, so row r of J is the image of the "
                "basis vector e_r (transpose, or flip the signs)",
            )
        half = d // 2
        rotate_half = torch.cat((-eye[:, half:], eye[:, :half]), dim=-1)
        if d > 2 and _same(got, rotate_half, _FLOAT32_TOL):
            return report(
                name,
                False,
                "",
                "that is rotate_half's matrix (pairs j and j + d/2); rotate_every_two pairs neighbours "
                "(0, 1), (2, 3), …",
            )
        if _same(got, J.abs(), _FLOAT32_TOL):
            return report(
                name, False, "", "that only swaps each pair, a reflection: a quarter turn also needs a minus sign"
            )
        if d == 8:
            return report(
                name, False, "", "right for d_k = 2 but not for d_k = 8: one 2 × 2 block per pair, on the diagonal"
            )
        return report(
            name,
            False,
            "",
            "row r of J is rotate_every_two(e_r) for the basis vector e_r: J maps (a, b) to (-b, a) in every pair",
        )
    return report(name, True, "J is block-diagonal with [[0, 1], [-1, 0]]: multiplication by i, and J @ J = -I", "")


def ex04_rotate(fn) -> Verdict:
    """Exercise 04.2: ``fn(y, old_offset, new_offset)`` moves keys that were rotated at positions old_offset + t
    (y: (T, d_k), official angles θ_j = 1/10000^linspace(0, 1, d_k/2)[j]) to positions new_offset + t: one rotation by
    (new_offset - old_offset)·θ_j per pair, the same for every token. Angles made in float32 (``torch.linspace``
    without a dtype, as the official code writes them) are fine."""
    name = "Exercise 04.2"
    if unanswered(fn):
        return _pending(name)
    (x,) = _seeded((5, 8), seed=42)
    angles = _official_angles(8)
    worst = 0.0
    for old, new in ((7, 2), (0, 30), (5, 5)):
        y = _turn(x, old, angles)
        ok, out = _call(name, fn, y, old, new)
        if not ok:
            return out
        got = _tensor(out)
        expected = _turn(x, new, angles)
        if _same(got, expected, _FLOAT32_TOL):
            worst = max(worst, _rel_err(got, expected))
            continue
        if got is None or tuple(got.shape) != (5, 8):
            return report(
                name, False, "", f"expected the shape of y, (5, 8), got {None if got is None else tuple(got.shape)}"
            )
        shift = new - old
        if _same(got, y, _FLOAT32_TOL):
            return report(
                name, False, "", f"nothing moved: from positions {old} + t to {new} + t is a turn by (new - old)·θ"
            )
        if _same(got, _turn(y, new, angles), _FLOAT32_TOL):
            return report(
                name,
                False,
                "",
                "y is already turned by its old positions: turn it by the difference, (new_offset - old_offset)·θ",
            )
        if _same(got, _shift(y, -shift, angles), _FLOAT32_TOL):
            return report(
                name, False, "", "turned the wrong way: from old to new positions is +(new_offset - old_offset)·θ"
            )
        if _same(got, _turn(y, new - old, angles), _FLOAT32_TOL):
            return report(
                name,
                False,
                "",
                "every token moves by the same number of positions, new - old: the angle does not depend on t",
            )
        rope = (10000.0 ** (-2.0 * torch.arange(4, dtype=torch.float64) / 8)).repeat_interleave(2)
        if _same(got, _shift(y, shift, rope), _FLOAT32_TOL):
            return report(
                name,
                False,
                "",
                "those are standard RoPE's angles 10000^(-2j/d_k); the official code uses "
                "1/10000^linspace(0, 1, d_k/2)",
            )
        if _same(got, _shift(y, shift, angles[torch.tensor([0, 2, 4, 6, 0, 2, 4, 6])]), _FLOAT32_TOL):
            return report(name, False, "", "each angle serves both coordinates of its pair: [θ0, θ0, θ1, θ1, …]")
        return report(
            name,
            False,
            "",
            f"wrong values for old = {old}, new = {new}: y cos(Δθ) + rotate_every_two(y) sin(Δθ) with Δ = new - old",
        )
    return report(
        name,
        True,
        "one turn by (new - old)·θ moves every cached key: rotations compose, nothing is recomputed"
        + _precision_note(worst),
        "",
    )


def ex04_full_turn(count) -> Verdict:
    """Exercise 04.3: with the paper's head size d_k = 256 (128 pairs) and the official angles, how many pairs turn
    by less than one full circle between the first and the last token of a 2048-token context (distance 2047)?
    Pairs j = 80 … 127 (θ_j < 2π/2047): 48."""
    name = "Exercise 04.3"
    if unanswered(count):
        return _pending(name)
    if _as_float(count) is None:
        return report(name, False, "", f"expected a number of pairs, got {type(count).__name__}")
    value = _integer(count)
    if value is None:
        return report(name, False, "", "a number of pairs is a whole number")
    theta = _official_angles(256)[0::2]
    expected = int((2047 * theta < 2 * math.pi).sum())  # 48
    rope = 10000.0 ** (-2.0 * torch.arange(128, dtype=torch.float64) / 256)
    if value == expected:
        return report(
            name,
            True,
            "48 of the 128 pairs never complete a turn within the context: slow, coarse position signals",
            "",
        )
    if value == 128 - expected:
        return report(name, False, "", "that many pairs do complete a turn; the question asks for those that do not")
    if value == int((2047 * rope < 2 * math.pi).sum()):
        return report(
            name,
            False,
            "",
            "that is the count for standard RoPE's angles 10000^(-2j/d_k) (or an off-by-one): the official "
            "angles are 1/10000^linspace(0, 1, 128)",
        )
    if value in (expected - 1, expected + 1):
        return report(name, False, "", "off by one: pairs are numbered j = 0 … 127; count the j with 2047·θ_j < 2π")
    return report(name, False, "", "pair j turns by 2047·θ_j radians over the context: count the j with 2047·θ_j < 2π")


def ex04_rope_angles(base) -> Verdict:
    """Exercise 04.4: for d_k = 8, the base b for which RoPE's formula θ_j = b^(-2j/d_k) gives exactly the official
    angles 10000^(-j/(d_k/2 - 1)): b = 10000^(d_k/(d_k-2)) = 10000^(4/3) ≈ 215 443."""
    name = "Exercise 04.4"
    if unanswered(base):
        return _pending(name)
    value = _as_float(base)
    if value is None:
        return report(name, False, "", f"expected a number (the base b), got {type(base).__name__}")
    expected = 10000.0 ** (8 / 6)
    if math.isclose(value, expected, rel_tol=1e-6):
        return report(
            name,
            True,
            "b = 10000^(d_k/(d_k-2)) ≈ 215 443 for d_k = 8, but ≈ 10 752 for d_k = 256: why the two conventions are "
            "'almost the same' at the paper's head size" + _precision_note(abs(value - expected) / expected),
            "",
        )
    if math.isclose(value, 10000.0, rel_tol=1e-6):
        return report(
            name, False, "", "base 10 000 gives RoPE's own angles 1, 0.1, 0.01, 0.001; the official ones fall faster"
        )
    if math.isclose(value, 10000.0 ** (6 / 8), rel_tol=1e-6):
        return report(name, False, "", "the exponent is upside down: solve b^(2/d_k) = 10000^(1/(d_k/2 - 1)) for b")
    if math.isclose(value, 10000.0 ** (1 / 3), rel_tol=1e-6):
        return report(
            name, False, "", "that is 1/θ_1; b must satisfy b^(-2j/d_k) = θ_j for every j, i.e. b^(2/8) = 1/θ_1"
        )
    return report(
        name,
        False,
        "",
        "match the exponents: b^(-2j/d_k) = 10000^(-j/(d_k/2 - 1)) for every j means b^(2/d_k) = 10000^(1/(d_k/2 - 1))",
    )
