"""Notebook 09's exercise checkers (``retnet_edu.course.checks.ch09``): ✓ for a right answer, a hint
that names the mistake for each common wrong answer (never the answer itself), 'not answered yet' for
the placeholder, and no exception for a learner's bug."""

from retnet_edu.course import checks


def expect(capsys, ok, mark, words=()):
    out = capsys.readouterr().out
    assert bool(ok) == (mark == "✓") and mark in out, out
    for w in words:
        assert w in out, out
    return out


def test_ex09_kv_cache_gib(capsys):
    assert not checks.ex09_kv_cache_gib(...)
    assert "not answered yet" in capsys.readouterr().out
    expect(capsys, checks.ex09_kv_cache_gib(4.0), "✓")
    expect(capsys, checks.ex09_kv_cache_gib(2 * 32 * 8192 * 4096 * 2 / 2**30), "✓")
    for wrong, words in (
        (2.0, "AND"),
        (0.125, "32 layers"),
        (8.0, "2 bytes"),
        (4.294967296, "2^30"),
        (5.0, "count numbers first"),
    ):
        out = expect(capsys, checks.ex09_kv_cache_gib(wrong), "✗", [words])
        assert "4 GiB" not in out
    expect(capsys, checks.ex09_kv_cache_gib("4"), "✗", ["expected a number"])


def test_ex09_ideal_ratio(capsys):
    assert not checks.ex09_ideal_ratio(...)
    assert "not answered yet" in capsys.readouterr().out

    def stub(weight_bytes, state_bytes, kv_bytes_per_token, context, batch): ...

    assert not checks.ex09_ideal_ratio(stub)
    assert "not answered yet" in capsys.readouterr().out
    expect(capsys, checks.ex09_ideal_ratio(lambda W, S, kv, t, B: (W + B * kv * t) / (W + B * S)), "✓")
    cases = (
        (lambda W, S, kv, t, B: (B * W + B * kv * t) / (B * W + B * S), "once per step for all"),
        (lambda W, S, kv, t, B: (W + kv * t) / (W + S), "its own state"),
        (lambda W, S, kv, t, B: kv * t / S, "every weight"),
        (lambda W, S, kv, t, B: (W + B * S) / (W + B * kv * t), "upside down"),
        (lambda W, S, kv, t, B: 1.0, "not right for context"),
        (lambda W, S, kv, t, B: "x", "return one number"),
        (lambda W, S: 1.0, "raised TypeError"),
        (3, "expected a function"),
    )
    for fn, words in cases:
        out = expect(capsys, checks.ex09_ideal_ratio(fn), "✗", [words])
        assert "(W + B·t·kv)" not in out


def test_ex09_overhead_speedup(capsys):
    assert not checks.ex09_overhead_speedup(...)
    assert "not answered yet" in capsys.readouterr().out
    expect(capsys, checks.ex09_overhead_speedup(5.6 / 2.4), "✓")
    for wrong, words in (
        (9.0, "bytes ratio"),
        (14.0, "fixed 2 ms too"),
        (2.4 / 5.6, "upside down"),
        (3.0, "fixed + bytes / bandwidth"),
    ):
        out = expect(capsys, checks.ex09_overhead_speedup(wrong), "✗", [words])
        assert "2.33" not in out


def test_ex09_batch_fit(capsys):
    assert not checks.ex09_batch_fit(...)
    assert "not answered yet" in capsys.readouterr().out
    expect(capsys, checks.ex09_batch_fit((16, 536)), "✓")
    expect(capsys, checks.ex09_batch_fit([16.0, 536.0]), "✓")
    for wrong, words in (
        ((20, 640), "80 - 13"),
        ((17, 536), "round down"),
        ((16, 16), "far smaller"),
        ((3, 4), "free memory"),
        ((16,), "two whole numbers"),
        ("ab", "two whole numbers"),
        ((16.5, 536), "two whole numbers"),
    ):
        out = expect(capsys, checks.ex09_batch_fit(wrong), "✗", [words])
        assert "536" not in out.split("✗")[1]
