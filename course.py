#!/usr/bin/env python3
"""One entry point for the course, needing only Python ≥ 3.11 and git (no make, no conda).

    python3 course.py lab      set up (if needed) and open the course in JupyterLab on localhost
    python3 course.py test     set up (if needed) and run every test: unit tests and every notebook (strict nbval)
    python3 course.py quick    set up (if needed) and run the unit tests without notebooks, the browser test or
                               tests marked slow: the loop to run while coding (under a minute on 2 cores)
    python3 course.py bless    set up (if needed) and re-execute notebooks, storing their outputs (test settings)
    python3 course.py setup    only create/refresh the environment
    python3 course.py lock     rewrite constraints.txt from the environment (after changing pyproject.toml)

Set-up creates ``.venv`` next to this file if it is missing, installs torch==2.13.0 *first* (a torch range in a
fresh environment would pull a multi-GB CUDA build on Linux), then the package with its pinned dependencies
(``constraints.txt``), then the official implementation (torchscale 0.3.0, with ``--no-deps``) for comparisons.
It is skipped when nothing changed since the last run. ``--here`` uses the running interpreter instead of
``.venv`` (e.g. inside the conda environment of environment.yml).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
CONSTRAINTS = ROOT / "constraints.txt"
TORCH = "torch==2.13.0"
OFFICIAL = ["torchscale==0.3.0", "fairscale==0.4.0"]
STAMP_NAME = ".retnet-edu-setup"
KERNEL_NAME = "retnet-edu"

# The settings the notebooks' stored outputs were made with, and are tested with.
TEST_ENV = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "PYTHONHASHSEED": "0",
    "RETNET_DEVICE": "cpu",
    "PYDEVD_DISABLE_FILE_VALIDATION": "1",
}
PYTEST_NOTEBOOK_ARGS = [
    "--nbval",
    "--nbval-current-env",
    "--nbval-sanitize-with",
    "nbval_sanitize.cfg",
    "--nbval-cell-timeout=600",
]
QUICK_MARKERS = "not slow and not browser"  # pytest.ini registers both markers


def say(msg: str) -> None:
    print(f"[course] {msg}", flush=True)


def run(cmd: list[str], env: dict | None = None, check: bool = True) -> int:
    say(" ".join(str(c) for c in cmd))
    proc = subprocess.run([str(c) for c in cmd], cwd=ROOT, env=env)
    if check and proc.returncode != 0:
        sys.exit(proc.returncode)
    return proc.returncode


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def setup_fingerprint() -> str:
    h = hashlib.sha256()
    for p in (CONSTRAINTS, ROOT / "pyproject.toml", Path(__file__)):
        h.update(p.read_bytes())
    return h.hexdigest()


def setup(here: bool) -> Path:
    """Create/refresh the environment; return the Python to use."""
    if sys.version_info < (3, 11):  # noqa: UP036 (course.py runs on any python3; the package needs 3.11)
        sys.exit(f"Python >= 3.11 is needed, this is {sys.version.split()[0]}")
    if here:
        python = Path(sys.executable)
        stamp = ROOT / ".retnet-edu-setup-here"
    else:
        python = venv_python()
        if not python.exists():
            say(f"creating {VENV.relative_to(ROOT)}")
            venv.EnvBuilder(with_pip=True).create(VENV)
        stamp = VENV / STAMP_NAME
    fingerprint = setup_fingerprint()
    if stamp.exists() and stamp.read_text().strip() == fingerprint:
        return python
    pip = [python, "-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "off", "-c", CONSTRAINTS]
    run(pip + [TORCH])  # first, pinned: never the multi-GB CUDA build
    run(pip + ["-e", ".[course,test]"])
    run(pip + ["--no-deps"] + OFFICIAL)  # the official code, for the comparison tests/notebook 07
    stamp.write_text(fingerprint + "\n")
    return python


def test_env() -> dict:
    env = dict(os.environ)
    env.update(TEST_ENV)
    env.pop("MPLBACKEND", None)  # a CI-wide MPLBACKEND=Agg would drop inline figures
    return env


def pytest_command(command: str, python: Path, extra: list[str]) -> list:
    """The pytest command line of ``test`` (every test and notebook) or ``quick`` (unit tests only, no notebooks,
    no browser, nothing marked slow); ``extra`` is appended (e.g. ``-k name`` or ``-x``)."""
    if command == "test":
        workers = ["-n", "2", "--dist", "loadfile"]
        return [python, "-m", "pytest", *workers, *PYTEST_NOTEBOOK_ARGS, "tests", "notebooks", *extra]
    if command == "quick":
        return [python, "-m", "pytest", "-q", "-n", "2", "-m", QUICK_MARKERS, "tests", *extra]
    raise ValueError(f"no pytest command for {command!r}")


def cmd_test(python: Path, extra: list[str], command: str = "test") -> int:
    return run(pytest_command(command, python, extra), env=test_env(), check=False)


def cmd_bless(python: Path, notebooks: list[str]) -> int:
    return run([python, "scripts/execute_notebooks.py", *notebooks], env=test_env(), check=False)


def cmd_lab(python: Path, extra: list[str]) -> int:
    run(
        [python, "-m", "ipykernel", "install", "--user", "--name", KERNEL_NAME, "--display-name", "Python (retnet-edu)"]
    )
    root = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []  # e.g. inside a container
    return run(
        [
            python,
            "-m",
            "jupyter",
            "lab",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.root_dir={ROOT}",
            *root,
            "notebooks/00_welcome_and_setup.ipynb",
            *extra,
        ],
        check=False,
    )


def cmd_lock(python: Path) -> int:
    out = subprocess.run(
        [python, "-m", "pip", "freeze", "--all", "--exclude-editable"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    lines = [
        ln.split("+")[0] if ln.lower().startswith("torch==") else ln
        for ln in out.splitlines()
        if ln and not ln.lower().startswith(("retnet-edu", "retnet_edu", "-e ", "pip=="))
    ]
    header = CONSTRAINTS.read_text().splitlines()
    header = [ln for ln in header if ln.startswith("#")]
    CONSTRAINTS.write_text("\n".join(header + lines) + "\n")
    say(f"wrote {len(lines)} pins to {CONSTRAINTS.name}")
    return 0


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["setup", "lab", "test", "quick", "bless", "lock"])
    ap.add_argument("--here", action="store_true", help="use the running Python instead of .venv")
    ap.add_argument(
        "args",
        nargs=argparse.REMAINDER,
        help="passed on: to pytest (test, quick), jupyter lab (lab), or notebook paths (bless)",
    )
    return ap


def main(argv: list[str] | None = None) -> int:
    ns = parser().parse_args(argv)
    python = setup(ns.here)
    if ns.command == "setup":
        return 0
    if ns.command in ("test", "quick"):
        return cmd_test(python, ns.args, ns.command)
    if ns.command == "bless":
        return cmd_bless(python, ns.args)
    if ns.command == "lab":
        return cmd_lab(python, ns.args)
    return cmd_lock(python)


if __name__ == "__main__":
    sys.exit(main())
