"""Bridges to the official implementation, torchscale 0.3.0
(``pip install --no-deps torchscale==0.3.0 fairscale==0.4.0``).

- ``load_torchscale_decoder(state_dict, config)``: an official ``RetNetDecoder``'s weights (plus
  ``embed_tokens.weight``) into a ``RetNetLM``.
- ``import_torchscale()``: import the official RetNet modules when installed (None otherwise), with a stand-in
  for the one function it needs from timm (``drop_path``), so the heavy timm/torchvision stack is not needed.
- ``exact_float64(module)``: make an official module compute in true float64, for comparisons at 1e-12:
  torchscale computes its RMSNorms and its feed-forward activation in float32 even for float64 input, and builds
  its rotation angles and decays as float32 buffers.

The official code and this package compute the same function when the group norm's eps is 0: the official
code rescales each (token, head) row by a positive factor that differs between its modes, and an RMS norm with
eps = 0 removes any such factor (notebook 06 proves it). With eps > 0 the two differ slightly, and the official
chunkwise mode differs from its own parallel mode.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from retnet_edu.model import RetNetConfig, RetNetLM
from retnet_edu.position import rotation_angles
from retnet_edu.retention import decay_gammas

__all__ = [
    "TORCHSCALE_VERSION",
    "import_torchscale",
    "retnet_config_from_torchscale",
    "load_torchscale_decoder",
    "exact_float64",
]

TORCHSCALE_VERSION = "0.3.0"

# torchscale RetNetConfig fields that change the computed function; (value we support, what it means)
_REQUIRED_SETTINGS = {
    "no_scale_embedding": (True, "embeddings scaled by sqrt(embed_dim)"),
    "layernorm_embedding": (False, "an RMSNorm after the embedding"),
    "deepnorm": (False, "DeepNet residual scaling"),
    "multiway": (False, "multiway (two-expert) projections"),
    "decoder_normalize_before": (True, "post-norm blocks"),
    "share_decoder_input_output_embed": (False, "tied input/output embeddings"),
    "no_output_layer": (False, "a decoder without output projection"),
    "moe_freq": (0, "mixture-of-experts layers"),
}


def _timm_stub() -> None:
    """Register a minimal ``timm.models.layers.drop_path`` (stochastic depth), all torchscale's RetNet imports."""

    def drop_path(x: Tensor, drop_prob: float = 0.0, training: bool = False) -> Tensor:
        if drop_prob == 0.0 or not training:
            return x
        keep = 1.0 - drop_prob
        mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)
        return x * mask / keep

    timm = types.ModuleType("timm")
    models = types.ModuleType("timm.models")
    layers = types.ModuleType("timm.models.layers")
    layers.drop_path = drop_path
    timm.models = models
    models.layers = layers
    timm.__retnet_edu_stub__ = True
    sys.modules.setdefault("timm", timm)
    sys.modules.setdefault("timm.models", models)
    sys.modules.setdefault("timm.models.layers", layers)


def import_torchscale() -> types.SimpleNamespace | None:
    """The official RetNet classes if torchscale is installed, else None.

    Returns a namespace with ``version``, ``RetNetConfig``, ``RetNetDecoder``, ``RetNetRelPos``, ``DecoderLayer``
    and ``MultiScaleRetention``.
    """
    try:
        from importlib.metadata import version

        import torchscale  # noqa: F401
    except ImportError:
        return None
    try:
        import timm.models.layers  # noqa: F401
    except Exception:  # timm absent, or present but broken (its torchvision import fails on CPU torch)
        for name in ("timm.models.layers", "timm.models", "timm"):
            sys.modules.pop(name, None)
        _timm_stub()
    from torchscale.architecture.config import RetNetConfig as TSConfig
    from torchscale.architecture.retnet import DecoderLayer, RetNetDecoder, RetNetRelPos
    from torchscale.component.multiscale_retention import MultiScaleRetention

    return types.SimpleNamespace(
        version=version("torchscale"),
        RetNetConfig=TSConfig,
        RetNetDecoder=RetNetDecoder,
        RetNetRelPos=RetNetRelPos,
        DecoderLayer=DecoderLayer,
        MultiScaleRetention=MultiScaleRetention,
    )


def _as_dict(config: Any) -> dict:
    if isinstance(config, Mapping):
        return dict(config)
    if hasattr(config, "__dict__"):
        return dict(vars(config))
    raise TypeError(f"config must be a dict of torchscale RetNetConfig fields, got {type(config).__name__}")


