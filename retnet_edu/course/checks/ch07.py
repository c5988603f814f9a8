"""The exercise checkers of notebook 07 (``notebooks/07_multiscale_retention_and_the_block.ipynb``)."""

from __future__ import annotations

import math

import torch

from retnet_edu.course.checks._common import (
    _FLOAT32_TOL,
    Verdict,
    _as_float,
    _call,
    _expect_callable,
    _integer,
    _pending,
    _precision_note,
    _rel_err,
    _same,
    report,
    unanswered,
)
from retnet_edu.course.official_scaling import official_recurrent
from retnet_edu.model import RetNetConfig, RetNetLM
from retnet_edu.retention import decay_gammas, recurrent_retention

__all__ = ["ex07_model_params", "ex07_ffn_width", "ex07_official_state", "ex07_long_prompt"]


# (vocab_size, d, num_layers, value_dim, ffn_dim, num_heads) of the models the parameter checker builds
# (the first has value_dim ≠ 2d, so that the 12d² shortcut shows at once)
_MODEL_CASES = ((100, 32, 3, 48, 40, 2), (50, 48, 2, 96, 64, 2), (7, 16, 1, 16, 8, 2))


def ex07_model_params(fn) -> Verdict:
    """Exercise 07.1: ``fn(vocab_size, d, num_layers, value_dim, ffn_dim) -> int``, the number of parameters of a
    whole ``RetNetLM`` (embedding, blocks, final norm, output projection), checked against the modules."""
    name = "Exercise 07.1"
    pending = _expect_callable(name, fn, "fn(vocab_size, d, num_layers, value_dim, ffn_dim)")
    if pending is not None:
        return pending
    for vocab, d, L, V, F, H in _MODEL_CASES:
        cfg = RetNetConfig(vocab_size=vocab, embed_dim=d, num_layers=L, num_heads=H, value_dim=V, ffn_dim=F)
        want = sum(p.numel() for p in RetNetLM(cfg).parameters())
        ok, got = _call(name, fn, vocab, d, L, V, F)
        if not ok:
            return got
        value = _integer(got)
        if value is None:
            return report(name, False, "", f"expected a whole number of parameters, got {got!r}")
        if value == want:
            continue
        where = f"vocab {vocab}, d = {d}, {L} layer(s), value_dim {V}, ffn_dim {F}: "
        shortcuts = (12 * d * d * L, 12 * d * d * L + 2 * vocab * d, L * (12 * d * d + 2 * d) + d + 2 * vocab * d)
        if V != 2 * d and value in shortcuts:
            return report(
                name, False, "", where + "12d² holds only for V = 2d, F = 4d/3: count from value_dim and ffn_dim"
            )
        if value == want - d:
            return report(name, False, "", where + "the final RMSNorm before the output projection has a gain too")
        if value == want - vocab * d:
            return report(
                name, False, "", where + "the output projection is its own vocab × d matrix (not tied to the embedding)"
            )
        if value == want - 2 * vocab * d:
            return report(name, False, "", where + "count the token embedding and the output projection too")
        if value in (want - 2 * d * L, want - 2 * d * L - d):
            return report(name, False, "", where + "every block has two RMSNorms, each with a gain vector of d weights")
        if value == 12 * d * d * L or value == 12 * d * d * L + 2 * vocab * d:
            return report(
                name, False, "", where + "12d² holds only for V = 2d, F = 4d/3: count from value_dim and ffn_dim"
            )
        return report(
            name,
            False,
            "",
            where + "count every matrix (no biases): per block q, k, v, g, out and fc1, gate, fc2, two norm gains; "
            "then the embedding, the final norm and the output projection",
        )
    return report(
        name,
        True,
        "L·(2d² + 3dV + 3dF + 2d) + d + 2·vocab·d, checked against the modules",
        "",
    )


