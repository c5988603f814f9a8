"""Exercise checkers of notebooks 01-04: ✓ for a right answer, a hint that names the mistake for each common wrong
answer (never the answer itself), 'not answered yet' for the placeholder, and no exception for a learner's bug."""

import math

import pytest
import torch

from retnet_edu.course import checks
from retnet_edu.position import apply_rotation, rotate_every_two
from retnet_edu.retention import decay_gammas, decay_mask, lm_decay_gammas, parallel_retention


def verdict(capsys, checker, answer):
    ok = checker(answer)
    out = capsys.readouterr().out
    assert out.count("\n") == 1, f"one line per check, got {out!r}"
    return bool(ok), out


def expect_pass(capsys, checker, answer):
    ok, out = verdict(capsys, checker, answer)
    assert ok and "✓" in out, out


def expect_hint(capsys, checker, answer, *words):
    ok, out = verdict(capsys, checker, answer)
    assert not ok and "✗" in out, out
    for w in words:
        assert w in out, f"hint should mention {w!r}: {out}"
    return out


ALL = [getattr(checks, n) for n in checks.__all__ if n.startswith(("ex01_", "ex02_", "ex03_", "ex04_"))]


def test_sixteen_part1_checkers_exported():
    assert len(ALL) == 16


@pytest.mark.parametrize("checker", ALL, ids=lambda f: f.__name__)
def test_placeholder_is_not_answered_yet(capsys, checker):
    for placeholder in (..., None):
        ok, out = verdict(capsys, checker, placeholder)
        assert not ok and "not answered yet" in out and "✗" not in out


@pytest.mark.parametrize("checker", ALL, ids=lambda f: f.__name__)
def test_wrong_type_never_raises(capsys, checker):
    ok, out = verdict(capsys, checker, "a string")
    assert not ok and "✗" in out


# ------------------------------------------------------------------------------------------------ 01
def linear_attention_loop(q, k, v):
    S = torch.zeros(q.shape[1], v.shape[1], dtype=q.dtype)
    out = []
    for n in range(q.shape[0]):
        S = S + torch.outer(k[n], v[n])
        out.append(q[n] @ S)
    return torch.stack(out)


def test_ex01_state_weight(capsys):
    expect_pass(capsys, checks.ex01_state_weight, 0.9 ** 7)
    expect_pass(capsys, checks.ex01_state_weight, torch.tensor(0.9 ** 7, dtype=torch.float64))
    expect_hint(capsys, checks.ex01_state_weight, 0.9 ** 8, "off by one")
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
    expect_hint(capsys, checks.ex01_linear_attention_rnn, lambda q, k, v: 2 * linear_attention_loop(q, k, v),
                "outer product")
    expect_hint(capsys, checks.ex01_linear_attention_rnn, lambda q, k, v: q.nonexistent, "AttributeError")
    # T = 1 must work as well
    expect_hint(capsys, checks.ex01_linear_attention_rnn,
                lambda q, k, v: linear_attention_loop(q, k, v) if q.shape[0] > 1 else torch.zeros(1, 4), "T = 1")


def test_ex01_learner_cannot_corrupt_the_checker(capsys):
    def in_place(q, k, v):
        o = linear_attention_loop(q, k, v)
        q.zero_()
        return o

    expect_pass(capsys, checks.ex01_linear_attention_rnn, in_place)


def test_ex01_power_from_eigenvalues(capsys):
    lam = 0.9 * complex(math.cos(math.pi / 6), math.sin(math.pi / 6))
    expect_pass(capsys, checks.ex01_power_from_eigenvalues, (lam ** 12).real)
    A = 0.9 * torch.tensor([[math.cos(math.pi / 6), -math.sin(math.pi / 6)],
                            [math.sin(math.pi / 6), math.cos(math.pi / 6)]], dtype=torch.float64)
    expect_pass(capsys, checks.ex01_power_from_eigenvalues, torch.linalg.matrix_power(A, 12)[0, 0])
    expect_hint(capsys, checks.ex01_power_from_eigenvalues, -(0.9 ** 12), "phase")
    expect_hint(capsys, checks.ex01_power_from_eigenvalues, 1.0, "γ")
    expect_hint(capsys, checks.ex01_power_from_eigenvalues, 0.9, "12th power")
    expect_hint(capsys, checks.ex01_power_from_eigenvalues, 0.3, "λ^12")
    expect_hint(capsys, checks.ex01_power_from_eigenvalues, complex(1, 1), "expected a (real) number")


