"""The exercise checkers of notebook 05 (``notebooks/05_chunkwise_retention.ipynb``)."""

from __future__ import annotations

import torch

from retnet_edu.course.checks._common import (
    Verdict,
    _call,
    _expect_callable,
    _pending,
    _same,
    check_close,
    report,
    unanswered,
)
from retnet_edu.kernels import decay_powers
from retnet_edu.retention import chunk_state_update

__all__ = ["ex05_decay_split", "ex05_state_update", "ex05_balance_chunk_size"]


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
        return report(
            name,
            True,
            "γ^2 (ξ_1) · γ^1 (ζ_2) · (γ^4)^2 = γ^11: the three factors cover the distance 13 - 2 exactly",
            "",
        )
    if xi + zeta + 4 * hops != 11:
        return report(
            name,
            False,
            "",
            f"γ^{xi} · γ^{zeta} · (γ^4)^{hops} = γ^{xi + zeta + 4 * hops}, not γ^11: the "
            "exponents must add up to n - m",
        )
    if (xi, zeta) == (1, 2):
        return report(
            name,
            False,
            "",
            "right total, but ξ and ζ are swapped: ξ_j belongs to the query's in-chunk row "
            "j, ζ_j' to the key's in-chunk row j'",
        )
    return report(
        name,
        False,
        "",
        "right total, wrong split: write n = iB + j and m = i'B + j', then count the "
        "state updates between chunk i' and chunk i",
    )


def ex05_state_update(fn) -> Verdict:
    """Exercise 05.2: ``fn(k, v, gamma, R_prev) -> R``, the chunk state update of eq. 7 for a chunk of any length b
    (k: (B, H, b, d_k), v: (B, H, b, d_v), gamma: (H,), R_prev: (B, H, d_k, d_v))."""
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
            return report(
                name,
                False,
                "",
                f"R must be a tensor of shape (B, H, d_k, d_v) = {tuple(want.shape)}, got "
                f"{tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__}",
            )
        j = torch.arange(b, dtype=torch.float64)
        decay_b = gamma.pow(b)[:, None, None]
        no_zeta = decay_b * R_prev + k.transpose(-1, -2) @ v
        if _same(out, no_zeta):
            return report(
                name,
                False,
                "",
                "this is the paper's Figure 4: every token of the chunk must also be "
                "decayed to the chunk's end (ζ_j = γ^(b-1-j))",
            )
        zeta_shift = decay_powers(gamma, b - j)
        if _same(out, decay_b * R_prev + k.transpose(-1, -2) @ (v * zeta_shift[..., None])):
            return report(name, False, "", "ζ is off by one: the chunk's last token (j = b-1) must get weight γ^0 = 1")
        if _same(out, k.transpose(-1, -2) @ (v * decay_powers(gamma, b - 1 - j)[..., None]) + R_prev):
            return report(name, False, "", "the old state must be decayed by γ^b before the chunk is added")
        return report(name, False, "", f"wrong for a chunk of {b} token(s): R_i = K_[i]ᵀ (V_[i] ⊙ ζ) + γ^b R_(i-1)")
    return report(name, True, "your update matches eq. 7 for chunks of 4, 3 and 1 tokens", "")


def ex05_balance_chunk_size(B) -> Verdict:
    """Exercise 05.3: for d_k = 64 and d_v = 128, the chunk size B (a real number) at which a chunk's inner part
    costs as many multiply-adds as its cross part plus its state update."""
    return check_close(
        "Exercise 05.3",
        B,
        2 * 64 * 128 / (64 + 128),
        rtol=1e-6,
        hint="inner: B²(d_k + d_v) per chunk; cross + state: 2 B d_k d_v per chunk; set them equal",
        success="B = 2 d_k d_v / (d_k + d_v) ≈ 85.3: below it the d_k × d_v state work dominates, "
        "above it the B × B blocks do",
    )
