r"""The numerical proof lab's tools (notebook 06): errors and tolerances, comparing the three modes forward and
backward, a seeded randomised sweep, a bug diagnosis, and the low-precision facts (γ rounding, decay overflow).

Tolerances are *relative to the size of the reference*: ``max |a - ref| / max |ref|``. Each output is a sum of
many products, and the modes add them in different orders, so their results differ by a few units of roundoff
of the dtype times the size of the terms, whatever the size of the inputs:

- float64: unit roundoff 2^-53 ≈ 1.1e-16; measured differences ~1e-15; tolerance ``1e-10``;
- float32: unit roundoff 2^-24 ≈ 6.0e-8; measured differences ~1e-6; tolerance ``1e-5``.

The float64 tolerance sits ~5 orders of magnitude above what rounding gives, the float32 one 1-2 orders (float32
errors creep up with the sequence length when a head does not decay). Bugs are far above both *only if the probe
can see them*: the errors of a missing ζ, an off-by-one ξ or an undecayed state scale with (1 - γ) (and the last
one with T too), so a probe needs a fast head and T well beyond the chunk size; on the slowest head of a 16-head
model they fall below the float32 tolerance (notebook 06 measures all of this; ``diagnose`` probes with γ = 31/32
and three chunks). Layer: imports ``retention`` and ``layers`` (for the group norm).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable

import torch
from torch import Tensor

from retnet_edu._args import check_gamma
from retnet_edu.layers import group_rms_norm
from retnet_edu.retention import (
    chunk_cross_retention,
    chunk_state_update,
    chunkwise_retention,
    decay_gammas,
    parallel_retention,
    recurrent_retention,
)

__all__ = [
    "TOLERANCES",
    "tolerance",
    "rel_error",
    "random_qkv",
    "compare_modes",
    "random_case",
    "randomised_sweep",
    "diagnose",
    "format_diagnosis",
    "rounded_gamma",
    "heads_rounding_to_one",
    "split_decay_mask",
    "split_decay_overflow_length",
    "log_space_decay_mask",
]

TOLERANCES = {torch.float64: 1e-10, torch.float32: 1e-5}


def tolerance(dtype: torch.dtype) -> float:
    """The relative tolerance the course uses to call two results of ``dtype`` equal (float64 or float32)."""
    if dtype not in TOLERANCES:
        raise ValueError(f"dtype must be torch.float64 or torch.float32, got {dtype}")
    return TOLERANCES[dtype]


def rel_error(a: Tensor, ref: Tensor) -> float:
    """``max |a - ref| / max |ref|``, computed in float64 (0.0 when both are empty; ``max |a|`` when ref is 0)."""
    if not isinstance(a, Tensor) or not isinstance(ref, Tensor):
        raise TypeError("a and ref must be torch.Tensors")
    if a.shape != ref.shape:
        raise ValueError(f"a and ref must have one shape, got {tuple(a.shape)} and {tuple(ref.shape)}")
    if ref.numel() == 0:
        return 0.0
    a, ref = a.detach().double(), ref.detach().double()
    diff = (a - ref).abs().max().item()
    scale = ref.abs().max().item()
    return diff / scale if scale > 0 else diff


def random_qkv(
    B: int = 1,
    H: int = 4,
    T: int = 64,
    d_k: int = 16,
    d_v: int = 16,
    dtype=torch.float64,
    seed: int = 0,
    scale: float = 1.0,
) -> tuple[Tensor, Tensor, Tensor]:
    """Seeded standard-normal q, k (B, H, T, d_k) and v (B, H, T, d_v), times ``scale``, in ``dtype``.

    Drawn in float64 and then rounded, so a float32 draw is the float64 draw rounded (the two dtypes see the
    same numbers)."""
    gen = torch.Generator().manual_seed(seed)
    return tuple(
        (torch.randn(B, H, T, d, generator=gen, dtype=torch.float64) * scale).to(dtype) for d in (d_k, d_k, d_v)
    )


def _mode(q, k, v, gamma, mode, chunk_size, S0):
    if mode == "parallel":
        o = parallel_retention(q, k, v, gamma)
        if S0 is not None:
            o = o + chunk_cross_retention(q, gamma, S0)
        return o, chunk_state_update(k, v, gamma, S0)
    if mode == "recurrent":
        return recurrent_retention(q, k, v, gamma, S0)
    return chunkwise_retention(q, k, v, gamma, chunk_size, S0)


def compare_modes(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    gamma: Tensor,
    chunk_sizes=(1, 3, 4),
    grad: bool = True,
    state: Tensor | None = None,
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    """Run parallel, recurrent and chunkwise (for each chunk size) on the same inputs and compare them with parallel.

    Returns ``{"recurrent": errs, "chunkwise B=3": errs, …}`` where errs maps "o" (outputs), "S" (final state)
    and, when ``grad``, "dq", "dk", "dv" (gradients of ``Σ o ⊙ w`` for a fixed seeded w) to ``rel_error`` against
    the parallel mode. The parallel mode's state is ``chunk_state_update`` over the whole sequence (one chunk);
    with an incoming ``state`` the parallel output gets the cross term ``ξ ⊙ (Q S_0)``.
    """
    results = {}
    ref = None
    w = None
    for name, mode, c in [("parallel", "parallel", None), ("recurrent", "recurrent", None)] + [
        (f"chunkwise B={c}", "chunkwise", c) for c in chunk_sizes
    ]:
        leaves = [x.detach().clone().requires_grad_(grad) for x in (q, k, v)]
        o, S = _mode(*leaves, gamma, mode, c, state)
        out = {"o": o.detach(), "S": S.detach()}
        if grad:
            if w is None:
                gen = torch.Generator().manual_seed(seed)
                w = torch.randn(o.shape, generator=gen, dtype=torch.float64).to(o.dtype)
            if o.numel():
                dq, dk, dv = torch.autograd.grad((o * w).sum(), leaves, allow_unused=True)
            else:
                dq, dk, dv = (torch.zeros_like(x) for x in leaves)
            out.update(dq=dq, dk=dk, dv=dv)
        if ref is None:
            ref = out
            continue
        results[name] = {key: rel_error(val, ref[key]) for key, val in out.items()}
    return results


def random_case(gen: torch.Generator) -> dict:
    """One random configuration for the sweep: sizes, chunk size (any, also larger than T or not dividing it),
    decays in (0.5, 1] with γ = 1 now and then, an input scale, with or without an incoming state, and a dtype."""

    def randint(lo, hi):  # inclusive
        return int(torch.randint(lo, hi + 1, (1,), generator=gen))

    T = randint(1, 80)
    H = randint(1, 4)
    gamma = 0.5 + 0.5 * torch.rand(H, generator=gen, dtype=torch.float64)
    if randint(0, 4) == 0:
        gamma[randint(0, H - 1)] = 1.0
    return dict(
        B=randint(1, 3),
        H=H,
        T=T,
        d_k=2 * randint(1, 8),
        d_v=randint(1, 16),
        chunk_size=randint(1, T + 3),
        gamma=gamma,
        scale=10.0 ** (3 * float(torch.rand(1, generator=gen)) - 2),
        with_state=bool(randint(0, 1)),
        dtype=torch.float64 if randint(0, 1) else torch.float32,
        seed=randint(0, 2**31 - 1),
    )


def randomised_sweep(n_cases: int = 100, seed: int = 0, grad: bool = True) -> list[dict]:
    """``n_cases`` seeded random configurations (``random_case``), each run in all three modes with
    ``compare_modes``. Returns one record per case: the configuration, ``worst`` (the largest relative error over
    outputs, states and gradients of recurrent and chunkwise vs parallel), ``tolerance`` and ``ok``."""
    if isinstance(n_cases, bool) or not isinstance(n_cases, numbers.Integral) or n_cases < 1:
        raise ValueError(f"n_cases must be a positive int, got {n_cases!r}")
    gen = torch.Generator().manual_seed(seed)
    records = []
    for _ in range(n_cases):
        c = random_case(gen)
        q, k, v = random_qkv(c["B"], c["H"], c["T"], c["d_k"], c["d_v"], c["dtype"], c["seed"], c["scale"])
        S0 = None
        if c["with_state"]:
            g2 = torch.Generator().manual_seed(c["seed"] + 1)
            S0 = (
                torch.randn(c["B"], c["H"], c["d_k"], c["d_v"], generator=g2, dtype=torch.float64) * c["scale"] ** 2
            ).to(c["dtype"])
        errs = compare_modes(q, k, v, c["gamma"], chunk_sizes=(c["chunk_size"],), grad=grad, state=S0, seed=c["seed"])
        worst = max(e for m in errs.values() for e in m.values())
        tol = tolerance(c["dtype"])
        records.append({**c, "worst": worst, "tolerance": tol, "ok": worst <= tol})
    return records


# ----------------------------------------------------------------------------------------------------------
# diagnosing a broken implementation
# ----------------------------------------------------------------------------------------------------------
def _row_errors(o: Tensor, ref: Tensor) -> Tensor:
    """max over batch, heads and d_v of |o - ref| per token, relative to max |ref|: shape (T,)."""
    return (o - ref).abs().amax(dim=(0, 1, 3)) / ref.abs().max()


def diagnose(fn: Callable[..., Tensor], chunk_size: int = 4, T: int = 12, seed: int = 0) -> dict:
    """Probe a retention implementation ``fn(q, k, v, gamma, chunk_size) -> o`` against bare retention (eq. 5).

    float64, 4 heads with the eq. 8 decays, d_k = d_v = 8. Returns a dict:

    - ``max_error``: relative error on random inputs;
    - ``first_wrong_token``: the first position whose output is off (None if none is);
    - ``right_when_gamma_is_1``: does it agree when every γ = 1 (no decay at all)?
    - ``right_with_chunk_size_1``: does it agree with chunk_size = 1 (every token its own chunk)?
    - ``proportional``: is every output row a positive multiple of the right row (only a rescaling, which a
      group norm with eps = 0 removes)?
    - ``row_factor_last``: if proportional, the factor (right row → its row) at the last token, per head;
    - ``after_norm_eps0`` / ``after_norm_eps1e-6``: relative error after the RMS group norm with eps = 0 and 1e-6,
      on inputs scaled by 0.05 (pre-norm rows as small as in a freshly initialised model).
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable as fn(q, k, v, gamma, chunk_size), got {type(fn).__name__}")
    gamma = decay_gammas(4)
    tol = tolerance(torch.float64)

    def run(g, c, scale=1.0):
        q, k, v = random_qkv(1, 4, T, 8, 8, torch.float64, seed, scale)
        return fn(q, k, v, g, c), parallel_retention(q, k, v, g)

    o, ref = run(gamma, chunk_size)
    if not isinstance(o, Tensor) or o.shape != ref.shape:
        raise ValueError(
            f"fn must return a tensor of shape {tuple(ref.shape)}, got "
            f"{tuple(o.shape) if isinstance(o, Tensor) else type(o).__name__}"
        )
    rows = _row_errors(o, ref)
    wrong = (rows > tol).nonzero()
    ratio = o / ref
    spread = (ratio.amax(-1) - ratio.amin(-1)).abs() / ratio.abs().amax(-1)
    proportional = bool((spread < 1e-9).all() and (ratio > 0).all())
    o1, ref1 = run(torch.ones(4, dtype=torch.float64), chunk_size)
    oc, refc = run(gamma, 1)
    small, ref_small = run(gamma, chunk_size, scale=0.05)
    return {
        "max_error": rel_error(o, ref),
        "first_wrong_token": int(wrong[0]) if len(wrong) else None,
        "right_when_gamma_is_1": rel_error(o1, ref1) <= tol,
        "right_with_chunk_size_1": rel_error(oc, refc) <= tol,
        "proportional": proportional,
        "row_factor_last": ratio[0, :, -1].mean(-1) if proportional else None,
        "after_norm_eps0": rel_error(group_rms_norm(small, 0.0), group_rms_norm(ref_small, 0.0)),
        "after_norm_eps1e-6": rel_error(group_rms_norm(small, 1e-6), group_rms_norm(ref_small, 1e-6)),
    }


