"""The exercise checkers of notebook 03 (``notebooks/03_retention_from_scratch.ipynb``)."""

from __future__ import annotations

import math

import torch

from retnet_edu.course.checks._common import (
    _D,
    _FLOAT32_TOL,
    Verdict,
    _as_float,
    _call,
    _causal,
    _pending,
    _precision_note,
    _rel_err,
    _same,
    _seeded,
    _tensor,
    report,
    unanswered,
)

__all__ = ["ex03_parallel_retention", "ex03_recurrent_retention", "ex03_multihead_retention", "ex03_cost_ratio"]


def _same32(a, b) -> bool:
    return _same(a, b, _FLOAT32_TOL)


def ex03_multihead_retention(fn) -> Verdict:
    """Exercise 03.1: ``fn(q, k, v, gamma)`` with q, k (B, H, T, d_k), v (B, H, T, d_v) and gamma (H,) returns
    ``(o, S)``: the recurrent form S_n = γ_h S_{n-1} + k_nᵀ v_n, o_n = q_n S_n for every batch element and head at
    once (o: (B, H, T, d_v)) and the state after the last token (S: (B, H, d_k, d_v)). The checker uses
    d_v = H, so that γ broadcast along the wrong axis gives a wrong answer instead of an error it can't explain."""
    name = "Exercise 03.1"
    if unanswered(fn):
        return _pending(name)
    B, H, T, d_k, d_v = 2, 3, 5, 4, 3
    q, k, v = _seeded((B, H, T, d_k), (B, H, T, d_k), (B, H, T, d_v), seed=33)
    gamma = torch.tensor([0.5, 0.8, 0.95], dtype=torch.float64)
    ok, out = _call(name, fn, q, k, v, gamma)
    if not ok:
        return out
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        return report(name, False, "", "return two things: (o, S), the outputs and the state after the last token")
    o, S = _tensor(out[0]), _tensor(out[1])
    D = torch.stack([_D(float(g), T) for g in gamma])  # (H, T, T)
    scores = q @ k.transpose(-1, -2)
    expected_o = (scores * D) @ v
    w = gamma[:, None] ** torch.arange(T - 1, -1, -1, dtype=torch.float64)  # (H, T): γ_h^(T-1-m)
    expected_S = k.transpose(-1, -2) @ (v * w[None, :, :, None])
    if _same32(o, expected_o) and _same32(S, expected_S):
        note = _precision_note(max(_rel_err(o, expected_o), _rel_err(S, expected_S)))
        return report(
            name, True, "one loop over tokens, γ_h broadcast over (B, H, d_k, d_v): every head at once" + note, ""
        )
    if o is None or tuple(o.shape) != (B, H, T, d_v):
        return report(
            name, False, "", f"o must be (B, H, T, d_v) = {(B, H, T, d_v)}, got {None if o is None else tuple(o.shape)}"
        )
    if S is not None and tuple(S.shape) == (B, H, d_v, d_k) and d_v != d_k:
        return report(name, False, "", "S has shape (B, H, d_v, d_k); the paper's state k_nᵀ v_n is (d_k, d_v)")
    if _same32(o, (scores * D[0]) @ v) or _same32(o, (scores * D[-1]) @ v):
        return report(name, False, "", "every head used the same γ: head h needs its own γ_h")
    # gamma (H,) times S (B, H, d_k, d_v) broadcasts γ over the last axis, d_v, not over the heads
    S_wrong, outs = torch.zeros(B, H, d_k, d_v, dtype=torch.float64), []
    for n in range(T):
        S_wrong = gamma * S_wrong + k[:, :, n, :, None] * v[:, :, n, None, :]
        outs.append(q[:, :, n, None, :] @ S_wrong)
    if _same32(o, torch.cat(outs, dim=-2)):
        return report(
            name,
            False,
            "",
            "γ multiplies the wrong axis: gamma (H,) times S (B, H, d_k, d_v) lines up with d_v; "
            "index it as gamma[:, None, None] so it lines up with the heads",
        )
    if _same32(o, (scores * D * gamma[:, None, None]) @ v):
        return report(
            name,
            False,
            "",
            "the newest token enters with weight 1: decay the old state first (γ S_{n-1}), then add k_nᵀ v_n",
        )
    if _same32(o[:, :, 1:], ((scores * D * _causal(T, -1) / gamma[:, None, None]) @ v)[:, :, 1:]):
        return report(name, False, "", "read o_n = q_n S_n after the update, so token n sees itself")
    if _same32(o, expected_o):
        return report(
            name, False, "", "the outputs are right but S is not the state after the last token, (B, H, d_k, d_v)"
        )
    return report(
        name,
        False,
        "",
        "start from S = 0 of shape (B, H, d_k, d_v); per token n: S = γ S + k_nᵀ v_n (an outer product per head), "
        "then o_n = q_n S",
    )


