"""Self-checks for the notebooks' exercises.

Each checker takes the learner's answer and prints one line: ``✓ …`` when it is right, ``✗ …`` with a hint
that points at the idea (never the answer) when it is not, and ``… not answered yet`` while the answer is
still the placeholder ``...``. It returns a truthy/falsy ``Verdict`` and never raises on a wrong answer, so a notebook with
unfinished exercises still runs top to bottom. The solutions in ``notebooks/solutions/`` call the same
checkers and show ✓.
"""

from __future__ import annotations

import math
import numbers

import torch

__all__ = ["Verdict", "report", "unanswered", "check_close", "ex00_gamma_for_memory", "ex00_half_life"]

PASS, FAIL = "✓", "✗"


class Verdict:
    """What a checker returns: truthy when the answer is right. It shows nothing in a notebook (the checker
    has already printed its line), so a checker call can end a cell without an extra ``True``/``False``."""

    def __init__(self, ok: bool):
        self.ok = bool(ok)

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        return f"Verdict(ok={self.ok})"

    def _ipython_display_(self) -> None:
        pass


def unanswered(answer) -> bool:
    """True while the answer is still the placeholder (``...`` or None)."""
    return answer is ... or answer is None


def report(name: str, ok: bool, success: str, hint: str) -> Verdict:
    """Print the verdict line for exercise ``name`` and return it as a ``Verdict``."""
    print(f"{name}: {PASS} {success}" if ok else f"{name}: {FAIL} {hint}")
    return Verdict(ok)


def _pending(name: str) -> Verdict:
    print(f"{name}: not answered yet: replace the ... with your answer and run the cell again")
    return Verdict(False)


def _as_float(answer):
    if isinstance(answer, torch.Tensor) and answer.numel() == 1:
        return float(answer)
    if isinstance(answer, numbers.Real) and not isinstance(answer, bool):
        return float(answer)
    return None


def check_close(name: str, answer, expected: float, rtol: float = 1e-6, hint: str = "", success: str = "") -> Verdict:
    """A number (or one-element tensor) equal to ``expected`` within a relative tolerance."""
    if unanswered(answer):
        return _pending(name)
    value = _as_float(answer)
    if value is None:
        return report(name, False, "", f"expected a number, got {type(answer).__name__}")
    ok = math.isclose(value, expected, rel_tol=rtol, abs_tol=0.0)
    return report(name, ok, success or f"{value:.6g} is right", hint or f"{value:.6g} is not right yet")


# ---------------------------------------------------------------------------------------------------------
# 00_welcome_and_setup
# ---------------------------------------------------------------------------------------------------------
def ex00_gamma_for_memory(gamma) -> Verdict:
    """Exercise 00.1: the γ whose effective memory 1/(1-γ) is 100 tokens."""
    return check_close("Exercise 00.1", gamma, 1 - 1 / 100,
                       hint="effective memory is 1/(1-γ): solve 1/(1-γ) = 100 for γ",
                       success="a head with γ = 0.99 remembers about 100 tokens")


def ex00_half_life(n) -> Verdict:
    """Exercise 00.2: after how many tokens γ = 31/32 has decayed to one half (a real number, not rounded)."""
    return check_close("Exercise 00.2", n, math.log(2) / -math.log(31 / 32), rtol=1e-6,
                       hint="solve γ^n = 1/2 for n: take logarithms of both sides",
                       success="the fastest head (γ = 31/32) halves a token's weight after ~21.8 tokens")


# =========================================================================================================
# Part I (notebooks 01-04): helpers for checkers that take the learner's *function* as the answer
# =========================================================================================================
# A checker of this kind runs the learner's function on its own seeded inputs and compares the result with the
# equation; common mistakes are recognised by comparing with what each mistake would give, so the hint can name
# the idea that is missing (never the answer).
__all__ += [
    "ex01_state_weight",
    "ex01_linear_attention_rnn",
    "ex01_power_from_eigenvalues",
    "ex01_relative_score",
    "ex02_decay_mask",
    "ex02_tokens_for_weight",
    "ex02_lm_schedule",
    "ex02_slowest_memory",
    "ex03_parallel_retention",
    "ex03_recurrent_retention",
    "ex03_multihead_retention",
    "ex03_cost_ratio",
    "ex04_rotate_every_two",
    "ex04_rotate",
    "ex04_full_turn",
    "ex04_rope_angles",
]


def _short(e: Exception) -> str:
    msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{type(e).__name__}: {msg[:160]}" if msg else type(e).__name__


def _call(name: str, fn, *args):
    """Run the learner's function on copies of ``args``: ``(True, result)``, or ``(False, Verdict)`` when ``fn`` is
    not a function, raised, or returned nothing (a stub whose body is still ``...``: "not answered yet")."""
    if not callable(fn):
        return False, report(name, False, "", f"expected a function (def …), got {type(fn).__name__}")
    args = tuple(a.clone() if isinstance(a, torch.Tensor) else a for a in args)
    try:
        result = fn(*args)
    except Exception as e:  # noqa: BLE001 - a learner's bug must become a hint, never a crash
        return False, report(name, False, "", f"your function raised {_short(e)}")
    if result is None or result is ...:       # the stub whose body is still `...`
        return False, _pending(name)
    return True, result


def _tensor(x, dtype=torch.float64):
    """The learner's result as a tensor of ``dtype`` (from a tensor, an array or a list), or None."""
    try:
        if isinstance(x, torch.Tensor):
            return x.detach().to(dtype)
        return torch.as_tensor(x, dtype=dtype)      # straight to dtype: a Python float/complex keeps all digits
    except Exception:  # noqa: BLE001
        return None


def _same(a, b, tol: float = 1e-9) -> bool:
    """Same shape and equal within ``tol`` relative to the size of ``b`` (for float64 results)."""
    if not isinstance(a, torch.Tensor) or tuple(a.shape) != tuple(b.shape):
        return False
    a = a.detach().to(b.dtype)
    if not bool(torch.isfinite(a).all()):
        return False
    scale = max(1.0, float(b.abs().max())) if b.numel() else 1.0
    return b.numel() == 0 or float((a - b).abs().max()) <= tol * scale


def _seeded(*shapes, seed: int = 0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(*s, generator=g, dtype=dtype) for s in shapes]


def _causal(T: int, diagonal: int = 0) -> torch.Tensor:
    return torch.tril(torch.ones(T, T, dtype=torch.float64), diagonal=diagonal)


def _D(gamma: float, T: int) -> torch.Tensor:
    """D[n, m] = γ^(n-m) for n ≥ m, else 0 (float64, written out independently of retnet_edu.retention)."""
    n = torch.arange(T, dtype=torch.float64)
    dist = n[:, None] - n[None, :]
    return torch.where(dist >= 0, torch.pow(torch.tensor(float(gamma), dtype=torch.float64), dist.clamp(min=0)),
                       torch.zeros((), dtype=torch.float64))


def _integer(answer):
    """An int from an int, an integral float or a one-element integral tensor; None otherwise."""
    value = _as_float(answer)
    if value is None or not math.isfinite(value) or value != round(value):
        return None
    return int(round(value))


# ---------------------------------------------------------------------------------------------------------
# 01_attention_to_recurrence
# ---------------------------------------------------------------------------------------------------------
def ex01_state_weight(weight) -> Verdict:
    """Exercise 01.1: with γ = 0.9, the weight of token m = 3's k_3ᵀ v_3 inside the state S_10 (positions 0-based)."""
    name = "Exercise 01.1"
    if unanswered(weight):
        return _pending(name)
    value = _as_float(weight)
    if value is None:
        return report(name, False, "", f"expected a number, got {type(weight).__name__}")
    expected = 0.9 ** 7
    if math.isclose(value, expected, rel_tol=1e-9):
        return report(name, True, "S_10 holds k_3ᵀ v_3 with weight γ^(10-3) = 0.9^7 ≈ 0.478", "")
    if any(math.isclose(value, 0.9 ** p, rel_tol=1e-9) for p in (6, 8)):
        return report(name, False, "", "off by one: the newest token (m = n) enters S_n with weight γ^0 = 1, "
                                       "and each later step multiplies what is stored by γ once")
    return report(name, False, "", "unroll S_n = γ S_{n-1} + k_nᵀ v_n: count how many times k_3ᵀ v_3 is "
                                   "multiplied by γ between step 3 and step 10")


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
        ok, out1 = _call(name, fn, q[:1], k[:1], v[:1])          # T = 1 must work too
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
    return report(name, False, "", "keep S, a (d_k, d_v) matrix, start it at zeros, add the outer product k_nᵀ v_n, "
                                   "then read o_n = q_n S_n")


