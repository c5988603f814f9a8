"""Notebook 10's helpers: the mixing matrices reproduce each mixer's output, and the figures
(``retnet_edu.course.viz.ch10``) return what they draw."""

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from retnet_edu.baselines.hyena import direct_causal_conv  # noqa: E402
from retnet_edu.baselines.transformer import causal_attention  # noqa: E402
from retnet_edu.course.viz import (  # noqa: E402
    plot_accuracy_curves,
    plot_accuracy_vs_length,
    plot_hyena_filters,
    plot_listops_example,
    plot_mixing_matrices,
    plot_mqar_example,
)
from retnet_edu.experiments import lra  # noqa: E402
from retnet_edu.experiments.tasks import IGNORE, LISTOPS_VOCAB, mini_listops, mqar  # noqa: E402
from retnet_edu.position import apply_rotation  # noqa: E402
from retnet_edu.retention import parallel_retention  # noqa: E402


# ---------------------------------------------------------------------------------------------------------
# mixing matrices: M @ values must give the mixer's output (before anything that follows it)
# ---------------------------------------------------------------------------------------------------------
def models(length=24):
    cfg = lra.get_lra_config("tiny", task="mqar", length=length, num_layers=2)
    torch.manual_seed(0)
    return {name: lra.build_task_model(c).double().eval() for name, c in lra.model_configs(cfg, 64).items()}


TOKENS = torch.randint(0, 64, (24,), generator=torch.Generator().manual_seed(1))


def layer_input(model, layer):
    captured = {}
    block = model.layers[layer]
    norm = (
        getattr(block, "retention_layer_norm", None)
        or getattr(block, "attention_layer_norm", None)
        or block.mixer_layer_norm
    )
    handle = norm.register_forward_hook(lambda m, i, o: captured.setdefault("h", o))
    with torch.no_grad():
        lra.task_logits(model, TOKENS[None])
    handle.remove()
    return captured["h"]


@pytest.mark.parametrize("name", ["retnet", "linear"])
def test_mixing_matrix_retention(name):
    model = models()[name]
    for layer, head in ((0, 0), (1, 1)):
        mm = lra.mixing_matrix(model, TOKENS, layer, head)
        h = layer_input(model, layer)
        msr = model.layers[layer].retention
        q = apply_rotation(msr.q_proj(h).view(1, 24, msr.num_heads, -1).transpose(1, 2))
        k = apply_rotation((msr.k_proj(h) * msr.scaling).view(1, 24, msr.num_heads, -1).transpose(1, 2))
        v = msr.v_proj(h).view(1, 24, msr.num_heads, -1).transpose(1, 2)
        o = parallel_retention(q, k, v, msr.gamma)
        assert np.abs(mm["full"] @ v[0, head].detach().numpy() - o[0, head].detach().numpy()).max() < 1e-12
        assert mm["kind"] == "retention" and np.allclose(np.triu(mm["fixed"], 1), 0)
        if name == "linear":
            assert np.array_equal(mm["fixed"], np.tril(np.ones((24, 24))))


def test_mixing_matrix_attention():
    model = models()["transformer"]
    mm = lra.mixing_matrix(model, TOKENS, 1, 1)
    h = layer_input(model, 1)
    att = model.layers[1].attention
    q = apply_rotation(att.q_proj(h).view(1, 24, att.num_heads, -1).transpose(1, 2))
    k = apply_rotation(att.k_proj(h).view(1, 24, att.num_heads, -1).transpose(1, 2))
    v = att.v_proj(h).view(1, 24, att.num_heads, -1).transpose(1, 2)
    o = causal_attention(q, k, v)
    assert np.abs(mm["full"] @ v[0, 1].detach().numpy() - o[0, 1].detach().numpy()).max() < 1e-12
    assert np.allclose(mm["full"].sum(1), 1) and np.allclose(np.triu(mm["full"], 1), 0)