def ex07_ffn_width(F) -> Verdict:
    """Exercise 07.2: d = 768 and value_dim = d (half the paper's): the gated-FFN width that makes a layer exactly
    12 d² (norms aside)."""
    name = "Exercise 07.2"
    if unanswered(F):
        return _pending(name)
    value = _as_float(F)
    if value is None:
        return report(name, False, "", f"expected a number, got {type(F).__name__}")
    d = 768
    if math.isclose(value, 7 * d / 3, rel_tol=1e-6):
        return report(
            name,
            True,
            "ffn_dim = 7d/3 = 1792: retention 2d² + 3·d·d = 5d², gated FFN 3·d·(7d/3) = 7d² → 12d²; a narrower value "
            "width moves weight into the FFN",
            "",
        )
    if math.isclose(value, 4 * d / 3, rel_tol=1e-6):
        return report(
            name, False, "", "4d/3 is the width for value_dim = 2d; with value_dim = d the retention branch is smaller"
        )
    if math.isclose(value, 7 * d / 2, rel_tol=1e-6):
        return report(name, False, "", "that is the width of a plain FFN (two matrices); the gated FFN has three")
    return report(
        name,
        False,
        "",
        "retention holds 2d² (q, k) + 3·d·value_dim (v, g, out); the gated FFN three d × ffn_dim matrices: "
        "set the sum to 12d²",
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
    if _same(got, S, _FLOAT32_TOL):
        return report(
            name,
            True,
            "S = prev_key_valueᵀ · √scale: the official state is the paper's, transposed and divided by √S_(T-1)"
            + _precision_note(_rel_err(got, S)),
            "",
        )
    if not isinstance(got, torch.Tensor) or got.shape != S.shape:
        return report(
            name,
            False,
            "",
            f"S must have shape (B, H, d_k, d_v) = {tuple(S.shape)}: the official state is stored transposed",
        )
    if _same(got, kv.transpose(-1, -2), _FLOAT32_TOL):
        return report(name, False, "", "right shape, but the official state is also divided by √scale")
    if _same(got, kv.transpose(-1, -2) / scale.sqrt()[None, :, None, None], _FLOAT32_TOL):
        return report(name, False, "", "the official state is divided by √scale: undo it by multiplying, not dividing")
    if _same(got, kv.transpose(-1, -2) * scale[None, :, None, None], _FLOAT32_TOL):
        return report(name, False, "", "the official state is divided by the square root of scale, not by scale")
    return report(
        name, False, "", "transpose the last two dimensions and undo the official scaling (one factor per head)"
    )


def _greedy_pieces_without_state(model, prompt, n_new, piece):
    """The typical mistake: each piece of the prompt read from scratch (no state passed), then decoding from the
    last piece's state."""
    for start in range(0, prompt.shape[1], piece):
        logits, state = model(prompt[:, start : start + piece], mode="parallel")
    tokens = prompt
    for _ in range(n_new):
        nxt = logits[:, -1].argmax(-1, keepdim=True)
        tokens = torch.cat([tokens, nxt], dim=1)
        logits, state = model(nxt, mode="recurrent", state=state)
    return tokens


def ex07_long_prompt(fn) -> Verdict:
    """Exercise 07.4: ``fn(model, prompt, n_new, piece) -> tokens``: greedy decoding of a prompt (1, T) read in
    pieces of at most ``piece`` tokens (one parallel call per piece, each carrying the state of the one before),
    then ``n_new`` tokens added one recurrent step at a time. Returns (1, T + n_new)."""
    name = "Exercise 07.4"
    pending = _expect_callable(name, fn, "fn(model, prompt, n_new, piece)")
    if pending is not None:
        return pending

    class CountingLM(RetNetLM):
        tokens_read = 0
        largest_call = 0

        def forward(self, tokens, *args, **kwargs):
            self.tokens_read += int(tokens.shape[1])
            self.largest_call = max(self.largest_call, int(tokens.shape[1]))
            return super().forward(tokens, *args, **kwargs)

    T, n_new, piece = 20, 6, 6
    torch.manual_seed(2)  # a model whose greedy continuation varies (a constant one would hide mistakes)
    model = CountingLM(RetNetConfig(vocab_size=23, embed_dim=16, num_layers=2, num_heads=2)).double().eval()
    prompt = torch.randint(0, 23, (1, T), generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        want = model.generate(prompt, n_new, temperature=0.0, mode="parallel")
        stateless = _greedy_pieces_without_state(model, prompt, n_new, piece)
    model.tokens_read = model.largest_call = 0
    with torch.no_grad():
        ok, got = _call(name, fn, model, prompt.clone(), n_new, piece)
    if not ok:
        return got
    if not isinstance(got, torch.Tensor) or tuple(got.shape) != (1, T + n_new):
        return report(name, False, "", "return the prompt followed by the new tokens, shape (1, T + n_new)")
    if model.largest_call > piece:
        return report(
            name,
            False,
            "",
            f"one call read {model.largest_call} tokens, more than piece = {piece}: read the prompt in pieces, "
            "one call per piece",
        )
    if not torch.equal(got, want):
        if torch.equal(got, stateless) and not torch.equal(stateless, want):
            return report(
                name,
                False,
                "",
                "each piece must start from the state the previous piece returned (state=...): without it, the "
                "model forgets every earlier piece",
            )
        return report(
            name,
            False,
            "",
            "different tokens from greedy decoding: carry the state from piece to piece and into the decoding "
            "steps, and take the argmax of the last position's logits",
        )
    if model.tokens_read > T + n_new:
        return report(
            name,
            False,
            "",
            f"right tokens, but the model read {model.tokens_read} tokens for a {T}-token prompt and {n_new} new "
            "ones: read each prompt token once, then feed only the newest token with the state",
        )
    return report(
        name,
        True,
        f"same tokens as one parallel pass, no call longer than {piece} tokens, {model.tokens_read} tokens read: "
        "the state carries the prompt from piece to piece (chunkwise retention, by hand)",
        "",
    )
