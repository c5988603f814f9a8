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
# 08_training_a_small_retnet
# ---------------------------------------------------------------------------------------------------------
__all__ += ["ex08_uniform_loss", "ex08_lr_schedule", "ex08_kv_crossover"]


def ex08_uniform_loss(loss) -> Verdict:
    """Exercise 08.1: the cross-entropy (nats per character) of a model that gives each of the corpus's
    characters the same probability."""
    from .data import CORPUS_VOCAB_SIZE

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
    ``retnet_edu.train.lr_at`` (checked on several settings, every step and a few steps past the end)."""
    from .train import lr_at

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
    return report(name, True, "warm-up and cosine decay agree with retnet_edu.train.lr_at at every step", "")


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
