"""Sphinx configuration of the course website (``python3 course.py site`` → ``build/site/``).

Sphinx does not read this folder in place: ``scripts/coursebuild/website.py`` stages it together with the notebooks
(as stored, outputs included: nothing is executed), the repository documents they link to, and MathJax, then builds
the staged copy. Everything a page loads is inside the site: no CDN, no web font, no request off the disk.
"""

project = "RetNet from first principles"
author = "the retnet-edu authors"
copyright = "the retnet-edu authors; code MIT, notebooks' prose and figures CC BY 4.0"  # noqa: A001

extensions = [
    "myst_nb",  # notebooks (.ipynb) and MyST markdown as pages
    "sphinx.ext.githubpages",  # .nojekyll, so GitHub Pages serves _static/ and _images/ as they are
]
root_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
language = "en"

# The notebooks are shown with the outputs stored in them (blessed under the test settings): never re-executed.
nb_execution_mode = "off"
# No ipywidgets JavaScript from a CDN: the site is static (widget outputs are replaced by a note when staged).
nb_ipywidgets_js = {}
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
suppress_warnings = ["myst.header"]  # the notebooks' headings are a course's, not a book's: levels may skip

# Math by MathJax 3 from the site itself (copied into _static/mathjax when the site is staged): SVG output, which
# needs no web fonts (browsers do not load fonts into pages opened from file://).
mathjax_path = "mathjax/tex-svg.js"
mathjax3_config = {"svg": {"fontCache": "global"}}

html_theme = "sphinx_book_theme"
html_title = "RetNet from first principles"
html_static_path = ["_static"]
html_last_updated_fmt = None
html_theme_options = {
    "home_page_in_toc": True,
    "show_toc_level": 2,
    "use_download_button": True,  # each page offers its .ipynb
    "use_fullscreen_button": False,
    "navigation_with_keys": False,
}
html_show_sphinx = True
