r"""``bench decode --compile``: one decoding step of each model written as a plain function of tensors, so that
``torch.compile`` can turn it into one graph (no graph break, no recompilation per token), timed beside the model's
own eager step.

Why a function beside the model, and not ``torch.compile(model)``: the models' ``forward`` is written to teach and
to check. It validates the token ids (a data-dependent ``tokens.min()``/``max()``), shares rotation factors through
a ``contextvars.ContextVar`` (``kernels.shared_position_factors``), keys caches by Python ints and grows the KV cache
by reallocating it. TorchDynamo cannot trace a ``ContextVar`` or branch on tensor values, so ``torch.compile`` of the
forward breaks it into about ten graphs (``torch._dynamo.explain``), and every new position is a new Python int to
specialise on. The functions here compute the same step from the same modules (the models' own ``nn.Linear``,
``RMSNorm`` and ``GatedFeedForward``, and the package's ``kernels.rotate_pairs``, ``kernels.recurrent_decode_step``
and ``layers.group_rms_norm``), with two changes that make one graph possible and are the usual way to compile
decoding (gpt-fast, Hugging Face's static cache):

- the **position is a tensor** (0-d, int64), not a Python int: the rotation's sines and cosines are computed inside
  the graph from it, so a new token is new data, not a new graph;
- the Transformer's **cache is a fixed-capacity buffer** per layer, (B, H, capacity, d_h): the step writes its key
  and value at ``position`` in place (``index_copy_``) and attends over the whole buffer with the mask
  ``arange(capacity) <= position``. The capacity is marked dynamic (``torch._dynamo.mark_dynamic``), so caches of
  any capacity share one compiled graph; a benchmark row gives it exactly ``context + 1`` positions, so the compiled
  step reads the bytes the eager step reads.

The eager forward checks its arguments; these functions check nothing per step (they are built once per model, and
the benchmark compares their outputs with the eager step's on every row: equal up to float32 rounding). Timing the
same functions without compiling them (``plain`` in the results) separates what skipping the forward's Python
costs from what the compiler's fused kernels buy.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from retnet_edu import kernels
from retnet_edu.baselines.transformer import TransformerLM
from retnet_edu.layers import group_rms_norm
from retnet_edu.model import RetNetLM
from retnet_edu.position import rotation_angles

__all__ = [
    "retnet_step_function",
    "transformer_step_function",
    "compile_step",
    "mark_cache_dynamic",
    "compiled_graphs",
]


def _check_eval(model, kind: type) -> None:
    if not isinstance(model, kind):
        raise TypeError(f"model must be a {kind.__name__}, got {type(model).__name__}")
    if model.training:
        raise ValueError("model must be in eval mode (model.eval()): the step function applies no dropout")
    if model.embed_tokens.weight.device.type == "mps":
        raise ValueError("the compiled decode step runs on the CPU or CUDA (MPS has no float64 for the rotation)")


def _rotation(d_k: int, dtype: torch.dtype, device: torch.device) -> Callable[[Tensor], tuple[Tensor, Tensor]]:
    """position (0-d tensor) → ``(signed_sin, cos)``, each (1, d_k), as ``kernels.rotation_factors`` makes them for
    one token: position × angle, sine and cosine in float64, cast to ``dtype``, the sign of ``rotate_every_two``
    folded into the sines."""
    angles = rotation_angles(d_k, torch.float64, device)
    signs = torch.tensor([-1.0, 1.0], dtype=dtype, device=device).repeat(d_k // 2)

    def factors(position: Tensor) -> tuple[Tensor, Tensor]:
        a = (angles * position.to(torch.float64))[None, :]
        return torch.sin(a).to(dtype) * signs, torch.cos(a).to(dtype)

    return factors


def retnet_step_function(model: RetNetLM) -> Callable:
    """``step(tokens, position, states) -> (logits, new_states)``: one recurrent decoding step of ``model`` (eq. 6),
    the step ``model(tokens, mode="recurrent", state=...)`` takes.

    ``tokens``: (B, 1) ids; ``position``: 0-d int64 tensor, the number of tokens already read (the state's
    ``offset``); ``states``: one S (B, H, d_k, d_v) per layer. Returns logits (B, 1, vocab) and the list of new S
    (the inputs are not modified)."""
    _check_eval(model, RetNetLM)
    c = model.config
    h = c.num_heads
    d_k, d_v = c.embed_dim // h, c.value_dim // h
    weight = model.embed_tokens.weight
    rotation = _rotation(d_k, weight.dtype, weight.device)
    decay = kernels.decay_dtype(weight.dtype)
    gammas = [block.retention.gamma.to(dtype=decay, device=weight.device) for block in model.layers]

    def step(tokens: Tensor, position: Tensor, states: list[Tensor]) -> tuple[Tensor, list[Tensor]]:
        b = tokens.shape[0]
        x = model.embed_tokens(tokens)
        signed_sin, cos = rotation(position)
        new_states = []
        for block, g, S in zip(model.layers, gammas, states, strict=True):
            msr = block.retention
            y = block.retention_layer_norm(x)
            q = msr.q_proj(y).view(b, 1, h, d_k).transpose(1, 2)
            k = (msr.k_proj(y) * msr.scaling).view(b, 1, h, d_k).transpose(1, 2)
            v = msr.v_proj(y).view(b, 1, h, d_v).transpose(1, 2)
            q = kernels.rotate_pairs(q, signed_sin, cos)
            k = kernels.rotate_pairs(k, signed_sin, cos)
            o, S = kernels.recurrent_decode_step(q, k, v, g, S)  # S_n = γ S_{n-1} + k_nᵀ v_n; o_n = q_n S_n
            new_states.append(S)
            o = group_rms_norm(o, msr.norm_eps).transpose(1, 2).reshape(b, 1, h * d_v)
            x = x + msr.out_proj(F.silu(msr.g_proj(y)) * o)
            x = x + block.ffn(block.final_layer_norm(x))
        return model.output_projection(model.layer_norm(x)), new_states

    return step


def transformer_step_function(model: TransformerLM) -> Callable:
    """``step(tokens, position, keys, values) -> logits``: one decoding step of ``model`` with a KV cache, the step
    ``model(tokens, state=cache)`` takes, on fixed-capacity buffers.

    ``tokens``: (B, 1) ids; ``position``: 0-d int64 tensor, the number of tokens already cached; ``keys``,
    ``values``: one (B, H, capacity, d_h) buffer per layer with capacity > position (a ``KVCache``'s ``keys`` and
    ``values`` lists qualify: keys stored rotated). The step writes the new token's key and value at ``position``
    (in place) and attends to positions 0 … position. Returns logits (B, 1, vocab)."""
    _check_eval(model, TransformerLM)
    c = model.config
    h = c.num_heads
    d_h = c.embed_dim // h
    weight = model.embed_tokens.weight
    rotation = _rotation(d_h, weight.dtype, weight.device)

    def step(tokens: Tensor, position: Tensor, keys: list[Tensor], values: list[Tensor]) -> Tensor:
        b = tokens.shape[0]
        x = model.embed_tokens(tokens)
        signed_sin, cos = rotation(position)
        where = position.reshape(1)
        for block, k_buf, v_buf in zip(model.layers, keys, values, strict=True):
            attn = block.attention
            y = block.attention_layer_norm(x)
            q = attn.q_proj(y).view(b, 1, h, d_h).transpose(1, 2)
            k = attn.k_proj(y).view(b, 1, h, d_h).transpose(1, 2)
            v = attn.v_proj(y).view(b, 1, h, d_h).transpose(1, 2)
            k_buf.index_copy_(2, where, kernels.rotate_pairs(k, signed_sin, cos))
            v_buf.index_copy_(2, where, v)
            seen = (torch.arange(k_buf.shape[2], device=k_buf.device) <= position)[None, :]  # (1, capacity)
            o = F.scaled_dot_product_attention(kernels.rotate_pairs(q, signed_sin, cos), k_buf, v_buf, attn_mask=seen)
            x = x + attn.out_proj(o.transpose(1, 2).reshape(b, 1, h * d_h))
            x = x + block.ffn(block.final_layer_norm(x))
        return model.output_projection(model.layer_norm(x))

    return step


def compile_step(step: Callable, mode: str | None = None) -> Callable:
    """``torch.compile(step, fullgraph=True, dynamic=False, mode=mode)``: TorchInductor (C++/OpenMP kernels on the
    CPU, Triton on CUDA); ``fullgraph=True`` makes a graph break an error instead of a silent fall-back to Python.
    ``mode``: None (the default), or e.g. "reduce-overhead" (adds CUDA graphs on a GPU) or "max-autotune". Shapes
    are static but for the dimensions marked dynamic (``mark_cache_dynamic``); the first call compiles."""
    if not callable(step):
        raise TypeError(f"step must be callable, got {type(step).__name__}")
    if mode is not None and not isinstance(mode, str):
        raise TypeError(f"mode must be a str or None, got {type(mode).__name__}")
    return torch.compile(step, fullgraph=True, dynamic=False, mode=mode)


def mark_cache_dynamic(buffers) -> None:
    """Mark the capacity (dimension 2) of KV-cache buffers dynamic, so that one compiled Transformer step serves
    caches of every capacity (no recompilation when a cache is reallocated or a longer context is measured)."""
    for buf in buffers:
        torch._dynamo.mark_dynamic(buf, 2)


def compiled_graphs() -> int:
    """How many graphs TorchDynamo has compiled in this process so far (``counters["stats"]["unique_graphs"]``):
    the difference around a call says whether it compiled."""
    from torch._dynamo.utils import counters

    return int(counters["stats"]["unique_graphs"])
