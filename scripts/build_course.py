#!/usr/bin/env python3
"""Build the course's offline outputs: ``python3 course.py site|slides|assignments`` runs this with the course's
Python (the code is in ``scripts/coursebuild/``; ``--help`` lists the options)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from coursebuild.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
