"""retnet_edu.course.notebook: the stable preamble and device selection."""

import random

import numpy as np
import pytest
import torch

from retnet_edu.course.notebook import below, course_setup, get_device, seed_everything


def test_course_setup_is_reproducible(capsys):
    course_setup(seed=3)
    a = (random.random(), np.random.rand(), torch.rand(1).item())
    course_setup(seed=3, quiet=True)
    b = (random.random(), np.random.rand(), torch.rand(1).item())
    assert a == b
    assert torch.get_num_threads() == 1
    out = capsys.readouterr().out
    assert out.startswith("course_setup: seed=3, torch threads=1")


def test_course_setup_plot_style():
    import matplotlib

    course_setup(quiet=True)
    assert tuple(matplotlib.rcParams["figure.figsize"]) == (6.4, 3.6)
    assert matplotlib.rcParams["figure.dpi"] == 100


def test_bad_arguments():
    with pytest.raises(TypeError, match="seed must be an int"):
        seed_everything(1.5)
    with pytest.raises(ValueError, match="threads must be a positive int"):
        course_setup(threads=0)
    with pytest.raises(ValueError, match="prefer must be"):
        get_device("tpu")


def test_get_device(monkeypatch):
    monkeypatch.delenv("RETNET_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else ("mps" if torch.backends.mps.is_available() else "cpu")
    assert get_device().type == expected
    assert get_device("cpu").type == "cpu"
    monkeypatch.setenv("RETNET_DEVICE", "cpu")
    assert get_device().type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            get_device("cuda")


def test_below():
    assert below(3e-16, 1e-12) == "< 1e-12"
    with pytest.raises(AssertionError, match="2e-05 is not below 1e-05"):
        below(2e-5, 1e-5)


def test_repo_root_from_anywhere_inside_the_clone(tmp_path, monkeypatch):
    from retnet_edu.course import repo_root

    root = repo_root()
    assert (root / "course.py").is_file() and (root / "notebooks").is_dir()
    for start in (root, root / "notebooks", root / "notebooks" / "solutions", root / "data" / "results"):
        assert repo_root(start) == root
    monkeypatch.chdir(root / "notebooks")
    assert repo_root() == root
    fake = tmp_path / "clone"
    (fake / "notebooks").mkdir(parents=True)
    (fake / "course.py").write_text("")
    assert repo_root(fake / "notebooks") == fake
