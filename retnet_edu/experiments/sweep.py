"""The driver of a recorded sweep (``benchmarks/mini_lra/sweep.py``, ``benchmarks/recall/sweep.py``): one
``python -m <runner>`` process per run, a few at a time, each under ``nice`` with one thread, and the sweep's log.

A sweep script lists its runs and their result names, keeps those whose result file is missing (``pending``: a run
that finished is never run again, so an interrupted sweep resumes), builds one command per run, then calls
``run_sweep`` (``run_pool``, the log and the report). The pool polls its processes every second, samples the load
average every 30 s, records each run as finished (``[name, seconds, seconds since the start]``) or failed
(``{"run": name, "output": its last 5 lines}``), prints a progress line with an estimate of the time left, and after
every run writes ``sweep_log.json`` (``log_writer``: ``{"parts": [...]}``, one part per start of the sweep, the
earlier ones kept) and calls the script back (to rewrite ``results.md``).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from retnet_edu._args import check_int
from retnet_edu.experiments.runner import write_json

__all__ = ["pending", "result_arg", "sweep_env", "start_log", "log_writer", "add_load_summary", "run_pool", "run_sweep"]


def pending(names: dict, results_dir: str | Path) -> list:
    """The runs of ``names`` (``{run: result name}``, in order) whose ``results_dir/<name>.json`` does not exist."""
    results_dir = Path(results_dir)
    return [run for run, name in names.items() if not (results_dir / f"{name}.json").exists()]


def result_arg(path: str | Path, root: str | Path) -> str:
    """``path`` as a run's ``--out``: relative to ``root`` (the repository, the runs' working folder) when inside it,
    so that the recorded command reads the same on every machine; else absolute."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(Path(root).resolve()))
    except ValueError:
        return str(path)


