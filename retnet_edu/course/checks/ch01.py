"""The exercise checkers of notebook 01 (``notebooks/01_attention_to_recurrence.ipynb``)."""

from __future__ import annotations

import math

import torch

from retnet_edu.course.checks._common import (
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

__all__ = ["ex01_state_weight", "ex01_linear_attention_rnn", "ex01_power_from_eigenvalues", "ex01_relative_score"]


def ex01_state_weight(weight) -> Verdict:
    """Exercise 01.1: with γ = 0.9, the weight of token m = 3's k_3ᵀ v_3 inside the state S_10 (positions 0-based)."""
    name = "Exercise 01.1"
    if unanswered(weight):
        return _pending(name)
    value = _as_float(weight)
    if value is None:
        return report(name, False, "", f"expected a number, got {type(weight).__name__}")
    expected = 0.9**7
    if math.isclose(value, expected, rel_tol=1e-9):
        return report(name, True, "S_10 holds k_3ᵀ v_3 with weight γ^(10-3) = 0.9^7 ≈ 0.478", "")
    if any(math.isclose(value, 0.9**p, rel_tol=1e-9) for p in (6, 8)):
        return report(
            name,
            False,
            "",
            "off by one: the newest token (m = n) enters S_n with weight γ^0 = 1, "
            "and each later step multiplies what is stored by γ once",
        )
    return report(
        name,
        False,
        "",
        "unroll S_n = γ S_{n-1} + k_nᵀ v_n: count how many times k_3ᵀ v_3 is "
        "multiplied by γ between step 3 and step 10",
    )


def ex01_linear_attention_rnn(fn) -> Verdict:
    """Exercise 01.2: ``fn(q, k, v)`` with q, k (T, d_k) and v (T, d_v) returns causal linear attention
    o_n = q_n S_n, S_n = S_{n-1} + k_nᵀ v_n, as a (T, d_v) tensor."""
    name = "Exercise 01.2"
    if unanswered(fn):
        return _pending(name)
    q, k, v = _seeded((7, 3), (7, 3), (7, 4), seed=11)
    ok, out = _call(name, fn, q, k, v)
    if not ok:
        return out
    got = _tensor(out)
    scores = q @ k.T
    expected = (scores * _causal(7)) @ v
    if _same(got, expected):
        ok, out1 = _call(name, fn, q[:1], k[:1], v[:1])  # T = 1 must work too
        if not ok:
            return out1
        if not _same(_tensor(out1), expected[:1]):
            return report(name, False, "", "right for T = 7 but not for a single token (T = 1)")
        return report(name, True, "a loop over a (d_k, d_v) state gives (QKᵀ ⊙ M)V: linear attention is an RNN", "")
    if got is None or tuple(got.shape) != (7, 4):
        shape = None if got is None else tuple(got.shape)
        return report(name, False, "", f"expected a (T, d_v) = (7, 4) tensor, got shape {shape}")
    if _same(got, scores @ v):
        return report(name, False, "", "o_n sees the future: S_n may only hold k_m, v_m with m ≤ n when o_n is read")
    if _same(got, (scores * _causal(7, -1)) @ v):
        return report(name, False, "", "read o_n after adding k_nᵀ v_n: token n attends to itself")
    soft = torch.softmax(scores.masked_fill(_causal(7) == 0, float("-inf")) / math.sqrt(3), dim=-1) @ v
    if _same(got, soft):
        return report(name, False, "", "that is softmax attention: linear attention drops the softmax")
    return report(
        name,
        False,
        "",
        "keep S, a (d_k, d_v) matrix, start it at zeros, add the outer product k_nᵀ v_n, then read o_n = q_n S_n",
    )


def ex01_power_from_eigenvalues(c) -> Verdict:
    """Exercise 01.3: A = γ R(θ) with γ = 0.9, θ = π/6 (R a 2-D rotation); A^12 = c·I: the number c."""
    name = "Exercise 01.3"
    if unanswered(c):
        return _pending(name)
    value = _as_float(c)
    if value is None:
        return report(name, False, "", f"expected a (real) number, got {type(c).__name__}")
    expected = 0.9**12
    if math.isclose(value, expected, rel_tol=1e-9):
        return report(name, True, "λ^12 = 0.9^12 e^(±i·12π/6) = 0.9^12: A^12 = 0.9^12 I ≈ 0.282 I", "")
    if math.isclose(value, -expected, rel_tol=1e-9):
        return report(name, False, "", "check the phase: 12θ = 2π, and e^(2πi) is +1")
    if math.isclose(value, 1.0, rel_tol=1e-9):
        return report(
            name, False, "", "the rotation comes back after a full turn, but every step also scales by |λ| = γ"
        )
    if math.isclose(value, 0.9, rel_tol=1e-9):
        return report(name, False, "", "A^12 raises each eigenvalue γe^(±iθ) to the 12th power: both γ and e^(iθ)")
    return report(
        name,
        False,
        "",
        "write A = Λ diag(γe^(iθ), γe^(-iθ)) Λ^-1, so A^12 = Λ diag(λ^12) Λ^-1: compute λ^12 for both eigenvalues",
    )


def ex01_relative_score(fn) -> Verdict:
    """Exercise 01.4: ``fn(q, k, n, m, theta)`` with complex q, k (d,), real theta (d,) returns eq. 4's score
    (q ⊙ e^(inθ)) · conj(k ⊙ e^(imθ)), a complex number."""
    name = "Exercise 01.4"
    if unanswered(fn):
        return _pending(name)
    g = torch.Generator().manual_seed(14)
    q = torch.randn(3, dtype=torch.complex128, generator=g)
    k = torch.randn(3, dtype=torch.complex128, generator=g)
    theta = torch.tensor([1.0, 0.3, 0.05], dtype=torch.float64)

    def turn(x, p):
        return x * torch.exp(1j * p * theta)

    got, want, wrong = [], [], {"noconj": [], "qconj": []}
    for n, m in ((5, 2), (105, 102), (2, 5), (0, 0), (9, 0)):
        ok, out = _call(name, fn, q, k, n, m, theta)
        if not ok:
            return out
        val = _tensor(out, torch.complex128)
        if val is None or val.numel() != 1:
            return report(name, False, "", "expected one (complex) number per call, e.g. a 0-d tensor")
        got.append(complex(val.reshape(())))
        want.append(complex((turn(q, n) * turn(k, m).conj()).sum()))
        wrong["noconj"].append(complex((turn(q, n) * turn(k, m)).sum()))
        wrong["qconj"].append(complex((turn(q, n).conj() * turn(k, m)).sum()))

    def close(a, b):
        return all(abs(x - y) <= 1e-9 * max(1.0, abs(y)) for x, y in zip(a, b, strict=True))

    if close(got, want):
        return report(name, True, "the conjugate cancels e^(imθ) against e^(inθ): only n - m is left", "")
    if close(got, [w.real for w in want]):
        return report(name, False, "", "keep the complex number: the real part is taken later (notebook 04)")
    if close(got, wrong["noconj"]):
        return report(
            name, False, "", "your score depends on n + m: the key side of eq. 4 carries a † (complex conjugate)"
        )
    if close(got, wrong["qconj"]):
        return report(name, False, "", "you conjugated the query side: eq. 4 conjugates the key, (K_m e^(imθ))^†")
    return report(
        name, False, "", "multiply q by e^(inθ) and k by e^(imθ) element-wise, conjugate the key, then sum the products"
    )