def ex01_power_from_eigenvalues(c) -> Verdict:
    """Exercise 01.3: A = γ R(θ) with γ = 0.9, θ = π/6 (R a 2-D rotation); A^12 = c·I: the number c."""
    name = "Exercise 01.3"
    if unanswered(c):
        return _pending(name)
    value = _as_float(c)
    if value is None:
        return report(name, False, "", f"expected a (real) number, got {type(c).__name__}")
    expected = 0.9 ** 12
    if math.isclose(value, expected, rel_tol=1e-9):
        return report(name, True, "λ^12 = 0.9^12 e^(±i·12π/6) = 0.9^12: A^12 = 0.9^12 I ≈ 0.282 I", "")
    if math.isclose(value, -expected, rel_tol=1e-9):
        return report(name, False, "", "check the phase: 12θ = 2π, and e^(2πi) is +1")
    if math.isclose(value, 1.0, rel_tol=1e-9):
        return report(name, False, "", "the rotation comes back after a full turn, but every step also scales by "
                                       "|λ| = γ")
    if math.isclose(value, 0.9, rel_tol=1e-9):
        return report(name, False, "", "A^12 raises each eigenvalue γe^(±iθ) to the 12th power: both γ and e^(iθ)")
    return report(name, False, "", "write A = Λ diag(γe^(iθ), γe^(-iθ)) Λ^-1, so A^12 = Λ diag(λ^12) Λ^-1: "
                                   "compute λ^12 for both eigenvalues")


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
        return all(abs(x - y) <= 1e-9 * max(1.0, abs(y)) for x, y in zip(a, b))

    if close(got, want):
        return report(name, True, "the conjugate cancels e^(imθ) against e^(inθ): only n - m is left", "")
    if close(got, [w.real for w in want]):
        return report(name, False, "", "keep the complex number: the real part is taken later (notebook 04)")
    if close(got, wrong["noconj"]):
        return report(name, False, "", "your score depends on n + m: the key side of eq. 4 carries a † "
                                       "(complex conjugate)")
    if close(got, wrong["qconj"]):
        return report(name, False, "", "you conjugated the query side: eq. 4 conjugates the key, (K_m e^(imθ))^†")
    return report(name, False, "", "multiply q by e^(inθ) and k by e^(imθ) element-wise, conjugate the key, "
                                   "then sum the products")


# ---------------------------------------------------------------------------------------------------------
# 02_decay_masks_and_multiscale_heads
# ---------------------------------------------------------------------------------------------------------
def ex02_decay_mask(fn) -> Verdict:
    """Exercise 02.1: ``fn(gamma, T)`` returns the T × T decay mask D[n, m] = γ^(n-m) for n ≥ m, else 0."""
    name = "Exercise 02.1"
    if unanswered(fn):
        return _pending(name)
    # (0.5, 1100): γ^-(T-1) = 2^1099 overflows even float64, so D must never hold γ^(n-m) for m > n
    for gamma, T in ((0.9, 6), (1.0, 4), (0.5, 1), (0.5, 1100)):
        ok, out = _call(name, fn, gamma, T)
        if not ok:
            return out
        got = _tensor(out)
        expected = _D(gamma, T)
        if _same(got, expected, 1e-6):           # float32 answers are fine
            continue
        if got is None or tuple(got.shape) != (T, T):
            return report(name, False, "", f"for T = {T} expected a ({T}, {T}) matrix, "
                                           f"got shape {None if got is None else tuple(got.shape)}")
        if not bool(torch.isfinite(got).all()):
            return report(name, False, "", f"NaN or inf for γ = {gamma}, T = {T}: a negative exponent n - m "
                                           "blows up before the mask can zero it; never compute γ^(n-m) for m > n")
        if _same(got, expected.T, 1e-6):
            return report(name, False, "", "rows are queries n, columns keys m: the non-zeros belong on and below "
                                           "the diagonal")
        if bool((torch.triu(got, 1) != 0).any()):
            return report(name, False, "", "D is causal: D[n, m] must be exactly 0 for m > n (a query never sees "
                                           "later keys)")
        if not bool((torch.diagonal(got) == 1).all()):
            return report(name, False, "", "the diagonal is γ^0 = 1: a token gives itself full weight")
        return report(name, False, "", f"wrong values for γ = {gamma}, T = {T}: D[n, m] = γ^(n-m) on and below "
                                       "the diagonal")
    return report(name, True, "D = causal mask ⊙ decay, for any γ and T", "")


def ex02_tokens_for_weight(L) -> Verdict:
    """Exercise 02.2: for γ = 0.99 and an infinitely long past, the smallest number L of most recent tokens that
    hold at least 95% of the total weight 1/(1-γ)."""
    name = "Exercise 02.2"
    if unanswered(L):
        return _pending(name)
    if _as_float(L) is None:
        return report(name, False, "", f"expected a number of tokens, got {type(L).__name__}")
    value = _integer(L)
    if value is None:
        return report(name, False, "", "a number of tokens is a whole number: take the smallest L that is enough")
    expected = math.ceil(math.log(0.05) / math.log(0.99))          # 299
    if value == expected:
        return report(name, True, "the most recent 299 tokens hold 95% of this head's weight (1 - 0.99^299 ≥ 0.95)",
                      "")
    if value == expected - 1:
        return report(name, False, "", "just short: with that many tokens 1 - γ^L is still below 0.95")
    return report(name, False, "", "the L most recent tokens carry Σ_{j<L} γ^j = (1 - γ^L)/(1 - γ), a fraction "
                                   "1 - γ^L of the total: solve 1 - γ^L ≥ 0.95 for the smallest whole L")


def ex02_lm_schedule(gammas) -> Verdict:
    """Exercise 02.3: the 6 decay rates of the paper's LM schedule, 1 - exp(linspace(log 1/32, log 1/512, 6))."""
    name = "Exercise 02.3"
    if unanswered(gammas):
        return _pending(name)
    got = _tensor(gammas)
    if got is None or got.dim() != 1 or got.numel() != 6:
        return report(name, False, "", "expected 6 decay rates (one per head) in a 1-D tensor or list")
    h = torch.arange(6, dtype=torch.float64)
    expected = 1 - torch.exp(torch.linspace(math.log(1 / 32), math.log(1 / 512), 6, dtype=torch.float64))
    if _same(got, expected, 1e-12):
        return report(name, True, "effective memories 32 … 512, evenly spaced on a log scale", "")
    if _same(got, 1 - 2.0 ** (-5 - h), 1e-12):
        return report(name, False, "", "that is eq. 8's schedule 1 - 2^(-5-h); the LM runs spread log(1 - γ) evenly "
                                       "from log 1/32 to log 1/512")
    if _same(got, 1 / (1 - expected), 1e-9):
        return report(name, False, "", "those are the effective memories 1/(1 - γ); the exercise asks for γ")
    if _same(got, 1 - 1 / torch.linspace(32, 512, 6, dtype=torch.float64), 1e-12):
        return report(name, False, "", "spaced evenly in memory; the paper spaces them evenly in log(1 - γ)")
    if _same(got, torch.linspace(1 - 1 / 32, 1 - 1 / 512, 6, dtype=torch.float64), 1e-12):
        return report(name, False, "", "spaced evenly in γ; the paper spaces them evenly in log(1 - γ)")
    return report(name, False, "", "take 6 points evenly spaced from log(1/32) to log(1/512), exponentiate "
                                   "them to get 1 - γ, then γ")