def test_mixing_matrix_hyena():
    model = models()["hyena"]
    for layer, channel in ((0, 3), (1, 0)):
        mm = lra.mixing_matrix(model, TOKENS, layer, channel)
        op = model.layers[layer].mixer
        with torch.no_grad():
            x1, x2, v = op.gates(layer_input(model, layer))
            u = x2 * v
            z = direct_causal_conv(u, op.filter(24)) + op.D[:, None] * u
            want = (x1 * z)[0, channel].numpy()
        assert np.abs(mm["full"] @ v[0, channel].numpy() - want).max() < 1e-12
        assert mm["kind"] == "hyena"
        T = mm["fixed"]  # Toeplitz: constant along diagonals
        assert np.allclose(np.diag(T, -3), np.diag(T, -3)[0]) and np.allclose(np.triu(T, 1), 0)


def test_mixing_matrix_bad_input():
    ms = models()
    with pytest.raises(ValueError):
        lra.mixing_matrix(ms["retnet"], TOKENS[None], 0, 0)
    with pytest.raises(ValueError, match="layer"):
        lra.mixing_matrix(ms["retnet"], TOKENS, 5, 0)
    with pytest.raises(ValueError, match="head"):
        lra.mixing_matrix(ms["transformer"], TOKENS, 0, 9)
    with pytest.raises(ValueError, match="channel"):
        lra.mixing_matrix(ms["hyena"], TOKENS, 0, 10_000)
    with pytest.raises(ValueError):
        lra.mixing_matrix(torch.nn.Linear(2, 2), TOKENS, 0, 0)


# ---------------------------------------------------------------------------------------------------------
# plots
# ---------------------------------------------------------------------------------------------------------
def test_plot_listops_example():
    d = plot_listops_example("[MAX 4 3 [MIN 2 3 ] 1 ]".split(), value=4)
    assert d["depth"].tolist() == [1, 1, 1, 2, 2, 2, 2, 1, 1]
    assert d["tokens"][0] == "[MAX" and d["value"] == 4
    plt.close(d["fig"])
    with pytest.raises(ValueError, match="unbalanced"):
        plot_listops_example(["[MAX", "1"])
    with pytest.raises(ValueError):
        plot_listops_example(["<pad>"])


def test_plot_mqar_example():
    data = mqar(1, 32, 4, 64, power_a=1.0, seed=3)
    d = plot_mqar_example(data.inputs[0], data.targets[0])
    x = data.inputs[0].numpy()
    assert d["queries"].tolist() == (data.targets[0] != IGNORE).nonzero().flatten().tolist()
    assert all(x[p] == x[q] and p % 2 == 0 and p < 8 for p, q in zip(d["pairs"], d["queries"], strict=True))
    assert (d["distances"] == d["queries"] - d["pairs"]).all() and len(d["fig"].axes[0].patches) == 32 + 4
    plt.close(d["fig"])
    with pytest.raises(ValueError):
        plot_mqar_example(data.inputs[0], torch.full((32,), IGNORE))


def test_plot_mixing_matrices_and_filters():
    fixed = {"a": np.tril(np.ones((5, 5))), "b": np.eye(5)}
    full = {"a": np.tril(np.full((5, 5), 0.5)), "b": -np.eye(5)}
    d = plot_mixing_matrices(fixed, full)
    assert len(d["fig"].axes) == 4 + 4 and np.array_equal(d["full"]["b"], -np.eye(5))  # 4 panels + colorbars
    plt.close(d["fig"])
    with pytest.raises(ValueError):
        plot_mixing_matrices(fixed, {"b": np.eye(5), "a": np.eye(5)})
    h = torch.randn(8, 20, generator=torch.Generator().manual_seed(0))
    d = plot_hyena_filters(h, window=torch.ones(8, 20))
    assert d["channels"] == [0, 2, 5, 7] and d["filters"].shape == (4, 20)
    assert np.array_equal(d["filters"][1], h[2].double().numpy()) and len(d["fig"].axes[0].lines) == 4 * 2 + 1
    plt.close(d["fig"])
    with pytest.raises(ValueError):
        plot_hyena_filters(h, channels=[8])