def sweep_env(root: str | Path) -> dict:
    """The runs' environment: this one with one thread for OpenMP, MKL and OpenBLAS, ``PYTHONHASHSEED=0``, and
    ``root`` first on ``PYTHONPATH`` (the package of this checkout)."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", PYTHONHASHSEED="0")
    env["PYTHONPATH"] = str(root) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def start_log(command: str, design: dict, jobs: int, nice: int, runs: int) -> dict:
    """This start's part of ``sweep_log.json``: the command, the design, ``jobs`` and ``nice``, the number of runs
    it has to do, the start time, and the empty lists ``run_pool`` fills."""
    return {
        "command": command,
        "design": design,
        "jobs": jobs,
        "nice": nice,
        "runs": runs,
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "load_samples": [],
        "finished_runs": [],
        "failed": [],
    }


def log_writer(log_path: str | Path, log: dict) -> Callable[[], None]:
    """A function that writes ``{"parts": earlier + [log]}`` to ``log_path`` atomically, where ``earlier`` are the
    parts already in the file when this is called (a log written before parts existed counts as one part)."""
    log_path = Path(log_path)
    previous = json.loads(log_path.read_text()) if log_path.exists() else None
    earlier = previous.get("parts", [previous]) if previous else []

    def write() -> None:
        write_json(log_path, {"parts": earlier + [log]})

    return write


def add_load_summary(log: dict) -> None:
    """The mean and the largest 1-minute load average sampled during the part (``load_1min_mean``, ``load_1min_max``),
    if any was sampled."""
    loads = [s[1] for s in log["load_samples"]]
    if loads:
        log["load_1min_mean"] = round(sum(loads) / len(loads), 2)
        log["load_1min_max"] = max(loads)


def run_pool(
    commands: dict[str, list[str]],
    log: dict,
    after_run: Callable[[], None],
    *,
    jobs: int,
    nice: int,
    cwd: str | Path,
    env: dict,
    design_runs: int,
    poll: float = 1.0,
    sample_every: float = 30.0,
) -> dict:
    """Run ``commands`` (``{result name: argv}``, in order), at most ``jobs`` at a time, each at niceness ``nice``
    (absolute, however the sweep itself was started) in ``cwd`` with ``env``. Every ``poll`` seconds: the load
    average into ``log["load_samples"]`` (``[seconds, 1, 5, 15 min]``) once ``sample_every`` seconds have passed, and
    each finished process into ``log["finished_runs"]`` or ``log["failed"]``, a progress line (``design_runs``: the
    runs of the whole design, for the count), ``log["wall_seconds"]``, then ``after_run()``. At the end
    ``log["wall_seconds"]`` and ``log["finished"]``. Returns ``log``."""
    jobs = check_int(jobs, "jobs")
    if not 0 <= check_int(nice, "nice", 0) <= 19:
        raise ValueError(f"nice must lie in 0..19, got {nice}")
    if not all(isinstance(c, list) and c and all(isinstance(a, str) for a in c) for c in commands.values()):
        raise TypeError("commands must map each result name to a non-empty list of strings (an argv)")
    t0, last_sample, done = time.perf_counter(), -1e9, 0
    active: list[tuple[subprocess.Popen, str, float]] = []
    queue = list(commands)
    while queue or active:
        while queue and len(active) < jobs:
            name = queue.pop(0)
            proc = subprocess.Popen(
                commands[name],
                cwd=cwd,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                preexec_fn=lambda: os.nice(nice - os.nice(0)),
            )
            active.append((proc, name, time.perf_counter()))
        time.sleep(poll)
        now = time.perf_counter()
        if now - last_sample >= sample_every:
            log["load_samples"].append([round(now - t0), *[round(x, 2) for x in os.getloadavg()]])
            last_sample = now
        for proc, name, started in list(active):
            if proc.poll() is None:
                continue
            active.remove((proc, name, started))
            text = proc.stdout.read().strip().splitlines()
            proc.stdout.close()
            done += 1
            if proc.returncode != 0:
                log["failed"].append({"run": name, "output": text[-5:]})
            else:
                log["finished_runs"].append([name, round(now - started, 1), round(now - t0)])
            elapsed = now - t0
            eta = elapsed / done * (len(queue) + len(active)) / 60
            so_far = design_runs - len(commands) + done
            print(
                f"[{time.strftime('%H:%M:%S')}] {done}/{len(commands)} ({so_far}/{design_runs} of the design) "
                f"{text[-1] if text else name + ': no output'}; {elapsed / 60:.0f} min so far, "
                f"about {eta:.0f} min to go at this pace",
                flush=True,
            )
            log["wall_seconds"] = round(elapsed, 1)
            after_run()
    log["wall_seconds"] = round(time.perf_counter() - t0, 1)
    log["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    return log


def run_sweep(
    commands: dict[str, list[str]],
    log_path: str | Path,
    report: Callable[..., str],
    command: str,
    design: dict,
    *,
    jobs: int,
    nice: int,
    root: str | Path,
    load_summary: bool = False,
    poll: float = 1.0,
    sample_every: float = 30.0,
) -> int:
    """A sweep's start: ``run_pool`` over ``commands`` in ``root`` (``sweep_env``), this start's part of the log
    (``start_log``: ``command``, ``design`` with the design's run count under ``"runs"``) written to ``log_path``
    after every run and at the end (``log_writer``; with ``load_summary`` the load's mean and maximum at the end),
    ``report(plot=False)`` after every run, then ``report(plot=True)`` printed. Exit code: 1 if a run failed, else 0.
    """
    log = start_log(command, design, jobs, nice, len(commands))
    write_log = log_writer(log_path, log)

    def after_run() -> None:
        write_log()
        report(plot=False)

    env = sweep_env(root)
    run_pool(
        commands,
        log,
        after_run,
        jobs=jobs,
        nice=nice,
        cwd=root,
        env=env,
        design_runs=design["runs"],
        poll=poll,
        sample_every=sample_every,
    )
    if load_summary:
        add_load_summary(log)
    write_log()
    print(report(plot=True))
    return 1 if log["failed"] else 0
