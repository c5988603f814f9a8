"""Open built pages in headless Chromium with every request off the disk blocked, and report what a reader sees.

Debian's Chromium (``/usr/bin/chromium``) is driven by the Python package playwright (``playwright install`` is
never needed). Pages are opened as ``file://`` URLs; a request for anything else (http, https, ws, …) is aborted and
recorded, so a page that needs the network shows up in ``blocked``. For each page ``check_page`` waits for MathJax
(and for reveal.js on a deck), then reports:

* math: the elements holding TeX, how many MathJax typeset, and the TeX errors it met (``data-mjx-error``);
* figures: every ``<img>``, whether it loaded (``naturalWidth > 0``), and those without alt text;
* links: every link to another file of the site, whether that file exists and holds the ``#anchor`` it names;
* requests blocked (off the disk), requests failed (a missing file), console errors and uncaught page errors.
"""

from __future__ import annotations

import html
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")

MATH_JS = r"""async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
  const holders = Array.from(document.querySelectorAll('.math, .MathJax_Preview, [data-math]'));
  const typeset = document.querySelectorAll('mjx-container').length;
  const errors = Array.from(document.querySelectorAll('[data-mjx-error], mjx-merror')).map(
      e => e.getAttribute('data-mjx-error') || e.textContent);
  const raw = holders.filter(e => !e.querySelector('mjx-container')).map(e => e.textContent.slice(0, 80));
  // TeX still in the text (outside code): what MathJax should have typeset and did not
  const tex = /\$\$[\s\S]+?\$\$|\$[^$\s][^$]*?\$|\\\(|\\\[/;
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, {acceptNode: n =>
      n.parentElement.closest('script, style, pre, code, textarea, mjx-container, .highlight')
          ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT});
  while (walker.nextNode()) {
    const m = walker.currentNode.textContent.match(tex);
    if (m) { raw.push(walker.currentNode.textContent.slice(Math.max(0, m.index - 20), m.index + 60)); }
  }
  return {holders: holders.length, typeset: typeset, errors: errors, raw: raw,
          mathjax: !!(window.MathJax && MathJax.version), version: window.MathJax ? (MathJax.version || '') : ''};
}"""
IMAGES_JS = """() => Array.from(document.images).map(i => ({
  src: i.getAttribute('src'), alt: i.getAttribute('alt'), ok: i.complete && i.naturalWidth > 0,
  width: i.naturalWidth}))"""
LINKS_JS = """() => Array.from(document.querySelectorAll('a[href]')).map(a => a.href)"""


@dataclass
class PageReport:
    url: str
    title: str = ""
    math_holders: int = 0
    math_typeset: int = 0
    math_errors: list[str] = field(default_factory=list)
    math_untypeset: list[str] = field(default_factory=list)
    mathjax_version: str = ""
    images: int = 0
    images_broken: list[str] = field(default_factory=list)
    images_without_alt: list[str] = field(default_factory=list)
    links_checked: int = 0
    links_broken: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    @property
    def problems(self) -> list[str]:
        """Everything wrong with the page, in words (empty when all is well)."""
        out = []
        if self.math_holders and (self.math_typeset == 0 or self.math_untypeset):
            out.append(f"math not typeset: {self.math_untypeset[:3] or 'nothing typeset'}")
        out += [f"TeX error: {e}" for e in self.math_errors]
        out += [f"image did not load: {s}" for s in self.images_broken]
        out += [f"image without alt text: {s}" for s in self.images_without_alt]
        out += [f"broken link: {s}" for s in self.links_broken]
        out += [f"request off the disk (blocked): {s}" for s in self.blocked]
        out += [f"request failed: {s}" for s in self.failed]
        out += [f"page error: {s}" for s in self.page_errors]
        return out


def find_chromium(explicit: str | None = None) -> str | None:
    """Debian's Chromium: ``explicit``, else ``chromium`` on PATH, else /usr/bin/chromium (None if none runs)."""
    for candidate in (explicit, shutil.which("chromium"), "/usr/bin/chromium"):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def missing_tools(chromium: str | None = None) -> list[str]:
    """What is missing to open pages: Debian's Chromium and the Python package playwright (with how to install
    each); empty when both are there."""
    import importlib.util

    missing = []
    if find_chromium(chromium) is None:
        missing.append("Chromium (Debian/Ubuntu: `apt-get install chromium`, as root)")
    if importlib.util.find_spec("playwright") is None:
        missing.append(
            "the Python package playwright (`python3 course.py setup` installs it; never `playwright install`, "
            "the Debian Chromium is used)"
        )
    return missing


