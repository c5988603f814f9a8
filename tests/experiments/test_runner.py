"""The runner CLIs' shared pieces (retnet_edu.experiments.runner): flags from a config dataclass, named configs, the
atomic result file, the skip-if-exists rule, the summarize command and what a result records about its run."""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

import pytest
import torch

from retnet_edu.experiments import runner
from retnet_edu.experiments.loop import TrainingDiverged


@dataclasses.dataclass
class Toy:
    model: str = "a"
    seed: int = 0
    lr: float = 1e-3
    name: str = "toy"

    def __post_init__(self):
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")


TABLE = {"small": dict(seed=1), "big": dict(seed=2, lr=1e-2)}


def _parser(**kw) -> argparse.ArgumentParser:
    ap = runner.runner_parser("toy.module", "a toy runner")
    runner.add_config_flags(ap, Toy, kw.pop("help", "override {name} (default {default})"), **kw)
    return ap


def test_named_config_applies_the_table_then_the_overrides():
    assert runner.named_config(Toy, TABLE, "big", {}) == Toy(seed=2, lr=1e-2)
    assert runner.named_config(Toy, TABLE, "big", {"lr": 0.5, "model": "b"}) == Toy(model="b", seed=2, lr=0.5)
    with pytest.raises(ValueError, match=r"unknown preset 'huge'; choose one of \['big', 'small'\]"):
        runner.named_config(Toy, TABLE, "huge", {}, kind="preset")
    with pytest.raises(ValueError, match=r"unknown config field\(s\) \['epochs'\]"):
        runner.named_config(Toy, TABLE, "small", {"epochs": 3})
    with pytest.raises(ValueError, match="lr must be > 0"):  # the dataclass's own checks still run
        runner.named_config(Toy, TABLE, "small", {"lr": -1.0})
    with pytest.raises(TypeError, match="config_class must be a dataclass"):
        runner.named_config(dict, TABLE, "small", {})


def test_config_flags_are_typed_with_choices_and_no_defaults():
    ap = _parser(choices={"model": ("a", "b")})
    assert ap.prog == "python -m toy.module"
    ns = ap.parse_args(["--seed", "3", "--lr", "0.01", "--model", "b"])
    assert (ns.seed, ns.lr, ns.model) == (3, 0.01, "b") and isinstance(ns.seed, int) and isinstance(ns.lr, float)
    assert runner.config_overrides(ns, Toy) == {"model": "b", "seed": 3, "lr": 0.01}
    # a flag not given is not in the namespace: the table's value stands
    ns = ap.parse_args(["--seed", "5"])
    assert not hasattr(ns, "lr") and runner.config_overrides(ns, Toy) == {"seed": 5}
    assert runner.named_config(Toy, TABLE, "big", runner.config_overrides(ns, Toy)) == Toy(seed=5, lr=1e-2)
    helps = {a.dest: a.help for a in ap._actions}
    assert helps["lr"] == "override lr (default 0.001)" and helps["model"] == "override model (default a)"
    with pytest.raises(SystemExit):
        ap.parse_args(["--model", "c"])  # not a choice
    with pytest.raises(SystemExit):
        ap.parse_args(["--seed", "1.5"])  # not an int


def test_config_flags_skip_fields_and_read_real_type_objects():
    ap = _parser(skip=("name",), help="override the config's {name}")
    assert "name" not in {a.dest for a in ap._actions}
    with pytest.raises(SystemExit):
        ap.parse_args(["--name", "x"])
    plain = dataclasses.make_dataclass("Plain", [("width", int, 4), ("scale", float, 1.0)])  # types, not strings
    ap = argparse.ArgumentParser()
    runner.add_config_flags(ap, plain, "{name}")
    assert runner.config_overrides(ap.parse_args(["--width", "7", "--scale", "2"]), plain) == {"width": 7, "scale": 2.0}


def test_config_flags_bad_arguments_name_the_argument():
    ap = argparse.ArgumentParser()
    with pytest.raises(TypeError, match="config_class must be a dataclass"):
        runner.add_config_flags(ap, Toy(), "{name}")
    with pytest.raises(TypeError, match="help must be a str"):
        runner.add_config_flags(ap, Toy, None)
    with pytest.raises(ValueError, match=r"choices must name fields of Toy, got \['task'\]"):
        runner.add_config_flags(ap, Toy, "{name}", choices={"task": ("x",)})
    with pytest.raises(ValueError, match=r"skip must name fields of Toy, got \['nope'\]"):
        runner.add_config_flags(ap, Toy, "{name}", skip=("nope",))
    clash = argparse.ArgumentParser()
    clash.add_argument("--seed-file", dest="seed")
    with pytest.raises(ValueError, match=r"fields named like flags of ap: \['seed'\]"):
        runner.add_config_flags(clash, Toy, "{name}")
    flagged = dataclasses.make_dataclass("Flagged", [("fast", bool, False)])
    with pytest.raises(TypeError, match="config_class field fast must be an int, float or str"):
        runner.add_config_flags(argparse.ArgumentParser(), flagged, "{name}")
    with pytest.raises(TypeError, match="config_class must be a dataclass"):
        runner.config_overrides(argparse.Namespace(), object)


