"""Notebook 03's exercise checkers (``retnet_edu.course.checks.ch03``). Each is fed (a) the reference answer, (b) a
right answer computed the natural float32 way, and (c) every wrong answer its hints name: ✓, ✓ (with a note on the
precision), and the specific hint."""

import torch
from verdicts import expect_hint, expect_pass, verdict

from retnet_edu.course import checks
from retnet_edu.retention import parallel_retention, recurrent_retention

NOTE = "float32 precision"


def passes(capsys, checker, answer):
    ok, out = verdict(capsys, checker, answer)
    assert ok and "✓" in out, out
    return out


# ---- 03.1: multi-head recurrent form -------------------------------------------------------------------------------


def multi_head_recurrent(q, k, v, gamma, decay="first", read="after", gamma_axis="heads"):
    B, H, T, d_k = q.shape
    S = torch.zeros(B, H, d_k, v.shape[-1], dtype=q.dtype)
    g = gamma[:, None, None] if gamma_axis == "heads" else gamma  # "last": lines up with d_v (the mistake)
    outs = []
    for n in range(T):
        kv = k[:, :, n, :, None] * v[:, :, n, None, :]  # k_nᵀ v_n per batch element and head
        if read == "before":
            outs.append(q[:, :, n, None, :] @ S)
        S = g * (S + kv) if decay == "late" else g * S + kv
        if read == "after":
            outs.append(q[:, :, n, None, :] @ S)
    return torch.cat(outs, dim=-2), S


def test_ex03_multihead_retention(capsys):
    expect_pass(capsys, checks.ex03_multihead_retention, multi_head_recurrent)  # (a)
    expect_pass(capsys, checks.ex03_multihead_retention, recurrent_retention)

    def natural_float32(q, k, v, gamma):  # (b) float32 inputs, e.g. a model's activations
        return multi_head_recurrent(q.float(), k.float(), v.float(), gamma.float())

    assert NOTE in passes(capsys, checks.ex03_multihead_retention, natural_float32)
    expect_hint(
        capsys, checks.ex03_multihead_retention, lambda q, k, v, g: multi_head_recurrent(q, k, v, g)[0], "two things"
    )
    expect_hint(
        capsys,
        checks.ex03_multihead_retention,
        lambda q, k, v, g: multi_head_recurrent(q, k, v, g[:1].expand(3).clone()),
        "same γ",
    )
    expect_hint(
        capsys,
        checks.ex03_multihead_retention,
        lambda q, k, v, g: multi_head_recurrent(q, k, v, g, gamma_axis="last"),
        "wrong axis",
        "gamma[:, None, None]",
    )
    expect_hint(
        capsys,
        checks.ex03_multihead_retention,
        lambda q, k, v, g: multi_head_recurrent(q, k, v, g, decay="late"),
        "weight 1",
    )
    expect_hint(
        capsys,
        checks.ex03_multihead_retention,
        lambda q, k, v, g: multi_head_recurrent(q, k, v, g, read="before"),
        "after the update",
    )

    def transposed_state(q, k, v, g):
        o, S = multi_head_recurrent(q, k, v, g)
        return o, S.transpose(-1, -2)

    expect_hint(capsys, checks.ex03_multihead_retention, transposed_state, "d_v, d_k)")
    expect_hint(
        capsys,
        checks.ex03_multihead_retention,
        lambda q, k, v, g: (multi_head_recurrent(q, k, v, g)[0], torch.zeros(2, 3, 4, 3)),
        "state after the last token",
    )
    expect_hint(capsys, checks.ex03_multihead_retention, lambda q, k, v, g: (v[0], v[0]), "(B, H, T, d_v)")
    expect_hint(
        capsys,
        checks.ex03_multihead_retention,
        lambda q, k, v, g: (3 * parallel_retention(q, k, v, g), multi_head_recurrent(q, k, v, g)[1]),
        "start from S = 0",
    )


