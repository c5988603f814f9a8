r"""RetNet's successors as language models: the recurrences of ``retnet_edu.successors`` inside the RetNet block,
and the hybrid that swaps some of those layers for attention (notebook 12 and its recall sweep, ``benchmarks/recall``).

One token mixer, ``RecurrentMixer``, runs any of five update rules (``RULES``) on the same projections, so that a
comparison between them changes the rule and nothing else. For an input x (B, T, E) and each head h:

- ``q, k, v = SiLU(ShortConv(x W_Q)), SiLU(ShortConv(x W_K)), SiLU(ShortConv(x W_V))``: a causal depthwise convolution
  over the last ``conv_size`` tokens (the "short convolution" of GLA, DeltaNet and Mamba-2's reference code), which
  lets a layer see the previous token without positions; there is no rotation. Keys are scaled by d_k^(-1/2), or, for
  the two delta rules, q and k are L2-normalised (DeltaNet's keys must have unit norm, ``delta_rule``'s docstring);
- the state update of the rule (``successors``; the decay is ``exp(log_gamma)``):

  - ``retention``: ``S_n = γ_h S_{n-1} + k_nᵀ v_n`` (RetNet's eq. 6), γ_h the paper's LM schedule, no gate;
  - ``gated_retention``: ``S_n = γ_n S_{n-1} + k_nᵀ v_n``, ``log γ_n = logsigmoid(x_n w_h + b_h)/τ``;
  - ``gla``: ``S_n = diag(α_n) S_{n-1} + k_nᵀ v_n``, ``log α_n = logsigmoid(x_n W_1 W_2 + b)/τ`` (per key channel);
  - ``deltanet``: ``S_n = (I − β_n k_nᵀ k_n) S_{n-1} + β_n k_nᵀ v_n``, ``β_n = sigmoid(x_n w_β)``;
  - ``gated_deltanet``: ``S_n = γ_n (I − β_n k_nᵀ k_n) S_{n-1} + β_n k_nᵀ v_n``, γ_n and β_n as above

  (τ = ``gate_temperature`` = 16, YOCO's and GLA's choice, keeps the initial gates near 1: a long memory to start
  from; GLA's gate is low-rank, W_1 (E × ``gate_rank``) W_2, as in its paper);
- ``o_n = q_n S_n``, then RetNet's output path: group norm per head, the swish gate ``SiLU(x W_G)``, ``W_O``.

``retention`` with the conv is the fair baseline of the family (RetNet's rule with its successors' inputs);
RetNet itself (``retnet_edu.model``) has the rotation and no conv. A ``RecurrentLM`` stacks ``num_layers`` blocks
(pre-norm, the gated feed-forward, like every model of the course); the layers listed in ``attention_layers`` are
``TransformerBlock``\ s instead (causal softmax attention with rotary positions): ``attention_layers=(3,)`` with four
layers is the 3:1 pattern of current hybrid models.

The model runs in the ``mode`` its config names (the three modes of ``successors`` give the same logits, tested). It
carries no state between calls (``carries_state = False``: decoding recomputes); ``state_bytes`` gives the size the
recurrent state of a decoder would have (float32), to compare with a Transformer's KV cache.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from retnet_edu.baselines.transformer import TransformerBlock, TransformerConfig
from retnet_edu.layers import GatedFeedForward, RMSNorm, group_rms_norm, shared_position_factors
from retnet_edu.lm import TokenLM, matched_config
from retnet_edu.model import RetNetConfig
from retnet_edu.retention import lm_decay_gammas
from retnet_edu.successors import MODES, delta_rule, gated_retention, gla

__all__ = [
    "RULES",
    "RecurrentConfig",
    "ShortConv",
    "RecurrentMixer",
    "RecurrentBlock",
    "RecurrentLM",
    "matched_recurrent_config",
]

RULES = ("retention", "gated_retention", "gla", "deltanet", "gated_deltanet")
_GATED = ("gated_retention", "gated_deltanet")
_DELTA = ("deltanet", "gated_deltanet")


def _positive_int(obj, name: str) -> None:
    val = getattr(obj, name)
    if isinstance(val, bool) or not isinstance(val, numbers.Integral) or val < 1:
        raise ValueError(f"{name} must be a positive int, got {val!r}")


@dataclass
class RecurrentConfig:
    """Sizes of a ``RecurrentLM``. ``value_dim`` defaults to 2·embed_dim and ``ffn_dim`` to 4·embed_dim/3, as
    RetNet's (so the state per head, d_k × d_v, is RetNet's too). ``rule``: one of ``RULES``. ``attention_layers``:
    indices of layers that are attention blocks (a hybrid). ``mode``/``chunk_size``: how the recurrence runs."""

    vocab_size: int
    embed_dim: int = 128
    num_layers: int = 2
    num_heads: int = 2
    rule: str = "gated_deltanet"
    value_dim: int | None = None
    ffn_dim: int | None = None
    conv_size: int = 4
    gate_rank: int = 16
    gate_temperature: float = 16.0
    attention_layers: tuple[int, ...] = ()
    norm_eps: float = 1e-6
    activation: str = "gelu"
    dropout: float = 0.0
    mode: str = "parallel"
    chunk_size: int = 64

    def __post_init__(self):
        for name in ("vocab_size", "embed_dim", "num_layers", "num_heads", "conv_size", "gate_rank", "chunk_size"):
            _positive_int(self, name)
        if self.value_dim is None:
            self.value_dim = 2 * self.embed_dim
        if self.ffn_dim is None:
            self.ffn_dim = max(1, round(4 * self.embed_dim / 3))
        for name in ("value_dim", "ffn_dim"):
            _positive_int(self, name)
        if self.rule not in RULES:
            raise ValueError(f"rule must be one of {RULES}, got {self.rule!r}")
        if self.embed_dim % self.num_heads or (self.embed_dim // self.num_heads) % 2:
            raise ValueError(
                f"embed_dim ({self.embed_dim}) must split into num_heads ({self.num_heads}) heads of even width"
            )
        if self.value_dim % self.num_heads:
            raise ValueError(f"value_dim ({self.value_dim}) must be divisible by num_heads ({self.num_heads})")
        if not (isinstance(self.gate_temperature, numbers.Real) and self.gate_temperature >= 1):
            raise ValueError(f"gate_temperature must be a number >= 1, got {self.gate_temperature!r}")
        if isinstance(self.attention_layers, list):
            self.attention_layers = tuple(self.attention_layers)
        if not isinstance(self.attention_layers, tuple) or any(
            isinstance(i, bool) or not isinstance(i, numbers.Integral) or not 0 <= i < self.num_layers
            for i in self.attention_layers
        ):
            raise ValueError(
                f"attention_layers must be a tuple of layer indices in [0, {self.num_layers}), "
                f"got {self.attention_layers!r}"
            )
        if len(set(self.attention_layers)) != len(self.attention_layers):
            raise ValueError(f"attention_layers must not repeat a layer, got {self.attention_layers!r}")
        if self.activation not in ("gelu", "swish"):
            raise ValueError(f"activation must be 'gelu' or 'swish', got {self.activation!r}")
        if not (isinstance(self.dropout, numbers.Real) and 0.0 <= self.dropout < 1.0):
            raise ValueError(f"dropout must be a float in [0, 1), got {self.dropout!r}")
        if not (isinstance(self.norm_eps, numbers.Real) and math.isfinite(self.norm_eps) and self.norm_eps >= 0):
            raise ValueError(f"norm_eps must be a finite number >= 0, got {self.norm_eps!r}")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")

    @property
    def key_dim(self) -> int:
        return self.embed_dim // self.num_heads

    @property
    def head_dim(self) -> int:
        return self.value_dim // self.num_heads

    def attention_config(self) -> TransformerConfig:
        """The config of the hybrid's attention blocks: this width, heads, FFN, norm and activation."""
        return TransformerConfig(
            vocab_size=self.vocab_size,
            embed_dim=self.embed_dim,
            num_layers=1,
            num_heads=self.num_heads,
            ffn_dim=self.ffn_dim,
            norm_eps=self.norm_eps,
            activation=self.activation,
            dropout=self.dropout,
        )

    def num_parameters(self, exclude_embeddings: bool = False) -> int:
        """Weights of ``RecurrentLM(self)`` (counted on a model built on the meta device: no memory, no time)."""
        with torch.device("meta"):
            return RecurrentLM(self).num_parameters(exclude_embeddings)

    def state_bytes(self, length: int, bytes_per_number: int = 4) -> int:
        """Bytes a decoder of this model keeps after ``length`` tokens: per recurrent layer the H states
        (d_k × d_v each) and the last ``conv_size - 1`` inputs of the three short convolutions; per attention layer
        the keys and values of every token (2 · length · E). float32 by default."""
        if isinstance(length, bool) or not isinstance(length, numbers.Integral) or length < 0:
            raise ValueError(f"length must be an int >= 0, got {length!r}")
        h, d_k, d_v, E, V = self.num_heads, self.key_dim, self.head_dim, self.embed_dim, self.value_dim
        recurrent = h * d_k * d_v + (self.conv_size - 1) * (2 * E + V)
        n_att = len(self.attention_layers)
        numbers_kept = (self.num_layers - n_att) * recurrent + n_att * 2 * length * E
        return numbers_kept * bytes_per_number

    def to_dict(self) -> dict:
        d = asdict(self)
        d["attention_layers"] = list(self.attention_layers)
        return d


