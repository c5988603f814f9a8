"""Notebook 12's figure (``retnet_edu.course.viz.ch12``) returns the numbers it draws, from the rows of the recall
runner's table (``retnet_edu.experiments.recall.recall_table``)."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from retnet_edu.course import viz  # noqa: E402
from retnet_edu.experiments.recall import MODEL_LABELS, recall_table  # noqa: E402

MODELS = ("transformer", "retnet", "deltanet")  # out of MODELS order on purpose


def _result(length, model, lr, seed, acc):
    """A result dict with the keys recall_table reads (as recall.run writes them)."""
    return {
        "task": "mqar",
        "length": length,
        "model": model,
        "lr": lr,
        "seed": seed,
        "test_accuracy": acc,
        "train_seconds": 1.0,
        "wall_seconds": 1.5,
        "parameters": 1000,
        "data": {"majority_fraction": 0.02, "chance": 1 / length},  # V = 2 × length: V/2 value tokens
        "state_bytes": 2 * length * 64 * 4 * 2
        if model == "transformer"
        else {"retnet": 16384, "deltanet": 22528}[model],
    }


def _rows():
    acc = {"transformer": 0.99, "retnet": 0.2, "deltanet": 0.6}
    results = [
        _result(L, m, lr, s, acc[m] - 0.1 * (L == 128) * (m != "transformer") + 0.01 * s - (lr == 1e-2) * 0.05)
        for L in (64, 128)
        for m in MODELS
        for lr in (3e-3, 1e-2)
        for s in (0, 1, 2)
    ]
    return recall_table(results)


def test_plot_recall_sweep_returns_what_it_draws():
    rows = _rows()
    d = viz.plot_recall_sweep(rows, guides={"guessing plateau 1/N = 1/8": 1 / 8})
    assert d["lengths"] == [64, 128]
    assert d["models"] == ["retnet", "deltanet", "transformer"]  # the runner's MODELS order
    for r in rows:
        L, mean, std = d["accuracy"][r["model"]]
        i = list(L).index(r["length"])
        assert mean[i] == r["mean"] and std[i] == r["std"]
        assert d["state_bytes"][r["model"]][r["length"]] == r["state_bytes"]
    assert d["state_bytes"]["transformer"] == {64: 65536, 128: 131072}  # the KV cache grows with L
    assert d["state_bytes"]["deltanet"][64] == d["state_bytes"]["deltanet"][128]
    np.testing.assert_allclose(d["accuracy"]["transformer"][1], [1.0, 1.0])  # 0.99 + mean of 0, 0.01, 0.02
    left, right = d["fig"].axes
    assert left.get_xscale() == "log" and right.get_yscale() == "log"
    labels = left.get_legend_handles_labels()[1]
    assert sorted(labels) == sorted([MODEL_LABELS[m] for m in d["models"]] + ["chance"])
    assert any(t.get_text() == "guessing plateau 1/N = 1/8" for t in left.texts)
    assert d["chance"] == {64: 1 / 64, 128: 1 / 128}  # one dashed segment per length, each at its own chance
    segments = [c for c in left.collections if c.get_label() == "chance"]
    assert len(segments) == 1 and sorted(p[0, 1] for p in segments[0].get_segments()) == [100 / 128, 100 / 64]
    # every seed is a dot: 3 per model and length
    dots = [line for line in left.lines if line.get_linestyle() == "None" and len(line.get_xdata()) == 3]
    assert len(dots) == 6
    # one bar per model and length, its height the state bytes; the longest length solid, the shorter hatched
    bars = sorted(right.patches, key=lambda p: p.get_x())
    heights = [p.get_height() for p in bars]
    expected = [d["state_bytes"][m][L] for m in d["models"] for L in (64, 128)]
    assert heights == expected
    assert [bool(p.get_hatch()) for p in bars] == [True, False] * 3
    assert [t.get_text() for t in right.get_xticklabels()] == [MODEL_LABELS[m] for m in d["models"]]
    assert any("128 KiB" == t.get_text() for t in right.texts)  # the Transformer's bar at the longest length
    plt.close(d["fig"])


def test_plot_recall_sweep_one_length_and_given_axes():
    rows = [r for r in _rows() if r["length"] == 64]
    for r in rows:
        r.pop("accuracies")
        r.pop("chance")
    fig, axes = plt.subplots(1, 2)
    d = viz.plot_recall_sweep(rows, ax=axes)
    assert d["fig"] is fig and d["lengths"] == [64]
    assert "chance" not in axes[0].get_legend_handles_labels()[1] and d["chance"] == {}
    assert not any(p.get_hatch() for p in axes[1].patches)
    plt.close(fig)


def test_plot_recall_sweep_one_chance_line_when_it_does_not_change():
    rows = _rows()
    for r in rows:
        r["chance"] = 0.01
    d = viz.plot_recall_sweep(rows)
    left = d["fig"].axes[0]
    chance = [line for line in left.lines if line.get_label() == "chance"]
    assert len(chance) == 1 and chance[0].get_ydata()[0] == 1.0
    plt.close(d["fig"])


def test_binary_byte_labels():
    from retnet_edu.course.viz.ch12 import _binary_bytes

    assert [_binary_bytes(n) for n in (512, 2048, 3 * 2**20, 2**31)] == ["512 B", "2 KiB", "3 MiB", "2 GiB"]


@pytest.mark.parametrize(
    "rows, words",
    [
        ([], "non-empty"),
        ([{"length": 64, "model": "retnet"}], "keys"),
        (["row"], "keys"),
    ],
)
def test_plot_recall_sweep_rejects_bad_rows(rows, words):
    with pytest.raises(ValueError, match=words):
        viz.plot_recall_sweep(rows)


def test_plot_recall_sweep_rejects_two_rows_for_one_model_and_length():
    rows = _rows()
    with pytest.raises(ValueError, match="one row per"):
        viz.plot_recall_sweep(rows + rows[:1])
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="2 axes"):
        viz.plot_recall_sweep(rows, ax=[ax])
    plt.close("all")