# ---- 03.2: a block that continues from a state ---------------------------------------------------------------------


def block_from_state(q, k, v, gamma, S0, cross_power=1, inner="D"):
    T = q.shape[0]
    n = torch.arange(T, dtype=q.dtype)
    dist = n[:, None] - n[None, :]
    D = torch.where(dist >= 0, gamma ** dist.clamp(min=0), torch.zeros((), dtype=q.dtype))
    masks = {"D": D, "none": torch.ones_like(D), "causal": (dist >= 0).to(q.dtype), "DT": D.T}
    out = (q @ k.T * masks[inner]) @ v
    if cross_power is not None:
        out = out + gamma ** (n + cross_power)[:, None] * (q @ S0)
    return out


def test_ex03_parallel_retention(capsys):
    expect_pass(capsys, checks.ex03_parallel_retention, block_from_state)  # (a)

    def with_the_package(q, k, v, gamma, S0):  # the recurrent form, continuing the state, is right too
        g = torch.tensor([gamma], dtype=q.dtype)
        four = [x.reshape(1, 1, *x.shape) for x in (q, k, v, S0)]
        return recurrent_retention(*four[:3], g, state=four[3])[0][0, 0]

    expect_pass(capsys, checks.ex03_parallel_retention, with_the_package)

    def natural_float32(q, k, v, gamma, S0):  # (b) torch.arange without a dtype: D in float32
        T = q.shape[0]
        n = torch.arange(T)
        dist = n[:, None] - n[None, :]
        D = torch.where(dist >= 0, gamma ** dist.clamp(min=0), 0.0)
        assert D.dtype == torch.float32
        return (q @ k.T * D) @ v + (gamma ** (n + 1))[:, None] * (q @ S0)

    assert NOTE in passes(capsys, checks.ex03_parallel_retention, natural_float32)
    expect_hint(
        capsys, checks.ex03_parallel_retention, lambda *a: block_from_state(*a, cross_power=None), "past is missing"
    )

    def undecayed(q, k, v, gamma, S0):
        return block_from_state(q, k, v, gamma, S0, cross_power=None) + q @ S0

    expect_hint(capsys, checks.ex03_parallel_retention, undecayed, "keeps fading")
    expect_hint(capsys, checks.ex03_parallel_retention, lambda *a: block_from_state(*a, cross_power=0), "off by one")
    expect_hint(capsys, checks.ex03_parallel_retention, lambda *a: block_from_state(*a, inner="none"), "no mask")
    expect_hint(capsys, checks.ex03_parallel_retention, lambda *a: block_from_state(*a, inner="causal"), "no decay")
    expect_hint(capsys, checks.ex03_parallel_retention, lambda *a: block_from_state(*a, inner="DT"), "transposed")

    def matmul(q, k, v, gamma, S0):
        T = q.shape[0]
        n = torch.arange(T, dtype=q.dtype)
        dist = n[:, None] - n[None, :]
        D = torch.where(dist >= 0, gamma ** dist.clamp(min=0), torch.zeros((), dtype=q.dtype))
        return (q @ k.T @ D) @ v + gamma ** (n + 1)[:, None] * (q @ S0)

    expect_hint(capsys, checks.ex03_parallel_retention, matmul, "element-wise")
    expect_hint(capsys, checks.ex03_parallel_retention, lambda q, k, v, g, S0: v[:, :1], "(T, d_v)")
    expect_hint(capsys, checks.ex03_parallel_retention, lambda *a: 2 * block_from_state(*a), "wrong values")


# ---- 03.3: two-sided retention with two passes ---------------------------------------------------------------------