def _fmt_err(e: float, tol: float) -> str:
    return f"< {tol:.0e}" if e <= tol else f"{e:.2g}"


def format_diagnosis(report: dict) -> str:
    """One line per probe of a ``diagnose`` report, with errors below the float64 tolerance shown as ``< 1e-10``."""
    tol = tolerance(torch.float64)
    yes = {True: "yes", False: "no"}
    lines = [
        f"  max relative error            {_fmt_err(report['max_error'], tol)}",
        f"  first wrong token             {report['first_wrong_token']}",
        f"  right when every γ = 1        {yes[report['right_when_gamma_is_1']]}",
        f"  right with chunk_size = 1     {yes[report['right_with_chunk_size_1']]}",
        f"  rows only rescaled (c > 0)    {yes[report['proportional']]}",
    ]
    if report["row_factor_last"] is not None:
        factors = ", ".join(f"{f:.4f}" for f in report["row_factor_last"].tolist())
        lines.append(f"  row factor at the last token  {factors}")
    lines += [
        f"  after group norm, eps = 0     {_fmt_err(report['after_norm_eps0'], tol)}",
        f"  after group norm, eps = 1e-6  {_fmt_err(report['after_norm_eps1e-6'], tol)}",
    ]
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------------------
# low precision
# ----------------------------------------------------------------------------------------------------------
def rounded_gamma(gamma: Tensor, dtype: torch.dtype) -> Tensor:
    """γ as stored in ``dtype`` (rounded to nearest), returned as float64 so the rounding can be inspected."""
    check_gamma(gamma, None, None)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating torch.dtype, got {dtype!r}")
    return gamma.detach().to(dtype).to(torch.float64)