def ex03_parallel_retention(fn) -> Verdict:
    """Exercise 03.2: ``fn(q, k, v, gamma, S0)`` for one head: the T tokens of a block that comes after a past
    summarised in the state S0 (d_k, d_v). Returns o (T, d_v) with, for in-block position j,
    o_j = γ^(j+1) q_j S0 + Σ_{m ≤ j} γ^(j-m) (q_j · k_m) v_m: the parallel form inside the block plus the carried
    state, decayed once per step since it was stored (the idea of notebook 05's chunkwise form)."""
    name = "Exercise 03.2"
    if unanswered(fn):
        return _pending(name)
    q, k, v = _seeded((6, 3), (6, 3), (6, 4), seed=31)
    (S0,) = _seeded((3, 4), seed=131)
    worst = 0.0
    for gamma, T in ((0.8, 6), (1.0, 6), (0.8, 1)):
        qs, ks, vs = q[:T], k[:T], v[:T]
        ok, out = _call(name, fn, qs, ks, vs, gamma, S0)
        if not ok:
            return out
        got = _tensor(out)
        scores, D = qs @ ks.T, _D(gamma, T)
        inner = (scores * D) @ vs
        j = torch.arange(T, dtype=torch.float64)
        cross = qs @ S0
        expected = inner + gamma ** (j + 1)[:, None] * cross
        if _same32(got, expected):
            worst = max(worst, _rel_err(got, expected))
            continue
        if got is None or tuple(got.shape) != (T, 4):
            return report(
                name,
                False,
                "",
                f"expected a (T, d_v) = ({T}, 4) tensor, got shape {None if got is None else tuple(got.shape)}",
            )
        if _same32(got, inner):
            return report(
                name, False, "", "the past is missing: add the carried state's part, q_j S0, suitably decayed"
            )
        if gamma < 1 and _same32(got, inner + cross):
            return report(
                name, False, "", "the carried state keeps fading: by block position j it has been decayed j+1 times"
            )
        if gamma < 1 and _same32(got, inner + gamma ** j[:, None] * cross):
            return report(
                name,
                False,
                "",
                "off by one: S0 is the state *before* the block's first token, so token j sees it decayed γ^(j+1)",
            )
        cross_part = gamma ** (j + 1)[:, None] * cross
        if _same32(got, scores @ vs + cross_part):
            return report(name, False, "", "no mask inside the block: D zeroes the future (m > j) and decays the past")
        if gamma < 1 and _same32(got, (scores * _causal(T)) @ vs + cross_part):
            return report(name, False, "", "causal, but no decay inside the block: D[j, m] = γ^(j-m), not 1")
        if _same32(got, (scores * D.T) @ vs + cross_part):
            return report(name, False, "", "D is transposed: D[j, m] = γ^(j-m) for j ≥ m (row j = query)")
        if _same32(got, (scores @ D) @ vs + cross_part):
            return report(name, False, "", "⊙ is the element-wise product (*), not a matrix product (@)")
        return report(
            name,
            False,
            "",
            f"wrong values for γ = {gamma}, T = {T}: (Q Kᵀ ⊙ D) V inside the block, plus γ^(j+1) q_j S0 for row j",
        )
    return report(
        name,
        True,
        "parallel inside the block, the past through S0: a chunk of notebook 05's chunkwise form"
        + _precision_note(worst),
        "",
    )


