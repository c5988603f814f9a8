"""The exercise checkers of notebook 12 (``notebooks/12_delta_rule_and_recall.ipynb``)."""

from __future__ import annotations

import math

import torch

from retnet_edu.baselines.recurrent import RecurrentConfig
from retnet_edu.baselines.transformer import TransformerConfig
from retnet_edu.course.checks._common import (
    _FLOAT32_TOL,
    Verdict,
    _as_float,
    _integer,
    _pending,
    _precision_note,
    _rel_err,
    _same,
    _tensor,
    check_close,
    report,
    unanswered,
)
from retnet_edu.experiments.recall import state_bytes

__all__ = ["ex12_delta_writes", "ex12_half_overwrite", "ex12_hybrid_state", "ex12_bounded_beta"]


# ---------------------------------------------------------------------------------------------------- 12.1
#: Exercise 12.1's writes (k_n, v_n, β_n), n = 0, 1, 2, into S_{-1} = 0 (d_k = d_v = 2; unit keys; k_0 and k_2 are
#: orthogonal, k_1 overlaps both), and the query that reads the state after the last write
WRITES_12_1 = (((1.0, 0.0), (2.0, 0.0), 1.0), ((0.6, 0.8), (1.0, 1.0), 0.5), ((0.0, 1.0), (0.0, 4.0), 1.0))
QUERY_12_1 = (0.6, 0.8)


def _writes(update) -> torch.Tensor:
    """The state after ``WRITES_12_1`` with ``update(S, k, v, beta) -> S`` (float64, k and v 1-D)."""
    S = torch.zeros(2, 2, dtype=torch.float64)
    for k, v, beta in WRITES_12_1:
        S = update(S, torch.tensor(k, dtype=torch.float64), torch.tensor(v, dtype=torch.float64), beta)
    return S


def _writes_upto(n: int) -> torch.Tensor:
    """The delta rule's state after the first ``n`` writes of ``WRITES_12_1``."""
    S = torch.zeros(2, 2, dtype=torch.float64)
    for k, v, beta in WRITES_12_1[:n]:
        k, v = torch.tensor(k, dtype=torch.float64), torch.tensor(v, dtype=torch.float64)
        S = S + beta * torch.outer(k, v - k @ S)
    return S


def delta_writes_reference() -> tuple[torch.Tensor, torch.Tensor]:
    """``(S, o)``: the delta rule's state after ``WRITES_12_1``, ``S_n = S_{n-1} + β_n k_nᵀ (v_n − k_n S_{n-1})``,
    and the read ``o = q S`` with ``q = QUERY_12_1`` (float64, written out without the package)."""
    S = _writes_upto(len(WRITES_12_1))
    return S, torch.tensor(QUERY_12_1, dtype=torch.float64) @ S


#: the typical wrong states of Exercise 12.1, each with the hint that names its mistake
_WRONG_STATES_12_1 = (
    (
        lambda S, k, v, b: S + torch.outer(k, v),
        "that is linear attention's state: it adds k_nᵀ v_n and erases nothing. The delta rule writes only the "
        "correction v_n − k_n S_(n-1), scaled by β_n",
    ),
    (
        lambda S, k, v, b: S + b * torch.outer(k, v),
        "you scaled each write by β_n but erased nothing: the delta rule writes the correction v_n − k_n S_(n-1) "
        "(new value minus what k_n reads now), not v_n itself",
    ),
    (
        lambda S, k, v, b: S + torch.outer(k, v - k @ S),
        "you left out β: the write with β = 0.5 moves what k_1 reads only half way to v_1",
    ),
    (
        lambda S, k, v, b: S + torch.outer(k, b * v - k @ S),
        "β multiplies the whole correction, erase included: S_n = S_(n-1) + β_n k_nᵀ (v_n − k_n S_(n-1)), i.e. "
        "(I − β_n k_nᵀ k_n) S_(n-1) + β_n k_nᵀ v_n",
    ),
)


def _pair(answer):
    """The learner's (S, o) as float64 tensors, or None when it is not a pair of array-likes."""
    if isinstance(answer, dict):
        answer = (answer.get("S"), answer.get("o"))
    if not isinstance(answer, (tuple, list)) or len(answer) != 2:
        return None
    S, o = (_tensor(x) for x in answer)
    if S is None or o is None:
        return None
    return S, o.flatten() if o.dim() == 2 and 1 in o.shape else o