def heads_rounding_to_one(gamma: Tensor, dtype: torch.dtype) -> list[int]:
    """The heads h whose γ_h becomes exactly 1.0 when stored in ``dtype``: heads that stop forgetting."""
    return [h for h, g in enumerate(rounded_gamma(gamma, dtype).tolist()) if g == 1.0]


def _check_T(T) -> int:
    if isinstance(T, bool) or not isinstance(T, numbers.Integral) or T < 0:
        raise ValueError(f"T must be an int >= 0, got {T!r}")
    return int(T)


def split_decay_mask(gamma: Tensor, T: int, dtype: torch.dtype) -> Tensor:
    r"""**The wrong way**, for demonstration: D built as ``γ^n · γ^(-m)`` (the factorised form of eq. 3, a growing
    factor on the query and a shrinking one on the key), computed in ``dtype``, then multiplied by the causal 0/1
    mask. Shape (H, T, T).

    ``γ^(-m)`` overflows once T is large enough (``split_decay_overflow_length``); then ``inf · 0 = NaN`` fills the
    masked entries and the last columns; before that, ``γ^n`` can underflow into subnormal numbers and lose digits.
    """
    T = _check_T(T)
    g = gamma.detach().to(dtype)[:, None]
    n = torch.arange(T)
    causal = (n[:, None] >= n[None, :]).to(dtype)
    return torch.pow(g, n)[:, :, None] * torch.pow(g, -n)[:, None, :] * causal


