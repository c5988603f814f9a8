"""retnet_edu.experiments.bench: the command line in --quick mode writes results of the documented schema (numbers
positive and finite, never their size), the cost model matches a count by hand, the decoding state/cache have the
right sizes, the compiled decoding steps compute the eager steps' numbers in one graph without recompiling per
token, the device dispatch (CUDA events, synchronize, max_memory_allocated) is exercised with stand-ins on the CPU,
and benchmarks/README.md quotes every recorded run. No test asserts a wall-clock time."""

import json
import math
import os
import types
from pathlib import Path

import pytest
import torch
from naive import maxdiff

import retnet_edu
from retnet_edu.baselines.transformer import KVCache, TransformerLM
from retnet_edu.experiments import bench
from retnet_edu.model import RetNetLM
from retnet_edu.torchscale_compat import import_torchscale

MACHINE_KEYS = {
    "cpu",
    "cores",
    "python",
    "platform",
    "torch",
    "threads",
    "device",
    "gpu",
    "load_avg_before",
    "load_avg_after",
}
TOP_KEYS = {
    "schema",
    "command",
    "quick",
    "command_line",
    "date",
    "machine",
    "code",
    "wall_seconds",
    "settings",
    "rows",
    "summary",
}


def positive_finite(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and x > 0


def check_numbers(obj, path="", allow=()):
    """Every number in obj is positive and finite, except keys in ``allow`` (finite only)."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            check_numbers(v, f"{path}.{k}", allow if k not in allow else ("*",))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            check_numbers(v, f"{path}[{i}]", allow)
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        if "*" in allow:
            assert math.isfinite(obj), path
        else:
            assert positive_finite(obj), f"{path} = {obj}"


@pytest.fixture(autouse=True)
def keep_threads():
    """main() sets torch's thread count (--threads, default 1): give the test process its own back."""
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


def run_cli(command, tmp_path, *extra, stem=None):
    assert bench.main([command, "--quick", "--out", str(tmp_path), *extra]) == 0
    stem = stem or f"{command}-cpu"
    path = tmp_path / f"{stem}.json"
    assert path.exists() and (tmp_path / f"{stem}.png").stat().st_size > 1000
    data = bench.load_result(path)
    assert TOP_KEYS <= set(data) and data["schema"] == bench.SCHEMA and data["command"] == command
    assert data["quick"] is True
    assert data[
        "command_line"
    ] == f"python -m retnet_edu.experiments.bench {command} --quick --out {tmp_path}" + "".join(f" {e}" for e in extra)
    assert MACHINE_KEYS <= set(data["machine"]) and data["machine"]["device"] == "cpu"
    assert data["machine"]["threads"] == 1 and data["machine"]["cores"] >= 1
    assert data["date"].endswith("+00:00")
    assert data["code"]["retnet_edu"] == retnet_edu.__version__ and set(data["code"]) == {
        "retnet_edu",
        "git_commit",
        "git_dirty",
    }
    return data


DECODE_ROW = {
    "size",
    "batch",
    "context",
    "retnet_ms",
    "transformer_ms",
    "retnet_ms_q25",
    "retnet_ms_q75",
    "transformer_ms_q25",
    "transformer_ms_q75",
    "retnet_tokens_per_s",
    "transformer_tokens_per_s",
    "speed_ratio",
    "ideal_ratio",
    "ratio_vs_ideal",
    "flop_ratio",
    "state_bytes_exact",
    "kv_bytes_exact",
    "state_bytes_held",
    "kv_bytes_held",
    "retnet_step_peak_bytes",
    "transformer_step_peak_bytes",
    "retnet_read_bytes",
    "transformer_read_bytes",
    "retnet_memory_bytes",
    "transformer_memory_bytes",
    "memory_ratio",
}


@pytest.mark.slow  # ~2-4 s on 2 cores: python3 course.py quick leaves it out
def test_decode_quick(tmp_path, capsys):
    data = run_cli("decode", tmp_path)
    rows = data["rows"]
    assert {(r["batch"], r["context"]) for r in rows} == {(1, 16), (1, 32), (2, 16), (2, 32)}
    for r in rows:
        assert DECODE_ROW <= set(r), DECODE_ROW - set(r)
    check_numbers(rows, allow=("cache_and_state_rss_delta_bytes",))
    check_numbers(data["summary"])
    assert set(data["summary"]) == {"cpu-tiny/batch1", "cpu-tiny/batch2"}
    assert data["settings"]["memory_method"].startswith("peak bytes")
    # exact sizes: the state does not grow with the context, the cache does, linearly
    by = {(r["batch"], r["context"]): r for r in rows}
    assert by[1, 16]["state_bytes_exact"] == by[1, 32]["state_bytes_exact"] == by[1, 16]["state_bytes_held"]
    assert by[1, 32]["kv_bytes_exact"] == 2 * by[1, 16]["kv_bytes_exact"]
    assert by[2, 32]["kv_bytes_exact"] == 2 * by[1, 32]["kv_bytes_exact"]
    assert by[1, 16]["kv_bytes_held"] > by[1, 16]["kv_bytes_exact"]  # the spare position
    # the measured peak holds at least the state / the cache it built
    for r in rows:
        assert r["retnet_step_peak_bytes"] >= r["state_bytes_exact"]
        assert r["transformer_step_peak_bytes"] >= r["kv_bytes_exact"]
    out = capsys.readouterr().out
    assert "speed ×" in out and "wrote" in out


COMPILED_ROW = {
    "retnet_compiled_ms",
    "transformer_compiled_ms",
    "retnet_plain_ms",
    "transformer_plain_ms",
    "compiled_speed_ratio",
    "compiled_ratio_vs_ideal",
    "retnet_compile_s",
    "transformer_compile_s",
    "retnet_compiled_graphs",
    "transformer_compiled_graphs",
    "retnet_compiled_max_diff",
    "transformer_compiled_max_diff",
    "compiled_recompilations",
}


@pytest.mark.slow  # compiles four graphs with TorchInductor: about a minute on 2 busy cores
def test_decode_quick_compiled(tmp_path):
    """``decode --quick --compile``: compiled and eager steps timed in one run, outputs equal within float32
    rounding, one graph per model and batch (the second context reuses it: a new position and a new cache capacity
    compile nothing), no recompilation while timing, written as decode-compiled-cpu.json."""
    data = run_cli("decode", tmp_path, "--compile", stem="decode-compiled-cpu")
    assert data["variant"] == "compiled" and data["settings"]["compile"]["backend"] == "inductor"
    assert data["settings"]["compile"]["setup_s"] > 0
    rows = data["rows"]
    assert len(rows) == 4
    for r in rows:
        assert DECODE_ROW | COMPILED_ROW <= set(r), (DECODE_ROW | COMPILED_ROW) - set(r)
        assert r["retnet_compiled_max_diff"] <= 1e-5 and r["transformer_compiled_max_diff"] <= 1e-5
        assert r["compiled_recompilations"] == 0
        first = r["context"] == 16
        assert r["retnet_compiled_graphs"] == r["transformer_compiled_graphs"] == (1 if first else 0)
        assert r["compiled_ratio_vs_ideal"] == pytest.approx(r["compiled_speed_ratio"] / r["ideal_ratio"])
    check_numbers(
        [{k: v for k, v in r.items() if "graphs" not in k and "recompilations" not in k} for r in rows],
        allow=("cache_and_state_rss_delta_bytes", "retnet_compiled_max_diff", "transformer_compiled_max_diff"),
    )
    for s in data["summary"].values():
        assert s["compiled_recompilations"] == 0 and s["compiled_max_diff"] <= 1e-5
        assert s["retnet_compiled_graphs"] == s["transformer_compiled_graphs"] == 1


def test_step_functions_compute_the_eager_steps():
    """The plain step functions of ``decode --compile`` give the eager models' numbers: 12 tokens decoded in a row
    from an empty state and cache, the Transformer's buffers reallocated (doubled) on the way as a KVCache's are."""
    rcfg, tcfg = bench.model_sizes("cpu-tiny")
    torch.manual_seed(0)
    retnet, transformer = RetNetLM(rcfg).eval(), TransformerLM(tcfg).eval()
    r_step, t_step = bench.retnet_step_function(retnet), bench.transformer_step_function(transformer)
    B, H = 2, rcfg.num_heads
    d_k, d_v, d_h = rcfg.embed_dim // H, rcfg.value_dim // H, tcfg.embed_dim // tcfg.num_heads
    states = [torch.zeros(B, H, d_k, d_v) for _ in range(rcfg.num_layers)]
    keys = [torch.zeros(B, tcfg.num_heads, 4, d_h) for _ in range(tcfg.num_layers)]
    values = [torch.zeros_like(k) for k in keys]
    tokens = torch.randint(0, rcfg.vocab_size, (B, 12), generator=torch.Generator().manual_seed(1))
    state, cache = None, transformer.decoding_state()
    with torch.no_grad():
        for n in range(tokens.shape[1]):
            tok, pos = tokens[:, n : n + 1], torch.tensor(n)
            logits, state = retnet(tok, mode="recurrent", state=state)
            logits_t, cache = transformer(tok, state=cache)
            if n == keys[0].shape[2]:  # full: double the capacity
                keys = [torch.cat([k, torch.zeros_like(k)], dim=2) for k in keys]
                values = [torch.cat([v, torch.zeros_like(v)], dim=2) for v in values]
            mine, states = r_step(tok, pos, states)
            mine_t = t_step(tok, pos, keys, values)
            assert maxdiff(mine, logits) <= 1e-6 and maxdiff(mine_t, logits_t) <= 1e-6
            assert all(maxdiff(a, b.S) <= 1e-6 for a, b in zip(states, state.layers, strict=True))
            assert maxdiff(keys[0][:, :, : n + 1], cache.keys[0][:, :, : n + 1]) <= 1e-6
    assert keys[0].shape[2] == 16
    with pytest.raises(TypeError):
        bench.retnet_step_function(transformer)
    with pytest.raises(TypeError):
        bench.transformer_step_function(retnet)
    with pytest.raises(ValueError, match="eval"):
        bench.retnet_step_function(RetNetLM(rcfg).train())
    with pytest.raises(TypeError):
        bench.compile_step(3)
    with pytest.raises(TypeError):
        bench.compile_step(r_step, mode=1)


@pytest.mark.slow  # compiles two graphs with TorchInductor: up to a minute on 2 busy cores
def test_compiled_steps_do_not_recompile_per_token():
    """Decoding 12 tokens with the compiled steps compiles one graph per model, however the position and the
    Transformer's cache capacity (doubled twice on the way) change, and matches the eager models within float32
    rounding (1e-5 relative)."""
    rcfg, tcfg = bench.model_sizes("cpu-tiny")
    torch.manual_seed(0)
    retnet, transformer = RetNetLM(rcfg).eval(), TransformerLM(tcfg).eval()
    r_step = bench.compile_step(bench.retnet_step_function(retnet))
    t_step = bench.compile_step(bench.transformer_step_function(transformer))
    B, H = 1, rcfg.num_heads
    states = [torch.zeros(B, H, rcfg.embed_dim // H, rcfg.value_dim // H) for _ in range(rcfg.num_layers)]
    keys = [torch.zeros(B, tcfg.num_heads, 4, tcfg.embed_dim // tcfg.num_heads) for _ in range(tcfg.num_layers)]
    values = [torch.zeros_like(k) for k in keys]
    bench.mark_cache_dynamic(keys + values)
    tokens = torch.randint(0, rcfg.vocab_size, (B, 12), generator=torch.Generator().manual_seed(2))
    state, cache, before = None, transformer.decoding_state(), bench.compiled_graphs()
    with torch.no_grad():
        for n in range(tokens.shape[1]):
            tok, pos = tokens[:, n : n + 1], torch.tensor(n)
            logits, state = retnet(tok, mode="recurrent", state=state)
            logits_t, cache = transformer(tok, state=cache)
            if n == keys[0].shape[2]:
                keys = [torch.cat([k, torch.zeros_like(k)], dim=2) for k in keys]
                values = [torch.cat([v, torch.zeros_like(v)], dim=2) for v in values]
            mine, states = r_step(tok, pos, states)
            mine_t = t_step(tok, pos, keys, values)
            for a, b in ((mine, logits), (mine_t, logits_t)):
                assert maxdiff(a, b) <= 1e-5 * max(1.0, b.abs().max().item())
    assert keys[0].shape[2] == 16 and bench.compiled_graphs() - before == 2


@pytest.mark.slow  # dynamo traces both steps: a few seconds
def test_step_functions_trace_into_one_graph():
    """torch._dynamo.explain: each step is one graph with no break, the condition ``fullgraph=True`` enforces."""
    rcfg, tcfg = bench.model_sizes("cpu-tiny")
    retnet, transformer = RetNetLM(rcfg).eval(), TransformerLM(tcfg).eval()
    state, cache = bench.random_state(retnet, 2, 5), bench.random_cache(transformer, 2, 5, spare=3)
    tok, pos = torch.zeros(2, 1, dtype=torch.long), torch.tensor(5)
    with torch.no_grad():
        for explained in (
            torch._dynamo.explain(bench.retnet_step_function(retnet))(tok, pos, [s.S for s in state.layers]),
            torch._dynamo.explain(bench.transformer_step_function(transformer))(tok, pos, cache.keys, cache.values),
        ):
            assert explained.graph_count == 1 and explained.graph_break_count == 0


def test_train_quick(tmp_path):
    data = run_cli("train", tmp_path)
    rows = data["rows"]
    impls = {r["impl"] for r in rows}
    assert impls == {
        "retnet parallel",
        "retnet chunkwise 8",
        "retnet chunkwise 16",
        "transformer sdpa",
        "transformer naive",
    }
    for r in rows:
        assert {
            "T",
            "batch",
            "tokens",
            "ms",
            "ms_q25",
            "ms_q75",
            "us_per_token",
            "peak_bytes",
            "peak_bytes_per_token",
        } <= set(r)
        assert r["tokens"] == r["batch"] * r["T"] == 64
    check_numbers([{k: v for k, v in r.items() if k != "chunk_size" or v is not None} for r in rows])
    check_numbers(data["summary"])
    assert data["summary"]["T_max"] == 64


def test_train_skips_by_memory(tmp_path):
    data = run_cli("train", tmp_path, "--max-gib", "0.000001")
    skipped = [r for r in data["rows"] if "skipped" in r]
    assert {r["impl"] for r in skipped} == {"retnet parallel", "transformer naive"}
    assert all("estimated" in r["skipped"] for r in skipped)


@pytest.mark.skipif(import_torchscale() is None and not os.environ.get("CI"), reason="torchscale not installed")
def test_official_quick(tmp_path):
    data = run_cli("official", tmp_path)
    rows = data["rows"]
    assert {(r["level"], r["mode"]) for r in rows} == {
        (lvl, m) for lvl in ("msr", "decoder") for m in ("parallel", "chunkwise", "recurrent")
    }
    for r in rows:
        assert r["equal"] is True and r["max_abs_diff"] <= data["settings"]["tolerance"]
        check_numbers({k: v for k, v in r.items() if k not in ("max_abs_diff", "chunk_size", "equal", "level", "mode")})
    assert data["summary"]["all_equal"] is True and data["settings"]["torchscale"] == "0.3.0"


def test_decode_costs_by_hand():
    rcfg, tcfg = bench.model_sizes("cpu")
    d, L, H, V = 128, 4, 4, 76
    assert (rcfg.embed_dim, rcfg.num_layers, rcfg.num_heads, rcfg.vocab_size) == (d, L, H, V)
    c = bench.decode_costs(rcfg, tcfg, context=1000, batch=3, bytes_per_number=2)
    d_k, d_v = d // H, 2 * d // H
    assert c["state_bytes"] == 3 * L * H * d_k * d_v * 2  # 2d²/H numbers per layer
    assert c["kv_bytes"] == 3 * L * 2 * 1000 * d * 2  # a key and a value per token
    assert c["retnet_mixing_macs"] == 3 * L * 2 * H * d_k * d_v
    assert c["transformer_mixing_macs"] == 3 * L * 2 * 1001 * d
    retnet = RetNetLM(rcfg)
    transformer = TransformerLM(tcfg)
    emb = V * d
    # bytes read = every parameter except the embedding table, plus 3 embedding rows, plus state / cache
    assert c["retnet_read_bytes"] == (retnet.num_parameters() - emb + 3 * d) * 2 + c["state_bytes"]
    assert c["transformer_read_bytes"] == (transformer.num_parameters() - emb + 3 * d) * 2 + c["kv_bytes"]
    assert c["ideal_ratio"] == c["transformer_read_bytes"] / c["retnet_read_bytes"]
    # weight multiply-adds: the matrices of the layers and the output projection
    r_w = retnet.num_parameters() - emb - (2 * L + 1) * d
    assert c["retnet_macs"] == 3 * (r_w + L * 2 * H * d_k * d_v)
    # the ideal ratio grows with the context; the cache outgrows the state at t = d/H = d_k (notebook 08's crossover)
    ratios = [bench.decode_costs(rcfg, tcfg, t)["ideal_ratio"] for t in (0, 1024, 8192, 16384)]
    assert ratios[0] < 1 < ratios[1] and ratios == sorted(ratios)
    at_dk = bench.decode_costs(rcfg, tcfg, d_k)
    assert at_dk["kv_bytes"] == at_dk["state_bytes"] and at_dk["ideal_ratio"] == pytest.approx(1.0, abs=2e-3)
    for bad, err in (({"context": -1}, ValueError), ({"batch": 0}, ValueError), ({"bytes_per_number": 0}, ValueError)):
        with pytest.raises(err):
            bench.decode_costs(rcfg, tcfg, **{"context": 1, **bad})
    with pytest.raises(TypeError):
        bench.decode_costs(tcfg, rcfg, 1)


def test_random_state_and_cache_steps():
    rcfg, tcfg = bench.model_sizes("cpu-tiny")
    retnet, transformer = RetNetLM(rcfg).eval(), TransformerLM(tcfg).eval()
    st = bench.random_state(retnet, 3, 40)
    assert st.offset == 40 and len(st.layers) == rcfg.num_layers
    assert st.layers[0].S.shape == (
        3,
        rcfg.num_heads,
        rcfg.embed_dim // rcfg.num_heads,
        rcfg.value_dim // rcfg.num_heads,
    )
    cache = bench.random_cache(transformer, 3, 40, spare=2)
    assert isinstance(cache, KVCache) and cache.length == 40 and cache.keys[0].shape[2] == 42
    assert cache.nbytes() == bench.decode_costs(rcfg, tcfg, 40, 3)["kv_bytes"]
    assert st.nbytes() == bench.decode_costs(rcfg, tcfg, 40, 3)["state_bytes"]
    tok = torch.zeros(3, 1, dtype=torch.long)
    with torch.no_grad():
        logits, st2 = retnet(tok, mode="recurrent", state=st)
        logits_t, cache2 = transformer(tok, cache)
    assert st2.offset == 41 and cache2.length == 41 and cache2.keys[0].shape[2] == 42  # no reallocation
    assert torch.isfinite(logits).all() and torch.isfinite(logits_t).all()
    with pytest.raises(TypeError):
        bench.random_state(transformer, 1, 1)
    with pytest.raises(TypeError):
        bench.random_cache(retnet, 1, 1)
    with pytest.raises(ValueError):
        bench.random_state(retnet, 1, -1)
    with pytest.raises(ValueError):
        bench.random_cache(transformer, 0, 1)


def test_measure_decode_row():
    rcfg, tcfg = bench.model_sizes("cpu-tiny")
    row = bench.measure_decode(
        RetNetLM(rcfg).eval(), TransformerLM(tcfg).eval(), 2, 24, repeats=2, inner=1, warmup=1, memory=False
    )
    assert "retnet_step_peak_bytes" not in row and row["speed_ratio"] > 0 and row["context"] == 24
    with pytest.raises(TypeError):
        bench.measure_decode(TransformerLM(tcfg), RetNetLM(rcfg), 1, 1)


def test_time_interleaved_order_and_summary():
    calls = []
    samples = bench.time_interleaved(
        {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeats=3, warmup=1, inner=2
    )
    assert calls == ["a", "b"] + ["a", "a", "b", "b"] + ["b", "b", "a", "a"] + ["a", "a", "b", "b"]
    assert len(samples["a"]) == len(samples["b"]) == 3 and all(s >= 0 for s in samples["a"])
    s = bench.summarize([4.0, 1.0, 3.0, 2.0, 5.0])
    assert s == {"median": 3.0, "q25": 2.0, "q75": 4.0, "min": 1.0, "n": 5}
    assert bench.summarize([2.0])["q25"] == 2.0
    with pytest.raises(ValueError):
        bench.summarize([])
    with pytest.raises(TypeError):
        bench.time_interleaved({})
    with pytest.raises(ValueError):
        bench.time_interleaved({"a": lambda: None}, repeats=0)
    with pytest.raises(ValueError):
        bench.time_interleaved({"a": lambda: None}, warmup=-1)


class FakeEvent:
    """Stands in for torch.cuda.Event: the first event recorded reads 10 ms, the next 35 ms."""

    log: list = []
    clock = iter(())

    def __init__(self, enable_timing=False):
        assert enable_timing
        self.t = None

    def record(self):
        FakeEvent.log.append("record")
        self.t = next(FakeEvent.clock)

    def synchronize(self):
        FakeEvent.log.append("event sync")

    def elapsed_time(self, end):
        return end.t - self.t


def test_cuda_dispatch_with_stand_ins(monkeypatch):
    """The CUDA paths, run against stand-ins for torch.cuda: events around the calls, synchronize first,
    max_memory_allocated minus the memory allocated before."""
    log = []
    FakeEvent.log = log
    FakeEvent.clock = iter([10.0, 35.0])
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: log.append("sync"))
    monkeypatch.setattr(torch.cuda, "Event", FakeEvent)
    timer = bench.Timer(torch.device("cuda"))
    seconds = timer(lambda: log.append("call"), inner=5)
    assert log == ["sync", "record"] + ["call"] * 5 + ["record", "event sync"]
    assert seconds == pytest.approx((35.0 - 10.0) / 1e3 / 5)

    mem = {"allocated": 1000, "peak": 1000}
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", lambda device=None: mem.update(peak=mem["allocated"]))
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device=None: mem["allocated"])
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda device=None: mem["peak"])
    mem["peak"] = 10**9  # stale peak from earlier work

    def work():
        mem["peak"] = mem["allocated"] + 4096
        return "result"

    assert bench.peak_memory(work, torch.device("cuda")) == 4096
    assert "max_memory_allocated" in bench.memory_method(torch.device("cuda"))

    synced = []
    monkeypatch.setattr(torch, "mps", types.SimpleNamespace(synchronize=lambda: synced.append(1)), raising=False)
    bench.synchronize(torch.device("mps"))
    bench.synchronize(torch.device("cpu"))
    assert synced == [1]


def test_cpu_memory_and_machine():
    assert bench.peak_memory(lambda: torch.zeros(1000, dtype=torch.float64)) == 8000
    assert "peak_tensor_bytes" in bench.memory_method("cpu")
    info = bench.machine_info("cpu")
    assert {"cpu", "cores", "torch", "threads", "device"} <= set(info) and info["device"] == "cpu"
    rss = bench.rss_bytes()
    assert rss is None or rss > 0
    with pytest.raises(TypeError):
        bench.peak_memory(3)
    with pytest.raises(ValueError):
        bench.model_sizes("nope")


def test_save_and_load_result(tmp_path):
    with pytest.raises(ValueError):
        bench.save_result({"schema": "other"}, tmp_path)
    assert bench.result_stem({"command": "decode", "machine": {"device": "cpu"}}) == "decode-cpu"
    assert bench.result_stem({"command": "decode", "variant": "compiled", "machine": {"device": "cuda"}}) == (
        "decode-compiled-cuda"
    )
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"schema": "x"}))
    with pytest.raises(ValueError, match="schema"):
        bench.load_result(bad)