_ids_cache: dict[Path, set[str]] = {}


def _ids(path: Path) -> set[str]:
    if path not in _ids_cache:
        text = path.read_text(encoding="utf-8", errors="replace")
        _ids_cache[path] = {html.unescape(m) for m in re.findall(r'\bid="([^"]+)"', text)}
    return _ids_cache[path]


def broken_local_links(hrefs: list[str], site_root: Path) -> tuple[int, list[str]]:
    """How many of ``hrefs`` (absolute URLs) point to files inside ``site_root``, and which of those do not
    resolve: the file is missing, or an HTML file lacks the ``#anchor``. Links elsewhere are not counted."""
    site_root = Path(site_root).resolve()
    checked, broken = 0, []
    for href in sorted(set(hrefs)):
        url = urlparse(href)
        if url.scheme != "file":
            continue
        path = Path(unquote(url.path))
        try:
            path.resolve().relative_to(site_root)
        except ValueError:
            broken.append(f"{href} (outside the site)")
            continue
        checked += 1
        if path.is_dir():
            path = path / "index.html"
        if not path.is_file():
            broken.append(href)
        elif url.fragment and path.suffix == ".html" and not url.fragment.startswith("/"):
            # a browser tries the fragment as it is, then percent-decoded; "#/…" are reveal.js's slide routes
            if url.fragment not in _ids(path) and unquote(url.fragment) not in _ids(path):
                broken.append(f"{href} (no such anchor)")
    return checked, broken


class Browser:
    """One headless Chromium for many pages; requests off the disk are blocked and recorded per page."""

    def __init__(self, chromium: str, viewport=(1280, 900)):
        from playwright.sync_api import sync_playwright

        self._pw = sync_playwright().start()
        try:
            self._browser = self._pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        except Exception:
            self._pw.stop()
            raise
        self._context = self._browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
        self._blocked: list[str] = []
        self._context.route("**/*", self._route)

    def _route(self, route):
        url = route.request.url
        if url.startswith(LOCAL_SCHEMES):
            route.continue_()
        else:
            self._blocked.append(url)
            route.abort()

    def close(self) -> None:
        try:
            self._context.close()
            self._browser.close()
        finally:
            self._pw.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def check_page(
        self, path: Path, site_root: Path, wait_js: str | None = None, extra_js: str | None = None, shot=None
    ) -> PageReport:
        """Open ``path`` (a file of the site under ``site_root``) and report on it (see the module docstring).
        ``wait_js`` is awaited after loading (e.g. reveal.js ready); ``extra_js``'s result goes into ``extra``;
        ``shot`` is a path for a screenshot."""
        path = Path(path).resolve()
        report = PageReport(url=path.as_uri())
        self._blocked = []
        page = self._context.new_page()
        page.on("requestfailed", lambda r: report.failed.append(f"{r.url} ({r.failure})"))
        page.on("console", lambda m: report.console_errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: report.page_errors.append(str(e)))
        try:
            page.goto(report.url, wait_until="load", timeout=60_000)
            if wait_js:
                page.wait_for_function(wait_js, timeout=60_000)
            report.title = page.title()
            math = page.evaluate(MATH_JS)
            report.math_holders, report.math_typeset = math["holders"], math["typeset"]
            report.math_errors, report.math_untypeset = math["errors"], math["raw"]
            report.mathjax_version = math["version"]
            page.wait_for_load_state("load")
            for img in page.evaluate(IMAGES_JS):
                report.images += 1
                if not img["ok"]:
                    report.images_broken.append(img["src"][:120])
                if not (img["alt"] or "").strip():
                    report.images_without_alt.append(img["src"][:120])
            report.links_checked, report.links_broken = broken_local_links(page.evaluate(LINKS_JS), site_root)
            if extra_js:
                report.extra = page.evaluate(extra_js)
            if shot is not None:
                page.screenshot(path=str(shot))
        finally:
            page.close()
        report.blocked = list(self._blocked)
        # a file:// request for a missing file fails with ERR_FILE_NOT_FOUND; blocked requests are listed apart
        if report.blocked:
            report.failed = [f for f in report.failed if not f.startswith(tuple(report.blocked))]
        return report