def fake_result(model, task, length, seed, acc):
    return {
        "task": task,
        "length": length,
        "model": model,
        "lr": 3e-3,
        "seed": seed,
        "test_accuracy": acc,
        "train_seconds": 10.0 + seed,
        "wall_seconds": 12.0,
        "parameters": 1000,
        "data": {"majority_fraction": 0.2, "chance": 0.1},
        "history": [[0, None, 0.1], [10, 1.0, acc]],
    }


def test_plot_accuracy_vs_length_and_curves():
    results = [
        fake_result(m, t, L, s, 0.1 * i + 0.01 * s + (0.1 if L == 128 else 0))
        for i, m in enumerate(lra.MODELS)
        for t in lra.TASKS
        for L in (64, 128)
        for s in range(3)
    ]
    rows = lra.summarize(results)
    d = plot_accuracy_vs_length(rows, guides={"mqar": {"1/N": 0.25}})
    assert any(line.get_ydata()[0] == 25 for line in d["fig"].axes[1].lines)
    L, m, s = d["series"]["mqar"]["hyena"]
    assert L.tolist() == [64, 128] and np.allclose(m, [0.31, 0.41]) and np.allclose(s, [0.01, 0.01])
    assert len(d["fig"].axes) == 2
    ax = d["fig"].axes[1]
    bars = [p for p in ax.patches if p.get_height() > 0]
    assert len(bars) == 4 * 2  # one bar per model and length: lengths are groups, not points of a line
    heights = sorted(round(b.get_height(), 6) for b in bars if b.get_facecolor()[:3] == bars[-1].get_facecolor()[:3])
    assert heights == [31.0, 41.0]  # Hyena's two bars, in %
    hatches = {b.get_hatch() for b in bars}
    assert len(hatches) == 4  # a second cue besides the colour
    for line in ax.lines:  # no line joins the two lengths (the seed dots stand on one x each)
        x = np.asarray(line.get_xdata(), dtype=float)
        assert x.size < 2 or np.allclose(x, x[0]) or line.get_linestyle() in ("None", "--", "-.")
    dots = [line for line in ax.lines if line.get_marker() == "o"]
    assert sum(len(line.get_ydata()) for line in dots) == 4 * 2 * 3  # every seed's accuracy
    plt.close(d["fig"])
    with pytest.raises(ValueError):
        plot_accuracy_vs_length([])
    two_lrs = lra.summarize(results + [{**results[0], "lr": 1e-2}])
    with pytest.raises(ValueError, match="one row per"):
        plot_accuracy_vs_length(two_lrs)
    best = lra.best_lr(two_lrs)
    plt.close(plot_accuracy_vs_length(best)["fig"])  # best_lr's rows: one per model
    d = plot_accuracy_curves({"retnet": results[0], "hyena": results[-1]}, chance=0.1, guides={"1/N": 0.25})
    assert d["steps"]["retnet"].tolist() == [0, 10]
    assert math.isclose(d["accuracy"]["hyena"][-1], results[-1]["test_accuracy"])
    styles = [line.get_linestyle() for line in d["fig"].axes[0].lines[:2]]
    assert styles[0] != styles[1]  # line styles as a second cue
    assert {line.get_ydata()[0] for line in d["fig"].axes[0].lines[2:]} == {10.0, 25.0}
    plt.close(d["fig"])
    with pytest.raises(ValueError):
        plot_accuracy_curves({"x": {"no": 1}})


def test_listops_vocab_is_what_the_plots_expect():
    data = mini_listops(3, 16, seed=0)
    tokens = [LISTOPS_VOCAB[i] for i in data.inputs[0].tolist()]
    d = plot_listops_example(tokens)
    assert d["depth"][-1] == 1 and "<pad>" not in d["tokens"]
    plt.close(d["fig"])
