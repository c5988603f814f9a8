"""The course website (``python3 course.py site``, scripts/coursebuild/website.py): staged from the notebooks as stored,
built by Sphinx + MyST-NB into a static site that needs no network, figures with alt text, links that resolve.

The fast tests check the pieces (alt text, link rewriting, staging) on small notebooks made here. The slow ones
build the real site into a temporary folder; the browser test opens every page in headless Chromium (Debian's,
driven by playwright; never `playwright install`) with every request off the disk blocked, and checks that the
math is typeset, the figures load and the internal links resolve. Outside CI it skips when Chromium or playwright is
missing; in CI (CI=true) that is a failure.
"""

import base64
import importlib.util
import os
import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from coursebuild import alttext, cli, pagecheck, website  # noqa: E402
from coursebuild.course_files import course_notebooks, solutions_of  # noqa: E402

sys.path.pop(0)

# a 1 × 1 PNG
PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
    )
).decode()


def require_browser() -> None:
    """Skip (outside CI) or fail (CI=true) when Chromium or playwright is missing."""
    missing = pagecheck.missing_tools()
    if missing:
        message = "the browser check of the site needs " + " and ".join(missing)
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)


def figure_cell(source="plt.plot([1, 2]); plt.show()"):
    cell = nbformat.v4.new_code_cell(source)
    cell.outputs = [nbformat.v4.new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"})]
    return cell


def notebook(*cells):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = list(cells)
    return nb


# ---------------------------------------------------------------------------------------------------------------
# Alt text


def test_markdown_and_tex_become_readable_text():
    assert alttext.tex_to_text(r"\gamma^{n-m} \times 2") == "γ^(n-m) × 2"
    assert alttext.tex_to_text(r"\mathbf{x}_t \le \infty") == "x_t ≤ ∞"
    text = alttext.markdown_to_text("*What to look at:* the **decay** $\\gamma^n$ in [this](x.ipynb) `code`.")
    assert text == "The decay γ^n in this code."
    assert alttext.markdown_to_text("*Figure 2. The weight.*") == "Figure 2. The weight."
    with pytest.raises(TypeError, match="markdown"):
        alttext.markdown_to_text(None)
    with pytest.raises(TypeError, match="tex"):
        alttext.tex_to_text(3)


def test_shorten_cuts_at_a_sentence_or_a_word():
    long = "First sentence is here. " + "word " * 100
    assert alttext.shorten(long, 60) == "First sentence is here."
    cut = alttext.shorten("a" * 10 + " " + "b" * 100, 50)
    assert cut.endswith("…") and len(cut) <= 52
    assert alttext.shorten("short", 60) == "short"
    with pytest.raises(ValueError, match="limit"):
        alttext.shorten("x", 5)


def test_alt_text_from_the_caption_after_then_the_text_before_then_the_title():
    md = nbformat.v4.new_markdown_cell
    cells = [md("## 2. Masks\n\nThe mask of three heads."), figure_cell(), md("*Figure 1. Three decay masks.*")]
    assert alttext.figure_alt_text(cells, 1) == "Figure 1. Three decay masks."
    cells = [md("## 2. Masks\n\nThe mask of three heads."), figure_cell('ax.set_title("Masks")'), md("## 3. Next")]
    assert alttext.figure_alt_text(cells, 1) == "Masks. The mask of three heads."
    cells = [figure_cell('fig.suptitle("Loss curves")')]
    assert alttext.figure_alt_text(cells, 0) == "Loss curves"
    cells = [figure_cell()]
    assert alttext.figure_alt_text(cells, 0, "notebooks/x.ipynb") == "Figure drawn by code cell 1 of notebooks/x.ipynb"
    with pytest.raises(ValueError, match="index"):
        alttext.figure_alt_text(cells, 3)


def test_add_alt_text_marks_figure_cells_only_and_keeps_the_original():
    nb = notebook(nbformat.v4.new_code_cell("x = 1"), figure_cell(), nbformat.v4.new_markdown_cell("*Figure 1. A.*"))
    out = alttext.add_alt_text(nb)
    assert [alttext.alt_text_of(c) for c in out.cells] == [None, "Figure 1. A.", None]
    assert alttext.alt_text_of(nb.cells[1]) is None, "the original notebook must not change"
    nb.cells[1].metadata["mystnb"] = {"image": {"alt": "set by the author"}}
    assert alttext.alt_text_of(alttext.add_alt_text(nb).cells[1]) == "set by the author"
    with pytest.raises(TypeError, match="nb"):
        alttext.add_alt_text({"cells": []})


def test_every_figure_of_the_course_gets_a_caption_based_alt_text():
    fallbacks = []
    for path in course_notebooks() + sorted((ROOT / "notebooks" / "solutions").glob("*.ipynb")):
        nb = alttext.add_alt_text(nbformat.read(path, as_version=4), where=path.name)
        for i, cell in enumerate(nb.cells):
            alt = alttext.alt_text_of(cell)
            if alttext.has_figure(cell):
                assert alt and len(alt) <= alttext.MAX_ALT + 2, f"{path.name} cell {i}: {alt!r}"
                assert "$" not in alt and "**" not in alt, f"{path.name} cell {i}: markup left in {alt!r}"
                if alt.startswith("Figure drawn by"):
                    fallbacks.append(f"{path.name} cell {i}")
    assert not fallbacks, f"figures with neither caption nor title: {fallbacks}"


# ---------------------------------------------------------------------------------------------------------------
# Links and anchors


def test_links_that_do_not_resolve_become_text():
    available = {"notebooks/01_b.ipynb", "notebooks/solutions/index.md", "data/README.md"}
    md = (
        "[next](01_b.ipynb) [missing](02_c.ipynb) [web](https://arxiv.org/abs/2307.08621) [all](solutions/) "
        "[data](../data/README.md) [folder](../data/results/) [top](#intro)"
    )
    out, dropped = website.rewrite_links(md, "notebooks/00_a.ipynb", available)
    assert out == (
        "[next](01_b.ipynb) missing [web](https://arxiv.org/abs/2307.08621) [all](solutions/index.md) "
        "[data](../data/README.md) folder [top](#intro)"
    )
    assert dropped == ["02_c.ipynb", "../data/results/"]
    with pytest.raises(TypeError, match="markdown"):
        website.rewrite_links(None, "x", set())


def test_jupyter_anchors_become_the_sites_and_unknown_ones_are_dropped():
    md_b = "# 01 · B\n\n## 2. Second part (eq. 5)\n\n## Check\n\n### Check\n\n```\n## not a heading\n```"
    anchors = {"notebooks/01_b.ipynb": website.anchor_map(md_b)}
    assert anchors["notebooks/01_b.ipynb"]["2.-Second-part-(eq.-5)"] == "2-second-part-eq-5"
    assert anchors["notebooks/01_b.ipynb"]["Check"] == "check"
    assert "not-a-heading" not in anchors["notebooks/01_b.ipynb"].values()
    assert "check-1" in anchors["notebooks/01_b.ipynb"].values(), "a repeated heading gets a numbered anchor"
    md = "[eq](01_b.ipynb#2.-Second-part-(eq.-5)) [gone](01_b.ipynb#Nowhere) [same](01_b.ipynb#check)"
    out, dropped = website.rewrite_links(md, "notebooks/00_a.ipynb", {"notebooks/01_b.ipynb"}, anchors)
    assert out == "[eq](01_b.ipynb#2-second-part-eq-5) [gone](01_b.ipynb) [same](01_b.ipynb#check)"
    assert len(dropped) == 1 and "Nowhere" in dropped[0]


def fake_course(tmp_path):
    """A repository with two notebooks (one linking to a notebook not written yet), a solutions notebook, a
    document the notebooks link to and an image that document shows."""
    md = nbformat.v4.new_markdown_cell
    widget = nbformat.v4.new_code_cell("interact(f)")
    widget.outputs = [nbformat.v4.new_output("display_data", data={website.WIDGET_MIME: {"model_id": "x"}})]
    nb0 = notebook(
        md("# 00 · A\n\nMath $\\gamma^n$. Next: [01](01_b.ipynb#2.-Second-part), [records](../benchmarks/README.md)."),
        figure_cell(),
        md("*Figure 1. A tiny figure.*"),
        widget,
    )
    nb1 = notebook(md("# 01 · B\n\n## 2. Second part\n\n$$o_n = q_n S_n$$\n\nNext: [02](02_c.ipynb)."))
    sol = notebook(md("# Solutions · 00\n\nBack to [00](../00_a.ipynb)."))
    (tmp_path / "notebooks" / "solutions").mkdir(parents=True)
    nbformat.write(nb0, tmp_path / "notebooks" / "00_a.ipynb")
    nbformat.write(nb1, tmp_path / "notebooks" / "01_b.ipynb")
    nbformat.write(sol, tmp_path / "notebooks" / "solutions" / "00_a_solutions.ipynb")
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "README.md").write_text("# Records\n\n![plot](plot.png)\n\n[run](run.json)\n")
    (tmp_path / "benchmarks" / "plot.png").write_bytes(base64.b64decode(PNG))
    (tmp_path / "benchmarks" / "run.json").write_text("{}")
    return tmp_path


