"""The exercise checkers of notebook 11 (``notebooks/11_gating_the_decay.ipynb``)."""

from __future__ import annotations

import math

import torch

from retnet_edu.course.checks._common import (
    _FLOAT32_TOL,
    Verdict,
    _as_float,
    _call,
    _expect_callable,
    _pending,
    _precision_note,
    _rel_err,
    _same,
    _seeded,
    _tensor,
    report,
    unanswered,
)
from retnet_edu.retention import decay_gammas, lm_decay_gammas, parallel_retention
from retnet_edu.successors import gated_retention

__all__ = ["ex11_gate_mask", "ex11_reset_gates", "ex11_retnet_log_gamma", "ex11_gated_memory"]


# ---------------------------------------------------------------------------------------------------- 11.1
#: Exercise 11.1's gates γ_0 … γ_5: token 4 is a reset (gate 0), and γ_0 ≠ γ_1 tells the off-by-ones apart
GATES_11_1 = (0.9, 0.5, 1.0, 0.25, 0.0, 0.5)


def _product_mask(gates, first: int, last: int) -> torch.Tensor:
    """D[n, m] = ∏ γ_i over m + first ≤ i ≤ n + last for n ≥ m (1 for an empty product), 0 above the diagonal:
    (first, last) = (1, 0) is the right mask; the others are the off-by-ones that checkers name. float64, written
    out with products (no logarithms, no package code)."""
    T = len(gates)
    D = torch.zeros(T, T, dtype=torch.float64)
    for n in range(T):
        for m in range(n + 1):
            p = 1.0
            for i in range(m + first, n + last + 1):
                p *= gates[i]
            D[n, m] = p
    return D


def gate_mask_reference(gates=GATES_11_1) -> torch.Tensor:
    """The decay mask of gated retention for a list of gates: ``D[n, m] = ∏_{m<i≤n} γ_i`` for n ≥ m (the gate of
    token i decays what came before i, so the key's own gate γ_m is not in it and the diagonal is 1), 0 above."""
    return _product_mask(list(gates), 1, 0)


def ex11_gate_mask(D) -> Verdict:
    """Exercise 11.1: the 6 × 6 decay mask D of gated retention for the gates ``GATES_11_1`` =
    (0.9, 0.5, 1, 0.25, 0, 0.5): ``D[n, m] = ∏_{m<i≤n} γ_i = exp(Σ_{m<i≤n} log γ_i)`` below the diagonal, 1 on it,
    0 above. Any array-like of numbers (nested list, numpy, torch; float32 or float64)."""
    name = "Exercise 11.1"
    if unanswered(D):
        return _pending(name)
    got = _tensor(D)
    T = len(GATES_11_1)
    if got is None or tuple(got.shape) != (T, T):
        shape = None if got is None else tuple(got.shape)
        return report(name, False, "", f"expected a {T} × {T} matrix (one row per query n), got shape {shape}")
    want = gate_mask_reference()
    if _same(got, want, _FLOAT32_TOL):
        return report(
            name,
            True,
            "each entry is the product of the gates strictly after the key up to the query; the reset at token 4 "
            "zeroes every path that crosses it, and γ_0 appears nowhere" + _precision_note(_rel_err(got, want)),
            "",
        )
    if not bool(torch.isfinite(got).all()):
        return report(
            name,
            False,
            "",
            "NaN or inf: the reset gate 0 has log γ = -∞, and -∞ - (-∞) (a difference of cumulative sums) or "
            "0 · ∞ (exp(c_n) · exp(-c_m)) is NaN; multiply the gates of each segment, or sum each segment's log "
            "gates on its own",
        )
    if _same(got, want.T, _FLOAT32_TOL):
        return report(name, False, "", "transposed: row n is the query, column m the key; the non-zeros go below")
    if bool((torch.triu(got, 1).abs() > _FLOAT32_TOL).any()):
        return report(name, False, "", "D is causal: every entry above the diagonal (m > n, the future) is 0")
    if _same(got, _product_mask(GATES_11_1, 0, 0), _FLOAT32_TOL):
        return report(
            name,
            False,
            "",
            "the diagonal must be 1 (a token is not decayed against itself): the product starts after the key, "
            "i > m, so the key's own gate γ_m is not in it (an inclusive where an exclusive sum was needed)",
        )
    if _same(got, _product_mask(GATES_11_1, 0, -1), _FLOAT32_TOL):
        return report(
            name,
            False,
            "",
            "off by one: that multiplies γ_m … γ_(n-1); the gates that act between key m and query n are "
            "γ_(m+1) … γ_n (token i's gate decays what came before i)",
        )
    rows = torch.tensor([math.prod(GATES_11_1[: n + 1]) for n in range(T)], dtype=torch.float64)
    if any(_same(got, torch.tril(r[:, None].expand(T, T)), _FLOAT32_TOL) for r in (rows, rows / GATES_11_1[0])):
        return report(
            name,
            False,
            "",
            "each row is constant: that is exp(c_n), the product from the start; D[n, m] multiplies only the gates "
            "between the key m and the query n",
        )
    if not bool((torch.diagonal(got) - 1).abs().max() <= _FLOAT32_TOL):
        return report(name, False, "", "the diagonal must be 1: the empty product (no gate between m = n and n)")
    return report(
        name,
        False,
        "",
        "some entries are off: D[n, m] = γ_(m+1) · … · γ_n, e.g. D[3, 0] = γ_1 γ_2 γ_3; check the rows after "
        "the reset at token 4",
    )


