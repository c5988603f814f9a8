"""retnet_edu: the Retentive Network (Sun et al. 2023, arXiv 2307.08621) from first principles.

The folder tree is the architecture. Read the core first, top to bottom; everything else is built on it.

- the core, the paper: ``retention.py`` (eq. 5-7 as plain functions), ``position.py`` (the rotation Θ),
  ``layers.py`` (multi-scale retention eq. 8, the block eq. 9), ``model.py`` (the language model),
  ``torchscale_compat.py`` (official weights), on top of ``_args.py`` (argument checks), ``kernels.py`` (the
  named fast paths, tested equal to the plain functions) and ``lm.py`` (the protocol every language model follows);
  beside it what came after the paper: ``successors.py`` (gated retention, GLA and the delta rule in the same three
  forms);
- ``baselines/``: what RetNet is compared with (the Transformer, Hyena, and its successors as language models);
- ``experiments/``: what is run and measured (data, tasks, the one training loop, the trainers, benchmarks);
- ``course/``: what only the notebooks use (the preamble, figures and checkers per notebook, the proof lab).

Layers, lowest first (a module imports only from entries listed before its own, or from its own entry without a
cycle; a dotted entry covers a package and every module in it):

``_args``, ``kernels``, ``retention``, ``position``, ``successors``, ``layers``, ``lm``, ``model``,
``torchscale_compat``,
``baselines.transformer``, ``baselines.hyena``, ``baselines.recurrent``,
``experiments.runtime``, ``experiments.measure``, ``experiments.bench_plots``, ``experiments.data``,
``experiments.tasks``, ``experiments.loop``, ``experiments.runner``, ``experiments.sweep``, ``experiments.train``,
``experiments.bench``, ``experiments.lra``, ``experiments.recall``,
``course.notebook``, ``course.official_scaling``, ``course.buggy``, ``course.numerics``, ``course.viz``,
``course.checks``.
"""

__version__ = "0.1.0"