def ex12_delta_writes(answer) -> Verdict:
    """Exercise 12.1: ``(S, o)``: the 2 × 2 state after the delta rule's three writes ``WRITES_12_1`` (from
    S_{-1} = 0) and the value ``o = q S`` read back with ``q = QUERY_12_1``. Array-likes of numbers (nested lists,
    numpy, torch; float32 or float64)."""
    name = "Exercise 12.1"
    if unanswered(answer) or (isinstance(answer, (tuple, list)) and any(unanswered(x) for x in answer)):
        return _pending(name)
    pair = _pair(answer)
    if pair is None:
        return report(name, False, "", "expected a pair (S, o): the 2 × 2 state and the 2 numbers read back")
    S, o = pair
    if tuple(S.shape) != (2, 2):
        return report(name, False, "", f"S is d_k × d_v = 2 × 2 (one row per key channel), got shape {tuple(S.shape)}")
    if tuple(o.shape) != (2,):
        return report(name, False, "", f"o = q S has d_v = 2 numbers, got shape {tuple(o.shape)}")
    S_ref, o_ref = delta_writes_reference()
    q = torch.tensor(QUERY_12_1, dtype=torch.float64)
    if not _same(S, S_ref, _FLOAT32_TOL):
        if _same(S, S_ref.T, _FLOAT32_TOL):
            return report(
                name,
                False,
                "",
                "transposed: S is d_k × d_v, k_nᵀ v_n is a column (the key) times a row (the value), so row i of S "
                "belongs to key channel i",
            )
        for update, hint in _WRONG_STATES_12_1:
            if _same(S, _writes(update), _FLOAT32_TOL):
                return report(name, False, "", hint)
        return report(
            name,
            False,
            "",
            "S is not right yet: for each write in turn read r = k_n S_(n-1), then add β_n k_nᵀ (v_n − r); "
            "start from the zero matrix",
        )
    if not _same(o, o_ref, _FLOAT32_TOL):
        if _same(o, S_ref @ q, _FLOAT32_TOL):
            return report(
                name,
                False,
                "",
                "S is right; read with the query as a row vector, o = q S (a mix of the rows of S), not S q",
            )
        if _same(o, torch.tensor(WRITES_12_1[-1][0], dtype=torch.float64) @ S_ref, _FLOAT32_TOL):
            return report(name, False, "", "S is right; read with the query q = (0.6, 0.8), not the last key")
        S_before = _writes_upto(len(WRITES_12_1) - 1)
        if _same(o, q @ S_before, _FLOAT32_TOL):
            return report(
                name, False, "", "S is right; that is what q read before the last write: read the final state"
            )
        return report(name, False, "", "S is right; o = q S with q = (0.6, 0.8): a weighted sum of the rows of S")
    err = max(_rel_err(S, S_ref), _rel_err(o, o_ref))
    S_text = [[round(x, 4) for x in row] for row in S_ref.tolist()]
    o_text = [round(x, 4) for x in o_ref.tolist()]
    return report(
        name,
        True,
        f"S = {S_text}, o = {o_text}: k_1 no longer reads (1.1, 0.5), what it read after its own write; the last "
        "write, along k_2, moved it, because k_1 and k_2 overlap (k_1 · k_2 = 0.8)" + _precision_note(err),
        "",
    )


# ---------------------------------------------------------------------------------------------------- 12.2
#: Exercise 12.2's key, not normalised: ‖k‖² = 9
KEY_12_2 = (1.0, 2.0, 2.0)


def ex12_half_overwrite(beta) -> Verdict:
    """Exercise 12.2: the β with which one delta-rule write of v_new under the un-normalised key ``KEY_12_2``
    makes ``k S`` the average of the old read ``k S_{n-1}`` and ``v_new``: k S_n = (1 − β‖k‖²) k S_{n-1} +
    β‖k‖² v_new, so β = 1/(2‖k‖²) = 1/18."""
    name = "Exercise 12.2"
    if unanswered(beta):
        return _pending(name)
    norm2 = sum(x * x for x in KEY_12_2)
    want = 1 / (2 * norm2)
    value = _as_float(beta)
    if value is not None:
        wrong = (
            (0.5, "that is the answer for a unit key; this key has ‖k‖² = 9, and k S_n moves by β‖k‖² of the way"),
            (1.0, "β = 1 with a unit key would replace the value; here you want half of the way, and ‖k‖² = 9"),
            (1 / norm2, "β = 1/‖k‖² moves k S all the way to v_new (a full overwrite); you want half of that"),
            (
                1 / (2 * math.sqrt(norm2)),
                "the key enters twice (k_nᵀ in the write, k_n in the read): the step is β‖k‖², the norm squared",
            ),
            (1 / math.sqrt(norm2), "the step along the key is β‖k‖² (the norm squared), and you want half of the way"),
            (2 / norm2, "2/‖k‖² is the largest β for which the state stays bounded, a reflection: k S_n = 2 v − k S"),
        )
        for bad, hint in wrong:
            if math.isclose(value, bad, rel_tol=1e-6):
                return report(name, False, "", hint)
    return check_close(
        name,
        beta,
        want,
        rtol=1e-6,
        hint="read the new state with k: k S_n = k S_(n-1) + β (k·k)(v_new − k S_(n-1)); ask for the coefficient "
        "of v_new to be ½",
        success=f"β = 1/(2‖k‖²) = 1/18 ≈ {want:.4f}: the write moves k S by β‖k‖² of the way from the old read to "
        "v_new, so an un-normalised key changes what β means (hence DeltaNet's unit-norm keys)",
    )


