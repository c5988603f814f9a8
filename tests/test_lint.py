"""The repository passes its linter and formatter (ruff, pinned in pyproject's ``test`` extra, configured in
pyproject.toml): the same ``ruff check .`` and ``ruff format --check .`` that CONTRIBUTING.md and the pre-commit hook
ask for, so that CI fails where a commit skipped the hook."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("args", [["check", "."], ["format", "--check", "."]], ids=["check", "format"])
def test_ruff_is_clean(args):
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", *args, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, f"ruff {' '.join(args)} failed:\n{proc.stdout[-4000:]}{proc.stderr[-2000:]}"
