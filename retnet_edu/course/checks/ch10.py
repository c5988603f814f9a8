"""The exercise checkers of notebook 10 (``notebooks/10_retnet_vs_hyena_mini_lra.ipynb``)."""

from __future__ import annotations

import math

import torch

from retnet_edu.baselines.hyena import matched_hyena_config
from retnet_edu.course.checks._common import (
    Verdict,
    _as_float,
    _call,
    _integer,
    _pending,
    _same,
    _seeded,
    _tensor,
    check_close,
    report,
    unanswered,
)
from retnet_edu.experiments.tasks import listops_expressions
from retnet_edu.model import RetNetConfig

__all__ = ["ex10_listops_value", "ex10_causal_fft_conv", "ex10_guessing_plateau", "ex10_hyena_ffn_width"]


def ex10_listops_value(fn) -> Verdict:
    """Exercise 10.1: ``fn(tokens)`` evaluates a ListOps expression given as a list of token strings
    (``"[MIN"``, ``"[MAX"``, ``"[MED"``, ``"[SM"``, digits, ``"]"``) and returns its value, an int 0-9."""
    name = "Exercise 10.1"
    if unanswered(fn):
        return _pending(name)
    simple = [
        ("[MIN 3 1 2 ]", 1, "MIN is the smallest argument"),
        ("[MAX 3 1 2 ]", 3, "MAX is the largest argument"),
        ("[MED 4 1 9 ]", 4, "MED of an odd number of arguments is the middle one once they are sorted"),
        (
            "[MED 2 5 ]",
            3,
            "MED of an even number of arguments is the mean of the middle two, rounded down "
            "(LRA takes int(np.median(...)))",
        ),
        ("[MED 1 2 9 9 ]", 5, "MED of an even number of arguments is the mean of the middle two, rounded down"),
        ("[SM 9 8 7 ]", 4, "SM is the sum of the arguments modulo 10"),
        ("7", 7, "a lone digit is its own value"),
    ]
    nested = [("[MAX 4 3 [MIN 2 3 ] 1 0 [MED 1 5 8 9 2 ] ]", 5)]
    nested += [(" ".join(t), v) for t, v in listops_expressions(60, 5, 60, max_depth=5, max_args=5, seed=10)]
    stack_hint = (
        "nested lists: read left to right with a stack, push a new list at each [OP, append digits to "
        "the list on top, and at ] apply its operator and append the result to the list below"
    )
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
    toeplitz = torch.where(lag >= 0, h[:, lag.clamp(min=0)], torch.zeros((), dtype=torch.float64))  # (C, T, T)
    want = (toeplitz @ u[:, :, None])[..., 0]
    note = ""
    if got is not None and got.shape == want.shape and not _same(got, want) and _same(got, want, tol=1e-5):
        note = " (yours agrees to float32 precision, ~1e-7, not float64's ~1e-16: right, and fine here)"
    if note or _same(got, want):
        u1, h1 = _seeded((2, 1), (2, 1), seed=22)
        ok, out1 = _call(name, fn, u1, h1)
        if not ok:
            return out1
        if not _same(_tensor(out1), u1 * h1, tol=1e-5):
            return report(name, False, "", "right for T = 12 but not for a single position (T = 1)")
        return report(
            name, True, "zero-padding to 2T makes the FFT's circular convolution causal: O(T log T)" + note, ""
        )
    if got is None or tuple(got.shape) != (3, 12):
        return report(
            name,
            False,
            "",
            f"expected a (C, T) = (3, 12) tensor, got shape {None if got is None else tuple(got.shape)}",
        )
    circular = torch.fft.irfft(torch.fft.rfft(u) * torch.fft.rfft(h), n=12)
    if _same(got, circular):
        return report(
            name,
            False,
            "",
            "that is a circular convolution: the end of the sequence wraps around onto "
            "its start (output 0 sees input T-1). Zero-pad u and h before the FFT",
        )
    if _same(got, want.flip(-1)) or _same(got, (toeplitz.transpose(1, 2) @ u[:, :, None])[..., 0]):
        return report(name, False, "", "the convolution runs the wrong way: output n may only see inputs m ≤ n")
    return report(
        name,
        False,
        "",
        "pad both signals with zeros to length ≥ 2T - 1, multiply their rfft's, take the "
        "irfft at that length and keep the first T values",
    )


