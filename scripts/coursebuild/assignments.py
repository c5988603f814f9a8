"""nbgrader assignments from the course's exercises: ``build/assignments/`` is an nbgrader course folder.

One assignment per course notebook that has exercises with checkers, named like the notebook
(``03_retention_from_scratch``), holding one notebook: the exercise sheet. It is made from the course notebook and its
solutions notebook (both as stored; neither is edited):

* a title cell and the solutions notebook's set-up cell (imports, ``course_setup()``), read-only;
* per exercise: its statement (the course notebook's markdown before the exercise cell; links to other notebooks
  become plain text, the pointer to the worked answers is left out), read-only;
  then the **solution region**: a cell whose ``### BEGIN SOLUTION`` … ``### END SOLUTION`` holds the solutions
  notebook's code for that exercise (its code cells after the previous exercise's checker call, up to and including
  this exercise's; the checker calls themselves left out), with the course notebook's exercise cell shown above it
  as a comment; then the **autograded test**: the course notebook's checker call, ``assert checks.exNN_…(answer)``
  (a checker returns a truthy verdict only for a right answer), read-only, worth ``POINTS_FUNCTION`` points when the
  answer is a function the checker runs and ``POINTS_VALUE`` when it is a value;
* what follows the last exercise in the Exercises section (exploration exercises without a checker), read-only.

Cells carry nbgrader's metadata (``nbgrader: {grade, solution, locked, grade_id, points, schema_version: 3}``).
``build_assignments`` writes ``source/`` and runs ``nbgrader generate_assignment``, which writes ``release/`` (the
blank sheets: each solution region replaced by nbgrader's stub). ``autograde`` runs ``nbgrader autograde`` on
submitted notebooks and returns the scores from nbgrader's gradebook.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .course_files import BUILD_DIR, NOTEBOOK_DIR, ROOT, course_notebooks, solutions_of
from .website import rewrite_links

DEFAULT_OUT = BUILD_DIR / "assignments"
POINTS_FUNCTION = 2  # the answer is a function the checker runs on its own inputs
POINTS_VALUE = 1  # the answer is a number, a list, a tensor …
CHECKER = re.compile(r"\bchecks\.(ex\d\d\w*)\s*\(")
SCHEMA_VERSION = 3
CONFIG = """\
# nbgrader's configuration for the course's assignments (written by python3 course.py assignments).
c = get_config()  # noqa: F821
c.CourseDirectory.root = {root!r}
c.CourseDirectory.course_id = "retnet-edu"
c.Execute.timeout = 600  # seconds per cell: a checker may run a small model
c.ClearSolutions.code_stub = {{"python": "# YOUR CODE HERE\\nraise NotImplementedError()"}}
"""
TEST_ENV = {  # the settings the notebooks' outputs were made with (course.py's TEST_ENV)
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "PYTHONHASHSEED": "0",
    "RETNET_DEVICE": "cpu",
    "PYDEVD_DISABLE_FILE_VALIDATION": "1",
}


@dataclass
class Exercise:
    name: str  # "Exercise 03.1"
    checkers: list[str]  # checker function names, e.g. ["ex03_multihead_retention"]
    statement: str  # markdown
    learner_code: str  # the course notebook's exercise cell
    solution: str  # the code that answers it (from the solutions notebook)
    tests: list[str]  # the checker-call statements of the course notebook's cell
    points: int


@dataclass
class Sheet:
    assignment: str
    title: str
    setup: str
    exercises: list[Exercise]
    after: list[str] = field(default_factory=list)  # markdown after the last exercise (explorations)

    @property
    def points(self) -> int:
        return sum(e.points for e in self.exercises)


def checker_calls(code: str) -> list[tuple[int, int, str]]:
    """The top-level statements of ``code`` that call a checker (``checks.exNN_…(…)``), as (first line, last line,
    checker name), lines counted from 1. A statement that calls a checker inside something else (``ok =
    checks.ex…(…)``, an ``assert``) counts too."""
    tree = ast.parse(code)
    found = []
    for stmt in tree.body:
        names = [
            node.func.attr
            for node in ast.walk(stmt)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "checks"
            and re.fullmatch(r"ex\d\d\w*", node.func.attr)
        ]
        if names:
            found.append((stmt.lineno, stmt.end_lineno, names[0]))
    return found


def without_lines(code: str, spans: list[tuple[int, int]]) -> str:
    """``code`` without the lines of ``spans`` (first, last; from 1), trailing blank lines removed."""
    drop = {n for first, last in spans for n in range(first, last + 1)}
    lines = [ln for n, ln in enumerate(code.splitlines(), 1) if n not in drop]
    return "\n".join(lines).strip("\n")


def _call_arguments(code: str) -> list[tuple[str, list]]:
    """(checker name, positional argument nodes) of every checker call in ``code``."""
    found = []
    for node in ast.walk(ast.parse(code)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "checks"
        ):
            found.append((node.func.attr, node.args))
    return found


def _assignable(node) -> bool:
    if isinstance(node, ast.Name):
        return True
    return isinstance(node, (ast.Tuple, ast.List)) and all(isinstance(e, ast.Name) for e in node.elts)


def answer_bridge(tests: list[str], solution_cells: list[str]) -> str:
    """Assignments that give the course notebook's answer names the solutions notebook's values, where the two
    notebooks pass the checker different names (``checks.ex12_delta_writes((S_writes, o_read))`` in the course
    notebook, ``checks.ex12_delta_writes((S, o))`` in the solutions: ``S_writes, o_read = (S, o)``). Only arguments
    that are a name or a tuple of names in the course notebook are bridged; "" when nothing needs it."""
    solution_calls = [call for src in solution_cells for call in _call_arguments(src)]
    lines = []
    for test in tests:
        for name, args in _call_arguments(test):
            candidates = [a for n, a in solution_calls if n == name]
            if not candidates:
                continue
            wanted = [ast.unparse(a) for a in args]
            if any([ast.unparse(a) for a in c] == wanted for c in candidates):
                continue
            theirs = candidates[-1]
            for mine, other in zip(args, theirs, strict=False):
                if ast.unparse(mine) != ast.unparse(other) and _assignable(mine):
                    lines.append(f"{ast.unparse(mine)} = {ast.unparse(other)}")
    if not lines:
        return ""
    return "# the course notebook's names for this answer\n" + "\n".join(lines)


def _is_function_answer(learner_code: str) -> bool:
    return bool(re.search(r"^\s*def\s", learner_code, re.MULTILINE))


def _exercise_name(statement: str, fallback: str) -> str:
    m = re.search(r"\*\*(Exercise\s+\d+(?:\.\d+)*[a-z]?)", statement)
    return m.group(1) if m else fallback


def _statement_markdown(markdown: str) -> str:
    """A statement as the sheet shows it: links to other notebooks and to the lesson's sections as plain text, the
    worked-answers pointer left out."""
    paragraphs = re.split(r"\n\s*\n", markdown)
    kept = [p for p in paragraphs if not re.search(r"\]\([^)]*solutions[^)]*\)", p)]
    sheet = "notebooks/sheet.ipynb"  # no other page, no heading: every relative link and anchor becomes text
    text, _ = rewrite_links("\n\n".join(kept), sheet, set(), {sheet: {}})
    return text.strip()


def make_sheet(notebook: Path, solutions: Path | None = None) -> Sheet | None:
    """The exercise sheet of ``notebook`` (None when it has no checked exercises). ValueError naming the notebook
    when its solutions notebook is missing or does not answer an exercise, in order."""
    notebook = Path(notebook)
    solutions = solutions_of(notebook) if solutions is None else Path(solutions)
    nb = nbformat.read(notebook, as_version=4)
    cells = nb.cells
    ex_cells = [i for i, c in enumerate(cells) if c.cell_type == "code" and CHECKER.search(c.source)]
    if not ex_cells:
        return None
    if not solutions.is_file():
        raise ValueError(f"notebook {notebook.name}: its exercises have no solutions notebook at {solutions}")
    sol = nbformat.read(solutions, as_version=4)
    sol_code = [(i, c.source) for i, c in enumerate(sol.cells) if c.cell_type == "code"]
    if not sol_code:
        raise ValueError(f"notebook {notebook.name}: {solutions.name} has no code cells")
    setup_index, setup = sol_code[0]
    if "course_setup(" not in setup:
        raise ValueError(f"notebook {notebook.name}: the first code cell of {solutions.name} must call course_setup()")

    headings = [i for i, c in enumerate(cells) if c.cell_type == "markdown" and c.source.lstrip().startswith("## ")]
    start = max([h for h in headings if h < ex_cells[0]], default=ex_cells[0] - 1)
    title = re.sub(r"^#\s*", "", cells[0].source.strip().splitlines()[0]) if cells[0].cell_type == "markdown" else ""

    exercises = []
    previous_sol = setup_index
    previous_cell = start - 1
    for k, i in enumerate(ex_cells, 1):
        learner = cells[i].source
        calls = checker_calls(learner)
        names = [name for _, _, name in calls]
        lines = learner.splitlines()
        tests = ["\n".join(lines[a - 1 : b]) for a, b, _ in calls]
        statement = "\n\n".join(
            cells[j].source for j in range(previous_cell + 1, i) if cells[j].cell_type == "markdown"
        )
        name = _exercise_name(statement, f"Exercise {notebook.name[:2]}.{k}")
        answering = [j for j, src in sol_code if j > previous_sol and any(n in CHECKER.findall(src) for n in names)]
        if not answering:
            raise ValueError(
                f"notebook {notebook.name}: {solutions.name} has no answer to {name} ({', '.join(names)}) after "
                "the previous exercise's"
            )
        last = answering[-1]
        parts = []
        for j, src in sol_code:
            if previous_sol < j <= last:
                parts.append(without_lines(src, [(a, b) for a, b, _ in checker_calls(src)]))
        bridge = answer_bridge(tests, [src for j, src in sol_code if previous_sol < j <= last])
        if bridge:
            parts.append(bridge)
        solution = "\n\n\n".join(p for p in parts if p.strip())
        points = POINTS_FUNCTION if _is_function_answer(learner) else POINTS_VALUE
        exercises.append(Exercise(name, names, _statement_markdown(statement), learner, solution, tests, points))
        previous_sol, previous_cell = last, i

    after = []
    for j in range(ex_cells[-1] + 1, len(cells)):
        if cells[j].cell_type == "markdown" and cells[j].source.lstrip().startswith("## "):
            break
        if cells[j].cell_type == "markdown":
            after.append(_statement_markdown(cells[j].source))
    return Sheet(notebook.stem, title, setup, exercises, [a for a in after if a])


def _nbgrader(cell, grade_id: str, *, grade=False, solution=False, locked=False, points=None):
    meta = {"grade": grade, "solution": solution, "locked": locked, "grade_id": grade_id}
    meta["schema_version"] = SCHEMA_VERSION
    if grade:
        meta["points"] = points
    cell.metadata["nbgrader"] = meta
    return cell


def _grade_id(exercise: Exercise, suffix: str = "") -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", exercise.name.lower()).strip("_") + suffix


def placeholder_comment(ex: Exercise) -> str:
    """The course notebook's exercise cell as a comment above the answer (its import of ``checks`` and its checker
    call left out: the sheet has both), so that the learner sees the names and signature the checker expects."""
    code = without_lines(ex.learner_code, [(a, b) for a, b, _ in checker_calls(ex.learner_code)])
    lines = [ln for ln in code.splitlines() if ln.strip() != "from retnet_edu.course import checks"]
    text = re.sub(r"\n\s*\n(\s*\n)+", "\n\n", "\n".join(lines)).strip("\n")
    shown = "\n".join(f"#     {ln}" if ln.strip() else "#" for ln in text.splitlines())
    return f"# {ex.name}. In the course notebook, the cell for this answer reads:\n{shown}"


def sheet_notebook(sheet: Sheet):
    """The nbgrader source notebook of ``sheet`` (solutions inside BEGIN/END SOLUTION, tests with points)."""
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    intro = (
        f"# {sheet.title}: exercises\n\n"
        f"The exercises of the course notebook `{sheet.assignment}.ipynb`: read it first. Write each answer in the "
        "cell marked for it (in place of `raise NotImplementedError()`) and run the read-only cell after it: it "
        "runs the course's checker on your answer and fails with a hint until the answer is right. "
        f"{len(sheet.exercises)} checked exercises, {sheet.points} points "
        f"({POINTS_FUNCTION} for an answer that is a function, {POINTS_VALUE} for a value)."
    )
    cells = [_nbgrader(md(intro), "intro", locked=True), _nbgrader(code(sheet.setup), "setup", locked=True)]
    for ex in sheet.exercises:
        gid = _grade_id(ex)
        if ex.statement:
            cells.append(_nbgrader(md(ex.statement), gid + "_statement", locked=True))
        answer = f"{placeholder_comment(ex)}\n### BEGIN SOLUTION\n{ex.solution}\n### END SOLUTION\n"
        cells.append(_nbgrader(code(answer), gid + "_answer", solution=True))
        test = "from retnet_edu.course import checks\n\n" + "\n".join(
            f"assert {t.strip()}, {ex.name + ' is not right yet: see the line above'!r}" for t in ex.tests
        )
        cells.append(_nbgrader(code(test), gid, grade=True, locked=True, points=ex.points))
    for k, text in enumerate(sheet.after, 1):
        cells.append(_nbgrader(md(text), f"after_{k}", locked=True))
    nb.cells = cells
    return nb


@dataclass
class AssignmentsBuild:
    out: Path
    sheets: list[Sheet]
    seconds: float
    release: list[Path]


def write_config(course_dir: Path) -> Path:
    path = Path(course_dir) / "nbgrader_config.py"
    path.write_text(CONFIG.format(root=str(Path(course_dir).resolve())))
    return path


def _api(course_dir: Path):
    """nbgrader's API for the course folder ``course_dir``. nbgrader runs the ``alembic`` command of its own
    environment, so that environment's scripts folder goes first on PATH (course.py runs this with the venv's
    Python, without activating the venv)."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config

    scripts = str(Path(sys.executable).parent)
    if os.environ.get("PATH", "").split(os.pathsep)[0] != scripts:
        os.environ["PATH"] = scripts + os.pathsep + os.environ.get("PATH", "")
    course_dir = Path(course_dir).resolve()
    c = Config()
    c.CourseDirectory.root = str(course_dir)
    c.CourseDirectory.course_id = "retnet-edu"
    c.Execute.timeout = 600
    c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
    return NbGraderAPI(CourseDirectory(config=c), config=c)