def ex02_slowest_memory(memory) -> Verdict:
    """Exercise 02.4: the effective memory (tokens) of the slowest head among H = 16 heads of eq. 8."""
    name = "Exercise 02.4"
    if unanswered(memory):
        return _pending(name)
    value = _as_float(memory)
    if value is None:
        return report(name, False, "", f"expected a number, got {type(memory).__name__}")
    expected = 2.0 ** 20
    if math.isclose(value, expected, rel_tol=1e-9):
        return report(name, True, "2^20 ≈ 1.05 million tokens: far beyond any training length, almost no decay", "")
    if math.isclose(value, 2.0 ** 21, rel_tol=1e-9):
        return report(name, False, "", "heads are numbered h = 0 … H-1: the slowest of 16 is h = 15")
    if math.isclose(value, 1 - 2.0 ** -20, rel_tol=1e-12) or math.isclose(value, 2.0 ** -20, rel_tol=1e-9):
        return report(name, False, "", "that is γ or 1 - γ; effective memory is 1/(1 - γ), counted in tokens")
    return report(name, False, "", "γ_h = 1 - 2^(-5-h) gives 1/(1 - γ_h) = 2^(5+h): use the last head")


# ---------------------------------------------------------------------------------------------------------
# 03_retention_from_scratch
# ---------------------------------------------------------------------------------------------------------
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
            return report(name, False, "", f"expected a (T, d_v) = ({T}, 4) tensor, "
                                           f"got shape {None if got is None else tuple(got.shape)}")
        if _same(got, scores @ vs):
            return report(name, False, "", "no mask: D zeroes the future (m > n) and decays the past")
        if _same(got, (scores * _causal(T)) @ vs):
            return report(name, False, "", "causal, but no decay: D[n, m] = γ^(n-m), not 1")
        if _same(got, (scores * D.T) @ vs):
            return report(name, False, "", "D is transposed: D[n, m] = γ^(n-m) for n ≥ m (row n = query)")
        if _same(got, (scores @ D) @ vs):
            return report(name, False, "", "⊙ is the element-wise product (*), not a matrix product (@)")
        return report(name, False, "", f"wrong values for γ = {gamma}: compute Q Kᵀ, multiply element-wise by D, "
                                       "then multiply by V")
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
    w = gamma ** torch.arange(5, -1, -1, dtype=torch.float64)               # γ^(T-1-m)
    expected_S = (k * w[:, None]).T @ v
    if _same(o, expected_o) and _same(S, expected_S):
        return report(name, True, "the recurrence gives the parallel outputs, and S = Σ_m γ^(T-1-m) k_mᵀ v_m", "")
    if S is not None and tuple(S.shape) == (4, 3):
        return report(name, False, "", "S has shape (d_v, d_k); the paper's state k_nᵀ v_n is (d_k, d_v)")
    if o is None or tuple(o.shape) != (6, 4):
        return report(name, False, "", f"o must be (T, d_v) = (6, 4), got {None if o is None else tuple(o.shape)}")
    late = D * gamma                                                        # S = γ (S + kᵀv): every weight × γ
    if _same(o, ((q @ k.T) * late) @ v):
        return report(name, False, "", "the newest token enters with weight 1: decay the old state first "
                                       "(γ S_{n-1}), then add k_nᵀ v_n")
    if _same(o, ((q @ k.T) * (D * _causal(6, -1)) / gamma) @ v):
        return report(name, False, "", "read o_n = q_n S_n after the update, so token n sees itself")
    if _same(o, expected_o):
        return report(name, False, "", "the outputs are right but the returned S is not the final state "
                                       "(the state after the last token)")
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
    D = torch.stack([_D(float(g), 5) for g in gamma])                        # (H, T, T)
    scores = q @ k.transpose(-1, -2)
    expected = (scores * D) @ v
    if _same(got, expected):
        return report(name, True, "one decay matrix per head, (H, T, T), broadcast over the batch", "")
    if got is None or tuple(got.shape) != (2, 3, 5, 2):
        return report(name, False, "", f"expected (B, H, T, d_v) = (2, 3, 5, 2), "
                                       f"got {None if got is None else tuple(got.shape)}")
    if _same(got, (scores * D[0]) @ v) or _same(got, (scores * D[-1]) @ v):
        return report(name, False, "", "every head used the same γ: head h needs its own γ_h")
    return report(name, False, "", "build D with shape (H, T, T), one γ_h per head; (B, H, T, T) scores ⊙ D "
                                   "broadcasts over B")


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
        return report(name, True, "64× more multiply-adds for the parallel form at T = 4096 (T(d_k+d_v)/(2 d_k d_v))",
                      "")
    if math.isclose(value, 1 / expected, rel_tol=1e-9):
        return report(name, False, "", "that is recurrent over parallel; the exercise asks parallel over recurrent")
    return report(name, False, "", "parallel: T² d_k for Q Kᵀ plus T² d_v for (…)V; recurrent: per token d_k d_v "
                                   "for the update and d_k d_v for q_n S_n; divide the two totals")


# ---------------------------------------------------------------------------------------------------------
# 04_relative_position_rotation
# ---------------------------------------------------------------------------------------------------------
def _rotate_every_two(x):
    return torch.stack((-x[..., 1::2], x[..., 0::2]), dim=-1).flatten(-2)