def test_ex01_relative_score(capsys):
    def right(q, k, n, m, theta):
        return (q * torch.exp(1j * n * theta) * (k * torch.exp(1j * m * theta)).conj()).sum()

    expect_pass(capsys, checks.ex01_relative_score, right)
    expect_pass(capsys, checks.ex01_relative_score, lambda q, k, n, m, theta: complex(right(q, k, n, m, theta)))
    expect_hint(capsys, checks.ex01_relative_score,
                lambda q, k, n, m, theta: (q * torch.exp(1j * n * theta) * k * torch.exp(1j * m * theta)).sum(),
                "n + m", "conjugate")
    expect_hint(capsys, checks.ex01_relative_score, lambda *a: right(*a).conj(), "query side")
    expect_hint(capsys, checks.ex01_relative_score, lambda *a: right(*a).real, "complex number")
    expect_hint(capsys, checks.ex01_relative_score, lambda *a: 2 * right(*a), "element-wise")
    expect_hint(capsys, checks.ex01_relative_score, lambda q, k, n, m, theta: q * k.conj(), "one (complex) number")


# ------------------------------------------------------------------------------------------------ 02
def test_ex02_decay_mask(capsys):
    expect_pass(capsys, checks.ex02_decay_mask,
                lambda gamma, T: decay_mask(torch.tensor([gamma], dtype=torch.float64), T)[0])

    def by_hand(gamma, T):
        n = torch.arange(T)
        dist = (n[:, None] - n[None, :]).double()
        return torch.where(dist >= 0, gamma ** dist.clamp(min=0), torch.zeros(()))

    expect_pass(capsys, checks.ex02_decay_mask, by_hand)
    expect_pass(capsys, checks.ex02_decay_mask, lambda g, T: by_hand(g, T).numpy())          # arrays are fine
    expect_hint(capsys, checks.ex02_decay_mask, lambda g, T: by_hand(g, T).T, "rows are queries")

    def no_mask(gamma, T):
        n = torch.arange(T).double()
        return gamma ** (n[:, None] - n[None, :]).abs()

    expect_hint(capsys, checks.ex02_decay_mask, no_mask, "causal")

    def overflow(gamma, T):
        n = torch.arange(T, dtype=torch.float32)
        full = torch.tensor(gamma, dtype=torch.float32) ** (n[:, None] - n[None, :])
        return (full * torch.tril(torch.ones(T, T))).double()

    expect_hint(capsys, checks.ex02_decay_mask, overflow, "NaN or inf")
    expect_hint(capsys, checks.ex02_decay_mask, lambda g, T: by_hand(g, T) * 0.5, "diagonal")
    expect_hint(capsys, checks.ex02_decay_mask, lambda g, T: torch.tril(torch.ones(T, T)), "γ = 0.9")
    expect_hint(capsys, checks.ex02_decay_mask, lambda g, T: torch.ones(T), "matrix")


def test_ex02_tokens_for_weight(capsys):
    L = math.ceil(math.log(0.05) / math.log(0.99))
    assert L == 299 and 1 - 0.99 ** L >= 0.95 > 1 - 0.99 ** (L - 1)
    expect_pass(capsys, checks.ex02_tokens_for_weight, L)
    expect_pass(capsys, checks.ex02_tokens_for_weight, 299.0)
    expect_pass(capsys, checks.ex02_tokens_for_weight, torch.tensor(299))
    expect_hint(capsys, checks.ex02_tokens_for_weight, math.log(0.05) / math.log(0.99), "whole number")
    expect_hint(capsys, checks.ex02_tokens_for_weight, 298, "still below 0.95")
    expect_hint(capsys, checks.ex02_tokens_for_weight, 100, "1 - γ^L")


def test_ex02_lm_schedule(capsys):
    expect_pass(capsys, checks.ex02_lm_schedule, lm_decay_gammas(6))
    expect_pass(capsys, checks.ex02_lm_schedule, lm_decay_gammas(6).tolist())
    expect_hint(capsys, checks.ex02_lm_schedule, decay_gammas(6), "eq. 8")
    expect_hint(capsys, checks.ex02_lm_schedule, 1 / (1 - lm_decay_gammas(6)), "effective memories")
    expect_hint(capsys, checks.ex02_lm_schedule, 1 - 1 / torch.linspace(32, 512, 6, dtype=torch.float64),
                "evenly in memory")
    expect_hint(capsys, checks.ex02_lm_schedule, torch.linspace(1 - 1 / 32, 1 - 1 / 512, 6, dtype=torch.float64),
                "evenly in γ")
    expect_hint(capsys, checks.ex02_lm_schedule, lm_decay_gammas(8), "6 decay rates")
    expect_hint(capsys, checks.ex02_lm_schedule, torch.full((6,), 0.99), "log(1/32)")


