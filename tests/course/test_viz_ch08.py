"""Notebook 08's figures (``retnet_edu.course.viz.ch08``) return the numbers they draw.
The recorded runs in data/results are what the figures and the README say."""

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from retnet_edu.course.viz import plot_loss_curves, plot_lr_schedule  # noqa: E402
from retnet_edu.experiments.train import lr_at  # noqa: E402

RESULTS = Path(__file__).resolve().parents[2] / "data" / "results"


def fake_history(offset=0.0):
    return {
        "train": [[10, 3.0 + offset, 1e-3, 100.0], [20, 2.5 + offset, 1e-3, 110.0]],
        "eval": [[0, 4.3, 4.3 + offset, 0.0], [20, 2.4, 2.45 + offset, 1.0]],
    }


def test_plot_loss_curves_data():
    d = plot_loss_curves({"a": fake_history(), "b": {"history": fake_history(0.1)}}, baselines={"uniform": 4.33})
    assert d["steps"]["a"].tolist() == [0, 20] and d["val"]["b"].tolist() == pytest.approx([4.4, 2.55])
    assert d["train"]["a"].tolist() == [3.0, 2.5] and d["train_steps"]["b"].tolist() == [10, 20]
    ax = d["fig"].axes[0]
    assert len(ax.lines) == 5  # 2 train + 2 val + 1 baseline
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a: 2.450", "b: 2.550"]
    plt.close(d["fig"])
    d = plot_loss_curves({"a": fake_history()}, show_train=False)
    assert len(d["fig"].axes[0].lines) == 1
    plt.close(d["fig"])
    d = plot_loss_curves({"a": fake_history()}, zoom_from=10, baselines={"uniform": 4.33, "near": 2.6})
    ax = d["fig"].axes[0]
    assert d["ylim"][0] < 2.45 and d["ylim"][1] < 3.1 and ax.get_xlim()[0] > 5  # fits the points after step 10
    assert len(ax.lines) == 3  # train + val + the baseline in range only
    plt.close(d["fig"])


@pytest.mark.parametrize("runs", [{}, {"a": {"eval": []}}, [fake_history()]])
def test_plot_loss_curves_bad_input(runs):
    with pytest.raises(ValueError):
        plot_loss_curves(runs)


def test_plot_lr_schedule_data():
    d = plot_lr_schedule(1e-3, 1e-4, 10, 100)
    assert d["step"].shape == d["lr"].shape == (100,)
    assert d["lr"].tolist() == [lr_at(s, 1e-3, 1e-4, 10, 100) for s in range(100)]
    assert d["lr"].max() == pytest.approx(1e-3) and np.argmax(d["lr"]) == 9
    plt.close(d["fig"])


def test_recorded_results_are_loss_curves():
    for name in ("cpu-retnet.json", "cpu-transformer.json"):
        log = json.loads((RESULTS / name).read_text())
        assert log["config"]["name"] == "cpu" and log["history"]["status"] == "finished"
        assert log["command"].startswith(
            "python -m retnet_edu.train --config cpu"
        )  # recorded before the move to experiments/
        d = plot_loss_curves({name: log})
        assert d["steps"][name][-1] == log["config"]["max_steps"] and d["val"][name][-1] < 2.0
        plt.close(d["fig"])


def test_results_readme_quotes_every_recorded_run():
    """data/results/README.md states each recorded run's final validation loss as its JSON has it."""
    readme = (RESULTS / "README.md").read_text()
    logs = sorted(RESULTS.rglob("*.json"))
    assert len(logs) >= 4
    for path in logs:
        log = json.loads(path.read_text())
        assert log["history"]["status"] == "finished", path.name
        assert log["command"] in readme, f"{path.name}: its command is not in the README"
        assert f"{log['history']['eval'][-1][2]:.3f}" in readme, f"{path.name}: final validation loss not quoted"
