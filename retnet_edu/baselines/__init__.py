"""The models RetNet is compared with, built from the same parts and sized to match a RetNet:

- ``transformer``: a GPT-style decoder with rotary positions and a KV cache (notebooks 08-10);
- ``hyena``: the Hyena operator (Poli et al. 2023), order 2, and its language model (notebook 10);
- ``recurrent``: RetNet's successors (gated retention, GLA, DeltaNet, Gated DeltaNet: ``retnet_edu.successors``) as
  language models, and their hybrids with attention layers (notebook 12's recall sweep).

All follow the language-model protocol of ``retnet_edu.lm``.
"""
