#!/usr/bin/env python3
"""The `notebook` config's fair comparison: RetNet and the equal-size Transformer, each at three peak learning
rates (the config's 3e-3 and ×/÷3) and three seeds, every final model scored on the WHOLE validation split.

Usage (from the repository root, with the course's Python)::

    .venv/bin/python data/results/notebook_sweep.py                       # the 18 runs, one at a time; resumable
    .venv/bin/python data/results/notebook_sweep.py --jobs 2              # two at once (a machine of your own)
    .venv/bin/python data/results/notebook_sweep.py summary               # the README's tables from the records
    .venv/bin/python data/results/notebook_sweep.py run --model retnet --lr 0.003 --seed 0   # one run (what the
                                                                          # sweep starts for each missing record)

Each run is its own process (``run``), started under ``nice -n 10`` and with one torch thread, so runs neither
share state nor compete for more than one core each. It trains ``get_config("notebook", model=…, lr=…,
min_lr=lr/10, seed=…, threads=1, device="cpu")`` with ``train()`` (the package's one training loop; the config of
``python -m retnet_edu.experiments.train --config notebook --model … --lr … --min-lr … --seed … --threads 1
--device cpu``), then scores the final model with ``evaluate_split`` on every non-overlapping 64-character window
of the validation split (478,692 predicted characters), and writes ``notebook-sweep/<model>-lr<lr>-seed<seed>.json``
atomically. A run whose record exists is skipped, so a killed sweep continues where it stopped.

The minimum learning rate of the cosine follows the peak (a tenth of it, as in the config), so that the three
rates differ only in scale, not in the shape of the schedule.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent / "notebook-sweep"
MODELS = ("retnet", "transformer")
LRS = (1e-3, 3e-3, 1e-2)
SEEDS = (0, 1, 2)
FORMAT = "retnet_edu.notebook_sweep/1"
EVAL_BATCH = 64  # windows per forward pass of the full-validation score (any value gives the same loss)


def record_name(model: str, lr: float, seed: int) -> str:
    return f"{model}-lr{lr:g}-seed{seed}.json"


def _python() -> str:
    """The interpreter as a command a reader can type: relative to the repository when it lives there."""
    try:
        return str(Path(sys.executable).absolute().relative_to(ROOT))
    except ValueError:
        return "python"


def run_command(model: str, lr: float, seed: int) -> list[str]:
    script = str(Path(__file__).resolve().relative_to(ROOT))
    return [_python(), script, "run", "--model", model, "--lr", f"{lr:g}", "--seed", str(seed)]


def run_one(model: str, lr: float, seed: int, out: Path, command: str) -> dict:
    """Train one model, score it on the whole validation split, write its record; returns the record."""
    import torch

    from retnet_edu.experiments import train as T

    torch.set_num_threads(1)
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    cfg = T.get_config("notebook", model=model, lr=lr, min_lr=lr / 10, seed=seed, threads=1, device="cpu")
    data = T.prepare_data(cfg)
    result = T.train(cfg, progress=False, data=data, command=command)
    t1 = time.perf_counter()
    full_val = T.evaluate_split(result.model, data[2], cfg.block_size, EVAL_BATCH, result.precision)
    t2 = time.perf_counter()
    history = result.history
    record = {
        "format": FORMAT,
        "model": model,
        "lr": lr,
        "seed": seed,
        "full_val_loss": full_val,
        "full_val_tokens": int(data[2].numel()) - 1,
        "eval_block_size": cfg.block_size,
        "sampled_val_loss": history["eval"][-1][2],
        "command": command,
        "niceness": os.nice(0),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "wall_seconds": round(t2 - t0, 1),
        "train_seconds": round(history["train_seconds"], 1),
        "full_val_seconds": round(t2 - t1, 1),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()}, "
        f"Python {platform.python_version()}",
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "finished_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S"),
        "parameters": result.model.num_parameters(),
        "config": cfg.to_dict(),
        "history": history,
    }
    out.mkdir(parents=True, exist_ok=True)
    path = out / record_name(model, lr, seed)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=1) + "\n")
    os.replace(tmp, path)  # atomic: a killed run leaves no record, so the sweep redoes it
    return record


def load_records(out: Path = OUT) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(out.glob("*.json"))]


def summary_markdown(records: list[dict]) -> str:
    """The README's two tables: mean ± std over seeds per model and rate (the best rate of each model in bold),
    and every run."""
    from retnet_edu.course.viz.ch08 import summarize_sweep

    s = summarize_sweep(records)
    lines = [
        "| model | peak lr | full-validation loss, mean ± std over seeds | seeds | min – max |",
        "|---|---|---|---|---|",
    ]
    for model in s["models"]:
        for lr in s["lrs"]:
            row = s["table"][model][lr]
            cell = f"{row['mean']:.4f} ± {row['std']:.4f}"
            if lr == s["best_lr"][model]:
                cell = f"**{cell}** (best)"
            lines.append(
                f"| {model} | {lr:g} | {cell} | {row['n']} | {min(row['losses']):.4f} – {max(row['losses']):.4f} |"
            )
    lines += ["", "| model | peak lr | seed | full-validation loss | sampled (8 × 16 windows) | wall s | file |"]
    lines.append("|---|---|---|---|---|---|---|")
    for r in sorted(records, key=lambda r: (r["model"], r["lr"], r["seed"])):
        name = record_name(r["model"], r["lr"], r["seed"])
        lines.append(
            f"| {r['model']} | {r['lr']:g} | {r['seed']} | {r['full_val_loss']:.4f} | {r['sampled_val_loss']:.4f} | "
            f"{r['wall_seconds']:.0f} | [`{name}`](notebook-sweep/{name}) |"
        )
    wall = sum(r["wall_seconds"] for r in records)
    lines += ["", f"{len(records)} runs, {wall:.0f} s ({wall / 60:.1f} min) of wall time in all, one after the other."]
    return "\n".join(lines)


def sweep(jobs: int, out: Path, models, lrs, seeds) -> int:
    todo = [(m, lr, s) for m in models for lr in lrs for s in seeds if not (out / record_name(m, lr, s)).exists()]
    done = len(models) * len(lrs) * len(seeds) - len(todo)
    print(f"{done} record(s) already in {out.relative_to(ROOT)}; {len(todo)} run(s) to make", flush=True)
    nice = ["nice", "-n", "10"] if shutil.which("nice") else []
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONHASHSEED="0")

    def one(job):
        m, lr, s = job
        cmd = run_command(m, lr, s) + (["--out", str(out)] if out != OUT else [])
        t0 = time.perf_counter()
        proc = subprocess.run(nice + [sys.executable, *cmd[1:]], cwd=ROOT, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            return f"FAILED {m} lr={lr:g} seed={s} (exit {proc.returncode}):\n{proc.stderr[-2000:]}"
        r = json.loads((out / record_name(m, lr, s)).read_text())
        return (
            f"{m:11} lr={lr:<6g} seed={s}: full-val {r['full_val_loss']:.4f} "
            f"(sampled {r['sampled_val_loss']:.4f}), {time.perf_counter() - t0:.0f} s"
        )

    failed = 0
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for line in pool.map(one, todo):
            failed += line.startswith("FAILED")
            print(line, flush=True)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", nargs="?", default="sweep", choices=["sweep", "run", "summary"])
    ap.add_argument("--jobs", type=int, default=1, help="runs at once (others share this machine: keep 1)")
    ap.add_argument("--out", type=Path, default=OUT, help="folder of the records")
    ap.add_argument("--model", choices=MODELS, help="run: the model")
    ap.add_argument("--lr", type=float, help="run: the peak learning rate")
    ap.add_argument("--seed", type=int, help="run: the seed")
    ns = ap.parse_args(argv)
    out = ns.out.resolve()
    if ns.what == "run":
        if ns.model is None or ns.lr is None or ns.seed is None:
            ap.error("run needs --model, --lr and --seed")
        cmd = run_command(ns.model, ns.lr, ns.seed) + (["--out", str(ns.out)] if out != OUT else [])
        r = run_one(ns.model, ns.lr, ns.seed, out, shlex.join(cmd))
        print(f"{r['model']} lr={r['lr']:g} seed={r['seed']}: full validation loss {r['full_val_loss']:.4f}")
        return 0
    if ns.what == "summary":
        print(summary_markdown(load_records(out)))
        return 0
    if ns.jobs < 1:
        ap.error("--jobs must be >= 1")
    return sweep(ns.jobs, out, MODELS, LRS, SEEDS)


if __name__ == "__main__":
    sys.exit(main())
