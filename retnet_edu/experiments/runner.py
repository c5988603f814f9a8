"""What every thin runner CLI shares (``experiments.train``, ``experiments.lra``, ``experiments.recall``): a config
from a named table with overrides, one flag per field of the config dataclass, the ``summarize DIR`` command, the
skip-if-exists rule, the atomic JSON result file, and a result's first keys (``result_head``), training curve
(``eval_history``) and last keys (``run_stamp``: wall time, device, threads, torch, load average).

A runner's ``main`` reads: ``summarize_command`` if the first word is ``summarize``; else its parser
(``runner_parser`` + ``add_result_flags`` + ``add_config_flags``), its config (``named_config`` with
``config_overrides``), then ``run_to_file`` (skip if the result exists, run, exit 3 if training diverged, write the
result atomically, print one line). Exit codes: 0 done or skipped, 2 bad usage or config, 3 diverged.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import torch

from retnet_edu.experiments.loop import TrainingDiverged

__all__ = [
    "named_config",
    "runner_parser",
    "add_result_flags",
    "add_config_flags",
    "config_overrides",
    "error",
    "summarize_command",
    "load_results",
    "write_text",
    "write_json",
    "run_to_file",
    "load_average",
    "result_head",
    "run_stamp",
    "eval_history",
]

_TYPES = {"int": int, "float": float, "str": str}


def _check_dataclass(config_class) -> None:
    if not (isinstance(config_class, type) and dataclasses.is_dataclass(config_class)):
        raise TypeError(f"config_class must be a dataclass, got {config_class!r}")


def named_config(config_class, table: Mapping[str, dict], name: str, overrides: dict, kind: str = "config"):
    """``config_class(**table[name], **overrides)``: ValueError for a name not in ``table`` (``unknown {kind}``) or
    an override that is not a field of ``config_class``."""
    _check_dataclass(config_class)
    if name not in table:
        raise ValueError(f"unknown {kind} {name!r}; choose one of {sorted(table)}")
    fields = {f.name for f in dataclasses.fields(config_class)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(f"unknown config field(s) {unknown}; known: {sorted(fields)}")
    return config_class(**{**table[name], **overrides})


# ----------------------------------------------------------------------------------------------------------
# flags
# ----------------------------------------------------------------------------------------------------------
def runner_parser(module: str, description: str) -> argparse.ArgumentParser:
    """The parser of ``python -m {module}``, with each flag's default in its help."""
    return argparse.ArgumentParser(
        prog=f"python -m {module}", description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )


def add_result_flags(ap: argparse.ArgumentParser, out_help: str, sizes_help: str) -> None:
    """``--out`` (the result file, "" = the runner's default), ``--overwrite``, ``--no-progress``, ``--print-sizes``."""
    ap.add_argument("--out", default="", help=out_help)
    ap.add_argument("--overwrite", action="store_true", help="run even if the result file exists")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")
    ap.add_argument("--print-sizes", action="store_true", help=sizes_help)


def add_config_flags(
    ap: argparse.ArgumentParser,
    config_class,
    help: str,
    choices: Mapping[str, tuple] | None = None,
    skip: tuple[str, ...] = (),
) -> None:
    """One flag per field of the dataclass ``config_class`` (but ``skip``): ``--embed-dim`` sets ``embed_dim``, typed
    as the field (int, float or str), with ``choices[name]`` where given and no default (``argparse.SUPPRESS``: a
    field not given is not in the namespace, so the config's or preset's own value stands; ``config_overrides``
    collects those given). ``help`` is formatted with the field's ``name`` and ``default``. A field whose name is
    already the destination of one of ``ap``'s flags is a ValueError (the overrides would pick up that flag)."""
    _check_dataclass(config_class)
    if not isinstance(help, str):
        raise TypeError(f"help must be a str, got {type(help).__name__}")
    choices = dict(choices or {})
    known = {f.name for f in dataclasses.fields(config_class)}
    for what, names in (("choices", choices), ("skip", skip)):
        if set(names) - known:
            raise ValueError(f"{what} must name fields of {config_class.__name__}, got {sorted(set(names) - known)}")
    taken = sorted(known.intersection(a.dest for a in ap._actions))
    if taken:
        raise ValueError(f"config_class {config_class.__name__} has fields named like flags of ap: {taken}")
    for f in dataclasses.fields(config_class):
        if f.name in skip:
            continue
        typ = _TYPES.get(f.type if isinstance(f.type, str) else f.type.__name__)
        if typ is None:
            raise TypeError(f"config_class field {f.name} must be an int, float or str, got {f.type}")
        ap.add_argument(
            "--" + f.name.replace("_", "-"),
            dest=f.name,
            type=typ,
            default=argparse.SUPPRESS,
            help=help.format(name=f.name, default=f.default),
            **({"choices": choices[f.name]} if f.name in choices else {}),
        )