def test_ex02_slowest_memory(capsys):
    expect_pass(capsys, checks.ex02_slowest_memory, 1 / (1 - decay_gammas(16)[-1]))
    expect_pass(capsys, checks.ex02_slowest_memory, 2 ** 20)
    expect_hint(capsys, checks.ex02_slowest_memory, 2 ** 21, "h = 0")
    expect_hint(capsys, checks.ex02_slowest_memory, 1 - 2 ** -20, "1/(1 - γ)")
    expect_hint(capsys, checks.ex02_slowest_memory, 32, "2^(5+h)")


# ------------------------------------------------------------------------------------------------ 03
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
    expect_hint(capsys, checks.ex03_parallel_retention, lambda q, k, v, g: parallel_one_head(q, k, v, 1.0),
                "no decay")

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
    expect_hint(capsys, checks.ex03_parallel_retention, lambda q, k, v, g: 2 * parallel_one_head(q, k, v, g),
                "wrong values")


def test_ex03_recurrent_retention(capsys):
    expect_pass(capsys, checks.ex03_recurrent_retention, recurrent_one_head)
    expect_hint(capsys, checks.ex03_recurrent_retention, lambda q, k, v, g: recurrent_one_head(q, k, v, g)[0],
                "return two things")
    expect_hint(capsys, checks.ex03_recurrent_retention,
                lambda q, k, v, g: (recurrent_one_head(q, k, v, g)[0], recurrent_one_head(q, k, v, g)[1].T),
                "(d_v, d_k)")

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
    expect_hint(capsys, checks.ex03_recurrent_retention,
                lambda q, k, v, g: (recurrent_one_head(q, k, v, g)[0], torch.zeros(3, 4)), "final state"[:5])
    expect_hint(capsys, checks.ex03_recurrent_retention, lambda q, k, v, g: (q, k), "o must be")


def test_ex03_multihead_retention(capsys):
    expect_pass(capsys, checks.ex03_multihead_retention, parallel_retention)

    def one_gamma(q, k, v, gamma):
        return parallel_retention(q, k, v, gamma[:1].expand(q.shape[1]).clone())

    expect_hint(capsys, checks.ex03_multihead_retention, one_gamma, "same γ")
    expect_hint(capsys, checks.ex03_multihead_retention, lambda q, k, v, g: v[0], "(B, H, T, d_v)")
    expect_hint(capsys, checks.ex03_multihead_retention, lambda q, k, v, g: 3 * parallel_retention(q, k, v, g),
                "(H, T, T)")


def test_ex03_cost_ratio(capsys):
    T, d_k, d_v = 4096, 64, 64
    expect_pass(capsys, checks.ex03_cost_ratio, T * T * (d_k + d_v) / (T * 2 * d_k * d_v))
    expect_hint(capsys, checks.ex03_cost_ratio, (T * 2 * d_k * d_v) / (T * T * (d_k + d_v)), "recurrent over parallel")
    expect_hint(capsys, checks.ex03_cost_ratio, 4096, "divide")


