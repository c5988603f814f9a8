"""Notebook 01's exercise checkers (``retnet_edu.course.checks.ch01``): ✓ for a right answer, a hint
that names the mistake for each common wrong answer (never the answer itself), 'not answered yet' for
the placeholder, and no exception for a learner's bug."""

import math

import torch
from verdicts import expect_hint, expect_pass

from retnet_edu.course import checks


def linear_attention_loop(q, k, v):
    S = torch.zeros(q.shape[1], v.shape[1], dtype=q.dtype)
    out = []
    for n in range(q.shape[0]):
        S = S + torch.outer(k[n], v[n])
        out.append(q[n] @ S)
    return torch.stack(out)


def test_ex01_state_weight(capsys):
    expect_pass(capsys, checks.ex01_state_weight, 0.9**7)
    expect_pass(capsys, checks.ex01_state_weight, torch.tensor(0.9**7, dtype=torch.float64))
    expect_hint(capsys, checks.ex01_state_weight, 0.9**8, "off by one")
    expect_hint(capsys, checks.ex01_state_weight, 0.5, "unroll")


def test_ex01_linear_attention_rnn(capsys):
    expect_pass(capsys, checks.ex01_linear_attention_rnn, linear_attention_loop)
    expect_hint(capsys, checks.ex01_linear_attention_rnn, lambda q, k, v: q @ k.T @ v, "future")

    def reads_before_adding(q, k, v):
        S = torch.zeros(q.shape[1], v.shape[1], dtype=q.dtype)
        out = []
        for n in range(q.shape[0]):
            out.append(q[n] @ S)
            S = S + torch.outer(k[n], v[n])
        return torch.stack(out)

    expect_hint(capsys, checks.ex01_linear_attention_rnn, reads_before_adding, "itself")

    def softmax_attention(q, k, v):
        T = q.shape[0]
        s = (q @ k.T / math.sqrt(q.shape[1])).masked_fill(torch.ones(T, T).triu(1).bool(), float("-inf"))
        return torch.softmax(s, -1) @ v

    expect_hint(capsys, checks.ex01_linear_attention_rnn, softmax_attention, "softmax")
    expect_hint(capsys, checks.ex01_linear_attention_rnn, lambda q, k, v: v[:, :2], "shape")
    expect_hint(
        capsys, checks.ex01_linear_attention_rnn, lambda q, k, v: 2 * linear_attention_loop(q, k, v), "outer product"
    )
    expect_hint(capsys, checks.ex01_linear_attention_rnn, lambda q, k, v: q.nonexistent, "AttributeError")
    # T = 1 must work as well
    expect_hint(
        capsys,
        checks.ex01_linear_attention_rnn,
        lambda q, k, v: linear_attention_loop(q, k, v) if q.shape[0] > 1 else torch.zeros(1, 4),
        "T = 1",
    )


def test_ex01_learner_cannot_corrupt_the_checker(capsys):
    def in_place(q, k, v):
        o = linear_attention_loop(q, k, v)
        q.zero_()
        return o

    expect_pass(capsys, checks.ex01_linear_attention_rnn, in_place)


def test_ex01_power_from_eigenvalues(capsys):
    lam = 0.9 * complex(math.cos(math.pi / 6), math.sin(math.pi / 6))
    expect_pass(capsys, checks.ex01_power_from_eigenvalues, (lam**12).real)
    A = 0.9 * torch.tensor(
        [[math.cos(math.pi / 6), -math.sin(math.pi / 6)], [math.sin(math.pi / 6), math.cos(math.pi / 6)]],
        dtype=torch.float64,
    )
    expect_pass(capsys, checks.ex01_power_from_eigenvalues, torch.linalg.matrix_power(A, 12)[0, 0])
    expect_hint(capsys, checks.ex01_power_from_eigenvalues, -(0.9**12), "phase")
    expect_hint(capsys, checks.ex01_power_from_eigenvalues, 1.0, "γ")
    expect_hint(capsys, checks.ex01_power_from_eigenvalues, 0.9, "12th power")
    expect_hint(capsys, checks.ex01_power_from_eigenvalues, 0.3, "λ^12")
    expect_hint(capsys, checks.ex01_power_from_eigenvalues, complex(1, 1), "expected a (real) number")


def test_ex01_relative_score(capsys):
    def right(q, k, n, m, theta):
        return (q * torch.exp(1j * n * theta) * (k * torch.exp(1j * m * theta)).conj()).sum()

    expect_pass(capsys, checks.ex01_relative_score, right)
    expect_pass(capsys, checks.ex01_relative_score, lambda q, k, n, m, theta: complex(right(q, k, n, m, theta)))
    expect_hint(
        capsys,
        checks.ex01_relative_score,
        lambda q, k, n, m, theta: (q * torch.exp(1j * n * theta) * k * torch.exp(1j * m * theta)).sum(),
        "n + m",
        "conjugate",
    )
    expect_hint(capsys, checks.ex01_relative_score, lambda *a: right(*a).conj(), "query side")
    expect_hint(capsys, checks.ex01_relative_score, lambda *a: right(*a).real, "complex number")
    expect_hint(capsys, checks.ex01_relative_score, lambda *a: 2 * right(*a), "element-wise")
    expect_hint(capsys, checks.ex01_relative_score, lambda q, k, n, m, theta: q * k.conj(), "one (complex) number")