def ex03_recurrent_retention(fn) -> Verdict:
    """Exercise 03.3: ``fn(q, k, v, gamma)`` for one head returns the two-sided ("bidirectional") retention of an
    encoder, o = (Q Kᵀ ⊙ E) V with E[n, m] = γ^|n-m| for every n, m, (T, d_v): computed with two recurrent passes
    (one forward, one backward) in the exercise; any right computation passes."""
    name = "Exercise 03.3"
    if unanswered(fn):
        return _pending(name)
    q, k, v = _seeded((6, 3), (6, 3), (6, 4), seed=32)
    worst = 0.0
    for gamma, T in ((0.8, 6), (1.0, 6), (0.8, 1)):
        qs, ks, vs = q[:T], k[:T], v[:T]
        ok, out = _call(name, fn, qs, ks, vs, gamma)
        if not ok:
            return out
        got = _tensor(out)
        scores, D = qs @ ks.T, _D(gamma, T)
        upper = D.T - torch.eye(T, dtype=torch.float64)  # γ^(m-n) for m > n
        expected = (scores * (D + upper)) @ vs
        if _same32(got, expected):
            worst = max(worst, _rel_err(got, expected))
            continue
        if got is None or tuple(got.shape) != (T, 4):
            return report(
                name,
                False,
                "",
                f"expected a (T, d_v) = ({T}, 4) tensor, got shape {None if got is None else tuple(got.shape)}",
            )
        if _same32(got, (scores * (D + D.T)) @ vs):
            return report(name, False, "", "the diagonal (m = n) is in both passes: count each token's own term once")
        if _same32(got, (scores * D) @ vs):
            return report(name, False, "", "only the past (the causal form): an encoder also looks ahead, m > n")
        if _same32(got, (scores * D.T) @ vs) or _same32(got, (scores * upper) @ vs):
            return report(name, False, "", "only the future: add the forward pass over the past, m ≤ n")
        if gamma < 1 and _same32(got, (scores * (D + upper / gamma)) @ vs):
            return report(
                name, False, "", "the future is one step too close: key m > n must weigh γ^(m-n), decay before reading"
            )
        if gamma < 1 and _same32(got, scores @ vs):
            return report(name, False, "", "no decay: E[n, m] = γ^|n-m| fades with the distance in both directions")
        return report(
            name,
            False,
            "",
            f"wrong values for γ = {gamma}, T = {T}: run S_n = γ S_(n-1) + k_nᵀ v_n forwards and a second state "
            "backwards (from the last token), and count the diagonal once",
        )
    return report(
        name, True, "two passes, forward and backward: retention with E[n, m] = γ^|n-m|" + _precision_note(worst), ""
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
    if math.isclose(value, expected, rel_tol=1e-6):
        return report(
            name, True, "64× more multiply-adds for the parallel form at T = 4096 (T(d_k+d_v)/(2 d_k d_v))", ""
        )
    if math.isclose(value, 1 / expected, rel_tol=1e-6):
        return report(name, False, "", "that is recurrent over parallel; the exercise asks parallel over recurrent")
    if math.isclose(value, 2 * expected, rel_tol=1e-6):
        return report(
            name,
            False,
            "",
            "the recurrent form spends d_k d_v on the update and d_k d_v on the read: 2 d_k d_v per token",
        )
    return report(
        name,
        False,
        "",
        "parallel: T² d_k for Q Kᵀ plus T² d_v for (…)V; recurrent: per token d_k d_v "
        "for the update and d_k d_v for q_n S_n; divide the two totals",
    )
