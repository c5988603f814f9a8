"""Notebook 01's exercise checkers (``retnet_edu.course.checks.ch01``). Each is fed (a) the reference answer, (b) a
right answer computed the natural float32 way, and (c) every wrong answer its hints name: ✓, ✓ (with a note on the
precision), and the specific hint. Also 'not answered yet' for the placeholder and no exception for a learner's bug."""

import cmath
import math

import torch
from verdicts import expect_hint, expect_pass, verdict

from retnet_edu.course import checks

NOTE = "float32 precision"


def passes(capsys, checker, answer):
    """✓, and the line printed (to look for the precision note)."""
    ok, out = verdict(capsys, checker, answer)
    assert ok and "✓" in out, out
    return out


def phi(x):
    return torch.nn.functional.elu(x) + 1


def normalised_rnn(q, k, v, feature=phi, read_first=False, causal_norm=True):
    """Katharopoulos et al.'s linear attention as an RNN: S (d_k, d_v) and z (d_k) running sums."""
    fq, fk = feature(q), feature(k)
    S = torch.zeros(q.shape[1], v.shape[1], dtype=q.dtype)
    z = torch.zeros(q.shape[1], dtype=q.dtype)
    z_all = fk.sum(0)
    out = []
    for n in range(q.shape[0]):
        if read_first:
            out.append(fq[n] @ S / (fq[n] @ z))
        S = S + torch.outer(fk[n], v[n])
        z = z + fk[n]
        if not read_first:
            out.append(fq[n] @ S / (fq[n] @ (z if causal_norm else z_all)))
    return torch.stack(out)


def test_ex01_state_weight(capsys):
    expect_pass(capsys, checks.ex01_state_weight, 0.9**7)  # (a)
    out = passes(capsys, checks.ex01_state_weight, torch.tensor(0.9) ** 7)  # (b) float32
    assert NOTE in out
    expect_pass(capsys, checks.ex01_state_weight, torch.tensor(0.9**7, dtype=torch.float64))
    expect_hint(capsys, checks.ex01_state_weight, 0.9**8, "off by one")
    expect_hint(capsys, checks.ex01_state_weight, 0.9**6, "off by one")
    expect_hint(capsys, checks.ex01_state_weight, 0.9 * 7, "not γ·7")
    expect_hint(capsys, checks.ex01_state_weight, 0.9**3, "*after* token 3")
    expect_hint(capsys, checks.ex01_state_weight, 0.5, "unroll")
    expect_hint(capsys, checks.ex01_state_weight, "0.478", "expected a number")


def test_ex01_linear_attention_rnn(capsys):
    expect_pass(capsys, checks.ex01_linear_attention_rnn, normalised_rnn)  # (a)

    def in_float32(q, k, v):  # (b) the natural float32 way
        return normalised_rnn(q.float(), k.float(), v.float())

    assert NOTE in passes(capsys, checks.ex01_linear_attention_rnn, in_float32)

    def parallel(q, k, v):  # the parallel form is right too
        A = phi(q) @ phi(k).T * torch.ones(q.shape[0], q.shape[0], dtype=q.dtype).tril()
        return A @ v / A.sum(-1, keepdim=True)

    expect_pass(capsys, checks.ex01_linear_attention_rnn, parallel)

    def no_normaliser(q, k, v):
        return phi(q) @ phi(k).T * torch.ones(q.shape[0], q.shape[0], dtype=q.dtype).tril() @ v

    expect_hint(capsys, checks.ex01_linear_attention_rnn, no_normaliser, "no normaliser")
    expect_hint(
        capsys,
        checks.ex01_linear_attention_rnn,
        lambda q, k, v: (q @ k.T * torch.ones(q.shape[0], q.shape[0], dtype=q.dtype).tril()) @ v,
        "section 2's linear attention",
    )
    expect_hint(
        capsys, checks.ex01_linear_attention_rnn, lambda q, k, v: normalised_rnn(q, k, v, feature=lambda x: x), "elu"
    )

    def sees_future(q, k, v):
        A = phi(q) @ phi(k).T
        return A @ v / A.sum(-1, keepdim=True)

    expect_hint(capsys, checks.ex01_linear_attention_rnn, sees_future, "sees the future")
    expect_hint(
        capsys,
        checks.ex01_linear_attention_rnn,
        lambda q, k, v: normalised_rnn(q, k, v, causal_norm=False),
        "normaliser sees the future",
    )
    expect_hint(
        capsys, checks.ex01_linear_attention_rnn, lambda q, k, v: normalised_rnn(q, k, v, read_first=True), "itself"
    )

    def softmax_attention(q, k, v):
        T = q.shape[0]
        s = (q @ k.T / math.sqrt(q.shape[1])).masked_fill(torch.ones(T, T).triu(1).bool(), float("-inf"))
        return torch.softmax(s, -1) @ v

    expect_hint(capsys, checks.ex01_linear_attention_rnn, softmax_attention, "softmax")
    expect_hint(capsys, checks.ex01_linear_attention_rnn, lambda q, k, v: v[:, :2], "shape")
    expect_hint(capsys, checks.ex01_linear_attention_rnn, lambda q, k, v: 2 * normalised_rnn(q, k, v), "keep S")
    expect_hint(capsys, checks.ex01_linear_attention_rnn, lambda q, k, v: q.nonexistent, "AttributeError")
    expect_hint(capsys, checks.ex01_linear_attention_rnn, 42, "expected a function")
    expect_hint(
        capsys,
        checks.ex01_linear_attention_rnn,
        lambda q, k, v: normalised_rnn(q, k, v) if q.shape[0] > 1 else torch.zeros(1, 4),
        "T = 1",
    )


