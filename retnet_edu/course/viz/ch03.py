"""The figures of notebook 03 (``notebooks/03_retention_from_scratch.ipynb``)."""

from __future__ import annotations

import numpy as np

from retnet_edu.course.viz._common import _axes

__all__ = ["plot_cost_vs_length"]


def plot_cost_vs_length(lengths, series: dict, ylabel: str = "cost", ax=None, title: str | None = None) -> dict:
    """Log-log plot of costs against sequence length, one line per entry of ``series`` ({name: values}), each
    labelled with its fitted log-log slope (≈ 2 for O(T²), ≈ 1 for O(T), ≈ 0 for O(1)), each with its own marker
    and line style.

    A value may be None (or NaN) where that method was not run (e.g. too slow at that length); such points are left
    out of the line and of the slope. Returns ``{"lengths", "series" (name -> float array, NaN where missing),
    "slopes" (name -> float), "fig"}``.
    """
    L = np.asarray(lengths, dtype=np.float64).reshape(-1)
    if L.size < 2 or not np.all(L > 0):
        raise ValueError(f"lengths must hold at least two positive numbers, got {L.tolist()}")
    if not isinstance(series, dict) or not series:
        raise ValueError("series must be a non-empty dict {name: values}")
    data, slopes = {}, {}
    for name, values in series.items():
        y = np.array(
            [np.nan if v is None else v for v in np.asarray(values, dtype=object).reshape(-1)], dtype=np.float64
        )
        have = ~np.isnan(y)
        if y.shape != L.shape or have.sum() < 2 or not np.all(y[have] > 0):
            raise ValueError(
                f"series {name!r} must hold {L.size} values (None where missing), at least two of "
                f"them, all positive; got {y.tolist()}"
            )
        data[name] = y
        slopes[name] = float(np.polyfit(np.log(L[have]), np.log(y[have]), 1)[0])
    fig, ax = _axes(ax)
    styles = ("o-", "s--", "^:", "D-.")  # marker and line style: a second cue besides the colour
    for i, (name, y) in enumerate(data.items()):
        have = ~np.isnan(y)
        ax.plot(L[have], y[have], styles[i % len(styles)], label=f"{name} (slope {slopes[name]:.2f})")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("sequence length T")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend()
    return {"lengths": L, "series": data, "slopes": slopes, "fig": fig}
