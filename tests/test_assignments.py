"""The nbgrader assignments (``python3 course.py assignments``, scripts/coursebuild/assignments.py): each course
notebook's checked exercises as an nbgrader exercise sheet, its answers (from the solutions notebook) in solution
regions, its checker calls as autograded tests with points.

The fast tests build sheets from small notebooks made here and check nbgrader's cell metadata. The slow ones build
every assignment into a temporary course folder, let nbgrader generate the blank sheets, and run nbgrader's
autograding on the solutions (full marks) and on the blank sheets (zero), offline.
"""

import importlib.util
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from coursebuild import assignments as A  # noqa: E402
from coursebuild.course_files import course_notebooks  # noqa: E402

sys.path.pop(0)

md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell


def write(path, *cells):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = list(cells)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def small_course(tmp_path, answer_second=True):
    learner = write(
        tmp_path / "notebooks" / "03_small.ipynb",
        md("# 03 · Small\n\nA lesson."),
        code("from retnet_edu.course import course_setup\n\ncourse_setup(seed=0)"),
        md("## 1. A section\n\nSee [04](04_next.ipynb)."),
        md(
            "## Exercises\n\nWorked answers: [solutions/03_small_solutions.ipynb]"
            "(solutions/03_small_solutions.ipynb).\n\n"
            "**Exercise 03.1.** Write `double`, as in [section 1](#1.-A-section)."
        ),
        code(
            "from retnet_edu.course import checks\n\n\ndef double(x): ...  # your code here\n\n\n"
            "checks.ex03_double(double)"
        ),
        md("**Exercise 03.2.** How many?"),
        code("count = ...  # your answer\n\nchecks.ex03_count(count)"),
        md("**Exercise 03.3 (explore).** Try other numbers."),
        md("## Summary\n\nDone."),
    )
    cells = [
        md("# Solutions · 03"),
        code("import math\n\nfrom retnet_edu.course import checks, course_setup\n\ncourse_setup(seed=0)"),
        code("HELPER = 2"),
        code(
            "def double(x):\n    return HELPER * x\n\n\nchecks.ex03_double(double)\nchecks.ex03_double(lambda x: x + x)"
        ),
    ]
    if answer_second:
        cells.append(code("n = 3\nprint(n)\nchecks.ex03_count(\n    n,\n)"))
    write(tmp_path / "notebooks" / "solutions" / "03_small_solutions.ipynb", *cells)
    return learner


def test_checker_calls_and_what_is_left_without_them():
    src = "x = 1\nchecks.ex03_a(x)\nok = checks.ex03_b(\n    x,\n)\nprint(ok)\nchecks.helper(x)"
    assert A.checker_calls(src) == [(2, 2, "ex03_a"), (3, 5, "ex03_b")]
    assert A.without_lines(src, [(2, 2), (3, 5)]) == "x = 1\nprint(ok)\nchecks.helper(x)"


def test_answer_bridge_gives_the_course_notebooks_names_the_solutions_values():
    tests = ["checks.ex12_writes((S_writes, o_read))"]
    assert A.answer_bridge(tests, ["S = 1\no = 2\nchecks.ex12_writes((S, o))"]) == (
        "# the course notebook's names for this answer\n(S_writes, o_read) = (S, o)"
    )
    assert A.answer_bridge(["checks.ex03_a(f)"], ["checks.ex03_a(g)\nchecks.ex03_a(f)"]) == "", "one call matches"
    assert A.answer_bridge(["checks.ex03_a(f(1))"], ["checks.ex03_a(g)"]) == "", "only names are bridged"


def test_a_sheet_from_a_notebook_and_its_solutions(tmp_path):
    sheet = A.make_sheet(small_course(tmp_path))
    assert sheet.assignment == "03_small" and sheet.title == "03 · Small"
    assert "course_setup(seed=0)" in sheet.setup and "import math" in sheet.setup
    first, second = sheet.exercises
    assert (first.name, first.checkers, first.points) == ("Exercise 03.1", ["ex03_double"], A.POINTS_FUNCTION)
    assert (second.name, second.checkers, second.points) == ("Exercise 03.2", ["ex03_count"], A.POINTS_VALUE)
    assert first.solution == "HELPER = 2\n\n\ndef double(x):\n    return HELPER * x"
    assert second.solution == "n = 3\nprint(n)\n\n\n# the course notebook's names for this answer\ncount = n"
    assert first.tests == ["checks.ex03_double(double)"] and second.tests == ["checks.ex03_count(count)"]
    assert first.statement.startswith("## Exercises\n\n**Exercise 03.1.**"), "the worked-answers pointer is left out"
    assert "as in section 1." in first.statement, "links to notebooks become plain text"
    assert sheet.after == ["**Exercise 03.3 (explore).** Try other numbers."]
    assert sheet.points == A.POINTS_FUNCTION + A.POINTS_VALUE


