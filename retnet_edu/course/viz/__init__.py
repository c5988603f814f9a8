"""Plotting for the notebooks, one module per notebook with figures (``ch00`` … ``ch12``) on top of ``_common``;
notebook 09's benchmark figures live in ``retnet_edu.experiments.bench_plots`` (the benchmark command draws them
too) and are re-exported here.

Convention: every ``plot_*`` function takes an optional ``ax`` (a new figure is made when it is None), draws,
and returns a dict holding the numbers it drew (tests check those) and the figure under ``"fig"``. Notebooks
end the cell with ``plt.show()``. Every widget (``*_widget``) calls the same function that draws the static
figure above it, so the notebook reads well where widgets do not run (GitHub, CI).

A notebook reaches them all through this package: ``from retnet_edu.course.viz import plot_…``.
"""

from retnet_edu.course.viz.ch00 import decay_curves_widget, plot_decay_curves
from retnet_edu.course.viz.ch01 import plot_eigen_spiral, plot_score_matrices
from retnet_edu.course.viz.ch02 import (
    decay_mask_widget,
    head_schedule,
    heads_explorer_widget,
    plot_decay_mask,
    plot_heads,
    plot_schedules,
    tokens_for_weight,
)
from retnet_edu.course.viz.ch03 import plot_cost_vs_length
from retnet_edu.course.viz.ch04 import plot_rotation_angles, plot_rotation_scores
from retnet_edu.course.viz.ch05 import (
    CHUNK_BLOCK_LABELS,
    chunk_block_labels,
    chunk_blocks_widget,
    plot_chunk_blocks,
    plot_curves,
)
from retnet_edu.course.viz.ch07 import plot_param_counts
from retnet_edu.course.viz.ch08 import (
    plot_loss_comparison,
    plot_loss_curves,
    plot_lr_schedule,
    plot_lr_sweep,
    summarize_sweep,
)
from retnet_edu.course.viz.ch09 import (
    benchmark_provenance,
    plot_benchmark,
    plot_decode_benchmark,
    plot_official_benchmark,
    plot_train_benchmark,
)
from retnet_edu.course.viz.ch10 import (
    MINI_LRA_COLORS,
    plot_accuracy_curves,
    plot_accuracy_vs_length,
    plot_hyena_filters,
    plot_listops_example,
    plot_mixing_matrices,
    plot_mqar_example,
)
from retnet_edu.course.viz.ch11 import gate_mask, gate_mask_widget, plot_gate_masks
from retnet_edu.course.viz.ch12 import RECALL_COLORS, plot_recall_sweep

__all__ = [
    "plot_decay_curves",
    "decay_curves_widget",
    "plot_score_matrices",
    "plot_eigen_spiral",
    "tokens_for_weight",
    "plot_decay_mask",
    "decay_mask_widget",
    "head_schedule",
    "plot_heads",
    "heads_explorer_widget",
    "plot_schedules",
    "plot_cost_vs_length",
    "plot_rotation_scores",
    "plot_rotation_angles",
    "CHUNK_BLOCK_LABELS",
    "chunk_block_labels",
    "plot_chunk_blocks",
    "chunk_blocks_widget",
    "plot_curves",
    "plot_param_counts",
    "plot_loss_curves",
    "plot_loss_comparison",
    "plot_lr_schedule",
    "summarize_sweep",
    "plot_lr_sweep",
    "plot_decode_benchmark",
    "plot_train_benchmark",
    "plot_official_benchmark",
    "plot_benchmark",
    "benchmark_provenance",
    "MINI_LRA_COLORS",
    "plot_listops_example",
    "plot_mqar_example",
    "plot_mixing_matrices",
    "plot_hyena_filters",
    "plot_accuracy_curves",
    "plot_accuracy_vs_length",
    "gate_mask",
    "plot_gate_masks",
    "gate_mask_widget",
    "RECALL_COLORS",
    "plot_recall_sweep",
]
