"""Notebook 05's figures (``retnet_edu.course.viz.ch05``) return the numbers they draw."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from retnet_edu.course.viz import CHUNK_BLOCK_LABELS, chunk_block_labels, plot_chunk_blocks, plot_curves  # noqa: E402


@pytest.mark.parametrize("T,B", [(16, 4), (10, 4), (7, 1), (5, 9), (12, 12)])
def test_chunk_block_labels_counts(T, B):
    labels = chunk_block_labels(T, B)
    sizes = [min(B, T - s) for s in range(0, T, B)]
    assert (labels == 0).sum() == T * (T - 1) // 2 - sum(b * (b - 1) // 2 for b in sizes)
    assert (labels == 1).sum() == sum(b * (b + 1) // 2 for b in sizes)  # causal part of each block
    assert (labels == 2).sum() == sum(b * (b - 1) // 2 for b in sizes)  # masked part of each block
    assert (labels == 3).sum() == T * (T + 1) // 2 - sum(b * (b + 1) // 2 for b in sizes)
    n, m = np.indices((T, T))
    assert np.all(labels[m > n] != 1) and np.all(labels[m > n] != 3)  # nothing causal above the diagonal


def test_plot_chunk_blocks():
    d = plot_chunk_blocks(10, 4)
    assert d["chunks"] == [(0, 4), (4, 8), (8, 10)]
    assert d["counts"] == {0: 32, 1: 23, 2: 13, 3: 32} and sum(d["counts"].values()) == 100
    legend = d["fig"].axes[0].get_legend()
    assert len(legend.get_texts()) == len(CHUNK_BLOCK_LABELS) and legend.get_texts()[0].get_fontsize() >= 9
    plt.close(d["fig"])
    with pytest.raises(ValueError, match="chunk_size"):
        plot_chunk_blocks(10, 0)
    with pytest.raises(ValueError, match="T"):
        chunk_block_labels(0, 2)


def test_plot_curves():
    d = plot_curves([1, 2, 4], {"a": [1e-3, 1e-4, 0.0], "b": [1, 2, 3]}, "x", "y", hlines={"tol": 1e-2}, vlines=[2])
    ax = d["fig"].axes[0]
    assert np.array_equal(d["curves"]["a"], [1e-3, 1e-4, 0.0])
    assert len(ax.lines[0].get_xdata()) == 2  # the zero is not drawn on log y
    assert ax.get_yscale() == "log" and ax.get_xscale() == "log"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b", "tol"]
    # a second cue besides colour: each curve its own line style and marker; reference lines are thinner, no marker
    assert ax.lines[0].get_linestyle() != ax.lines[1].get_linestyle()
    assert ax.lines[0].get_marker() != ax.lines[1].get_marker()
    assert ax.lines[2].get_marker() in ("None", "", None) and ax.lines[2].get_linewidth() < ax.lines[0].get_linewidth()
    assert ax.get_legend().get_texts()[0].get_fontsize() >= 9
    plt.close(d["fig"])
    d = plot_curves([1, 2], {"a": [1, 2], "b": [2, 3]}, "x", "y", marker=".")
    assert {line.get_marker() for line in d["fig"].axes[0].lines} == {"."}
    plt.close(d["fig"])
    d = plot_curves([0, 1], {"a": [0, 1]}, "x", "y", logx=False, logy=False)
    assert len(d["fig"].axes[0].lines[0].get_xdata()) == 2
    plt.close(d["fig"])
    with pytest.raises(ValueError, match="shape"):
        plot_curves([1, 2], {"a": [1]}, "x", "y")
    with pytest.raises(ValueError, match="curves"):
        plot_curves([1, 2], {}, "x", "y")
    with pytest.raises(ValueError, match="x"):
        plot_curves([], {"a": []}, "x", "y")
