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


def test_plot_score_matrices_masked_entries_have_their_own_colour():
    T = 6
    a = torch.randn(T, T, dtype=torch.float64).tril()
    future = torch.ones(T, T, dtype=torch.bool).triu(1)
    d = viz.plot_score_matrices({"A": a, "B": 2 * a}, masked=future)
    assert np.array_equal(d["masked"], future.numpy())
    for ax in d["fig"].axes[:2]:  # the two panels (their colour bars come after)
        shown = ax.images[0].get_array()
        assert np.array_equal(np.ma.getmaskarray(shown), future.numpy())  # the future is masked, not zero
        assert tuple(ax.images[0].get_cmap().get_bad()[:3]) != (1.0, 1.0, 1.0)  # not white, the colour of zero
    labels = [t.get_text() for t in d["fig"].axes[0].get_legend().get_texts()]
    assert labels == ["masked (m > n)"]
    with pytest.raises(ValueError, match="masked"):
        viz.plot_score_matrices({"A": a}, masked=torch.ones(3, 3, dtype=torch.bool))


def test_plot_eigen_spiral():
    lam = np.array([0.9 * np.exp(0.5j), 0.9 * np.exp(-0.5j), 0.5])
    d = viz.plot_eigen_spiral(lam, steps=10)
    assert d["powers"].shape == (3, 11)
    assert np.allclose(d["powers"][0], lam[0] ** np.arange(11))
    assert np.allclose(d["moduli"], [0.9, 0.9, 0.5]) and np.allclose(d["angles"], [0.5, -0.5, 0.0])
    assert np.allclose(np.abs(d["powers"][0]), 0.9 ** np.arange(11))
    ax = d["fig"].axes[0]
    spirals = [line for line in ax.lines if len(line.get_xdata()) == 11]
    assert len({line.get_linestyle() for line in spirals}) == 3  # line styles as a second cue
    assert len(ax.get_legend().get_texts()) == 4  # the unit circle and the three eigenvalues
    with pytest.raises(ValueError):
        viz.plot_eigen_spiral([], 5)
    with pytest.raises(ValueError):
        viz.plot_eigen_spiral(lam, 0)
