"""What the course runs and measures, above the models:

- ``runtime``: seeding and device selection;
- ``measure``: timing and memory helpers;
- ``data``: the Shakespeare corpus and its tokenizer; ``tasks``: generated long-range tasks;
- ``train``: the language-model trainer and its CLI (``python -m retnet_edu.experiments.train``);
- ``lra``: the mini-LRA runner and its CLI (``python -m retnet_edu.experiments.lra``);
- ``bench``: cost benchmarks and their CLI (``python -m retnet_edu.experiments.bench``).
"""
