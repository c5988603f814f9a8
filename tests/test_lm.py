"""The language-model protocol (retnet_edu.lm): every model runs, carries state, generates, counts and is rebuilt
from its name the same way."""

import pytest
import torch

from retnet_edu.baselines.hyena import HyenaConfig, HyenaLM, matched_hyena_config
from retnet_edu.baselines.transformer import KVCache, TransformerConfig, TransformerLM, matched_transformer_config
from retnet_edu.lm import DecodingPlan, TokenLM, build_lm, matched_config
from retnet_edu.model import RetNetConfig, RetNetLM

RETNET = RetNetConfig(vocab_size=11, embed_dim=16, num_layers=2, num_heads=2)


def models():
    torch.manual_seed(0)
    return [
        RetNetLM(RETNET).double(),
        TransformerLM(matched_transformer_config(RETNET)).double(),
        HyenaLM(matched_hyena_config(RETNET, max_len=32)).double(),
    ]


def test_registry_names_every_model():
    assert {"retnet", "transformer", "hyena"} <= set(TokenLM.registry)
    assert TokenLM.registry["retnet"] is RetNetLM and TokenLM.registry["hyena"] is HyenaLM


@pytest.mark.parametrize("index", [0, 1, 2])
def test_build_lm_round_trip(index):
    model = models()[index]
    again = build_lm(model.kind, model.config.to_dict()).double()
    again.load_state_dict(model.state_dict())
    x = torch.randint(0, 11, (2, 9))
    assert torch.equal(model(x)[0], again(x)[0])


def test_build_lm_bad_input():
    with pytest.raises(ValueError, match="unknown model kind 'rwkv'"):
        build_lm("rwkv", {})
    with pytest.raises(TypeError, match="config must be a dict"):
        build_lm("retnet", RETNET)


@pytest.mark.parametrize("index", [0, 1, 2])
def test_run_and_carry_state_equal_one_call(index):
    """model(tokens) in one call = the prompt then one token at a time with the state (for a model that carries
    one); float64, 1e-10."""
    model = models()[index]
    x = torch.randint(0, 11, (2, 12))
    full, _ = model(x)
    if not model.carries_state:
        with pytest.raises(ValueError, match="carries no state"):
            model(x, state=KVCache())
        return
    logits, state = model(x[:, :5], state=model.decoding_state())
    outs = [logits]
    for n in range(5, 12):
        logits, state = model(x[:, n : n + 1], state=state)
        outs.append(logits)
    assert torch.allclose(torch.cat(outs, 1), full, atol=1e-10, rtol=0)


@pytest.mark.parametrize("index", [0, 1, 2])
def test_generate_with_and_without_state_agree(index):
    model = models()[index]
    prompt = torch.randint(0, 11, (2, 4))
    with_state = model.generate(prompt, 8, temperature=0)
    plan_off = {"retnet": {"mode": "parallel"}, "transformer": {"use_cache": False}, "hyena": {"conv": "direct"}}
    without = model.generate(prompt, 8, temperature=0, **plan_off[model.kind])
    assert with_state.shape == (2, 12) and torch.equal(with_state, without)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(
        model.generate(prompt[0], 6, top_k=3, generator=g1), model.generate(prompt[0], 6, top_k=3, generator=g2)
    )


def test_decoding_plans():
    retnet, transformer, hyena = models()
    assert retnet.decoding_plan() == DecodingPlan(True, {"mode": "recurrent"}, {"mode": "recurrent"})
    assert retnet.decoding_plan(prefill_mode="chunkwise").prefill == {"mode": "chunkwise"}
    assert retnet.decoding_plan(mode="parallel") == DecodingPlan(False, {"mode": "parallel"})
    assert transformer.decoding_plan(use_cache=False).stateful is False
    assert isinstance(transformer.decoding_state(), KVCache) and retnet.decoding_state() is None
    assert hyena.decoding_plan().stateful is False
    with pytest.raises(TypeError, match="unexpected keyword argument 'use_cache'"):
        retnet.generate(torch.zeros(3, dtype=torch.long), 2, use_cache=False)
    with pytest.raises(ValueError, match="mode must be one of"):
        retnet.generate(torch.zeros(3, dtype=torch.long), 2, mode="fast")


def test_config_mode_is_the_default_mode():
    torch.manual_seed(0)
    a = RetNetLM(RETNET).double()
    b = RetNetLM(RetNetConfig(**{**RETNET.to_dict(), "mode": "chunkwise", "chunk_size": 5})).double()
    b.load_state_dict(a.state_dict())
    x = torch.randint(0, 11, (2, 13))
    assert torch.allclose(a(x)[0], b(x)[0], atol=1e-12, rtol=0)
    with pytest.raises(ValueError, match="mode must be one of"):
        RetNetConfig(vocab_size=5, mode="fast")


def test_counts_from_sizes_equal_the_modules():
    for model in models():
        assert model.config.num_parameters() == model.num_parameters()
        assert model.config.num_parameters(exclude_embeddings=True) == model.num_parameters(exclude_embeddings=True)


@pytest.mark.parametrize("target", [10_000, 54_321, 200_000])
def test_matched_config_lands_within_one_column(target):
    fields = dict(vocab_size=20, embed_dim=32, num_layers=2, num_heads=2)
    cfg = matched_config(target, TransformerConfig, **fields)
    column = 2 * 3 * 32  # one FFN column in each of the 2 layers: 3·d weights
    assert abs(cfg.num_parameters() - target) <= column / 2
    with pytest.raises(ValueError, match="more than 5% apart"):
        matched_config(target, TransformerConfig, **fields, ffn_dim=1 if target > 50_000 else 4000)
    with pytest.raises(ValueError, match="tolerance"):
        matched_config(target, HyenaConfig, tolerance=2.0, max_len=8, **fields)


def test_a_subclass_without_its_own_kind_does_not_replace_the_registered_model():
    class CountingLM(RetNetLM):  # e.g. a checker's instrumented model
        pass

    assert TokenLM.registry["retnet"] is RetNetLM and CountingLM.kind == "retnet"
