"""What the checker tests assert about a checker's one printed line (``verdict``, ``expect_pass``,
``expect_hint``) and what it printed (``out``); imported by the tests of ``retnet_edu.course.checks``."""


def verdict(capsys, checker, answer):
    ok = checker(answer)
    out = capsys.readouterr().out
    assert out.count("\n") == 1, f"one line per check, got {out!r}"
    return bool(ok), out


def expect_pass(capsys, checker, answer):
    ok, out = verdict(capsys, checker, answer)
    assert ok and "✓" in out, out


def expect_hint(capsys, checker, answer, *words):
    ok, out = verdict(capsys, checker, answer)
    assert not ok and "✗" in out, out
    for w in words:
        assert w in out, f"hint should mention {w!r}: {out}"
    return out


def out(capsys):
    return capsys.readouterr().out
