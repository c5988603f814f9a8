"""The exercise checkers of notebook 03 (``notebooks/03_retention_from_scratch.ipynb``)."""

from __future__ import annotations

import math

import torch

from retnet_edu.course.checks._common import (
    _D,
    Verdict,
    _as_float,
    _call,
    _causal,
    _pending,
    _same,
    _seeded,
    _tensor,
    report,
    unanswered,
)

__all__ = ["ex03_parallel_retention", "ex03_recurrent_retention", "ex03_multihead_retention", "ex03_cost_ratio"]


def ex03_parallel_retention(fn) -> Verdict:
    """Exercise 03.1: ``fn(q, k, v, gamma)`` for one head (q, k: (T, d_k); v: (T, d_v); gamma a float) returns the
    parallel form (Q Kᵀ ⊙ D) V, (T, d_v)."""
    name = "Exercise 03.1"
    if unanswered(fn):
        return _pending(name)
    q, k, v = _seeded((6, 3), (6, 3), (6, 4), seed=31)
    for gamma, T in ((0.8, 6), (1.0, 6), (0.8, 1)):
        qs, ks, vs = q[:T], k[:T], v[:T]
        ok, out = _call(name, fn, qs, ks, vs, gamma)
        if not ok:
            return out
        got = _tensor(out)
        scores, D = qs @ ks.T, _D(gamma, T)
        expected = (scores * D) @ vs
        if _same(got, expected):
            continue
        if got is None or tuple(got.shape) != (T, 4):
            return report(
                name,
                False,
                "",
                f"expected a (T, d_v) = ({T}, 4) tensor, got shape {None if got is None else tuple(got.shape)}",
            )
        if _same(got, scores @ vs):
            return report(name, False, "", "no mask: D zeroes the future (m > n) and decays the past")
        if _same(got, (scores * _causal(T)) @ vs):
            return report(name, False, "", "causal, but no decay: D[n, m] = γ^(n-m), not 1")
        if _same(got, (scores * D.T) @ vs):
            return report(name, False, "", "D is transposed: D[n, m] = γ^(n-m) for n ≥ m (row n = query)")
        if _same(got, (scores @ D) @ vs):
            return report(name, False, "", "⊙ is the element-wise product (*), not a matrix product (@)")
        return report(
            name,
            False,
            "",
            f"wrong values for γ = {gamma}: compute Q Kᵀ, multiply element-wise by D, then multiply by V",
        )
    return report(name, True, "(Q Kᵀ ⊙ D) V: the parallel form of retention", "")


def ex03_recurrent_retention(fn) -> Verdict:
    """Exercise 03.2: ``fn(q, k, v, gamma)`` for one head returns ``(o, S)``: the outputs (T, d_v) of
    S_n = γ S_{n-1} + k_nᵀ v_n, o_n = q_n S_n, and the final state S (d_k, d_v)."""
    name = "Exercise 03.2"
    if unanswered(fn):
        return _pending(name)
    q, k, v = _seeded((6, 3), (6, 3), (6, 4), seed=32)
    gamma = 0.8
    ok, out = _call(name, fn, q, k, v, gamma)
    if not ok:
        return out
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        return report(name, False, "", "return two things: (o, S), the outputs and the final state")
    o, S = _tensor(out[0]), _tensor(out[1])
    D = _D(gamma, 6)
    expected_o = ((q @ k.T) * D) @ v
    w = gamma ** torch.arange(5, -1, -1, dtype=torch.float64)  # γ^(T-1-m)
    expected_S = (k * w[:, None]).T @ v
    if _same(o, expected_o) and _same(S, expected_S):
        return report(name, True, "the recurrence gives the parallel outputs, and S = Σ_m γ^(T-1-m) k_mᵀ v_m", "")
    if S is not None and tuple(S.shape) == (4, 3):
        return report(name, False, "", "S has shape (d_v, d_k); the paper's state k_nᵀ v_n is (d_k, d_v)")
    if o is None or tuple(o.shape) != (6, 4):
        return report(name, False, "", f"o must be (T, d_v) = (6, 4), got {None if o is None else tuple(o.shape)}")
    late = D * gamma  # S = γ (S + kᵀv): every weight × γ
    if _same(o, ((q @ k.T) * late) @ v):
        return report(
            name,
            False,
            "",
            "the newest token enters with weight 1: decay the old state first (γ S_{n-1}), then add k_nᵀ v_n",
        )
    if _same(o, ((q @ k.T) * (D * _causal(6, -1)) / gamma) @ v):
        return report(name, False, "", "read o_n = q_n S_n after the update, so token n sees itself")
    if _same(o, expected_o):
        return report(
            name,
            False,
            "",
            "the outputs are right but the returned S is not the final state (the state after the last token)",
        )
    return report(name, False, "", "start from S = 0; for each n: S = γ S + outer(k_n, v_n), then o_n = q_n S")


def ex03_multihead_retention(fn) -> Verdict:
    """Exercise 03.3: ``fn(q, k, v, gamma)`` with q, k (B, H, T, d_k), v (B, H, T, d_v) and gamma (H,) returns the
    parallel form for every batch element and head, (B, H, T, d_v)."""
    name = "Exercise 03.3"
    if unanswered(fn):
        return _pending(name)
    q, k, v = _seeded((2, 3, 5, 4), (2, 3, 5, 4), (2, 3, 5, 2), seed=33)
    gamma = torch.tensor([0.5, 0.8, 0.95], dtype=torch.float64)
    ok, out = _call(name, fn, q, k, v, gamma)
    if not ok:
        return out
    got = _tensor(out)
    D = torch.stack([_D(float(g), 5) for g in gamma])  # (H, T, T)
    scores = q @ k.transpose(-1, -2)
    expected = (scores * D) @ v
    if _same(got, expected):
        return report(name, True, "one decay matrix per head, (H, T, T), broadcast over the batch", "")
    if got is None or tuple(got.shape) != (2, 3, 5, 2):
        return report(
            name, False, "", f"expected (B, H, T, d_v) = (2, 3, 5, 2), got {None if got is None else tuple(got.shape)}"
        )
    if _same(got, (scores * D[0]) @ v) or _same(got, (scores * D[-1]) @ v):
        return report(name, False, "", "every head used the same γ: head h needs its own γ_h")
    return report(
        name, False, "", "build D with shape (H, T, T), one γ_h per head; (B, H, T, T) scores ⊙ D broadcasts over B"
    )


def ex03_cost_ratio(ratio) -> Verdict:
    """Exercise 03.4: multiply-adds of the parallel form over those of the recurrent form for a whole sequence,
    T = 4096, d_k = d_v = 64 (counting as the notebook does)."""
    name = "Exercise 03.4"
    if unanswered(ratio):
        return _pending(name)
    value = _as_float(ratio)
    if value is None:
        return report(name, False, "", f"expected a number, got {type(ratio).__name__}")
    T, d_k, d_v = 4096, 64, 64
    expected = (T * T * (d_k + d_v)) / (T * 2 * d_k * d_v)
    if math.isclose(value, expected, rel_tol=1e-9):
        return report(
            name, True, "64× more multiply-adds for the parallel form at T = 4096 (T(d_k+d_v)/(2 d_k d_v))", ""
        )
    if math.isclose(value, 1 / expected, rel_tol=1e-9):
        return report(name, False, "", "that is recurrent over parallel; the exercise asks parallel over recurrent")
    return report(
        name,
        False,
        "",
        "parallel: T² d_k for Q Kᵀ plus T² d_v for (…)V; recurrent: per token d_k d_v "
        "for the update and d_k d_v for q_n S_n; divide the two totals",
    )
