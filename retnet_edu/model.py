"""The RetNet language model: token embedding, a stack of RetNet blocks, a final RMSNorm, an output projection.

Names follow torchscale's ``RetNetDecoder`` (``embed_tokens``, ``layers``, ``layer_norm``, ``output_projection``)
so that official weights load unchanged (see ``retnet_edu.torchscale_compat``).
"""

from __future__ import annotations

import numbers
from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn

from retnet_edu.layers import RetentionState, RetNetBlock, RMSNorm, check_mode, shared_position_factors
from retnet_edu.retention import decay_gammas, lm_decay_gammas

__all__ = ["RetNetConfig", "RetNetState", "RetNetLM", "TokenLM", "sample_next_token"]

DECAYS = ("eq8", "lm", "none")


@dataclass
class RetNetConfig:
    """Sizes of a RetNet language model.

    ``value_dim`` defaults to 2·embed_dim (the paper's allocation, §3.1) and ``ffn_dim`` to 4·embed_dim/3, so
    that a layer holds 12·embed_dim² weights like a Transformer layer (retention 8d², gated FFN 3·d·ffn_dim = 4d²).
    ``decay``: "eq8" (γ_h = 1 - 2^(-5-h), the official code's), "lm" (the paper's LM schedule, 1/(1-γ) from 32
    to 512) or "none" (γ = 1: linear attention without decay, a baseline). ``chunk_size`` is the default for
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
            raise ValueError(f"embed_dim ({self.embed_dim}) must split into num_heads ({self.num_heads}) heads "
                             "of even width")
        if self.value_dim % self.num_heads:
            raise ValueError(f"value_dim ({self.value_dim}) must be divisible by num_heads ({self.num_heads})")
        if self.decay not in DECAYS:
            raise ValueError(f"decay must be one of {DECAYS}, got {self.decay!r}")
        if self.activation not in ("gelu", "swish"):
            raise ValueError(f"activation must be 'gelu' or 'swish', got {self.activation!r}")

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

    def detach(self) -> "RetNetState":
        return RetNetState(tuple(s.detach() for s in self.layers))

    def nbytes(self) -> int:
        """Bytes held by the recurrent state: independent of how many tokens were consumed."""
        return sum(s.S.numel() * s.S.element_size() for s in self.layers)


def sample_next_token(logits: Tensor, temperature: float = 1.0, top_k: int | None = None,
                      generator: torch.Generator | None = None) -> Tensor:
    """Pick the next token from ``logits`` (B, vocab): greedy when temperature == 0, else sample from
    ``softmax(logits / temperature)`` restricted to the ``top_k`` most likely tokens when given. Returns (B,)."""
    if not isinstance(temperature, numbers.Real) or temperature < 0:
        raise ValueError(f"temperature must be a real number >= 0, got {temperature!r}")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, numbers.Integral) or top_k < 1):
        raise ValueError(f"top_k must be a positive int or None, got {top_k!r}")
    if temperature == 0:
        return logits.argmax(dim=-1)
    logits = logits.float() / temperature
    if top_k is not None and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


class TokenLM:
    """What the course's three language models (``RetNetLM``, ``TransformerLM``, ``HyenaLM``) share besides their
    layout (``embed_tokens``, ``layers``, ``layer_norm``, ``output_projection``, ``config.vocab_size``): counting
    parameters and checking token ids. A mixin with no state of its own, so that each model builds (and draws the
    random initial weights of) its modules in its own order."""

    max_len: int | None = None        # a model that cannot read longer inputs sets this

    def _build_layout(self, config, make_block) -> None:
        """``embed_tokens``, ``config.num_layers`` blocks from ``make_block()``, ``layer_norm``, ``output_projection``,
        created in this order (it fixes which random numbers each module's initial weights get), then the embedding
        and the output projection re-drawn from N(0, 1/embed_dim)."""
        self.embed_tokens = nn.Embedding(config.vocab_size, config.embed_dim)
        self.layers = nn.ModuleList(make_block() for _ in range(config.num_layers))
        self.layer_norm = RMSNorm(config.embed_dim, eps=config.norm_eps)
        self.output_projection = nn.Linear(config.embed_dim, config.vocab_size, bias=False)
        nn.init.normal_(self.embed_tokens.weight, mean=0.0, std=config.embed_dim ** -0.5)
        nn.init.normal_(self.output_projection.weight, mean=0.0, std=config.embed_dim ** -0.5)

    def num_parameters(self, exclude_embeddings: bool = False) -> int:
        """The number of weights; ``exclude_embeddings`` leaves out the token embedding and output projection."""
        n = sum(p.numel() for p in self.parameters())
        if exclude_embeddings:
            n -= self.embed_tokens.weight.numel() + self.output_projection.weight.numel()
        return n

    def check_tokens(self, tokens) -> Tensor:
        """``tokens`` unchanged if it is a (B, T) integer tensor of ids in [0, vocab_size) on the model's device
        (and T ≤ ``max_len`` where the model has one); otherwise a TypeError/ValueError naming ``tokens``."""
        if not isinstance(tokens, Tensor):
            raise TypeError(f"tokens must be a torch.Tensor of token ids, got {type(tokens).__name__}")
        if tokens.dtype == torch.bool or torch.is_floating_point(tokens) or torch.is_complex(tokens):
            raise TypeError(f"tokens must have an integer dtype, got {tokens.dtype}")
        if tokens.dim() != 2:
            raise ValueError(f"tokens must be 2-D (B, T), got shape {tuple(tokens.shape)}")
        if self.max_len is not None and tokens.shape[1] > self.max_len:
            raise ValueError(f"tokens hold T = {tokens.shape[1]} positions, more than max_len = {self.max_len}")
        if tokens.device != self.embed_tokens.weight.device:
            raise ValueError(f"tokens are on {tokens.device} but the model is on {self.embed_tokens.weight.device}")
        if tokens.numel() and (int(tokens.min()) < 0 or int(tokens.max()) >= self.config.vocab_size):
            raise ValueError(f"tokens must lie in [0, vocab_size={self.config.vocab_size}), got values from "
                             f"{int(tokens.min())} to {int(tokens.max())}")
        return tokens

    def check_prompt(self, prompt, max_new_tokens) -> tuple[Tensor, bool]:
        """The checks ``generate`` starts with: ``max_new_tokens`` an int ≥ 0, ``prompt`` a non-empty (T,) or (B, T)
        tensor of valid ids. Returns the prompt as (B, T) and whether it came as (T,)."""
        if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, numbers.Integral) or max_new_tokens < 0:
            raise ValueError(f"max_new_tokens must be an int >= 0, got {max_new_tokens!r}")
        if not isinstance(prompt, Tensor):
            raise TypeError(f"prompt must be a torch.Tensor of token ids, got {type(prompt).__name__}")
        squeeze = prompt.dim() == 1
        tokens = prompt.unsqueeze(0) if squeeze else prompt
        self.check_tokens(tokens)
        if tokens.shape[1] < 1:
            raise ValueError("prompt must hold at least one token")
        return tokens, squeeze


class RetNetLM(TokenLM, nn.Module):
    """A decoder-only RetNet language model (pre-norm blocks, final RMSNorm, untied output projection)."""

    def __init__(self, config: RetNetConfig):
        super().__init__()
        if not isinstance(config, RetNetConfig):
            raise TypeError(f"config must be a RetNetConfig, got {type(config).__name__}")
        self.config = config
        gamma = config.gammas()
        self._build_layout(config, lambda: RetNetBlock(
            config.embed_dim, config.value_dim, config.num_heads, config.ffn_dim, norm_eps=config.norm_eps,
            activation=config.activation, dropout=config.dropout, gamma=gamma))

    def forward(self, tokens: Tensor, mode: str = "parallel", chunk_size: int | None = None,
                state: RetNetState | None = None) -> tuple[Tensor, RetNetState]:
        """``tokens``: (B, T) integer ids. Returns ``(logits, state)``: logits (B, T, vocab) and the state after
        the last token. Any mode ("parallel", "recurrent", "chunkwise") gives the same logits; a state from any mode continues in any
        mode. ``chunk_size`` defaults to ``config.chunk_size`` in chunkwise mode."""
        self.check_tokens(tokens)
        check_mode(mode)
        if state is not None:
            if not isinstance(state, RetNetState):
                raise TypeError(f"state must be a RetNetState or None, got {type(state).__name__}")
            if len(state.layers) != len(self.layers):
                raise ValueError(f"state has {len(state.layers)} layers, the model {len(self.layers)}")
        if mode == "chunkwise" and chunk_size is None:
            chunk_size = self.config.chunk_size
        x = self.embed_tokens(tokens)
        new_states = []
        with shared_position_factors():        # rotation and decay factors made once, used by every layer
            for i, layer in enumerate(self.layers):
                x, s = layer(x, mode=mode, chunk_size=chunk_size, state=None if state is None else state.layers[i])
                new_states.append(s)
        logits = self.output_projection(self.layer_norm(x))
        return logits, RetNetState(tuple(new_states))

    @torch.no_grad()
    def generate(self, prompt: Tensor, max_new_tokens: int, temperature: float = 1.0, top_k: int | None = None,
                 mode: str = "recurrent", generator: torch.Generator | None = None,
                 prefill_mode: str | None = None) -> Tensor:
        """Continue ``prompt`` ((T,) or (B, T) token ids, T ≥ 1) by ``max_new_tokens`` tokens.

        - mode "recurrent": the prompt is consumed once (in ``prefill_mode``, default "recurrent"; "parallel" or
          "chunkwise" prefill the prompt in one call), then each new token costs one O(1) recurrent step;
        - mode "parallel" or "chunkwise": every new token recomputes the whole sequence so far in that mode, as a
          model without a cache would.

        ``temperature`` = 0 is greedy decoding; ``top_k`` restricts sampling; ``generator`` seeds it.
        All modes produce the same tokens (up to rounding in the logits). Returns prompt + new tokens, in the
        shape the prompt came in.
        """
        check_mode(mode)
        if prefill_mode is not None:
            check_mode(prefill_mode)
        tokens, squeeze = self.check_prompt(prompt, max_new_tokens)
        was_training = self.training
        self.eval()
        try:
            if mode == "recurrent":
                logits, state = self(tokens, mode=prefill_mode or "recurrent")
                last = logits[:, -1]
                for i in range(max_new_tokens):
                    nxt = sample_next_token(last, temperature, top_k, generator)
                    tokens = torch.cat([tokens, nxt[:, None]], dim=1)
                    if i + 1 < max_new_tokens:
                        logits, state = self(nxt[:, None], mode="recurrent", state=state)
                        last = logits[:, -1]
            else:
                for _ in range(max_new_tokens):
                    logits, _ = self(tokens, mode=mode)
                    nxt = sample_next_token(logits[:, -1], temperature, top_k, generator)
                    tokens = torch.cat([tokens, nxt[:, None]], dim=1)
        finally:
            self.train(was_training)
        return tokens[0] if squeeze else tokens

