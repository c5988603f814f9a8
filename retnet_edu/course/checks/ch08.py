"""The exercise checkers of notebook 08 (``notebooks/08_training_a_small_retnet.ipynb``)."""

from __future__ import annotations

import math

from retnet_edu.course.checks._common import Verdict, _as_float, _pending, check_close, report, unanswered
from retnet_edu.experiments.data import CORPUS_VOCAB_SIZE
from retnet_edu.experiments.train import lr_at

__all__ = ["ex08_uniform_loss", "ex08_lr_schedule", "ex08_kv_crossover"]


def ex08_uniform_loss(loss) -> Verdict:
    """Exercise 08.1: the cross-entropy (nats per character) of a model that gives each of the corpus's
    characters the same probability."""
    name, V = "Exercise 08.1", CORPUS_VOCAB_SIZE
    if unanswered(loss):
        return _pending(name)
    value = _as_float(loss)
    if value is not None:
        for wrong, hint in (
            (
                math.log2(V),
                "that is in bits (log base 2); the course measures loss in nats, with the natural logarithm",
            ),
            (1 / V, "that is the probability of one character; the loss is minus its logarithm"),
            (float(V), "that is the perplexity exp(loss), not the loss itself"),
        ):
            if math.isclose(value, wrong, rel_tol=1e-6):
                return report(name, False, "", hint)
    return check_close(
        name,
        loss,
        math.log(V),
        rtol=1e-6,
        hint="each character gets probability 1/V with V the vocabulary size; the loss of one "
        "character is -ln p(correct character)",
        success=f"ln {V} = {math.log(V):.4f} nats: a model must beat this to have learnt anything",
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
