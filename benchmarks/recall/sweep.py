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
import functools
import sys
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
from retnet_edu.experiments.runner import write_text  # noqa: E402
from retnet_edu.experiments.sweep import pending, result_arg, run_sweep  # noqa: E402

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
    write_text(HERE / "results.md", text)
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
    left = pending(names, results_dir)
    print(f"{len(todo)} runs, {len(todo) - len(left)} already done, {len(left)} to go")
    if ns.dry_run:
        for r in left:
            print(f"  {names[r]}")
        return 0
    results_dir.mkdir(parents=True, exist_ok=True)
    commands = {}
    for run in left:
        L, m, lr, s = run
        cmd = [sys.executable, "-m", "retnet_edu.experiments.recall", "--model", m, "--length", str(L)]
        cmd += ["--lr", f"{lr:g}", "--seed", str(s)]
        commands[names[run]] = cmd + ["--out", result_arg(results_dir / f"{names[run]}.json", ROOT), "--no-progress"]
    design = {"lengths": ns.lengths, "models": ns.models, "lrs": ns.lrs, "seeds": ns.seeds, "runs": len(todo)}
    command = "python benchmarks/recall/sweep.py " + " ".join(argv if argv is not None else sys.argv[1:])
    report = functools.partial(write_report, results_dir, len(todo))
    return run_sweep(commands, HERE / "sweep_log.json", report, command, design, jobs=ns.jobs, nice=ns.nice, root=ROOT)


if __name__ == "__main__":
    sys.exit(main())
