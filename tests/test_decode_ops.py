"""How many operators one decode step dispatches, for RetNet and for the Transformer, pinned exactly.

Decoding one token is mostly overhead at the course's sizes: each operator costs microseconds of dispatch whatever
its size. The benchmark of notebook 09 compares the two models' decode steps, so neither may silently gain
operators: one more check with a tensor operation, a factor recomputed per layer instead of once per forward (the
rotation's sines and cosines, issue 11), a dtype cast that could be skipped. Both counts are pinned to the number
measured; a change to either model's decode path that adds or removes an operator fails here on purpose.

**What is counted.** ``torch.profiler`` (CPU activities) records every ATen operator with its nesting. We count the
top-level ones: events named ``aten::…`` with no enclosing event (``cpu_parent is None``), i.e. the operators the
Python code dispatched itself, not those an operator dispatched inside it (``aten::linear`` counts once, not also
its ``aten::t`` and ``aten::mm``). That number depends only on the Python code path, not on kernels, threads or
timing, so it is the same on every run of one torch version (measured with torch 2.13.0).

**To update a pin** (after an intended change, or a torch upgrade that changes how an operator is recorded): run
``python tests/test_decode_ops.py``, which prints both counts and the operators by name, and put the new numbers
below, with the reason in the commit message.

History (RetNet / Transformer): 202 / 228 before issue 11 (the Transformer computed its sines and cosines twice per
layer: 6 × (arange, sin, cos, 2 casts, neg, stack)); 202 / 175 after it (one set per forward, from the shared cache).
"""

import collections

import torch

from retnet_edu.baselines.transformer import KVCache, TransformerLM
from retnet_edu.experiments.train import get_config, model_configs
from retnet_edu.model import RetNetLM

RETNET_OPS = 202  # RetNetLM, mode="recurrent", one token, with a state
TRANSFORMER_OPS = 175  # TransformerLM, one token, with a KVCache of 33 tokens

VOCAB = 65  # the character vocabulary of notebook 08 (its size changes no count)
CONTEXT = 32


def top_level_aten_ops(fn) -> list[str]:
    """Names of the ATen operators ``fn()`` dispatches from Python (top-level profiler events; see the docstring)."""
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        fn()
    return [e.name for e in prof.events() if e.cpu_parent is None and e.name.startswith("aten::")]


def transformer_step(model, tokens, cache=None):
    """``(logits, cache)`` for ``tokens`` after ``cache`` (None: start a new one), with the LM protocol's signature
    (``state=``, ``decoding_state()``) where the model has it, else the older ``model(tokens, cache)``."""
    if hasattr(model, "decoding_state"):
        return model(tokens, state=model.decoding_state() if cache is None else cache)
    return model(tokens, KVCache() if cache is None else cache)


def decode_steps():
    """One RetNet decode step and one Transformer decode step at the notebook size (float32, CPU), each ready to run
    again and again: the state/cache holds CONTEXT + 1 tokens (the cache's capacity grew to 64 before, not inside,
    the measured step)."""
    retnet_cfg, transformer_cfg = model_configs(get_config("notebook"), VOCAB)
    torch.manual_seed(0)
    retnet, transformer = RetNetLM(retnet_cfg).eval(), TransformerLM(transformer_cfg).eval()
    prompt = torch.randint(0, VOCAB, (1, CONTEXT))
    nxt = torch.randint(0, VOCAB, (1, 1))
    with torch.no_grad():
        _, state = retnet(prompt, mode="recurrent")
        _, state = retnet(nxt, mode="recurrent", state=state)
        _, cache = transformer_step(transformer, prompt)
        _, cache = transformer_step(transformer, nxt, cache)
    assert cache.length == CONTEXT + 1 and cache.keys[0].shape[2] > CONTEXT + 1

    def retnet_step():
        with torch.no_grad():
            return retnet(nxt, mode="recurrent", state=state)

    def transformer_decode():
        fresh = cache.clone()  # a copy made outside the measured call: every step at the same length

        def step():
            with torch.no_grad():
                return transformer_step(transformer, nxt, fresh)

        return step

    for _ in range(2):  # warm-up: lazy initialisation, caches
        retnet_step()
        transformer_decode()()
    return retnet_step, transformer_decode


def test_decode_step_operator_counts_are_pinned():
    retnet_step, transformer_decode = decode_steps()
    retnet_ops = top_level_aten_ops(retnet_step)
    transformer_ops = top_level_aten_ops(transformer_decode())
    assert top_level_aten_ops(retnet_step) == retnet_ops  # deterministic: the same list twice
    assert top_level_aten_ops(transformer_decode()) == transformer_ops
    assert len(retnet_ops) == RETNET_OPS, collections.Counter(retnet_ops).most_common()
    assert len(transformer_ops) == TRANSFORMER_OPS, collections.Counter(transformer_ops).most_common()
    # like for like: each model makes its rotation factors once per step, for all layers, q and k
    assert retnet_ops.count("aten::sin") == transformer_ops.count("aten::sin") == 1


if __name__ == "__main__":
    r, t = decode_steps()
    for name, step in (("RetNet", r), ("Transformer", t())):
        ops = top_level_aten_ops(step)
        print(f"{name}: {len(ops)} operators per decode step", dict(collections.Counter(ops).most_common()))
