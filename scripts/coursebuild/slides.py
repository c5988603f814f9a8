"""A reveal.js deck per course notebook (``build/slides/NN_name.slides.html``), viewable offline.

The notebooks carry no slide metadata: ``slide_type`` decides, at build time, what each cell is (the cell metadata
``slideshow.slide_type`` that nbconvert's slides exporter reads), by one rule:

* the title cell and every ``#``/``##`` heading start a **slide**; a ``###`` heading starts a **subslide**;
* a derivation (a markdown cell with display math, ``$$ … $$`` or ``\\begin{…}``), an exercise statement
  (``**Exercise …``) and a figure (a code cell with an image output) start a **subslide** (reveal.js: below the
  slide, reached with the down arrow);
* every other cell continues the slide before it.

A cell that already has slide metadata keeps it. The deck is nbconvert's ``SlidesExporter`` with the template
``templates/course_reveal`` (nbconvert's reveal template without its CDN scripts), reveal.js 5 in
``build/slides/reveal.js/`` (the ``--reveal-prefix`` of the command line, ``reveal_url_prefix``) and MathJax 3 in
``build/slides/mathjax/``, both copied from installed PyPI packages. Links to other notebooks go to their decks;
other relative links become plain text. Figures carry the alt text of ``alttext``. ``index.html`` lists the decks.
"""

from __future__ import annotations

import copy
import html
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .alttext import add_alt_text, has_figure
from .course_files import BUILD_DIR, NOTEBOOK_DIR, ROOT, copy_mathjax, copy_reveal, course_notebooks, folder_size
from .website import LINK, WIDGET_MIME, is_relative_link, resolve

DEFAULT_OUT = BUILD_DIR / "slides"
TEMPLATES = Path(__file__).resolve().parent / "templates"
TEMPLATE = "course_reveal"
REVEAL_PREFIX = "reveal.js"
MATHJAX_URL = "mathjax/tex-svg.js"
DECK_SUFFIX = ".slides.html"
WIDGET_NOTE = "*An interactive widget runs here in JupyterLab (`python3 course.py lab`).*"
SLIDE_TYPES = ("slide", "subslide", "fragment", "-", "skip", "notes")


def is_derivation(markdown: str) -> bool:
    """Whether a markdown cell holds a derivation: display math (``$$``) or a LaTeX environment."""
    return "$$" in markdown or "\\begin{" in markdown


def slide_type(cell, index: int) -> str:
    """The slide type of ``cell``, the ``index``-th cell of its notebook (see the module docstring)."""
    if not isinstance(index, int) or index < 0:
        raise ValueError(f"index must be a non-negative int, got {index!r}")
    existing = cell.get("metadata", {}).get("slideshow", {}).get("slide_type")
    if existing in SLIDE_TYPES:
        return existing
    if index == 0:
        return "slide"
    if cell.get("cell_type") == "markdown":
        src = cell.get("source", "").lstrip()
        if re.match(r"#{1,2}\s", src):
            return "slide"
        if re.match(r"#{3,6}\s", src) or is_derivation(src) or src.startswith("**Exercise"):
            return "subslide"
        return "-"
    if cell.get("cell_type") == "code" and has_figure(cell):
        return "subslide"
    return "-"


def with_slide_metadata(nb):
    """A copy of ``nb`` with ``metadata.slideshow.slide_type`` on every cell (the original is not changed)."""
    nb = copy.deepcopy(nb)
    for i, cell in enumerate(nb.cells):
        cell.metadata.setdefault("slideshow", {})["slide_type"] = slide_type(cell, i)
    return nb


def deck_name(notebook: Path | str) -> str:
    return Path(notebook).stem + DECK_SUFFIX


def deck_links(markdown: str, page: str, decks: dict[str, str]) -> str:
    """``markdown`` of notebook ``page`` (repository-relative) with links to notebooks that have a deck pointing
    to that deck (``decks``: notebook path → deck file name); other relative links become plain text."""

    def fix(m: re.Match) -> str:
        target = m.group("target")
        if not is_relative_link(target):
            return m.group(0)
        path = resolve(page, target)
        if path in decks:
            anchor = target[len(target.split("#", 1)[0]) :]
            return f"[{m.group('text')}]({decks[path]}{anchor})"
        return m.group("text")

    return LINK.sub(fix, markdown)


def prepare(nb, page: str, decks: dict[str, str]):
    """The copy of notebook ``nb`` (at repository path ``page``) a deck is made from."""
    nb = with_slide_metadata(add_alt_text(nb, where=page))
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = deck_links(cell.source, page, decks)
        elif cell.cell_type == "code":
            for out in cell.outputs:
                if WIDGET_MIME in out.get("data", {}):
                    out["data"] = {"text/markdown": WIDGET_NOTE}
    return nb