def test_stage_makes_the_sphinx_source(tmp_path):
    repo = fake_course(tmp_path / "repo")
    src = tmp_path / "src"
    staged = website.stage(src, root=repo)
    assert staged.notebooks == ["notebooks/00_a.ipynb", "notebooks/01_b.ipynb"]
    assert staged.solutions == ["notebooks/solutions/00_a_solutions.ipynb"]
    assert staged.documents == ["benchmarks/README.md"]
    assert staged.files == ["benchmarks/plot.png", "benchmarks/run.json"]
    assert staged.unlinked == [("notebooks/01_b.ipynb", "02_c.ipynb")]
    assert (staged.figures, staged.widgets) == (1, 1)
    for rel in ("conf.py", "index.md", "records.md", "notebooks/solutions/index.md", "_static/mathjax/tex-svg.js"):
        assert (src / rel).is_file(), rel
    nb0 = nbformat.read(src / "notebooks" / "00_a.ipynb", as_version=4)
    assert "[01](01_b.ipynb#2-second-part)" in nb0.cells[0].source
    assert alttext.alt_text_of(nb0.cells[1]) == "Figure 1. A tiny figure."
    assert nb0.cells[3].outputs[0]["data"] == {"text/markdown": website.WIDGET_NOTE}
    nb1 = nbformat.read(src / "notebooks" / "01_b.ipynb", as_version=4)
    assert "Next: 02." in nb1.cells[0].source
    # the repository's notebooks are untouched, and a notebook added later joins the next staging
    assert "01_b.ipynb#2.-Second-part" in nbformat.read(repo / "notebooks" / "00_a.ipynb", as_version=4).cells[0].source
    nbformat.write(notebook(nbformat.v4.new_markdown_cell("# 02 · C")), repo / "notebooks" / "02_c.ipynb")
    (repo / "benchmarks" / "README.md").unlink()
    staged = website.stage(src, root=repo)
    assert staged.notebooks[-1] == "notebooks/02_c.ipynb" and staged.unlinked == [
        ("notebooks/00_a.ipynb", "../benchmarks/README.md")
    ]
    assert not (src / "benchmarks" / "README.md").exists(), "what an earlier staging left must go"
    (tmp_path / "empty" / "notebooks").mkdir(parents=True)
    with pytest.raises(ValueError, match="root"):
        website.stage(tmp_path / "src2", root=tmp_path / "empty")


