"""The language-model protocol: one way to run, carry state, generate, count and size every model of the course.

``RetNetLM`` (``retnet_edu.model``), ``TransformerLM`` and ``HyenaLM`` (``retnet_edu.baselines``) are all
``TokenLM``\\ s. What code above them (the trainer, the long-range runner, the benchmarks) may rely on:

- **run**: ``logits, state = model(tokens)`` with ``tokens`` (B, T) integer ids and logits (B, T, vocab), the
  model running as its config says (RetNet: ``config.mode``);
- **carry state**: ``model(tokens, state=s)`` continues after the tokens that produced ``s``; ``state=None`` starts
  at position 0. ``model.decoding_state()`` is the state to start decoding with (RetNet: ``None``, its zero state;
  the Transformer: an empty ``KVCache``). A model with ``carries_state = False`` (Hyena here) accepts only
  ``state=None`` and returns ``None``;
- **generate**: one ``generate`` for all (prefill the prompt once, then one step per new token when the model carries
  state; recompute the whole sequence per token otherwise). Each model maps its own decoding options
  (RetNet's ``mode``/``prefill_mode``, the Transformer's ``use_cache``, Hyena's ``conv``) to a ``DecodingPlan``;
- **count and size**: ``num_parameters()`` counts the module's weights; ``config.num_parameters()`` counts them
  from the sizes alone; ``matched_config`` picks the feed-forward width that gives a baseline the parameter count
  of a target (the RetNet's);
- **build from a name**: ``TokenLM.registry`` maps each model's ``kind`` ("retnet", "transformer", "hyena") to its
  class, and ``build_lm(kind, config_dict)`` rebuilds a model from a checkpoint's record, with no dispatch on types.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from retnet_edu.layers import RMSNorm

__all__ = ["DecodingPlan", "TokenLM", "build_lm", "matched_config", "sample_next_token"]


def sample_next_token(
    logits: Tensor, temperature: float = 1.0, top_k: int | None = None, generator: torch.Generator | None = None
) -> Tensor:
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


@dataclass(frozen=True)
class DecodingPlan:
    """How ``generate`` runs a model: with ``stateful``, the prompt once with the ``prefill`` options into
    ``decoding_state()``, then one call per new token with the ``step`` options; without, the whole sequence so far
    with the ``prefill`` options for every new token (what a model without a cache has to do)."""

    stateful: bool
    prefill: dict = field(default_factory=dict)
    step: dict = field(default_factory=dict)


class TokenLM(nn.Module):
    """Base class of the course's language models: embedding, ``config.num_layers`` blocks, final RMSNorm, untied
    output projection, and the protocol in this module's docstring. Subclasses set ``kind`` and ``config_class``,
    build their layers with ``_build_layout`` and implement ``forward(tokens, state=None, ...)``."""

    kind: ClassVar[str] = ""
    config_class: ClassVar[type] = object
    carries_state: ClassVar[bool] = True
    registry: ClassVar[dict[str, type]] = {}
    max_len: int | None = None  # a model that cannot read longer inputs sets this

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("kind"):  # a class that names its own kind (not a subclass inheriting one)
            TokenLM.registry[cls.kind] = cls

    def __init__(self, config):
        super().__init__()
        if not isinstance(config, self.config_class):
            raise TypeError(f"config must be a {self.config_class.__name__}, got {type(config).__name__}")
        self.config = config

    def _build_layout(self, config, make_block: Callable[[], nn.Module]) -> None:
        """``embed_tokens``, ``config.num_layers`` blocks from ``make_block()``, ``layer_norm``, ``output_projection``,
        created in this order (it fixes which random numbers each module's initial weights get), then the embedding
        and the output projection re-drawn from N(0, 1/embed_dim)."""
        self.embed_tokens = nn.Embedding(config.vocab_size, config.embed_dim)
        self.layers = nn.ModuleList(make_block() for _ in range(config.num_layers))
        self.layer_norm = RMSNorm(config.embed_dim, eps=config.norm_eps)
        self.output_projection = nn.Linear(config.embed_dim, config.vocab_size, bias=False)
        nn.init.normal_(self.embed_tokens.weight, mean=0.0, std=config.embed_dim**-0.5)
        nn.init.normal_(self.output_projection.weight, mean=0.0, std=config.embed_dim**-0.5)

    # ------------------------------------------------------------------------------------------------------
    # state and decoding
    # ------------------------------------------------------------------------------------------------------
    def decoding_state(self) -> Any:
        """The state to pass with the prompt when decoding starts (``None``: the model's zero state)."""
        return None

    def decoding_plan(self, **options) -> DecodingPlan:
        """How ``generate`` runs this model, from the model's own decoding options (none here): with its state
        when it carries one. Subclasses with options override this and reject unknown ones."""
        if options:
            raise TypeError(f"unexpected decoding option(s) {sorted(options)} for {type(self).__name__}")
        return DecodingPlan(stateful=self.carries_state)

    def check_state_is_none(self, state) -> None:
        """For a model with ``carries_state = False``: only ``state=None`` is accepted."""
        if state is not None:
            raise ValueError(f"{type(self).__name__} carries no state between calls: pass state=None")

    @torch.no_grad()
    def generate(
        self,
        prompt: Tensor,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        generator: torch.Generator | None = None,
        **options,
    ) -> Tensor:
        """Continue ``prompt`` ((T,) or (B, T) token ids, T ≥ 1) by ``max_new_tokens`` tokens; returns prompt + new
        tokens in the shape the prompt came in.

        ``temperature`` = 0 is greedy decoding; ``top_k`` restricts sampling; ``generator`` seeds it. ``options``
        are the model's decoding options (see its ``decoding_plan``). With a state, the prompt is read once and
        every new token costs one step; without, the whole sequence is recomputed for every token. Both give the
        same tokens (up to rounding in the logits)."""
        plan = self.decoding_plan(**options)
        tokens, squeeze = self.check_prompt(prompt, max_new_tokens)
        was_training = self.training
        self.eval()
        try:
            if plan.stateful:
                logits, state = self(tokens, state=self.decoding_state(), **plan.prefill)
                for i in range(max_new_tokens):
                    nxt = sample_next_token(logits[:, -1], temperature, top_k, generator)
                    tokens = torch.cat([tokens, nxt[:, None]], dim=1)
                    if i + 1 < max_new_tokens:
                        logits, state = self(nxt[:, None], state=state, **plan.step)
            else:
                for _ in range(max_new_tokens):
                    logits, _ = self(tokens, **plan.prefill)
                    nxt = sample_next_token(logits[:, -1], temperature, top_k, generator)
                    tokens = torch.cat([tokens, nxt[:, None]], dim=1)
        finally:
            self.train(was_training)
        return tokens[0] if squeeze else tokens

    # ------------------------------------------------------------------------------------------------------
    # counting and checks
    # ------------------------------------------------------------------------------------------------------
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
            raise ValueError(
                f"tokens must lie in [0, vocab_size={self.config.vocab_size}), got values from "
                f"{int(tokens.min())} to {int(tokens.max())}"
            )
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


def build_lm(kind: str, config: dict) -> TokenLM:
    """A freshly initialised model of ``kind`` ("retnet", "transformer", "hyena") from its config's fields (the
    ``config.to_dict()`` a checkpoint or result file stores). The baselines register themselves when
    ``retnet_edu.baselines`` is imported."""
    if kind not in TokenLM.registry:
        raise ValueError(f"unknown model kind {kind!r}: expected one of {sorted(TokenLM.registry)}")
    cls = TokenLM.registry[kind]
    if not isinstance(config, dict):
        raise TypeError(f"config must be a dict of {cls.config_class.__name__} fields, got {type(config).__name__}")
    return cls(cls.config_class(**config))


def matched_config(
    target: int, make: Callable[..., Any], tolerance: float = 0.05, width: str = "ffn_dim", **fields
) -> Any:
    """The config ``make(**fields, width=w)`` whose ``num_parameters()`` is nearest ``target`` (to within one
    column of the feed-forward: counts are linear in the width). Size matching for every baseline happens here.

    ``fields`` that fix ``width`` themselves are kept as given; either way the result must be within
    ``tolerance`` (relative) of ``target``, else a ValueError names the overridden fields."""
    if not (isinstance(tolerance, numbers.Real) and 0 < tolerance < 1):
        raise ValueError(f"tolerance must be a number in (0, 1), got {tolerance!r}")
    if width not in fields:
        at1, at2 = make(**{**fields, width: 1}).num_parameters(), make(**{**fields, width: 2}).num_parameters()
        per_column = at2 - at1
        fields[width] = max(1, round(1 + (target - at1) / per_column))
    cfg = make(**fields)
    got = cfg.num_parameters()
    if abs(got - target) > tolerance * target:
        raise ValueError(
            f"the {type(cfg).__name__} model has {got:,} parameters, the target {target:,}: more than "
            f"{tolerance:.0%} apart (check the fields {sorted(fields)})"
        )
    return cfg
