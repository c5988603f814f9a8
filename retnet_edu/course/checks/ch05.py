"""The exercise checkers of notebook 05 (``notebooks/05_chunkwise_retention.ipynb``)."""

from __future__ import annotations

import math

import torch

from retnet_edu.course.checks._common import (
    _FLOAT32_TOL,
    Verdict,
    _as_float,
    _call,
    _expect_callable,
    _integer,
    _pending,
    _precision_note,
    _rel_err,
    _same,
    report,
    unanswered,
)
from retnet_edu.course.viz.ch05 import chunk_block_labels
from retnet_edu.retention import recurrent_retention

__all__ = ["ex05_decay_split", "ex05_merge_halves", "ex05_balance_chunk_size", "ex05_block_entries"]


def ex05_decay_split(answer) -> Verdict:
    """Exercise 05.1: with chunk size B = 4, token n = 13 weighs token m = 2 by γ^(n-m) = γ^11. In the chunkwise
    form that weight is a product of ξ_j, ζ_j' and some factors γ^B. Answer ``(xi_exponent, zeta_exponent,
    number_of_gamma_B_factors)``."""
    name = "Exercise 05.1"
    if unanswered(answer):
        return _pending(name)
    try:
        parts = tuple(answer)
    except TypeError:
        parts = ()
    numbers_ = tuple(_integer(a) for a in parts)
    if len(numbers_) != 3 or None in numbers_:
        return report(name, False, "", "answer with three whole numbers: (xi exponent, zeta exponent, number of γ^B)")
    xi, zeta, hops = numbers_
    if (xi, zeta, hops) == (2, 1, 2):
        return report(
            name,
            True,
            "γ^2 (ξ_1) · γ^1 (ζ_2) · (γ^4)^2 = γ^11: the three factors cover the distance 13 - 2 exactly",
            "",
        )
    if xi + zeta + 4 * hops != 11:
        return report(
            name,
            False,
            "",
            f"γ^{xi} · γ^{zeta} · (γ^4)^{hops} = γ^{xi + zeta + 4 * hops}, not γ^11: the "
            "exponents must add up to n - m",
        )
    if (xi, zeta) == (1, 2):
        return report(
            name,
            False,
            "",
            "right total, but ξ and ζ are swapped: ξ_j belongs to the query's in-chunk row "
            "j, ζ_j' to the key's in-chunk row j'",
        )
    return report(
        name,
        False,
        "",
        "right total, wrong split: write n = iB + j and m = i'B + j', then count the "
        "state updates between chunk i' and chunk i",
    )


def _merge_case(a: int, b: int, seed: int):
    """Two workers' results for a sequence of a + b tokens cut after token a-1, and the truth."""
    gen = torch.Generator().manual_seed(seed)
    gamma = torch.tensor([0.5, 0.9, 0.97], dtype=torch.float64)
    q, k = (torch.randn(2, 3, a + b, 4, generator=gen, dtype=torch.float64) for _ in range(2))
    v = torch.randn(2, 3, a + b, 5, generator=gen, dtype=torch.float64)
    first, second = slice(0, a), slice(a, a + b)
    _, R1 = recurrent_retention(q[:, :, first], k[:, :, first], v[:, :, first], gamma)
    o2, R2 = recurrent_retention(q[:, :, second], k[:, :, second], v[:, :, second], gamma)
    o_true, R_true = recurrent_retention(q, k, v, gamma)
    return q[:, :, second], o2, R1, R2, gamma, o_true[:, :, second], R_true


def ex05_merge_halves(fn) -> Verdict:
    """Exercise 05.2: ``fn(q2, o2, R1, R2, gamma) -> (o, R)``. Worker 1 ran tokens 0 … a-1 from a zero state and
    returned its final state R1; worker 2 ran tokens a … a+b-1 *also from a zero state* and returned outputs o2
    and state R2. Return the true outputs of the second part and the true state after all a + b tokens.
    Shapes: q2 (B, H, b, d_k), o2 (B, H, b, d_v), R1 and R2 (B, H, d_k, d_v), gamma (H,)."""
    name = "Exercise 05.2"
    pending = _expect_callable(name, fn, "fn(q2, o2, R1, R2, gamma)")
    if pending is not None:
        return pending
    worst = 0.0
    for a, b, seed in ((5, 7, 0), (8, 3, 1), (4, 1, 2)):
        q2, o2, R1, R2, gamma, o_want, R_want = _merge_case(a, b, seed)
        ok, out = _call(name, fn, q2, o2, R1, R2, gamma)
        if not ok:
            return out
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            return report(name, False, "", "return a pair (o, R): the corrected outputs and the merged state")
        o, R = out
        shapes = (tuple(o_want.shape), tuple(R_want.shape))
        if (
            not (isinstance(o, torch.Tensor) and isinstance(R, torch.Tensor))
            or (tuple(o.shape), tuple(R.shape)) != shapes
        ):
            return report(
                name, False, "", f"o must have shape (B, H, b, d_v) = {shapes[0]}, R (B, H, d_k, d_v) = {shapes[1]}"
            )
        o_ok, R_ok = _same(o, o_want, _FLOAT32_TOL), _same(R, R_want, _FLOAT32_TOL)
        if o_ok and R_ok:
            worst = max(worst, _rel_err(o, o_want), _rel_err(R, R_want))
            continue
        decay = gamma.pow(b)[:, None, None]  # γ^b per head, shaped for (B, H, d_k, d_v)
        if not R_ok:
            if _same(R, R1 + R2, _FLOAT32_TOL):
                return report(
                    name, False, "", "the state: R1 is b tokens older than R2, so it must decay over the b tokens first"
                )
            if _same(R, decay / gamma[:, None, None] * R1 + R2, _FLOAT32_TOL) or _same(
                R, decay * gamma[:, None, None] * R1 + R2, _FLOAT32_TOL
            ):
                return report(
                    name, False, "", f"the state: off by one in the decay of R1 (b = {b} tokens, so b steps of γ)"
                )
            if any(_same(R, R1 + gamma.pow(p)[:, None, None] * R2, _FLOAT32_TOL) for p in (a, b)):
                return report(name, False, "", "the state: which of R1 and R2 holds the older tokens?")
            return report(name, False, "", "the state is not right yet: R = (R1 decayed over the second part) + R2")
        j = torch.arange(b, dtype=torch.float64)
        cross = q2 @ R1
        xi_short, xi_long = (gamma[:, None].pow(j + p)[..., None] for p in (0, 2))  # ξ_j off by one, (H, b, 1)
        if _same(o, o2, _FLOAT32_TOL):
            return report(
                name, False, "", "the outputs: worker 2 started from a zero state, so its outputs lack the first part"
            )
        if _same(o, o2 + cross, _FLOAT32_TOL):
            return report(
                name, False, "", "the outputs: what R1 contributes must be decayed from token a-1 to each query row j"
            )
        if _same(o, o2 + xi_short * cross, _FLOAT32_TOL) or _same(o, o2 + xi_long * cross, _FLOAT32_TOL):
            return report(name, False, "", "the outputs: ξ is off by one (row j is j + 1 steps after token a-1)")
        return report(name, False, "", "the outputs are not right yet: add the cross term of eq. 7 to o2")
    return report(
        name,
        True,
        "o = o2 + ξ ⊙ (Q2 R1), R = γ^b R1 + R2: the second part is one big chunk, so it can run before R1 is known"
        + _precision_note(worst),
        "",
    )


