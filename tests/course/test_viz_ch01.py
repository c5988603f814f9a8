"""Notebook 01's figures (``retnet_edu.course.viz.ch01``) return the numbers they draw."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from retnet_edu.course import viz  # noqa: E402

pytestmark = pytest.mark.usefixtures("close_figures")


def test_plot_score_matrices():
    a = torch.randn(5, 5, dtype=torch.float64)
    d = viz.plot_score_matrices({"A": a, "zeros": torch.zeros(5, 5)}, title="t")
    assert d["names"] == ["A", "zeros"]
    assert np.array_equal(d["matrices"]["A"], a.numpy())
    assert len(d["fig"].axes) == 4  # two panels + two colour bars
    im = d["fig"].axes[0].images[0]
    assert im.get_clim() == (-np.abs(a.numpy()).max(), np.abs(a.numpy()).max())
    fig, axes = plt.subplots(1, 2)
    assert viz.plot_score_matrices({"a": a, "b": a}, ax=axes)["fig"] is fig
    with pytest.raises(ValueError):
        viz.plot_score_matrices({})
    with pytest.raises(ValueError):
        viz.plot_score_matrices({"v": torch.ones(3)})
    with pytest.raises(ValueError):
        viz.plot_score_matrices({"a": a}, ax=axes)


def test_plot_eigen_spiral():
    lam = np.array([0.9 * np.exp(0.5j), 0.9 * np.exp(-0.5j), 0.5])
    d = viz.plot_eigen_spiral(lam, steps=10)
    assert d["powers"].shape == (3, 11)
    assert np.allclose(d["powers"][0], lam[0] ** np.arange(11))
    assert np.allclose(d["moduli"], [0.9, 0.9, 0.5]) and np.allclose(d["angles"], [0.5, -0.5, 0.0])
    assert np.allclose(np.abs(d["powers"][0]), 0.9 ** np.arange(11))
    with pytest.raises(ValueError):
        viz.plot_eigen_spiral([], 5)
    with pytest.raises(ValueError):
        viz.plot_eigen_spiral(lam, 0)
