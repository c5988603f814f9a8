"""Notebook 02's figures (``retnet_edu.course.viz.ch02``) return the numbers they draw.
The widgets call the same functions."""

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from retnet_edu.course import viz  # noqa: E402
from retnet_edu.retention import decay_gammas, decay_mask, lm_decay_gammas  # noqa: E402

pytestmark = pytest.mark.usefixtures("close_figures")


def test_tokens_for_weight():
    t = viz.tokens_for_weight([0.5, 0.99, 1.0], 0.95)
    assert t[0] == 5  # 1 - 0.5^4 = 0.9375 < 0.95 <= 1 - 0.5^5
    assert t[1] == 299 and 1 - 0.99**299 >= 0.95 > 1 - 0.99**298
    assert math.isinf(t[2])
    # exact boundary: 1 - 0.5^1 = 0.5 exactly, so one token suffices for half the weight
    assert viz.tokens_for_weight([0.5], 0.5)[0] == 1
    for bad in (0.0, 1.0, 1.5, True):
        with pytest.raises(ValueError):
            viz.tokens_for_weight([0.9], bad)
    with pytest.raises(ValueError):
        viz.tokens_for_weight([], 0.9)


@pytest.mark.parametrize("gamma,T", [(0.9, 32), (1.0, 8), (0.5, 1)])
def test_plot_decay_mask(gamma, T):
    d = viz.plot_decay_mask(gamma, T)
    assert np.array_equal(d["D"], decay_mask(torch.tensor([gamma], dtype=torch.float64), T)[0].numpy())
    assert np.allclose(d["curve"], gamma ** np.arange(T))
    n = np.arange(T)
    expected_rows = (1 - gamma ** (n + 1)) / (1 - gamma) if gamma < 1 else n + 1.0
    assert np.allclose(d["row_sums"], expected_rows, rtol=1e-12)
    if gamma < 1:
        assert d["memory"] == pytest.approx(1 / (1 - gamma))
        assert d["half_life"] == pytest.approx(math.log(2) / -math.log(gamma))
    else:
        assert math.isinf(d["memory"]) and math.isinf(d["half_life"])
    assert len(d["fig"].axes) == 3  # heatmap, its colour bar, the curve


def test_plot_decay_mask_draws_the_masked_future_grey():
    d = viz.plot_decay_mask(0.9, 8)
    ax = d["fig"].axes[0]
    shown = ax.images[0].get_array()
    assert np.array_equal(np.ma.getmaskarray(shown), np.triu(np.ones((8, 8), dtype=bool), 1))
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["masked (m > n)"]
    assert np.array_equal(d["D"], decay_mask(torch.tensor([0.9], dtype=torch.float64), 8)[0].numpy())  # data kept


def test_plot_decay_mask_marks_half_life_and_memory():
    d = viz.plot_decay_mask(0.9, 32)
    curve_ax = d["fig"].axes[1] if d["fig"].axes[1].lines else d["fig"].axes[2]
    xs = sorted(line.get_xdata()[0] for line in curve_ax.lines[1:])
    assert xs == pytest.approx(sorted([math.log(2) / -math.log(0.9), 10.0]))


@pytest.mark.parametrize("bad", [(1.5, 8), (0.0, 8), (0.9, 0), (0.9, 2.5), ([0.9, 0.8], 8)])
def test_plot_decay_mask_bad_input(bad):
    with pytest.raises((ValueError, TypeError)):
        viz.plot_decay_mask(*bad)


def test_head_schedule():
    assert torch.equal(viz.head_schedule(5), decay_gammas(5))
    assert torch.equal(viz.head_schedule(5, "LM"), lm_decay_gammas(5))
    with pytest.raises(ValueError, match="schedule"):
        viz.head_schedule(4, "linear")


@pytest.mark.parametrize("H", [1, 4, 11])
def test_plot_heads(H):
    g = decay_gammas(H)
    d = viz.plot_heads(g, T=24)
    assert d["masks"].shape == (H, 24, 24)
    assert np.array_equal(d["masks"], decay_mask(g, 24).numpy())
    assert np.allclose(d["memory"], 2.0 ** (5 + np.arange(H)))
    assert np.array_equal(d["tokens"], viz.tokens_for_weight(g, 0.9))
    assert np.allclose(d["half_life"], np.log(2) / -np.log(g.numpy()))
    images = [a for a in d["fig"].axes if a.images]
    assert len(images) == H
    assert images[0].get_title() == "h=0: 32"
    assert np.ma.getmaskarray(images[0].images[0].get_array())[0, 1]  # the future is drawn grey


def test_plot_heads_redraws_into_a_figure():
    fig = plt.figure()
    viz.plot_heads(decay_gammas(3), T=8, fig=fig)
    d = viz.plot_heads(decay_gammas(2), T=8, fig=fig)
    assert d["fig"] is fig and len([a for a in fig.axes if a.images]) == 2


def test_plot_heads_bad_input():
    with pytest.raises(ValueError):
        viz.plot_heads([], 8)
    with pytest.raises(ValueError):
        viz.plot_heads([0.9], 0)


def test_plot_schedules():
    d = viz.plot_schedules(8)
    assert np.allclose(d["eq8"], 2.0 ** (5 + np.arange(8)))
    assert d["lm"][0] == pytest.approx(32) and d["lm"][-1] == pytest.approx(512)
    ratios = d["lm"][1:] / d["lm"][:-1]
    assert np.allclose(ratios, ratios[0])  # evenly spaced on a log scale
    assert len(d["fig"].axes[0].lines) == 2
    assert len({line.get_linestyle() for line in d["fig"].axes[0].lines}) == 2  # a second cue besides the colour


def test_widgets_call_the_static_functions(monkeypatch, capsys):
    pytest.importorskip("ipywidgets")
    calls = []

    def fake_mask(gamma, T):
        calls.append(("mask", gamma, T))
        return {"memory": 1 / (1 - gamma), "half_life": 0.5}

    # the widgets call the functions of their own module, viz.ch02 (the package only re-exports them)
    monkeypatch.setattr(viz.ch02, "plot_decay_mask", fake_mask)
    monkeypatch.setattr(viz.ch02, "plot_heads", lambda gammas, T: calls.append(("heads", len(gammas), T)))
    monkeypatch.setattr(plt, "show", lambda: None)
    w1 = viz.decay_mask_widget(gamma=0.8, T=16)
    w2 = viz.heads_explorer_widget(num_heads=3, schedule="LM", T=32)
    assert ("mask", 0.8, 16) in calls and ("heads", 3, 32) in calls
    sliders = {c.description: c for c in w1.widget.children if hasattr(c, "description")}
    assert sliders["γ"].min == 0.5 and sliders["γ"].max == 1.0 and sliders["T"].value == 16
    sliders["γ"].value = 0.95
    assert ("mask", 0.95, 16) in calls
    assert "γ = 0.950, T = 16: effective memory 20.0 tokens, half-life 0.50 tokens" in capsys.readouterr().out
    heads = {c.description: c for c in w2.widget.children if hasattr(c, "description")}
    heads["heads"].value = 5
    assert ("heads", 5, 32) in calls
