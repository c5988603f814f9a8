"""Against the official implementation, torchscale 0.3.0 (installed with --no-deps by course.py).

Runs in CI (CI=true makes a missing torchscale a failure, not a skip). Float64, group-norm eps = 0, with
torchscale's internal float32 casts removed (``exact_float64``): agreement to 1e-12. At torchscale's default
eps = 1e-6 its own chunkwise mode departs from its parallel mode (~1e-2, torchscale issues #40/#77); ours does not.
"""

import os

import pytest
import torch
from naive import maxdiff

from retnet_edu.layers import MultiScaleRetention
from retnet_edu.model import RetNetLM
from retnet_edu.torchscale_compat import (
    exact_float64,
    import_torchscale,
    load_torchscale_decoder,
    retnet_config_from_torchscale,
)

ts = import_torchscale()
if ts is None:
    if os.environ.get("CI"):
        raise RuntimeError("torchscale 0.3.0 must be installed in CI (course.py setup installs it with --no-deps)")
    pytest.skip("torchscale is not installed (python3 course.py setup installs it)", allow_module_level=True)

TOL = 1e-12
CFG = dict(
    decoder_embed_dim=32,
    decoder_value_embed_dim=64,
    decoder_ffn_embed_dim=48,
    decoder_retention_heads=4,
    decoder_layers=2,
    vocab_size=29,
    layernorm_eps=0.0,
    recurrent_chunk_size=4,
)


def official_decoder(seed=0, **overrides):
    torch.manual_seed(seed)
    cfg = dict(CFG, **overrides)
    args = ts.RetNetConfig(**cfg)
    emb = torch.nn.Embedding(cfg["vocab_size"], cfg["decoder_embed_dim"])
    dec = ts.RetNetDecoder(args, embed_tokens=emb).eval()
    return dec, cfg


def official_recurrent(dec, tok):
    state, outs = {}, []
    for n in range(tok.shape[1]):
        out, _ = dec(tok[:, : n + 1], incremental_state=state)
        outs.append(out)
    return torch.cat(outs, 1)


def test_version():
    assert ts.version == "0.3.0"


@torch.no_grad()
def test_msr_matches_official_in_every_mode():
    args = ts.RetNetConfig(**CFG)
    torch.manual_seed(0)
    off = ts.MultiScaleRetention(args, 32, 64, 4)
    relpos = ts.RetNetRelPos(args)
    exact_float64(off)
    exact_float64(relpos)
    ours = MultiScaleRetention(32, 64, 4, norm_eps=0.0).double()
    ours.load_state_dict(off.state_dict())
    x = torch.randn(2, 16, 32, dtype=torch.float64)
    ref_par = off(x, relpos(16))
    ref_chk = off(x, relpos(16, chunkwise_recurrent=True), chunkwise_recurrent=True)
    inc, ref_rec = {}, []
    for n in range(16):
        ref_rec.append(off(x[:, n : n + 1], relpos(n + 1, activate_recurrent=True), incremental_state=inc))
    ref_rec = torch.cat(ref_rec, 1)
    for mode in ("parallel", "recurrent", "chunkwise"):
        y, _ = ours(x, mode=mode, chunk_size=4)
        for ref in (ref_par, ref_chk, ref_rec):
            assert maxdiff(y, ref) <= TOL


@torch.no_grad()
def test_decoder_weights_load_and_match_in_every_mode():
    dec, cfg = official_decoder()
    exact_float64(dec)
    sd = dec.state_dict()
    assert "retnet_rel_pos.angle" in sd and "embed_tokens.weight" in sd
    ours = load_torchscale_decoder(sd, cfg)
    assert isinstance(ours, RetNetLM) and not ours.training
    assert next(ours.parameters()).dtype == torch.float64
    tok = torch.randint(0, 29, (2, 16), generator=torch.Generator().manual_seed(1))
    ref, _ = dec(tok)
    dec.chunkwise_recurrent = True
    ref_chunk, _ = dec(tok)
    dec.chunkwise_recurrent = False
    ref_rec = official_recurrent(dec, tok)
    for mode in ("parallel", "recurrent", "chunkwise"):
        logits, _ = ours(tok, mode=mode)
        for r in (ref, ref_chunk, ref_rec):
            assert maxdiff(logits, r) <= TOL * max(1.0, r.abs().max().item())


