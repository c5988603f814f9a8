"""Set-up files agree with each other: environment.yml (conda path) pins what constraints.txt (the lock) pins and
takes torch's CPU build from the index course.py uses, pyproject's dependencies are all locked, and CI runs the
README's test command."""

import importlib.util
import re
import sys
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent


def lock() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        req = Requirement(line)
        spec = list(req.specifier)
        assert len(spec) == 1 and spec[0].operator == "==", f"constraints.txt must pin exactly: {line}"
        pins[req.name.lower().replace("_", "-")] = spec[0].version
    return pins


def env_yml() -> dict:
    return yaml.safe_load((ROOT / "environment.yml").read_text())


def test_constraints_pin_torch_2_13_0():
    assert lock()["torch"] == "2.13.0"


def test_environment_yml_is_well_formed():
    env = env_yml()
    assert env["name"] == "retnet-edu"
    assert isinstance(env["channels"], list) and all(isinstance(c, str) for c in env["channels"])
    deps = env["dependencies"]
    conda = [d for d in deps if isinstance(d, str)]
    pip_sections = [d for d in deps if isinstance(d, dict)]
    assert len(pip_sections) == 1 and list(pip_sections[0]) == ["pip"]
    assert "pip" in conda, "a pip: section needs pip among the conda dependencies"
    for spec in conda:
        assert re.fullmatch(r"[A-Za-z0-9_.\-]+(=[0-9][0-9.*]*)?", spec), f"not a simple conda spec: {spec}"
    python = [s for s in conda if s.startswith("python=")]
    assert python == ["python=3.11"]
    assert sys.version_info[:2] >= (3, 11)


def test_environment_yml_pins_what_the_lock_pins():
    pins = lock()
    pip_items = next(d for d in env_yml()["dependencies"] if isinstance(d, dict))["pip"]
    assert pip_items[0] == "-c constraints.txt", "the conda pip section must use the lock as constraints"
    assert pip_items[-1] == "-e .", "the conda pip section must install the package itself"
    reqs = [Requirement(i) for i in pip_items if not i.startswith("-")]
    assert reqs[0].name == "torch", "torch must come first"
    for req in reqs:
        spec = list(req.specifier)
        assert len(spec) == 1 and spec[0].operator == "==", f"environment.yml must pin exactly: {req}"
        name = req.name.lower().replace("_", "-")
        assert pins.get(name) == spec[0].version, f"{name}: environment.yml {spec[0].version} vs lock {pins.get(name)}"


def test_environment_yml_takes_the_cpu_build_of_torch():
    spec = importlib.util.spec_from_file_location("course_env_under_test", ROOT / "course.py")
    course = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(course)
    pip_items = next(d for d in env_yml()["dependencies"] if isinstance(d, dict))["pip"]
    options = [i for i in pip_items if i.startswith("-")]
    assert options == ["-c constraints.txt", f"--extra-index-url {course.CPU_INDEX}", "-e ."]
    assert pip_items.index(options[1]) < pip_items.index("torch==2.13.0")
    assert course.TORCH == "torch==2.13.0"  # the same pin as course.py: 2.13.0+cpu matches it
    text = (ROOT / "environment.yml").read_text()
    comments = "\n".join(ln for ln in text.splitlines() if ln.startswith("#"))
    assert "CUDA variant" in comments and "delete the --extra-index-url line" in comments


def test_every_dependency_is_locked_and_in_environment_yml():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = list(project["dependencies"])
    for extra in ("course", "test"):
        declared += project["optional-dependencies"][extra]
    pins = lock()
    pip_items = next(d for d in env_yml()["dependencies"] if isinstance(d, dict))["pip"]
    in_yml = {Requirement(i).name.lower().replace("_", "-") for i in pip_items if not i.startswith("-")}
    for dep in declared:
        req = Requirement(dep)
        name = req.name.lower().replace("_", "-")
        assert name in pins, f"{name} is not in constraints.txt"
        assert req.specifier.contains(pins[name], prereleases=True), f"lock {name}=={pins[name]} violates {req}"
        assert name in in_yml, f"{name} is not pinned in environment.yml"


def test_official_extra_is_locked():
    pins = lock()
    assert pins["torchscale"] == "0.3.0" and pins["fairscale"] == "0.4.0"


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "python3 course.py test" in readme and "python3 course.py test" in ci
    assert "python3 course.py lab" in readme
    assert "CI=true" in ci
    assert "export RETNET_EDU_TORCH_INDEX=pip-default" in ci  # CI reaches no download.pytorch.org
