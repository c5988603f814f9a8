#!/usr/bin/env python3
"""One entry point for the course, needing only Python ≥ 3.11 and git (no make, no conda).

    python3 course.py lab      set up (if needed) and open the course in JupyterLab on localhost
    python3 course.py test     set up (if needed) and run every test: unit tests and every notebook (strict nbval)
    python3 course.py quick    set up (if needed) and run the unit tests without notebooks, the browser test or
                               tests marked slow: the loop to run while coding (under a minute on 2 cores)
    python3 course.py bless    set up (if needed) and re-execute notebooks, storing their outputs (test settings)
    python3 course.py setup    only create/refresh the environment
    python3 course.py doctor   print Python, the torch build, the device, the torch index and whether the
                               installed versions match constraints.txt (exit code 1 when they do not)
    python3 course.py lock     rewrite constraints.txt from the environment (after changing pyproject.toml)
    python3 course.py site     set up (if needed) and build the course website from the stored outputs into
                               build/site/ (Sphinx + MyST-NB; works offline; --check opens every page in Chromium)
    python3 course.py slides   set up (if needed) and write a reveal.js deck per notebook into build/slides/
    python3 course.py assignments  set up (if needed) and write nbgrader assignments into build/assignments/
                               (--check autogrades the solutions and the blank sheets)

Options (before or right after the command): ``--here`` uses the running interpreter instead of ``.venv`` (e.g.
inside the conda environment of environment.yml); ``--torch auto|cpu|cuda`` chooses the torch build (default
``auto``: the CUDA build on Linux only when an NVIDIA GPU is found, else the CPU build).

Set-up creates ``.venv`` next to this file if it is missing, installs torch 2.13.0 *first*, in the build the plan
chooses (``torch_plan``: on Linux without an NVIDIA GPU the CPU build from https://download.pytorch.org/whl/cpu,
about 200 MB, instead of PyPI's CUDA build with ~3 GB of nvidia-* wheels), then the package with its pinned
dependencies (``constraints.txt``), then the official implementation (torchscale 0.3.0, with ``--no-deps``) for
comparisons. It prints the torch build it chose and the index. The environment variable RETNET_EDU_TORCH_INDEX
overrides the index: ``pip-default`` (or empty) uses pip's own configuration (CI does this: its machines reach no
other index), a URL is passed to pip as ``--extra-index-url``. Set-up is skipped when nothing changed since the
last run (constraints.txt, pyproject.toml, this file and the torch plan are its fingerprint; switching between
the CPU and the CUDA build re-installs torch).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tomllib
import venv
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
CONSTRAINTS = ROOT / "constraints.txt"
PYPROJECT = ROOT / "pyproject.toml"
TORCH_VERSION = "2.13.0"
TORCH = f"torch=={TORCH_VERSION}"
OFFICIAL = ["torchscale==0.3.0", "fairscale==0.4.0"]
STAMP_NAME = ".retnet-edu-setup"
EXTRAS = ("course", "test", "site")  # pyproject's extras set-up installs (site: the website, slides, assignments)
NBGRADER_SERVER_EXTENSIONS = (
    "nbgrader.server_extensions.formgrader",
    "nbgrader.server_extensions.validate_assignment",
    "nbgrader.server_extensions.assignment_list",
    "nbgrader.server_extensions.course_list",
)
NBGRADER_LAB_EXTENSION = "@jupyter/nbgrader"
BUILDS = ("site", "slides", "assignments")  # the commands that build into build/ (scripts/build_course.py)
KERNEL_NAME = "retnet-edu"

# Which torch to install (see torch_plan).
CPU_INDEX = "https://download.pytorch.org/whl/cpu"  # PyTorch's CPU-only wheels: version 2.13.0+cpu on Linux
INDEX_ENV = "RETNET_EDU_TORCH_INDEX"  # "pip-default" (or empty): pip's own configuration; a URL: that index
PIP_DEFAULT = "pip-default"
TORCH_CHOICES = ("auto", "cpu", "cuda")
TORCH_HELP_URL = "https://pytorch.org/get-started/locally/"

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


# ---------------------------------------------------------------------------------------------------------------
# The torch build: a pure plan from (platform, machine, GPU, flag, environment), and the GPU probe that feeds it.


class TorchPlan(NamedTuple):
    """What set-up installs as torch: the pip requirement, the index arguments added to that one pip command
    (empty: pip's own configuration), the build wanted ("cpu" or "cuda") and a sentence saying why."""

    requirement: str
    index_args: tuple[str, ...]
    build: str
    explanation: str

    @property
    def index(self) -> str:
        """The index in words, as set-up and ``doctor`` print it."""
        if not self.index_args:
            return "pip's own configuration (PyPI unless pip.conf or PIP_* variables say otherwise)"
        return f"{' '.join(self.index_args)} (and pip's own configuration for everything else)"


def index_override(env: Mapping[str, str]) -> str | None:
    """The index RETNET_EDU_TORCH_INDEX asks for: None when it is unset, "" for pip's own configuration
    (``pip-default`` or empty), else a URL (http, https or file)."""
    if not isinstance(env, Mapping):
        raise TypeError(f"env must be a mapping of environment variables, got {type(env).__name__}")
    value = env.get(INDEX_ENV)
    if value is None:
        return None
    value = value.strip()
    if value in ("", PIP_DEFAULT):
        return ""
    if not re.match(r"(https?|file)://\S+$", value):
        raise ValueError(f"{INDEX_ENV} must be {PIP_DEFAULT!r}, empty or an http(s):// or file:// URL, got {value!r}")
    return value


def torch_plan(system: str, machine: str, has_gpu: bool, flag: str, env: Mapping[str, str]) -> TorchPlan:
    """Which torch 2.13.0 to install, decided without touching the network.

    ``system`` and ``machine`` are ``platform.system()`` and ``platform.machine()``; ``has_gpu`` says whether an
    NVIDIA GPU was found (``has_nvidia_gpu``); ``flag`` is ``--torch``: "auto" (the CUDA build on Linux only with
    an NVIDIA GPU), "cpu" or "cuda"; ``env`` holds the environment variables (RETNET_EDU_TORCH_INDEX overrides the
    index). The rules:

    * Linux, CPU build: ``torch==2.13.0+cpu`` with ``--extra-index-url`` PyTorch's CPU index. The local label
      ``+cpu`` makes pip fail loudly if that index cannot be reached, instead of falling back to PyPI's CUDA build
      (~3 GB of nvidia-* wheels); constraints.txt's ``torch==2.13.0`` matches it.
    * Linux, CUDA build: ``torch==2.13.0`` from PyPI, whose Linux wheel is the CUDA build.
    * macOS: PyPI's wheel (CPU and Apple's MPS); there is no CUDA build and no 2.13.0 wheel for Intel Macs.
    * Windows: PyPI's wheel, which is CPU-only; a CUDA build needs RETNET_EDU_TORCH_INDEX set to one of
      PyTorch's CUDA indexes (https://download.pytorch.org/whl/cu…).
    * RETNET_EDU_TORCH_INDEX = ``pip-default`` (or empty): no index arguments, the plain pin ``torch==2.13.0``,
      pip's own configuration decides (CI: a local CPU wheel). A URL: ``--extra-index-url URL`` in place of the
      default index (the Linux CPU build is still asked for as ``+cpu``).

    Bad arguments raise TypeError/ValueError naming them; a build that cannot exist (CUDA on macOS, torch 2.13.0
    on an Intel Mac, CUDA on Windows without an index) raises ValueError saying what to do.
    """
    for name, value in (("system", system), ("machine", machine), ("flag", flag)):
        if not isinstance(value, str):
            raise TypeError(f"{name} must be a string, got {type(value).__name__}")
    if not isinstance(has_gpu, bool):
        raise TypeError(f"has_gpu must be a bool, got {type(has_gpu).__name__}")
    if flag not in TORCH_CHOICES:
        raise ValueError(f"flag (--torch) must be one of {', '.join(TORCH_CHOICES)}, got {flag!r}")
    override = index_override(env)
    gpu = "an NVIDIA GPU was found" if has_gpu else "no NVIDIA GPU was found"
    asked = f"--torch {flag}" if flag != "auto" else f"--torch auto, {gpu}"

    if system == "Linux":
        build = "cuda" if flag == "cuda" or (flag == "auto" and has_gpu) else "cpu"
        if build == "cuda":
            why = f"Linux ({asked}): the CUDA build (PyPI's Linux wheel, with ~3 GB of nvidia-* wheels)"
            default_index = None
        else:
            why = f"Linux ({asked}): the CPU build (about 200 MB instead of PyPI's ~3 GB CUDA build"
            why += "; --torch cuda installs that)" if flag == "auto" else ")"
            default_index = CPU_INDEX
    elif system == "Darwin":
        if flag == "cuda":
            raise ValueError("flag (--torch) is 'cuda', but PyTorch has no CUDA build for macOS: use --torch auto")
        if machine.lower() in ("x86_64", "amd64", "i386"):
            raise ValueError(
                f"torch {TORCH_VERSION} has no wheel for Intel Macs (machine {machine!r}; PyTorch's last macOS x86_64 "
                "release was 2.2): use an Apple-silicon Mac, Linux, Windows or a hosted notebook service"
            )
        build, default_index = "cpu", None
        why = "macOS: PyPI's wheel (the CPU and Apple's MPS)"
    elif system == "Windows":
        build = "cuda" if flag == "cuda" else "cpu"
        default_index = None
        if build == "cuda" and override is None:
            raise ValueError(
                f"flag (--torch) is 'cuda', but PyPI's Windows wheels are CPU-only: set {INDEX_ENV} to the CUDA "
                f"index for your driver (e.g. https://download.pytorch.org/whl/cu128; see {TORCH_HELP_URL})"
            )
        if build == "cuda":
            why = f"Windows ({asked}): the CUDA build, from the index {INDEX_ENV} names"
        else:
            why = f"Windows ({asked}): PyPI's wheel, the CPU build"
            if has_gpu and flag == "auto":
                why += f" (for CUDA: --torch cuda with {INDEX_ENV} set to a CUDA index; see {TORCH_HELP_URL})"
    else:
        build, default_index = "cpu", None
        why = f"{system or 'unknown system'} ({asked}): PyPI's wheel, as pip chooses it"

    index = default_index if override is None else override or None
    if override == "":
        why += f"; {INDEX_ENV}={env[INDEX_ENV].strip() or repr('')}: pip's own configuration decides which wheel"
    elif override is not None:
        why += f"; the index set by {INDEX_ENV}"
    if index is None:
        return TorchPlan(TORCH, (), build, why)
    local = "+cpu" if system == "Linux" and build == "cpu" else ""
    return TorchPlan(f"{TORCH}{local}", ("--extra-index-url", index), build, why)


def has_nvidia_gpu(
    which: Callable[[str], str | None] = shutil.which,
    runner: Callable[..., subprocess.CompletedProcess] = subprocess.run,
    proc_gpus: Path = Path("/proc/driver/nvidia/gpus"),
) -> bool:
    """Whether an NVIDIA GPU is usable here, found without torch: ``nvidia-smi -L`` runs and lists a GPU or, with
    no ``nvidia-smi`` on PATH, the Linux driver lists one under /proc/driver/nvidia/gpus."""
    smi = which("nvidia-smi")
    if smi is not None:
        try:
            out = runner([smi, "-L"], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            return False
        return out.returncode == 0 and "GPU" in (out.stdout or "")
    try:
        return proc_gpus.is_dir() and any(proc_gpus.iterdir())
    except OSError:
        return False


def current_torch_plan(flag: str) -> TorchPlan:
    """``torch_plan`` for this machine and environment."""
    system = platform.system()
    has_gpu = system != "Darwin" and has_nvidia_gpu()
    return torch_plan(system, platform.machine(), has_gpu, flag, os.environ)


# ---------------------------------------------------------------------------------------------------------------
# Set-up.


def setup_fingerprint(plan: TorchPlan) -> str:
    h = hashlib.sha256()
    for p in (CONSTRAINTS, PYPROJECT, Path(__file__)):
        h.update(p.read_bytes())
    h.update(json.dumps([plan.requirement, *plan.index_args, plan.build]).encode())
    return h.hexdigest()


def stamp_text(fingerprint: str, plan: TorchPlan) -> str:
    """The set-up stamp: the fingerprint on its first line, then the torch build it installed."""
    return f"{fingerprint}\ntorch-build: {plan.build}\n"


def needs_torch_uninstall(previous_stamp: str | None, installed: str | None, plan: TorchPlan) -> bool:
    """Whether set-up must uninstall torch before installing ``plan``'s: pip keeps an installed 2.13.0+cpu for the
    pin torch==2.13.0 (and an installed CUDA build when pip's own configuration would give the CPU one).

    ``previous_stamp`` is the text of the last set-up's stamp (None when there is none), which names the build it
    installed; ``installed`` is the installed torch's version (None when there is none), whose local label
    (``+cpu``, ``+cu128``, ``+rocm6.4``) names its build where it has one."""
    if installed is None:
        return False
    label = installed.partition("+")[2]
    if label == "cpu":
        return plan.build != "cpu"
    if label.startswith(("cu", "rocm")):
        return plan.build == "cpu"
    # no label (PyPI's wheel: the CUDA build on Linux, the CPU build elsewhere): the last stamp says which
    m = re.search(r"^torch-build: (\S+)$", previous_stamp or "", re.MULTILINE)
    return m is not None and m.group(1) != plan.build


def installed_torch(python: Path) -> str | None:
    """The version of torch installed for ``python``, None when there is none."""
    code = "import importlib.metadata as m; print(m.version('torch'))"
    proc = subprocess.run([python, "-c", code], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return None
    return proc.stdout.strip() or None


def setup(here: bool, torch_flag: str = "auto") -> Path:
    """Create/refresh the environment; return the Python to use."""
    if sys.version_info < (3, 11):  # noqa: UP036 (course.py runs on any python3; the package needs 3.11)
        sys.exit(f"Python >= 3.11 is needed, this is {sys.version.split()[0]}")
    try:
        plan = current_torch_plan(torch_flag)
    except ValueError as e:
        sys.exit(f"[course] {e}")
    if here:
        python = Path(sys.executable)
        stamp = ROOT / ".retnet-edu-setup-here"
    else:
        python = venv_python()
        if not python.exists():
            say(f"creating {VENV.relative_to(ROOT)}")
            venv.EnvBuilder(with_pip=True).create(VENV)
        stamp = VENV / STAMP_NAME
    fingerprint = setup_fingerprint(plan)
    previous = stamp.read_text() if stamp.exists() else None
    if previous is not None and previous.splitlines()[:1] == [fingerprint]:
        return python
    say(f"torch: {plan.requirement}, {plan.explanation}")
    say(f"torch index: {plan.index}")
    pip = [python, "-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "off", "-c", CONSTRAINTS]
    if needs_torch_uninstall(previous, installed_torch(python), plan):
        run([python, "-m", "pip", "uninstall", "-y", "torch"])  # else pip would keep the other build
    run(pip + [*plan.index_args, plan.requirement])  # first, pinned: never a multi-GB build the machine cannot use
    run(pip + ["-e", f".[{','.join(EXTRAS)}]"])
    run(pip + ["--no-deps"] + OFFICIAL)  # the official code, for the comparison tests/notebook 07
    quiet_nbgrader(python)
    stamp.write_text(stamp_text(fingerprint, plan))
    return python


def nbgrader_off(server_config: dict, page_config: dict) -> tuple[dict, dict]:
    """Jupyter's sys-prefix server and lab page configuration with nbgrader's server extensions and JupyterLab
    extension switched off (everything else kept): nbgrader comes with the ``site`` extra for ``course.py
    assignments``, and its menus and server extensions are not for learners. Instructors switch them back on with
    ``jupyter labextension enable @jupyter/nbgrader`` and ``jupyter server extension enable --sys-prefix MODULE``."""
    for name, value in (("server_config", server_config), ("page_config", page_config)):
        if not isinstance(value, dict):
            raise TypeError(f"{name} must be a dict (a JSON object), got {type(value).__name__}")
    server = json.loads(json.dumps(server_config))
    page = json.loads(json.dumps(page_config))
    extensions = server.setdefault("ServerApp", {}).setdefault("jpserver_extensions", {})
    extensions.update({module: False for module in NBGRADER_SERVER_EXTENSIONS})
    page.setdefault("disabledExtensions", {})[NBGRADER_LAB_EXTENSION] = True
    return server, page


def quiet_nbgrader(python: Path) -> None:
    """Apply ``nbgrader_off`` to the configuration in ``python``'s prefix (``PREFIX/etc/jupyter``, where
    ``jupyter … --sys-prefix`` writes)."""
    out = subprocess.run([python, "-c", "import sys; print(sys.prefix)"], capture_output=True, text=True, check=True)
    etc = Path(out.stdout.strip()) / "etc" / "jupyter"
    server_file, page_file = etc / "jupyter_server_config.json", etc / "labconfig" / "page_config.json"
    try:
        server = json.loads(server_file.read_text()) if server_file.exists() else {}
        page = json.loads(page_file.read_text()) if page_file.exists() else {}
    except (OSError, ValueError) as e:
        say(f"left nbgrader's Jupyter extensions as they are: could not read Jupyter's configuration ({e})")
        return
    server, page = nbgrader_off(server, page)
    page_file.parent.mkdir(parents=True, exist_ok=True)
    server_file.write_text(json.dumps(server, indent=2) + "\n")
    page_file.write_text(json.dumps(page, indent=2) + "\n")


# ---------------------------------------------------------------------------------------------------------------
# doctor: what is installed, against the plan and the lock.


class PinCheck(NamedTuple):
    name: str
    pinned: str | None  # the version constraints.txt pins, None when it pins none
    installed: str | None  # None when the package is not installed
    ok: bool


def normalize_name(name: str) -> str:
    """A distribution name in PEP 503's normal form (``PyYAML`` → ``pyyaml``, ``pre_commit`` → ``pre-commit``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_pins(text: str) -> dict[str, str]:
    """The exact pins ``name==version`` of a constraints file's text, by normalised name (comments and blank lines
    skipped); any other line raises ValueError."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a string, got {type(text).__name__}")
    pins = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        m = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([A-Za-z0-9.+!_-]+)", line)
        if m is None:
            raise ValueError(f"text: line {number} is not an exact pin name==version: {line!r}")
        pins[normalize_name(m.group(1))] = m.group(2)
    return pins


def version_matches(installed: str, pinned: str) -> bool:
    """Whether an installed version satisfies the pin ``==pinned``: equal, or equal but for a local label
    (``2.13.0+cpu`` satisfies ``==2.13.0``, as in PEP 440)."""
    if "+" in pinned:
        return installed == pinned
    return installed.split("+", 1)[0] == pinned


def check_pins(pins: Mapping[str, str], installed: Mapping[str, str | None], names: list[str]) -> list[PinCheck]:
    """One PinCheck per name: the pinned version, the installed one, and whether they agree (a package the lock
    does not pin, or that is not installed, does not)."""
    checks = []
    for name in names:
        key = normalize_name(name)
        pinned = pins.get(key)
        have = installed.get(key)
        ok = pinned is not None and have is not None and version_matches(have, pinned)
        checks.append(PinCheck(key, pinned, have, ok))
    return checks


def key_packages(pyproject_text: str) -> list[str]:
    """The packages the course installs by name: pyproject's dependencies, the extras set-up installs (``course``,
    ``test``, ``site``; one pyproject lacks is skipped), and the official implementation (normalised names, in that
    order, without repeats)."""
    project = tomllib.loads(pyproject_text)["project"]
    declared = list(project["dependencies"])
    for extra in EXTRAS:
        declared += project.get("optional-dependencies", {}).get(extra, [])
    names = []
    for requirement in [*declared, *OFFICIAL]:
        name = normalize_name(re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement.strip()).group(0))
        if name not in names:
            names.append(name)
    return names


# Run by the environment's own Python (course.py's Python may have no torch): prints one JSON object.
PROBE = r"""
import importlib.metadata as md, json, sys
out = {"python": sys.version.split()[0], "executable": sys.executable, "versions": {}}
for name in json.loads(sys.argv[1]):
    try:
        out["versions"][name] = md.version(name)
    except md.PackageNotFoundError:
        out["versions"][name] = None
try:
    out["package"] = md.version("retnet-edu")
except md.PackageNotFoundError:
    out["package"] = None
try:
    import torch
    out["torch_cuda"] = torch.version.cuda
    out["torch_hip"] = getattr(torch.version, "hip", None)
    out["cuda_available"] = torch.cuda.is_available()
    if out["cuda_available"]:
        out["gpu"] = torch.cuda.get_device_name(0)
except Exception as e:
    out["torch_error"] = f"{type(e).__name__}: {e}"
try:
    from retnet_edu.experiments.runtime import get_device
    out["device"] = str(get_device())
except Exception as e:
    out["device_error"] = f"{type(e).__name__}: {e}"
print(json.dumps(out))
"""


def torch_build_words(probe: dict) -> str:
    """The installed torch's build in words, from the probe: CPU, CUDA x.y or ROCm x.y."""
    if probe.get("torch_cuda"):
        build = f"CUDA {probe['torch_cuda']} build"
    elif probe.get("torch_hip"):
        build = f"ROCm {probe['torch_hip']} build"
    else:
        build = "CPU build"
    if probe.get("cuda_available"):
        return f"{build}, GPU available: {probe.get('gpu', 'yes')}"
    return f"{build}, no GPU available to it"


def installed_build(probe: dict) -> str | None:
    """The installed torch's build as the plan names builds ("cpu", "cuda"; "rocm"), None without torch."""
    if probe.get("versions", {}).get("torch") is None:
        return None
    return "cuda" if probe.get("torch_cuda") else "rocm" if probe.get("torch_hip") else "cpu"


def doctor_report(
    probe: dict, plan: TorchPlan | str, checks: list[PinCheck], torch_flag: str = "auto"
) -> tuple[list[str], bool]:
    """The lines ``doctor`` prints and whether all is well: every key package installed at the version
    constraints.txt pins (a torch build other than the plan's is noted, not counted against). ``plan`` is the plan
    set-up would follow, or why there is none."""
    versions = probe.get("versions", {})
    torch_version = versions.get("torch")
    lines = [f"python       {probe.get('python', '?')} ({probe.get('executable', '?')})"]
    lines.append(f"retnet_edu   {probe.get('package') or 'not installed'}")
    if torch_version is None:
        lines.append("torch        not installed")
    elif "torch_error" in probe:
        lines.append(f"torch        {torch_version}, but importing it failed: {probe['torch_error']}")
    else:
        lines.append(f"torch        {torch_version} ({torch_build_words(probe)})")
    if "device" in probe:
        lines.append(f"device       {probe['device']} (retnet_edu.experiments.runtime.get_device())")
    else:
        lines.append(f"device       unknown: {probe.get('device_error', 'retnet_edu is not importable')}")
    if isinstance(plan, TorchPlan):
        lines.append(f"torch plan   {plan.requirement}: {plan.explanation}")
        lines.append(f"torch index  {plan.index}")
        have = installed_build(probe)
        if have is not None and have != plan.build:
            lines.append(
                f"  note: the installed torch is the {have} build, the plan's is the {plan.build} build "
                f"(python3 course.py setup --torch {torch_flag} installs the plan's when the plan changed)"
            )
    else:
        lines.append(f"torch plan   none: {plan}")
    bad = [c for c in checks if not c.ok]
    lines.append(f"pins         {len(checks) - len(bad)} of {len(checks)} key packages as constraints.txt pins them")
    for c in bad:
        if c.pinned is None:
            lines.append(f"  {c.name}: not pinned in constraints.txt (installed: {c.installed or 'no'})")
        elif c.installed is None:
            lines.append(f"  {c.name}: pinned {c.pinned}, not installed")
        else:
            lines.append(f"  {c.name}: pinned {c.pinned}, installed {c.installed}")
    return lines, not bad


def cmd_doctor(here: bool, torch_flag: str) -> int:
    python = Path(sys.executable) if here else venv_python()
    if not python.exists():
        print(f"no environment at {VENV}: run python3 course.py setup (or use --here)")
        return 1
    names = key_packages(PYPROJECT.read_text())
    proc = subprocess.run(
        [python, "-c", PROBE, json.dumps(names)], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        print(f"{python} could not run the probe:\n{proc.stderr}")
        return 1
    probe = json.loads(proc.stdout.strip().splitlines()[-1])
    try:
        plan: TorchPlan | str = current_torch_plan(torch_flag)
    except ValueError as e:
        plan = str(e)
    checks = check_pins(parse_pins(CONSTRAINTS.read_text()), probe["versions"], names)
    lines, fine = doctor_report(probe, plan, checks, torch_flag)
    print("\n".join(lines))
    return 0 if fine else 1


# ---------------------------------------------------------------------------------------------------------------
# The other commands.


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


def build_command(command: str, python: Path, extra: list[str]) -> list:
    """The command line of ``site``, ``slides`` or ``assignments``: scripts/build_course.py with the course's Python
    (``extra`` appended, e.g. ``--check`` or ``--out DIR``)."""
    if command not in BUILDS:
        raise ValueError(f"command must be one of {', '.join(BUILDS)}, got {command!r}")
    return [python, "scripts/build_course.py", command, *extra]


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["setup", "lab", "test", "quick", "bless", "doctor", "lock", *BUILDS])
    ap.add_argument("--here", action="store_true", help="use the running Python instead of .venv")
    ap.add_argument(
        "--torch",
        choices=TORCH_CHOICES,
        default="auto",
        help="the torch build: auto (CUDA on Linux only with an NVIDIA GPU; the default), cpu or cuda",
    )
    ap.add_argument(
        "args",
        nargs=argparse.REMAINDER,
        help="passed on: to pytest (test, quick), jupyter lab (lab), notebook paths (bless), or to "
        "scripts/build_course.py (site, slides, assignments: --check, --out DIR)",
    )
    return ap


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """``parser()``'s parse, with course.py's own options also taken from right after the command
    (``lab --here``, ``setup --torch cpu``): argparse hands everything after the command to ``args``."""
    ap = parser()
    ns = ap.parse_args(argv)
    rest = list(ns.args)
    while rest:
        if rest[0] == "--here":
            ns.here = True
            rest.pop(0)
        elif rest[0] == "--torch" or rest[0].startswith("--torch="):
            value = rest.pop(0).partition("=")[2] or (rest.pop(0) if rest else "")
            if value not in TORCH_CHOICES:
                ap.error(f"argument --torch: invalid choice: {value!r} (choose from {', '.join(TORCH_CHOICES)})")
            ns.torch = value
        else:
            break
    ns.args = rest
    return ns


def main(argv: list[str] | None = None) -> int:
    ns = parse_args(argv)
    if ns.command == "doctor":
        return cmd_doctor(ns.here, ns.torch)
    python = setup(ns.here, ns.torch)
    if ns.command == "setup":
        return 0
    if ns.command in ("test", "quick"):
        return cmd_test(python, ns.args, ns.command)
    if ns.command == "bless":
        return cmd_bless(python, ns.args)
    if ns.command == "lab":
        return cmd_lab(python, ns.args)
    if ns.command in BUILDS:
        return run(build_command(ns.command, python, ns.args), check=False)
    return cmd_lock(python)


if __name__ == "__main__":
    sys.exit(main())
