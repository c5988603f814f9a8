"""Build the course's offline outputs from the notebooks' stored outputs (nothing is executed except by nbgrader).

    python3 course.py site          the website:   build/site/        (Sphinx + MyST-NB + sphinx-book-theme)
    python3 course.py slides        the decks:     build/slides/      (nbconvert's reveal.js exporter)
    python3 course.py assignments   the exercises: build/assignments/ (nbgrader: source/ and release/)

Modules, lowest first (each imports only from those above it):

    course_files   where things are: the course notebooks (a glob, so new notebooks join by themselves), their
                   solutions, and the vendored JavaScript (MathJax 3 from the PyPI package sphinx-mathjax-offline,
                   reveal.js from the PyPI package sphinx-revealjs), copied so that pages need no network
    alttext        alt text for every figure, from the caption next to it (or the plot's title)
    website        the staged Sphinx source (notebooks + docs/site/) and the Sphinx build
    slides         the slide rule (which cell starts a slide) and the reveal.js decks
    assignments    exercise cells → nbgrader solution regions, checker calls → autograded tests with points
    pagecheck      headless Chromium (Debian's, driven by playwright) opening built pages with every non-file
                   request blocked: math typeset, figures loaded, internal links resolved
    cli            the command line behind course.py's site/slides/assignments (``scripts/build_course.py``)

This is not part of the ``retnet_edu`` package (the course's model code): it is tooling, like ``scripts/``.
"""
