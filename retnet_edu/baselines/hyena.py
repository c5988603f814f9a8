r"""Hyena (Poli et al. 2023, "Hyena Hierarchy: Towards Larger Convolutional Language Models", arXiv 2302.10866):
the order-2 operator, a block and a language model built from the same parts as ``RetNetLM``.

The operator, for an input ``X`` (B, T, d), written as the reference code (HazyResearch/safari) computes it:

1. **projections** (the paper's Algorithm 1): ``[x1, x2, v] = X W_in`` (d → 3d), then a *short* causal depthwise
   convolution of width 3 along the sequence on each of the 3d channels: token n mixes tokens n-2, n-1, n;
2. **implicit long filter** (Algorithm 2): one filter ``h[c, t]``, t = 0 … T-1, per channel c, *generated* by a
   small MLP from a positional encoding of t (sin activations), times an exponential-decay window
   ``exp(-α_c t)`` whose rate differs across channels (some filters fade within 30 % of ``max_len``, others
   stay long); its parameters do not grow with T;
3. **long convolution + gating** (Algorithm 3, the recurrence of Def. 3.1): ``u = x2 ⊙ v``,
   ``z = h * u + D ⊙ u`` (a causal convolution over the whole sequence, computed with the FFT in O(T log T),
   plus a learned per-channel skip ``D``), ``y = x1 ⊙ z``, then the output projection ``W_out`` (d → d).

So ``Hyena(X) = W_out( x1 ⊙ (h * (x2 ⊙ v) + D ⊙ x2 ⊙ v) )``: two element-wise gates computed from the input
(data-controlled, like attention's weights) around one long convolution whose filter does not depend on the data.

**"Order 2" and the paper's Def. 3.1.** The paper's order-N recurrence is ``z¹ = v``,
``z^{n+1} = x^n ⊙ (h^n * z^n)``, ``y = z^{N+1}``, with N filters. The reference code realises N = 2 with the *short*
explicit convolution as the first filter (applied to all three projections at once, as in H3's shift SSM) and the
implicit long filter as the second, which is what this module does; the paper says H3 is Hyena of order 2 in the
same sense. As a matrix acting on v: ``diag(x1) T_h diag(x2)`` with T_h the Toeplitz matrix of the filter.

**Departures from the reference code** (none changes what is computed in the forward pass, up to the points noted):
the projections have no bias (like every other model of the course); the positional encoding is a fixed buffer
(the reference code learns it with learning rate 1e-5); the window is ``exp(-|δ_c| t)`` with no shift (the
reference default); one course-wide optimiser (the reference code gives the filter MLP its own learning rate and
no weight decay); the filter is not normalised (the reference default). Causal, for language modelling.

The block and the LM follow ``RetNetBlock``/``RetNetLM``: pre-norm ``RMSNorm`` residual branches, the same gated
feed-forward, a final RMSNorm and an untied output projection. ``matched_hyena_config`` picks the feed-forward
width that gives the Hyena LM the parameter count of a given RetNet (the operator holds ~4d², like attention).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from retnet_edu._args import check_int as _check_int
from retnet_edu._args import check_real as _check_real
from retnet_edu.layers import GatedFeedForward, RMSNorm, check_hidden_states
from retnet_edu.lm import DecodingPlan, TokenLM, matched_config
from retnet_edu.model import RetNetConfig

__all__ = [
    "fft_causal_conv",
    "direct_causal_conv",
    "short_causal_conv",
    "filter_positional_encoding",
    "exponential_window_rates",
    "ImplicitFilter",
    "HyenaOperator",
    "HyenaConfig",
    "HyenaBlock",
    "HyenaLM",
    "matched_hyena_config",
]


def _check_conv_inputs(u, h) -> tuple[int, int, int]:
    for name, t in (("u", u), ("h", h)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if not torch.is_floating_point(t):
            raise TypeError(f"{name} must have a floating-point dtype, got {t.dtype}")
    if u.dim() != 3:
        raise ValueError(f"u must be (B, C, T), got shape {tuple(u.shape)}")
    if h.dim() != 2 or h.shape[0] != u.shape[1]:
        raise ValueError(f"h must be (C, K) with C = {u.shape[1]} channels like u, got shape {tuple(h.shape)}")
    if h.shape[1] < 1:
        raise ValueError("h must hold at least one tap (K >= 1)")
    if u.dtype != h.dtype:
        raise TypeError(f"u and h must have the same dtype, got {u.dtype} and {h.dtype}")
    if u.device != h.device:
        raise ValueError(f"u and h must be on the same device, got {u.device} and {h.device}")
    return u.shape[0], u.shape[1], u.shape[2]


def fft_causal_conv(u: Tensor, h: Tensor) -> Tensor:
    r"""Causal convolution along the last axis, channel by channel, with the FFT: O(T log T).

    ``y[b, c, n] = Σ_{m=0}^{min(n, K-1)} h[c, m] · u[b, c, n-m]`` for n = 0 … T-1.
    ``u``: (B, C, T); ``h``: (C, K), any K ≥ 1 (taps beyond T-1 cannot reach inside the sequence and are dropped).

    The FFT computes a *circular* convolution of length N. Both signals are zero-padded to N ≥ T + K' - 1
    (K' = min(K, T) taps used), so the wrap-around only ever meets zeros and the first T outputs are exactly the
    causal (linear) convolution: output n never sees an input after n. Up to rounding: every output is a sum over
    all frequencies, so a change of u at position t moves earlier outputs by ~1e-16 relative in float64 (by
    ~1e-7 in float32), never more.
    """
    _, _, T = _check_conv_inputs(u, h)
    h = h[:, :T]
    n = T + h.shape[1] - 1
    y = torch.fft.irfft(torch.fft.rfft(u, n=n) * torch.fft.rfft(h, n=n), n=n)
    return y[..., :T]


def direct_causal_conv(u: Tensor, h: Tensor) -> Tensor:
    """The same causal convolution as ``fft_causal_conv``, computed directly in O(T·K) (a grouped
    ``conv1d`` over the input padded with K-1 zeros on the left; ``conv1d`` correlates, so the filter is flipped)."""
    _, C, T = _check_conv_inputs(u, h)
    h = h[:, :T]
    K = h.shape[1]
    return F.conv1d(F.pad(u, (K - 1, 0)), h.flip(-1).unsqueeze(1), groups=C)


def short_causal_conv(u: Tensor, conv: nn.Conv1d) -> Tensor:
    """Apply a depthwise ``nn.Conv1d`` (padding = kernel_size - 1 on both sides) causally: keep the first T outputs,
    so that output n sees inputs n-K+1 … n only. ``u``: (B, C, T)."""
    return conv(u)[..., : u.shape[-1]]


def filter_positional_encoding(max_len: int, pos_dim: int, dtype: torch.dtype = torch.float32) -> tuple[Tensor, Tensor]:
    r"""The inputs of Hyena's filter MLP for positions n = 0 … max_len-1, as in the reference code.

    Returns ``(z, t)``: ``t_n = n / (max_len - 1)`` (time scaled to [0, 1]; 0 when max_len = 1) of shape (max_len,),
    and ``z`` (max_len, pos_dim) = ``[t_n, cos(2π f_k n / max_len)…, sin(2π f_k n / max_len)…]`` with
    ``B = (pos_dim - 1) / 2`` bands ``f_k = linspace(1e-4, B - 1, B)``. ``pos_dim`` must be odd and ≥ 3.
    """
    max_len = _check_int(max_len, "max_len")
    pos_dim = _check_int(pos_dim, "pos_dim", 3)
    if pos_dim % 2 == 0:
        raise ValueError(f"pos_dim must be odd (time + a cosine and a sine per band), got {pos_dim}")
    bands = (pos_dim - 1) // 2
    n = torch.arange(max_len, dtype=torch.float64)
    t = n / (max_len - 1) if max_len > 1 else torch.zeros(1, dtype=torch.float64)
    f = torch.linspace(1e-4, bands - 1, bands, dtype=torch.float64)
    angle = 2 * math.pi * f[None, :] * n[:, None] / max_len
    z = torch.cat([t[:, None], torch.cos(angle), torch.sin(angle)], dim=-1)
    return z.to(dtype), t.to(dtype)


def exponential_window_rates(channels: int, fast: float = 0.3, slow: float = 1.5, target: float = 1e-2) -> Tensor:
    r"""The decay rates α_c of the window ``exp(-α_c t)`` (t ∈ [0, 1]), spread linearly over the channels, float64.

    Channel rates run from ``-ln(target)/slow`` (the window falls to ``target`` at t = slow: the filter stays long)
    to ``-ln(target)/fast`` (it falls to ``target`` at t = fast: a short filter); reference defaults 1.5, 0.3, 1e-2.
    """
    channels = _check_int(channels, "channels")
    fast, slow = _check_real(fast, "fast"), _check_real(slow, "slow")
    target = _check_real(target, "target")
    if not target < 1:
        raise ValueError(f"target must lie in (0, 1), got {target}")
    return torch.linspace(-math.log(target) / slow, -math.log(target) / fast, channels, dtype=torch.float64)


class _Sin(nn.Module):
    """``sin(w ⊙ x)`` with a learnable frequency per feature (the reference code's periodic activation)."""

    def __init__(self, dim: int, freq: float):
        super().__init__()
        self.freq = nn.Parameter(torch.full((dim,), float(freq)))

    def forward(self, x: Tensor) -> Tensor:
        return torch.sin(self.freq * x)


class ImplicitFilter(nn.Module):
    r"""Hyena's implicit long filter (Algorithm 2): ``h[c, n] = window_c(t_n) · MLP(z_n)[c]``.

    ``MLP = Linear(pos_dim, F) → sin → Linear(F, F) → sin → Linear(F, F) → sin → Linear(F, channels, no bias)``
    (one learnable frequency vector shared by the three sin activations, as in the reference code), evaluated at
    the positional encoding ``z_n`` of ``filter_positional_encoding(max_len, pos_dim)``;
    ``window_c(t) = exp(-α_c t)``
    with the rates of ``exponential_window_rates``. The filter can be evaluated for any length T ≤ max_len (its
    first T taps) and has the same number of parameters for every length: ``pos_dim·F + F + 2(F² + F) + F + F·C``.
    """

    def __init__(
        self,
        channels: int,
        max_len: int,
        filter_dim: int = 16,
        pos_dim: int = 9,
        freq: float = 1.0,
        decay_fast: float = 0.3,
        decay_slow: float = 1.5,
        decay_target: float = 1e-2,
    ):
        super().__init__()
        self.channels = _check_int(channels, "channels")
        self.max_len = _check_int(max_len, "max_len")
        self.filter_dim = _check_int(filter_dim, "filter_dim")
        _check_real(freq, "freq")
        z, t = filter_positional_encoding(max_len, pos_dim)
        self.register_buffer("z", z, persistent=False)
        self.register_buffer("t", t, persistent=False)
        rates = exponential_window_rates(channels, decay_fast, decay_slow, decay_target)
        self.register_buffer("rates", rates.float(), persistent=False)
        self.act = _Sin(filter_dim, freq)
        self.fc_in = nn.Linear(pos_dim, filter_dim)
        self.fc_hidden = nn.ModuleList(nn.Linear(filter_dim, filter_dim) for _ in range(2))
        self.fc_out = nn.Linear(filter_dim, channels, bias=False)

    def window(self, T: int) -> Tensor:
        """``exp(-α_c t_n)`` for n < T: (channels, T)."""
        return torch.exp(-self.rates[:, None] * self.t[None, :T])

    def forward(self, T: int) -> Tensor:
        """The filter's first ``T`` taps, (channels, T)."""
        T = _check_int(T, "T")
        if T > self.max_len:
            raise ValueError(f"T = {T} exceeds the filter's max_len = {self.max_len}")
        a = self.act(self.fc_in(self.z[:T]))
        for fc in self.fc_hidden:
            a = self.act(fc(a))
        return self.fc_out(a).transpose(0, 1) * self.window(T)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, max_len={self.max_len}, filter_dim={self.filter_dim}"


class HyenaOperator(nn.Module):
    r"""The order-2 Hyena operator (see the module docstring): ``W_out( x1 ⊙ (h * u + D ⊙ u) )``, ``u = x2 ⊙ v``,
    where ``[x1, x2, v]`` = a short causal depthwise convolution of ``X W_in``.

    ``embed_dim`` = d; ``max_len``: the longest sequence (the filter's positions are scaled to it);
    ``short_kernel``: width of the short convolution (3); ``conv``: "fft" (O(T log T), default) or "direct" (O(T²),
    the same numbers up to rounding; for tests and teaching). The other arguments go to ``ImplicitFilter``.
    """

    CONVS = ("fft", "direct")

    def __init__(
        self,
        embed_dim: int,
        max_len: int,
        short_kernel: int = 3,
        filter_dim: int = 16,
        pos_dim: int = 9,
        freq: float = 1.0,
        decay_fast: float = 0.3,
        decay_slow: float = 1.5,
        decay_target: float = 1e-2,
    ):
        super().__init__()
        self.embed_dim = _check_int(embed_dim, "embed_dim")
        self.max_len = _check_int(max_len, "max_len")
        self.short_kernel = _check_int(short_kernel, "short_kernel")
        d = self.embed_dim
        self.in_proj = nn.Linear(d, 3 * d, bias=False)
        self.short_conv = nn.Conv1d(3 * d, 3 * d, kernel_size=short_kernel, groups=3 * d, padding=short_kernel - 1)
        self.filter = ImplicitFilter(d, max_len, filter_dim, pos_dim, freq, decay_fast, decay_slow, decay_target)
        self.D = nn.Parameter(torch.randn(d))  # the long convolution's skip term, as in the reference code
        self.out_proj = nn.Linear(d, d, bias=False)

    def _check_x(self, x) -> None:
        check_hidden_states(x, self.embed_dim, self.in_proj.weight, "operator")
        if x.shape[1] > self.max_len:
            raise ValueError(f"the sequence has T = {x.shape[1]} tokens, more than max_len = {self.max_len}")

    def gates(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``(x1, x2, v)``, each (B, d, T): the projections after the short causal convolution."""
        self._check_x(x)
        p = short_causal_conv(self.in_proj(x).transpose(1, 2), self.short_conv)
        return p.split(self.embed_dim, dim=1)

    def forward(self, x: Tensor, conv: str = "fft") -> Tensor:
        """``x``: (B, T, d) → (B, T, d). Position n of the output depends on positions ≤ n of the input only."""
        if conv not in self.CONVS:
            raise ValueError(f"conv must be one of {self.CONVS}, got {conv!r}")
        self._check_x(x)
        if x.shape[1] == 0:
            return self.out_proj(x)
        x1, x2, v = self.gates(x)
        h = self.filter(x.shape[1]).to(x.dtype)
        u = x2 * v
        z = (fft_causal_conv if conv == "fft" else direct_causal_conv)(u, h) + self.D.to(x.dtype)[:, None] * u
        return self.out_proj((x1 * z).transpose(1, 2))

    def mixing_matrix(self, x: Tensor, index: int) -> dict:
        r"""The operator as a data-controlled matrix (Poli et al. §3.2) on channel ``index`` of one sequence ``x``
        (1, T, d) (the block's normed input): ``M[n, m] = x1[n] · (h[n-m] + D δ_nm) · x2[m]`` for m ≤ n, so that
        the channel's ``x1 ⊙ z`` is ``M v``. Returns ``{"full": M, "fixed": the Toeplitz matrix of the filter,
        h[n-m] + D δ_nm (it does not depend on the data), "kind": "hyena"}``."""
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < self.embed_dim:
            raise ValueError(f"index must be a channel number in [0, {self.embed_dim}), got {index!r}")
        if x.dim() != 3 or x.shape[0] != 1:
            raise ValueError(f"x must have shape (1, T, {self.embed_dim}), got {tuple(x.shape)}")
        x1, x2, _ = self.gates(x)
        t = x.shape[1]
        hc = self.filter(t)[index]
        n = torch.arange(t, device=x.device)
        lag = (n[:, None] - n[None, :]).clamp(min=0)
        causal = torch.ones(t, t, dtype=torch.bool, device=x.device).tril()
        fixed = torch.where(causal, hc[lag], torch.zeros((), dtype=hc.dtype, device=x.device))
        fixed = fixed + self.D[index] * torch.eye(t, dtype=hc.dtype, device=x.device)
        return {"full": x1[0, index][:, None] * fixed * x2[0, index][None, :], "fixed": fixed, "kind": "hyena"}

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, max_len={self.max_len}, short_kernel={self.short_kernel}"


@dataclass
class HyenaConfig:
    """Sizes of a Hyena language model.

    ``ffn_dim`` defaults to round(8·embed_dim/3), like the Transformer's: the operator holds ~4d² (W_in 3d², W_out
    d²) plus a filter whose size does not depend on d², so the layer is ~12d² like the others.
    ``max_len``: the longest sequence the model accepts (the implicit filter is defined over it).
    ``filter_dim`` (F), ``pos_dim``, ``freq``, ``short_kernel``, ``decay_*``: see ``HyenaOperator``; F = 16 (the
    reference code uses 64 for models of width 768 and more: the filter MLP must stay small next to the course's
    4d² at d = 16 … 128).
    """

    vocab_size: int
    max_len: int
    embed_dim: int = 128
    num_layers: int = 2
    ffn_dim: int | None = None
    filter_dim: int = 16
    pos_dim: int = 9
    freq: float = 1.0
    short_kernel: int = 3
    decay_fast: float = 0.3
    decay_slow: float = 1.5
    decay_target: float = 1e-2
    norm_eps: float = 1e-6
    activation: str = "gelu"
    dropout: float = 0.0

    def __post_init__(self):
        for name in ("vocab_size", "max_len", "embed_dim", "num_layers", "filter_dim", "short_kernel"):
            val = getattr(self, name)
            if isinstance(val, bool) or not isinstance(val, numbers.Integral) or val < 1:
                raise ValueError(f"{name} must be a positive int, got {val!r}")
        if self.ffn_dim is None:
            self.ffn_dim = max(1, round(8 * self.embed_dim / 3))
        if isinstance(self.ffn_dim, bool) or not isinstance(self.ffn_dim, numbers.Integral) or self.ffn_dim < 1:
            raise ValueError(f"ffn_dim must be a positive int, got {self.ffn_dim!r}")
        if (
            isinstance(self.pos_dim, bool)
            or not isinstance(self.pos_dim, numbers.Integral)
            or self.pos_dim < 3
            or self.pos_dim % 2 == 0
        ):
            raise ValueError(f"pos_dim must be an odd int >= 3, got {self.pos_dim!r}")
        if self.activation not in ("gelu", "swish"):
            raise ValueError(f"activation must be 'gelu' or 'swish', got {self.activation!r}")
        if not (isinstance(self.dropout, numbers.Real) and 0.0 <= self.dropout < 1.0):
            raise ValueError(f"dropout must be a float in [0, 1), got {self.dropout!r}")
        if not (isinstance(self.norm_eps, numbers.Real) and math.isfinite(self.norm_eps) and self.norm_eps >= 0):
            raise ValueError(f"norm_eps must be a finite number >= 0, got {self.norm_eps!r}")
        for name in ("freq", "decay_fast", "decay_slow", "decay_target"):
            val = getattr(self, name)
            if isinstance(val, bool) or not isinstance(val, numbers.Real) or not (math.isfinite(val) and val > 0):
                raise ValueError(f"{name} must be a finite number > 0, got {val!r}")
        if not self.decay_target < 1:
            raise ValueError(f"decay_target must lie in (0, 1), got {self.decay_target}")

    def num_parameters(self, exclude_embeddings: bool = False) -> int:
        """Weights of ``HyenaLM(self)``, counted from the sizes. Per layer: W_in 3d², W_out d², the short
        convolution 3d·k + 3d (weights and bias), D (d), the filter MLP ``p·F + F + 2(F² + F) + F + F·d``
        (F = filter_dim, p = pos_dim; the lone F is the sin frequencies), the gated FFN 3·d·f and two RMSNorm gains
        2d; plus the final norm d and 2·vocab·d for the embedding and the output projection (unless excluded)."""
        d, f, k, F_, p = self.embed_dim, self.ffn_dim, self.short_kernel, self.filter_dim, self.pos_dim
        mixer = 4 * d * d + 3 * d * k + 3 * d + d + (p * F_ + F_ + 2 * (F_ * F_ + F_) + F_ + F_ * d)
        n = self.num_layers * (mixer + 3 * d * f + 2 * d) + d
        return n if exclude_embeddings else n + 2 * self.vocab_size * d

    def to_dict(self) -> dict:
        return asdict(self)


class HyenaBlock(nn.Module):
    """``Y = X + Hyena(RMSNorm(X))``; ``X' = Y + FFN(RMSNorm(Y))`` (pre-norm, like ``RetNetBlock``)."""

    def __init__(self, config: HyenaConfig):
        super().__init__()
        c = config
        self.mixer_layer_norm = RMSNorm(c.embed_dim, eps=c.norm_eps)
        self.mixer = HyenaOperator(
            c.embed_dim,
            c.max_len,
            c.short_kernel,
            c.filter_dim,
            c.pos_dim,
            c.freq,
            c.decay_fast,
            c.decay_slow,
            c.decay_target,
        )
        self.final_layer_norm = RMSNorm(c.embed_dim, eps=c.norm_eps)
        self.ffn = GatedFeedForward(c.embed_dim, c.ffn_dim, c.activation)
        self.dropout = nn.Dropout(float(c.dropout))

    def forward(self, x: Tensor, conv: str = "fft") -> Tensor:
        x = x + self.dropout(self.mixer(self.mixer_layer_norm(x), conv))
        return x + self.dropout(self.ffn(self.final_layer_norm(x)))

    @property
    def token_mixer(self) -> HyenaOperator:
        """The block's token mixer, under the name every block of the course answers to (here ``mixer``)."""
        return self.mixer

    @property
    def mixer_norm(self) -> RMSNorm:
        """The norm in front of the token mixer (here ``mixer_layer_norm``)."""
        return self.mixer_layer_norm


class HyenaLM(TokenLM):
    """A decoder-only Hyena language model: the RetNetLM layout with the Hyena operator in place of retention.

    It carries no state between calls (``carries_state = False``: the reference code's fast recurrent inference was
    never released; the paper distils one later), so ``forward`` returns ``(logits, None)`` and ``generate``
    recomputes the sequence for every new token."""

    kind = "hyena"
    config_class = HyenaConfig
    carries_state = False

    def __init__(self, config: HyenaConfig):
        super().__init__(config)
        self._build_layout(config, lambda: HyenaBlock(config))

    @property
    def max_len(self) -> int:
        """The longest input the implicit filters cover (``config.max_len``); ``check_tokens`` enforces it."""
        return self.config.max_len

    def forward(self, tokens: Tensor, state: None = None, conv: str = "fft") -> tuple[Tensor, None]:
        """``tokens``: (B, T) ids, T ≤ max_len → ``(logits (B, T, vocab), None)``. ``conv``: "fft" (O(T log T)) or
        "direct" (the same convolution as a sum, for checking)."""
        self.check_tokens(tokens)
        self.check_state_is_none(state)
        x = self.embed_tokens(tokens)
        if tokens.shape[1] > 0:
            for layer in self.layers:
                x = layer(x, conv)
        return self.output_projection(self.layer_norm(x)), None

    def decoding_plan(self, conv: str = "fft") -> DecodingPlan:
        """``generate`` recomputes the sequence for every token, with the long convolution ``conv``."""
        return DecodingPlan(stateful=False, prefill={"conv": conv})


# ----------------------------------------------------------------------------------------------------------
# size matching
# ----------------------------------------------------------------------------------------------------------
def matched_hyena_config(retnet: RetNetConfig, max_len: int, tolerance: float = 0.05, **overrides) -> HyenaConfig:
    """A ``HyenaConfig`` with the vocabulary, width and depth of ``retnet`` and the feed-forward width that makes its
    parameter count equal to the RetNet's (to within one FFN column per layer; ValueError if an override pushes the
    two more than ``tolerance`` apart). The RetNet's norm eps, activation and dropout are carried over."""
    if not isinstance(retnet, RetNetConfig):
        raise TypeError(f"retnet must be a RetNetConfig, got {type(retnet).__name__}")
    fields = dict(
        vocab_size=retnet.vocab_size,
        max_len=max_len,
        embed_dim=retnet.embed_dim,
        num_layers=retnet.num_layers,
        norm_eps=retnet.norm_eps,
        activation=retnet.activation,
        dropout=retnet.dropout,
    )
    return matched_config(retnet.num_parameters(), HyenaConfig, tolerance, **{**fields, **overrides})
