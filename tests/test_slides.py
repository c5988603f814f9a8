"""The reveal.js decks (``python3 course.py slides``, scripts/coursebuild/slides.py): slide metadata from one rule
applied at build time (the notebooks carry none), one deck per notebook, reveal.js and MathJax beside the decks.

The fast tests check the rule and the link rewriting; the slow ones build every deck into a temporary folder, and
the browser test opens each in headless Chromium with every request off the disk blocked: reveal.js runs, the
math is typeset, the figures load, the links resolve. A screenshot of a derivation subslide goes to shots/
(git-ignored). Outside CI the browser test skips when Chromium or playwright is missing; in CI it fails.
"""

import os
import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "shots"
sys.path.insert(0, str(ROOT / "scripts"))
from coursebuild import cli, pagecheck, slides  # noqa: E402
from coursebuild.course_files import course_notebooks  # noqa: E402

sys.path.pop(0)

md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell


def require_browser() -> None:
    missing = pagecheck.missing_tools()
    if missing:
        message = "the browser check of the slides needs " + " and ".join(missing)
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)


def with_image(cell):
    cell.outputs = [nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "f"})]
    return cell


def test_the_slide_rule():
    cells = [
        md("# 03 · Title\n\nintro"),
        code("course_setup()"),
        md("## 1. A section"),
        md("Some prose with $x$ inline."),
        md("The derivation:\n\n$$S_n = \\gamma S_{n-1} + k_n^\\top v_n$$"),
        md("\\begin{aligned} a &= b \\end{aligned}"),
        with_image(code("plot(); plt.show()")),
        code("x = 1"),
        md("### A subsection"),
        md("**Exercise 03.1.** Do it."),
    ]
    assert [slides.slide_type(c, i) for i, c in enumerate(cells)] == [
        "slide",
        "-",
        "slide",
        "-",
        "subslide",
        "subslide",
        "subslide",
        "-",
        "subslide",
        "subslide",
    ]
    kept = md("## heading")
    kept.metadata["slideshow"] = {"slide_type": "skip"}
    assert slides.slide_type(kept, 5) == "skip", "a cell's own slide metadata wins"
    with pytest.raises(ValueError, match="index"):
        slides.slide_type(cells[0], -1)


def test_slide_metadata_goes_on_a_copy():
    nb = nbformat.v4.new_notebook()
    nb.cells = [md("# T"), md("$$x$$")]
    out = slides.with_slide_metadata(nb)
    assert [c.metadata["slideshow"]["slide_type"] for c in out.cells] == ["slide", "subslide"]
    assert all("slideshow" not in c.metadata for c in nb.cells)


def test_links_go_to_the_decks():
    decks = {"notebooks/04_b.ipynb": "04_b.slides.html"}
    text = (
        "[04](04_b.ipynb#Eq.-7) [sol](solutions/03_a_solutions.ipynb) [web](https://arxiv.org) [doc](../data/README.md)"
    )
    out = slides.deck_links(text, "notebooks/03_a.ipynb", decks)
    assert out == "[04](04_b.slides.html#Eq.-7) sol [web](https://arxiv.org) doc"


@pytest.fixture(scope="module")
def decks(tmp_path_factory):
    return slides.build_slides(out=tmp_path_factory.mktemp("slides"))


@pytest.mark.slow
def test_one_deck_per_notebook_with_local_reveal_and_mathjax(decks):
    notebooks = course_notebooks()
    assert [d.name for d in decks.decks] == [f"{p.stem}.slides.html" for p in notebooks]
    index = (decks.out / "index.html").read_text()
    for deck in decks.decks:
        assert f'href="{deck.name}"' in index
        html = deck.read_text()
        assert not re.search(r"<(script|link|img)\b[^>]*\b(src|href)=\"(https?:)?//", html), f"{deck.name}: CDN"
        assert '<script src="reveal.js/dist/reveal.js">' in html and 'src="mathjax/tex-svg.js"' in html
        assert "require.min.js" not in html and "jquery" not in html.lower()
        for img in re.findall(r"<img\b[^>]*>", html):
            assert re.search(r'\balt="[^"]+"', img), f"{deck.name}: image without alt text"
        n_slides, n_sub = decks.slides[deck.name]
        assert n_slides >= 3 and n_sub >= 1, f"{deck.name}: {n_slides} slides, {n_sub} subslides"
    for rel in ("reveal.js/dist/reveal.js", "reveal.js/dist/reveal.css", "reveal.js/dist/theme/white.css"):
        assert (decks.out / rel).is_file(), rel
    assert (decks.out / "reveal.js/plugin/notes/notes.js").is_file()
    assert (decks.out / "mathjax/tex-svg.js").is_file()
    # the notebooks themselves carry no slide metadata: the rule is applied on the way
    for p in notebooks:
        assert all("slideshow" not in c.metadata for c in nbformat.read(p, as_version=4).cells), p.name
    print(slides.summary(decks))


NEXT_DERIVATION = """() => {
  const sub = Array.from(document.querySelectorAll('.reveal .slides > section > section'))
    .find(s => s.previousElementSibling && s.querySelector('mjx-container[display="true"]'));
  if (!sub) { return {found: false}; }
  const where = Reveal.getIndices(sub);
  Reveal.slide(where.h, where.v);
  return {found: true, slides: Reveal.getTotalSlides(), h: where.h, v: where.v,
          current: Reveal.getCurrentSlide() === sub};
}"""


@pytest.mark.slow
@pytest.mark.browser
def test_every_deck_runs_offline_in_chromium(decks):
    require_browser()
    reports, seconds = cli.check_pages([decks.out / "index.html", *decks.decks], decks.out, deck=True)
    problems = {r.url: r.problems for r in reports if r.problems}
    assert not problems, problems
    assert not any(r.blocked for r in reports)
    for r in reports[1:]:
        name = Path(r.url).name
        n_slides, n_sub = decks.slides[name]
        assert r.extra["slides"] == n_slides + n_sub, f"{name}: reveal.js counts {r.extra['slides']} slides"
        assert r.mathjax_version.startswith("3.") and r.math_typeset > 0, f"{name}: no math typeset"
    # a derivation subslide, shown: reveal.js moves to it and MathJax has drawn its display math
    SHOTS.mkdir(exist_ok=True)
    shot = SHOTS / "slides_derivation.png"
    found = None
    with pagecheck.Browser(pagecheck.find_chromium()) as browser:
        for deck in decks.decks:
            report = browser.check_page(deck, decks.out, wait_js=cli.DECK_READY, extra_js=NEXT_DERIVATION, shot=shot)
            if report.extra["found"]:
                found = (deck.name, report.extra)
                break
    assert found, "no deck has a derivation subslide with display math"
    assert found[1]["current"] and found[1]["v"] >= 1, found
    assert shot.stat().st_size > 10_000
    print(f"{len(reports)} pages checked in {seconds:.0f} s; derivation subslide {found}: {shot}")
