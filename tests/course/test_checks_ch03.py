"""Notebook 03's exercise checkers (``retnet_edu.course.checks.ch03``): ✓ for a right answer, a hint
that names the mistake for each common wrong answer (never the answer itself), 'not answered yet' for
the placeholder, and no exception for a learner's bug."""

import torch
from verdicts import expect_hint, expect_pass

from retnet_edu.course import checks
from retnet_edu.retention import parallel_retention


def parallel_one_head(q, k, v, gamma):
    T = q.shape[0]
    n = torch.arange(T)
    dist = (n[:, None] - n[None, :]).to(q.dtype)
    D = torch.where(dist >= 0, gamma ** dist.clamp(min=0), torch.zeros((), dtype=q.dtype))
    return (q @ k.T * D) @ v


def recurrent_one_head(q, k, v, gamma):
    S = torch.zeros(q.shape[1], v.shape[1], dtype=q.dtype)
    out = []
    for n in range(q.shape[0]):
        S = gamma * S + torch.outer(k[n], v[n])
        out.append(q[n] @ S)
    return torch.stack(out), S


def test_ex03_parallel_retention(capsys):
    expect_pass(capsys, checks.ex03_parallel_retention, parallel_one_head)
    expect_pass(capsys, checks.ex03_parallel_retention, lambda q, k, v, g: recurrent_one_head(q, k, v, g)[0])
    expect_hint(capsys, checks.ex03_parallel_retention, lambda q, k, v, g: q @ k.T @ v, "no mask")
    expect_hint(capsys, checks.ex03_parallel_retention, lambda q, k, v, g: parallel_one_head(q, k, v, 1.0), "no decay")

    def transposed(q, k, v, g):
        T = q.shape[0]
        n = torch.arange(T)
        D = torch.where(n[:, None] >= n[None, :], g ** (n[:, None] - n[None, :]).clamp(min=0).double(), 0.0)
        return (q @ k.T * D.T) @ v

    expect_hint(capsys, checks.ex03_parallel_retention, transposed, "transposed")

    def matmul(q, k, v, g):
        T = q.shape[0]
        n = torch.arange(T)
        D = torch.where(n[:, None] >= n[None, :], g ** (n[:, None] - n[None, :]).clamp(min=0).double(), 0.0)
        return (q @ k.T @ D) @ v

    expect_hint(capsys, checks.ex03_parallel_retention, matmul, "element-wise")
    expect_hint(capsys, checks.ex03_parallel_retention, lambda q, k, v, g: v[:, :1], "(T, d_v)")
    expect_hint(
        capsys, checks.ex03_parallel_retention, lambda q, k, v, g: 2 * parallel_one_head(q, k, v, g), "wrong values"
    )


def test_ex03_recurrent_retention(capsys):
    expect_pass(capsys, checks.ex03_recurrent_retention, recurrent_one_head)
    expect_hint(
        capsys,
        checks.ex03_recurrent_retention,
        lambda q, k, v, g: recurrent_one_head(q, k, v, g)[0],
        "return two things",
    )
    expect_hint(
        capsys,
        checks.ex03_recurrent_retention,
        lambda q, k, v, g: (recurrent_one_head(q, k, v, g)[0], recurrent_one_head(q, k, v, g)[1].T),
        "(d_v, d_k)",
    )

    def late_decay(q, k, v, g):
        S = torch.zeros(q.shape[1], v.shape[1], dtype=q.dtype)
        out = []
        for n in range(q.shape[0]):
            S = g * (S + torch.outer(k[n], v[n]))
            out.append(q[n] @ S)
        return torch.stack(out), S

    expect_hint(capsys, checks.ex03_recurrent_retention, late_decay, "weight 1")

    def read_first(q, k, v, g):
        S = torch.zeros(q.shape[1], v.shape[1], dtype=q.dtype)
        out = []
        for n in range(q.shape[0]):
            out.append(q[n] @ S)
            S = g * S + torch.outer(k[n], v[n])
        return torch.stack(out), S

    expect_hint(capsys, checks.ex03_recurrent_retention, read_first, "after the update")
    expect_hint(
        capsys,
        checks.ex03_recurrent_retention,
        lambda q, k, v, g: (recurrent_one_head(q, k, v, g)[0], torch.zeros(3, 4)),
        "final state"[:5],
    )
    expect_hint(capsys, checks.ex03_recurrent_retention, lambda q, k, v, g: (q, k), "o must be")


def test_ex03_multihead_retention(capsys):
    expect_pass(capsys, checks.ex03_multihead_retention, parallel_retention)

    def one_gamma(q, k, v, gamma):
        return parallel_retention(q, k, v, gamma[:1].expand(q.shape[1]).clone())

    expect_hint(capsys, checks.ex03_multihead_retention, one_gamma, "same γ")
    expect_hint(capsys, checks.ex03_multihead_retention, lambda q, k, v, g: v[0], "(B, H, T, d_v)")
    expect_hint(
        capsys, checks.ex03_multihead_retention, lambda q, k, v, g: 3 * parallel_retention(q, k, v, g), "(H, T, T)"
    )


def test_ex03_cost_ratio(capsys):
    T, d_k, d_v = 4096, 64, 64
    expect_pass(capsys, checks.ex03_cost_ratio, T * T * (d_k + d_v) / (T * 2 * d_k * d_v))
    expect_hint(capsys, checks.ex03_cost_ratio, (T * 2 * d_k * d_v) / (T * T * (d_k + d_v)), "recurrent over parallel")
    expect_hint(capsys, checks.ex03_cost_ratio, 4096, "divide")
