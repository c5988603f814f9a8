"""Notebook 03's figures (``retnet_edu.course.viz.ch03``) return the numbers they draw."""

import numpy as np
import pytest

from retnet_edu.course import viz

pytestmark = pytest.mark.usefixtures("close_figures")


def test_plot_cost_vs_length_slopes():
    T = np.array([64, 128, 256, 512])
    d = viz.plot_cost_vs_length(T, {"quadratic": 3.0 * T**2, "linear": T, "constant": np.full(4, 7.0)})
    assert d["slopes"]["quadratic"] == pytest.approx(2.0)
    assert d["slopes"]["linear"] == pytest.approx(1.0)
    assert d["slopes"]["constant"] == pytest.approx(0.0, abs=1e-12)
    assert np.array_equal(d["series"]["linear"], T.astype(float))
    ax = d["fig"].axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert "slope 2.00" in ax.get_legend().get_texts()[0].get_text()
    assert len({(line.get_linestyle(), line.get_marker()) for line in ax.lines}) == 3  # a cue besides the colour


def test_plot_cost_vs_length_missing_points():
    T = np.array([64, 128, 256, 512])
    d = viz.plot_cost_vs_length(T, {"quadratic": [1.0, 4.0, 16.0, None], "linear": [1, 2, 4, float("nan")]})
    assert d["slopes"]["quadratic"] == pytest.approx(2.0) and d["slopes"]["linear"] == pytest.approx(1.0)
    assert np.isnan(d["series"]["quadratic"][3])
    assert len(d["fig"].axes[0].lines[0].get_xdata()) == 3


@pytest.mark.parametrize(
    "lengths,series",
    [
        ([1], {"a": [1]}),
        ([1, 2], {}),
        ([1, 2], {"a": [1, 0]}),
        ([1, 2], {"a": [1, 2, 3]}),
        ([0, 2], {"a": [1, 2]}),
        ([1, 2, 3], {"a": [1, None, None]}),
    ],
)
def test_plot_cost_vs_length_bad_input(lengths, series):
    with pytest.raises(ValueError):
        viz.plot_cost_vs_length(lengths, series)
