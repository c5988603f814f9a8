"""The exercise checkers of notebook 09 (``notebooks/09_inference_cost.ipynb``)."""

from __future__ import annotations

import math

from retnet_edu.course.checks._common import (
    Verdict,
    _as_float,
    _call,
    _expect_callable,
    _integer,
    _pending,
    check_close,
    report,
    unanswered,
)

__all__ = ["ex09_kv_cache_gib", "ex09_ideal_ratio", "ex09_overhead_speedup", "ex09_batch_fit"]


def ex09_kv_cache_gib(gib) -> Verdict:
    """Exercise 09.1: GiB of KV cache one 4096-token sequence needs in a 13B-class Transformer (40 layers,
    d = 5120, bfloat16)."""
    name = "Exercise 09.1"
    if unanswered(gib):
        return _pending(name)
    value = _as_float(gib)
    numbers_ = 2 * 40 * 4096 * 5120
    right = numbers_ * 2 / 2**30
    wrong = {
        right / 2: "one key AND one value per token and layer: twice what you have",
        right / 40: "every one of the 40 layers keeps its own keys and values",
        right * 2: "bfloat16 takes 2 bytes per number, not 4",
        numbers_ * 2 / 1e9: "a GiB is 2^30 bytes, not 10^9",
        2 * 32 * 8192 * 4096 * 2 / 2**30: "that is the 6.7B model at 8192 tokens of section 1: this one has 40 "
        "layers of width 5120 and 4096 tokens",
    }
    if value is not None:
        for w, hint in wrong.items():
            if math.isclose(value, w, rel_tol=1e-5):
                return report(name, False, "", hint)
    return check_close(
        name,
        gib,
        right,
        rtol=1e-5,
        hint="count numbers first: per token and layer one key and one value of width d; then "
        "bytes (2 per bfloat16 number), then divide by 2^30 (checked to 1e-5 relative: float32 arithmetic passes)",
        success="3.125 GiB per sequence after 4096 tokens, and growing with every token",
    )


_RTOL = 1e-5  # relative: a right answer computed in float32 (≈ 1e-7 off) passes, every named mistake is far off


def _ideal_ratio(weight_bytes, state_bytes, kv_bytes_per_token, context, batch):
    return (weight_bytes + batch * kv_bytes_per_token * context) / (weight_bytes + batch * state_bytes)


def ex09_ideal_ratio(fn) -> Verdict:
    """Exercise 09.2: ``fn(weight_bytes, state_bytes, kv_bytes_per_token, context, batch)``: the speed-up of
    recurrent decoding over a KV cache when a step's time is proportional to the bytes it reads."""
    name = "Exercise 09.2"
    pending = _expect_callable(name, fn, "fn(weight_bytes, state_bytes, kv_bytes_per_token, context, batch)")
    if pending is not None:
        return pending
    cases = [
        (3.3e6, 131072, 4096, 8192, 1),
        (3.3e6, 131072, 4096, 128, 8),
        (13.4e9, 134217728, 524288, 8192, 8),
        (1000.0, 50.0, 2.0, 0, 3),
    ]
    for args in cases:
        ok, out = _call(name, fn, *args)
        if not ok:
            return out
        value = _as_float(out)
        if value is None:
            return report(name, False, "", f"return one number, got {type(out).__name__}")
        want = _ideal_ratio(*args)
        if math.isclose(value, want, rel_tol=_RTOL):
            continue
        W, S, kv, t, B = args
        if math.isclose(value, (W + kv * t) / (W + S), rel_tol=_RTOL) and B > 1:
            # (B·W + B·kv·t) / (B·W + B·S) is the same number: weights counted per sequence = batch ignored
            return report(
                name,
                False,
                "",
                "with a batch of B sequences the weights are read once per step for all "
                "of them, while every sequence reads its own state or cache",
            )
        if math.isclose(value, (kv * t) / S if S else math.inf, rel_tol=_RTOL):
            return report(name, False, "", "both models also read every weight once per step: add them on both sides")
        if math.isclose(value, 1 / want, rel_tol=_RTOL):
            return report(name, False, "", "upside down: the speed-up is the Transformer's bytes over RetNet's")
        return report(
            name,
            False,
            "",
            f"not right for context {t}, batch {B}: time ∝ bytes read = weights + what "
            "each sequence reads (state, or cache of all earlier tokens); checked to 1e-5 relative, so float32 "
            "arithmetic passes",
        )
    return report(name, True, "(W + B·t·kv) / (W + B·S): near 1 while the weights dominate, growing with t and B", "")


def ex09_overhead_speedup(ratio) -> Verdict:
    """Exercise 09.3: a step costs 2.0 ms of fixed work plus its bytes at 10 GB/s; RetNet reads 4 MB, the
    Transformer 36 MB. The measured speed ratio to expect."""
    name = "Exercise 09.3"
    if unanswered(ratio):
        return _pending(name)
    value = _as_float(ratio)
    if value is not None and math.isclose(value, 9.0, rel_tol=1e-4):
        return report(name, False, "", "that is the bytes ratio: both steps also pay the same fixed 2 ms")
    if value is not None and math.isclose(value, (2.0 + 3.6) / 0.4, rel_tol=1e-4):
        return report(name, False, "", "RetNet's step pays the fixed 2 ms too")
    if value is not None and math.isclose(value, (2.0 + 0.4) / (2.0 + 3.6), rel_tol=1e-4):
        return report(name, False, "", "upside down: the speed-up is the Transformer's time over RetNet's")
    return check_close(
        name,
        ratio,
        (2.0 + 3.6) / (2.0 + 0.4),
        rtol=1e-4,
        hint="time = fixed + bytes / bandwidth for each model (36 MB at 10 GB/s is 3.6 ms), then divide the two times "
        "(checked to 1e-4 relative)",
        success="5.6 ms / 2.4 ms ≈ 2.33: a fixed cost per step pulls the ratio towards 1",
    )


def ex09_batch_fit(answer) -> Verdict:
    """Exercise 09.4: a 40 GiB GPU holds the 6.7B-class model's 12.8 GiB of weights; how many sequences of 16 384
    tokens fit at once: (Transformer with an 8 GiB KV cache each, RetNet with a 0.125 GiB state each)."""
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
    free = 40 - 12.8
    right = (math.floor(free / 8), math.floor(free / 0.125))  # (3, 217)
    if (trans, ret) == right:
        return report(
            name,
            True,
            "3 vs 217 sequences: at 16k tokens a 40 GiB GPU runs a Transformer at batch 3; the cache, not the "
            "arithmetic, caps its batch (and so its throughput)",
            "",
        )
    if (trans, ret) == (40 // 8, 40 * 8):
        return report(name, False, "", "the weights sit in the same memory: only 40 - 12.8 GiB are left for caches")
    if (trans, ret) in ((4, 217), (3, 218), (4, 218)):
        return report(name, False, "", "a sequence fits only if all of its cache fits: round down")
    if trans == math.floor(free / 4):
        return report(name, False, "", "the cache grows with the context: at 16 384 tokens it is twice the 8k one")
    if (trans, ret) in ((16, 537), (16, 536)):
        return report(name, False, "", "that is the 80 GiB GPU at 8192 tokens of section 1: this one has 40 GiB")
    if ret == trans:
        return report(name, False, "", "RetNet's state is far smaller than the cache: the two counts differ")
    return report(
        name,
        False,
        "",
        "free memory = 40 - 12.8 GiB; divide it by what one sequence needs, for each model, and keep whole sequences",
    )