# ---------------------------------------------------------------------------------------------------- 11.2
# (T, m, seed): resets early, late, at the last token and after the first
_RESET_CASES = ((12, 5, 0), (10, 1, 1), (9, 8, 2), (16, 11, 3))
_GONE = -30.0  # a log gate below this is a reset to float64 precision (exp(-30) ≈ 1e-13)


def _reset_case(T: int, seed: int):
    """q, k, v (1, 1, T, ·) and base log gates (T,) in [-0.5, -0.01], float64, seeded."""
    q, k, v = _seeded((1, 1, T, 3), (1, 1, T, 3), (1, 1, T, 4), seed=seed)
    gen = torch.Generator().manual_seed(100 + seed)
    base = -(0.01 + 0.49 * torch.rand(T, generator=gen, dtype=torch.float64))
    return q, k, v, base


def _run_gates(q, k, v, log_gamma):
    return gated_retention(q, k, v, log_gamma[None, None], mode="recurrent")[0]


def ex11_reset_gates(fn) -> Verdict:
    """Exercise 11.2: ``fn(log_gamma, m)`` returns new log gates (T,) that make gated retention forget everything
    before token m, and change nothing else: o_n for n < m as before, o_n for n ≥ m equal to gated retention
    started from a zero state at token m. ``log_gamma``: the base log gates (T,), float64, each in [-0.5, -0.01]."""
    name = "Exercise 11.2"
    pending = _expect_callable(name, fn, "reset_gates(log_gamma, m)")
    if pending is not None:
        return pending
    worst = 0.0
    for T, m, seed in _RESET_CASES:
        q, k, v, base = _reset_case(T, seed)
        ok, out = _call(name, fn, base, m)
        if not ok:
            return out
        got = _tensor(out)
        if got is None or tuple(got.shape) != (T,):
            shape = None if got is None else tuple(got.shape)
            return report(name, False, "", f"return log gates of shape (T,) = ({T},), one per token; got {shape}")
        if bool(torch.isnan(got).any()) or bool(torch.isinf(got).any()):
            return report(
                name,
                False,
                "",
                "-inf or NaN: the package wants finite log gates; a gate of 0 is a very negative log gate, e.g. -1e4 "
                "(its exp is exactly 0)",
            )
        if bool((got > 0).any()):
            return report(
                name, False, "", "log gates are ≤ 0 (a gate γ ∈ (0, 1] has log γ ≤ 0): return log gates, not gates"
            )
        o = _run_gates(q, k, v, got)
        before = _run_gates(q, k, v, base)[..., :m, :]
        after = _run_gates(q[:, :, m:], k[:, :, m:], v[:, :, m:], base[m:])
        want = torch.cat([before, after], dim=2)
        if _same(o, want, _FLOAT32_TOL):
            worst = max(worst, _rel_err(o, want))
            continue
        changed = {int(i) for i in torch.nonzero((got - base).abs() > 1e-6)}  # float32 answers move every gate ~1e-8
        at = f"(T = {T}, m = {m})"
        if changed == {m - 1}:
            return report(
                name,
                False,
                "",
                f"off by one {at}: the gate of token m-1 decays what came before m-1, so token m-1 is still "
                "remembered; the gate that cuts between m-1 and m belongs to token m",
            )
        if not _same(o[..., :m, :], before, _FLOAT32_TOL):
            return report(name, False, "", f"the outputs before token m changed {at}: leave the earlier gates alone")
        if changed == {m + 1}:
            return report(
                name,
                False,
                "",
                f"off by one {at}: the gate of token m+1 comes one token late; o_m must already read a state "
                "without the past",
            )
        if changed == {m}:
            return report(
                name,
                False,
                "",
                f"the gate of token m is not close enough to 0 {at}: exp(log gate) must vanish to float precision, "
                "e.g. a log gate of -1e4",
            )
        if m in changed and len(changed) > 1 and min(changed) == m and float(got[m]) < _GONE:
            return report(
                name,
                False,
                "",
                f"only token m's gate {at}: the tokens after m keep their own gates (a reset at every one of "
                "them forgets their neighbours too)",
            )
        return report(
            name,
            False,
            "",
            f"not yet {at}: make the gate of token m (nearly) 0 with a very negative log gate and leave every other "
            "gate as it was",
        )
    return report(
        name,
        True,
        "one gate of 0 at token m (log gate ≈ -∞, e.g. -1e4) empties the state; every later token reads only "
        "what came from m on" + _precision_note(worst),
        "",
    )