def build_assignments(out: Path = DEFAULT_OUT, root: Path = ROOT) -> AssignmentsBuild:
    """Write the nbgrader course folder ``out``: ``nbgrader_config.py``, ``source/`` (one sheet per notebook with
    checked exercises) and ``release/`` (nbgrader's blank sheets, by ``generate_assignment``). A previous
    ``source/``, ``release/`` and gradebook are replaced."""
    out, root = Path(out), Path(root)
    t0 = time.perf_counter()
    notebooks = course_notebooks(root / NOTEBOOK_DIR.relative_to(ROOT))
    sheets = [s for s in (make_sheet(p) for p in notebooks) if s is not None]
    if not sheets:
        raise ValueError(f"root: no notebook under {root / 'notebooks'} has checked exercises")
    for sub in ("source", "release", "submitted", "autograded", "feedback"):
        shutil.rmtree(out / sub, ignore_errors=True)
    (out / "gradebook.db").unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    write_config(out)
    for sheet in sheets:
        folder = out / "source" / sheet.assignment
        folder.mkdir(parents=True)
        nbformat.write(sheet_notebook(sheet), folder / f"{sheet.assignment}.ipynb")
    api = _api(out)
    release = []
    for sheet in sheets:
        result = api.generate_assignment(sheet.assignment, force=True, create=True)
        if not result["success"]:
            raise RuntimeError(f"nbgrader generate_assignment {sheet.assignment} failed:\n{result.get('log', '')}")
        release.append(out / "release" / sheet.assignment / f"{sheet.assignment}.ipynb")
    return AssignmentsBuild(out, sheets, time.perf_counter() - t0, release)


