"""The course website: the notebooks as stored (outputs included, nothing executed) built by Sphinx with MyST-NB and
sphinx-book-theme into ``build/site/``.

Sphinx builds a staged copy (``build/site-work/src``), made by ``stage``:

* ``docs/site/`` (``conf.py``, ``index.md``: the table of contents globs ``notebooks/NN_*``, so new notebooks join);
* every course notebook and its solutions at the paths they have in the repository (``notebooks/…``), so the links
  between them work as they are; in the copies, each figure cell gets alt text (``alttext``), each widget output a
  note saying the widget runs in JupyterLab, and each relative link that would not resolve in the site (a notebook
  not written yet, a folder, a file not in the site) becomes plain text, reported by the build;
* the repository documents the notebooks link to (``benchmarks/README.md``, ``data/README.md``, …, followed from
  one to the next) with the images and data files they link to, and a page listing them (``records.md``);
* MathJax 3 in ``_static/mathjax`` (``course_files.copy_mathjax``).

Files are rewritten only when their content changed, so a second build only re-reads what changed.
"""

from __future__ import annotations

import json
import posixpath
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import unquote

import nbformat

from .alttext import add_alt_text
from .course_files import BUILD_DIR, NOTEBOOK_DIR, ROOT, copy_mathjax, course_notebooks, folder_size

CONF_DIR = ROOT / "docs" / "site"
DEFAULT_OUT = BUILD_DIR / "site"
DEFAULT_WORK = BUILD_DIR / "site-work"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
WIDGET_NOTE = (
    "*An interactive widget is here when the notebook runs in JupyterLab (`python3 course.py lab`); the figure "
    "above it shows the same function.*"
)
# [text](target) but not ![alt](target); the target without spaces, an optional "title"
# (a destination may hold balanced parentheses, as CommonMark allows: notebook anchors often do)
TARGET = r"(?P<target>(?:[^()\s]|\([^()\s]*\))+)"
LINK = re.compile(r"(?<!!)\[(?P<text>[^\]]*)\]\(" + TARGET + r"(?P<title>\s+\"[^\"]*\")?\)")
IMAGE = re.compile(r"!\[(?P<text>[^\]]*)\]\(" + TARGET + r"(?P<title>\s+\"[^\"]*\")?\)")
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


@dataclass
class Staged:
    """What ``stage`` put into the staged source."""

    notebooks: list[str] = field(default_factory=list)  # repository-relative paths of the course notebooks
    solutions: list[str] = field(default_factory=list)
    documents: list[str] = field(default_factory=list)  # repository documents the notebooks link to
    files: list[str] = field(default_factory=list)  # images and data files those documents link to
    unlinked: list[tuple[str, str]] = field(default_factory=list)  # (page, target) links made plain text
    figures: int = 0  # figure cells given alt text
    widgets: int = 0  # widget outputs replaced by a note


def is_relative_link(target: str) -> bool:
    """Whether a link target points into the repository (not a URL, a mail address or an anchor on the page)."""
    return bool(target) and not SCHEME.match(target) and not target.startswith(("#", "/", "//"))


def resolve(page: str, target: str) -> str:
    """The repository-relative path a relative link on ``page`` (repository-relative) points to, without anchor."""
    path = target.split("#", 1)[0].split("?", 1)[0]
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(page), path))
    return joined + "/" if path.endswith("/") and joined != "." else joined


def github_slug(title: str) -> str:
    """The anchor MyST gives a heading (``myst_heading_anchors``; MyST-Parser's GitHub-style slug: lower case,
    spaces to hyphens, every character but letters, digits, ``_`` and ``-`` removed)."""
    return re.sub(r"[^\w\u4e00-\u9fff\- ]", "", title.lower().replace(" ", "-"))