# ------------------------------------------------------------------------------------------------ 04
def test_ex04_rotate_every_two(capsys):
    expect_pass(capsys, checks.ex04_rotate_every_two, rotate_every_two)

    def complex_i(x):
        z = torch.view_as_complex(x.reshape(*x.shape[:-1], -1, 2).contiguous())
        return torch.view_as_real(1j * z).flatten(-2)

    expect_pass(capsys, checks.ex04_rotate_every_two, complex_i)
    expect_hint(capsys, checks.ex04_rotate_every_two, lambda x: -rotate_every_two(x), "-i")
    expect_hint(capsys, checks.ex04_rotate_every_two,
                lambda x: torch.cat((-x[..., x.shape[-1] // 2:], x[..., :x.shape[-1] // 2]), -1), "rotate_half")
    expect_hint(capsys, checks.ex04_rotate_every_two,
                lambda x: torch.stack((x[..., 1::2], x[..., 0::2]), -1).flatten(-2), "minus sign")
    expect_hint(capsys, checks.ex04_rotate_every_two, lambda x: x, "interleave")
    expect_hint(capsys, checks.ex04_rotate_every_two, lambda x: x[0], "shape")


def test_ex04_rotate(capsys):
    expect_pass(capsys, checks.ex04_rotate, apply_rotation)

    def complex_rotation(x, offset):
        d = x.shape[-1]
        theta = 1 / 10000 ** torch.linspace(0, 1, d // 2, dtype=torch.float64)
        n = torch.arange(offset, offset + x.shape[-2], dtype=torch.float64)
        z = torch.view_as_complex(x.reshape(*x.shape[:-1], d // 2, 2).contiguous())
        return torch.view_as_real(z * torch.polar(torch.ones((), dtype=torch.float64), n[:, None] * theta)).flatten(-2)

    expect_pass(capsys, checks.ex04_rotate, complex_rotation)

    def with_angles(theta_fn, sign=1, use_offset=True, interleave=True):
        def fn(x, offset):
            d = x.shape[-1]
            th = theta_fn(d)
            th = th.repeat_interleave(2) if interleave else th.repeat(2)
            n = torch.arange(offset if use_offset else 0, (offset if use_offset else 0) + x.shape[-2],
                             dtype=torch.float64)
            ang = sign * n[:, None] * th
            return x * torch.cos(ang) + rotate_every_two(x) * torch.sin(ang)
        return fn

    official = lambda d: 1 / 10000 ** torch.linspace(0, 1, d // 2, dtype=torch.float64)  # noqa: E731
    rope = lambda d: 10000.0 ** (-2 * torch.arange(d // 2, dtype=torch.float64) / d)  # noqa: E731
    expect_pass(capsys, checks.ex04_rotate, with_angles(official))
    expect_hint(capsys, checks.ex04_rotate, with_angles(rope), "RoPE")
    expect_hint(capsys, checks.ex04_rotate, with_angles(official, sign=-1), "-nθ")
    expect_hint(capsys, checks.ex04_rotate, with_angles(official, use_offset=False), "offset")
    expect_hint(capsys, checks.ex04_rotate, with_angles(official, interleave=False), "θ0, θ0")
    expect_hint(capsys, checks.ex04_rotate, lambda x, offset: x[:2], "shape")
    expect_hint(capsys, checks.ex04_rotate, lambda x, offset: 2 * apply_rotation(x, offset), "offset = 0")


def test_ex04_full_turn(capsys):
    expect_pass(capsys, checks.ex04_full_turn, 2 * math.pi / 1e-4)
    expect_hint(capsys, checks.ex04_full_turn, 1e4, "2π")
    expect_hint(capsys, checks.ex04_full_turn, math.pi / 1e-4, "half a turn")
    expect_hint(capsys, checks.ex04_full_turn, 64, "solve")


def test_ex04_rope_angles(capsys):
    expect_pass(capsys, checks.ex04_rope_angles, [1.0, 0.1, 0.01, 0.001])
    expect_pass(capsys, checks.ex04_rope_angles, 10000.0 ** (-torch.arange(0, 8, 2, dtype=torch.float64) / 8))
    expect_hint(capsys, checks.ex04_rope_angles, torch.tensor([1.0, 0.1, 0.01, 0.001]).repeat_interleave(2),
                "one angle per pair")
    expect_hint(capsys, checks.ex04_rope_angles, 1 / 10000 ** torch.linspace(0, 1, 4, dtype=torch.float64),
                "linspace")
    expect_hint(capsys, checks.ex04_rope_angles, [1.0, 10.0, 100.0, 1000.0], "negative")
    expect_hint(capsys, checks.ex04_rope_angles, [1.0, 0.5, 0.25, 0.125], "θ_i")


FUNCTION_CHECKERS = [checks.ex01_linear_attention_rnn, checks.ex01_relative_score, checks.ex02_decay_mask,
                     checks.ex03_parallel_retention, checks.ex03_recurrent_retention, checks.ex03_multihead_retention,
                     checks.ex04_rotate_every_two, checks.ex04_rotate]


@pytest.mark.parametrize("checker", FUNCTION_CHECKERS, ids=lambda f: f.__name__)
def test_a_stub_function_is_not_answered_yet(capsys, checker):
    def stub(*args):
        ...  # the learner has not written the body yet

    ok, out = verdict(capsys, checker, stub)
    assert not ok and "not answered yet" in out
