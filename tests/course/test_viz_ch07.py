"""Notebook 07's figures (``retnet_edu.course.viz.ch07``) return the numbers they draw."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from retnet_edu.course.viz import plot_param_counts  # noqa: E402


def test_plot_param_counts():
    d = plot_param_counts({"A": {"q": 64, "ffn": 128}, "B": {"all": 192}}, 8)
    assert d["totals"] == {"A": 192, "B": 192}
    assert d["in_d2"]["A"] == {"q": 1.0, "ffn": 2.0}
    ax = d["fig"].axes[0]
    assert len(ax.patches) == 3
    hatches = {p.get_hatch() or "" for p in ax.patches}
    assert len(hatches) == 3  # "q", "ffn", "all": three parts, three patterns (a cue besides colour)
    assert ax.get_legend().get_texts()[0].get_fontsize() >= 9
    plt.close(d["fig"])
    with pytest.raises(ValueError, match="count"):
        plot_param_counts({"A": {"q": -1}}, 8)
    with pytest.raises(ValueError, match="breakdowns"):
        plot_param_counts({}, 8)
