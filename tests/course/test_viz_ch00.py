"""Notebook 00's figures (``retnet_edu.course.viz.ch00``) return the numbers they draw."""

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from retnet_edu.course.viz import plot_decay_curves  # noqa: E402


def test_plot_decay_curves_data():
    d = plot_decay_curves([0.5, 0.96875, 1.0], T=10)
    assert d["curves"].shape == (3, 10)
    assert np.allclose(d["curves"][0], 0.5 ** np.arange(10))
    assert np.all(d["curves"][2] == 1.0)
    assert d["memory"][:2].tolist() == [2.0, 32.0] and math.isinf(d["memory"][2])
    assert d["half_life"][0] == pytest.approx(1.0)
    assert len(d["fig"].axes[0].lines) == 3
    plt.close(d["fig"])


@pytest.mark.parametrize("gammas,T", [([], 10), ([1.5], 10), ([0.5], 0), ([float("nan")], 5)])
def test_plot_decay_curves_bad_input(gammas, T):
    with pytest.raises(ValueError):
        plot_decay_curves(gammas, T)