def split_decay_overflow_length(gamma: float, dtype: torch.dtype, limit: int = 10**7) -> int | None:
    r"""The smallest T for which the split form overflows in ``dtype``: ``γ^(-(T-1))`` rounds to inf.

    Found by evaluating ``γ^(-m)`` in ``dtype`` (γ rounded to ``dtype`` first, as a stored γ would be), with a
    bisection over m. Roughly ``T ≈ 1 + ln(max of dtype) / (-ln γ)``. None when γ rounds to 1 in ``dtype`` (then
    nothing decays and nothing overflows) or when T would exceed ``limit``.
    """
    if isinstance(gamma, Tensor):
        gamma = float(gamma)
    if isinstance(gamma, bool) or not isinstance(gamma, numbers.Real) or not (0 < gamma <= 1):
        raise ValueError(f"gamma must be a number in (0, 1], got {gamma!r}")
    g = torch.tensor(float(gamma), dtype=torch.float64).to(dtype)
    if float(g) == 1.0:
        return None

    def overflows(m: int) -> bool:
        return bool(torch.isinf(torch.pow(g, torch.tensor(-m))))

    lo, hi = 0, 1
    while not overflows(hi):
        lo, hi = hi, hi * 2
        if hi > limit:
            return None
    while hi - lo > 1:  # overflows(hi), not overflows(lo)
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if overflows(mid) else (mid, hi)
    return hi + 1


def log_space_decay_mask(gamma: Tensor, T: int, dtype: torch.dtype) -> Tensor:
    r"""D the way the official code builds it: ``exp((n - m) · log γ)``, with the future (n < m) first set to
    +inf distance so that ``exp(+inf · log γ) = exp(-inf) = 0``, then ``nan_to_num`` (for γ = 1, where
    ``inf · 0 = NaN``). Every exponent is ≤ 0, so nothing can overflow. Computed in ``dtype``; shape (H, T, T).
    """
    T = _check_T(T)
    log_g = torch.log(gamma.detach().to(dtype))[:, None, None]
    n = torch.arange(T, dtype=dtype)
    dist = n[:, None] - n[None, :]
    dist = dist.masked_fill(dist < 0, math.inf)
    return torch.nan_to_num(torch.exp(dist * log_g))