def exporter():
    """nbconvert's SlidesExporter with the course template and local reveal.js and MathJax."""
    from nbconvert import SlidesExporter
    from traitlets.config import Config

    c = Config()
    c.SlidesExporter.extra_template_basedirs = [str(TEMPLATES)]
    c.SlidesExporter.template_name = TEMPLATE
    c.SlidesExporter.reveal_url_prefix = REVEAL_PREFIX
    c.SlidesExporter.mathjax_url = MATHJAX_URL
    c.SlidesExporter.reveal_theme = "white"
    c.SlidesExporter.reveal_transition = "none"
    c.SlidesExporter.reveal_number = "c/t"
    c.SlidesExporter.reveal_width = "1280"
    c.SlidesExporter.reveal_height = "800"
    c.SlidesExporter.exclude_input_prompt = True
    c.SlidesExporter.exclude_output_prompt = True
    return SlidesExporter(config=c)


def title_of(nb, fallback: str) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            m = re.match(r"#\s+(.+)", cell.source.strip())
            if m:
                return m.group(1).strip()
    return fallback


@dataclass
class DeckBuild:
    out: Path
    decks: list[Path] = field(default_factory=list)
    slides: dict[str, tuple[int, int]] = field(default_factory=dict)  # deck → (slides, subslides)
    seconds: float = 0.0
    files: int = 0
    bytes: int = 0


def index_page(entries: list[tuple[str, str, int]]) -> str:
    items = "\n".join(
        f'  <li><a href="{html.escape(name)}">{html.escape(title)}</a> ({count} slides)</li>'
        for name, title, count in entries
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>RetNet from first principles: slides</title>
<style>body {{ font-family: sans-serif; max-width: 48em; margin: 2em auto; line-height: 1.5; }}</style>
</head>
<body>
<h1>RetNet from first principles: slides</h1>
<p>One reveal.js deck per notebook, made from the notebooks' stored outputs. Arrow keys move between slides
(down: the derivations and figures of a section), <kbd>s</kbd> opens the speaker view, <kbd>Esc</kbd> the
overview. Everything is in this folder: the decks work offline.</p>
<ul>
{items}
</ul>
</body>
</html>
"""


def build_slides(out: Path = DEFAULT_OUT, root: Path = ROOT) -> DeckBuild:
    """Write a deck per course notebook, reveal.js, MathJax and ``index.html`` into ``out``."""
    out, root = Path(out), Path(root)
    t0 = time.perf_counter()
    notebooks = course_notebooks(root / NOTEBOOK_DIR.relative_to(ROOT))
    if not notebooks:
        raise ValueError(f"root: no course notebooks (notebooks/NN_*.ipynb) under {root}")
    out.mkdir(parents=True, exist_ok=True)
    copy_reveal(out / REVEAL_PREFIX)
    copy_mathjax(out / Path(MATHJAX_URL).parent)
    decks = {p.relative_to(root).as_posix(): deck_name(p) for p in notebooks}
    result = DeckBuild(out)
    entries = []
    ex = exporter()
    for p in notebooks:
        page = p.relative_to(root).as_posix()
        nb = prepare(nbformat.read(p, as_version=4), page, decks)
        body, _ = ex.from_notebook_node(nb, resources={"metadata": {"name": title_of(nb, p.stem)}})
        target = out / decks[page]
        target.write_text(body, encoding="utf-8")
        types = [c.metadata["slideshow"]["slide_type"] for c in nb.cells]
        result.slides[target.name] = (types.count("slide"), types.count("subslide"))
        result.decks.append(target)
        entries.append((target.name, title_of(nb, p.stem), types.count("slide") + types.count("subslide")))
    for stale in out.glob(f"*{DECK_SUFFIX}"):
        if stale not in result.decks:
            stale.unlink()
    (out / "index.html").write_text(index_page(entries), encoding="utf-8")
    result.seconds = time.perf_counter() - t0
    result.files, result.bytes = folder_size(out)
    return result


def summary(build: DeckBuild) -> str:
    lines = [
        f"slides: {len(build.decks)} decks in {build.out} ({build.files} files, {build.bytes / 1e6:.1f} MB) built "
        f"in {build.seconds:.0f} s"
    ]
    for name, (slides, subslides) in build.slides.items():
        lines.append(f"  {name}: {slides} slides, {subslides} subslides")
    lines.append(f"  open {build.out / 'index.html'}")
    return "\n".join(lines)
