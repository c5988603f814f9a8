"""What the course runs and measures, above the models:

- ``runtime``: seeding and device selection;
- ``measure``: timing and memory helpers; ``bench_plots``: the figures of the benchmark results;
- ``data``: the Shakespeare corpus and its tokenizer; ``tasks``: generated long-range tasks;
- ``loop``: the one training loop (``fit``: optimiser groups, schedule, clipping, divergence, evaluation, atomic
  checkpoints, exact resume, provenance, DistributedDataParallel under ``torchrun``);
- ``train``: the language-model trainer and its CLI (``python -m retnet_edu.experiments.train``);
- ``lra``: the mini-LRA runner and its CLI (``python -m retnet_edu.experiments.lra``);
- ``bench``: cost benchmarks, one file per command, and their CLI (``python -m retnet_edu.experiments.bench``).
"""