def heading_text(markdown_heading: str) -> str:
    """A heading's text as rendered: code marks, emphasis, link targets and math delimiters removed."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", markdown_heading)
    text = re.sub(r"(\*\*|\*|`|\$)", "", text)
    return text.strip()


def headings(markdown: str) -> list[tuple[int, str]]:
    """(level, text) of the ATX headings of ``markdown``, outside fenced code."""
    found, fenced = [], False
    for line in markdown.splitlines():
        if re.match(r"^\s{0,3}(```|~~~)", line):
            fenced = not fenced
            continue
        m = None if fenced else re.match(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if m:
            found.append((len(m.group(1)), heading_text(m.group(2))))
    return found


def anchor_map(markdown: str, max_level: int = 3) -> dict[str, str]:
    """For the headings of a page: every anchor a link may use → the anchor the site has. A link may use the
    anchor Jupyter gives a heading (its text, spaces to hyphens: ``#8.-The-recorded-runs``, what JupyterLab and
    GitHub's notebook viewer follow) or MyST's own; the site has MyST's (``github_slug``, made unique with ``-1``,
    ``-2``…, for headings down to ``max_level``)."""
    out: dict[str, str] = {}
    seen: dict[str, int] = {}
    for level, text in headings(markdown):
        if level > max_level:
            continue
        slug = github_slug(text)
        if not slug:
            continue
        if slug in seen:
            seen[slug] += 1
            slug = f"{slug}-{seen[slug]}"
        else:
            seen[slug] = 0
        for variant in (slug, text.replace(" ", "-"), "-".join(text.split())):
            out.setdefault(variant, slug)
    return out


def rewrite_links(
    markdown: str, page: str, available: set[str], anchors: dict[str, dict[str, str]] | None = None
) -> tuple[str, list[str]]:
    """Markdown ``markdown`` of ``page`` with every relative link that does not resolve to a path in ``available``
    made plain text (its text kept); a link to a folder goes to the folder's ``index.md`` when that is available.
    With ``anchors`` (path → ``anchor_map`` of that page), a link's ``#anchor`` becomes the one the site has, and
    one the page does not have is dropped (the link goes to the page). Returns the new markdown and what was
    unlinked or dropped."""
    if not isinstance(markdown, str):
        raise TypeError(f"markdown must be a string, got {type(markdown).__name__}")
    dropped: list[str] = []

    def fix(m: re.Match) -> str:
        target, text, title = m.group("target"), m.group("text"), m.group("title") or ""
        if target.startswith("#") and anchors is not None and page in anchors:
            wanted = unquote(target[1:])
            if wanted in anchors[page]:
                return f"[{text}](#{anchors[page][wanted]}{title})"
            dropped.append(f"{target} (no such heading)")
            return text
        if not is_relative_link(target):
            return m.group(0)
        path = resolve(page, target)
        base, _, fragment = target.partition("#")
        if path.endswith("/") and path + "index.md" in available:
            base, path = base + "index.md", path + "index.md"
        if path not in available:
            dropped.append(target)
            return text
        if fragment and anchors is not None and path in anchors:
            wanted = unquote(fragment)
            if wanted in anchors[path]:
                fragment = anchors[path][wanted]
            else:
                dropped.append(f"{target} (no such heading: the link goes to the page)")
                fragment = ""
        return f"[{text}]({base}{'#' + fragment if fragment else ''}{title})"

    return LINK.sub(fix, markdown), dropped


def link_targets(markdown: str, page: str) -> list[str]:
    """Repository-relative paths of the relative links and images in ``markdown`` of ``page``."""
    found = []
    for pattern in (LINK, IMAGE):
        for m in pattern.finditer(markdown):
            if is_relative_link(m.group("target")):
                found.append(resolve(page, m.group("target")))
    return found


def notebook_markdown(nb) -> str:
    return "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def linked_documents(pages: dict[str, str], root: Path = ROOT) -> tuple[list[str], list[str]]:
    """The repository documents (``.md``) reachable by relative links from ``pages`` (path → markdown), followed
    from document to document, and the other files those documents link to (images, data). Only paths that exist
    under ``root`` and are not themselves in ``pages`` count."""
    docs: list[str] = []
    files: list[str] = []
    todo = [(page, text) for page, text in pages.items()]
    while todo:
        page, text = todo.pop(0)
        for path in link_targets(text, page):
            if path.startswith("..") or path in pages or path in docs or path in files:
                continue
            real = root / path
            if not real.is_file():
                continue
            if path.endswith(".md"):
                docs.append(path)
                todo.append((path, real.read_text(encoding="utf-8")))
            else:
                files.append(path)
    return sorted(docs), sorted(files)


def stage_notebook(nb, page: str, available: set[str], staged: Staged, anchors: dict | None = None):
    """The copy of notebook ``nb`` (at repository path ``page``) that the site shows."""
    nb = add_alt_text(nb, where=page)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source, dropped = rewrite_links(cell.source, page, available, anchors)
            staged.unlinked += [(page, t) for t in dropped]
        elif cell.cell_type == "code":
            staged.figures += "mystnb" in cell.metadata and "image" in cell.metadata["mystnb"]
            for out in cell.outputs:
                if WIDGET_MIME in out.get("data", {}):
                    out["data"] = {"text/markdown": WIDGET_NOTE}
                    staged.widgets += 1
    return nb


def _write(path: Path, data: bytes, written: set[Path]) -> None:
    """Write ``data`` to ``path`` unless it holds exactly that already (so Sphinx re-reads only what changed)."""
    written.add(path)
    if path.is_file() and path.read_bytes() == data:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _listing(title: str, intro: str, entries: list[str]) -> str:
    lines = [f"# {title}", "", intro, "", "```{toctree}", ":maxdepth: 1", ""]
    return "\n".join(lines + entries + ["```", ""])


def stage(src: Path, root: Path = ROOT, conf_dir: Path = CONF_DIR) -> Staged:
    """Fill ``src`` with the site's Sphinx source (see the module docstring); remove what a previous staging left
    that is no longer part of it."""
    src = Path(src)
    root = Path(root)
    notebooks = course_notebooks(root / NOTEBOOK_DIR.relative_to(ROOT))
    if not notebooks:
        raise ValueError(f"root: no course notebooks (notebooks/NN_*.ipynb) under {root}")
    solutions = sorted((root / "notebooks" / "solutions").glob("*.ipynb"))
    staged = Staged(
        notebooks=[p.relative_to(root).as_posix() for p in notebooks],
        solutions=[p.relative_to(root).as_posix() for p in solutions],
    )
    loaded = {rel: nbformat.read(root / rel, as_version=4) for rel in staged.notebooks + staged.solutions}
    staged.documents, staged.files = linked_documents({rel: notebook_markdown(nb) for rel, nb in loaded.items()}, root)
    available = set(loaded) | set(staged.documents) | set(staged.files)
    available |= {"notebooks/solutions/index.md", "records.md", "index.md"}
    anchors = {rel: anchor_map(notebook_markdown(nb)) for rel, nb in loaded.items()}
    anchors |= {rel: anchor_map((root / rel).read_text(encoding="utf-8")) for rel in staged.documents}

    written: set[Path] = set()
    for f in sorted(p for p in conf_dir.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        _write(src / f.relative_to(conf_dir), f.read_bytes(), written)
    for rel, nb in loaded.items():
        nb = stage_notebook(nb, rel, available, staged, anchors)
        _write(src / rel, nbformat.writes(nb).encode(), written)
    for rel in staged.documents:
        text, dropped = rewrite_links((root / rel).read_text(encoding="utf-8"), rel, available, anchors)
        staged.unlinked += [(rel, t) for t in dropped]
        _write(src / rel, text.encode(), written)
    for rel in staged.files:
        _write(src / rel, (root / rel).read_bytes(), written)
    _write(
        src / "notebooks" / "solutions" / "index.md",
        _listing(
            "Solutions",
            "Worked answers to every exercise, one notebook per course notebook. Try the exercises first.",
            [Path(s).stem for s in staged.solutions],
        ).encode(),
        written,
    )
    _write(
        src / "records.md",
        _listing(
            "Records",
            "The recorded runs and benchmarks the notebooks load and quote, with the exact commands, machines and "
            "dates (the repository's documents, as the notebooks link to them).",
            [d[: -len(".md")] for d in staged.documents],
        ).encode(),
        written,
    )
    mathjax = src / "_static" / "mathjax"
    copy_mathjax(mathjax)
    written |= {p for p in mathjax.rglob("*") if p.is_file()}
    for p in sorted(src.rglob("*"), reverse=True):  # what an earlier staging left and this one did not write
        if p.is_file() and p not in written:
            p.unlink()
        elif p.is_dir() and not any(p.iterdir()):
            p.rmdir()
    return staged


@dataclass
class SiteBuild:
    out: Path
    staged: Staged
    seconds: float
    files: int
    bytes: int
    pages: int
    warnings: list[str]


def build_site(out: Path = DEFAULT_OUT, work: Path = DEFAULT_WORK, jobs: int = 1, root: Path = ROOT) -> SiteBuild:
    """Stage the site's source in ``work/src`` and build it with Sphinx into ``out``; RuntimeError when Sphinx
    fails (its output attached). Warnings are returned, not fatal."""
    if not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive int, got {jobs!r}")
    out, work = Path(out), Path(work)
    t0 = time.perf_counter()
    staged = stage(work / "src", root=root)
    warnfile = work / "warnings.txt"
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-j", str(jobs), "-d", str(work / "doctrees")]
    cmd += ["-w", str(warnfile), str(work / "src"), str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"Sphinx failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
    warnings = [w for w in warnfile.read_text().splitlines() if w.strip()] if warnfile.exists() else []
    files, size = folder_size(out)
    pages = len(staged.notebooks) + len(staged.solutions) + len(staged.documents)
    return SiteBuild(out, staged, time.perf_counter() - t0, files, size, pages, warnings)


def page_of(path: str) -> str:
    """The HTML page a staged source path becomes (``notebooks/03_x.ipynb`` → ``notebooks/03_x.html``)."""
    return str(PurePosixPath(path).with_suffix(".html"))


def summary(build: SiteBuild) -> str:
    s = build.staged
    lines = [
        f"site: {build.out} ({build.pages} pages: {len(s.notebooks)} notebooks, {len(s.solutions)} solutions, "
        f"{len(s.documents)} repository documents; {build.files} files, {build.bytes / 1e6:.1f} MB) "
        f"built in {build.seconds:.0f} s",
        f"  figures with alt text: {s.figures}; widget outputs noted: {s.widgets}; Sphinx warnings: "
        f"{len(build.warnings)}",
    ]
    for page, target in s.unlinked:
        lines.append(f"  link made plain text (not in the site): {page} -> {target}")
    for w in build.warnings[:20]:
        lines.append(f"  warning: {w}")
    lines.append(f"  open {build.out / 'index.html'}")
    return "\n".join(lines)


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def as_json(build: SiteBuild) -> str:
    s = build.staged
    return json.dumps(
        {
            "seconds": round(build.seconds, 1),
            "files": build.files,
            "bytes": build.bytes,
            "pages": build.pages,
            "unlinked": s.unlinked,
            "figures": s.figures,
            "widgets": s.widgets,
            "warnings": build.warnings,
        },
        indent=1,
    )
