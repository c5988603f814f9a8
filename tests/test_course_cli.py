"""course.py, the entry point: its parser accepts every command and its own options, and ``test`` and ``quick`` build
the pytest command lines the README and CONTRIBUTING promise (checked without running pytest or setting anything up).
The torch plan and doctor: tests/test_install_plan.py."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def course():
    spec = importlib.util.spec_from_file_location("course_cli_under_test", ROOT / "course.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_parser_accepts_every_command(course):
    for command in ("setup", "lab", "test", "quick", "bless", "doctor", "lock"):
        assert course.parser().parse_args([command]).command == command
        ns = course.parse_args([command])
        assert ns.command == command and not ns.here and ns.torch == "auto" and ns.args == []
    ns = course.parse_args(["quick", "-k", "bench", "-x"])
    assert ns.command == "quick" and ns.args == ["-k", "bench", "-x"] and not ns.here
    with pytest.raises(SystemExit):
        course.parser().parse_args(["nonsense"])


def test_course_options_before_or_right_after_the_command(course):
    # argparse alone hands everything after the command to the passed-on arguments: `lab --here` must not
    for argv in (["lab", "--here"], ["--here", "lab"]):
        ns = course.parse_args(argv)
        assert ns.command == "lab" and ns.here and ns.args == []
    for argv in (["setup", "--torch", "cpu"], ["setup", "--torch=cpu"], ["--torch", "cpu", "setup"]):
        ns = course.parse_args(argv)
        assert ns.command == "setup" and ns.torch == "cpu" and ns.args == []
    ns = course.parse_args(["test", "--here", "--torch", "cuda", "-x", "--here"])
    assert ns.here and ns.torch == "cuda" and ns.args == ["-x", "--here"]  # after a passed-on one: passed on
    ns = course.parse_args(["doctor", "--torch", "cuda"])
    assert ns.command == "doctor" and ns.torch == "cuda"
    for bad in (["setup", "--torch", "rocm"], ["setup", "--torch"], ["--torch", "rocm", "setup"]):
        with pytest.raises(SystemExit):
            course.parse_args(bad)


def test_quick_runs_unit_tests_without_notebooks_browser_or_slow_tests(course):
    python = Path("/env/bin/python")
    cmd = course.pytest_command("quick", python, ["-x"])
    assert cmd[:3] == [python, "-m", "pytest"]
    i = cmd.index("-m", 1 + cmd.index("pytest"))
    assert cmd[i + 1] == "not slow and not browser"
    assert cmd[cmd.index("-n") + 1] == "2"
    assert "tests" in cmd and "notebooks" not in cmd and "--nbval" not in cmd
    assert cmd[-1] == "-x"


def test_test_runs_everything_with_strict_nbval(course):
    python = Path("/env/bin/python")
    cmd = course.pytest_command("test", python, [])
    assert cmd[:3] == [python, "-m", "pytest"]
    assert "tests" in cmd and "notebooks" in cmd and "--nbval" in cmd and "--nbval-current-env" in cmd
    assert "not slow and not browser" not in cmd  # CI's full run leaves nothing out
    with pytest.raises(ValueError):
        course.pytest_command("lab", python, [])


def test_pytest_ini_registers_the_markers_quick_deselects(course):
    ini = (ROOT / "pytest.ini").read_text()
    for marker in ("slow", "browser"):
        assert f"    {marker}:" in ini, f"pytest.ini does not register the {marker} marker"
    assert set(course.QUICK_MARKERS.replace("not ", "").split(" and ")) == {"slow", "browser"}
