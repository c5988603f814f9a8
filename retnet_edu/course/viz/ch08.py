"""The figures of notebook 08 (``notebooks/08_training_a_small_retnet.ipynb``)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from retnet_edu.course.viz._common import _axes, _axes_pair
from retnet_edu.experiments.train import lr_at

__all__ = ["plot_loss_curves", "plot_loss_comparison", "plot_lr_schedule", "summarize_sweep", "plot_lr_sweep"]

# a second cue beside colour (the Okabe-Ito cycle of course_setup): one line style and marker per run
LINESTYLES = ("-", "--", "-.", (0, (1, 1)))
MARKERS = ("o", "s", "^", "D")


def _history(run) -> dict:
    """Accept a training history dict, a whole log (``{"history": …}``) or a ``TrainResult``."""
    if hasattr(run, "history"):
        run = run.history
    if isinstance(run, dict) and "history" in run:
        run = run["history"]
    if not isinstance(run, dict) or "eval" not in run or "train" not in run:
        raise ValueError(
            "each run must be a training history (with 'train' and 'eval' rows), a log.json dict or a TrainResult"
        )
    return run


def plot_loss_curves(
    runs: dict,
    ax=None,
    baselines: dict | None = None,
    show_train: bool = True,
    zoom_from: int | None = None,
    title: str = "Validation loss while training",
) -> dict:
    """Loss (nats per character) against training step for several runs on one plot.

    ``runs``: name → a history (``train(...).history``, a log.json dict or a ``TrainResult``). Solid lines with
    dots are the validation loss at each evaluation; thin lines (``show_train``) the running training loss.
    Each run has its own colour, line style and marker (readable without colour).
    ``baselines``: name → a constant loss drawn as a dotted horizontal line (e.g. the uniform guess ln V), when
    it lies within the plotted range. ``zoom_from``: show only steps ≥ this (the axes fit those points), to
    see the end of training up close. Returns ``{"steps": {name: array}, "val": {name: array}, "train_steps": …,
    "train": …, "ylim", "fig"}``.
    """
    if not isinstance(runs, dict) or not runs:
        raise ValueError("runs must be a non-empty dict of name -> training history")
    fig, ax = _axes(ax)
    out = {"steps": {}, "val": {}, "train_steps": {}, "train": {}}
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    first = 0 if zoom_from is None else zoom_from
    shown = []
    for i, (name, run) in enumerate(runs.items()):
        h = _history(run)
        ev = np.array([row[:3] for row in h["eval"]], dtype=float).reshape(-1, 3)
        tr = np.array([row[:2] for row in h["train"]], dtype=float).reshape(-1, 2)
        c, ls, mk = colors[i % len(colors)], LINESTYLES[i % len(LINESTYLES)], MARKERS[i % len(MARKERS)]
        out["steps"][name], out["val"][name] = ev[:, 0], ev[:, 2]
        out["train_steps"][name], out["train"][name] = tr[:, 0], tr[:, 1]
        ev, tr = ev[ev[:, 0] >= first], tr[tr[:, 0] >= first]
        if show_train and len(tr):
            ax.plot(tr[:, 0], tr[:, 1], color=c, ls=ls, alpha=0.4, lw=1)
            shown.append(tr[:, 1])
        label = f"{name}: {ev[-1, 2]:.3f}" if len(ev) else name
        ax.plot(ev[:, 0], ev[:, 2], color=c, ls=ls, marker=mk, ms=4, label=label)
        shown.append(ev[:, 2])
    values = np.concatenate(shown) if shown else np.zeros(0)
    if values.size:
        lo, hi = float(values.min()), float(values.max())
        if zoom_from is None:
            hi = max([hi] + [float(v) for v in (baselines or {}).values()])
        pad = 0.05 * max(hi - lo, 0.1)
        ax.set_ylim(lo - pad, hi + pad)
    ylim = ax.get_ylim()
    for name, value in (baselines or {}).items():
        if ylim[0] <= value <= ylim[1]:
            ax.axhline(value, ls=":", color="grey", lw=1)
            ax.annotate(
                f"{name} ({value:.2f})",
                (1.0, value),
                xycoords=("axes fraction", "data"),
                xytext=(-4, 3),
                textcoords="offset points",
                ha="right",
                fontsize=8,
                color="grey",
            )
    if zoom_from is not None:
        last = max((float(v.max()) for v in out["steps"].values() if len(v)), default=first)
        ax.set_xlim(first - 0.02 * (last - first), last + 0.02 * (last - first))
    ax.set_xlabel("training step")
    ax.set_ylabel("loss (nats per character)")
    ax.set_title(title)
    ax.legend(fontsize=8, title="final validation loss", title_fontsize=8)
    out["ylim"] = ylim
    out["fig"] = fig
    return out


def plot_loss_comparison(
    runs: dict,
    reference: str | None = None,
    baselines: dict | None = None,
    noise: float | None = None,
    noise_label: str = "seed-to-seed spread",
    title: str = "Validation loss while training",
    skip_start: bool = True,
    ax=None,
) -> dict:
    """Two panels: the loss curves (``plot_loss_curves``) and, at the scale a small difference needs, the gap of
    each run's validation loss to the ``reference`` run's (default: the last run) at every evaluation, in percent:
    ``100 · (val / val_reference − 1)``. ``noise`` (percent): a grey band ±noise around 0, e.g. how far two seeds of
    the same model end apart, so that a gap inside it reads as "not told apart". The runs must be evaluated at the
    same steps. ``skip_start``: leave out step 0 from the gap (untrained models: a gap of initialisations, not of
    learning). Returns ``{"curves": plot_loss_curves's dict, "steps": array, "gap": {name: array (percent)},
    "reference", "noise", "fig"}``."""
    if not isinstance(runs, dict) or len(runs) < 2:
        raise ValueError("runs must be a dict of at least two name -> training history")
    reference = list(runs)[-1] if reference is None else reference
    if reference not in runs:
        raise ValueError(f"reference {reference!r} is not one of the runs {list(runs)}")
    if noise is not None and not (isinstance(noise, (int, float)) and noise > 0):
        raise ValueError(f"noise must be a positive number of percent, got {noise!r}")
    evals = {name: np.array([row[:3] for row in _history(run)["eval"]], dtype=float) for name, run in runs.items()}
    steps = evals[reference][:, 0]
    for name, ev in evals.items():
        if ev.shape[0] != steps.shape[0] or not np.array_equal(ev[:, 0], steps):
            raise ValueError(f"{name!r} is evaluated at other steps than {reference!r}: cannot compare them")
    keep = steps > 0 if skip_start else np.ones_like(steps, dtype=bool)
    steps = steps[keep]
    evals = {name: ev[keep] for name, ev in evals.items()}
    fig, (left, right) = _axes_pair(ax, width_ratios=(1.35, 1))
    curves = plot_loss_curves(runs, ax=left, baselines=baselines, title=title)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    gap = {}
    if noise is not None:
        right.axhspan(-noise, noise, color="0.85", lw=0, label=f"±{noise:.1f} %: {noise_label}")
    right.axhline(0.0, color="0.3", lw=1)
    for i, name in enumerate(runs):
        if name == reference:
            continue
        gap[name] = 100.0 * (evals[name][:, 2] / evals[reference][:, 2] - 1.0)
        right.plot(
            steps,
            gap[name],
            color=colors[i % len(colors)],
            ls=LINESTYLES[i % len(LINESTYLES)],
            marker=MARKERS[i % len(MARKERS)],
            ms=4,
            label=f"{name} − {reference}: {gap[name][-1]:+.1f} % at the end",
        )
    right.set_xlabel("training step")
    right.set_ylabel(f"validation loss relative to {reference} (%)")
    right.set_title("The gap, zoomed in")
    right.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return {"curves": curves, "steps": steps, "gap": gap, "reference": reference, "noise": noise, "fig": fig}


def plot_lr_schedule(lr: float, min_lr: float, warmup_steps: int, max_steps: int, ax=None) -> dict:
    """The learning rate of every step: linear warm-up, then a cosine down to ``min_lr`` (``train.lr_at``).
    Returns ``{"step", "lr", "fig"}``."""
    steps = np.arange(max_steps)
    lrs = np.array([lr_at(int(s), lr, min_lr, warmup_steps, max_steps) for s in steps])
    fig, ax = _axes(ax)
    ax.plot(steps, lrs)
    ax.axvline(warmup_steps, ls=":", color="grey", lw=1)
    ax.annotate("end of warm-up", (warmup_steps, lr), xytext=(4, -12), textcoords="offset points", fontsize=8)
    ax.set_xlabel("training step")
    ax.set_ylabel("learning rate")
    ax.set_title(f"Warm-up ({warmup_steps} steps) then cosine decay to {min_lr:g}")
    return {"step": steps, "lr": lrs, "fig": fig}


def summarize_sweep(records) -> dict:
    """The learning-rate × seed sweep in numbers: ``records`` are dicts with ``"model"``, ``"lr"``, ``"seed"``
    and ``"full_val_loss"`` (the JSON files of ``data/results/notebook-sweep/``). Returns ``{"models", "lrs",
    "table": {model: {lr: {"losses", "seeds", "mean", "std", "n"}}}, "best_lr": {model: lr}, "best":
    {model: that row}}``: the mean and the sample standard deviation (n − 1) over seeds, and each model's best
    rate by mean loss. Models keep the order they first appear in; rates are sorted."""
    records = list(records)
    if not records:
        raise ValueError("records must hold at least one run")
    table: dict = {}
    for r in records:
        missing = [k for k in ("model", "lr", "seed", "full_val_loss") if k not in r]
        if missing:
            raise ValueError(f"a record lacks {missing}")
        row = table.setdefault(r["model"], {}).setdefault(float(r["lr"]), {"losses": [], "seeds": []})
        if r["seed"] in row["seeds"]:
            raise ValueError(f"two records for {r['model']}, lr {r['lr']:g}, seed {r['seed']}")
        row["seeds"].append(r["seed"])
        row["losses"].append(float(r["full_val_loss"]))
    lrs = sorted({lr for rows in table.values() for lr in rows})
    for rows in table.values():
        for row in rows.values():
            order = np.argsort(row["seeds"])
            row["seeds"] = [row["seeds"][i] for i in order]
            row["losses"] = [row["losses"][i] for i in order]
            row["n"] = len(row["losses"])
            row["mean"] = float(np.mean(row["losses"]))
            row["std"] = float(np.std(row["losses"], ddof=1)) if row["n"] > 1 else float("nan")
        table_sorted = dict(sorted(rows.items()))
        rows.clear()
        rows.update(table_sorted)
    best_lr = {m: min(rows, key=lambda lr, rows=rows: rows[lr]["mean"]) for m, rows in table.items()}
    return {
        "models": list(table),
        "lrs": lrs,
        "table": table,
        "best_lr": best_lr,
        "best": {m: table[m][lr] for m, lr in best_lr.items()},
    }


def plot_lr_sweep(records, ax=None, title: str = "Final loss on the whole validation split") -> dict:
    """Mean ± standard deviation over seeds of each model's full-validation loss against the peak learning rate
    (log axis), every seed as a small dot, each model's best rate ringed. ``records``: as for
    ``summarize_sweep``. Returns ``{"lrs", "mean": {model: array}, "std": {model: array}, "best_lr", "summary",
    "fig"}``."""
    summary = summarize_sweep(records)
    fig, ax = _axes(ax)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    out = {"lrs": np.array(summary["lrs"]), "mean": {}, "std": {}, "best_lr": summary["best_lr"], "summary": summary}
    for i, model in enumerate(summary["models"]):
        rows = summary["table"][model]
        lrs = np.array(list(rows))
        mean = np.array([rows[lr]["mean"] for lr in lrs])
        std = np.array([rows[lr]["std"] for lr in lrs])
        c, ls, mk = colors[i % len(colors)], LINESTYLES[i % len(LINESTYLES)], MARKERS[i % len(MARKERS)]
        shift = 1.0 + 0.04 * (i - (len(summary["models"]) - 1) / 2)  # side by side, not on top of each other
        ax.errorbar(lrs * shift, mean, yerr=std, color=c, ls=ls, marker=mk, ms=5, capsize=3, label=model)
        for lr in lrs:
            ax.plot([lr * shift] * rows[lr]["n"], rows[lr]["losses"], ".", color=c, alpha=0.45, ms=4)
        best = summary["best_lr"][model]
        ax.plot([best * shift], [rows[best]["mean"]], marker="o", ms=13, mfc="none", mec=c, lw=0)
        out["mean"][model], out["std"][model] = mean, std
    ax.set_xscale("log")
    ax.set_xticks(summary["lrs"], [f"{lr:g}" for lr in summary["lrs"]])
    ax.minorticks_off()
    ax.set_xlabel("peak learning rate")
    ax.set_ylabel("validation loss (nats per character)")
    ax.set_title(title)
    ax.legend(fontsize=8, title="mean ± std over seeds (dots: seeds; ring: best rate)", title_fontsize=8)
    out["fig"] = fig
    return out
