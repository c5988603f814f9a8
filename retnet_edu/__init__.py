"""retnet_edu: the Retentive Network (Sun et al. 2023, arXiv 2307.08621) from first principles.

Layers, lowest first (a module imports only from those before it):

- ``_args`` (argument checks), ``notebook`` (course_setup, get_device), ``measure`` (timing and memory helpers),
  ``data`` (the corpus and its tokenizer), ``tasks`` (generated long-range tasks);
- ``retention`` (the equations), ``position`` (the rotation);
- ``official_scaling`` (torchscale's per-mode rescalings), ``buggy`` (broken variants for exercises);
- ``layers`` (RMSNorm, MultiScaleRetention, RetNetBlock), ``numerics`` (the proof lab's tools);
- ``model`` (RetNetConfig, RetNetLM), ``torchscale_compat`` (official weights);
- ``transformer`` (the equal-size baseline with a KV cache), then ``hyena`` (the Hyena operator and LM);
- ``train`` (the trainer and its CLI), then ``bench`` (cost benchmarks) and ``lra`` (the mini-LRA runner);
- ``viz`` and ``checks`` (what the notebooks draw and how exercises are checked).
"""

__version__ = "0.1.0"