def ex10_guessing_plateau(p, accuracy: float = 0.625, num_pairs: int = 4, vocab_size: int = 256) -> Verdict:
    """Exercise 10.3: a model scores ``accuracy`` on MQAR (``num_pairs`` pairs, a vocabulary of ``vocab_size``: the
    upper half are the value tokens). At each query it either recalls the right value (probability ``p``) or
    guesses uniformly among the ``num_pairs`` values of the key–value prefix. ``p`` = the fraction of queries it
    really recalls: ``(accuracy - 1/N) / (1 - 1/N)``."""
    name = "Exercise 10.3"
    if unanswered(p):
        return _pending(name)
    n = num_pairs
    want = (accuracy - 1 / n) / (1 - 1 / n)
    n_values = vocab_size - vocab_size // 2
    value = _as_float(p)
    if value is not None:
        if value > 1:
            return report(name, False, "", "give p as a fraction between 0 and 1, not in per cent")
        wrong = [
            (
                accuracy,
                "that is the accuracy itself: part of it comes from lucky guesses among the prefix's values. "
                "Write the accuracy as p·1 + (1 - p)·(the chance that a guess is right) and solve for p",
            ),
            (
                accuracy - 1 / n,
                "you subtracted the guessing rate but did not rescale: a guess happens only on the (1 - p) of "
                "the queries the model does not recall, so the accuracy is p + (1 - p)/N",
            ),
            (
                (accuracy - 1 / n_values) / (1 - 1 / n_values),
                f"that corrects for chance over all {n_values} value tokens; this model's guesses are among the "
                f"{n} values of the key–value prefix, which it has learnt to recognise",
            ),
        ]
        for bad, hint in wrong:
            if math.isclose(value, bad, rel_tol=1e-6) and not math.isclose(bad, want, rel_tol=1e-6):
                return report(name, False, "", hint)
    return check_close(
        name,
        p,
        want,
        rtol=1e-6,
        hint="the accuracy is p + (1 - p)/N: the recalled queries plus the lucky guesses among the N values",
        success=f"p = (a - 1/N)/(1 - 1/N) = {want:.3f}: the guessing plateau 1/N is this correction's zero point",
    )


def ex10_hyena_ffn_width(
    F, embed_dim: int = 128, num_layers: int = 4, num_heads: int = 4, vocab_size: int = 256, max_len: int = 128
) -> Verdict:
    """Exercise 10.4: the feed-forward width F that gives a Hyena LM (width 128, 4 layers, filter_dim 16,
    pos_dim 9, short kernel 3: the ``gpu`` preset's size) the parameter count of the RetNet LM of the same width,
    depth, heads and vocabulary (``RetNetConfig`` defaults otherwise), rounded to the nearest int. (At width 64
    notebook 10 prints the answer, 157, in section 4: the exercise asks for another width.)"""
    name = "Exercise 10.4"
    if unanswered(F):
        return _pending(name)
    retnet = RetNetConfig(vocab_size=vocab_size, embed_dim=embed_dim, num_layers=num_layers, num_heads=num_heads)
    want = matched_hyena_config(retnet, max_len=max_len).ffn_dim
    value = _integer(F)
    d = embed_dim
    if value is not None:
        if value == round(8 * d / 3):
            return report(
                name,
                False,
                "",
                "8d/3 matches the Transformer (4d² mixer); Hyena's mixer is 4d² plus a "
                "short convolution, D and a filter MLP: count them too",
            )
        if value == retnet.ffn_dim:
            return report(
                name,
                False,
                "",
                "that is the RetNet's own FFN width; Hyena's mixer is smaller than "
                "retention's 8d², so its FFN must be wider",
            )
        if d != 64:
            small = matched_hyena_config(
                RetNetConfig(vocab_size=vocab_size, embed_dim=64, num_layers=num_layers, num_heads=num_heads),
                max_len=max_len,
            ).ffn_dim
            if value == small:
                return report(
                    name,
                    False,
                    "",
                    f"{small} is the width at d = 64 (section 4 prints it); redo the count at d = {d}: the "
                    "terms in d² and in d grow differently, so F does not simply scale with d",
                )
    return check_close(
        name,
        F,
        want,
        rtol=1e-9,
        hint="per layer, RetNet holds 2d² + 3·d·2d + 3·d·F_R + 2d; Hyena holds 4d² + (3d·3 + 3d) "
        "+ d + (9·16 + 16 + 2(16² + 16) + 16 + 16·d) + 3·d·F + 2d; set them equal and solve for F",
        success=f"F = {want}: the Hyena FFN is wider, paying for its smaller mixer",
    )
