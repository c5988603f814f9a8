"""The recorded sweeps' driver (retnet_edu.experiments.sweep), on tiny fake runs: `python -c` processes that write a
result file or fail, in well under a second each."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest

from retnet_edu.experiments import sweep

WRITE = "import pathlib, sys; pathlib.Path(sys.argv[1]).write_text('{}'); print('done: ' + sys.argv[1])"
FAIL = "import sys; print('line 1', flush=True); print('error: it broke', file=sys.stderr); sys.exit(3)"
PROGRESS = r"^\[\d\d:\d\d:\d\d\] (\d)/2 \((\d)/3 of the design\) (.*); 0 min so far, about 0 min to go at this pace$"
NICE = 19  # the runs' niceness: any process may raise its own to 19, whatever it started at


def _fake_sweep(tmp_path: Path) -> tuple[dict, dict, Path]:
    results = tmp_path / "results"
    results.mkdir()
    (results / "c.json").write_text("{}")  # finished by an earlier start
    names = {("a",): "a", ("b",): "b", ("c",): "c"}
    left = sweep.pending(names, results)
    commands = {
        "a": [sys.executable, "-c", WRITE, sweep.result_arg(results / "a.json", tmp_path)],
        "b": [sys.executable, "-c", FAIL],
    }
    assert left == [("a",), ("b",)]
    return names, commands, results


def test_pending_result_arg_and_env(tmp_path):
    names, _, results = _fake_sweep(tmp_path)
    assert sweep.pending(names, tmp_path / "nowhere") == list(names)
    assert sweep.result_arg(results / "a.json", tmp_path) == os.path.join("results", "a.json")
    assert sweep.result_arg(tmp_path / "x.json", results) == str((tmp_path / "x.json").resolve())  # outside: absolute
    env = sweep.sweep_env(tmp_path)
    assert env["OMP_NUM_THREADS"] == env["MKL_NUM_THREADS"] == env["OPENBLAS_NUM_THREADS"] == "1"
    assert env["PYTHONHASHSEED"] == "0" and env["PYTHONPATH"].split(os.pathsep)[0] == str(tmp_path)


def test_run_sweep_records_finished_and_failed_runs(tmp_path, capsys):
    _, commands, results = _fake_sweep(tmp_path)
    log_path = tmp_path / "sweep_log.json"
    log_path.write_text(json.dumps({"command": "an old start, before parts existed"}))
    reports = []

    def report(plot: bool) -> str:
        reports.append(plot)
        return "the table"

    design = {"names": ["a", "b", "c"], "runs": 3}
    pool = dict(jobs=2, nice=NICE, root=tmp_path, poll=0.02, load_summary=True)
    assert sweep.run_sweep(commands, log_path, report, "sweep.py --x", design, **pool) == 1  # a run failed
    assert json.loads((results / "a.json").read_text()) == {}
    log = json.loads(log_path.read_text())
    assert list(log) == ["parts"] and log["parts"][0] == {"command": "an old start, before parts existed"}
    part = log["parts"][1]
    assert list(part) == [
        *["command", "design", "jobs", "nice", "runs", "started", "load_samples", "finished_runs", "failed"],
        *["wall_seconds", "finished", "load_1min_mean", "load_1min_max"],
    ]
    assert part["command"] == "sweep.py --x" and part["design"] == design
    assert (part["jobs"], part["nice"], part["runs"]) == (2, NICE, 2)  # 2 runs to do: c was done before
    assert [r[0] for r in part["finished_runs"]] == ["a"] and all(r[1] >= 0 for r in part["finished_runs"])
    assert part["failed"] == [{"run": "b", "output": ["line 1", "error: it broke"]}]
    assert len(part["load_samples"]) == 1 and len(part["load_samples"][0]) == 4  # sampled at the start only
    assert reports == [False, False, True]  # after each run, then the final report (with the plot)
    out = capsys.readouterr().out
    # one progress line per run, in the order they finish (either may be first)
    lines = re.findall(PROGRESS, out, re.M)
    assert [(n, d) for n, d, _ in lines] == [("1", "2"), ("2", "3")]
    assert sorted(text for _, _, text in lines) == ["done: results/a.json", "error: it broke"]
    assert out.endswith("the table\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results", "sweep_log.json"]  # no temporary file left


def test_a_second_start_keeps_the_first_and_skips_what_it_finished(tmp_path):
    names, commands, results = _fake_sweep(tmp_path)
    log_path = tmp_path / "sweep_log.json"
    pool = dict(jobs=1, nice=NICE, root=tmp_path, poll=0.02)
    assert sweep.run_sweep({"a": commands["a"]}, log_path, lambda plot: "", "one", {"runs": 3}, **pool) == 0
    first = json.loads(log_path.read_text())["parts"]
    assert len(first) == 1 and "load_1min_mean" not in first[0]  # no load summary unless asked
    assert sweep.pending(names, results) == [("b",)]  # a finished: the next start skips it
    assert sweep.run_sweep({}, log_path, lambda plot: "", "two", {"runs": 3}, **pool) == 0
    parts = json.loads(log_path.read_text())["parts"]
    assert [p["command"] for p in parts] == ["one", "two"] and parts[0] == first[0]
    assert parts[1]["runs"] == 0 and parts[1]["finished_runs"] == [] and "finished" in parts[1]


def test_run_pool_bad_arguments_name_the_argument(tmp_path):
    log = sweep.start_log("c", {"runs": 1}, 1, 0, 1)
    kw = dict(cwd=tmp_path, env=sweep.sweep_env(tmp_path), design_runs=1)
    with pytest.raises(ValueError, match="jobs must be a positive int"):
        sweep.run_pool({}, log, lambda: None, jobs=0, nice=0, **kw)
    with pytest.raises(TypeError, match="jobs must be an int"):
        sweep.run_pool({}, log, lambda: None, jobs=1.5, nice=0, **kw)
    with pytest.raises(ValueError, match="nice must lie in 0..19"):
        sweep.run_pool({}, log, lambda: None, jobs=1, nice=20, **kw)
    with pytest.raises(TypeError, match="commands must map each result name to a non-empty list"):
        sweep.run_pool({"a": "python -c pass"}, log, lambda: None, jobs=1, nice=0, **kw)
    with pytest.raises(TypeError, match="commands must map"):
        sweep.run_pool({"a": []}, log, lambda: None, jobs=1, nice=0, **kw)
