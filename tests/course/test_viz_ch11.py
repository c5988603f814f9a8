"""Notebook 11's figures (``retnet_edu.course.viz.ch11``) return the numbers they draw; the widget calls the same
function as the static figure above it."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from retnet_edu.course import viz  # noqa: E402
from retnet_edu.retention import decay_mask  # noqa: E402


def _products(gates):
    T = len(gates)
    return np.array([[np.prod(gates[m + 1 : n + 1]) if m <= n else 0.0 for m in range(T)] for n in range(T)])


@pytest.mark.parametrize(
    "gates",
    [[0.9] * 6, [0.9, 0.5, 1.0, 0.25, 0.0, 0.5], [1.0, 1.0, 1.0], [0.0, 0.0, 0.3], [0.7]],
    ids=["constant", "with a reset", "no decay", "all resets", "one token"],
)
def test_gate_mask_is_the_product_of_the_gates_between(gates):
    D = viz.gate_mask(gates)
    assert D.dtype == np.float64 and D.shape == (len(gates), len(gates))
    assert np.isfinite(D).all() and np.allclose(D, _products(gates), rtol=1e-14, atol=0)
    assert np.array_equal(np.diag(D), np.ones(len(gates)))  # exp(0) on the diagonal, exactly


def test_gate_mask_of_a_constant_gate_is_retnets_decay_mask():
    D = viz.gate_mask(np.full(40, 0.97))
    assert np.allclose(D, decay_mask(torch.tensor([0.97], dtype=torch.float64), 40)[0].numpy(), rtol=1e-12, atol=0)
    assert np.array_equal(viz.gate_mask(torch.tensor([0.5, 0.5])), [[1.0, 0.0], [0.5, 1.0]])  # a tensor works too


@pytest.mark.parametrize("bad", [[], [[0.5, 0.5]], [0.5, 1.2], [-0.1, 0.5], [0.5, float("nan")]])
def test_gate_mask_rejects_bad_gates(bad):
    with pytest.raises(ValueError, match="gates"):
        viz.gate_mask(bad)


def test_plot_gate_masks():
    sets = {"constant γ = 0.9": [0.9] * 8, "a reset at token 4": [0.9] * 4 + [0.0] + [0.9] * 3}
    d = viz.plot_gate_masks(sets)
    assert list(d["masks"]) == list(sets) and list(d["gates"]) == list(sets)
    reset = d["masks"]["a reset at token 4"]
    assert (reset[4:, :4] == 0).all() and np.allclose(reset[4:, 4:], d["masks"]["constant γ = 0.9"][:4, :4])
    assert np.allclose(d["row_sums"]["constant γ = 0.9"], (1 - 0.9 ** np.arange(1, 9)) / (1 - 0.9))
    assert np.allclose(d["row_sums"]["a reset at token 4"][4:], d["row_sums"]["constant γ = 0.9"][:4])
    fig = d["fig"]
    titles = [a.get_title() for a in fig.axes]
    assert "constant γ = 0.9" in titles and "a reset at token 4" in titles
    images = [a.images[0].get_array() for a in fig.axes if a.images]
    assert len(images) == 2 and images[1].mask[0, 1] and not images[1].mask[1, 0]  # the future is masked (grey)
    bars = [a for a in fig.axes if a.patches and not a.images]
    assert [p.get_height() for p in bars[1].patches] == sets["a reset at token 4"]
    legend = [a.get_legend() for a in fig.axes if a.get_legend() is not None]
    assert legend and legend[0].get_texts()[0].get_fontsize() >= 9
    ticks = fig.axes[1].get_xticks()
    assert np.array_equal(ticks, np.round(ticks))  # positions are whole numbers
    plt.close(fig)
    fig = plt.figure()
    assert viz.plot_gate_masks({"one": [0.5]}, fig=fig, gate_label="α")["fig"] is fig
    assert fig.axes[0].get_ylabel() == "α"
    plt.close(fig)
    with pytest.raises(ValueError, match="gate_sets"):
        viz.plot_gate_masks({})
    with pytest.raises(ValueError, match="gate_sets\\['x'\\]"):
        viz.plot_gate_masks({"x": [2.0]})


def test_widget_calls_the_static_function(monkeypatch, capsys):
    pytest.importorskip("ipywidgets")
    calls = []

    def fake(gate_sets):
        calls.append(list(gate_sets.values())[0])
        return {"row_sums": {name: np.array([1.0, 2.5]) for name in gate_sets}}

    monkeypatch.setattr(viz.ch11, "plot_gate_masks", fake)  # the widget calls its own module's function
    monkeypatch.setattr(plt, "show", lambda: None)
    box = viz.gate_mask_widget([0.9, 0.1])
    sliders = box.children[0].children
    assert [s.description for s in sliders] == ["γ_0", "γ_1"] and sliders[1].value == pytest.approx(0.1)
    assert calls[-1] == pytest.approx([0.9, 0.1])
    sliders[0].value = 0.5
    assert calls[-1] == pytest.approx([0.5, 0.1])
    with pytest.raises(ValueError, match="at most"):
        viz.gate_mask_widget([0.5] * 17)
    with pytest.raises(ValueError, match="gates"):
        viz.gate_mask_widget([1.5])
