"""Where the course's files are, and the JavaScript the offline outputs carry with them.

The notebooks are found by a glob (``notebooks/NN_*.ipynb``, solutions in ``notebooks/solutions/``), so a new
notebook joins the site, the decks and the assignments without a change here. MathJax and reveal.js come from
installed PyPI packages (the ``site`` extra) and are copied next to the pages that use them: the pages reference them
by relative paths and make no request off the disk.
"""

from __future__ import annotations

import importlib.metadata
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = ROOT / "notebooks"
BUILD_DIR = ROOT / "build"

# MathJax 3 (3.2.2) as the PyPI package sphinx-mathjax-offline ships it. The SVG output needs no web fonts (browsers
# refuse fonts from file:// pages); the parts below are what tex-svg.js loads on demand (TeX extensions by autoload,
# the menu, the accessibility explorer and its speech rules). The rest of the package (CHTML, MathML input,
# other combined builds) is not copied.
MATHJAX_DIST = "sphinx-mathjax-offline"
MATHJAX_IN_DIST = "sphinx-mathjax-offline/static/mathjax"
MATHJAX_ENTRY = "tex-svg.js"
MATHJAX_PARTS = ("tex-svg.js", "input/tex/extensions", "ui", "a11y", "sre")

# reveal.js 5 as the PyPI package sphinx-revealjs ships it (only its files are used, not its Sphinx builder).
REVEAL_DIST = "sphinx-revealjs"
REVEAL_IN_DIST = "sphinx_revealjs/_static/revealjs"
REVEAL_PARTS = ("LICENSE", "dist/reveal.js", "dist/reveal.css", "dist/reset.css", "dist/theme", "plugin/notes")


def course_notebooks(notebook_dir: Path = NOTEBOOK_DIR) -> list[Path]:
    """The course notebooks ``NN_*.ipynb`` in ``notebook_dir``, in order."""
    notebook_dir = Path(notebook_dir)
    if not notebook_dir.is_dir():
        raise ValueError(f"notebook_dir: no folder at {notebook_dir}")
    return sorted(notebook_dir.glob("[0-9][0-9]_*.ipynb"))


def solutions_of(notebook: Path) -> Path:
    """Where the solutions of ``notebook`` live (``solutions/NN_name_solutions.ipynb`` beside it; may not exist)."""
    notebook = Path(notebook)
    return notebook.parent / "solutions" / f"{notebook.stem}_solutions.ipynb"


def installed_folder(dist: str, inside: str) -> Path:
    """The folder ``inside`` of the installed distribution ``dist``; RuntimeError saying how to install it."""
    try:
        folder = Path(importlib.metadata.distribution(dist).locate_file(inside))
    except importlib.metadata.PackageNotFoundError:
        folder = None
    if folder is None or not folder.is_dir():
        raise RuntimeError(
            f"the package {dist} is not installed (it is in the course's 'site' extra): run python3 course.py setup"
        )
    return folder


def copy_parts(src: Path, dest: Path, parts: tuple[str, ...]) -> int:
    """Copy the files and folders ``parts`` of ``src`` to ``dest`` (same relative paths), skipping files already
    there with the same size and modification time; return the number of files copied. Source maps are left out."""
    src, dest = Path(src), Path(dest)
    copied = 0
    for part in parts:
        origin = src / part
        if not origin.exists():
            raise FileNotFoundError(f"{origin} is missing from the installed package")
        files = [origin] if origin.is_file() else sorted(p for p in origin.rglob("*") if p.is_file())
        for f in files:
            if f.suffix == ".map":
                continue
            target = dest / f.relative_to(src)
            st = f.stat()
            if target.exists() and target.stat().st_size == st.st_size and target.stat().st_mtime == st.st_mtime:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, target)
            copied += 1
    return copied


def copy_mathjax(dest: Path) -> Path:
    """MathJax 3 (SVG output) into ``dest``; returns the path of the script pages load."""
    copy_parts(installed_folder(MATHJAX_DIST, MATHJAX_IN_DIST), dest, MATHJAX_PARTS)
    return Path(dest) / MATHJAX_ENTRY


def copy_reveal(dest: Path) -> Path:
    """reveal.js (script, styles, themes, speaker notes) into ``dest``; returns ``dest``."""
    copy_parts(installed_folder(REVEAL_DIST, REVEAL_IN_DIST), dest, REVEAL_PARTS)
    return Path(dest)


def folder_size(folder: Path) -> tuple[int, int]:
    """(number of files, total bytes) under ``folder``."""
    files = [p for p in Path(folder).rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)