# ---------------------------------------------------------------------------------------------------- 11.3
def _retnet_cases():
    """(gamma, B, T, seed): eq. 8's schedule, the LM schedule, and float32 decays."""
    return (
        (decay_gammas(4), 2, 9, 0),
        (lm_decay_gammas(3), 1, 6, 1),
        (torch.tensor([0.5, 0.9], dtype=torch.float32), 3, 5, 2),
    )


def ex11_retnet_log_gamma(fn) -> Verdict:
    """Exercise 11.3: ``fn(gamma, B, T)`` returns the log gates (B, H, T) that make ``gated_retention`` compute
    RetNet's multi-scale retention with the per-head decays ``gamma`` (H,): ``log γ_h`` at every token of every
    sequence. Checked against ``retnet_edu.retention.parallel_retention`` (float64; the learner's gates may be
    float32 and are cast)."""
    name = "Exercise 11.3"
    pending = _expect_callable(name, fn, "retnet_log_gamma(gamma, B, T)")
    if pending is not None:
        return pending
    worst = 0.0
    for gamma, B, T, seed in _retnet_cases():
        H = gamma.numel()
        ok, out = _call(name, fn, gamma, B, T)
        if not ok:
            return out
        got = _tensor(out)
        at = f"(H = {H} heads, B = {B}, T = {T})"
        log_g = gamma.to(torch.float64).log()
        right = log_g[None, :, None].expand(B, H, T)
        if got is None:
            return report(name, False, "", f"expected a tensor of shape (B, H, T), got {type(out).__name__}")
        shape = tuple(got.shape)
        if shape != (B, H, T):
            if shape == (H, T):
                return report(name, False, "", f"one row per sequence of the batch too {at}: shape (B, H, T)")
            if shape == (B, T, H):
                return report(
                    name, False, "", f"the package's axis order is (B, H, T): heads before time {at}, got (B, T, H)"
                )
            if got.numel() in (H, B * H) or shape in ((1, H, 1), (B, H, 1), (H, 1)):
                return report(
                    name,
                    False,
                    "",
                    f"the package does not broadcast {at}: give every token its own entry, shape (B, H, T) = "
                    f"{(B, H, T)} (expand)",
                )
            return report(name, False, "", f"expected shape (B, H, T) = {(B, H, T)} {at}, got {shape}")
        if bool((got > 0).any()):
            if _same(got, gamma.to(torch.float64)[None, :, None].expand(B, H, T), _FLOAT32_TOL):
                return report(name, False, "", "those are the gates γ_h themselves; the package takes log γ_h ≤ 0")
            return report(name, False, "", "log gates are ≤ 0 (γ_h ∈ (0, 1]): take the log of each head's γ")
        if not bool(torch.isfinite(got).all()):
            return report(name, False, "", f"NaN or inf in the log gates {at}: log γ_h is finite for γ_h ∈ (0, 1]")
        if _same(got, right, _FLOAT32_TOL):
            q, k, v = _seeded((B, H, T, 4), (B, H, T, 4), (B, H, T, 3), seed=seed)
            o = gated_retention(q, k, v, got.contiguous(), mode="parallel")[0]
            o_ret = parallel_retention(q, k, v, gamma.to(torch.float64))
            if not _same(o, o_ret, _FLOAT32_TOL):  # pragma: no cover - the log gates are right, so is o
                return report(name, False, "", f"the outputs differ from parallel_retention {at}")
            if gamma.dtype == torch.float64:  # float32 decays make float32 log gates: no note for those
                worst = max(worst, _rel_err(got, right), _rel_err(o, o_ret))
            continue
        if _same(got, torch.log1p(-gamma.to(torch.float64))[None, :, None].expand(B, H, T), _FLOAT32_TOL):
            return report(name, False, "", "that is log(1 - γ_h); the gate is γ_h itself, so the log gate is log γ_h")
        steps = torch.arange(1, T + 1, dtype=torch.float64)
        if any(_same(got, (log_g[:, None] * (steps + s)).expand(B, H, T), _FLOAT32_TOL) for s in (0, -1)):
            return report(
                name,
                False,
                "",
                "those are cumulative (n·log γ_h, the log of γ_h^n); a gate acts per step: log γ_h at every token, "
                "the package sums them itself",
            )
        if H > 1 and _same(got, right.flip(1), _FLOAT32_TOL):
            return report(name, False, "", f"head h must get its own γ_h {at}: the heads are in reverse order")
        return report(name, False, "", f"not yet {at}: every token of head h, in every sequence, gets log γ_h")
    return report(
        name,
        True,
        "a constant log gate log γ_h per head is RetNet's multi-scale retention: gated retention's outputs equal "
        "parallel_retention's" + _precision_note(worst),
        "",
    )


