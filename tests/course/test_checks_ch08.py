"""Notebook 08's exercise checkers (``retnet_edu.course.checks.ch08``): ✓ for a right answer, a hint
that names the mistake for each common wrong answer (never the answer itself), 'not answered yet' for
the placeholder, and no exception for a learner's bug."""

import math

from retnet_edu.course import checks
from retnet_edu.experiments.train import lr_at


def test_ex08_uniform_loss(capsys):
    assert not checks.ex08_uniform_loss(...)
    assert "not answered yet" in capsys.readouterr().out
    assert checks.ex08_uniform_loss(math.log(76))
    assert "✓" in capsys.readouterr().out
    for wrong, words in ((math.log2(76), "bits"), (1 / 76, "probability"), (76, "perplexity"), (3.0, "1/V")):
        assert not checks.ex08_uniform_loss(wrong)
        out = capsys.readouterr().out
        assert "✗" in out and words in out and "4.33" not in out
    assert not checks.ex08_uniform_loss("4.33")
    assert "expected a number" in capsys.readouterr().out


def test_ex08_lr_schedule(capsys):
    assert not checks.ex08_lr_schedule(...)
    assert "not answered yet" in capsys.readouterr().out

    def template(step, lr, min_lr, warmup_steps, max_steps):
        return ...

    assert not checks.ex08_lr_schedule(template)
    assert "not answered yet" in capsys.readouterr().out
    assert checks.ex08_lr_schedule(lr_at)
    assert "✓" in capsys.readouterr().out

    def late_warmup(s, lr, lo, w, n):
        return lr * s / w if s < w else lr_at(s, lr, lo, w, n)

    def linear(s, lr, lo, w, n):
        return lr_at(s, lr, lo, w, n) if s < w or s >= n else lr - (lr - lo) * (s - w) / (n - w)

    def to_zero(s, lr, lo, w, n):
        return lr_at(s, lr, lo, w, n) if s < w or s >= n else 0.5 * (1 + math.cos(math.pi * (s - w) / (n - w))) * lr

    def no_floor(s, lr, lo, w, n):
        return lr_at(s, lr, lo, w, n) if s < n else 0.0

    for fn, words in (
        (late_warmup, "one step late"),
        (linear, "straight line"),
        (to_zero, "end at min_lr"),
        (no_floor, "stays at min_lr"),
        (lambda s: 0.0, "raised TypeError"),
        (3.0, "expected a function"),
    ):
        assert not checks.ex08_lr_schedule(fn)
        out = capsys.readouterr().out
        assert "✗" in out and words in out, out


def test_ex08_kv_crossover(capsys):
    assert not checks.ex08_kv_crossover(...)
    assert "not answered yet" in capsys.readouterr().out
    assert checks.ex08_kv_crossover(64)
    assert checks.ex08_kv_crossover(48, embed_dim=96, num_heads=2)
    capsys.readouterr()
    for wrong, words in ((2 * 384 * 384 / 6, "size of RetNet's state"), (128, "a key AND a value"), (32, "H · d_k")):
        assert not checks.ex08_kv_crossover(wrong)
        out = capsys.readouterr().out
        assert "✗" in out and words in out, out
