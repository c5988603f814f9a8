"""Notebook 04's figures (``retnet_edu.course.viz.ch04``) return the numbers they draw."""

import numpy as np
import pytest
import torch

from retnet_edu.course import viz
from retnet_edu.position import apply_rotation, rotation_angles

pytestmark = pytest.mark.usefixtures("close_figures")


def test_plot_rotation_scores_relative():
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(2, 8, dtype=torch.float64, generator=g)
    d = viz.plot_rotation_scores(q, k, T=20)
    s = d["scores"]
    assert s.shape == (20, 20)
    assert np.allclose(s, (apply_rotation(q.expand(20, 8)) @ apply_rotation(k.expand(20, 8)).T).numpy())
    assert d["spread"].max() < 1e-12  # constant along each diagonal
    assert np.array_equal(d["distance"], np.arange(20)[:, None] - np.arange(20)[None, :])
    # the mean score at distance n - m = Δ is Re Σ_i z_q,i conj(z_k,i) e^{iΔθ_i}
    zq = torch.view_as_complex(q.reshape(4, 2).contiguous()).numpy()
    zk = torch.view_as_complex(k.reshape(4, 2).contiguous()).numpy()
    theta = rotation_angles(8)[0::2].numpy()
    offsets = np.arange(-19, 20)
    expected = np.real((zq * zk.conj())[None, :] * np.exp(1j * offsets[:, None] * theta[None, :])).sum(1)
    assert np.allclose(d["by_distance"], expected, atol=1e-12)


def test_plot_rotation_scores_wrong_sign_depends_on_sum():
    g = torch.Generator().manual_seed(1)
    q, k = torch.randn(2, 8, dtype=torch.float64, generator=g)
    d = viz.plot_rotation_scores(q, k, T=20, key_sign=-1)
    assert d["spread"].max() > 0.1  # not a function of n - m
    s = d["scores"]
    sums = np.add.outer(np.arange(20), np.arange(20))
    assert all(np.ptp(s[sums == c]) < 1e-12 for c in range(39))  # a function of n + m


@pytest.mark.parametrize(
    "bad",
    [
        dict(q=torch.ones(3), k=torch.ones(3)),
        dict(q=torch.ones(4), k=torch.ones(6)),
        dict(q=torch.ones(4), k=torch.ones(4), T=0),
        dict(q=torch.ones(4), k=torch.ones(4), key_sign=2),
        # a batch of heads and tokens, e.g. (B, H, T, d_k), is not one vector: flattening it would draw nonsense
        dict(q=torch.ones(1, 2, 12, 8), k=torch.ones(1, 2, 12, 8)),
        dict(q=torch.ones(2, 4), k=torch.ones(2, 4)),
    ],
)
def test_plot_rotation_scores_bad_input(bad):
    with pytest.raises((ValueError, TypeError)):
        viz.plot_rotation_scores(**bad)


def test_plot_rotation_angles():
    d = viz.plot_rotation_angles(8)
    assert np.allclose(d["official"], [1.0, 10000 ** (-1 / 3), 10000 ** (-2 / 3), 1e-4], rtol=1e-14)
    assert np.allclose(d["rope"], [1.0, 0.1, 0.01, 0.001], rtol=1e-14)
    assert np.array_equal(d["pairs"], np.arange(4))
    assert d["fig"].axes[0].get_yscale() == "log"
    with pytest.raises(ValueError):
        viz.plot_rotation_angles(7)
    with pytest.raises(ValueError):
        viz.plot_rotation_angles(2)