def config_overrides(ns: argparse.Namespace, config_class) -> dict:
    """The fields of ``config_class`` given on the command line (flags from ``add_config_flags``): ``{name: value}``."""
    _check_dataclass(config_class)
    return {f.name: getattr(ns, f.name) for f in dataclasses.fields(config_class) if hasattr(ns, f.name)}


def error(message, code: int = 2) -> int:
    """``error: message`` on stderr, and the exit code."""
    print(f"error: {message}", file=sys.stderr)
    return code


# ----------------------------------------------------------------------------------------------------------
# result files
# ----------------------------------------------------------------------------------------------------------
def load_results(directory: str | Path) -> list[dict]:
    """Every ``*.json`` result in ``directory``, sorted by name."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"no results folder at {directory}")
    return [json.loads(p.read_text()) for p in sorted(directory.glob("*.json"))]


def summarize_command(args: list[str], module: str, report: Callable[[list[dict]], str]) -> int:
    """``python -m {module} summarize RESULTS_DIR``: print ``report`` of the folder's results (``args``: the words
    after ``summarize``). Exit code 0, or 2 with the usage line when ``args`` is not one folder."""
    if len(args) != 1:
        print(f"usage: python -m {module} summarize RESULTS_DIR", file=sys.stderr)
        return 2
    print(report(load_results(args[0])))
    return 0


def write_text(path: str | Path, text: str) -> None:
    """``text`` to ``path``, atomically: written to a hidden temporary file beside it (``.{name}.tmp-{pid}``), then
    renamed over it (``os.replace``), so that a killed run never leaves half a file. Creates the folder."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_json(path: str | Path, obj) -> None:
    """``obj`` as JSON (indent 1, a final newline) to ``path``, atomically (``write_text``)."""
    write_text(path, json.dumps(obj, indent=1) + "\n")


def run_to_file(out: str | Path, overwrite: bool, work: Callable[[], dict], done: Callable[[dict], str]) -> int:
    """The end of a runner's ``main``: if ``out`` exists and not ``overwrite``, say so and return 0 (a sweep skips
    finished runs); else ``work()`` (the run), ``write_json`` its result to ``out``, print ``done(result)``, return 0.
    A ``TrainingDiverged`` from ``work`` ends with one line on stderr and exit code 3 (nothing written)."""
    out = Path(out)
    if out.exists() and not overwrite:
        print(f"{out} exists: skipped (pass --overwrite to run again)")
        return 0
    try:
        result = work()
    except TrainingDiverged as err:
        return error(err, 3)
    write_json(out, result)
    print(done(result))
    return 0


# ----------------------------------------------------------------------------------------------------------
# what a result records about its run
# ----------------------------------------------------------------------------------------------------------
def load_average() -> list[float] | None:
    """The machine's 1-, 5- and 15-minute load averages (2 decimals), or None where the OS has none (Windows)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (OSError, AttributeError):  # pragma: no cover - Windows
        return None


def result_head(name: str, task: str, cfg, command: str, configs: dict, sizes: dict) -> dict:
    """The first keys of a result: ``name``, ``task``, the keys a sweep groups by (``cfg``'s model, lr, seed and
    length), the ``command``, the config, the model's config (``configs[cfg.model]``), its parameter count and every
    model's (``sizes``: ``{model: parameters}``)."""
    if cfg.model not in configs or cfg.model not in sizes:
        raise ValueError(f"configs and sizes must hold cfg.model = {cfg.model!r}, got {sorted(configs)}")
    return {
        "name": name,
        "task": task,
        "model": cfg.model,
        "lr": cfg.lr,
        "seed": cfg.seed,
        "length": cfg.length,
        "command": command,
        "config": cfg.to_dict(),
        "model_config": configs[cfg.model].to_dict(),
        "parameters": sizes[cfg.model],
        "parameters_all_models": sizes,
    }


def run_stamp(wall0: float, load_start: list[float] | None, device: torch.device) -> dict:
    """The last keys of a result: wall seconds since ``wall0`` (``time.perf_counter``), device, torch threads and
    version, and the load average at the start (``load_start``) and now."""
    return {
        "wall_seconds": round(time.perf_counter() - wall0, 2),
        "device": device.type,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__.split("+")[0],
        "load_average_start": load_start,
        "load_average_end": load_average(),
    }


def eval_history(history: dict) -> list[list]:
    """``[step, mean training loss since the previous evaluation, evaluation metric]`` per evaluation of a
    ``loop.fit`` history run with ``log_interval = eval_interval`` (training-loss row i belongs to evaluation i + 1;
    the first evaluation, before training, has no loss)."""
    evals, losses = history["eval"], history["train"]
    return [[0, None, evals[0][1]]] + [[e[0], round(t[1], 5), e[1]] for e, t in zip(evals[1:], losses, strict=True)]