def test_bad_arguments():
    with pytest.raises(ValueError):
        bench.run_decode(batches=(), contexts=(16,), sizes=("cpu-tiny",))
    with pytest.raises(ValueError):
        bench.run_decode(dtype="float8", sizes=("cpu-tiny",))
    with pytest.raises(TypeError):
        bench.run_train(lengths=16)
    with pytest.raises(SystemExit):
        bench.main(["decode", "--batches", "a,b", "--quick"])
    with pytest.raises(SystemExit):
        bench.main(["nonsense"])
    with pytest.raises(SystemExit, match="decode command only"):
        bench.main(["train", "--quick", "--compile"])
    with pytest.raises(SystemExit, match="needs --compile"):
        bench.main(["decode", "--quick", "--compile-mode", "max-autotune"])
    with pytest.raises(TypeError):
        bench.run_decode(sizes=("cpu-tiny",), batches=(1,), contexts=(16,), compile="yes")
    if import_torchscale() is not None:
        with pytest.raises(ValueError, match="multiple of chunk_size"):
            bench.run_official(lengths=(30,), chunk_size=8)


def test_fit_step_time():
    fixed, bandwidth = bench.fit_step_time([4e6, 36e6, 20e6], [2.4, 5.6, 4.0])  # 2 ms + bytes at 10 GB/s
    assert fixed == pytest.approx(2.0) and bandwidth == pytest.approx(1e10)
    assert bench.fit_step_time([1e6, 1e6], [1.0, 2.0]) is None  # no spread in bytes
    assert bench.fit_step_time([1e6, 2e6], [2.0, 1.0]) is None  # time falls with bytes
    assert bench.fit_step_time([1e6, 2e6], [0.1, 10.0]) is None  # negative fixed cost
    with pytest.raises(ValueError):
        bench.fit_step_time([1.0], [1.0, 2.0])


def test_readme_quotes_every_recorded_run():
    """benchmarks/README.md names every recorded result file and quotes its exact command line and date."""
    root = Path(__file__).resolve().parents[2] / "benchmarks"
    readme = (root / "README.md").read_text()
    recorded = sorted(root.glob("*.json"))
    assert recorded
    for path in recorded:
        data = bench.load_result(path)
        command = data["command_line"].replace("python -m ", "")
        assert f"`{path.name}`" in readme, path.name
        assert command in readme and data["date"] in readme, path.name


def test_default_output_is_git_ignored():
    from pathlib import Path

    ignored = (Path(__file__).resolve().parents[2] / ".gitignore").read_text().split()
    assert bench.DEFAULT_OUT.split("/")[0] + "/" in ignored  # a re-run never overwrites benchmarks/
