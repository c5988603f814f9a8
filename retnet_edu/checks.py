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


# ---------------------------------------------------------------------------------------------------------
# part II: 05_chunkwise_retention, 06_three_modes_are_one, 07_multiscale_retention_and_the_block
# ---------------------------------------------------------------------------------------------------------
__all__ += ["ex05_decay_split", "ex05_state_update", "ex05_balance_chunk_size",
            "ex06_overflow_length", "ex06_bf16_heads", "ex06_eps_rms", "ex06_find_the_bug",
            "ex07_layer_params", "ex07_ffn_width", "ex07_official_state", "ex07_greedy_decode"]


def _call(name: str, fn, *args):
    """Call the learner's function. Returns (result, None), or (None, Verdict) when it raised (a ✗ line) or
    returned None (a function whose body is still the placeholder ``...``: not answered yet)."""
    try:
        result = fn(*args)
    except Exception as exc:  # noqa: BLE001 - any error in the learner's code is reported, not raised
        return None, report(name, False, "", f"your function raised {type(exc).__name__}: {exc}")
    if result is None:
        return None, _pending(name)
    return result, None


def _same(a, b, tol: float = 1e-10) -> bool:
    if not isinstance(a, torch.Tensor) or a.shape != b.shape:
        return False
    a, b = a.detach().double(), b.detach().double()
    return bool((a - b).abs().max() <= tol * max(1.0, float(b.abs().max())))


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
    from .retention import _powers, chunk_state_update

    name = "Exercise 05.2"
    pending = _expect_callable(name, fn, "fn(k, v, gamma, R_prev)")
    if pending is not None:
        return pending
    gen = torch.Generator().manual_seed(5)
    gamma = torch.tensor([0.5, 0.9, 0.97], dtype=torch.float64)
    for b in (4, 3, 1):
        k, v = (torch.randn(2, 3, b, d, generator=gen, dtype=torch.float64) for d in (4, 5))
        R_prev = torch.randn(2, 3, 4, 5, generator=gen, dtype=torch.float64)
        out, failed = _call(name, fn, k, v, gamma, R_prev)
        if failed is not None:
            return failed
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
    from .numerics import split_decay_overflow_length

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
    ``retnet_edu.buggy.BUG_LABELS``."""
    from .buggy import BUG_LABELS, _answer_key

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
    from .layers import RetNetBlock

    name = "Exercise 07.1"
    pending = _expect_callable(name, fn, "fn(d, value_dim, ffn_dim)")
    if pending is not None:
        return pending
    for d, V, F, H in ((64, 128, 85, 4), (32, 48, 40, 2), (16, 16, 8, 1)):
        want = sum(p.numel() for p in RetNetBlock(d, V, H, F).parameters())
        got, failed = _call(name, fn, d, V, F)
        if failed is not None:
            return failed
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
    from .official_scaling import official_recurrent
    from .retention import decay_gammas, recurrent_retention

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
    got, failed = _call(name, fn, kv.clone(), scale.clone())
    if failed is not None:
        return failed
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
    from .model import RetNetConfig, RetNetLM

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
        got, failed = _call(name, fn, model, prompt.clone(), 9)
    if failed is not None:
        return failed
    if not isinstance(got, torch.Tensor) or tuple(got.shape) != (1, 16):
        return report(name, False, "", "return the prompt followed by the new tokens, shape (1, T + n_new)")
    if not torch.equal(got, want):
        return report(name, False, "", "different tokens from greedy decoding: take argmax of the last position's "
                      "logits, and pass the state returned by each call to the next")
    if model.tokens_read > 7 + 9:
        return report(name, False, "", f"right tokens, but the model read {model.tokens_read} tokens for a 7-token "
                      "prompt and 9 new ones: read the prompt once, then feed only the newest token with the state")
    return report(name, True, f"same tokens as recomputing everything, reading {model.tokens_read} tokens in all", "")