@dataclass
class Grade:
    assignment: str
    student: str
    score: float
    max_score: float
    tests: dict[str, tuple[float, float]]  # grade_id → (score, max)
    seconds: float


def submit(course_dir: Path, student: str, assignment: str, notebook: Path) -> Path:
    """Put ``notebook`` where nbgrader collects submissions: ``submitted/STUDENT/ASSIGNMENT/ASSIGNMENT.ipynb``."""
    if not re.fullmatch(r"[A-Za-z0-9_-]+", student):
        raise ValueError(f"student must be letters, digits, _ or -, got {student!r}")
    dest = Path(course_dir) / "submitted" / student / assignment / f"{assignment}.ipynb"
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(notebook, dest)
    return dest


def autograde(course_dir: Path, student: str, assignments: list[str]) -> list[Grade]:
    """Run ``nbgrader autograde`` for ``student``'s submissions of ``assignments`` (in the course's test settings:
    one thread, the CPU) and read the scores from the gradebook."""
    from nbgrader.api import Gradebook

    course_dir = Path(course_dir).resolve()
    saved = {k: os.environ.get(k) for k in TEST_ENV}
    os.environ.update(TEST_ENV)
    try:
        api = _api(course_dir)
        grades = []
        for assignment in assignments:
            t0 = time.perf_counter()
            result = api.autograde(assignment, student, force=True, create=True)
            if not result["success"]:
                raise RuntimeError(f"nbgrader autograde {assignment} {student} failed:\n{result.get('log', '')}")
            with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}") as gb:
                sub = gb.find_submission(assignment, student)
                tests = {}
                for nb in sub.notebooks:
                    for g in nb.grades:
                        tests[g.name] = (float(g.score), float(g.max_score))
                grades.append(
                    Grade(assignment, student, float(sub.score), float(sub.max_score), tests, time.perf_counter() - t0)
                )
        return grades
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def check(build: AssignmentsBuild) -> tuple[list[Grade], list[Grade]]:
    """Autograde the source sheets (the solutions) as student ``solutions`` and the released sheets (blank) as
    student ``blank``; returns both lists of grades."""
    names = [s.assignment for s in build.sheets]
    for s in build.sheets:
        submit(build.out, "solutions", s.assignment, build.out / "source" / s.assignment / f"{s.assignment}.ipynb")
        submit(build.out, "blank", s.assignment, build.out / "release" / s.assignment / f"{s.assignment}.ipynb")
    return autograde(build.out, "solutions", names), autograde(build.out, "blank", names)


