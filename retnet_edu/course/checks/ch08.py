"""The exercise checkers of notebook 08 (``notebooks/08_training_a_small_retnet.ipynb``)."""

from __future__ import annotations

import math

from retnet_edu.course.checks._common import (
    Verdict,
    _as_float,
    _expect_callable,
    _pending,
    _short,
    check_close,
    report,
    unanswered,
)
from retnet_edu.experiments.train import lr_at

__all__ = ["ex08_initial_loss", "ex08_lr_schedule", "ex08_kv_crossover"]


def expected_initial_loss(sigma: float, V: int) -> float:
    """E[logsumexp(z)] − E[z_target] for V independent N(0, σ²) logits and a target independent of them, to
    second order in the spread of the softmax's denominator: ln V + σ²/2 − (exp(σ²) − 1)/(2V) (the delta method
    on ln of the mean of exp(z_i); within 1e-3 of a Monte-Carlo estimate for σ ≤ 1.2 and V ≥ 76)."""
    return math.log(V) + sigma**2 / 2 - math.expm1(sigma**2) / (2 * V)


# (sigma, V): spreads like an untrained network's, vocabularies where ln V + σ²/2 is within 0.012 of the truth
INITIAL_LOSS_SETTINGS = ((0.3, 76), (1.0, 76), (0.5, 1000), (1.2, 1000))


def initial_loss_tolerance(sigma: float) -> float:
    """Nats: admits ln V + σ²/2 (≤ 0.012 off at these settings) and a Monte-Carlo estimate of ~10⁴ draws (noise
    about σ/√N); every named mistake is ≥ 0.04 off at σ = 0.3, the first setting checked."""
    return 0.02 + 0.03 * sigma**2


def ex08_initial_loss(fn) -> Verdict:
    """Exercise 08.1: ``fn(sigma, V)``, the expected loss (nats) at one position when the V logits are independent
    N(0, σ²) and the target is independent of them: ≈ ln V + σ²/2. Checked at several (σ, V) to within
    ``initial_loss_tolerance(σ)`` of ``expected_initial_loss``, so the large-V formula and a Monte-Carlo estimate
    (float32 or float64) both pass."""
    name = "Exercise 08.1"
    early = _expect_callable(name, fn, "initial_loss(sigma, V)")
    if early is not None:
        return early
    for sigma, V in INITIAL_LOSS_SETTINGS:
        try:
            got = fn(sigma, V)
        except Exception as err:  # noqa: BLE001 - a learner's bug becomes a hint
            return report(name, False, "", f"your function raised {_short(err)} (at sigma={sigma}, V={V})")
        if unanswered(got):
            return _pending(name)
        value = _as_float(got)
        if value is None or not math.isfinite(value):
            return report(name, False, "", f"expected a number from initial_loss(sigma, V), got {got!r:.60}")
        want = expected_initial_loss(sigma, V)
        if abs(value - want) <= initial_loss_tolerance(sigma):
            continue
        at = f"(at sigma={sigma}, V={V}: yours is {value:.4g})"
        for wrong, hint in (
            (math.log(V), "that is the uniform guess: it ignores the spread of the logits, and a spread costs"),
            (
                math.log(V) + sigma**2,
                "the spread costs half of σ²: E[exp(z)] = exp(σ²/2) for z ~ N(0, σ²)",
            ),
            (
                math.log(V) - sigma**2 / 2,
                "the spread raises the loss: log-sum-exp grows with it, and the target's logit is 0 on average",
            ),
            (math.log2(V) + sigma**2 / 2 / math.log(2), "that is in bits; the course measures loss in nats"),
            (math.log(V) + sigma / 2, "the cost of the spread goes with the variance σ², not with σ"),
        ):
            if abs(value - wrong) <= 1e-3 * max(1.0, abs(wrong)):
                return report(name, False, "", f"{hint} {at}")
        return report(
            name,
            False,
            "",
            "the loss is logsumexp(z) − z_target; the target's logit is 0 on average, and for many logits "
            f"Σ exp(z_i) ≈ V · E[exp(z)] (if you sample, take more draws: the noise is about σ/√N) {at}",
        )
    return report(
        name,
        True,
        "ln V + σ²/2: a spread of σ ≈ 1 costs about half a nat before any training",
        "",
    )


def ex08_lr_schedule(fn) -> Verdict:
    """Exercise 08.2: ``fn(step, lr, min_lr, warmup_steps, max_steps)``, the warm-up + cosine learning rate of
    ``retnet_edu.experiments.train.lr_at`` (checked on several settings, every step and a few steps past the end)."""
    name = "Exercise 08.2"
    if unanswered(fn):
        return _pending(name)
    if not callable(fn):
        return report(
            name,
            False,
            "",
            f"expected a function lr(step, lr, min_lr, warmup_steps, max_steps), got {type(fn).__name__}",
        )
    try:
        if unanswered(fn(0, 1.0, 0.1, 10, 100)):  # the exercise's template still returns ...
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
                return report(
                    name,
                    False,
                    "",
                    f"your function raised {type(err).__name__}: {err} "
                    f"(at step={step}, warmup_steps={warmup}, max_steps={max_steps})",
                )
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
                    hint = (
                        "after the warm-up: p = (step - warmup_steps)/(max_steps - warmup_steps), "
                        "rate = min_lr + ½(1 + cos πp)(lr - min_lr)"
                    )
            return report(name, False, "", f"{hint} (first wrong rate at {where}: yours is {got:.6g})")
    return report(
        name, True, "warm-up and cosine decay agree with retnet_edu.experiments.train.lr_at at every step", ""
    )


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
        return report(
            name,
            False,
            "",
            "that is the size of RetNet's state (numbers per layer); divide it by how "
            "many numbers the KV cache adds per token",
        )
    if value is not None and math.isclose(value, state / d, rel_tol=1e-9):
        return report(name, False, "", "each token adds a key AND a value to the cache: 2·d numbers per layer")
    return check_close(
        name,
        tokens,
        d / H,
        rtol=1e-9,
        hint="per layer the state is H · d_k · d_v numbers (d_k = d/H, d_v = 2d/H); the cache "
        "grows by 2·d numbers per token (one key and one value of width d)",
        success=f"T = d/H = {d // H} tokens: beyond the head width, the cache is the bigger one",
    )
