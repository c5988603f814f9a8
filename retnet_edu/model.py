"""The RetNet language model: token embedding, a stack of RetNet blocks, a final RMSNorm, an output projection.

Names follow torchscale's ``RetNetDecoder`` (``embed_tokens``, ``layers``, ``layer_norm``, ``output_projection``)
so that official weights load unchanged (see ``retnet_edu.torchscale_compat``).
"""

from __future__ import annotations

import numbers
from dataclasses import asdict, dataclass

import torch
from torch import Tensor

from retnet_edu.layers import MODES, RetentionState, RetNetBlock, check_mode, shared_position_factors
from retnet_edu.lm import DecodingPlan, TokenLM
from retnet_edu.retention import decay_gammas, lm_decay_gammas

__all__ = ["RetNetConfig", "RetNetState", "RetNetLM"]

DECAYS = ("eq8", "lm", "none")


@dataclass
class RetNetConfig:
    """Sizes of a RetNet language model.

    ``value_dim`` defaults to 2·embed_dim (the paper's allocation, §3.1) and ``ffn_dim`` to 4·embed_dim/3, so
    that a layer holds 12·embed_dim² weights like a Transformer layer (retention 8d², gated FFN 3·d·ffn_dim = 4d²).
    ``decay``: "eq8" (γ_h = 1 - 2^(-5-h), the official code's), "lm" (the paper's LM schedule, 1/(1-γ) from 32
    to 512) or "none" (γ = 1: linear attention without decay, a baseline). ``mode`` is the mode ``forward`` runs in
    when the call names none (a trainer sets "parallel" or "chunkwise" here), ``chunk_size`` the default for
    chunkwise mode.
    """

    vocab_size: int
    embed_dim: int = 128
    num_layers: int = 2
    num_heads: int = 2
    value_dim: int | None = None
    ffn_dim: int | None = None
    norm_eps: float = 1e-6
    activation: str = "gelu"
    chunk_size: int = 64
    dropout: float = 0.0
    decay: str = "eq8"
    mode: str = "parallel"

    def __post_init__(self):
        for name in ("vocab_size", "embed_dim", "num_layers", "num_heads", "chunk_size"):
            val = getattr(self, name)
            if isinstance(val, bool) or not isinstance(val, numbers.Integral) or val < 1:
                raise ValueError(f"{name} must be a positive int, got {val!r}")
        if self.value_dim is None:
            self.value_dim = 2 * self.embed_dim
        if self.ffn_dim is None:
            self.ffn_dim = max(1, round(4 * self.embed_dim / 3))
        for name in ("value_dim", "ffn_dim"):
            val = getattr(self, name)
            if isinstance(val, bool) or not isinstance(val, numbers.Integral) or val < 1:
                raise ValueError(f"{name} must be a positive int, got {val!r}")
        if self.embed_dim % self.num_heads or (self.embed_dim // self.num_heads) % 2:
            raise ValueError(
                f"embed_dim ({self.embed_dim}) must split into num_heads ({self.num_heads}) heads of even width"
            )
        if self.value_dim % self.num_heads:
            raise ValueError(f"value_dim ({self.value_dim}) must be divisible by num_heads ({self.num_heads})")
        if self.decay not in DECAYS:
            raise ValueError(f"decay must be one of {DECAYS}, got {self.decay!r}")
        if self.activation not in ("gelu", "swish"):
            raise ValueError(f"activation must be 'gelu' or 'swish', got {self.activation!r}")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")

    def num_parameters(self, exclude_embeddings: bool = False) -> int:
        """Weights of ``RetNetLM(self)``, counted from the sizes: per layer 2d² (q, k) + 3·d·V (v, g, out) +
        3·d·f (gated FFN) + 2d (two RMSNorm gains); plus the final norm d; plus 2·vocab·d (unless excluded).
        With V = 2d and f = 4d/3 a layer holds 12d² (+ 2d), as in the paper (§3.1)."""
        d, V, f = self.embed_dim, self.value_dim, self.ffn_dim
        n = self.num_layers * (2 * d * d + 3 * d * V + 3 * d * f + 2 * d) + d
        return n if exclude_embeddings else n + 2 * self.vocab_size * d

    def gammas(self) -> Tensor:
        """The per-head decay rates (float64) this config asks for."""
        if self.decay == "eq8":
            return decay_gammas(self.num_heads)
        if self.decay == "lm":
            return lm_decay_gammas(self.num_heads)
        return torch.ones(self.num_heads, dtype=torch.float64)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class RetNetState:
    """One ``RetentionState`` per layer; ``offset`` = the number of tokens consumed so far."""

    layers: tuple[RetentionState, ...]

    @property
    def offset(self) -> int:
        return self.layers[0].offset

    def detach(self) -> RetNetState:
        return RetNetState(tuple(s.detach() for s in self.layers))

    def nbytes(self) -> int:
        """Bytes held by the recurrent state: independent of how many tokens were consumed."""
        return sum(s.S.numel() * s.S.element_size() for s in self.layers)


class RetNetLM(TokenLM):
    """A decoder-only RetNet language model (pre-norm blocks, final RMSNorm, untied output projection)."""

    kind = "retnet"
    config_class = RetNetConfig

    def __init__(self, config: RetNetConfig):
        super().__init__(config)
        gamma = config.gammas()
        self._build_layout(
            config,
            lambda: RetNetBlock(
                config.embed_dim,
                config.value_dim,
                config.num_heads,
                config.ffn_dim,
                norm_eps=config.norm_eps,
                activation=config.activation,
                dropout=config.dropout,
                gamma=gamma,
            ),
        )

    def forward(
        self, tokens: Tensor, mode: str | None = None, chunk_size: int | None = None, state: RetNetState | None = None
    ) -> tuple[Tensor, RetNetState]:
        """``tokens``: (B, T) integer ids. Returns ``(logits, state)``: logits (B, T, vocab) and the state after
        the last token. Any mode ("parallel", "recurrent", "chunkwise") gives the same logits; a state from any mode
        continues in any mode. ``mode`` defaults to ``config.mode`` ("parallel" unless set), ``chunk_size`` to
        ``config.chunk_size`` in chunkwise mode."""
        self.check_tokens(tokens)
        mode = check_mode(self.config.mode if mode is None else mode)
        if state is not None:
            if not isinstance(state, RetNetState):
                raise TypeError(f"state must be a RetNetState or None, got {type(state).__name__}")
            if len(state.layers) != len(self.layers):
                raise ValueError(f"state has {len(state.layers)} layers, the model {len(self.layers)}")
        if mode == "chunkwise" and chunk_size is None:
            chunk_size = self.config.chunk_size
        x = self.embed_tokens(tokens)
        new_states = []
        with shared_position_factors():  # rotation and decay factors made once, used by every layer
            for i, layer in enumerate(self.layers):
                x, s = layer(x, mode=mode, chunk_size=chunk_size, state=None if state is None else state.layers[i])
                new_states.append(s)
        logits = self.output_projection(self.layer_norm(x))
        return logits, RetNetState(tuple(new_states))

    def decoding_plan(self, mode: str = "recurrent", prefill_mode: str | None = None) -> DecodingPlan:
        """``generate``'s options for RetNet:

        - ``mode="recurrent"`` (default): the prompt is read once (in ``prefill_mode``, default "recurrent";
          "parallel" or "chunkwise" read it in one call), then each new token costs one O(1) recurrent step;
        - ``mode="parallel"`` or ``"chunkwise"``: every new token recomputes the whole sequence in that mode, as a
          model without a state would.
        """
        check_mode(mode)
        if prefill_mode is not None:
            check_mode(prefill_mode)
        if mode == "recurrent":
            return DecodingPlan(True, prefill={"mode": prefill_mode or "recurrent"}, step={"mode": "recurrent"})
        return DecodingPlan(False, prefill={"mode": mode})
