"""Shared by the test files: the hypothesis profiles, and fixtures that several test files use.

Hypothesis runs derandomised in CI: the profile "ci" (loaded when the environment variable CI is set, as CI
services do) draws the same examples on every run and keeps no example database, so a red CI run is reproducible
and a green one stays green. Elsewhere the profile "dev" (hypothesis's defaults: new random examples each run)
keeps exploring. ``HYPOTHESIS_PROFILE=ci pytest …`` picks a profile by hand. The tests' own ``@settings``
(``max_examples``, ``deadline``) apply on top of either profile.
"""

import os
import sys
from pathlib import Path

import pytest
from hypothesis import settings

# tests in sub-folders import the shared modules of tests/ (naive.py) by name
sys.path.insert(0, str(Path(__file__).resolve().parent))

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("dev")
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))


@pytest.fixture
def close_figures():
    """Close every matplotlib figure after the test (for tests that draw figures they do not close themselves)."""
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
