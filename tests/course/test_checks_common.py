"""What every exercise checker promises (``retnet_edu.course.checks._common``): 'not answered yet' for the
placeholder and for a stub function, a hint (never an exception) for an answer of the wrong type, a
``Verdict`` that shows nothing in IPython; and the package re-exports the checkers."""

import pytest
from verdicts import out, verdict

from retnet_edu.course import checks

PART1_CHECKERS = [getattr(checks, n) for n in checks.__all__ if n.startswith(("ex01_", "ex02_", "ex03_", "ex04_"))]


def test_sixteen_part1_checkers_exported():
    assert len(PART1_CHECKERS) == 16


@pytest.mark.parametrize("checker", PART1_CHECKERS, ids=lambda f: f.__name__)
def test_placeholder_is_not_answered_yet(capsys, checker):
    for placeholder in (..., None):
        ok, out = verdict(capsys, checker, placeholder)
        assert not ok and "not answered yet" in out and "✗" not in out


@pytest.mark.parametrize("checker", PART1_CHECKERS, ids=lambda f: f.__name__)
def test_wrong_type_never_raises(capsys, checker):
    ok, out = verdict(capsys, checker, "a string")
    assert not ok and "✗" in out


FUNCTION_CHECKERS = [
    checks.ex01_linear_attention_rnn,
    checks.ex01_relative_score,
    checks.ex02_decay_mask,
    checks.ex03_parallel_retention,
    checks.ex03_recurrent_retention,
    checks.ex03_multihead_retention,
    checks.ex04_rotate_every_two,
    checks.ex04_rotate,
]


@pytest.mark.parametrize("checker", FUNCTION_CHECKERS, ids=lambda f: f.__name__)
def test_a_stub_function_is_not_answered_yet(capsys, checker):
    def stub(*args): ...  # the learner has not written the body yet

    ok, out = verdict(capsys, checker, stub)
    assert not ok and "not answered yet" in out


PART2_CHECKERS = [getattr(checks, n) for n in checks.__all__ if n.startswith(("ex05_", "ex06_", "ex07_"))]


@pytest.mark.parametrize("checker", PART2_CHECKERS, ids=lambda f: f.__name__)
def test_placeholder_is_pending(checker, capsys):
    assert not checker(...)
    assert "not answered yet" in out(capsys)


@pytest.mark.parametrize(
    "checker",
    [checks.ex05_merge_halves, checks.ex05_block_entries, checks.ex07_model_params, checks.ex07_official_state],
    ids=lambda f: f.__name__,
)
def test_function_with_placeholder_body_is_pending(checker, capsys):
    def placeholder(*args): ...

    assert not checker(placeholder)
    assert "not answered yet" in out(capsys)


def test_verdict_is_silent_in_ipython():
    v = checks.Verdict(True)
    assert bool(v) and repr(v) == "Verdict(ok=True)" and v._ipython_display_() is None