def test_ex01_learner_cannot_corrupt_the_checker(capsys):
    def in_place(q, k, v):
        o = normalised_rnn(q, k, v)
        q.zero_()
        return o

    expect_pass(capsys, checks.ex01_linear_attention_rnn, in_place)


def test_ex01_power_from_eigenvalues(capsys):
    lam = 0.9 * cmath.exp(1j * math.pi / 6)
    expect_pass(capsys, checks.ex01_power_from_eigenvalues, 0.9**12)  # (a)
    # (b) float32: the eigenvalue to the 12th power in complex64, and matrix_power of a float32 A
    lam32 = torch.tensor(0.9, dtype=torch.float32) * torch.exp(torch.tensor(1j * math.pi / 6, dtype=torch.complex64))
    out = passes(capsys, checks.ex01_power_from_eigenvalues, lam32**12)
    assert NOTE in out and "imaginary part is rounding" in out
    A = 0.9 * torch.tensor(
        [[math.cos(math.pi / 6), -math.sin(math.pi / 6)], [math.sin(math.pi / 6), math.cos(math.pi / 6)]]
    )
    assert NOTE in passes(capsys, checks.ex01_power_from_eigenvalues, torch.linalg.matrix_power(A, 12)[0, 0])
    expect_pass(capsys, checks.ex01_power_from_eigenvalues, lam**12)  # a Python complex with a rounding-size imag
    expect_hint(capsys, checks.ex01_power_from_eigenvalues, -(0.9**12), "phase")
    expect_hint(capsys, checks.ex01_power_from_eigenvalues, 0.9**12 * math.cos(12 * 30), "degrees")
    expect_hint(capsys, checks.ex01_power_from_eigenvalues, 1.0, "γ")
    expect_hint(capsys, checks.ex01_power_from_eigenvalues, 0.9, "12th power")
    expect_hint(capsys, checks.ex01_power_from_eigenvalues, 0.3, "λ^12")
    expect_hint(capsys, checks.ex01_power_from_eigenvalues, complex(1, 1), "real c")
    expect_hint(capsys, checks.ex01_power_from_eigenvalues, torch.linalg.matrix_power(A.double(), 12), "the number c")
    expect_hint(capsys, checks.ex01_power_from_eigenvalues, "0.28", "expected a number")
    expect_hint(capsys, checks.ex01_power_from_eigenvalues, float("inf"), "finite")


def literal(q, k, n, m, theta):
    return (q * torch.exp(1j * n * theta) * (k * torch.exp(1j * m * theta)).conj()).sum()


def phase_only(q, k, n, m, theta):
    return (q * k * torch.exp(1j * (n - m) * theta)).sum()


def test_ex01_relative_score(capsys):
    expect_pass(capsys, checks.ex01_relative_score, literal)  # (a)
    expect_pass(capsys, checks.ex01_relative_score, lambda *a: complex(literal(*a)))

    def in_complex64(q, k, n, m, theta):  # (b) float32 angles and complex64 arithmetic
        theta32 = theta.float()
        return (
            q.to(torch.complex64)
            * torch.exp(1j * n * theta32)
            * (k.to(torch.complex64) * torch.exp(1j * m * theta32)).conj()
        ).sum()

    assert NOTE in passes(capsys, checks.ex01_relative_score, in_complex64)
    # the phase-only reading of † (eq. 3's convention): right, with a note naming the convention
    ok, out = verdict(capsys, checks.ex01_relative_score, phase_only)
    assert ok and "✓" in out and "phase only" in out and "K̂" in out
    expect_hint(
        capsys,
        checks.ex01_relative_score,
        lambda q, k, n, m, theta: (q * torch.exp(1j * n * theta) * k * torch.exp(1j * m * theta)).sum(),
        "n + m",
        "conjugate",
    )
    expect_hint(capsys, checks.ex01_relative_score, lambda *a: literal(*a).conj(), "query side")
    expect_hint(
        capsys,
        checks.ex01_relative_score,
        lambda q, k, n, m, theta: (q * k * torch.exp(-1j * (n - m) * theta)).sum(),
        "backwards",
    )
    expect_hint(capsys, checks.ex01_relative_score, lambda *a: literal(*a).real, "complex number")
    expect_hint(capsys, checks.ex01_relative_score, lambda *a: 2 * literal(*a), "element-wise")
    expect_hint(capsys, checks.ex01_relative_score, lambda q, k, n, m, theta: q * k.conj(), "one (complex) number")
    expect_hint(capsys, checks.ex01_relative_score, lambda *a: literal(*a) / 0, "NaN or infinite")