def retnet_config_from_torchscale(config: Any) -> RetNetConfig:
    """A ``RetNetConfig`` from torchscale RetNetConfig fields (a dict, or the config object itself).

    Read: decoder_embed_dim, decoder_value_embed_dim, decoder_ffn_embed_dim, decoder_retention_heads,
    decoder_layers, vocab_size (required), layernorm_eps (default 1e-6), activation_fn (default "gelu").
    Settings that would change the function computed and that this package does not implement (deepnorm,
    multiway, scaled embeddings, …) raise ValueError; other keys are ignored.
    """
    cfg = _as_dict(config)
    required = (
        "decoder_embed_dim",
        "decoder_value_embed_dim",
        "decoder_ffn_embed_dim",
        "decoder_retention_heads",
        "decoder_layers",
        "vocab_size",
    )
    missing = [k for k in required if k not in cfg]
    if missing:
        raise ValueError(f"config is missing {missing}")
    for key, (supported, meaning) in _REQUIRED_SETTINGS.items():
        if key in cfg and cfg[key] != supported:
            raise ValueError(f"config[{key!r}] = {cfg[key]!r} ({meaning}) is not supported; need {supported!r}")
    activation = cfg.get("activation_fn", "gelu")
    if activation not in ("gelu", "swish"):
        raise ValueError(f"config['activation_fn'] = {activation!r} is not supported; use 'gelu' or 'swish'")
    return RetNetConfig(
        vocab_size=int(cfg["vocab_size"]),
        embed_dim=int(cfg["decoder_embed_dim"]),
        value_dim=int(cfg["decoder_value_embed_dim"]),
        ffn_dim=int(cfg["decoder_ffn_embed_dim"]),
        num_heads=int(cfg["decoder_retention_heads"]),
        num_layers=int(cfg["decoder_layers"]),
        norm_eps=float(cfg.get("layernorm_eps", 1e-6)),
        activation=activation,
        chunk_size=int(cfg.get("recurrent_chunk_size", 64)),
        decay="eq8",
    )


def load_torchscale_decoder(state_dict: Mapping[str, Tensor], config: Any) -> RetNetLM:
    """A ``RetNetLM`` holding the weights of an official ``RetNetDecoder``.

    ``state_dict``: the decoder's ``state_dict()`` plus ``embed_tokens.weight`` (torchscale's decoder does not own
    its embedding when it is passed in; if it does, the key is already there). The buffers
    ``retnet_rel_pos.angle`` and ``retnet_rel_pos.decay`` may be present: they are checked against this package's
    angles and decays (to float32 rounding) and then dropped. ``config``: torchscale RetNetConfig fields (see
    ``retnet_config_from_torchscale``). The model takes the dtype of the weights and is returned in eval mode.
    """
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"state_dict must be a mapping of names to tensors, got {type(state_dict).__name__}")
    cfg = retnet_config_from_torchscale(config)
    sd = dict(state_dict)
    if "embed_tokens.weight" not in sd:
        raise ValueError("state_dict has no 'embed_tokens.weight': add the embedding the decoder was used with")
    angle = sd.pop("retnet_rel_pos.angle", None)
    decay = sd.pop("retnet_rel_pos.decay", None)
    d_k = cfg.embed_dim // cfg.num_heads
    if angle is not None:
        ref = rotation_angles(d_k, torch.float64)
        if tuple(angle.shape) != (d_k,) or not torch.allclose(angle.detach().cpu().double(), ref, rtol=1e-6, atol=0):
            raise ValueError(
                "state_dict['retnet_rel_pos.angle'] is not 1/10000**linspace(0, 1, d_k/2) interleaved: "
                "these weights were trained with other rotation angles"
            )
    if decay is not None:
        ref = torch.log(decay_gammas(cfg.num_heads))
        if tuple(decay.shape) != (cfg.num_heads,) or not torch.allclose(
            decay.detach().cpu().double(), ref, rtol=1e-5, atol=1e-9
        ):
            raise ValueError(
                "state_dict['retnet_rel_pos.decay'] is not log(1 - 2**(-5-h)): "
                "these weights were trained with other decay rates"
            )
    dtypes = {t.dtype for t in sd.values() if isinstance(t, Tensor) and torch.is_floating_point(t)}
    if len(dtypes) != 1:
        raise ValueError(f"state_dict must hold weights of one floating dtype, got {sorted(map(str, dtypes))}")
    model = RetNetLM(cfg).to(dtypes.pop())
    expected = set(model.state_dict())
    unexpected = sorted(set(sd) - expected)
    missing = sorted(expected - set(sd))
    if unexpected or missing:
        raise ValueError(f"state_dict does not match the config: missing {missing[:8]}, unexpected {unexpected[:8]}")
    model.load_state_dict(sd, strict=True)
    return model.eval()


def exact_float64(module: torch.nn.Module) -> torch.nn.Module:
    """Make an official torchscale module (decoder, layer, MSR or rel-pos) compute in true float64, in place.

    torchscale 0.3.0 normalises in float32 (``RMSNorm``: ``x.float()`` … ``.type_as(x)``), applies the feed-forward
    activation in float32, and creates its ``angle`` and ``decay`` buffers in float32; at float64 those casts
    cap the agreement at ~1e-8. This replaces the three by float64 computations of the same formulas.
    Returns the module (converted to float64).
    """
    module.double()
    for m in module.modules():
        name = type(m).__name__
        if name == "RMSNorm" and hasattr(m, "_norm"):

            def rms_forward(self, x):
                out = self._norm(x)
                return out * self.weight if self.weight is not None else out

            m.forward = types.MethodType(rms_forward, m)
        elif name == "GLU" and hasattr(m, "activation_fn"):

            def glu_forward(self, x):
                return self.fc2(self.activation_fn(self.fc1(x)) * self.gate(x))

            m.forward = types.MethodType(glu_forward, m)
        elif name == "RetNetRelPos":
            d_k = m.angle.shape[0]
            heads = m.decay.shape[0]
            m.angle = rotation_angles(d_k, torch.float64, m.angle.device)
            m.decay = torch.log(decay_gammas(heads)).to(m.decay.device)
    return module