class ShortConv(nn.Module):
    """A causal depthwise convolution over the last ``size`` tokens, then SiLU: ``y_n = SiLU(Σ_{j<size} w_j ⊙
    x_{n-j})`` (zeros before the sequence). ``x``: (B, T, C) → (B, T, C)."""

    def __init__(self, channels: int, size: int):
        super().__init__()
        self.size = size
        self.conv = nn.Conv1d(channels, channels, size, groups=channels, padding=size - 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        y = self.conv(x.transpose(1, 2))[..., : x.shape[1]]  # left padding only: causal
        return F.silu(y.transpose(1, 2))


class RecurrentMixer(nn.Module):
    """The token mixer of every ``RULES`` entry (this module's docstring). ``forward(x)``: (B, T, E) → (B, T, E)."""

    def __init__(self, config: RecurrentConfig):
        super().__init__()
        c = config
        self.rule, self.mode, self.chunk_size = c.rule, c.mode, c.chunk_size
        self.num_heads, self.key_dim, self.head_dim = c.num_heads, c.key_dim, c.head_dim
        self.norm_eps, self.temperature = c.norm_eps, float(c.gate_temperature)
        E, V, H = c.embed_dim, c.value_dim, c.num_heads
        self.q_proj = nn.Linear(E, E, bias=False)
        self.k_proj = nn.Linear(E, E, bias=False)
        self.v_proj = nn.Linear(E, V, bias=False)
        self.g_proj = nn.Linear(E, V, bias=False)
        self.out_proj = nn.Linear(V, E, bias=False)
        self.q_conv, self.k_conv, self.v_conv = (
            ShortConv(E, c.conv_size),
            ShortConv(E, c.conv_size),
            ShortConv(V, c.conv_size),
        )
        if c.rule in _GATED:
            self.gate_proj = nn.Linear(E, H, bias=True)
        if c.rule == "gla":
            self.gate_down = nn.Linear(E, c.gate_rank, bias=False)
            self.gate_proj = nn.Linear(c.gate_rank, E, bias=True)
        if c.rule in _DELTA:
            self.beta_proj = nn.Linear(E, H, bias=False)
        if c.rule == "retention":
            with torch.device("cpu"):  # the schedule is computed on the CPU even when the model is built on "meta"
                log_gamma = torch.log(lm_decay_gammas(H)).float()
            self.register_buffer("log_gamma", log_gamma, persistent=False)
        for lin in (self.q_proj, self.k_proj, self.v_proj, self.g_proj):
            nn.init.xavier_uniform_(lin.weight, gain=2**-2.5)
        nn.init.xavier_uniform_(self.out_proj.weight)

    def _heads(self, x: Tensor, d: int) -> Tensor:
        b, t, _ = x.shape
        return x.view(b, t, self.num_heads, d).transpose(1, 2)  # (B, H, T, d)

    def gates(self, x: Tensor) -> dict:
        """The rule's gates for x (B, T, E): ``log_gamma`` (B, H, T), ``log_alpha`` (B, H, T, d_k), ``beta``
        (B, H, T), those the rule uses."""
        b, t, _ = x.shape
        out = {}
        if self.rule == "retention":
            out["log_gamma"] = self.log_gamma.to(x.dtype)[None, :, None].expand(b, -1, t)
        elif self.rule in _GATED:
            out["log_gamma"] = (F.logsigmoid(self.gate_proj(x)) / self.temperature).transpose(1, 2)
        elif self.rule == "gla":
            out["log_alpha"] = self._heads(
                F.logsigmoid(self.gate_proj(self.gate_down(x))) / self.temperature, self.key_dim
            )
        if self.rule in _DELTA:
            out["beta"] = torch.sigmoid(self.beta_proj(x)).transpose(1, 2)
        return out

    def forward(self, x: Tensor) -> Tensor:
        b, t, _ = x.shape
        q = self._heads(self.q_conv(self.q_proj(x)), self.key_dim)
        k = self._heads(self.k_conv(self.k_proj(x)), self.key_dim)
        v = self._heads(self.v_conv(self.v_proj(x)), self.head_dim)
        g = self.gates(x)
        kw = dict(mode=self.mode, chunk_size=self.chunk_size)
        if self.rule in _DELTA:
            q, k = F.normalize(q, dim=-1), F.normalize(k, dim=-1)
            o, _ = delta_rule(q, k, v, g["beta"], log_gamma=g.get("log_gamma"), **kw)
        elif self.rule == "gla":
            o, _ = gla(q, k * self.key_dim**-0.5, v, g["log_alpha"], **kw)
        else:
            o, _ = gated_retention(q, k * self.key_dim**-0.5, v, g["log_gamma"], **kw)
        o = group_rms_norm(o, self.norm_eps).transpose(1, 2).reshape(b, t, -1)
        return self.out_proj(F.silu(self.g_proj(x)) * o)


class RecurrentBlock(nn.Module):
    """``Y = X + Mixer(RMSNorm(X))``; ``X' = Y + FFN(RMSNorm(Y))`` (pre-norm, like ``RetNetBlock``)."""

    def __init__(self, config: RecurrentConfig):
        super().__init__()
        self.mixer_layer_norm = RMSNorm(config.embed_dim, eps=config.norm_eps)
        self.mixer = RecurrentMixer(config)
        self.final_layer_norm = RMSNorm(config.embed_dim, eps=config.norm_eps)
        self.ffn = GatedFeedForward(config.embed_dim, config.ffn_dim, config.activation)
        self.dropout = nn.Dropout(float(config.dropout))

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.dropout(self.mixer(self.mixer_layer_norm(x)))
        return x + self.dropout(self.ffn(self.final_layer_norm(x)))

    @property
    def token_mixer(self) -> RecurrentMixer:
        return self.mixer

    @property
    def mixer_norm(self) -> RMSNorm:
        return self.mixer_layer_norm


class RecurrentLM(TokenLM):
    """A language model of ``RecurrentBlock``\\ s (and ``TransformerBlock``\\ s at ``attention_layers``)."""

    kind = "recurrent"
    config_class = RecurrentConfig
    carries_state = False

    def __init__(self, config: RecurrentConfig):
        super().__init__(config)
        attention = config.attention_config()
        counter = iter(range(config.num_layers))
        self._build_layout(
            config,
            lambda: TransformerBlock(attention) if next(counter) in config.attention_layers else RecurrentBlock(config),
        )

    def forward(self, tokens: Tensor, state=None) -> tuple[Tensor, None]:
        """``tokens``: (B, T) ids → ``(logits (B, T, vocab), None)``, in the config's ``mode``."""
        self.check_state_is_none(state)
        self.check_tokens(tokens)
        x = self.embed_tokens(tokens)
        if tokens.shape[1]:
            with shared_position_factors():  # the attention layers' rotation factors, made once
                for layer in self.layers:
                    x = layer(x)
        return self.output_projection(self.layer_norm(x)), None


def matched_recurrent_config(retnet: RetNetConfig, rule: str, tolerance: float = 0.02, **overrides) -> RecurrentConfig:
    """A ``RecurrentConfig`` of ``rule`` with the vocabulary, width, depth, heads and value width of ``retnet`` and the
    feed-forward width that makes its parameter count equal to the RetNet's (within ``tolerance``, default ±2 %;
    ValueError otherwise). ``overrides`` go to ``RecurrentConfig`` (e.g. ``attention_layers=(3,)``, ``mode``)."""
    if not isinstance(retnet, RetNetConfig):
        raise TypeError(f"retnet must be a RetNetConfig, got {type(retnet).__name__}")
    fields = dict(
        vocab_size=retnet.vocab_size,
        embed_dim=retnet.embed_dim,
        num_layers=retnet.num_layers,
        num_heads=retnet.num_heads,
        value_dim=retnet.value_dim,
        norm_eps=retnet.norm_eps,
        activation=retnet.activation,
        dropout=retnet.dropout,
        rule=rule,
    )
    return matched_config(retnet.num_parameters(), RecurrentConfig, tolerance, **{**fields, **overrides})
