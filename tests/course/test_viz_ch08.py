"""Notebook 08's figures (``retnet_edu.course.viz.ch08``) return the numbers they draw.
The recorded runs in data/results are what the figures and the README say."""

import importlib.util
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from retnet_edu.course.viz import plot_loss_curves, plot_lr_schedule  # noqa: E402
from retnet_edu.course.viz.ch08 import plot_loss_comparison, plot_lr_sweep, summarize_sweep  # noqa: E402
from retnet_edu.experiments.train import lr_at  # noqa: E402

RESULTS = Path(__file__).resolve().parents[2] / "data" / "results"
SWEEP = RESULTS / "notebook-sweep"


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
    val_a, val_b = ax.lines[1], ax.lines[3]
    assert (
        val_a.get_linestyle() != val_b.get_linestyle() and val_a.get_marker() != val_b.get_marker()
    )  # not colour only
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


def test_plot_loss_comparison_data():
    runs = {"a": fake_history(0.1), "b": fake_history()}
    d = plot_loss_comparison(runs, noise=1.5, skip_start=False)
    assert d["reference"] == "b" and d["steps"].tolist() == [0, 20]
    assert d["gap"]["a"] == pytest.approx([100 * (4.4 / 4.3 - 1), 100 * (2.55 / 2.45 - 1)])
    left, right = d["fig"].axes
    assert d["curves"]["val"]["a"].tolist() == pytest.approx([4.4, 2.55])
    assert len(right.patches) == 1 and right.patches[0].get_y() == pytest.approx(-1.5)  # the noise band
    assert "+4.1 % at the end" in right.get_legend().get_texts()[-1].get_text()
    plt.close(d["fig"])
    d = plot_loss_comparison(runs, reference="a")  # step 0 left out by default
    assert d["steps"].tolist() == [20] and d["gap"]["b"] == pytest.approx([100 * (2.45 / 2.55 - 1)])
    assert len(d["fig"].axes[1].patches) == 0
    plt.close(d["fig"])


@pytest.mark.parametrize(
    "runs,kw,words",
    [
        ({"a": fake_history()}, {}, "at least two"),
        ({"a": fake_history(), "b": fake_history()}, {"reference": "c"}, "not one of the runs"),
        ({"a": fake_history(), "b": fake_history()}, {"noise": -1.0}, "noise"),
        (
            {"a": fake_history(), "b": {"train": [], "eval": [[0, 4.3, 4.3, 0.0], [30, 2.4, 2.4, 1.0]]}},
            {},
            "other steps",
        ),
    ],
)
def test_plot_loss_comparison_bad_input(runs, kw, words):
    with pytest.raises(ValueError, match=words):
        plot_loss_comparison(runs, **kw)
    plt.close("all")


def fake_records():
    losses = {  # model -> lr -> three seeds
        "retnet": {1e-3: [1.92, 1.91, 1.90], 3e-3: [1.88, 1.87, 1.89], 1e-2: [1.95, 1.97, 1.96]},
        "transformer": {1e-3: [1.95, 1.93, 1.94], 3e-3: [1.89, 1.90, 1.88], 1e-2: [1.86, 1.87, 1.85]},
    }
    return [
        {"model": m, "lr": lr, "seed": s, "full_val_loss": v}
        for m, rows in losses.items()
        for lr, vals in rows.items()
        for s, v in zip((2, 0, 1), vals, strict=True)  # out of order on purpose
    ]


def test_summarize_sweep():
    s = summarize_sweep(fake_records())
    assert s["models"] == ["retnet", "transformer"] and s["lrs"] == [1e-3, 3e-3, 1e-2]
    row = s["table"]["retnet"][3e-3]
    assert row["seeds"] == [0, 1, 2] and row["losses"] == [1.87, 1.89, 1.88] and row["n"] == 3
    assert row["mean"] == pytest.approx(1.88) and row["std"] == pytest.approx(0.01)  # sample std (n - 1)
    assert s["best_lr"] == {"retnet": 3e-3, "transformer": 1e-2}
    assert s["best"]["transformer"]["mean"] == pytest.approx(1.86)
    assert list(s["table"]["retnet"]) == [1e-3, 3e-3, 1e-2]