def summary(build: AssignmentsBuild) -> str:
    exercises = sum(len(s.exercises) for s in build.sheets)
    points = sum(s.points for s in build.sheets)
    lines = [
        f"assignments: {len(build.sheets)} in {build.out} ({exercises} autograded exercises, {points} points) "
        f"built in {build.seconds:.0f} s",
    ]
    for s in build.sheets:
        lines.append(f"  {s.assignment}: {len(s.exercises)} exercises, {s.points} points")
    lines.append(f"  source/ (with solutions) and release/ (blank, for learners); nbgrader_config.py in {build.out}")
    return "\n".join(lines)


def grades_summary(solutions: list[Grade], blank: list[Grade]) -> str:
    lines = ["nbgrader autograde:"]
    for s, b in zip(solutions, blank, strict=True):
        lines.append(
            f"  {s.assignment}: solutions {s.score:g}/{s.max_score:g} ({s.seconds:.0f} s), "
            f"blank {b.score:g}/{b.max_score:g} ({b.seconds:.0f} s)"
        )
    total = (sum(g.score for g in solutions), sum(g.score for g in blank), sum(g.max_score for g in solutions))
    lines.append(f"  total: solutions {total[0]:g}/{total[2]:g}, blank {total[1]:g}/{total[2]:g}")
    return "\n".join(lines)
