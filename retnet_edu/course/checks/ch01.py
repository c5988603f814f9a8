"""The exercise checkers of notebook 01 (``notebooks/01_attention_to_recurrence.ipynb``)."""

from __future__ import annotations

import cmath
import math
import numbers

import torch

from retnet_edu.course.checks._common import (
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

__all__ = ["ex01_state_weight", "ex01_linear_attention_rnn", "ex01_power_from_eigenvalues", "ex01_relative_score"]

# numbers: a right answer computed in float32 is ~1e-7 off; the wrong answers below are off by 1e-2 or more
_RTOL = 1e-6


def ex01_state_weight(weight) -> Verdict:
    """Exercise 01.1: with γ = 0.9, the weight of token m = 3's k_3ᵀ v_3 inside the state S_10 (positions 0-based)."""
    name = "Exercise 01.1"
    if unanswered(weight):
        return _pending(name)
    value = _as_float(weight)
    if value is None:
        return report(name, False, "", f"expected a number, got {type(weight).__name__}")
    expected = 0.9**7
    if math.isclose(value, expected, rel_tol=_RTOL):
        note = _precision_note(abs(value - expected) / expected)
        return report(name, True, "S_10 holds k_3ᵀ v_3 with weight γ^(10-3) = 0.9^7 ≈ 0.478" + note, "")
    if any(math.isclose(value, 0.9**p, rel_tol=_RTOL) for p in (6, 8)):
        return report(
            name,
            False,
            "",
            "off by one: the newest token (m = n) enters S_n with weight γ^0 = 1, "
            "and each later step multiplies what is stored by γ once",
        )
    if math.isclose(value, 0.9 * 7, rel_tol=_RTOL):
        return report(name, False, "", "each step multiplies the stored term by γ: 7 steps make a power, not γ·7")
    if math.isclose(value, 0.9**3, rel_tol=_RTOL):
        return report(
            name, False, "", "the weight counts the steps *after* token 3 (up to step 10), not the steps before it"
        )
    return report(
        name,
        False,
        "",
        "unroll S_n = γ S_{n-1} + k_nᵀ v_n: count how many times k_3ᵀ v_3 is "
        "multiplied by γ between step 3 and step 10",
    )


def _phi(x: torch.Tensor) -> torch.Tensor:
    """Katharopoulos et al.'s feature map φ(x) = elu(x) + 1 (positive)."""
    return torch.nn.functional.elu(x) + 1


def ex01_linear_attention_rnn(fn) -> Verdict:
    """Exercise 01.2: ``fn(q, k, v)`` with q, k (T, d_k) and v (T, d_v) returns the linear attention of
    Katharopoulos et al. (2020) as an RNN: with φ(x) = elu(x) + 1, S_n = S_{n-1} + φ(k_n)ᵀ v_n,
    z_n = z_{n-1} + φ(k_n) and o_n = φ(q_n) S_n / (φ(q_n) · z_n), as a (T, d_v) tensor. Compared with the
    parallel form (A V) / (A 1), A = (φ(Q) φ(K)ᵀ) ⊙ M, to float32 precision."""
    name = "Exercise 01.2"
    if unanswered(fn):
        return _pending(name)
    T = 7
    q, k, v = _seeded((T, 3), (T, 3), (T, 4), seed=11)
    ok, out = _call(name, fn, q, k, v)
    if not ok:
        return out
    got = _tensor(out)

    def normalised(scores):
        return (scores @ v) / scores.sum(-1, keepdim=True)

    fq, fk = _phi(q), _phi(k)
    A = fq @ fk.T * _causal(T)
    expected = normalised(A)
    if _same(got, expected, _FLOAT32_TOL):
        ok, out1 = _call(name, fn, q[:1], k[:1], v[:1])  # T = 1 must work too
        if not ok:
            return out1
        if not _same(_tensor(out1), expected[:1], _FLOAT32_TOL):
            return report(name, False, "", "right for T = 7 but not for a single token (T = 1)")
        note = _precision_note(_rel_err(got, expected))
        return report(
            name,
            True,
            "two running sums, S_n (d_k × d_v) and z_n (d_k): normalised linear attention is an RNN" + note,
            "",
        )
    if got is None or tuple(got.shape) != (T, 4):
        shape = None if got is None else tuple(got.shape)
        return report(name, False, "", f"expected a (T, d_v) = ({T}, 4) tensor, got shape {shape}")
    if _same(got, A @ v, _FLOAT32_TOL):
        return report(name, False, "", "no normaliser: divide φ(q_n) S_n by φ(q_n) · z_n, with z_n = Σ_{m≤n} φ(k_m)")
    if _same(got, (q @ k.T * _causal(T)) @ v, _FLOAT32_TOL):
        return report(
            name, False, "", "that is section 2's linear attention: this one applies φ = elu + 1 and normalises"
        )
    plain = q @ k.T * _causal(T)
    if _same(got, normalised(plain), _FLOAT32_TOL):
        return report(name, False, "", "apply the feature map φ(x) = elu(x) + 1 to q and k (it keeps every weight > 0)")
    if _same(got, normalised(fq @ fk.T), _FLOAT32_TOL):
        return report(name, False, "", "o_n sees the future: S_n and z_n may only hold tokens m ≤ n when o_n is read")
    if _same(got, (A @ v) / (fq @ fk.sum(0))[:, None], _FLOAT32_TOL):
        return report(name, False, "", "the normaliser sees the future: z_n sums φ(k_m) over m ≤ n only")
    strict = fq @ fk.T * _causal(T, -1)
    if _same(got[1:], normalised(strict[1:]), _FLOAT32_TOL):
        return report(name, False, "", "read o_n after adding token n to S and z: token n attends to itself")
    soft = torch.softmax((q @ k.T / math.sqrt(q.shape[1])).masked_fill(_causal(T) == 0, float("-inf")), dim=-1) @ v
    if _same(got, soft, _FLOAT32_TOL):
        return report(name, False, "", "that is softmax attention: here the weights are φ(q_n) · φ(k_m), normalised")
    return report(
        name,
        False,
        "",
        "keep S (d_k, d_v) and z (d_k) at zeros; per token add φ(k_n)ᵀ v_n to S and φ(k_n) to z, then read "
        "o_n = φ(q_n) S / (φ(q_n) · z)",
    )


def _complex_or_float(answer):
    """A Python or one-element tensor number as a complex number, or None."""
    if isinstance(answer, torch.Tensor) and answer.numel() == 1:
        return complex(answer.detach().reshape(()).to(torch.complex128).item())
    if isinstance(answer, numbers.Number) and not isinstance(answer, bool):
        return complex(answer)
    return None


def ex01_power_from_eigenvalues(c) -> Verdict:
    """Exercise 01.3: A = γ R(θ) with γ = 0.9, θ = π/6 (R a 2-D rotation); A^12 = c·I: the number c. A complex
    number whose imaginary part is rounding (λ^12 computed in complex arithmetic) is accepted too."""
    name = "Exercise 01.3"
    if unanswered(c):
        return _pending(name)
    expected = 0.9**12
    value = _complex_or_float(c)
    if value is None:
        matrix = _tensor(c, torch.complex128) if isinstance(c, (torch.Tensor, list, tuple)) else None
        if matrix is not None and tuple(matrix.shape) == (2, 2):
            return report(name, False, "", "that is the matrix A^12 = c·I: the exercise asks for the number c")
        return report(name, False, "", f"expected a number, got {type(c).__name__}")
    if not all(map(math.isfinite, (value.real, value.imag))):
        return report(name, False, "", "expected a finite number")
    if abs(value.imag) > _RTOL * max(1.0, abs(value)):
        return report(name, False, "", "A is real, so A^12 = c·I has a real c: λ^12 and its conjugate must agree")
    real = value.real
    if math.isclose(real, expected, rel_tol=_RTOL):
        note = _precision_note(abs(real - expected) / expected)
        if value.imag:
            note += " (its imaginary part is rounding: c is real)"
        return report(name, True, "λ^12 = 0.9^12 e^(±i·12π/6) = 0.9^12: A^12 = 0.9^12 I ≈ 0.282 I" + note, "")
    if math.isclose(real, -expected, rel_tol=_RTOL):
        return report(name, False, "", "check the phase: 12θ = 2π, and e^(2πi) is +1")
    if math.isclose(real, expected * math.cos(12 * 30), rel_tol=_RTOL):
        return report(name, False, "", "θ = π/6 in radians: math.cos and cmath.exp take radians, not degrees (30)")
    if math.isclose(real, 1.0, rel_tol=_RTOL):
        return report(
            name, False, "", "the rotation comes back after a full turn, but every step also scales by |λ| = γ"
        )
    if math.isclose(real, 0.9, rel_tol=_RTOL):
        return report(name, False, "", "A^12 raises each eigenvalue γe^(±iθ) to the 12th power: both γ and e^(iθ)")
    return report(
        name,
        False,
        "",
        "write A = Λ diag(γe^(iθ), γe^(-iθ)) Λ^-1, so A^12 = Λ diag(λ^12) Λ^-1: compute λ^12 for both eigenvalues",
    )


def ex01_relative_score(fn) -> Verdict:
    """Exercise 01.4: ``fn(q, k, n, m, theta)`` with complex q, k (d,), real theta (d,) returns eq. 4's score for
    one query and one key, a complex number. Two readings of eq. 4's † are right:

    - the literal one, a Hermitian product that conjugates the whole key: Σ_j q_j e^(inθ_j) conj(k_j e^(imθ_j));
    - the phase-only one, which conjugates only the rotation, as eq. 3 has it for the key K̂ of the derivation:
      Σ_j q_j k_j e^(i(n-m)θ_j). It passes with a note saying which convention it is.

    Both depend only on n - m; they differ by renaming conj(k) as the key. Wrong: no conjugate at all (n + m),
    the query conjugated, the phase turned backwards, the real part only, no sum."""
    name = "Exercise 01.4"
    if unanswered(fn):
        return _pending(name)
    g = torch.Generator().manual_seed(14)
    q = torch.randn(3, dtype=torch.complex128, generator=g)
    k = torch.randn(3, dtype=torch.complex128, generator=g)
    theta = torch.tensor([1.0, 0.3, 0.05], dtype=torch.float64)

    def turn(x, p):
        return x * torch.exp(1j * p * theta)

    got = []
    refs = {key: [] for key in ("literal", "phase", "noconj", "qconj", "backwards")}
    for n, m in ((5, 2), (105, 102), (2, 5), (0, 0), (9, 0)):
        ok, out = _call(name, fn, q, k, n, m, theta)
        if not ok:
            return out
        val = _tensor(out, torch.complex128)
        if val is None or val.numel() != 1:
            return report(name, False, "", "expected one (complex) number per call, e.g. a 0-d tensor")
        got.append(complex(val.reshape(())))
        refs["literal"].append(complex((turn(q, n) * turn(k, m).conj()).sum()))
        refs["phase"].append(complex((q * k * torch.exp(1j * (n - m) * theta)).sum()))
        refs["noconj"].append(complex((turn(q, n) * turn(k, m)).sum()))
        refs["qconj"].append(complex((turn(q, n).conj() * turn(k, m)).sum()))
        refs["backwards"].append(complex((q * k * torch.exp(-1j * (n - m) * theta)).sum()))
    if not all(cmath.isfinite(x) for x in got):
        return report(name, False, "", "your score is NaN or infinite for some positions")

    def err(key):
        return _rel_err(torch.tensor(got), torch.tensor(refs[key]))

    if err("literal") <= _FLOAT32_TOL:
        return report(
            name,
            True,
            "the conjugate cancels e^(imθ) against e^(inθ): only n - m is left" + _precision_note(err("literal")),
            "",
        )
    if err("phase") <= _FLOAT32_TOL:
        return report(
            name,
            True,
            "only n - m is left. You conjugated the phase only: eq. 3's convention, right for the derivation's key "
            "K̂; the literal † also conjugates k (the two agree once conj(k) is called the key)"
            + _precision_note(err("phase")),
            "",
        )
    if _rel_err(torch.tensor(got), torch.tensor(refs["literal"]).real) <= _FLOAT32_TOL:
        return report(name, False, "", "keep the complex number: the real part is taken later (section 8, notebook 04)")
    if err("noconj") <= _FLOAT32_TOL:
        return report(
            name, False, "", "your score depends on n + m: the key side of eq. 4 carries a † (complex conjugate)"
        )
    if err("qconj") <= _FLOAT32_TOL:
        return report(name, False, "", "you conjugated the query side: eq. 4 conjugates the key, (K_m e^(imθ))^†")
    if err("backwards") <= _FLOAT32_TOL:
        return report(
            name, False, "", "the phase turns backwards, e^(-i(n-m)θ): conjugate the key's e^(imθ), not the query's"
        )
    return report(
        name, False, "", "multiply q by e^(inθ) and k by e^(imθ) element-wise, conjugate the key, then sum the products"
    )
