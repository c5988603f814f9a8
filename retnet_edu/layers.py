r"""The modules with weights: RMSNorm, multi-scale retention (eq. 8), the gated feed-forward and the RetNet block
(eq. 9).

Parameter names and shapes follow the official torchscale 0.3.0 code, so its state dicts load as they are:

- ``MultiScaleRetention``: ``q_proj`` (E→E), ``k_proj`` (E→E), ``v_proj`` (E→V), ``g_proj`` (E→V),
  ``out_proj`` (V→E), all ``nn.Linear`` without bias; the group norm has no parameters.
- ``RetNetBlock``: ``retention_layer_norm``, ``retention``, ``final_layer_norm``, ``ffn.fc1/fc2/gate``.

Where the official code departs from the paper, this module follows the official code and says so:
RMSNorm instead of LayerNorm, a gated (GLU) feed-forward instead of ``gelu(X W_1) W_2``, no biases, the key
(not the query) scaled by d_k^-1/2 before the rotation, and a free value width V (the paper uses V = 2E).
Unlike the official code, no mode rescales its output before the group norm: the three modes compute the
same bare retention, so they agree for any ``norm_eps`` (the official code's chunkwise mode does not agree
with its parallel mode at its default eps = 1e-6; see notebook 06).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from retnet_edu._args import check_int as _check_dim
from retnet_edu.kernels import shared_position_factors
from retnet_edu.position import apply_rotation
from retnet_edu.retention import chunkwise_retention, decay_gammas, parallel_retention, recurrent_retention

__all__ = [
    "MODES",
    "check_hidden_states",
    "shared_position_factors",
    "RMSNorm",
    "group_rms_norm",
    "RetentionState",
    "MultiScaleRetention",
    "GatedFeedForward",
    "RetNetBlock",
]

MODES = ("parallel", "recurrent", "chunkwise")
ACTIVATIONS = {"gelu": F.gelu, "swish": F.silu}


def _check_eps(eps) -> float:
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real):
        raise TypeError(f"eps must be a real number, got {type(eps).__name__}")
    if not (eps >= 0 and math.isfinite(eps)):
        raise ValueError(f"eps must be finite and >= 0, got {eps}")
    return float(eps)


def check_hidden_states(x, embed_dim: int, weight: Tensor, owner: str) -> Tensor:
    """``x`` unchanged if it is a floating-point (B, T, embed_dim) tensor with the dtype and device of ``weight``
    (one of the ``owner``'s weights, e.g. "layer"); otherwise a TypeError/ValueError naming ``x``."""
    if not isinstance(x, Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if not torch.is_floating_point(x):
        raise TypeError(f"x must have a floating-point dtype, got {x.dtype}")
    if x.dim() != 3 or x.shape[-1] != embed_dim:
        raise ValueError(f"x must be (B, T, embed_dim={embed_dim}), got shape {tuple(x.shape)}")
    if x.dtype != weight.dtype:
        raise TypeError(f"x has dtype {x.dtype} but the {owner}'s weights are {weight.dtype}")
    if x.device != weight.device:
        raise ValueError(f"x is on {x.device} but the {owner}'s weights are on {weight.device}")
    return x


def check_mode(mode) -> str:
    """Raise ValueError unless ``mode`` is one of ``MODES``."""
    if not isinstance(mode, str) or mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    return mode


def _rms(x: Tensor, eps: float) -> Tensor:
    """x / sqrt(mean(x²) + eps) over the last dim; half precision is normalised in float32 and cast back."""
    if x.dtype in (torch.float16, torch.bfloat16):
        work = x.float()
        return (work * torch.rsqrt(work.pow(2).mean(-1, keepdim=True) + eps)).to(x.dtype)
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)


def group_rms_norm(o: Tensor, eps: float = 1e-6) -> Tensor:
    r"""The per-head group norm of eq. (8) as the official code does it: an RMS norm over each head's d_v
    values, per token, without affine parameters. ``o``: (..., d_v).

    It is scale-invariant when eps = 0: ``group_rms_norm(c·o) = group_rms_norm(o)`` for any c > 0 (which is why
    the official code's per-row rescalings do not matter when eps = 0, and do when it is not).
    """
    return _rms(o, _check_eps(eps))


class RMSNorm(nn.Module):
    """RMS normalisation with a learnable gain: ``weight ⊙ x / sqrt(mean(x²) + eps)`` over the last dim."""

    def __init__(self, dim: int, eps: float = 1e-6, elementwise_affine: bool = True):
        super().__init__()
        self.dim = _check_dim(dim, "dim")
        self.eps = _check_eps(eps)
        self.weight = nn.Parameter(torch.ones(self.dim)) if elementwise_affine else None

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] != self.dim:
            raise ValueError(f"x must have last dimension {self.dim}, got shape {tuple(x.shape)}")
        y = _rms(x, self.eps)
        return y * self.weight if self.weight is not None else y

    def extra_repr(self) -> str:
        return f"{self.dim}, eps={self.eps}, elementwise_affine={self.weight is not None}"


