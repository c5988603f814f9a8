#!/usr/bin/env python3
"""The mini-LRA sweep (second edition): every model × task × length × learning rate × seed, one
``python -m retnet_edu.experiments.lra`` process per run, then each model's best learning rate (Zoology's protocol).

    python benchmarks/mini_lra/sweep.py                  # the recorded sweep (resumes: finished runs are skipped)
    python benchmarks/mini_lra/sweep.py --dry-run        # what is done, what is left, and the estimated wall time
    python benchmarks/mini_lra/sweep.py --report-only    # only rewrite results.md and the plot from the results

Each run writes ``results/<task>-L<length>-<model>-lr<lr>-s<seed>.json`` (``lra.result_name``); a run whose file
exists is skipped, so a sweep that is interrupted (or killed) continues where it stopped when started again. The runs
go shortest length first, then seed by seed, so that a partial sweep holds whole lengths and whole seeds. Runs use
one torch thread each, at most ``--jobs`` at a time, under ``nice`` (so that other work on the machine gets the CPU
first). After every finished run the script rewrites ``results.md`` (the best-lr table, labelled partial with its
counts while runs are missing, and the table of every learning rate) and ``sweep_log.json`` (the command, each run's
time, the load average sampled every 30 s); at the end (and with ``--report-only``) also ``accuracy_vs_length.png``.

The learning rate of a run sets the peak of the warm-up + cosine schedule; its floor is ``--min-lr-ratio`` times it
(the first sweep's 3e-3 → 3e-4). The best rate per (task, length, model) is the one with the highest mean test
accuracy over the seeds (``lra.best_lr``); the table gives that rate's mean ± std and every rate's mean.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

from retnet_edu.experiments.lra import (  # noqa: E402
    MODELS,
    TASKS,
    best_lr,
    format_best_table,
    format_table,
    get_lra_config,
    load_results,
    result_name,
    summarize,
)
from retnet_edu.experiments.runner import write_text  # noqa: E402
from retnet_edu.experiments.sweep import pending, result_arg, run_sweep  # noqa: E402

LRS = (1e-3, 3e-3, 1e-2)
MQAR_VOCAB = 256  # > 2 × the longest length, the same at both lengths: only the distances change with L


def runs(tasks, lengths, models, lrs, seeds):
    """Shortest length first, then seed by seed (an interrupted sweep holds whole lengths and seeds)."""
    return [(t, L, m, lr, s) for L in sorted(lengths) for s in seeds for lr in lrs for t in tasks for m in models]


def run_config(preset: str, run: tuple, min_lr_ratio: float, mqar_vocab: int):
    t, L, m, lr, s = run
    return get_lra_config(
        preset, task=t, length=L, model=m, lr=lr, min_lr=lr * min_lr_ratio, seed=s, mqar_vocab=mqar_vocab
    )


def report_text(results: list[dict], design: int | None = None) -> str:
    """``results.md``: the best-lr table (labelled partial, with its counts, while runs are missing) and the table of
    every learning rate."""
    rows = summarize(results)
    best = best_lr(rows)
    if design is None or len(results) >= design:
        title = f"Best learning rate per model (Zoology's protocol), {len(results)} runs"
    else:
        title = (
            f"PARTIAL: {len(results)} of {design} runs. Best learning rate per model among the runs done so far; "
            "a rate with fewer seeds than the others is marked"
        )
    return (
        f"## {title}\n\n{format_best_table(best)}\n\n## Every learning rate (mean ± std over seeds)\n\n"
        f"{format_table(rows)}\n"
    )


def write_report(results_dir: Path, design: int | None = None, plot: bool = True) -> str:
    results = load_results(results_dir)
    text = report_text(results, design)
    write_text(HERE / "results.md", text)
    if plot and results:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from retnet_edu.course.viz import plot_accuracy_vs_length

        best = best_lr(summarize(results))
        pairs = {r["config"]["num_pairs"] for r in results if r["task"] == "mqar"}
        guides = {"mqar": {f"1/N: guessing among the {n} values of the sequence": 1 / n for n in pairs}}
        drawn = plot_accuracy_vs_length(best, guides=guides)
        drawn["fig"].savefig(HERE / "accuracy_vs_length.png", dpi=110, bbox_inches="tight")
        plt.close(drawn["fig"])
    return text


def run_costs() -> dict:
    """Each (task, length, model)'s mean wall seconds for one run on the idle machine: the first sweep's measured
    times (``v1/results``: the same models and steps; its MQAR vocabulary was 64, which makes little difference to
    the cost)."""
    known: dict[tuple, list[float]] = {}
    if (HERE / "v1" / "results").is_dir():
        for r in load_results(HERE / "v1" / "results"):
            known.setdefault((r["task"], r["length"], r["model"]), []).append(r["wall_seconds"])
    return {k: statistics.fmean(v) for k, v in known.items()}


def estimate(pending: list[tuple], jobs: int, log_path: Path | None = None) -> str:
    """The wall time ``pending`` needs: on the idle machine (from ``run_costs``) and, when the sweep's log holds
    finished runs, at the pace measured so far (the idle estimate scaled by how much slower the finished runs went)."""
    costs = run_costs()
    if not costs:
        return "no recorded run times to estimate from"
    fallback = max(costs.values())

    def cost(t, L, m):
        return costs.get((t, L, m), fallback * max(1.0, L / 128))

    idle = sum(cost(t, L, m) for t, L, m, _, _ in pending) / jobs
    text = f"about {idle / 60:.0f} min wall on the idle machine at {jobs} runs at a time (from v1's run times)"
    if log_path is not None and log_path.exists() and pending:
        log = json.loads(log_path.read_text())
        part = log.get("parts", [log])[-1]
        done = part.get("finished_runs", [])
        if done and part.get("wall_seconds"):
            done_cost = 0.0
            for name, _, _ in done:
                task, length, model = name.split("-")[0], int(name.split("-")[1][1:]), name.split("-")[2]
                done_cost += cost(task, length, model)
            slowdown = part["wall_seconds"] / (done_cost / part.get("jobs", jobs))
            text += (
                f"; at the pace of this sweep's last start ({len(done)} runs, {slowdown:.1f}× the idle time) "
                f"about {idle * slowdown / 60:.0f} min"
            )
    return text


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    ap.add_argument("--lengths", nargs="+", type=int, default=[64, 128])
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    ap.add_argument("--lrs", nargs="+", type=float, default=list(LRS), help="peak learning rates")
    ap.add_argument("--min-lr-ratio", type=float, default=0.1, help="the cosine's floor, as a fraction of the lr")
    ap.add_argument("--mqar-vocab", type=int, default=MQAR_VOCAB, help="MQAR vocabulary (must exceed every length)")
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--jobs", type=int, default=2, help="runs at a time (one torch thread each)")
    ap.add_argument("--nice", type=int, default=15, help="niceness of the runs (absolute, 0-19)")
    ap.add_argument("--preset", default="cpu")
    ap.add_argument("--results", default=str(HERE / "results"))
    ap.add_argument("--dry-run", action="store_true")
    ap.add_argument("--report-only", action="store_true")
    ns = ap.parse_args(argv)
    results_dir = Path(ns.results)
    todo = runs(ns.tasks, ns.lengths, ns.models, ns.lrs, ns.seeds)
    if ns.report_only:
        print(write_report(results_dir, len(todo)))
        return 0
    names = {r: result_name(run_config(ns.preset, r, ns.min_lr_ratio, ns.mqar_vocab)) for r in todo}
    left = pending(names, results_dir)
    print(
        f"{len(todo)} runs, {len(todo) - len(left)} already done, {len(left)} to go; "
        f"{estimate(left, ns.jobs, HERE / 'sweep_log.json')}"
    )
    if ns.dry_run:
        for r in left:
            print(f"  {names[r]}")
        return 0
    results_dir.mkdir(parents=True, exist_ok=True)
    commands = {}
    for run in left:
        t, L, m, lr, s = run
        cfg = run_config(ns.preset, run, ns.min_lr_ratio, ns.mqar_vocab)
        cmd = [sys.executable, "-m", "retnet_edu.experiments.lra", "--preset", ns.preset]
        cmd += ["--task", t, "--model", m, "--seed", str(s), "--length", str(L)]
        cmd += ["--lr", f"{cfg.lr:g}", "--min-lr", f"{cfg.min_lr:g}", "--mqar-vocab", str(ns.mqar_vocab)]
        commands[names[run]] = cmd + ["--out", result_arg(results_dir / f"{names[run]}.json", ROOT), "--no-progress"]
    design = {
        "tasks": ns.tasks,
        "lengths": ns.lengths,
        "models": ns.models,
        "lrs": ns.lrs,
        "min_lr_ratio": ns.min_lr_ratio,
        "mqar_vocab": ns.mqar_vocab,
        "seeds": ns.seeds,
        "preset": ns.preset,
        "runs": len(todo),
    }
    command = "python benchmarks/mini_lra/sweep.py " + " ".join(argv if argv is not None else sys.argv[1:])
    report = functools.partial(write_report, results_dir, len(todo))
    log_path = HERE / "sweep_log.json"
    return run_sweep(
        commands, log_path, report, command, design, jobs=ns.jobs, nice=ns.nice, root=ROOT, load_summary=True
    )


if __name__ == "__main__":
    sys.exit(main())