def test_bad_arguments_are_named(tmp_path):
    with pytest.raises(ValueError, match="jobs"):
        website.build_site(out=tmp_path / "o", work=tmp_path / "w", jobs=0)
    with pytest.raises(ValueError, match="notebook_dir"):
        course_notebooks(tmp_path / "nowhere")
    assert solutions_of(Path("notebooks/03_x.ipynb")) == Path("notebooks/solutions/03_x_solutions.ipynb")


def test_course_py_builds_the_site_with_the_course_python():
    spec = importlib.util.spec_from_file_location("course_site_under_test", ROOT / "course.py")
    course = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(course)
    for command in ("site", "slides", "assignments"):
        ns = course.parse_args([command, "--check"])
        assert ns.command == command and ns.args == ["--check"]
        python = Path("/env/bin/python")
        assert course.build_command(command, python, ["--check"]) == [
            python,
            "scripts/build_course.py",
            command,
            "--check",
        ]
    with pytest.raises(ValueError, match="command"):
        course.build_command("lab", Path("python"), [])
    assert "site" in course.EXTRAS


# ---------------------------------------------------------------------------------------------------------------
# The real site


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("site")
    return website.build_site(out=tmp / "site", work=tmp / "work", jobs=1)


EXTERNAL_LOAD = re.compile(
    r"<(?:script|img|iframe|source|video|audio|embed)\b[^>]*\bsrc=\"(?:https?:)?//|"
    r"<link\b[^>]*\bhref=\"(?:https?:)?//[^\"]*\"[^>]*>",
    re.IGNORECASE,
)