def _official_angles(d_k: int) -> torch.Tensor:
    return (1.0 / 10000.0 ** torch.linspace(0.0, 1.0, d_k // 2, dtype=torch.float64)).repeat_interleave(2)


def _turn(x, offset, angles):
    pos = torch.arange(offset, offset + x.shape[-2], dtype=torch.float64)[:, None] * angles[None, :]
    return x * torch.cos(pos) + _rotate_every_two(x) * torch.sin(pos)


def ex04_rotate_every_two(fn) -> Verdict:
    """Exercise 04.1: ``fn(x)`` maps each interleaved pair (x_2i, x_2i+1) of the last dimension to
    (-x_2i+1, x_2i)."""
    name = "Exercise 04.1"
    if unanswered(fn):
        return _pending(name)
    (x,) = _seeded((3, 8), seed=41)
    ok, out = _call(name, fn, x)
    if not ok:
        return out
    got = _tensor(out)
    if _same(got, _rotate_every_two(x), 0):
        return report(name, True, "each pair multiplied by i; applying it twice gives -x", "")
    if got is None or tuple(got.shape) != (3, 8):
        return report(name, False, "", f"expected the shape of x, (3, 8), got {None if got is None else tuple(got.shape)}")
    if _same(got, -_rotate_every_two(x), 0):
        return report(name, False, "", "the sign is on the wrong coordinate: this multiplies each pair by -i, "
                                       "not by i")
    if _same(got, torch.cat((-x[..., 4:], x[..., :4]), dim=-1), 0):
        return report(name, False, "", "that is rotate_half (pairs i and i + d/2); the official code pairs "
                                       "neighbours: (x_0, x_1), (x_2, x_3), …")
    if _same(got, torch.stack((x[..., 1::2], x[..., 0::2]), dim=-1).flatten(-2), 0):
        return report(name, False, "", "swapping is a reflection: a quarter turn also needs a minus sign")
    return report(name, False, "", "take the even coordinates x[..., 0::2] and the odd ones x[..., 1::2], and "
                                   "interleave (-odd, even) back into one last dimension")


def ex04_rotate(fn) -> Verdict:
    """Exercise 04.2: ``fn(x, offset)`` rotates x (T, d_k) as the official code does: token t sits at position
    n = offset + t and each pair i turns by the angle n·θ_i, θ_i = 1/10000^linspace(0, 1, d_k/2)[i]."""
    name = "Exercise 04.2"
    if unanswered(fn):
        return _pending(name)
    (x,) = _seeded((5, 8), seed=42)
    angles = _official_angles(8)
    for offset in (0, 7):
        ok, out = _call(name, fn, x, offset)
        if not ok:
            return out
        got = _tensor(out)
        expected = _turn(x, offset, angles)
        if _same(got, expected):
            continue
        if got is None or tuple(got.shape) != (5, 8):
            return report(name, False, "", f"expected the shape of x, (5, 8), got "
                                           f"{None if got is None else tuple(got.shape)}")
        rope = (10000.0 ** (-2.0 * torch.arange(4, dtype=torch.float64) / 8)).repeat_interleave(2)
        if _same(got, _turn(x, offset, rope)):
            return report(name, False, "", "those are standard RoPE's angles 10000^(-2i/d_k); the official code "
                                           "uses 1/10000^linspace(0, 1, d_k/2)")
        if _same(got, _turn(x, offset, -angles)):
            return report(name, False, "", "you turned by -nθ: both queries and keys turn by +nθ")
        if offset and _same(got, _turn(x, 0, angles)):
            return report(name, False, "", "the offset is ignored: token t sits at position offset + t")
        if _same(got, _turn(x, offset, angles[torch.tensor([0, 2, 4, 6, 0, 2, 4, 6])])):
            return report(name, False, "", "each angle serves both coordinates of its pair: [θ0, θ0, θ1, θ1, …]")
        return report(name, False, "", f"wrong values for offset = {offset}: x cos(nθ) + rotate_every_two(x) sin(nθ)")
    return report(name, True, "your rotation equals the official one, at any offset", "")


def ex04_full_turn(tokens) -> Verdict:
    """Exercise 04.3: with d_k = 64 (official angles), how many tokens apart must a query and a key be for the
    slowest pair (θ = 1e-4) to turn by one full circle?"""
    name = "Exercise 04.3"
    if unanswered(tokens):
        return _pending(name)
    value = _as_float(tokens)
    if value is None:
        return report(name, False, "", f"expected a number, got {type(tokens).__name__}")
    expected = 2 * math.pi / 1e-4
    if math.isclose(value, expected, rel_tol=1e-6):
        return report(name, True, "2π/θ ≈ 62 832 tokens: the slowest pair can tell positions apart across long "
                                  "distances", "")
    if math.isclose(value, 1e4, rel_tol=1e-6):
        return report(name, False, "", "a full turn is 2π radians, not 1")
    if math.isclose(value, math.pi / 1e-4, rel_tol=1e-6):
        return report(name, False, "", "that is half a turn (π radians)")
    return report(name, False, "", "the pair turns by (n - m)·θ radians: solve (n - m)·θ = 2π")


def ex04_rope_angles(theta) -> Verdict:
    """Exercise 04.4: the standard RoPE angles for d_k = 8, one per pair: θ_i = 10000^(-2i/d_k), i = 0 … 3."""
    name = "Exercise 04.4"
    if unanswered(theta):
        return _pending(name)
    got = _tensor(theta)
    if got is None:
        return report(name, False, "", f"expected 4 numbers in a tensor or list, got {type(theta).__name__}")
    got = got.reshape(-1)
    i = torch.arange(4, dtype=torch.float64)
    expected = 10000.0 ** (-2 * i / 8)
    if _same(got, expected, 1e-12):
        return report(name, True, "RoPE: 1, 0.1, 0.01, 0.001 (the official code: 1, 0.0464, 0.00215, 0.0001)", "")
    if got.numel() == 8:
        return report(name, False, "", "one angle per pair: d_k/2 = 4 values")
    if _same(got, _official_angles(8)[0::2], 1e-12):
        return report(name, False, "", "that is the official linspace convention; RoPE's exponent is 2i/d_k")
    if _same(got, 10000.0 ** (2 * i / 8), 1e-12):
        return report(name, False, "", "the angles shrink with i: the exponent is negative")
    return report(name, False, "", "θ_i = 10000^(-2i/d_k) for i = 0, 1, 2, 3")


# ---------------------------------------------------------------------------------------------------------
# part II: 05_chunkwise_retention, 06_three_modes_are_one, 07_multiscale_retention_and_the_block
# ---------------------------------------------------------------------------------------------------------
__all__ += ["ex05_decay_split", "ex05_state_update", "ex05_balance_chunk_size",
            "ex06_overflow_length", "ex06_bf16_heads", "ex06_eps_rms", "ex06_find_the_bug",
            "ex07_layer_params", "ex07_ffn_width", "ex07_official_state", "ex07_greedy_decode"]


def _expect_callable(name: str, fn, what: str):
    if unanswered(fn):
        return _pending(name)
    if not callable(fn):
        return report(name, False, "", f"expected a function {what}, got {type(fn).__name__}")
    return None


def ex05_decay_split(answer) -> Verdict:
    """Exercise 05.1: with chunk size B = 4, token n = 13 weighs token m = 2 by γ^(n-m) = γ^11. In the chunkwise
    form that weight is a product of ξ_j, ζ_j' and some factors γ^B. Answer ``(xi_exponent, zeta_exponent,
    number_of_gamma_B_factors)``."""
    name = "Exercise 05.1"
    if unanswered(answer):
        return _pending(name)
    try:
        xi, zeta, hops = (int(a) for a in answer)
        if len(tuple(answer)) != 3:
            raise ValueError
    except (TypeError, ValueError):
        return report(name, False, "", "answer with three whole numbers: (xi exponent, zeta exponent, number of γ^B)")
    if (xi, zeta, hops) == (2, 1, 2):
        return report(name, True, "γ^2 (ξ_1) · γ^1 (ζ_2) · (γ^4)^2 = γ^11: the three factors cover the distance "
                      "13 - 2 exactly", "")
    if xi + zeta + 4 * hops != 11:
        return report(name, False, "", f"γ^{xi} · γ^{zeta} · (γ^4)^{hops} = γ^{xi + zeta + 4 * hops}, not γ^11: the "
                      "exponents must add up to n - m")
    if (xi, zeta) == (1, 2):
        return report(name, False, "", "right total, but ξ and ζ are swapped: ξ_j belongs to the query's in-chunk row "
                      "j, ζ_j' to the key's in-chunk row j'")
    return report(name, False, "", "right total, wrong split: write n = iB + j and m = i'B + j', then count the "
                  "state updates between chunk i' and chunk i")


def ex05_state_update(fn) -> Verdict:
    """Exercise 05.2: ``fn(k, v, gamma, R_prev) -> R``, the chunk state update of eq. 7 for a chunk of any length b
    (k: (B, H, b, d_k), v: (B, H, b, d_v), gamma: (H,), R_prev: (B, H, d_k, d_v))."""
    from retnet_edu.retention import _powers, chunk_state_update

    name = "Exercise 05.2"
    pending = _expect_callable(name, fn, "fn(k, v, gamma, R_prev)")
    if pending is not None:
        return pending
    gen = torch.Generator().manual_seed(5)
    gamma = torch.tensor([0.5, 0.9, 0.97], dtype=torch.float64)
    for b in (4, 3, 1):
        k, v = (torch.randn(2, 3, b, d, generator=gen, dtype=torch.float64) for d in (4, 5))
        R_prev = torch.randn(2, 3, 4, 5, generator=gen, dtype=torch.float64)
        ok, out = _call(name, fn, k, v, gamma, R_prev)
        if not ok:
            return out
        want = chunk_state_update(k, v, gamma, R_prev)
        if _same(out, want):
            continue
        if not isinstance(out, torch.Tensor) or out.shape != want.shape:
            return report(name, False, "", f"R must be a tensor of shape (B, H, d_k, d_v) = {tuple(want.shape)}, got "
                          f"{tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__}")
        j = torch.arange(b, dtype=torch.float64)
        decay_b = gamma.pow(b)[:, None, None]
        no_zeta = decay_b * R_prev + k.transpose(-1, -2) @ v
        if _same(out, no_zeta):
            return report(name, False, "", "this is the paper's Figure 4: every token of the chunk must also be decayed "
                          "to the chunk's end (ζ_j = γ^(b-1-j))")
        zeta_shift = _powers(gamma, b - j)
        if _same(out, decay_b * R_prev + k.transpose(-1, -2) @ (v * zeta_shift[..., None])):
            return report(name, False, "", "ζ is off by one: the chunk's last token (j = b-1) must get weight γ^0 = 1")
        if _same(out, k.transpose(-1, -2) @ (v * _powers(gamma, b - 1 - j)[..., None]) + R_prev):
            return report(name, False, "", "the old state must be decayed by γ^b before the chunk is added")
        return report(name, False, "", f"wrong for a chunk of {b} token(s): R_i = K_[i]ᵀ (V_[i] ⊙ ζ) + γ^b R_(i-1)")
    return report(name, True, "your update matches eq. 7 for chunks of 4, 3 and 1 tokens", "")


def ex05_balance_chunk_size(B) -> Verdict:
    """Exercise 05.3: for d_k = 64 and d_v = 128, the chunk size B (a real number) at which a chunk's inner part
    costs as many multiply-adds as its cross part plus its state update."""
    return check_close("Exercise 05.3", B, 2 * 64 * 128 / (64 + 128), rtol=1e-6,
                       hint="inner: B²(d_k + d_v) per chunk; cross + state: 2 B d_k d_v per chunk; set them equal",
                       success="B = 2 d_k d_v / (d_k + d_v) ≈ 85.3: below it the d_k × d_v state work dominates, "
                               "above it the B × B blocks do")


def ex06_overflow_length(T) -> Verdict:
    """Exercise 06.1: the first sequence length T at which the split decay γ^n · γ^(-m) overflows float16 for the
    fastest head, γ = 31/32."""
    from retnet_edu.course.numerics import split_decay_overflow_length

    name = "Exercise 06.1"
    if unanswered(T):
        return _pending(name)
    want = split_decay_overflow_length(31 / 32, torch.float16)
    if isinstance(T, bool) or not isinstance(T, numbers.Integral):
        if isinstance(T, numbers.Real) and abs(T - 1 - math.log(65504) / math.log(32 / 31)) < 2:
            return report(name, False, "", "close, but a length is a whole number of tokens: which integer T is the "
                          "first one whose largest exponent T-1 overflows?")
        return report(name, False, "", "expected a whole number of tokens")
    if T == want:
        return report(name, True, f"T = {T}: γ^(-{T - 1}) exceeds 65504, the largest float16", "")
    if T == want - 1:
        return report(name, False, "", "off by one: positions run from 0 to T-1, so the largest exponent is T-1")
    return report(name, False, "", "γ^(-m) = (32/31)^m overflows when it exceeds float16's maximum, 65504: take logs")


def ex06_bf16_heads(heads) -> Verdict:
    """Exercise 06.2: which heads h = 0 … 11 of the eq. 8 schedule (γ_h = 1 - 2^(-5-h)) have γ_h == 1 in bfloat16."""
    name = "Exercise 06.2"
    if unanswered(heads):
        return _pending(name)
    try:
        got = sorted({int(h) for h in heads})
    except (TypeError, ValueError):
        return report(name, False, "", "answer with a list of head indices, e.g. [0, 1]")
    want = list(range(4, 12))
    if got == want:
        return report(name, True, "heads 4 … 11: bfloat16 keeps 8 significant bits, so below 1 its steps are "
                      "2^-8 apart and 1 - 2^-9 (a tie) rounds to 1", "")
    if got == list(range(5, 12)):
        return report(name, False, "", "almost: 1 - 2^-9 lies exactly halfway between two bfloat16 numbers; "
                      "round-to-nearest-even picks the one with an even last bit")
    return report(name, False, "", "bfloat16 has 8 significant bits: how far apart are its numbers just below 1?")


def ex06_eps_rms(r) -> Verdict:
    """Exercise 06.3: the RMS r of a pre-norm row at which the group norm with eps = 1e-6 returns the row 1 %
    smaller than with eps = 0 (x / √(r² + eps) = 0.99 · x / r)."""
    return check_close("Exercise 06.3", r, 0.99 * math.sqrt(1e-6 / (1 - 0.99 ** 2)), rtol=1e-4,
                       hint="solve r / √(r² + eps) = 0.99 for r",
                       success="r ≈ 7.0e-3: rows whose RMS is below ~1e-2 are visibly shrunk by eps = 1e-6")


_BUG_HINTS = {
    "zeta missing": "it is right within the first chunk, and also with chunk_size = 1 and with γ = 1: which "
                    "factor of eq. 7 is 1 in both cases?",
    "xi off by one": "it is right within the first chunk and when γ = 1, but wrong with chunk_size = 1: which "
                     "factor multiplies every cross-chunk term, even for a chunk of one token?",
    "state not decayed": "its first wrong token is 1 (the second token) and it is right whenever γ = 1",
    "1/S instead of 1/sqrt(S)": "its rows are only rescaled: compare its row factors with 1/√S_n and 1/S_n, "
                                "S_n = Σ_(i≤n) γ^i",
}


def ex06_find_the_bug(answers) -> Verdict:
    """Exercise 06.4: name the bug of each mystery variant: ``{"A": label, …, "D": label}`` with labels from
    ``retnet_edu.course.buggy.BUG_LABELS``."""
    from retnet_edu.course.buggy import BUG_LABELS, _answer_key

    name = "Exercise 06.4"
    if unanswered(answers) or (isinstance(answers, dict) and any(unanswered(a) for a in answers.values())):
        return _pending(name)
    if not isinstance(answers, dict) or sorted(answers) != list("ABCD"):
        return report(name, False, "", 'answer with a dict {"A": label, "B": label, "C": label, "D": label}')
    unknown = [a for a in answers.values() if a not in BUG_LABELS]
    if unknown:
        return report(name, False, "", f"unknown label {unknown[0]!r}: use one of {list(BUG_LABELS)}")
    key = _answer_key()
    wrong = [letter for letter in "ABCD" if answers[letter] != key[letter]]
    if not wrong:
        return report(name, True, "all four bugs found from their symptoms", "")
    first = wrong[0]
    return report(name, False, "", f"{4 - len(wrong)} of 4 right. Look again at {first}: {_BUG_HINTS[key[first]]}")


def ex07_layer_params(fn) -> Verdict:
    """Exercise 07.1: ``fn(d, value_dim, ffn_dim) -> int``, the number of parameters of one ``RetNetBlock``."""
    from retnet_edu.layers import RetNetBlock

    name = "Exercise 07.1"
    pending = _expect_callable(name, fn, "fn(d, value_dim, ffn_dim)")
    if pending is not None:
        return pending
    for d, V, F, H in ((64, 128, 85, 4), (32, 48, 40, 2), (16, 16, 8, 1)):
        want = sum(p.numel() for p in RetNetBlock(d, V, H, F).parameters())
        ok, got = _call(name, fn, d, V, F)
        if not ok:
            return got
        if got == want:
            continue
        if isinstance(got, numbers.Real) and got == want - 2 * d:
            return report(name, False, "", "almost: the two RMSNorms each have a gain vector of d weights")
        return report(name, False, "", f"d={d}, value_dim={V}, ffn_dim={F}: count q, k (d × d), v, g (d × value_dim), "
                      "out (value_dim × d), fc1, gate (d × ffn_dim), fc2 (ffn_dim × d): no biases")
    return report(name, True, "2d² + 3·d·value_dim + 3·d·ffn_dim + 2d, checked against the modules", "")


def ex07_ffn_width(F) -> Verdict:
    """Exercise 07.2: d = 768 and value_dim = 2d: the ffn_dim that makes a layer exactly 12 d² (norms aside)."""
    name = "Exercise 07.2"
    if unanswered(F):
        return _pending(name)
    if isinstance(F, bool) or not isinstance(F, numbers.Real):
        return report(name, False, "", "expected a number")
    if F == 1024:
        return report(name, True, "ffn_dim = 4d/3 = 1024: retention 8d² + gated FFN 3·d·(4d/3) = 4d² → 12d²", "")
    if F == 2 * 768:
        return report(name, False, "", "2d is the paper's width for a plain (ungated) FFN with two matrices; the gated "
                      "FFN has three")
    return report(name, False, "", "retention takes 2d² + 3·d·(2d) = 8d²; the gated FFN has three d × ffn_dim "
                  "matrices: solve 3·d·ffn_dim = 4d²")


def ex07_official_state(fn) -> Verdict:
    """Exercise 07.3: ``fn(prev_key_value, scale) -> S``: the package's recurrent state (B, H, d_k, d_v) from the
    official one (``prev_key_value`` (B, H, d_v, d_k), ``scale`` (H,))."""
    from retnet_edu.course.official_scaling import official_recurrent
    from retnet_edu.retention import decay_gammas, recurrent_retention

    name = "Exercise 07.3"
    pending = _expect_callable(name, fn, "fn(prev_key_value, scale)")
    if pending is not None:
        return pending
    gen = torch.Generator().manual_seed(7)
    q, k = (torch.randn(2, 3, 9, 4, generator=gen, dtype=torch.float64) for _ in range(2))
    v = torch.randn(2, 3, 9, 6, generator=gen, dtype=torch.float64)
    gamma = decay_gammas(3)
    _, kv, scale = official_recurrent(q, k, v, gamma)
    _, S = recurrent_retention(q, k, v, gamma)
    ok, got = _call(name, fn, kv.clone(), scale.clone())
    if not ok:
        return got
    if _same(got, S):
        return report(name, True, "S = prev_key_valueᵀ · √scale: the official state is the paper's, transposed and "
                      "divided by √S_(T-1)", "")
    if not isinstance(got, torch.Tensor) or got.shape != S.shape:
        return report(name, False, "", f"S must have shape (B, H, d_k, d_v) = {tuple(S.shape)}: the official state "
                      "is stored transposed")
    if _same(got, kv.transpose(-1, -2)):
        return report(name, False, "", "right shape, but the official state is also divided by √scale")
    if _same(got, kv.transpose(-1, -2) * scale[None, :, None, None]):
        return report(name, False, "", "the official state is divided by the square root of scale, not by scale")
    return report(name, False, "", "transpose the last two dimensions and undo the official scaling (one factor per head)")


def ex07_greedy_decode(fn) -> Verdict:
    """Exercise 07.4: ``fn(model, prompt, n_new) -> tokens``: greedy decoding that reads the prompt (1, T) once in
    parallel mode and then adds one token per recurrent step, carrying the state. Returns (1, T + n_new)."""
    from retnet_edu.model import RetNetConfig, RetNetLM

    name = "Exercise 07.4"
    pending = _expect_callable(name, fn, "fn(model, prompt, n_new)")
    if pending is not None:
        return pending

    class CountingLM(RetNetLM):
        tokens_read = 0

        def forward(self, tokens, *args, **kwargs):
            self.tokens_read += int(tokens.shape[1])
            return super().forward(tokens, *args, **kwargs)

    torch.manual_seed(3)
    model = CountingLM(RetNetConfig(vocab_size=23, embed_dim=16, num_layers=2, num_heads=2)).double().eval()
    prompt = torch.randint(0, 23, (1, 7), generator=torch.Generator().manual_seed(4))
    want = model.generate(prompt, 9, temperature=0.0, mode="parallel")
    model.tokens_read = 0
    with torch.no_grad():
        ok, got = _call(name, fn, model, prompt.clone(), 9)
    if not ok:
        return got
    if not isinstance(got, torch.Tensor) or tuple(got.shape) != (1, 16):
        return report(name, False, "", "return the prompt followed by the new tokens, shape (1, T + n_new)")
    if not torch.equal(got, want):
        return report(name, False, "", "different tokens from greedy decoding: take argmax of the last position's "
                      "logits, and pass the state returned by each call to the next")
    if model.tokens_read > 7 + 9:
        return report(name, False, "", f"right tokens, but the model read {model.tokens_read} tokens for a 7-token "
                      "prompt and 9 new ones: read the prompt once, then feed only the newest token with the state")
    return report(name, True, f"same tokens as recomputing everything, reading {model.tokens_read} tokens in all", "")


# ---------------------------------------------------------------------------------------------------------
# 08_training_a_small_retnet
# ---------------------------------------------------------------------------------------------------------
__all__ += ["ex08_uniform_loss", "ex08_lr_schedule", "ex08_kv_crossover"]


def ex08_uniform_loss(loss) -> Verdict:
    """Exercise 08.1: the cross-entropy (nats per character) of a model that gives each of the corpus's
    characters the same probability."""
    from retnet_edu.experiments.data import CORPUS_VOCAB_SIZE

    name, V = "Exercise 08.1", CORPUS_VOCAB_SIZE
    if unanswered(loss):
        return _pending(name)
    value = _as_float(loss)
    if value is not None:
        for wrong, hint in ((math.log2(V), "that is in bits (log base 2); the course measures loss in nats, "
                                           "with the natural logarithm"),
                            (1 / V, "that is the probability of one character; the loss is minus its logarithm"),
                            (float(V), "that is the perplexity exp(loss), not the loss itself")):
            if math.isclose(value, wrong, rel_tol=1e-6):
                return report(name, False, "", hint)
    return check_close(name, loss, math.log(V), rtol=1e-6,
                       hint="each character gets probability 1/V with V the vocabulary size; the loss of one "
                            "character is -ln p(correct character)",
                       success=f"ln {V} = {math.log(V):.4f} nats: a model must beat this to have learnt anything")


def ex08_lr_schedule(fn) -> Verdict:
    """Exercise 08.2: ``fn(step, lr, min_lr, warmup_steps, max_steps)``, the warm-up + cosine learning rate of
    ``retnet_edu.experiments.train.lr_at`` (checked on several settings, every step and a few steps past the end)."""
    from retnet_edu.experiments.train import lr_at

    name = "Exercise 08.2"
    if unanswered(fn):
        return _pending(name)
    if not callable(fn):
        return report(name, False, "", f"expected a function lr(step, lr, min_lr, warmup_steps, max_steps), "
                                       f"got {type(fn).__name__}")
    try:
        if unanswered(fn(0, 1.0, 0.1, 10, 100)):   # the exercise's template still returns ...
            return _pending(name)
    except Exception:  # noqa: BLE001 - reported below, with the step it happened at
        pass
    settings = [(1e-3, 1e-4, 10, 100), (3e-3, 3e-4, 50, 600), (1.0, 0.0, 1, 7), (2.0, 0.5, 3, 20)]
    for lr, min_lr, warmup, max_steps in settings:
        for step in range(max_steps + 3):
            want = lr_at(step, lr, min_lr, warmup, max_steps)
            try:
                got = float(fn(step, lr, min_lr, warmup, max_steps))
            except Exception as err:  # noqa: BLE001 - any error in the learner's code becomes a hint
                return report(name, False, "", f"your function raised {type(err).__name__}: {err} "
                                               f"(at step={step}, warmup_steps={warmup}, max_steps={max_steps})")
            if math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12):
                continue
            where = f"step={step}, lr={lr}, min_lr={min_lr}, warmup_steps={warmup}, max_steps={max_steps}"
            if step < warmup:
                if math.isclose(got, lr * step / warmup, rel_tol=1e-9, abs_tol=1e-12):
                    hint = "the warm-up is one step late: step 0 should already use lr/warmup_steps, not 0"
                else:
                    hint = "during the warm-up the rate grows linearly, reaching lr at the last warm-up step"
            elif step >= max_steps:
                hint = "from max_steps on the rate stays at min_lr"
            else:
                p = (step - warmup) / (max_steps - warmup)
                if math.isclose(got, lr - (lr - min_lr) * p, rel_tol=1e-9, abs_tol=1e-12):
                    hint = "that decay is a straight line; the schedule follows half a cosine, ½(1 + cos πp)"
                elif math.isclose(got, 0.5 * (1 + math.cos(math.pi * p)) * lr, rel_tol=1e-9, abs_tol=1e-12):
                    hint = "the cosine should end at min_lr, not at 0: scale it by (lr - min_lr) and add min_lr"
                else:
                    hint = ("after the warm-up: p = (step - warmup_steps)/(max_steps - warmup_steps), "
                            "rate = min_lr + ½(1 + cos πp)(lr - min_lr)")
            return report(name, False, "", f"{hint} (first wrong rate at {where}: yours is {got:.6g})")
    return report(name, True, "warm-up and cosine decay agree with retnet_edu.experiments.train.lr_at at every step", "")


def ex08_kv_crossover(tokens, embed_dim: int = 384, num_heads: int = 6) -> Verdict:
    """Exercise 08.3: after how many tokens does a Transformer's KV cache hold as many numbers as RetNet's
    recurrent state, per layer, for width ``embed_dim`` and ``num_heads`` heads (RetNet value width 2·d)?"""
    name = "Exercise 08.3"
    if unanswered(tokens):
        return _pending(name)
    d, H = embed_dim, num_heads
    state = H * (d // H) * (2 * d // H)
    value = _as_float(tokens)
    if value is not None and math.isclose(value, state, rel_tol=1e-9):
        return report(name, False, "", "that is the size of RetNet's state (numbers per layer); divide it by how "
                                       "many numbers the KV cache adds per token")
    if value is not None and math.isclose(value, state / d, rel_tol=1e-9):
        return report(name, False, "", "each token adds a key AND a value to the cache: 2·d numbers per layer")
    return check_close(name, tokens, d / H, rtol=1e-9,
                       hint="per layer the state is H · d_k · d_v numbers (d_k = d/H, d_v = 2d/H); the cache "
                            "grows by 2·d numbers per token (one key and one value of width d)",
                       success=f"T = d/H = {d // H} tokens: beyond the head width, the cache is the bigger one")


# ---------------------------------------------------------------------------------------------------------
# 09_inference_cost
# ---------------------------------------------------------------------------------------------------------
__all__ += ["ex09_kv_cache_gib", "ex09_ideal_ratio", "ex09_overhead_speedup", "ex09_batch_fit"]


def ex09_kv_cache_gib(gib) -> Verdict:
    """Exercise 09.1: GiB of KV cache one 8192-token sequence needs in a 6.7B Transformer (32 layers, d = 4096,
    float16)."""
    name = "Exercise 09.1"
    if unanswered(gib):
        return _pending(name)
    value = _as_float(gib)
    right = 2 * 32 * 8192 * 4096 * 2 / 2 ** 30
    wrong = {right / 2: "one key AND one value per token and layer: twice what you have",
             right / 32: "every one of the 32 layers keeps its own keys and values",
             right * 2: "float16 takes 2 bytes per number, not 4",
             2 * 32 * 8192 * 4096 * 2 / 1e9: "a GiB is 2^30 bytes, not 10^9"}
    if value is not None:
        for w, hint in wrong.items():
            if math.isclose(value, w, rel_tol=1e-6):
                return report(name, False, "", hint)
    return check_close(name, gib, right, rtol=1e-6,
                       hint="count numbers first: per token and layer one key and one value of width d; then "
                            "bytes (2 per float16 number), then divide by 2^30",
                       success="4 GiB per sequence, a third of the weights' 12.5 GiB, and growing with every token")


def _ideal_ratio(weight_bytes, state_bytes, kv_bytes_per_token, context, batch):
    return (weight_bytes + batch * kv_bytes_per_token * context) / (weight_bytes + batch * state_bytes)


def ex09_ideal_ratio(fn) -> Verdict:
    """Exercise 09.2: ``fn(weight_bytes, state_bytes, kv_bytes_per_token, context, batch)``: the speed-up of
    recurrent decoding over a KV cache when a step's time is proportional to the bytes it reads."""
    name = "Exercise 09.2"
    pending = _expect_callable(name, fn, "fn(weight_bytes, state_bytes, kv_bytes_per_token, context, batch)")
    if pending is not None:
        return pending
    cases = [(3.3e6, 131072, 4096, 8192, 1), (3.3e6, 131072, 4096, 128, 8), (13.4e9, 134217728, 524288, 8192, 8),
             (1000.0, 50.0, 2.0, 0, 3)]
    for args in cases:
        ok, out = _call(name, fn, *args)
        if not ok:
            return out
        value = _as_float(out)
        if value is None:
            return report(name, False, "", f"return one number, got {type(out).__name__}")
        want = _ideal_ratio(*args)
        if math.isclose(value, want, rel_tol=1e-9):
            continue
        W, S, kv, t, B = args
        if math.isclose(value, (W + kv * t) / (W + S), rel_tol=1e-9) and B > 1:
            # (B·W + B·kv·t) / (B·W + B·S) is the same number: weights counted per sequence = batch ignored
            return report(name, False, "", "with a batch of B sequences the weights are read once per step for all "
                                            "of them, while every sequence reads its own state or cache")
        if math.isclose(value, (kv * t) / S if S else math.inf, rel_tol=1e-9):
            return report(name, False, "", "both models also read every weight once per step: add them on both sides")
        if math.isclose(value, 1 / want, rel_tol=1e-9):
            return report(name, False, "", "upside down: the speed-up is the Transformer's bytes over RetNet's")
        return report(name, False, "", f"not right for context {t}, batch {B}: time ∝ bytes read = weights + what "
                                        "each sequence reads (state, or cache of all earlier tokens)")
    return report(name, True, "(W + B·t·kv) / (W + B·S): near 1 while the weights dominate, growing with t and B", "")


def ex09_overhead_speedup(ratio) -> Verdict:
    """Exercise 09.3: a step costs 2.0 ms of fixed work plus its bytes at 10 GB/s; RetNet reads 4 MB, the
    Transformer 36 MB. The measured speed ratio to expect."""
    name = "Exercise 09.3"
    if unanswered(ratio):
        return _pending(name)
    value = _as_float(ratio)
    if value is not None and math.isclose(value, 9.0, rel_tol=1e-6):
        return report(name, False, "", "that is the bytes ratio: both steps also pay the same fixed 2 ms")
    if value is not None and math.isclose(value, (2.0 + 3.6) / 0.4, rel_tol=1e-6):
        return report(name, False, "", "RetNet's step pays the fixed 2 ms too")
    if value is not None and math.isclose(value, (2.0 + 0.4) / (2.0 + 3.6), rel_tol=1e-6):
        return report(name, False, "", "upside down: the speed-up is the Transformer's time over RetNet's")
    return check_close(name, ratio, (2.0 + 3.6) / (2.0 + 0.4), rtol=1e-4,
                       hint="time = fixed + bytes / bandwidth for each model (36 MB at 10 GB/s is 3.6 ms), then "
                            "divide the two times",
                       success="5.6 ms / 2.4 ms ≈ 2.33: a fixed cost per step pulls the ratio towards 1")


def ex09_batch_fit(answer) -> Verdict:
    """Exercise 09.4: with 80 GiB of memory of which the weights take 13 GiB, how many sequences of 8192 tokens
    fit at once: (Transformer with a 4 GiB KV cache each, RetNet with a 0.125 GiB state each)."""
    name = "Exercise 09.4"
    if unanswered(answer):
        return _pending(name)
    try:
        values = tuple(answer)
        if len(values) != 2:
            raise ValueError
        trans, ret = (_integer(v) for v in values)
        if trans is None or ret is None:
            raise ValueError
    except (TypeError, ValueError):
        return report(name, False, "", "answer with two whole numbers: (Transformer sequences, RetNet sequences)")
    if (trans, ret) == (16, 536):
        return report(name, True, "16 vs 536 sequences: the cache, not the arithmetic, caps a Transformer's batch "
                                  "(and so its throughput)", "")
    if (trans, ret) == (20, 640):
        return report(name, False, "", "the weights sit in the same memory: only 80 - 13 GiB are left for caches")
    if (trans, ret) in ((17, 536), (16, 537), (17, 537)):
        return report(name, False, "", "a sequence fits only if all of its cache fits: round down")
    if ret == trans:
        return report(name, False, "", "RetNet's state is far smaller than the cache: the two counts differ")
    return report(name, False, "", "free memory = 80 - 13 GiB; divide it by what one sequence needs, for each model, "
                                   "and keep whole sequences")


# ---------------------------------------------------------------------------------------------------------
# 10_retnet_vs_hyena_mini_lra
# ---------------------------------------------------------------------------------------------------------
__all__ += ["ex10_listops_value", "ex10_causal_fft_conv", "ex10_guessing_plateau", "ex10_hyena_ffn_width"]


def ex10_listops_value(fn) -> Verdict:
    """Exercise 10.1: ``fn(tokens)`` evaluates a ListOps expression given as a list of token strings
    (``"[MIN"``, ``"[MAX"``, ``"[MED"``, ``"[SM"``, digits, ``"]"``) and returns its value, an int 0-9."""
    from retnet_edu.experiments.tasks import listops_expressions

    name = "Exercise 10.1"
    if unanswered(fn):
        return _pending(name)
    simple = [("[MIN 3 1 2 ]", 1, "MIN is the smallest argument"), ("[MAX 3 1 2 ]", 3, "MAX is the largest argument"),
              ("[MED 4 1 9 ]", 4, "MED of an odd number of arguments is the middle one once they are sorted"),
              ("[MED 2 5 ]", 3, "MED of an even number of arguments is the mean of the middle two, rounded down "
                                "(LRA takes int(np.median(...)))"),
              ("[MED 1 2 9 9 ]", 5, "MED of an even number of arguments is the mean of the middle two, rounded down"),
              ("[SM 9 8 7 ]", 4, "SM is the sum of the arguments modulo 10"), ("7", 7, "a lone digit is its own value")]
    nested = [("[MAX 4 3 [MIN 2 3 ] 1 0 [MED 1 5 8 9 2 ] ]", 5)]
    nested += [(" ".join(t), v) for t, v in listops_expressions(60, 5, 60, max_depth=5, max_args=5, seed=10)]
    stack_hint = ("nested lists: read left to right with a stack, push a new list at each [OP, append digits to "
                  "the list on top, and at ] apply its operator and append the result to the list below")
    for expr, value, hint in simple + [(e, v, stack_hint) for e, v in nested]:
        ok, got = _call(name, fn, expr.split())
        if not ok:
            return got
        got_int = _integer(got)
        if got_int is None:
            return report(name, False, "", f"expected an int for {expr!r}, got {type(got).__name__}")
        if got_int != value:
            return report(name, False, "", f"{hint} (yours gives {got_int} for {expr!r})")
    return report(name, True, f"{len(simple) + len(nested)} expressions evaluated correctly, nested ones included", "")


def ex10_causal_fft_conv(fn) -> Verdict:
    """Exercise 10.2: ``fn(u, h)`` with u, h (C, T) float64 returns the causal convolution
    ``y[c, n] = Σ_{m≤n} h[c, m] u[c, n-m]`` (C, T), computed with ``torch.fft``."""
    name = "Exercise 10.2"
    if unanswered(fn):
        return _pending(name)
    u, h = _seeded((3, 12), (3, 12), seed=21)
    ok, out = _call(name, fn, u, h)
    if not ok:
        return out
    got = _tensor(out)
    n = torch.arange(12)
    lag = n[:, None] - n[None, :]
    toeplitz = torch.where(lag >= 0, h[:, lag.clamp(min=0)], torch.zeros((), dtype=torch.float64))   # (C, T, T)
    want = (toeplitz @ u[:, :, None])[..., 0]
    if _same(got, want):
        u1, h1 = _seeded((2, 1), (2, 1), seed=22)
        ok, out1 = _call(name, fn, u1, h1)
        if not ok:
            return out1
        if not _same(_tensor(out1), u1 * h1):
            return report(name, False, "", "right for T = 12 but not for a single position (T = 1)")
        return report(name, True, "zero-padding to 2T makes the FFT's circular convolution causal: O(T log T)", "")
    if got is None or tuple(got.shape) != (3, 12):
        return report(name, False, "", f"expected a (C, T) = (3, 12) tensor, got shape "
                                       f"{None if got is None else tuple(got.shape)}")
    circular = torch.fft.irfft(torch.fft.rfft(u) * torch.fft.rfft(h), n=12)
    if _same(got, circular):
        return report(name, False, "", "that is a circular convolution: the end of the sequence wraps around onto "
                                       "its start (output 0 sees input T-1). Zero-pad u and h before the FFT")
    if _same(got, want.flip(-1)) or _same(got, (toeplitz.transpose(1, 2) @ u[:, :, None])[..., 0]):
        return report(name, False, "", "the convolution runs the wrong way: output n may only see inputs m ≤ n")
    return report(name, False, "", "pad both signals with zeros to length ≥ 2T - 1, multiply their rfft's, take the "
                                   "irfft at that length and keep the first T values")


def ex10_guessing_plateau(accuracy, num_pairs: int = 4, vocab_size: int = 64) -> Verdict:
    """Exercise 10.3: the MQAR accuracy of a model that has learnt that the answer is one of the values in the
    context, but not which one (it picks one of them at random)."""
    name = "Exercise 10.3"
    if unanswered(accuracy):
        return _pending(name)
    value = _as_float(accuracy)
    n_values = vocab_size - vocab_size // 2
    if value is not None:
        if value > 1:
            return report(name, False, "", "give the accuracy as a fraction between 0 and 1, not in per cent")
        if math.isclose(value, 1 / n_values, rel_tol=1e-6):
            return report(name, False, "", f"that is chance over all {n_values} value tokens; this model knows "
                                           "more: the answer is among the values of this sequence")
    return check_close(name, accuracy, 1 / num_pairs, rtol=1e-6,
                       hint="how many different values does one sequence hold, and how often does a random pick "
                            "among them hit the right one?",
                       success=f"1/N = {1 / num_pairs:.3f}: the plateau of the models that have not learnt to bind a "
                               "key to its value")


def ex10_hyena_ffn_width(F, embed_dim: int = 64, num_layers: int = 2, num_heads: int = 4, vocab_size: int = 16,
                         max_len: int = 64) -> Verdict:
    """Exercise 10.4: the feed-forward width F that gives a Hyena LM (width 64, 2 layers, filter_dim 16,
    pos_dim 9, short kernel 3) the parameter count of the RetNet LM of the same width, depth, heads and vocabulary
    (``RetNetConfig`` defaults otherwise), rounded to the nearest int."""
    from retnet_edu.baselines.hyena import matched_hyena_config
    from retnet_edu.model import RetNetConfig

    name = "Exercise 10.4"
    if unanswered(F):
        return _pending(name)
    retnet = RetNetConfig(vocab_size=vocab_size, embed_dim=embed_dim, num_layers=num_layers, num_heads=num_heads)
    want = matched_hyena_config(retnet, max_len=max_len).ffn_dim
    value = _integer(F)
    d = embed_dim
    if value is not None:
        if value == round(8 * d / 3):
            return report(name, False, "", "8d/3 matches the Transformer (4d² mixer); Hyena's mixer is 4d² plus a "
                                           "short convolution, D and a filter MLP: count them too")
        if value == retnet.ffn_dim:
            return report(name, False, "", "that is the RetNet's own FFN width; Hyena's mixer is smaller than "
                                           "retention's 8d², so its FFN must be wider")
    return check_close(name, F, want, rtol=1e-9,
                       hint="per layer, RetNet holds 2d² + 3·d·2d + 3·d·F_R + 2d; Hyena holds 4d² + (3d·3 + 3d) "
                            "+ d + (9·16 + 16 + 2(16² + 16) + 16 + 16·d) + 3·d·F + 2d; set them equal and solve for F",
                       success=f"F = {want}: the Hyena FFN is wider, paying for its smaller mixer")