def test_nbgraders_metadata_on_every_cell(tmp_path):
    nb = A.sheet_notebook(A.make_sheet(small_course(tmp_path)))
    meta = [c.metadata["nbgrader"] for c in nb.cells]
    assert all(m["schema_version"] == 3 for m in meta)
    ids = [m["grade_id"] for m in meta]
    assert len(ids) == len(set(ids)), "grade ids must be unique"
    answers = [c for c in nb.cells if c.metadata["nbgrader"]["solution"]]
    tests = [c for c in nb.cells if c.metadata["nbgrader"]["grade"]]
    assert len(answers) == len(tests) == 2
    for c in answers:
        assert not c.metadata["nbgrader"]["locked"] and "points" not in c.metadata["nbgrader"]
        assert "### BEGIN SOLUTION\n" in c.source and c.source.rstrip().endswith("### END SOLUTION")
    assert "#     def double(x): ...  # your code here" in answers[0].source
    assert "checks.ex03_double" not in answers[0].source.split("### BEGIN SOLUTION")[1]
    assert [c.metadata["nbgrader"]["points"] for c in tests] == [A.POINTS_FUNCTION, A.POINTS_VALUE]
    assert all(c.metadata["nbgrader"]["locked"] for c in tests)
    assert "assert checks.ex03_double(double), 'Exercise 03.1 is not right yet" in tests[0].source
    others = [m for m in meta if not m["solution"] and not m["grade"]]
    assert others and all(m["locked"] for m in others), "set-up, statements and the rest are read-only"


def test_bad_courses_are_named(tmp_path):
    learner = small_course(tmp_path / "a", answer_second=False)
    with pytest.raises(ValueError, match=r"03_small.ipynb.*Exercise 03.2.*ex03_count"):
        A.make_sheet(learner)
    learner = small_course(tmp_path / "b")
    (learner.parent / "solutions" / "03_small_solutions.ipynb").unlink()
    with pytest.raises(ValueError, match="03_small.ipynb: its exercises have no solutions notebook"):
        A.make_sheet(learner)
    plain = write(tmp_path / "c" / "notebooks" / "00_plain.ipynb", md("# 00"), code("course_setup()"))
    assert A.make_sheet(plain) is None
    with pytest.raises(ValueError, match="student"):
        A.submit(tmp_path, "../x", "03_small", plain)


def test_set_up_switches_nbgraders_jupyter_extensions_off_and_keeps_the_rest():
    spec = importlib.util.spec_from_file_location("course_assignments_under_test", ROOT / "course.py")
    course = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(course)
    server = {"ServerApp": {"jpserver_extensions": {"jupyterlab": True}, "port": 1}}
    page = {"disabledExtensions": {"other": True}}
    new_server, new_page = course.nbgrader_off(server, page)
    ext = new_server["ServerApp"]["jpserver_extensions"]
    assert ext["jupyterlab"] is True and new_server["ServerApp"]["port"] == 1
    assert (
        all(ext[m] is False for m in course.NBGRADER_SERVER_EXTENSIONS) and len(course.NBGRADER_SERVER_EXTENSIONS) == 4
    )
    assert new_page["disabledExtensions"] == {"other": True, "@jupyter/nbgrader": True}
    assert server == {"ServerApp": {"jpserver_extensions": {"jupyterlab": True}, "port": 1}}, "inputs unchanged"
    assert course.nbgrader_off({}, {})[1] == {"disabledExtensions": {"@jupyter/nbgrader": True}}
    with pytest.raises(TypeError, match="page_config"):
        course.nbgrader_off({}, [])


# ---------------------------------------------------------------------------------------------------------------
# The real assignments, through nbgrader


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return A.build_assignments(out=tmp_path_factory.mktemp("assignments") / "course")


@pytest.mark.slow
def test_every_notebook_with_exercises_is_an_assignment_and_the_release_is_blank(built):
    expected = [p.stem for p in course_notebooks() if A.make_sheet(p) is not None]
    assert [s.assignment for s in built.sheets] == expected and len(expected) >= 10
    assert (built.out / "nbgrader_config.py").is_file()
    for sheet, release in zip(built.sheets, built.release, strict=True):
        nb = nbformat.read(release, as_version=4)
        answers = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]
        assert len(answers) == len(sheet.exercises) >= 2
        for c in answers:
            assert "BEGIN SOLUTION" not in c.source and "raise NotImplementedError()" in c.source
        points = sum(c.metadata["nbgrader"].get("points", 0) for c in nb.cells if c.metadata["nbgrader"]["grade"])
        assert points == sheet.points
    print(A.summary(built))


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Object of type .* not in session")  # nbgrader's gradebook, on SQLAlchemy 2
def test_nbgrader_gives_the_solutions_full_marks_and_the_blank_sheets_zero(built):
    solved, blank = A.check(built)
    print(A.grades_summary(solved, blank))
    assert [g.assignment for g in solved] == [s.assignment for s in built.sheets]
    for g, sheet in zip(solved, built.sheets, strict=True):
        assert g.max_score == sheet.points > 0
        assert g.score == g.max_score, f"{g.assignment}: the solutions scored {g.score}/{g.max_score}: {g.tests}"
    for g in blank:
        assert g.score == 0 and g.max_score > 0, f"{g.assignment}: the blank sheet scored {g.score}: {g.tests}"
