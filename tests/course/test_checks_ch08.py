"""Notebook 08's exercise checkers (``retnet_edu.course.checks.ch08``): ✓ for a right answer, a hint
that names the mistake for each common wrong answer (never the answer itself), 'not answered yet' for
the placeholder, and no exception for a learner's bug."""

import math

import torch

from retnet_edu.course import checks
from retnet_edu.course.checks.ch08 import (
    INITIAL_LOSS_SETTINGS,
    ex08_initial_loss,
    expected_initial_loss,
    initial_loss_tolerance,
)
from retnet_edu.experiments.train import lr_at


def test_expected_initial_loss_is_the_sampled_expectation():
    """The checker's reference (ln V + σ²/2 − (e^σ² − 1)/2V) against a float64 Monte-Carlo estimate of
    E[logsumexp(z) − z_target], and the large-V formula within the tolerance at every checked setting."""
    g = torch.Generator().manual_seed(0)
    for sigma, V in INITIAL_LOSS_SETTINGS:
        z = torch.randn(20_000, V, dtype=torch.float64, generator=g) * sigma
        sampled = float(torch.logsumexp(z, -1).mean())  # E[z_target] = 0 exactly, so left out (less noise)
        assert abs(sampled - expected_initial_loss(sigma, V)) < 5e-3, (sigma, V)  # the estimate's noise ≈ 1.5e-3
        assert abs(math.log(V) + sigma**2 / 2 - expected_initial_loss(sigma, V)) < initial_loss_tolerance(sigma) / 1.5


def test_ex08_initial_loss(capsys):
    assert not ex08_initial_loss(...)
    assert "not answered yet" in capsys.readouterr().out

    def stub(sigma, V):
        return ...

    assert not ex08_initial_loss(stub)
    assert "not answered yet" in capsys.readouterr().out
    right = [
        lambda sigma, V: math.log(V) + sigma**2 / 2,  # the large-V formula
        expected_initial_loss,  # the reference
        lambda sigma, V: torch.tensor(math.log(V) + sigma**2 / 2, dtype=torch.float32),  # a float32 tensor
    ]

    def sampled_float32(sigma, V):  # the natural Monte-Carlo answer, in float32, target logit included
        z = torch.randn(20_000, V, generator=torch.Generator().manual_seed(1)) * sigma
        return (torch.logsumexp(z, -1) - z[:, 0]).mean()

    for fn in right + [sampled_float32]:
        assert ex08_initial_loss(fn)
        out = capsys.readouterr().out
        assert "✓" in out and "ln V + σ²/2" in out
    for fn, words in (
        (lambda sigma, V: math.log(V), "uniform guess"),
        (lambda sigma, V: math.log(V) + sigma**2, "half of σ²"),
        (lambda sigma, V: math.log(V) - sigma**2 / 2, "raises the loss"),
        (lambda sigma, V: math.log2(V) + sigma**2 / 2 / math.log(2), "in bits"),
        (lambda sigma, V: math.log(V) + sigma / 2, "variance σ²"),
        (lambda sigma, V: 5.0, "logsumexp(z) − z_target"),
        (lambda sigma, V: float("nan"), "expected a number"),
        (lambda sigma, V: "4.8", "expected a number"),
        (lambda sigma: 4.8, "raised TypeError"),
        (4.8, "expected a function"),
    ):
        assert not ex08_initial_loss(fn)
        out = capsys.readouterr().out
        assert "✗" in out and words in out, out
        assert "σ²/2" not in out or words == "half of σ²"  # no hint gives the formula away


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
