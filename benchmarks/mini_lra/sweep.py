#!/usr/bin/env python3
"""The mini-LRA sweep: every model × task × length × seed, one ``python -m retnet_edu.experiments.lra`` process per run.

    python benchmarks/mini_lra/sweep.py                  # the recorded sweep (resumes: finished runs are skipped)
    python benchmarks/mini_lra/sweep.py --dry-run        # list the runs and what is already done
    python benchmarks/mini_lra/sweep.py --report-only    # only rewrite the table and the plot from the results

Each run writes ``results/<task>-L<length>-<model>-s<seed>.json``; a run whose file exists is skipped, so a sweep that
is interrupted continues where it stopped. Runs use one torch thread each, at most ``--jobs`` at a time, under
``nice`` (so that other work on the machine gets the CPU first). At the end (and with ``--report-only``) the script
writes ``results.md`` (the mean ± std table), ``accuracy_vs_length.png`` and ``sweep_log.json`` (wall time, the
load average sampled every 30 s, the command).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

from retnet_edu.experiments.lra import MODELS, TASKS, format_table, load_results, summarize  # noqa: E402


def runs(tasks, lengths, models, seeds):
    """Seeds outermost, so that an interrupted sweep holds whole seeds."""
    return [(t, L, m, s) for s in seeds for t in tasks for L in lengths for m in models]


def write_report(results_dir: Path) -> list[dict]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from retnet_edu.course.viz import plot_accuracy_vs_length

    results = load_results(results_dir)
    rows = summarize(results)
    (HERE / "results.md").write_text(format_table(rows) + "\n")
    pairs = {r["config"]["num_pairs"] for r in results if r["task"] == "mqar"}
    guides = {"mqar": {f"1/N: guessing among the {n} values of the sequence": 1 / n for n in pairs}}
    drawn = plot_accuracy_vs_length(rows, guides=guides)
    drawn["fig"].savefig(HERE / "accuracy_vs_length.png", dpi=110, bbox_inches="tight")
    plt.close(drawn["fig"])
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    ap.add_argument("--lengths", nargs="+", type=int, default=[64, 128])
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--jobs", type=int, default=2, help="runs at a time (one torch thread each)")
    ap.add_argument("--nice", type=int, default=15, help="niceness of the runs")
    ap.add_argument("--preset", default="cpu")
    ap.add_argument("--results", default=str(HERE / "results"))
    ap.add_argument("--dry-run", action="store_true")
    ap.add_argument("--report-only", action="store_true")
    ns = ap.parse_args(argv)
    results_dir = Path(ns.results)
    if ns.report_only:
        rows = write_report(results_dir)
        print(format_table(rows))
        return 0
    todo = runs(ns.tasks, ns.lengths, ns.models, ns.seeds)
    pending = [r for r in todo if not (results_dir / f"{r[0]}-L{r[1]}-{r[2]}-s{r[3]}.json").exists()]
    print(f"{len(todo)} runs, {len(todo) - len(pending)} already done, {len(pending)} to go")
    if ns.dry_run:
        for t, L, m, s in pending:
            print(f"  {t} L={L} {m} seed {s}")
        return 0
    results_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", PYTHONHASHSEED="0")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    log = {
        "command": "python benchmarks/mini_lra/sweep.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "preset": ns.preset,
        "jobs": ns.jobs,
        "nice": ns.nice,
        "runs": len(pending),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "load_samples": [],
        "failed": [],
    }
    from tqdm import tqdm

    bar = tqdm(total=len(pending), desc="mini-LRA sweep", unit="run")
    t0, last_sample = time.perf_counter(), -1e9
    active: list[tuple[subprocess.Popen, tuple]] = []
    queue = list(pending)
    while queue or active:
        while queue and len(active) < ns.jobs:
            t, L, m, s = queue.pop(0)
            out = results_dir / f"{t}-L{L}-{m}-s{s}.json"
            try:  # a repository-relative path in the recorded command
                out_arg = str(out.resolve().relative_to(ROOT))
            except ValueError:
                out_arg = str(out)
            cmd = [
                sys.executable,
                "-m",
                "retnet_edu.experiments.lra",
                "--preset",
                ns.preset,
                "--task",
                t,
                "--model",
                m,
                "--seed",
                str(s),
                "--length",
                str(L),
                "--out",
                out_arg,
                "--no-progress",
            ]
            proc = subprocess.Popen(
                cmd,
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                preexec_fn=(lambda: os.nice(ns.nice)) if ns.nice else None,
            )
            active.append((proc, (t, L, m, s)))
        time.sleep(1.0)
        now = time.perf_counter()
        if now - last_sample >= 30:
            log["load_samples"].append([round(now - t0), *[round(x, 2) for x in os.getloadavg()]])
            last_sample = now
        for proc, run in list(active):
            if proc.poll() is None:
                continue
            active.remove((proc, run))
            text = proc.stdout.read().strip().splitlines()
            if proc.returncode != 0:
                log["failed"].append({"run": run, "output": text[-5:]})
            bar.write(text[-1] if text else f"{run}: no output")
            bar.update(1)
    bar.close()
    log["wall_seconds"] = round(time.perf_counter() - t0, 1)
    log["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    loads = [s[1] for s in log["load_samples"]]
    if loads:
        log["load_1min_mean"] = round(sum(loads) / len(loads), 2)
        log["load_1min_max"] = max(loads)
    name = HERE / "sweep_log.json"
    if name.exists():  # a resumed sweep: keep the earlier parts' logs
        previous = json.loads(name.read_text())
        log = {"parts": previous.get("parts", [previous]) + [log]}
    name.write_text(json.dumps(log, indent=1) + "\n")
    rows = write_report(results_dir)
    print(format_table(rows))
    return 1 if any(p.get("failed") for p in log.get("parts", [log])) else 0


if __name__ == "__main__":
    sys.exit(main())
