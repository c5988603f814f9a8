#!/usr/bin/env python3
"""The recall sweep of notebook 12: every model × length × learning rate × seed on MQAR, one
``python -m retnet_edu.experiments.recall`` process per run, then each model's best learning rate.

    python benchmarks/recall/sweep.py                 # the recorded sweep (resumes: finished runs are skipped)
    python benchmarks/recall/sweep.py --dry-run       # what is done and what is left
    python benchmarks/recall/sweep.py --report-only   # only rewrite results.md and the plot from the results

Each run writes ``results/mqar-L<length>-<model>-lr<lr>-s<seed>.json`` (``recall.result_name``); a run whose file
exists is skipped, so an interrupted sweep continues where it stopped. Runs go shortest length first, then seed by
seed (a partial sweep holds whole lengths and seeds), one torch thread each, ``--jobs`` at a time, under ``nice``.
After every run ``results.md`` (the best-lr table, marked partial while runs are missing) and ``sweep_log.json``
(the command, each run's wall time, the load average every 30 s) are rewritten; at the end (and with
``--report-only``) also ``accuracy_vs_length.png``.
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

from retnet_edu.experiments.lra import load_results  # noqa: E402
from retnet_edu.experiments.recall import (  # noqa: E402
    MODEL_LABELS,
    MODELS,
    RecallConfig,
    format_recall_table,
    recall_table,
    result_name,
)

DEFAULT_MODELS = ("retnet", "gated_retention", "gla", "deltanet", "gated_deltanet", "transformer")
LRS = (3e-4, 1e-3, 3e-3)


def runs(lengths, models, lrs, seeds) -> list[tuple]:
    """Shortest length first, then seed by seed."""
    return [(L, m, lr, s) for L in sorted(lengths) for s in seeds for lr in lrs for m in models]


def report_text(results: list[dict], design: int | None = None) -> str:
    """``results.md``: the best-lr table (marked partial, with its counts, while runs are missing)."""
    if design is None or len(results) >= design:
        title = f"Best learning rate per model, {len(results)} runs"
    else:
        title = f"PARTIAL: {len(results)} of {design} runs; best learning rate among the runs done so far"
    return f"## {title}\n\n{format_recall_table(recall_table(results))}\n"


def write_report(results_dir: Path, design: int | None = None, plot: bool = True) -> str:
    results = load_results(results_dir) if results_dir.is_dir() else []
    text = report_text(results, design)
    tmp = HERE / ".results.md.tmp"
    tmp.write_text(text)
    os.replace(tmp, HERE / "results.md")
    if plot and results:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        rows = recall_table(results)
        fig, ax = plt.subplots(figsize=(7, 4))
        for m in MODELS:
            pts = sorted((r["length"], r["mean"], r["std"]) for r in rows if r["model"] == m)
            if pts:
                L, mean, std = zip(*pts, strict=True)
                ax.errorbar(
                    L, [100 * x for x in mean], [100 * x for x in std], marker="o", capsize=3, label=MODEL_LABELS[m]
                )
        ax.set_xscale("log", base=2)
        ax.set_xticks(sorted({r["length"] for r in rows}), [str(x) for x in sorted({r["length"] for r in rows})])
        ax.set_xlabel("sequence length")
        ax.set_ylabel("MQAR test accuracy (%), best lr, mean ± std over seeds")
        ax.set_ylim(-2, 102)
        ax.legend(fontsize=8)
        ax.set_title("Associative recall at one parameter budget")
        fig.savefig(HERE / "accuracy_vs_length.png", dpi=110, bbox_inches="tight")
        plt.close(fig)
    return text


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lengths", nargs="+", type=int, default=[64, 128])
    ap.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS), choices=MODELS)
    ap.add_argument("--lrs", nargs="+", type=float, default=list(LRS), help="peak learning rates")
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--jobs", type=int, default=2, help="runs at a time (one torch thread each)")
    ap.add_argument("--nice", type=int, default=15, help="niceness of the runs (absolute, 0-19)")
    ap.add_argument("--results", default=str(HERE / "results"))
    ap.add_argument("--dry-run", action="store_true")
    ap.add_argument("--report-only", action="store_true")
    ns = ap.parse_args(argv)
    results_dir = Path(ns.results)
    todo = runs(ns.lengths, ns.models, ns.lrs, ns.seeds)
    if ns.report_only:
        print(write_report(results_dir, len(todo)))
        return 0
    names = {r: result_name(RecallConfig(length=r[0], model=r[1], lr=r[2], seed=r[3])) for r in todo}
    pending = [r for r in todo if not (results_dir / f"{names[r]}.json").exists()]
    print(f"{len(todo)} runs, {len(todo) - len(pending)} already done, {len(pending)} to go")
    if ns.dry_run:
        for r in pending:
            print(f"  {names[r]}")
        return 0
    results_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", PYTHONHASHSEED="0")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    log = {
        "command": "python benchmarks/recall/sweep.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "design": {"lengths": ns.lengths, "models": ns.models, "lrs": ns.lrs, "seeds": ns.seeds, "runs": len(todo)},
        "jobs": ns.jobs,
        "nice": ns.nice,
        "runs": len(pending),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "load_samples": [],
        "finished_runs": [],
        "failed": [],
    }
    log_path = HERE / "sweep_log.json"
    previous = json.loads(log_path.read_text()) if log_path.exists() else None
    earlier = previous.get("parts", []) if previous else []

    def write_log():
        tmp = log_path.with_name(".sweep_log.json.tmp")
        tmp.write_text(json.dumps({"parts": earlier + [log]}, indent=1) + "\n")
        os.replace(tmp, log_path)

    t0, last_sample, done = time.perf_counter(), -1e9, 0
    active: list[tuple[subprocess.Popen, tuple, float]] = []
    queue = list(pending)
    while queue or active:
        while queue and len(active) < ns.jobs:
            run = queue.pop(0)
            L, m, lr, s = run
            out = (results_dir / f"{names[run]}.json").resolve()
            try:  # a repository-relative path in the recorded command
                out_arg = str(out.relative_to(ROOT))
            except ValueError:
                out_arg = str(out)
            cmd = [sys.executable, "-m", "retnet_edu.experiments.recall", "--model", m, "--length", str(L)]
            cmd += ["--lr", f"{lr:g}", "--seed", str(s), "--out", out_arg, "--no-progress"]
            proc = subprocess.Popen(
                cmd,
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                preexec_fn=lambda: os.nice(ns.nice - os.nice(0)),
            )
            active.append((proc, run, time.perf_counter()))
        time.sleep(1.0)
        now = time.perf_counter()
        if now - last_sample >= 30:
            log["load_samples"].append([round(now - t0), *[round(x, 2) for x in os.getloadavg()]])
            last_sample = now
        for proc, run, started in list(active):
            if proc.poll() is None:
                continue
            active.remove((proc, run, started))
            text = proc.stdout.read().strip().splitlines()
            done += 1
            if proc.returncode != 0:
                log["failed"].append({"run": names[run], "output": text[-5:]})
            else:
                log["finished_runs"].append([names[run], round(now - started, 1), round(now - t0)])
            elapsed = now - t0
            eta = elapsed / done * (len(queue) + len(active)) / 60
            print(
                f"[{time.strftime('%H:%M:%S')}] {done}/{len(pending)} ({len(todo) - len(pending) + done}/{len(todo)} "
                f"of the design) {text[-1] if text else names[run] + ': no output'}; {elapsed / 60:.0f} min so far, "
                f"about {eta:.0f} min to go at this pace",
                flush=True,
            )
            log["wall_seconds"] = round(elapsed, 1)
            write_log()
            write_report(results_dir, len(todo), plot=False)
    log["wall_seconds"] = round(time.perf_counter() - t0, 1)
    log["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    write_log()
    print(write_report(results_dir, len(todo)))
    return 1 if log["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