@pytest.mark.parametrize(
    "records,words",
    [
        ([], "at least one"),
        ([{"model": "retnet", "lr": 1e-3, "seed": 0}], "lacks"),
        ([{"model": "retnet", "lr": 1e-3, "seed": 0, "full_val_loss": 2.0}] * 2, "two records"),
    ],
)
def test_summarize_sweep_bad_input(records, words):
    with pytest.raises(ValueError, match=words):
        summarize_sweep(records)


def test_plot_lr_sweep_data():
    d = plot_lr_sweep(fake_records())
    assert d["lrs"].tolist() == [1e-3, 3e-3, 1e-2] and d["best_lr"] == {"retnet": 3e-3, "transformer": 1e-2}
    assert d["mean"]["transformer"] == pytest.approx([1.94, 1.89, 1.86])
    assert d["std"]["retnet"] == pytest.approx([0.01, 0.01, 0.01])
    ax = d["fig"].axes[0]
    assert ax.get_xscale() == "log" and [t.get_text() for t in ax.get_legend().get_texts()] == ["retnet", "transformer"]
    plt.close(d["fig"])


def _sweep_script():
    spec = importlib.util.spec_from_file_location("notebook_sweep", RESULTS / "notebook_sweep.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_notebook_sweep_records_are_complete_and_quoted():
    """The 18 runs of data/results/notebook_sweep.py: every (model, lr, seed), one torch thread, the whole
    validation split, a finished 600-step run with the lr it says, and the README's tables as the script makes them
    from these files."""
    sweep = _sweep_script()
    records = sweep.load_records(SWEEP)
    keys = {(r["model"], r["lr"], r["seed"]) for r in records}
    assert keys == {(m, lr, s) for m in sweep.MODELS for lr in sweep.LRS for s in sweep.SEEDS}
    assert len(records) == len(keys) == 18
    for r in records:
        name = sweep.record_name(r["model"], r["lr"], r["seed"])
        assert r["format"] == sweep.FORMAT and r["threads"] == 1 and r["torch"].startswith("2.")
        assert r["full_val_tokens"] == 478_692 and r["eval_block_size"] == 64, name
        assert r["command"].endswith(" ".join(sweep.run_command(r["model"], r["lr"], r["seed"])[1:])), name
        cfg, hist = r["config"], r["history"]
        assert cfg["name"] == "notebook" and cfg["model"] == r["model"] and cfg["seed"] == r["seed"]
        assert cfg["lr"] == r["lr"] and cfg["min_lr"] == pytest.approx(r["lr"] / 10)
        assert (
            hist["status"] == "finished" and hist["eval"][-1][0] == 600 and hist["eval"][-1][2] == r["sampled_val_loss"]
        )
        assert 1.0 < r["full_val_loss"] < 2.5 and r["wall_seconds"] > 0
    readme = (RESULTS / "README.md").read_text()
    assert sweep.summary_markdown(records) in readme


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
    """data/results/README.md states each recorded run's command and final validation loss as its JSON has it (the
    sweep's runs: their full-validation loss)."""
    readme = (RESULTS / "README.md").read_text()
    logs = sorted(RESULTS.rglob("*.json"))
    assert len(logs) >= 4
    for path in logs:
        log = json.loads(path.read_text())
        assert log["history"]["status"] == "finished", path.name
        assert log["command"] in readme, f"{path.name}: its command is not in the README"
        final = f"{log['full_val_loss']:.4f}" if "full_val_loss" in log else f"{log['history']['eval'][-1][2]:.3f}"
        assert final in readme, f"{path.name}: final validation loss not quoted"