# ---------------------------------------------------------------------------------------------------- 12.3
#: Exercise 12.3's hybrid: four layers of Gated DeltaNet at the sweep's width, the last one attention (3:1)
HYBRID_12_3 = dict(
    vocab_size=256, embed_dim=64, num_layers=4, num_heads=4, rule="gated_deltanet", attention_layers=(3,)
)
LENGTH_12_3 = 4096
_KEYS_12_3 = ("parameters", "state_bytes", "transformer_state_bytes")


def hybrid_reference() -> dict:
    """Exercise 12.3's answer: the hybrid's parameter count, its state bytes after ``LENGTH_12_3`` tokens (float32),
    and those of a Transformer of the same width, depth and heads (its KV cache)."""
    hybrid = RecurrentConfig(**HYBRID_12_3)
    transformer = TransformerConfig(
        vocab_size=hybrid.vocab_size, embed_dim=hybrid.embed_dim, num_layers=4, num_heads=hybrid.num_heads
    )
    return {
        "parameters": hybrid.num_parameters(),
        "state_bytes": hybrid.state_bytes(LENGTH_12_3),
        "transformer_state_bytes": state_bytes(transformer, LENGTH_12_3),
    }


def _hybrid_wrong() -> tuple[list, list, list]:
    """(value, hint) pairs of the typical wrong numbers for each of the three answers."""
    c = RecurrentConfig(**HYBRID_12_3)
    pure = RecurrentConfig(**{**HYBRID_12_3, "attention_layers": ()})
    T, E, H, d_k, d_v = LENGTH_12_3, c.embed_dim, c.num_heads, c.key_dim, c.head_dim
    kv_layer = 2 * T * E * 4  # bytes of one attention layer's keys and values
    state = H * d_k * d_v  # numbers of one recurrent layer's matrix states
    conv = (c.conv_size - 1) * (2 * E + c.value_dim)  # numbers of one recurrent layer's convolution buffers
    params = [
        (pure.num_parameters(), "that is the pure Gated DeltaNet's count: set attention_layers=(3,) for the hybrid"),
        (
            c.num_parameters(exclude_embeddings=True),
            "count every weight, the token embedding and the output head included: num_parameters()",
        ),
    ]
    own = [
        (
            pure.state_bytes(T),
            f"that is the pure model's state: the attention layer keeps the keys and values of all {T} tokens",
        ),
        (c.state_bytes(T) // 4, "that is a count of numbers; float32 takes 4 bytes each"),
        (4 * kv_layer, "only one of the four layers is attention: the other three keep fixed-size states"),
        (3 * state * 4 + kv_layer, "the short convolutions keep their last conv_size − 1 inputs too (state_bytes)"),
        (3 * (state + conv) * 4 + kv_layer // 2, "attention caches keys *and* values: 2 · T · E numbers per layer"),
        (kv_layer, "add the three recurrent layers' states (small, but part of what the decoder keeps)"),
        (3 * (state + conv) * 4, "add the attention layer's KV cache: 2 · T · E numbers, growing with T"),
    ]
    transformer = [
        (4 * kv_layer // 4, "that is a count of numbers; float32 takes 4 bytes each"),
        (4 * kv_layer // 2, "a KV cache holds keys *and* values: 2 · T · E numbers per layer"),
        (kv_layer, "every one of the Transformer's 4 layers keeps its own keys and values"),
        (4 * kv_layer * H, "the heads split E: the cache holds 2 · T · E numbers per layer, not 2 · T · E · H"),
    ]
    return params, own, transformer


def ex12_hybrid_state(answer) -> Verdict:
    """Exercise 12.3: a dict with ``"parameters"`` (the hybrid ``RecurrentConfig(**HYBRID_12_3)``'s weights),
    ``"state_bytes"`` (what its decoder keeps after ``LENGTH_12_3`` tokens, float32) and
    ``"transformer_state_bytes"`` (the KV cache of a Transformer with the same width, depth and heads)."""
    name = "Exercise 12.3"
    if unanswered(answer):
        return _pending(name)
    if not isinstance(answer, dict):
        return report(name, False, "", f"expected a dict with the keys {', '.join(_KEYS_12_3)}")
    missing = [key for key in _KEYS_12_3 if key not in answer]
    if missing:
        return report(name, False, "", f"the dict needs the keys {', '.join(_KEYS_12_3)}; missing {missing}")
    if any(unanswered(answer[key]) for key in _KEYS_12_3):
        return _pending(name)
    values = {}
    for key in _KEYS_12_3:
        value = _integer(answer[key])
        if value is None:
            return report(name, False, "", f"{key} must be a whole number, got {answer[key]!r}")
        values[key] = value
    want = hybrid_reference()
    wrong = dict(zip(_KEYS_12_3, _hybrid_wrong(), strict=True))
    for key in _KEYS_12_3:
        if values[key] == want[key]:
            continue
        hints = [hint for bad, hint in wrong[key] if values[key] == bad]  # two mistakes can give the same number
        if hints:
            return report(name, False, "", f"{key}: " + "; or ".join(hints))
        what = {
            "parameters": "RecurrentConfig(**HYBRID_12_3).num_parameters()",
            "state_bytes": "per recurrent layer H · d_k · d_v numbers plus the convolution buffers, per attention "
            "layer 2 · T · E numbers, 4 bytes each (RecurrentConfig.state_bytes)",
            "transformer_state_bytes": "per layer 2 · T · E numbers (keys and values of every token), 4 bytes each",
        }[key]
        return report(name, False, "", f"{key} is not right yet: {what}")
    ratio = want["transformer_state_bytes"] / want["state_bytes"]
    return report(
        name,
        True,
        f"{want['parameters']:,} parameters; {want['state_bytes']:,} bytes after {LENGTH_12_3} tokens against the "
        f"Transformer's {want['transformer_state_bytes']:,} ({ratio:.1f}× less): the one attention layer's cache is "
        "almost all of it, and it still grows with T",
        "",
    )


# ---------------------------------------------------------------------------------------------------- 12.4
#: Exercise 12.4: unit keys multiplied by a learned scale s (so ‖k‖ = s)
SCALE_12_4 = 1.5


def ex12_bounded_beta(beta_max) -> Verdict:
    """Exercise 12.4: the largest β for which ``I − β kᵀk`` never makes the state grow when ‖k‖ = ``SCALE_12_4``:
    the eigenvalues are 1 (d_k − 1 times) and 1 − β‖k‖², which lies in [−1, 1] for β ∈ [0, 2/‖k‖²]; 2/s² = 8/9."""
    name = "Exercise 12.4"
    if unanswered(beta_max):
        return _pending(name)
    s2 = SCALE_12_4**2
    want = 2 / s2
    if isinstance(beta_max, (tuple, list)) and len(beta_max) == 2:
        low = _as_float(beta_max[0])
        if low is not None and low == 0:
            beta_max = beta_max[1]  # an interval (0, β_max) is an answer too
    value = _as_float(beta_max)
    if value is not None:
        wrong = (
            (2.0, "that is the bound for unit keys; here ‖k‖ = 1.5, and the eigenvalue along k is 1 − β‖k‖²"),
            (2 / SCALE_12_4, "the eigenvalue along k is 1 − β‖k‖²: the norm enters squared (k_nᵀ k_n)"),
            (
                1 / s2,
                "1/‖k‖² keeps the eigenvalue 1 − β‖k‖² ≥ 0; the state stays bounded down to an eigenvalue of −1 "
                "(a reflection), so β can go further",
            ),
            (1.0, "that is the range of DeltaNet's sigmoid; find where the eigenvalue 1 − β‖k‖² reaches −1"),
        )
        for bad, hint in wrong:
            if math.isclose(value, bad, rel_tol=1e-6):
                return report(name, False, "", hint)
    return check_close(
        name,
        beta_max,
        want,
        rtol=1e-6,
        hint="the eigenvalues of I − β kᵀk are 1 (across k) and 1 − β‖k‖² (along k); ask for |1 − β‖k‖²| ≤ 1",
        success=f"β ≤ 2/‖k‖² = 2/2.25 = {want:.4f}: a β = 2·sigmoid(·) up to 2 would make the state grow along k; "
        "scaled keys shrink the safe range, unit keys keep it at [0, 2]",
    )
