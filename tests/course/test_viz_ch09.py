"""Notebook 09's figures of benchmark results (``retnet_edu.experiments.bench_plots``, re-exported by
``retnet_edu.course.viz``) return what they draw."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from retnet_edu.course.viz import (  # noqa: E402
    benchmark_provenance,
    plot_benchmark,
    plot_decode_benchmark,
    plot_official_benchmark,
    plot_train_benchmark,
)

MACHINE = {
    "cpu": "Test CPU",
    "cores": 2,
    "threads": 1,
    "torch": "2.13.0+cpu",
    "device": "cpu",
    "gpu": None,
    "load_avg_before": [0.5, 0.4, 0.3],
}


def decode_result():
    rows = []
    for batch in (1, 4):
        for t in (128, 256, 512):
            rows.append(
                {
                    "size": "cpu",
                    "batch": batch,
                    "context": t,
                    "retnet_ms": 2.0,
                    "retnet_ms_q25": 1.9,
                    "retnet_ms_q75": 2.1,
                    "transformer_ms": 2.0 + t / 256 * batch,
                    "transformer_ms_q25": 1.9 + t / 256 * batch,
                    "transformer_ms_q75": 2.2 + t / 256 * batch,
                    "speed_ratio": (2.0 + t / 256 * batch) / 2.0,
                    "ideal_ratio": 1 + t / 64,
                    "state_bytes_exact": 131072 * batch,
                    "kv_bytes_exact": 4096 * t * batch,
                    "retnet_step_peak_bytes": 300000 * batch,
                    "transformer_step_peak_bytes": 4096 * t * batch + 9,
                }
            )
    return {
        "schema": "retnet_edu.bench/1",
        "command": "decode",
        "command_line": "python -m retnet_edu.experiments.bench decode",
        "date": "2026-11-29T10:00:00+00:00",
        "machine": MACHINE,
        "sizes": {"cpu": {"retnet": {"embed_dim": 128}}},
        "rows": rows,
    }


def compiled_result():
    res = decode_result()
    res["variant"] = "compiled"
    for r in res["rows"]:
        for name in ("retnet", "transformer"):
            r[f"{name}_compiled_ms"] = r[f"{name}_ms"] / 2
            r[f"{name}_compiled_ms_q25"] = r[f"{name}_ms"] / 2.1
            r[f"{name}_compiled_ms_q75"] = r[f"{name}_ms"] / 1.9
        r["compiled_speed_ratio"] = r["transformer_compiled_ms"] / r["retnet_compiled_ms"]
        r["ratio_vs_ideal"] = r["speed_ratio"] / r["ideal_ratio"]
        r["compiled_ratio_vs_ideal"] = r["compiled_speed_ratio"] / r["ideal_ratio"]
    return res


def legend_texts(fig):
    return [t.get_text() for leg in fig.legends for t in leg.get_texts()]


def test_plot_decode_benchmark_data():
    d = plot_decode_benchmark(decode_result())
    assert d["groups"] == [("cpu", 1), ("cpu", 4)] and d["compiled"] is False
    assert d["context"][("cpu", 1)].tolist() == [128, 256, 512]
    assert d["transformer_ms"][("cpu", 4)].tolist() == pytest.approx([4.0, 6.0, 10.0])
    assert d["kv_mib"][("cpu", 1)].tolist() == pytest.approx([0.5, 1.0, 2.0])
    assert d["state_mib"][("cpu", 4)].tolist() == pytest.approx([0.5] * 3)
    assert d["ideal_ratio"][("cpu", 1)].tolist() == pytest.approx([3.0, 5.0, 9.0])
    assert np.isnan(d["ratio_vs_ideal"][("cpu", 1)]).all()  # not in these rows: not drawn
    a_t, a_m, a_r, a_f = d["fig"].axes
    assert a_t.get_xscale() == "log" and a_f.get_yscale() == "linear"
    assert len(a_r.lines) == 2 * 2 + 1  # measured + ideal per group, y = 1
    assert [line.get_linestyle() for line in a_r.lines[:2]] == ["-", ":"]  # measured and ideal differ in style
    # one legend below the panels, 9 pt: a colour per group, then what each line style means
    texts = legend_texts(d["fig"])
    assert texts[:2] == ["d = 128, batch 1", "d = 128, batch 4"] and any("dotted" in t for t in texts)
    assert all(t.get_fontsize() >= 9 for leg in d["fig"].legends for t in leg.get_texts())
    plt.close(d["fig"])
    d = plot_decode_benchmark(decode_result(), groups=[("cpu", 4)])
    assert d["groups"] == [("cpu", 4)] and list(d["speed_ratio"]) == [("cpu", 4)]
    plt.close(d["fig"])
    with pytest.raises(ValueError, match="groups"):
        plot_decode_benchmark(decode_result(), groups=[("gpu", 1)])
    with pytest.raises(ValueError, match="compiled"):
        plot_decode_benchmark(decode_result(), compiled=True)
    res = decode_result()
    for r in res["rows"]:  # time only: no memory markers
        del r["retnet_step_peak_bytes"], r["transformer_step_peak_bytes"]
    d = plot_decode_benchmark(res)
    assert np.isnan(d["retnet_measured_mib"][("cpu", 1)]).all() and len(d["fig"].axes[1].lines) == 4
    plt.close(d["fig"])


def test_plot_decode_benchmark_compiled():
    d = plot_decode_benchmark(compiled_result())
    assert d["compiled"] is True
    assert d["retnet_compiled_ms"][("cpu", 1)].tolist() == pytest.approx([1.0] * 3)
    assert d["compiled_speed_ratio"][("cpu", 4)].tolist() == pytest.approx(d["speed_ratio"][("cpu", 4)].tolist())
    assert d["ratio_vs_ideal"][("cpu", 1)].tolist() == pytest.approx([(2.5 / 2) / 3, (3 / 2) / 5, (4 / 2) / 9])
    a_t, a_m, a_r, a_f = d["fig"].axes
    assert len(a_m.lines) == 2 * 2 + 1  # compiled / eager time, both models, per group; y = 1
    assert a_m.lines[0].get_ydata().tolist() == pytest.approx([0.5] * 3)
    assert len(a_f.lines) == 2 * 2 + 1  # eager and compiled fraction per group, y = 1
    assert len(a_r.lines) == 3 * 2 + 1  # eager, ideal, compiled per group, y = 1
    assert any("compiled" in t for t in legend_texts(d["fig"]))
    plt.close(d["fig"])
    d = plot_decode_benchmark(compiled_result(), compiled=False)  # the eager panels of a compiled result
    assert d["compiled"] is False and "retnet_compiled_ms" not in d
    plt.close(d["fig"])


def train_result():
    rows = []
    for T in (512, 1024):
        for impl, us in (("retnet parallel", T / 10), ("retnet chunkwise 64", 40.0), ("transformer sdpa", 50.0)):
            rows.append({"impl": impl, "T": T, "us_per_token": us, "peak_bytes_per_token": 1024.0 * us})
    rows.append({"impl": "transformer naive", "T": 1024, "skipped": "too big"})
    rows.append({"impl": "transformer naive", "T": 512, "us_per_token": 99.0})
    return {"command": "train", "rows": rows, "machine": MACHINE, "command_line": "x", "date": "2026-11-29"}


def test_plot_train_benchmark_data():
    d = plot_train_benchmark(train_result())
    assert d["impls"] == ["retnet parallel", "retnet chunkwise 64", "transformer sdpa", "transformer naive"]
    assert d["us_per_token"]["retnet parallel"].tolist() == [51.2, 102.4]
    assert d["peak_kib_per_token"]["retnet chunkwise 64"].tolist() == [40.0, 40.0]
    assert d["T"]["transformer naive"].tolist() == [512]  # the skipped point is left out
    assert np.isnan(d["peak_kib_per_token"]["transformer naive"]).all()
    a_t, a_m = d["fig"].axes
    assert len(a_t.lines) == 4 and len(a_m.lines) == 3
    styles = {(line.get_linestyle(), line.get_marker()) for line in a_t.lines}
    assert len(styles) == 4  # every implementation its own line style and marker, not only its colour
    assert legend_texts(d["fig"]) == d["impls"]
    plt.close(d["fig"])


def official_result():
    rows = [
        {"level": lvl, "mode": m, "T": T, "ratio": r, "max_abs_diff": 1e-15, "equal": True}
        for T, base in ((512, 0.9), (2048, 0.6))
        for lvl in ("msr", "decoder")
        for m, r in (("parallel", base), ("recurrent", 0.95))
    ]
    return {
        "command": "official",
        "rows": rows,
        "settings": {"torchscale": "0.3.0"},
        "machine": MACHINE,
        "command_line": "python -m retnet_edu.experiments.bench official",
        "date": "2026-11-29",
    }


def test_plot_official_benchmark_data():
    d = plot_official_benchmark(official_result())
    assert d["labels"] == ["msr parallel", "msr recurrent", "decoder parallel", "decoder recurrent"]
    assert d["lengths"] == [512, 2048]
    assert d["ratios"][0].tolist() == [0.9, 0.6] and d["ratios"][3].tolist() == [0.95, 0.95]
    ax = d["fig"].axes[0]
    assert len(ax.patches) == 8 and "equal" in ax.get_title()
    plt.close(d["fig"])


def test_plot_benchmark_dispatch_and_provenance():
    for res in (decode_result(), compiled_result(), train_result(), official_result()):
        d = plot_benchmark(res)
        texts = [t.get_text() for t in d["fig"].texts]
        assert any("Test CPU" in t and "1 thread(s)" in t and "load 0.50" in t for t in texts)
        assert len(d["fig"].legends) <= 1  # the legend below the panels is moved, not drawn twice
        plt.close(d["fig"])
    assert plot_benchmark(compiled_result())["compiled"] is True
    plt.close("all")
    line = benchmark_provenance(decode_result())
    assert line.startswith("python -m retnet_edu.experiments.bench decode") and "torch 2.13.0," in line
    for bad in ({"command": "nope"}, {"command": "decode", "rows": []}, []):
        with pytest.raises(ValueError):
            plot_benchmark(bad)
    with pytest.raises(ValueError):
        benchmark_provenance({})
