"""The figures of notebook 09 (``notebooks/09_inference_cost.ipynb``), from ``experiments.bench_plots``."""

from retnet_edu.experiments.bench_plots import (
    benchmark_provenance,
    plot_benchmark,
    plot_decode_benchmark,
    plot_official_benchmark,
    plot_train_benchmark,
)

__all__ = [
    "plot_decode_benchmark",
    "plot_train_benchmark",
    "plot_official_benchmark",
    "plot_benchmark",
    "benchmark_provenance",
]