# ---------------------------------------------------------------------------------------------------- 11.4
#: Exercise 11.4's head: each token is a reset (gate 0) with probability P_RESET, independently; else the gate is G
P_RESET, G = 0.05, 0.98
_MONTE_CARLO_TOL = 0.02  # a simulation of a few thousand sequences lands within ~1 % of the exact value


def gated_memory_reference(p: float = P_RESET, g: float = G) -> float:
    """E[Σ_{j≥0} ∏_{i=1}^{j} γ_i] for independent gates with E[γ] = (1 - p) g: Σ_j E[γ]^j = 1/(1 - E[γ])."""
    return 1.0 / (1.0 - (1.0 - p) * g)


def ex11_gated_memory(memory) -> Verdict:
    """Exercise 11.4: the effective memory of a gated head (the expected total weight Σ_m D[n, m] a query far from
    the start gives the past, itself included) when each gate is independently 0 with probability 0.05 and 0.98
    otherwise: 1/(1 - E[γ]) = 1/(1 - 0.95 · 0.98) ≈ 14.49. The exact value in any precision, or a Monte-Carlo
    estimate within 2 %."""
    name = "Exercise 11.4"
    if unanswered(memory):
        return _pending(name)
    value = _as_float(memory)
    if value is None:
        return report(name, False, "", f"expected a number of tokens, got {type(memory).__name__}")
    want = gated_memory_reference()
    err = abs(value - want) / want
    if err <= 1e-5:
        return report(
            name,
            True,
            f"1/(1 - E[γ]) = 1/(1 - 0.95 · 0.98) ≈ {want:.2f} tokens: independent gates multiply in expectation, so "
            "the head remembers like a RetNet head with γ = E[γ]" + _precision_note(err),
            "",
        )
    if err <= _MONTE_CARLO_TOL:
        return report(
            name,
            True,
            f"{value:.2f}: a good estimate; the exact value is 1/(1 - E[γ]) = {want:.4f} (independent gates multiply "
            "in expectation)",
            "",
        )
    checks = (
        (1 / (1 - G), "that ignores the resets: with probability 0.05 a token's gate is 0"),
        (
            (1 - P_RESET) / (1 - G) + P_RESET * 1.0,
            "that averages the memories 1/(1 - γ) of the two kinds of gate; but the weight of a key j tokens back "
            "is a product of j independent gates, and the mean of a product of independent factors is the product "
            "of their means",
        ),
        (1 / P_RESET, "1/p is the mean distance back to the last reset: the memory if the gates were 1 between resets"),
        (want - 1, "include the token itself: D[n, n] = 1 is part of the total weight"),
        (1.0, "the mean of log γ is -∞ here (log 0); average the products of the gates, not their logarithms"),
    )
    for wrong, hint in checks:
        if math.isclose(value, wrong, rel_tol=1e-3):
            return report(name, False, "", hint)
    return report(
        name,
        False,
        "",
        "the weight of the key j tokens back is γ_(n-j+1) · … · γ_n; take its expectation, then sum over j ≥ 0",
    )
