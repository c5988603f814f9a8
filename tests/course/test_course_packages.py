"""The course packages re-export their per-notebook modules: every name a notebook uses resolves, every chapter's
names are in the package's ``__all__`` (the same objects), and notebook 09's figures are the benchmark command's."""

import importlib
import re
from pathlib import Path

import pytest

from retnet_edu.course import checks, viz
from retnet_edu.experiments import bench_plots

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "notebooks" / "solutions").glob("*.ipynb"))
PACKAGES = {"checks": checks, "viz": viz}


def chapters(package):
    folder = Path(package.__file__).parent
    return [importlib.import_module(f"{package.__name__}.{p.stem}") for p in sorted(folder.glob("ch[0-9][0-9].py"))]


@pytest.mark.parametrize("name", ["checks", "viz"])
def test_package_all_is_the_union_of_its_chapters(name):
    package = PACKAGES[name]
    common = importlib.import_module(f"{package.__name__}._common")
    expected = list(getattr(common, "__all__", [])) + [n for m in chapters(package) for n in m.__all__]
    assert package.__all__ == expected
    for module in chapters(package):
        for n in module.__all__:
            assert getattr(package, n) is getattr(module, n), f"{name}.{n}"


@pytest.mark.parametrize("name", ["checks", "viz"])
def test_each_chapter_names_its_notebook(name):
    for module in chapters(PACKAGES[name]):
        first = module.__doc__.strip().splitlines()[0]
        nb = re.search(r"notebooks/(\d\d)_\w+\.ipynb", first)
        assert nb and nb.group(1) == module.__name__[-2:], first
        assert (ROOT / nb.group(0)).is_file(), first


def test_every_name_the_notebooks_use_resolves():
    used = set()
    for path in NOTEBOOKS:
        text = path.read_text()
        used |= set(re.findall(r"\b(checks|viz)\.([a-z_0-9]+)", text))
        for names in re.findall(r"from retnet_edu\.course\.viz import ([\w, ]+)", text):
            used |= {("viz", n.strip()) for n in names.split(",")}
    assert len({n for p, n in used if p == "checks"}) >= 40
    missing = sorted(f"{p}.{n}" for p, n in used if not hasattr(PACKAGES[p], n))
    assert not missing, missing


def test_notebook_09_draws_with_the_benchmark_figures():
    for n in bench_plots.__all__:
        assert getattr(viz, n) is getattr(bench_plots, n)
