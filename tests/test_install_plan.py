"""course.py's torch plan: which torch build set-up installs, from which index, for Linux with and without an NVIDIA
GPU, macOS and Windows, with the ``--torch`` flag and RETNET_EDU_TORCH_INDEX; the GPU probe; the set-up fingerprint
and the switch between builds; doctor's check of the installed versions against the lock. Nothing here contacts an
index or runs pip: the plan is a pure function and the probes are given fakes."""

import importlib.util
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CPU = "https://download.pytorch.org/whl/cpu"


@pytest.fixture(scope="module")
def course():
    spec = importlib.util.spec_from_file_location("course_plan_under_test", ROOT / "course.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------------------------------------------------
# The plan, platform by platform.


def test_linux_without_gpu_gets_the_cpu_build_from_the_cpu_index(course):
    for machine in ("x86_64", "aarch64"):
        plan = course.torch_plan("Linux", machine, False, "auto", {})
        assert plan.requirement == "torch==2.13.0+cpu"
        assert plan.index_args == ("--extra-index-url", CPU)
        assert plan.build == "cpu"
        assert "no NVIDIA GPU" in plan.explanation and "CPU build" in plan.explanation
        assert CPU in plan.index


def test_linux_with_gpu_gets_pypis_cuda_build(course):
    plan = course.torch_plan("Linux", "x86_64", True, "auto", {})
    assert plan.requirement == "torch==2.13.0" and plan.index_args == () and plan.build == "cuda"
    assert "an NVIDIA GPU was found" in plan.explanation and "CUDA build" in plan.explanation
    assert "pip's own configuration" in plan.index


def test_linux_flag_overrides_the_gpu_probe(course):
    for flag in ("cpu", "cuda"):
        without, with_gpu = (course.torch_plan("Linux", "x86_64", g, flag, {}) for g in (False, True))
        assert without[:3] == with_gpu[:3]
    cuda = course.torch_plan("Linux", "x86_64", False, "cuda", {})
    assert (cuda.requirement, cuda.index_args, cuda.build) == ("torch==2.13.0", (), "cuda")
    assert "--torch cuda" in cuda.explanation
    cpu = course.torch_plan("Linux", "x86_64", True, "cpu", {})
    assert (cpu.requirement, cpu.index_args, cpu.build) == ("torch==2.13.0+cpu", ("--extra-index-url", CPU), "cpu")
    assert "--torch cpu" in cpu.explanation


def test_macos_gets_pypis_wheel(course):
    for has_gpu in (False, True):
        for flag in ("auto", "cpu"):
            plan = course.torch_plan("Darwin", "arm64", has_gpu, flag, {})
            assert (plan.requirement, plan.index_args, plan.build) == ("torch==2.13.0", (), "cpu")
            assert "macOS" in plan.explanation and "MPS" in plan.explanation


def test_macos_refuses_cuda_and_intel(course):
    with pytest.raises(ValueError, match="no CUDA build for macOS"):
        course.torch_plan("Darwin", "arm64", False, "cuda", {})
    with pytest.raises(ValueError, match="Intel Macs"):
        course.torch_plan("Darwin", "x86_64", False, "auto", {})


def test_windows_gets_pypis_cpu_wheel(course):
    for has_gpu in (False, True):
        plan = course.torch_plan("Windows", "AMD64", has_gpu, "auto", {})
        assert (plan.requirement, plan.index_args, plan.build) == ("torch==2.13.0", (), "cpu")
        assert "Windows" in plan.explanation
        assert ("RETNET_EDU_TORCH_INDEX" in plan.explanation) == has_gpu  # with a GPU: how to get CUDA


def test_windows_cuda_needs_an_index(course):
    with pytest.raises(ValueError, match="RETNET_EDU_TORCH_INDEX"):
        course.torch_plan("Windows", "AMD64", True, "cuda", {})
    url = "https://download.pytorch.org/whl/cu128"
    plan = course.torch_plan("Windows", "AMD64", True, "cuda", {"RETNET_EDU_TORCH_INDEX": url})
    assert (plan.requirement, plan.index_args, plan.build) == ("torch==2.13.0", ("--extra-index-url", url), "cuda")


def test_other_systems_get_pips_choice(course):
    plan = course.torch_plan("FreeBSD", "amd64", False, "auto", {})
    assert plan.requirement == "torch==2.13.0" and plan.index_args == ()


# ---------------------------------------------------------------------------------------------------------------
# RETNET_EDU_TORCH_INDEX.


@pytest.mark.parametrize("value", ["pip-default", "", "  pip-default  "])
def test_pip_default_uses_pips_own_configuration(course, value):
    env = {"RETNET_EDU_TORCH_INDEX": value}
    for system, machine, has_gpu, flag in [
        ("Linux", "x86_64", False, "auto"),
        ("Linux", "x86_64", True, "auto"),
        ("Linux", "x86_64", True, "cpu"),
        ("Darwin", "arm64", False, "auto"),
        ("Windows", "AMD64", False, "auto"),
        ("Windows", "AMD64", True, "cuda"),  # pip's configuration may point at a CUDA index
    ]:
        plan = course.torch_plan(system, machine, has_gpu, flag, env)
        assert plan.requirement == "torch==2.13.0" and plan.index_args == ()
        assert "pip's own configuration" in plan.explanation and "pip's own configuration" in plan.index
    assert course.torch_plan("Linux", "x86_64", False, "auto", env).build == "cpu"


def test_a_url_replaces_the_default_index(course):
    url = "https://mirror.example.org/torch-cpu/simple"
    env = {"RETNET_EDU_TORCH_INDEX": url, "UNRELATED": "x"}
    plan = course.torch_plan("Linux", "x86_64", False, "auto", env)
    assert plan.requirement == "torch==2.13.0+cpu" and plan.index_args == ("--extra-index-url", url)
    assert "RETNET_EDU_TORCH_INDEX" in plan.explanation and url in plan.index
    cuda_url = "https://download.pytorch.org/whl/cu128"
    plan = course.torch_plan("Linux", "x86_64", True, "auto", {"RETNET_EDU_TORCH_INDEX": cuda_url})
    assert plan.requirement == "torch==2.13.0" and plan.index_args == ("--extra-index-url", cuda_url)
    local = course.torch_plan("Linux", "x86_64", False, "cpu", {"RETNET_EDU_TORCH_INDEX": "file:///opt/pypi/simple"})
    assert local.index_args == ("--extra-index-url", "file:///opt/pypi/simple")


def test_unset_variable_leaves_the_default(course):
    assert course.torch_plan("Linux", "x86_64", False, "auto", {}) == course.torch_plan(
        "Linux", "x86_64", False, "auto", {"PIP_INDEX_URL": "https://elsewhere.example.org/simple"}
    )


def test_bad_arguments_are_named(course):
    with pytest.raises(ValueError, match="RETNET_EDU_TORCH_INDEX"):
        course.torch_plan("Linux", "x86_64", False, "auto", {"RETNET_EDU_TORCH_INDEX": "download.pytorch.org"})
    with pytest.raises(ValueError, match="flag"):
        course.torch_plan("Linux", "x86_64", False, "rocm", {})
    with pytest.raises(TypeError, match="has_gpu"):
        course.torch_plan("Linux", "x86_64", "yes", "auto", {})
    with pytest.raises(TypeError, match="system"):
        course.torch_plan(None, "x86_64", False, "auto", {})
    with pytest.raises(TypeError, match="machine"):
        course.torch_plan("Linux", 64, False, "auto", {})
    with pytest.raises(TypeError, match="env"):
        course.torch_plan("Linux", "x86_64", False, "auto", ["RETNET_EDU_TORCH_INDEX=pip-default"])


# ---------------------------------------------------------------------------------------------------------------
# The GPU probe, with fakes for nvidia-smi and /proc.


def fake_run(returncode, stdout="", raises=None):
    def run(cmd, **kwargs):
        assert cmd[1:] == ["-L"] and kwargs.get("timeout")
        if raises is not None:
            raise raises
        return subprocess.CompletedProcess(cmd, returncode, stdout=stdout, stderr="")

    return run


def test_gpu_probe_with_nvidia_smi(course, tmp_path):
    which = {"nvidia-smi": "/usr/bin/nvidia-smi"}.get
    gpu = "GPU 0: NVIDIA H200 (UUID: GPU-0000)\n"
    assert course.has_nvidia_gpu(which, fake_run(0, gpu), tmp_path / "none")
    assert not course.has_nvidia_gpu(which, fake_run(9, ""), tmp_path / "none")  # driver but no device
    assert not course.has_nvidia_gpu(which, fake_run(0, "No devices found.\n"), tmp_path / "none")
    assert not course.has_nvidia_gpu(which, fake_run(0, raises=subprocess.TimeoutExpired("nvidia-smi", 30)), tmp_path)
    assert not course.has_nvidia_gpu(which, fake_run(0, raises=FileNotFoundError()), tmp_path)


def test_gpu_probe_without_nvidia_smi_reads_the_driver(course, tmp_path):
    def never(*args, **kwargs):
        raise AssertionError("nvidia-smi is not on PATH: it must not be run")

    no_smi = {}.get
    gpus = tmp_path / "gpus"
    assert not course.has_nvidia_gpu(no_smi, never, gpus)  # no driver
    gpus.mkdir()
    assert not course.has_nvidia_gpu(no_smi, never, gpus)  # a driver, no GPU
    (gpus / "0000:01:00.0").mkdir()
    assert course.has_nvidia_gpu(no_smi, never, gpus)


# ---------------------------------------------------------------------------------------------------------------
# The set-up fingerprint and switching builds.


def test_the_plan_is_part_of_the_fingerprint(course):
    cpu = course.torch_plan("Linux", "x86_64", False, "auto", {})
    cuda = course.torch_plan("Linux", "x86_64", False, "cuda", {})
    pip_default = course.torch_plan("Linux", "x86_64", False, "auto", {"RETNET_EDU_TORCH_INDEX": "pip-default"})
    prints = {course.setup_fingerprint(p) for p in (cpu, cuda, pip_default)}
    assert len(prints) == 3
    assert course.setup_fingerprint(cpu) == course.setup_fingerprint(cpu._replace(explanation="other words"))
    stamp = course.stamp_text(course.setup_fingerprint(cpu), cpu)
    assert stamp.splitlines() == [course.setup_fingerprint(cpu), "torch-build: cpu"]


def test_switching_builds_uninstalls_torch_first(course):
    cpu = course.torch_plan("Linux", "x86_64", False, "auto", {})
    cuda = course.torch_plan("Linux", "x86_64", True, "auto", {})
    pip_default_cpu = cpu._replace(requirement="torch==2.13.0", index_args=())
    cpu_stamp = course.stamp_text("f" * 64, cpu)
    cuda_stamp = course.stamp_text("f" * 64, cuda)
    assert course.needs_torch_uninstall(cpu_stamp, "2.13.0+cpu", cuda)  # pip would keep 2.13.0+cpu for ==2.13.0
    assert course.needs_torch_uninstall(None, "2.13.0+cpu", cuda)  # no stamp: the label says it
    assert course.needs_torch_uninstall(cuda_stamp, "2.13.0", pip_default_cpu)  # the stamp says it
    assert course.needs_torch_uninstall(None, "2.13.0+cu128", pip_default_cpu)
    assert not course.needs_torch_uninstall(cpu_stamp, "2.13.0+cpu", cpu)
    assert not course.needs_torch_uninstall(cuda_stamp, "2.13.0+cpu", pip_default_cpu)  # the label beats the stamp
    assert not course.needs_torch_uninstall(cpu_stamp, "2.13.0+cu128", cuda)
    assert not course.needs_torch_uninstall(cuda_stamp, "2.13.0", cuda)
    assert not course.needs_torch_uninstall(None, None, cuda)  # nothing installed
    assert not course.needs_torch_uninstall("0" * 64 + "\n", "2.13.0", cpu)  # an old stamp: +cpu reinstalls anyway


# ---------------------------------------------------------------------------------------------------------------
# doctor's pin check, with a fake lock.

FAKE_LOCK = """# a lock
numpy==2.4.6
PyYAML==6.0.4
pre_commit==4.7.0   # a comment
torch==2.13.0

tqdm==4.70.1
"""


def test_parse_pins_normalises_names(course):
    pins = course.parse_pins(FAKE_LOCK)
    assert pins == {"numpy": "2.4.6", "pyyaml": "6.0.4", "pre-commit": "4.7.0", "torch": "2.13.0", "tqdm": "4.70.1"}
    with pytest.raises(ValueError, match="line 2"):
        course.parse_pins("numpy==2.4.6\nnumpy>=2\n")
    with pytest.raises(TypeError, match="text"):
        course.parse_pins(None)


def test_check_pins_reports_mismatches(course):
    pins = course.parse_pins(FAKE_LOCK)
    installed = {"numpy": "2.4.6", "pyyaml": "6.0.3", "pre-commit": "4.7.0", "torch": "2.13.0+cpu", "tqdm": None}
    checks = course.check_pins(pins, installed, ["numpy", "PyYAML", "pre_commit", "torch", "tqdm", "hypothesis"])
    by_name = {c.name: c for c in checks}
    assert [c.name for c in checks] == ["numpy", "pyyaml", "pre-commit", "torch", "tqdm", "hypothesis"]
    assert by_name["numpy"].ok and by_name["pre-commit"].ok
    assert by_name["torch"].ok  # 2.13.0+cpu satisfies ==2.13.0
    assert not by_name["pyyaml"].ok and by_name["pyyaml"].installed == "6.0.3"
    assert not by_name["tqdm"].ok and by_name["tqdm"].installed is None
    assert not by_name["hypothesis"].ok and by_name["hypothesis"].pinned is None
    assert course.version_matches("2.13.0+cu128", "2.13.0")
    assert not course.version_matches("2.13.0", "2.13.0+cpu") and not course.version_matches("2.13.1", "2.13.0")


def probe(**over):
    versions = {"numpy": "2.4.6", "pyyaml": "6.0.4", "pre-commit": "4.7.0", "torch": "2.13.0+cpu", "tqdm": "4.70.1"}
    out = {
        "python": "3.11.7",
        "executable": "/x/.venv/bin/python",
        "versions": versions,
        "package": "0.1.0",
        "torch_cuda": None,
        "torch_hip": None,
        "cuda_available": False,
        "device": "cpu",
    }
    out.update(over)
    return out


def test_doctor_report_all_fine(course):
    plan = course.torch_plan("Linux", "x86_64", False, "auto", {})
    p = probe()
    checks = course.check_pins(course.parse_pins(FAKE_LOCK), p["versions"], list(p["versions"]))
    lines, fine = course.doctor_report(p, plan, checks)
    text = "\n".join(lines)
    assert fine
    for expected in ("3.11.7", "2.13.0+cpu (CPU build", "device       cpu", "torch==2.13.0+cpu", CPU, "5 of 5"):
        assert expected in text
    assert "note:" not in text


def test_doctor_report_mismatches_and_other_build(course):
    plan = course.torch_plan("Linux", "x86_64", True, "auto", {})  # wants the CUDA build
    versions = dict(probe()["versions"], pyyaml="6.0.3", tqdm=None)
    p = probe(versions=versions)
    checks = course.check_pins(course.parse_pins(FAKE_LOCK), versions, [*versions, "hypothesis"])
    lines, fine = course.doctor_report(p, plan, checks)
    text = "\n".join(lines)
    assert not fine
    assert "3 of 6" in text
    assert "pyyaml: pinned 6.0.4, installed 6.0.3" in text
    assert "tqdm: pinned 4.70.1, not installed" in text
    assert "hypothesis: not pinned" in text
    assert "note: the installed torch is the cpu build, the plan's is the cuda build" in text


def test_doctor_report_gpu_build_and_no_plan(course):
    p = probe(torch_cuda="12.8", cuda_available=True, gpu="NVIDIA H200", device="cuda")
    p["versions"]["torch"] = "2.13.0"
    checks = course.check_pins(course.parse_pins(FAKE_LOCK), p["versions"], list(p["versions"]))
    lines, fine = course.doctor_report(p, "torch 2.13.0 has no wheel for Intel Macs", checks)
    text = "\n".join(lines)
    assert fine and "CUDA 12.8 build, GPU available: NVIDIA H200" in text and "device       cuda" in text
    assert "torch plan   none: torch 2.13.0 has no wheel for Intel Macs" in text
    no_torch = probe(device_error="ModuleNotFoundError: No module named 'torch'")
    del no_torch["device"]
    no_torch["versions"] = dict(no_torch["versions"], torch=None)
    lines, _ = course.doctor_report(no_torch, "none", [])
    assert "torch        not installed" in lines and any("ModuleNotFoundError" in ln for ln in lines)


def test_key_packages_are_the_named_dependencies(course):
    names = course.key_packages((ROOT / "pyproject.toml").read_text())
    assert names[0] == "torch"
    for name in ("numpy", "jupyterlab", "pytest", "nbval", "pyyaml", "pre-commit", "torchscale", "fairscale"):
        assert name in names
    assert len(names) == len(set(names))
    pins = course.parse_pins((ROOT / "constraints.txt").read_text())
    assert set(names) <= set(pins), "every key package is pinned by the lock"