def two_passes(q, k, v, gamma, diagonal_twice=False, backward="exclusive", forward=True):
    T = q.shape[0]
    S = torch.zeros(q.shape[1], v.shape[1], dtype=q.dtype)
    fwd, bwd = [], [None] * T
    for n in range(T):  # forward: m ≤ n
        S = gamma * S + torch.outer(k[n], v[n])
        fwd.append(q[n] @ S)
    S = torch.zeros_like(S)
    for n in reversed(range(T)):  # backward: m > n (m ≥ n when diagonal_twice)
        if backward == "exclusive":
            S = gamma * S
            bwd[n] = q[n] @ S
            S = S + torch.outer(k[n], v[n])
        elif backward == "too close":  # read before decaying: key m > n weighs γ^(m-n-1)
            bwd[n] = q[n] @ S
            S = gamma * S + torch.outer(k[n], v[n])
        else:  # no backward pass
            bwd[n] = torch.zeros(v.shape[1], dtype=q.dtype)
        if diagonal_twice:
            bwd[n] = bwd[n] + q[n] @ torch.outer(k[n], v[n])
    out = torch.stack(bwd)
    return out + torch.stack(fwd) if forward else out


def test_ex03_recurrent_retention(capsys):
    expect_pass(capsys, checks.ex03_recurrent_retention, two_passes)  # (a)

    def parallel_two_sided(q, k, v, gamma):
        n = torch.arange(q.shape[0], dtype=q.dtype)
        return (q @ k.T * gamma ** (n[:, None] - n[None, :]).abs()) @ v

    expect_pass(capsys, checks.ex03_recurrent_retention, parallel_two_sided)

    def natural_float32(q, k, v, gamma):  # (b) torch.arange without a dtype
        n = torch.arange(q.shape[0])
        E = gamma ** (n[:, None] - n[None, :]).abs()
        assert E.dtype == torch.float32
        return (q @ k.T * E) @ v

    assert NOTE in passes(capsys, checks.ex03_recurrent_retention, natural_float32)
    expect_hint(
        capsys, checks.ex03_recurrent_retention, lambda *a: two_passes(*a, diagonal_twice=True), "diagonal", "once"
    )
    expect_hint(capsys, checks.ex03_recurrent_retention, lambda *a: two_passes(*a, backward="none"), "only the past")
    expect_hint(capsys, checks.ex03_recurrent_retention, lambda *a: two_passes(*a, forward=False), "only the future")

    def backward_with_diagonal(q, k, v, gamma):  # the mirror image of the forward pass: m ≥ n
        return two_passes(q.flip(0), k.flip(0), v.flip(0), gamma, backward="none").flip(0)

    expect_hint(capsys, checks.ex03_recurrent_retention, backward_with_diagonal, "only the future")
    expect_hint(
        capsys, checks.ex03_recurrent_retention, lambda *a: two_passes(*a, backward="too close"), "one step too close"
    )
    expect_hint(capsys, checks.ex03_recurrent_retention, lambda q, k, v, g: q @ k.T @ v, "no decay")
    expect_hint(capsys, checks.ex03_recurrent_retention, lambda q, k, v, g: v[:, :1], "(T, d_v)")
    expect_hint(capsys, checks.ex03_recurrent_retention, lambda *a: 2 * two_passes(*a), "backwards")


def test_ex03_cost_ratio(capsys):
    T, d_k, d_v = 4096, 64, 64
    expect_pass(capsys, checks.ex03_cost_ratio, T * T * (d_k + d_v) / (T * 2 * d_k * d_v))  # (a)
    expect_pass(capsys, checks.ex03_cost_ratio, torch.tensor(T, dtype=torch.float32) * (d_k + d_v) / (2 * d_k * d_v))
    expect_hint(capsys, checks.ex03_cost_ratio, (T * 2 * d_k * d_v) / (T * T * (d_k + d_v)), "recurrent over parallel")
    expect_hint(capsys, checks.ex03_cost_ratio, T * (d_k + d_v) / (d_k * d_v), "2 d_k d_v per token")
    expect_hint(capsys, checks.ex03_cost_ratio, 4096, "divide")