@pytest.mark.slow
def test_the_site_has_every_notebook_and_solution_and_loads_nothing_from_the_web(site):
    out = site.out
    index = (out / "index.html").read_text()
    for path in course_notebooks():
        page = out / "notebooks" / f"{path.stem}.html"
        assert page.is_file(), f"no page for {path.name}"
        assert f'href="notebooks/{path.stem}.html"' in index, f"{path.name} is not in the table of contents"
        if solutions_of(path).is_file():
            assert (out / "notebooks" / "solutions" / f"{path.stem}_solutions.html").is_file()
    pages = cli.site_pages(out)
    assert len(pages) >= 2 * len(course_notebooks())
    for page in pages:
        html = page.read_text()
        bad = [m.group(0)[:120] for m in EXTERNAL_LOAD.finditer(html)]
        assert not bad, f"{page.relative_to(out)} loads from the web: {bad}"
        if 'class="math' in html:
            assert re.search(r'<script[^>]*src="(\.\./)*_static/mathjax/tex-svg\.js', html), f"{page}: no local MathJax"
        if page.parent.name in ("notebooks", "solutions"):
            for img in re.findall(r"<img\b[^>]*>", html):
                assert re.search(r'\balt="[^"]+"', img), f"{page.relative_to(out)}: image without alt text {img}"
    for css in (out / "_static").rglob("*.css"):
        assert not re.search(
            r"url\(\s*['\"]?(https?:)?//|@import\s+['\"]?(url\()?\s*['\"]?(https?:)?//", css.read_text()
        ), f"{css} loads from the web"
    assert (out / "_static" / "mathjax" / "tex-svg.js").is_file()
    assert (out / ".nojekyll").is_file(), "GitHub Pages needs .nojekyll to serve _static/"
    print(website.summary(site))


@pytest.mark.slow
@pytest.mark.browser
def test_every_page_works_offline_in_chromium(site):
    require_browser()
    pages = cli.site_pages(site.out)
    reports, seconds = cli.check_pages(pages, site.out)
    problems = {r.url: r.problems for r in reports if r.problems}
    assert not problems, problems
    notebook_pages = [r for r in reports if "/notebooks/" in r.url and not r.url.endswith("index.html")]
    assert notebook_pages and all(r.mathjax_version.startswith("3.") for r in notebook_pages)
    assert sum(r.math_typeset for r in notebook_pages) > 1000, "the course's math was not typeset"
    assert sum(r.images for r in notebook_pages) >= 30, "the course's figures are missing"
    assert all(r.links_checked > 0 for r in reports)
    assert not any(r.blocked for r in reports)
    print(f"{len(reports)} pages checked in {seconds:.0f} s")