def test_write_json_and_text_are_atomic_and_leave_no_temporary_file(tmp_path):
    out = tmp_path / "deep" / "er" / "r.json"
    runner.write_json(out, {"b": [1, 2], "a": None})
    assert out.read_text() == '{\n "b": [\n  1,\n  2\n ],\n "a": null\n}\n'  # indent 1, keys in order, a newline
    runner.write_json(out, {"a": 1})  # replaces
    assert json.loads(out.read_text()) == {"a": 1}
    assert [p.name for p in out.parent.iterdir()] == ["r.json"]
    runner.write_text(out.parent / "results.md", "## table\n")
    assert (out.parent / "results.md").read_text() == "## table\n"
    assert sorted(p.name for p in out.parent.iterdir()) == ["r.json", "results.md"]
    with pytest.raises(TypeError, match="text must be a str, got dict"):
        runner.write_text(out.parent / "x.md", {"a": 1})


def test_run_to_file_skips_runs_and_reports_divergence(tmp_path, capsys):
    out = tmp_path / "r.json"
    calls = []

    def work():
        calls.append(1)
        return {"acc": 0.5}

    assert runner.run_to_file(out, False, work, lambda r: f"done: {r['acc']}") == 0
    assert calls == [1] and json.loads(out.read_text()) == {"acc": 0.5}
    assert capsys.readouterr().out == "done: 0.5\n"
    # the result exists: skipped, work not run, file untouched
    assert runner.run_to_file(out, False, work, lambda r: "never") == 0
    assert calls == [1] and capsys.readouterr().out == f"{out} exists: skipped (pass --overwrite to run again)\n"
    assert runner.run_to_file(out, True, lambda: {"acc": 1.0}, lambda r: "again") == 0
    assert json.loads(out.read_text()) == {"acc": 1.0}
    capsys.readouterr()

    def diverge():
        raise TrainingDiverged("the loss became nan at step 2")

    fresh = tmp_path / "d.json"
    assert runner.run_to_file(fresh, False, diverge, lambda r: "never") == 3
    captured = capsys.readouterr()
    assert captured.err == "error: the loss became nan at step 2\n" and captured.out == ""
    assert not fresh.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


def test_summarize_command_and_load_results(tmp_path, capsys):
    for name, acc in (("b", 0.2), ("a", 0.1)):
        runner.write_json(tmp_path / f"{name}.json", {"name": name, "acc": acc})
    (tmp_path / "notes.txt").write_text("not a result")
    assert [r["name"] for r in runner.load_results(tmp_path)] == ["a", "b"]  # sorted by file name, JSON only
    assert runner.summarize_command([str(tmp_path)], "toy.module", lambda rs: f"{len(rs)} results") == 0
    assert capsys.readouterr().out == "2 results\n"
    for args in ([], ["x", "y"]):
        assert runner.summarize_command(args, "toy.module", lambda rs: "never") == 2
        assert capsys.readouterr().err == "usage: python -m toy.module summarize RESULTS_DIR\n"
    with pytest.raises(FileNotFoundError, match="no results folder at"):
        runner.load_results(tmp_path / "missing")


def test_error_prints_one_line_and_returns_the_code(capsys):
    assert runner.error("bad lr") == 2
    assert runner.error(ValueError("boom"), 3) == 3
    assert capsys.readouterr().err == "error: bad lr\nerror: boom\n"


def test_run_stamp_and_eval_history():
    load = runner.load_average()
    assert load is None or (len(load) == 3 and all(isinstance(x, float) for x in load))
    stamp = runner.run_stamp(time.perf_counter() - 1.5, [0.5, 0.25, 0.125], torch.device("cpu"))
    assert list(stamp) == ["wall_seconds", "device", "threads", "torch", "load_average_start", "load_average_end"]
    assert stamp["wall_seconds"] >= 1.5 and stamp["device"] == "cpu" and stamp["threads"] == torch.get_num_threads()
    assert stamp["load_average_start"] == [0.5, 0.25, 0.125] and "+" not in stamp["torch"]
    history = {"eval": [[0, 0.1], [5, 0.4], [10, 0.9]], "train": [[5, 2.0000049], [10, 1.25]]}
    assert runner.eval_history(history) == [[0, None, 0.1], [5, 2.0, 0.4], [10, 1.25, 0.9]]


def test_result_head_puts_the_sweep_keys_first():
    @dataclasses.dataclass
    class Run:
        model: str = "a"
        lr: float = 1e-3
        seed: int = 2
        length: int = 64

        def to_dict(self) -> dict:
            return dataclasses.asdict(self)

    cfg = Run()
    configs, sizes = {"a": Run(model="x"), "b": Run(model="y")}, {"a": 10, "b": 11}
    head = runner.result_head("mqar-a", "mqar", cfg, "python -m x", configs, sizes)
    assert list(head) == [
        *["name", "task", "model", "lr", "seed", "length", "command", "config", "model_config", "parameters"],
        "parameters_all_models",
    ]
    assert (head["model"], head["lr"], head["seed"], head["length"], head["parameters"]) == ("a", 1e-3, 2, 64, 10)
    assert (
        head["config"] == cfg.to_dict()
        and head["model_config"]["model"] == "x"
        and head["parameters_all_models"] == sizes
    )
    with pytest.raises(ValueError, match="configs and sizes must hold cfg.model = 'c'"):
        runner.result_head("n", "t", Run(model="c"), "", configs, sizes)