def ex05_balance_chunk_size(B) -> Verdict:
    """Exercise 05.3: for d_k = 64 and d_v = 128, the chunk size B (a real number) at which a chunk's inner part
    costs as many multiply-adds as its cross part plus its state update."""
    name = "Exercise 05.3"
    if unanswered(B):
        return _pending(name)
    value = _as_float(B)
    if value is None:
        return report(name, False, "", f"expected a number, got {type(B).__name__}")
    d_k, d_v = 64, 128
    want = 2 * d_k * d_v / (d_k + d_v)
    if math.isclose(value, want, rel_tol=1e-6):
        return report(
            name,
            True,
            "B = 2 d_k d_v / (d_k + d_v) ≈ 85.3: below it the d_k × d_v state work dominates, above it the B × B "
            "blocks do" + _precision_note(abs(value - want) / want),
            "",
        )
    if math.isclose(value, want / 2, rel_tol=1e-6):
        return report(name, False, "", "the cross part and the state update each cost B d_k d_v per chunk: two terms")
    if any(math.isclose(value, 2 * d, rel_tol=1e-6) for d in (d_k, d_v)):
        return report(
            name, False, "", "the inner part holds two products, Q Kᵀ (B² d_k) and its product with V (B² d_v)"
        )
    return report(
        name, False, "", "inner: B²(d_k + d_v) per chunk; cross + state: 2 B d_k d_v per chunk; set them equal"
    )


# (T, chunk size) pairs the block-count checker tries: divisors, non-divisors, B = 1, B = T and B > T
_BLOCK_CASES = ((16, 4), (48, 7), (10, 4), (48, 12), (5, 9), (48, 1), (12, 12), (1, 1), (100, 30))


def ex05_block_entries(fn) -> Verdict:
    """Exercise 05.4: ``fn(T, B) -> int``, the number of entries of the T × T matrix of eq. 5 that the chunkwise
    form computes explicitly: both triangles of every diagonal block (the figure's dark and light blue), for any T
    and chunk size B, a short last chunk included."""
    name = "Exercise 05.4"
    pending = _expect_callable(name, fn, "fn(T, B)")
    if pending is not None:
        return pending
    for T, B in _BLOCK_CASES:
        labels = chunk_block_labels(T, B)
        want = int(((labels == 1) | (labels == 2)).sum())
        ok, got = _call(name, fn, T, B)
        if not ok:
            return got
        value = _integer(got)
        if value is None:
            return report(name, False, "", f"expected a whole number of entries, got {got!r} for T = {T}, B = {B}")
        if value == want:
            continue
        n_chunks = -(-T // B)
        if value == int((labels == 1).sum()):
            return report(
                name,
                False,
                "",
                f"T = {T}, B = {B}: that counts only the kept (dark-blue) entries; Q Kᵀ computes each block whole "
                "before D zeroes its upper triangle",
            )
        if value == T * B:
            return report(
                name,
                False,
                "",
                f"T = {T}, B = {B}: T·B holds when B divides T; here the last chunk is short (or B > T): count it "
                "with its own size",
            )
        if value == n_chunks * B * B:
            return report(
                name,
                False,
                "",
                f"T = {T}, B = {B}: that is a last chunk padded to B tokens (torchscale pads; eq. 7 does not need to)",
            )
        return report(name, False, "", f"T = {T}, B = {B}: add up b² over the chunks, b the size of each chunk")
    return report(name, True, "⌊T/B⌋·B² + (T mod B)²: T·B when B divides T, a little less with a short last chunk", "")
