"""Every course notebook follows the template (CONTRIBUTING.md, "Adding a notebook") and is stored as a clean
top-to-bottom run.

Checked on the stored .ipynb files (fast, no kernel): title and template sections, the stable preamble first,
execution counts 1..n, no stored errors, no '<Figure ...>'/'[<matplotlib...>]' reprs (plot cells end with
plt.show()), no machine paths, nbval markers as cell tags (never as comments a learner sees), relative links that
resolve, exercises with a solutions notebook that exists.
"""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NB_DIR = ROOT / "notebooks"
COURSE = sorted(p for p in NB_DIR.glob("[0-9][0-9]_*.ipynb"))
SOLUTIONS = sorted((NB_DIR / "solutions").glob("*.ipynb"))
ALL = COURSE + SOLUTIONS


def load(p):
    return json.loads(p.read_text())


def src(cell):
    return "".join(cell["source"])


def test_there_are_notebooks():
    assert COURSE and (NB_DIR / "00_welcome_and_setup.ipynb") in COURSE


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_stored_as_clean_run(path):
    nb = load(path)
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    code = [c for c in nb["cells"] if c["cell_type"] == "code" and src(c).strip()]
    assert [c["execution_count"] for c in code] == list(range(1, len(code) + 1)), (
        "re-run top to bottom (course.py bless)"
    )
    assert "course_setup(" in src(code[0]), "the first code cell must call course_setup()"
    for c in code:
        assert "NBVAL" not in src(c).upper(), (
            f"nbval markers go into the cell's tags (nbval-ignore-output), not the code: {src(c)[:80]!r}"
        )
        tags = c.get("metadata", {}).get("tags", [])
        assert set(t for t in tags if t.startswith("nbval")) <= {"nbval-ignore-output", "nbval-skip"}, tags
        for out in c["outputs"]:
            assert out["output_type"] != "error", f"stored error in: {src(c)[:80]!r}"
            text = "".join(out.get("text", "")) + "".join(out.get("data", {}).get("text/plain", ""))
            assert not re.search(
                r"\[<matplotlib|<matplotlib\.\w+\.\w+ (object )?at 0x|<Figure size", text
            ) or "image/png" in out.get("data", {}), f"end plot cells with plt.show(): {src(c)[:80]!r}"
            assert "[<matplotlib" not in text, f"end plot cells with plt.show(): {src(c)[:80]!r}"
            assert not re.search(r"(/root/|/home/\w+/|/Users/\w+/|/work/)", text), (
                f"machine path in output: {text[:120]!r}"
            )


@pytest.mark.parametrize("path", COURSE, ids=lambda p: p.name)
def test_follows_the_template(path):
    nb = load(path)
    cells = nb["cells"]
    assert cells[0]["cell_type"] == "markdown" and src(cells[0]).startswith("# "), "title first"
    text = "\n".join(src(c) for c in cells if c["cell_type"] == "markdown").lower()
    for section in (
        "learning objectives",
        "prerequisites",
        "time budget",
        "## exercises",
        "## check your understanding",
        "## summary",
        "## further reading",
    ):
        assert section in text, f"missing section: {section}"
    assert text.count("<details>") >= 3, "check-your-understanding answers go in collapsed <details> blocks"
    exercises = [c for c in cells if c["cell_type"] == "code" and "checks." in src(c)]
    minimum = 2 if path.name.startswith("00_") else 3
    assert len(exercises) >= minimum, f"at least {minimum} self-checked exercises"
    solution = NB_DIR / "solutions" / path.name.replace(".ipynb", "_solutions.ipynb")
    assert solution.exists(), f"missing {solution.relative_to(ROOT)}"


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_relative_links_resolve(path):
    for cell in load(path)["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        for target in re.findall(r"\]\(([^)\s]+)\)", src(cell)):
            if re.match(r"[a-z]+://|#|mailto:", target):
                continue
            assert (path.parent / target.split("#")[0]).exists(), f"{path.name}: broken link {target}"


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_solutions_pass_their_checks(path):
    outputs = "".join(
        "".join(o.get("text", "")) for c in load(path)["cells"] if c["cell_type"] == "code" for o in c["outputs"]
    )
    assert "✓" in outputs and "✗" not in outputs and "not answered yet" not in outputs
