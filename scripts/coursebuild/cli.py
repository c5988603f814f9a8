"""The command line behind ``python3 course.py site|slides|assignments`` (run as ``scripts/build_course.py``).

    build_course.py site         [--out build/site] [--jobs 1] [--check]
    build_course.py slides       [--out build/slides] [--check]
    build_course.py assignments  [--out build/assignments] [--check]

``--check`` also opens every page (site) or deck (slides) in headless Chromium with requests off the disk blocked
and prints what ``pagecheck`` found, or autogrades the solutions and the blank sheets with nbgrader and prints the
scores (assignments). Exit code 1 when a check finds a problem.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from . import assignments, pagecheck, slides, website

DECK_READY = "() => window.Reveal && Reveal.isReady()"
DECK_INFO = "() => ({slides: Reveal.getTotalSlides()})"


def site_pages(site: Path) -> list[Path]:
    """The pages of a built site a reader opens: every HTML file except Sphinx's search and index pages and the
    theme's template fragments under ``_static``."""
    skip = ("search.html", "genindex.html")
    return sorted(p for p in Path(site).rglob("*.html") if "_static" not in p.parts and p.name not in skip)


def check_pages(pages: list[Path], root: Path, deck: bool = False) -> tuple[list[pagecheck.PageReport], float]:
    chromium = pagecheck.find_chromium()
    if chromium is None:
        raise RuntimeError("no Chromium found (Debian/Ubuntu: apt-get install chromium)")
    t0 = time.perf_counter()
    reports = []
    with pagecheck.Browser(chromium) as browser:
        for p in pages:
            is_deck = deck and p.name.endswith(slides.DECK_SUFFIX)
            reports.append(
                browser.check_page(
                    p, root, wait_js=DECK_READY if is_deck else None, extra_js=DECK_INFO if is_deck else None
                )
            )
    return reports, time.perf_counter() - t0


def print_reports(reports: list[pagecheck.PageReport], root: Path, seconds: float) -> bool:
    bad = 0
    for r in reports:
        name = Path(r.url.removeprefix("file://")).relative_to(Path(root).resolve())
        extra = f", {r.extra['slides']} slides" if r.extra.get("slides") else ""
        print(
            f"  {name}: math {r.math_typeset} typeset, {len(r.math_errors)} TeX errors; images {r.images} "
            f"({len(r.images_broken)} broken, {len(r.images_without_alt)} without alt); links {r.links_checked} "
            f"({len(r.links_broken)} broken); blocked requests {len(r.blocked)}{extra}"
        )
        for problem in r.problems:
            print(f"    PROBLEM {problem}")
        bad += bool(r.problems)
    print(
        f"checked {len(reports)} pages in headless Chromium in {seconds:.0f} s: {len(reports) - bad} without problems"
    )
    return bad == 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="build_course.py", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    ap.add_argument("what", choices=["site", "slides", "assignments"])
    ap.add_argument("--out", type=Path, default=None, help="the output folder (default: build/<what>)")
    ap.add_argument("--jobs", type=int, default=1, help="Sphinx's parallel jobs (site)")
    ap.add_argument("--check", action="store_true", help="check the result (see above)")
    a = ap.parse_args(argv)
    ok = True
    if a.what == "site":
        build = website.build_site(out=a.out or website.DEFAULT_OUT, jobs=a.jobs)
        print(website.summary(build))
        if a.check:
            reports, seconds = check_pages(site_pages(build.out), build.out)
            ok = print_reports(reports, build.out, seconds)
    elif a.what == "slides":
        build = slides.build_slides(out=a.out or slides.DEFAULT_OUT)
        print(slides.summary(build))
        if a.check:
            reports, seconds = check_pages([build.out / "index.html", *build.decks], build.out, deck=True)
            ok = print_reports(reports, build.out, seconds)
    else:
        build = assignments.build_assignments(out=a.out or assignments.DEFAULT_OUT)
        print(assignments.summary(build))
        if a.check:
            t0 = time.perf_counter()
            solved, blank = assignments.check(build)
            print(assignments.grades_summary(solved, blank))
            print(f"autograded in {time.perf_counter() - t0:.0f} s")
            ok = all(g.score == g.max_score for g in solved) and all(g.score == 0 for g in blank)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