@dataclass(frozen=True)
class RetentionState:
    """What one multi-scale retention layer carries from one call to the next.

    ``S``: the recurrent state ``Σ_m γ^(n-m) k_mᵀ v_m`` after the last token seen, (B, H, d_k, d_v);
    ``offset``: how many tokens have been seen (the position of the next token, used by the rotation).
    Any mode returns it and any mode accepts it.
    """

    S: Tensor
    offset: int

    def detach(self) -> RetentionState:
        return RetentionState(self.S.detach(), self.offset)


class MultiScaleRetention(nn.Module):
    r"""Multi-scale retention, eq. (8), weight-compatible with torchscale 0.3.0.

    ``MSR(X) = out_proj( swish(X W_G) ⊙ GroupNorm_h( Retention_h(X, γ_h) ) )`` where, per head h,
    ``q = rot(X W_Q)``, ``k = rot(X W_K · d_k^-1/2)``, ``v = X W_V`` and ``γ_h = 1 - 2^(-5-h)`` (or ``gamma``).

    ``embed_dim`` = E (split into H heads of d_k = E/H for q and k, d_k even), ``value_dim`` = V (d_v = V/H).
    ``gamma``: optional (H,) decay rates in (0, 1] instead of eq. 8's (e.g. the paper's LM schedule, or ones
    for a linear-attention baseline without decay). Decay rates and rotation angles are kept in float64 and
    cast to the computation's dtype, so a float64 module is float64-exact.
    """

    def __init__(
        self, embed_dim: int, value_dim: int, num_heads: int, norm_eps: float = 1e-6, gamma: Tensor | None = None
    ):
        super().__init__()
        self.embed_dim = _check_dim(embed_dim, "embed_dim")
        self.value_dim = _check_dim(value_dim, "value_dim")
        self.num_heads = _check_dim(num_heads, "num_heads")
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads})")
        if value_dim % num_heads:
            raise ValueError(f"value_dim ({value_dim}) must be divisible by num_heads ({num_heads})")
        self.key_dim = embed_dim // num_heads
        self.head_dim = value_dim // num_heads
        if self.key_dim % 2:
            raise ValueError(
                f"the key width per head embed_dim/num_heads = {self.key_dim} must be even "
                "(the rotation turns coordinates in pairs)"
            )
        self.norm_eps = _check_eps(norm_eps)
        self.scaling = self.key_dim**-0.5
        if gamma is None:
            gamma = decay_gammas(num_heads)
        else:
            if not isinstance(gamma, Tensor) or not torch.is_floating_point(gamma):
                raise TypeError("gamma must be a floating-point torch.Tensor of shape (num_heads,)")
            if gamma.shape != (num_heads,):
                raise ValueError(f"gamma must have shape ({num_heads},), got {tuple(gamma.shape)}")
            if torch.isnan(gamma).any() or not bool(((gamma > 0) & (gamma <= 1)).all()):
                raise ValueError(f"every gamma must lie in (0, 1], got {gamma.tolist()}")
        # float64, kept off the parameter/buffer lists so that .float()/.half() never round it
        self._gamma64 = gamma.detach().to(device="cpu", dtype=torch.float64).clone()
        self._gamma_cache: dict[tuple, Tensor] = {}

        self.q_proj = nn.Linear(embed_dim, embed_dim, bias=False)
        self.k_proj = nn.Linear(embed_dim, embed_dim, bias=False)
        self.v_proj = nn.Linear(embed_dim, value_dim, bias=False)
        self.g_proj = nn.Linear(embed_dim, value_dim, bias=False)
        self.out_proj = nn.Linear(value_dim, embed_dim, bias=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """The official initialisation (torchscale 0.3.0): Xavier-uniform, gain 2^-2.5 for q, k, v, g; 1 for out."""
        for lin in (self.q_proj, self.k_proj, self.v_proj, self.g_proj):
            nn.init.xavier_uniform_(lin.weight, gain=2**-2.5)
        nn.init.xavier_uniform_(self.out_proj.weight)

    @property
    def gamma(self) -> Tensor:
        """The per-head decay rates, float64, shape (H,)."""
        return self._gamma64.clone()

    def _gamma_for(self, x: Tensor) -> Tensor:
        """The decay rates in the decay dtype of ``x`` (float64 for float64, else float32) on x's device: one tensor
        per (device, dtype), reused by every call (so retention checks its values once)."""
        dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
        key = (x.device, dtype)
        if key not in self._gamma_cache:
            with torch.inference_mode(False):  # a normal tensor even when first made under inference mode
                self._gamma_cache[key] = self._gamma64.to(dtype=dtype).to(x.device)
        return self._gamma_cache[key]

    def _check_inputs(self, x, mode, chunk_size, state):
        check_hidden_states(x, self.embed_dim, self.q_proj.weight, "layer")
        check_mode(mode)
        if mode == "chunkwise" and chunk_size is None:
            raise ValueError("chunk_size is required in chunkwise mode (a positive int)")
        if state is not None:
            if not isinstance(state, RetentionState):
                raise TypeError(
                    f"state must be a RetentionState (as returned by a previous call) or None, "
                    f"got {type(state).__name__}"
                )
            expected = (x.shape[0], self.num_heads, self.key_dim, self.head_dim)
            if tuple(state.S.shape) != expected:
                raise ValueError(f"state.S must have shape (B, H, d_k, d_v) = {expected}, got {tuple(state.S.shape)}")
            if state.S.dtype != x.dtype:
                raise TypeError(f"state.S has dtype {state.S.dtype} but x has {x.dtype}")
            if state.S.device != x.device:
                raise ValueError(f"state.S is on {state.S.device} but x is on {x.device}")
            if isinstance(state.offset, bool) or not isinstance(state.offset, int) or state.offset < 0:
                raise ValueError(f"state.offset must be an int >= 0, got {state.offset!r}")

    def forward(
        self, x: Tensor, mode: str = "parallel", chunk_size: int | None = None, state: RetentionState | None = None
    ) -> tuple[Tensor, RetentionState]:
        """``x``: (B, T, E). Returns ``(y, state)`` with y (B, T, E) and the state after the last token.

        ``mode``: "parallel" (eq. 5, plus the cross term ``ξ ⊙ (Q S)`` when a state is passed), "recurrent"
        (eq. 6, token by token) or "chunkwise" (eq. 7, needs ``chunk_size``). All three give the same y and
        state; a state from any mode can continue in any mode.

        Each mode calls the function of ``retnet_edu.retention`` that notebooks 03-05 teach; where it has a faster
        form it runs a named kernel of ``retnet_edu.kernels``, tested equal to the equation:

        - the rotation: ``apply_rotation`` (``kernels.rotate_pairs``, bit for bit), one set of sines and cosines
          for q and k (and for every layer inside ``RetNetLM.forward``), from ``kernels.rotation_factors``;
        - "parallel": ``parallel_retention(..., state=S, return_state=True)``, its D, ξ, ζ, γ^T from
          ``kernels.chunk_factors`` (made once per forward for all layers with the same decays);
        - "recurrent": ``recurrent_retention``; one token (decoding) is ``kernels.recurrent_decode_step``;
        - "chunkwise": ``chunkwise_retention(..., batched=None)``, which runs ``kernels.chunkwise_retention_batched``
          (all full chunks at once) unless the chunks are smaller than ``d_k·d_v / (d_k + d_v)``, then its chunk loop.
        """
        self._check_inputs(x, mode, chunk_size, state)
        bsz, t, _ = x.shape
        h, d_k, d_v = self.num_heads, self.key_dim, self.head_dim
        offset = 0 if state is None else state.offset
        S0 = None if state is None else state.S

        q = self.q_proj(x).view(bsz, t, h, d_k).transpose(1, 2)
        k = (self.k_proj(x) * self.scaling).view(bsz, t, h, d_k).transpose(1, 2)
        v = self.v_proj(x).view(bsz, t, h, d_v).transpose(1, 2)
        gamma = self._gamma_for(x)  # checked at construction; retention checks its values once per tensor
        with shared_position_factors():  # q and k share one rotation (every layer does inside RetNetLM.forward)
            q = apply_rotation(q, offset)
            k = apply_rotation(k, offset)
            if mode == "parallel":
                o, S = parallel_retention(q, k, v, gamma, state=S0, return_state=True)
            elif mode == "recurrent":
                o, S = recurrent_retention(q, k, v, gamma, S0)
            else:
                o, S = chunkwise_retention(q, k, v, gamma, chunk_size, S0, batched=None)

        o = group_rms_norm(o, self.norm_eps)  # (B, H, T, d_v), per head and token
        o = o.transpose(1, 2).reshape(bsz, t, h * d_v)
        y = self.out_proj(F.silu(self.g_proj(x)) * o)  # swish gate after the norm
        return y, RetentionState(S, offset + t)

    def extra_repr(self) -> str:
        return (
            f"embed_dim={self.embed_dim}, value_dim={self.value_dim}, num_heads={self.num_heads}, "
            f"norm_eps={self.norm_eps}"
        )

    def mixing_matrix(self, x: Tensor, index: int) -> dict:
        r"""The T × T matrix by which head ``index`` combines positions of one sequence ``x`` (1, T, E) (the
        block's normed input): ``M = (q kᵀ) ⊙ D`` before the group norm (q, k rotated and the key scaled, as in
        ``forward``), so that the head's retention output is ``M v``. Returns ``{"full": M, "fixed": D, "kind":
        "retention"}``: ``D`` (γ^(n-m) below the diagonal, the causal mask of ones when γ = 1) does not depend on
        the data."""
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < self.num_heads:
            raise ValueError(f"index must be a head number in [0, {self.num_heads}), got {index!r}")
        if x.dim() != 3 or x.shape[0] != 1 or x.shape[2] != self.embed_dim:
            raise ValueError(f"x must have shape (1, T, {self.embed_dim}), got {tuple(x.shape)}")
        from retnet_edu.retention import decay_mask

        t, h = x.shape[1], self.num_heads
        q = apply_rotation(self.q_proj(x).view(1, t, h, -1).transpose(1, 2))
        k = apply_rotation((self.k_proj(x) * self.scaling).view(1, t, h, -1).transpose(1, 2))
        D = decay_mask(self.gamma, t)[index].to(q.dtype)
        return {"full": (q[0, index] @ k[0, index].T) * D, "fixed": D, "kind": "retention"}


class GatedFeedForward(nn.Module):
    """The official code's GLU feed-forward: ``fc2( act(fc1 x) ⊙ gate x )``, no biases (act = gelu or swish).

    The paper's eq. 9 has ``gelu(X W_1) W_2``; torchscale switched to this gated form in September 2023.
    """

    def __init__(self, embed_dim: int, ffn_dim: int, activation: str = "gelu"):
        super().__init__()
        self.embed_dim = _check_dim(embed_dim, "embed_dim")
        self.ffn_dim = _check_dim(ffn_dim, "ffn_dim")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {tuple(ACTIVATIONS)}, got {activation!r}")
        self.activation = activation
        self.fc1 = nn.Linear(embed_dim, ffn_dim, bias=False)
        self.gate = nn.Linear(embed_dim, ffn_dim, bias=False)
        self.fc2 = nn.Linear(ffn_dim, embed_dim, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(ACTIVATIONS[self.activation](self.fc1(x)) * self.gate(x))


class RetNetBlock(nn.Module):
    r"""One RetNet layer, eq. (9), pre-norm as in the official code:

    ``Y = X + MSR(RMSNorm(X))``;  ``X' = Y + FFN(RMSNorm(Y))``.

    ``norm_eps`` is used by both RMSNorms and by the retention's group norm (as torchscale's
    ``layernorm_eps``). ``dropout`` (default 0) is applied to each residual branch in training mode.
    """

    def __init__(
        self,
        embed_dim: int,
        value_dim: int,
        num_heads: int,
        ffn_dim: int,
        norm_eps: float = 1e-6,
        activation: str = "gelu",
        dropout: float = 0.0,
        gamma: Tensor | None = None,
    ):
        super().__init__()
        self.retention_layer_norm = RMSNorm(embed_dim, eps=norm_eps)
        self.retention = MultiScaleRetention(embed_dim, value_dim, num_heads, norm_eps=norm_eps, gamma=gamma)
        self.final_layer_norm = RMSNorm(embed_dim, eps=norm_eps)
        self.ffn = GatedFeedForward(embed_dim, ffn_dim, activation)
        if not (isinstance(dropout, numbers.Real) and 0.0 <= dropout < 1.0):
            raise ValueError(f"dropout must be a float in [0, 1), got {dropout!r}")
        self.dropout = nn.Dropout(float(dropout))

    def forward(
        self, x: Tensor, mode: str = "parallel", chunk_size: int | None = None, state: RetentionState | None = None
    ) -> tuple[Tensor, RetentionState]:
        """``x``: (B, T, E) → ``(x', state)``; the arguments are those of ``MultiScaleRetention.forward``."""
        y, state = self.retention(self.retention_layer_norm(x), mode=mode, chunk_size=chunk_size, state=state)
        x = x + self.dropout(y)
        x = x + self.dropout(self.ffn(self.final_layer_norm(x)))
        return x, state

    @property
    def token_mixer(self) -> MultiScaleRetention:
        """The block's token mixer, under the name every block of the course answers to (here ``retention``)."""
        return self.retention

    @property
    def mixer_norm(self) -> RMSNorm:
        """The norm in front of the token mixer (here ``retention_layer_norm``)."""
        return self.retention_layer_norm
