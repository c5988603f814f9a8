"""The exercise checkers of notebook 07 (``notebooks/07_multiscale_retention_and_the_block.ipynb``)."""

from __future__ import annotations

import numbers

import torch

from retnet_edu.course.checks._common import Verdict, _call, _expect_callable, _pending, _same, report, unanswered
from retnet_edu.course.official_scaling import official_recurrent
from retnet_edu.layers import RetNetBlock
from retnet_edu.model import RetNetConfig, RetNetLM
from retnet_edu.retention import decay_gammas, recurrent_retention

__all__ = ["ex07_layer_params", "ex07_ffn_width", "ex07_official_state", "ex07_greedy_decode"]


def ex07_layer_params(fn) -> Verdict:
    """Exercise 07.1: ``fn(d, value_dim, ffn_dim) -> int``, the number of parameters of one ``RetNetBlock``."""
    name = "Exercise 07.1"
    pending = _expect_callable(name, fn, "fn(d, value_dim, ffn_dim)")
    if pending is not None:
        return pending
    for d, V, F, H in ((64, 128, 85, 4), (32, 48, 40, 2), (16, 16, 8, 1)):
        want = sum(p.numel() for p in RetNetBlock(d, V, H, F).parameters())
        ok, got = _call(name, fn, d, V, F)
        if not ok:
            return got
        if got == want:
            continue
        if isinstance(got, numbers.Real) and got == want - 2 * d:
            return report(name, False, "", "almost: the two RMSNorms each have a gain vector of d weights")
        return report(
            name,
            False,
            "",
            f"d={d}, value_dim={V}, ffn_dim={F}: count q, k (d × d), v, g (d × value_dim), "
            "out (value_dim × d), fc1, gate (d × ffn_dim), fc2 (ffn_dim × d): no biases",
        )
    return report(name, True, "2d² + 3·d·value_dim + 3·d·ffn_dim + 2d, checked against the modules", "")


def ex07_ffn_width(F) -> Verdict:
    """Exercise 07.2: d = 768 and value_dim = 2d: the ffn_dim that makes a layer exactly 12 d² (norms aside)."""
    name = "Exercise 07.2"
    if unanswered(F):
        return _pending(name)
    if isinstance(F, bool) or not isinstance(F, numbers.Real):
        return report(name, False, "", "expected a number")
    if F == 1024:
        return report(name, True, "ffn_dim = 4d/3 = 1024: retention 8d² + gated FFN 3·d·(4d/3) = 4d² → 12d²", "")
    if F == 2 * 768:
        return report(
            name,
            False,
            "",
            "2d is the paper's width for a plain (ungated) FFN with two matrices; the gated FFN has three",
        )
    return report(
        name,
        False,
        "",
        "retention takes 2d² + 3·d·(2d) = 8d²; the gated FFN has three d × ffn_dim matrices: solve 3·d·ffn_dim = 4d²",
    )


def ex07_official_state(fn) -> Verdict:
    """Exercise 07.3: ``fn(prev_key_value, scale) -> S``: the package's recurrent state (B, H, d_k, d_v) from the
    official one (``prev_key_value`` (B, H, d_v, d_k), ``scale`` (H,))."""
    name = "Exercise 07.3"
    pending = _expect_callable(name, fn, "fn(prev_key_value, scale)")
    if pending is not None:
        return pending
    gen = torch.Generator().manual_seed(7)
    q, k = (torch.randn(2, 3, 9, 4, generator=gen, dtype=torch.float64) for _ in range(2))
    v = torch.randn(2, 3, 9, 6, generator=gen, dtype=torch.float64)
    gamma = decay_gammas(3)
    _, kv, scale = official_recurrent(q, k, v, gamma)
    _, S = recurrent_retention(q, k, v, gamma)
    ok, got = _call(name, fn, kv.clone(), scale.clone())
    if not ok:
        return got
    if _same(got, S):
        return report(
            name,
            True,
            "S = prev_key_valueᵀ · √scale: the official state is the paper's, transposed and divided by √S_(T-1)",
            "",
        )
    if not isinstance(got, torch.Tensor) or got.shape != S.shape:
        return report(
            name,
            False,
            "",
            f"S must have shape (B, H, d_k, d_v) = {tuple(S.shape)}: the official state is stored transposed",
        )
    if _same(got, kv.transpose(-1, -2)):
        return report(name, False, "", "right shape, but the official state is also divided by √scale")
    if _same(got, kv.transpose(-1, -2) * scale[None, :, None, None]):
        return report(name, False, "", "the official state is divided by the square root of scale, not by scale")
    return report(
        name, False, "", "transpose the last two dimensions and undo the official scaling (one factor per head)"
    )


def ex07_greedy_decode(fn) -> Verdict:
    """Exercise 07.4: ``fn(model, prompt, n_new) -> tokens``: greedy decoding that reads the prompt (1, T) once in
    parallel mode and then adds one token per recurrent step, carrying the state. Returns (1, T + n_new)."""
    name = "Exercise 07.4"
    pending = _expect_callable(name, fn, "fn(model, prompt, n_new)")
    if pending is not None:
        return pending

    class CountingLM(RetNetLM):
        tokens_read = 0

        def forward(self, tokens, *args, **kwargs):
            self.tokens_read += int(tokens.shape[1])
            return super().forward(tokens, *args, **kwargs)

    torch.manual_seed(3)
    model = CountingLM(RetNetConfig(vocab_size=23, embed_dim=16, num_layers=2, num_heads=2)).double().eval()
    prompt = torch.randint(0, 23, (1, 7), generator=torch.Generator().manual_seed(4))
    want = model.generate(prompt, 9, temperature=0.0, mode="parallel")
    model.tokens_read = 0
    with torch.no_grad():
        ok, got = _call(name, fn, model, prompt.clone(), 9)
    if not ok:
        return got
    if not isinstance(got, torch.Tensor) or tuple(got.shape) != (1, 16):
        return report(name, False, "", "return the prompt followed by the new tokens, shape (1, T + n_new)")
    if not torch.equal(got, want):
        return report(
            name,
            False,
            "",
            "different tokens from greedy decoding: take argmax of the last position's "
            "logits, and pass the state returned by each call to the next",
        )
    if model.tokens_read > 7 + 9:
        return report(
            name,
            False,
            "",
            f"right tokens, but the model read {model.tokens_read} tokens for a 7-token "
            "prompt and 9 new ones: read the prompt once, then feed only the newest token with the state",
        )
    return report(name, True, f"same tokens as recomputing everything, reading {model.tokens_read} tokens in all", "")
