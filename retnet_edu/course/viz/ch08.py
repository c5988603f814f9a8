"""The figures of notebook 08 (``notebooks/08_training_a_small_retnet.ipynb``)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from retnet_edu.course.viz._common import _axes
from retnet_edu.experiments.train import lr_at

__all__ = ["plot_loss_curves", "plot_lr_schedule"]


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
        c = colors[i % len(colors)]
        out["steps"][name], out["val"][name] = ev[:, 0], ev[:, 2]
        out["train_steps"][name], out["train"][name] = tr[:, 0], tr[:, 1]
        ev, tr = ev[ev[:, 0] >= first], tr[tr[:, 0] >= first]
        if show_train and len(tr):
            ax.plot(tr[:, 0], tr[:, 1], color=c, alpha=0.35, lw=1)
            shown.append(tr[:, 1])
        label = f"{name}: {ev[-1, 2]:.3f}" if len(ev) else name
        ax.plot(ev[:, 0], ev[:, 2], "o-", color=c, ms=3, label=label)
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