@torch.no_grad()
def test_default_eps_official_chunkwise_departs_ours_does_not():
    dec, cfg = official_decoder(layernorm_eps=1e-6)
    exact_float64(dec)
    tok = torch.randint(0, 29, (2, 16), generator=torch.Generator().manual_seed(1))
    ref, _ = dec(tok)
    dec.chunkwise_recurrent = True
    ref_chunk, _ = dec(tok)
    assert maxdiff(ref_chunk, ref) > 1e-4  # the official modes disagree at eps = 1e-6 (measured ~1e-2)
    ours = load_torchscale_decoder(dec.state_dict(), cfg)
    out_par, _ = ours(tok, mode="parallel")
    out_chunk, _ = ours(tok, mode="chunkwise")
    out_rec, _ = ours(tok, mode="recurrent")
    assert maxdiff(out_chunk, out_par) <= 1e-12 and maxdiff(out_rec, out_par) <= 1e-12


@torch.no_grad()
def test_genuine_float32_official_close_to_ours():
    """As shipped (float32 buffers and casts, eps = 0): agreement to float32 rounding."""
    dec, cfg = official_decoder()
    ours = load_torchscale_decoder(dec.state_dict(), cfg)
    assert next(ours.parameters()).dtype == torch.float32
    tok = torch.randint(0, 29, (1, 24), generator=torch.Generator().manual_seed(2))
    ref, _ = dec(tok)
    out, _ = ours(tok)
    assert maxdiff(out, ref) <= 1e-5 * ref.abs().max().item()


def test_config_from_official_object_and_dict():
    args = ts.RetNetConfig(**CFG)
    a = retnet_config_from_torchscale(args)
    b = retnet_config_from_torchscale(CFG)
    assert a == b
    assert (a.embed_dim, a.value_dim, a.ffn_dim, a.num_heads, a.num_layers, a.vocab_size, a.norm_eps) == (
        32,
        64,
        48,
        4,
        2,
        29,
        0.0,
    )


def test_load_errors():
    dec, cfg = official_decoder()
    sd = dec.state_dict()
    bad = dict(sd)
    bad["retnet_rel_pos.angle"] = bad["retnet_rel_pos.angle"] * 2
    with pytest.raises(ValueError, match="rotation angles"):
        load_torchscale_decoder(bad, cfg)
    bad = dict(sd)
    bad["retnet_rel_pos.decay"] = bad["retnet_rel_pos.decay"] * 2
    with pytest.raises(ValueError, match="decay rates"):
        load_torchscale_decoder(bad, cfg)
    bad = {k: v for k, v in sd.items() if k != "embed_tokens.weight"}
    with pytest.raises(ValueError, match="embed_tokens.weight"):
        load_torchscale_decoder(bad, cfg)
    bad = {k: v for k, v in sd.items() if k != "layer_norm.weight"}
    with pytest.raises(ValueError, match="missing"):
        load_torchscale_decoder(bad, cfg)
    with pytest.raises(ValueError, match="deepnorm"):
        load_torchscale_decoder(sd, dict(cfg, deepnorm=True))
    with pytest.raises(ValueError, match="no_scale_embedding"):
        load_torchscale_decoder(sd, dict(cfg, no_scale_embedding=False))
    with pytest.raises(ValueError, match="decoder_layers"):
        load_torchscale_decoder(sd, {k: v for k, v in cfg.items() if k != "decoder_layers"})
    with pytest.raises(ValueError, match="does not match the config"):
        load_torchscale_decoder(sd, dict(cfg, decoder_layers=3))
    with pytest.raises(TypeError, match="state_dict must be a mapping"):
        load_torchscale_decoder([1, 2], cfg)
    bad = {k: (v.double() if k.startswith("layers.0") else v) for k, v in sd.items()}
    with pytest.raises(ValueError, match="one floating dtype"):
        load_torchscale_decoder(bad, cfg)
