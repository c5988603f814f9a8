r"""The baseline: a GPT-style decoder-only Transformer built from the same parts as ``RetNetLM``.

What is the same as the RetNet model (so that a comparison measures retention against softmax attention and
nothing else): token embedding, pre-norm residual blocks with ``RMSNorm``, the gated feed-forward
``GatedFeedForward`` (``fc2(act(fc1 x) ⊙ gate x)``), a final RMSNorm, an untied output projection, no biases,
and the relative-position rotation of queries and keys (``retnet_edu.position.apply_rotation``, the angles of the
official RetNet code).

What differs is the token mixer, causal softmax attention (Vaswani et al. 2017):

    ``Attention(X) = softmax(Q Kᵀ / √d_h + M) V``,  M[n, m] = 0 if m ≤ n else -∞,

computed by ``torch.nn.functional.scaled_dot_product_attention`` (``attention="sdpa"``, fused kernels where the
platform has them) or written out (``attention="naive"``, the formula above, for teaching and testing).

**Positions: rotary, not learned.** RetNet rotates q and k by their positions (the paper's Θ, eq. 3-5); giving
the Transformer the same rotation means (1) the two models differ only in softmax-vs-decay mixing, (2) neither has a
maximum length (a learned position table would cap generation at the training context), and (3) the position
scheme adds no parameters, so matching parameter counts is a matter of layer widths only.

**Parameter matching.** A Transformer layer holds 4d² (q, k, v, o) + 3·d·f (gated FFN of width f) weights; a
RetNet layer 8d² (retention with value width 2d) + 3·d·f_R. ``matched_transformer_config`` keeps the width d, the
depth and the head count, and picks the FFN width f that makes the totals equal (up to rounding f to an integer):
for the default RetNet (f_R = 4d/3) that is f = 8d/3, the 12d² per layer of both models in the paper (§3.1).

**KV cache.** ``forward(tokens, cache)`` appends the new keys and values of every layer to ``cache`` (a
``KVCache``, updated in place and returned) and attends from the new queries to all cached positions. Decoding one
token with the cache gives the same logits as running the full sequence (tests check it in float64); the cache
grows by 2·d numbers per token per layer, unlike RetNet's fixed-size state.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from retnet_edu._args import check_int as _check_int
from retnet_edu.layers import GatedFeedForward, RMSNorm, shared_position_factors
from retnet_edu.lm import DecodingPlan, TokenLM, matched_config
from retnet_edu.model import RetNetConfig
from retnet_edu.position import apply_rotation

__all__ = [
    "ATTENTIONS",
    "TransformerConfig",
    "KVCache",
    "causal_attention",
    "CausalSelfAttention",
    "TransformerBlock",
    "TransformerLM",
    "matched_transformer_config",
]

ATTENTIONS = ("sdpa", "naive")


@dataclass
class TransformerConfig:
    """Sizes of the baseline Transformer.

    ``ffn_dim`` defaults to round(8·embed_dim/3): with the gated FFN (3·d·f weights) a layer then holds
    4d² + 8d² = 12d² weights, like the RetNet layer. ``embed_dim / num_heads`` (the head width) must be even
    (the rotation turns coordinates in pairs). ``attention``: "sdpa" or "naive" (same numbers).
    """

    vocab_size: int
    embed_dim: int = 128
    num_layers: int = 2
    num_heads: int = 2
    ffn_dim: int | None = None
    norm_eps: float = 1e-6
    activation: str = "gelu"
    dropout: float = 0.0
    attention: str = "sdpa"

    def __post_init__(self):
        for name in ("vocab_size", "embed_dim", "num_layers", "num_heads"):
            val = getattr(self, name)
            if isinstance(val, bool) or not isinstance(val, numbers.Integral) or val < 1:
                raise ValueError(f"{name} must be a positive int, got {val!r}")
        if self.ffn_dim is None:
            self.ffn_dim = max(1, round(8 * self.embed_dim / 3))
        if isinstance(self.ffn_dim, bool) or not isinstance(self.ffn_dim, numbers.Integral) or self.ffn_dim < 1:
            raise ValueError(f"ffn_dim must be a positive int, got {self.ffn_dim!r}")
        if self.embed_dim % self.num_heads or (self.embed_dim // self.num_heads) % 2:
            raise ValueError(
                f"embed_dim ({self.embed_dim}) must split into num_heads ({self.num_heads}) heads of even width"
            )
        if self.activation not in ("gelu", "swish"):
            raise ValueError(f"activation must be 'gelu' or 'swish', got {self.activation!r}")
        if self.attention not in ATTENTIONS:
            raise ValueError(f"attention must be one of {ATTENTIONS}, got {self.attention!r}")
        if not (isinstance(self.dropout, numbers.Real) and 0.0 <= self.dropout < 1.0):
            raise ValueError(f"dropout must be a float in [0, 1), got {self.dropout!r}")
        if not (isinstance(self.norm_eps, numbers.Real) and math.isfinite(self.norm_eps) and self.norm_eps >= 0):
            raise ValueError(f"norm_eps must be a finite number >= 0, got {self.norm_eps!r}")

    @property
    def head_dim(self) -> int:
        return self.embed_dim // self.num_heads

    def num_parameters(self, exclude_embeddings: bool = False) -> int:
        """Weights of ``TransformerLM(self)``, counted from the sizes: per layer 4d² + 3·d·f + 2d (two RMSNorm
        gains); plus the final norm d; plus embedding and output projection 2·V·d (unless excluded)."""
        d, f = self.embed_dim, self.ffn_dim
        n = self.num_layers * (4 * d * d + 3 * d * f + 2 * d) + d
        return n if exclude_embeddings else n + 2 * self.vocab_size * d

    def to_dict(self) -> dict:
        return asdict(self)


# ----------------------------------------------------------------------------------------------------------
# the KV cache
# ----------------------------------------------------------------------------------------------------------
@dataclass
class KVCache:
    """Keys and values of every layer for the tokens seen so far.

    ``keys[i]``, ``values[i]``: (B, H, capacity, d_h) buffers of layer i, of which the first ``length`` positions
    are filled (keys are stored rotated). Capacity doubles when full, so appending is amortised O(1) per token.
    A cache is updated in place by the forward call it is passed to (and returned by it); to branch, ``clone()``.
    """

    keys: list[Tensor] = field(default_factory=list)
    values: list[Tensor] = field(default_factory=list)
    length: int = 0

    @property
    def offset(self) -> int:
        """The position of the next token (= the number of tokens cached); the name matches ``RetNetState``."""
        return self.length

    def layer(self, i: int) -> tuple[Tensor, Tensor]:
        """Layer i's filled keys and values, (B, H, length, d_h) views."""
        return self.keys[i][:, :, : self.length], self.values[i][:, :, : self.length]

    def append(self, i: int, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Write layer i's new keys/values (B, H, t, d_h) after the filled positions; return all of layer i's
        keys and values including the new ones. ``length`` is advanced separately (``advance``) once every layer
        has appended, so all layers agree on it."""
        t = k.shape[2]
        if i == len(self.keys):
            cap = max(16, t)
            shape = (k.shape[0], k.shape[1], cap, k.shape[3])
            self.keys.append(k.new_zeros(shape))
            self.values.append(v.new_zeros(shape[:3] + (v.shape[3],)))
        buf_k, buf_v = self.keys[i], self.values[i]
        if buf_k.shape[0] != k.shape[0] or buf_k.shape[1] != k.shape[1] or buf_k.shape[3] != k.shape[3]:
            raise ValueError(
                f"cache holds batch/heads/width {tuple(buf_k.shape[:2]) + (buf_k.shape[3],)}, the new keys "
                f"{tuple(k.shape[:2]) + (k.shape[3],)}"
            )
        if buf_k.dtype != k.dtype or buf_k.device != k.device:
            raise ValueError(f"cache is {buf_k.dtype} on {buf_k.device}, the new keys {k.dtype} on {k.device}")
        need = self.length + t
        if need > buf_k.shape[2]:
            cap = max(need, 2 * buf_k.shape[2])
            new_k = buf_k.new_zeros(buf_k.shape[:2] + (cap, buf_k.shape[3]))
            new_v = buf_v.new_zeros(buf_v.shape[:2] + (cap, buf_v.shape[3]))
            new_k[:, :, : self.length] = buf_k[:, :, : self.length]
            new_v[:, :, : self.length] = buf_v[:, :, : self.length]
            self.keys[i], self.values[i] = buf_k, buf_v = new_k, new_v
        buf_k[:, :, self.length : need] = k
        buf_v[:, :, self.length : need] = v
        return buf_k[:, :, :need], buf_v[:, :, :need]

    def advance(self, t: int) -> None:
        self.length += t

    def nbytes(self) -> int:
        """Bytes of the cached keys and values (filled positions only): 2 · layers · B · T · d · bytes per number,
        growing linearly with the number of tokens T."""
        return sum(2 * k[:, :, : self.length].numel() * k.element_size() for k in self.keys)

    def capacity_nbytes(self) -> int:
        """Bytes actually allocated (capacity ≥ length, since capacity doubles)."""
        return sum(
            k.numel() * k.element_size() + v.numel() * v.element_size()
            for k, v in zip(self.keys, self.values, strict=True)
        )

    def clone(self) -> KVCache:
        return KVCache([k.clone() for k in self.keys], [v.clone() for v in self.values], self.length)


# ----------------------------------------------------------------------------------------------------------
# attention
# ----------------------------------------------------------------------------------------------------------
def causal_attention(q: Tensor, k: Tensor, v: Tensor, offset: int = 0, impl: str = "naive") -> Tensor:
    r"""Causal softmax attention of new queries over all keys.

    ``q``: (B, H, t, d_h) for positions ``offset … offset+t-1``; ``k``, ``v``: (B, H, offset+t, d_h), the keys and
    values of positions 0 … offset+t-1. Query i may attend to key j iff ``j ≤ offset + i``.
    ``impl="naive"`` computes ``softmax(q kᵀ/√d_h + M) v`` as written; ``"sdpa"`` calls
    ``F.scaled_dot_product_attention`` (same numbers up to rounding).
    """
    if impl not in ATTENTIONS:
        raise ValueError(f"impl must be one of {ATTENTIONS}, got {impl!r}")
    if q.dim() != 4 or k.dim() != 4 or v.dim() != 4:
        raise ValueError(
            f"q, k, v must be 4-D (B, H, T, d_h), got {tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}"
        )
    t, total = q.shape[2], k.shape[2]
    if total != offset + t or v.shape[2] != total:
        raise ValueError(f"k and v must hold offset + t = {offset + t} positions, got {total} and {v.shape[2]}")
    if impl == "sdpa":
        if offset == 0:
            return F.scaled_dot_product_attention(q, k, v, is_causal=True)
        if t == 1:
            return F.scaled_dot_product_attention(q, k, v)  # one new token sees every cached position
        mask = torch.ones(t, total, dtype=torch.bool, device=q.device).tril(diagonal=offset)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    scores = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
    allowed = torch.ones(t, total, dtype=torch.bool, device=q.device).tril(diagonal=offset)
    scores = scores.masked_fill(~allowed, float("-inf"))
    return torch.softmax(scores, dim=-1) @ v


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention with rotary positions: q, k, v, o projections (no bias), d_h = d/H."""

    def __init__(self, embed_dim: int, num_heads: int, attention: str = "sdpa"):
        super().__init__()
        self.embed_dim = _check_int(embed_dim, "embed_dim")
        self.num_heads = _check_int(num_heads, "num_heads")
        if embed_dim % num_heads or (embed_dim // num_heads) % 2:
            raise ValueError(f"embed_dim ({embed_dim}) must split into num_heads ({num_heads}) heads of even width")
        if attention not in ATTENTIONS:
            raise ValueError(f"attention must be one of {ATTENTIONS}, got {attention!r}")
        self.attention = attention
        self.head_dim = embed_dim // num_heads
        self.q_proj = nn.Linear(embed_dim, embed_dim, bias=False)
        self.k_proj = nn.Linear(embed_dim, embed_dim, bias=False)
        self.v_proj = nn.Linear(embed_dim, embed_dim, bias=False)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=False)
        for lin in (self.q_proj, self.k_proj, self.v_proj, self.out_proj):
            nn.init.xavier_uniform_(lin.weight)

    def forward(self, x: Tensor, cache: KVCache | None = None, layer: int = 0) -> Tensor:
        """``x``: (B, t, d). With a cache, the new tokens sit at positions ``cache.length …`` and attend to the
        cached ones too; their keys/values are appended to the cache (its length is advanced by the model)."""
        bsz, t, _ = x.shape
        h, d_h = self.num_heads, self.head_dim
        offset = 0 if cache is None else cache.length
        with shared_position_factors():  # q and k share one rotation (every layer does inside TransformerLM.forward)
            q = apply_rotation(self.q_proj(x).view(bsz, t, h, d_h).transpose(1, 2), offset)
            k = apply_rotation(self.k_proj(x).view(bsz, t, h, d_h).transpose(1, 2), offset)
        v = self.v_proj(x).view(bsz, t, h, d_h).transpose(1, 2)
        if cache is not None:
            k, v = cache.append(layer, k, v)
        o = causal_attention(q, k, v, offset, self.attention)
        return self.out_proj(o.transpose(1, 2).reshape(bsz, t, h * d_h))

    def mixing_matrix(self, x: Tensor, index: int) -> dict:
        r"""The T × T matrix by which head ``index`` combines positions of one sequence ``x`` (1, T, d) (the
        block's normed input): ``M = softmax(q kᵀ/√d_h + causal mask)``, so that the head's output is ``M v``.
        Returns ``{"full": M, "fixed": the causal mask (ones on and below the diagonal), "kind": "attention"}``."""
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < self.num_heads:
            raise ValueError(f"index must be a head number in [0, {self.num_heads}), got {index!r}")
        if x.dim() != 3 or x.shape[0] != 1 or x.shape[2] != self.embed_dim:
            raise ValueError(f"x must have shape (1, T, {self.embed_dim}), got {tuple(x.shape)}")
        t, h = x.shape[1], self.num_heads
        q = apply_rotation(self.q_proj(x).view(1, t, h, -1).transpose(1, 2))
        k = apply_rotation(self.k_proj(x).view(1, t, h, -1).transpose(1, 2))
        causal = torch.ones(t, t, dtype=torch.bool, device=x.device).tril()
        scores = (q[0, index] @ k[0, index].T) / math.sqrt(self.head_dim)
        full = torch.softmax(scores.masked_fill(~causal, float("-inf")), dim=-1)
        return {"full": full, "fixed": causal.to(full.dtype), "kind": "attention"}


class TransformerBlock(nn.Module):
    """``Y = X + Attn(RMSNorm(X))``; ``X' = Y + FFN(RMSNorm(Y))`` (pre-norm, like ``RetNetBlock``)."""

    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.attention_layer_norm = RMSNorm(config.embed_dim, eps=config.norm_eps)
        self.attention = CausalSelfAttention(config.embed_dim, config.num_heads, config.attention)
        self.final_layer_norm = RMSNorm(config.embed_dim, eps=config.norm_eps)
        self.ffn = GatedFeedForward(config.embed_dim, config.ffn_dim, config.activation)
        self.dropout = nn.Dropout(float(config.dropout))

    def forward(self, x: Tensor, cache: KVCache | None = None, layer: int = 0) -> Tensor:
        x = x + self.dropout(self.attention(self.attention_layer_norm(x), cache, layer))
        return x + self.dropout(self.ffn(self.final_layer_norm(x)))

    @property
    def token_mixer(self) -> CausalSelfAttention:
        """The block's token mixer, under the name every block of the course answers to (here ``attention``)."""
        return self.attention

    @property
    def mixer_norm(self) -> RMSNorm:
        """The norm in front of the token mixer (here ``attention_layer_norm``)."""
        return self.attention_layer_norm


class TransformerLM(TokenLM):
    """A decoder-only Transformer language model: the RetNetLM layout with attention in place of retention."""

    kind = "transformer"
    config_class = TransformerConfig

    def __init__(self, config: TransformerConfig):
        super().__init__(config)
        self._build_layout(config, lambda: TransformerBlock(config))

    def forward(self, tokens: Tensor, state: KVCache | None = None) -> tuple[Tensor, KVCache | None]:
        """``tokens``: (B, T) ids. Returns ``(logits, state)``: logits (B, T, vocab).

        The state is a ``KVCache``. Without one (``state=None``) the sequence starts at position 0 and no cache is
        kept (training); ``None`` is returned in its place. To decode, pass ``KVCache()`` (empty, what
        ``decoding_state()`` returns) with the prompt and then the returned cache with each new token: the cache is
        extended in place, and the logits equal those of the full sequence.
        """
        self.check_tokens(tokens)
        cache = state
        if cache is not None:
            if not isinstance(cache, KVCache):
                raise TypeError(f"state must be a KVCache or None, got {type(cache).__name__}")
            if cache.keys and len(cache.keys) != len(self.layers):
                raise ValueError(f"cache has {len(cache.keys)} layers, the model {len(self.layers)}")
            if cache.keys and cache.keys[0].shape[0] != tokens.shape[0]:
                raise ValueError(f"cache holds batch size {cache.keys[0].shape[0]}, tokens have {tokens.shape[0]}")
        x = self.embed_tokens(tokens)
        if tokens.shape[1] == 0:
            return self.output_projection(self.layer_norm(x)), cache
        with shared_position_factors():  # rotation factors made once, used by every layer
            for i, layer in enumerate(self.layers):
                x = layer(x, cache, i)
        if cache is not None:
            cache.advance(tokens.shape[1])
        return self.output_projection(self.layer_norm(x)), cache

    def decoding_state(self) -> KVCache:
        """An empty ``KVCache``: decoding fills it with the prompt's keys and values, then one token at a time."""
        return KVCache()

    def decoding_plan(self, use_cache: bool = True) -> DecodingPlan:
        """``generate``'s option: ``use_cache=True`` reads the prompt once into a ``KVCache``, then each new token
        costs one step that attends to every cached position (its cost grows with the length, unlike RetNet's
        recurrent step); ``use_cache=False`` recomputes the whole sequence for every token. Same tokens."""
        if not isinstance(use_cache, bool):
            raise TypeError(f"use_cache must be a bool, got {type(use_cache).__name__}")
        return DecodingPlan(stateful=use_cache)


# ----------------------------------------------------------------------------------------------------------
# size matching
# ----------------------------------------------------------------------------------------------------------
def matched_transformer_config(retnet: RetNetConfig, tolerance: float = 0.05, **overrides) -> TransformerConfig:
    """A ``TransformerConfig`` with the same vocabulary, width, depth and heads as ``retnet`` and the FFN width
    that makes its parameter count equal to the RetNet's (to within one FFN column per layer).

    ``overrides`` (e.g. ``attention="naive"``, ``dropout=0.1``) are passed to ``TransformerConfig``; overriding a
    size is allowed as long as the counts still agree within ``tolerance`` (relative, default ±5 %), else
    ValueError. The RetNet's norm eps, activation and dropout are carried over unless overridden.
    """
    if not isinstance(retnet, RetNetConfig):
        raise TypeError(f"retnet must be a RetNetConfig, got {type(retnet).__name__}")
    fields = dict(
        vocab_size=retnet.vocab_size,
        embed_dim=retnet.embed_dim,
        num_layers=retnet.num_layers,
        num_heads=retnet.num_heads,
        norm_eps=retnet.norm_eps,
        activation=retnet.activation,
        dropout=retnet.dropout,
    )
    return matched_config(retnet.num_parameters(), TransformerConfig, tolerance, **{**fields, **overrides})
