r"""Measuring what a computation costs: wall-clock time (median of repeats, after warm-up), the peak memory held
by the tensors it creates, and the analytic operation counts of the three retention modes (notebook 05).

- ``median_time(fn)``: seconds per call. Timings vary from run to run and machine to machine: notebooks print
  them only in cells marked ``# NBVAL_IGNORE_OUTPUT`` and compare ratios measured side by side in one run.
- ``peak_tensor_bytes(fn)``: the largest number of bytes held at once by tensors created while ``fn`` runs,
  counted by a PyTorch dispatch mode that sees every operator's outputs and when they are freed. It does not
  depend on timing, so it is the same on every run (it ignores scratch memory inside a single operator, e.g. a
  BLAS work buffer, and memory allocated outside PyTorch).
- ``retention_costs(...)``: multiply-adds, sequential steps and the largest score block, from the equations.

Layer: imports only torch.
"""

from __future__ import annotations

import numbers
import statistics
import time
import weakref
from collections.abc import Callable

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

__all__ = ["median_time", "peak_tensor_bytes", "retention_costs"]


def _check_positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def median_time(fn: Callable[[], object], repeats: int = 5, warmup: int = 1) -> float:
    """Median wall-clock seconds of ``repeats`` calls of ``fn()``, after ``warmup`` untimed calls."""
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    repeats = _check_positive_int(repeats, "repeats")
    if isinstance(warmup, bool) or not isinstance(warmup, numbers.Integral) or warmup < 0:
        raise ValueError(f"warmup must be an int >= 0, got {warmup!r}")
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


class _PeakMemory(TorchDispatchMode):
    """Tracks the bytes of storages created by operators while active; ``peak`` is the most held at once."""

    def __init__(self):
        super().__init__()
        self.live: dict[int, list[int]] = {}  # storage data_ptr -> [nbytes, number of live tensors on it]
        self.current = 0
        self.peak = 0

    def _release(self, ptr: int) -> None:
        entry = self.live.get(ptr)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] == 0:
            self.current -= entry[0]
            del self.live[ptr]

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        inputs = {
            t.untyped_storage().data_ptr() for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)
        }
        for t in tree_flatten(out)[0]:
            if not isinstance(t, torch.Tensor):
                continue
            storage = t.untyped_storage()
            ptr = storage.data_ptr()
            if ptr == 0 or (ptr in inputs and ptr not in self.live):
                continue  # a view of (or in-place op on) memory created elsewhere
            if ptr in self.live:
                self.live[ptr][1] += 1  # a new view of memory we already count
            else:
                self.live[ptr] = [storage.nbytes(), 1]
                self.current += storage.nbytes()
                self.peak = max(self.peak, self.current)
            weakref.finalize(t, self._release, ptr)
        return out


def peak_tensor_bytes(fn: Callable[[], object]) -> int:
    """The peak number of bytes held at once by tensors created while ``fn()`` runs (its result included).

    Deterministic: it counts operator outputs, not the allocator's state. Run it under ``torch.no_grad()`` to
    leave out what autograd would keep for the backward pass.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    mode = _PeakMemory()
    with mode:
        result = fn()
    del result
    return mode.peak


def retention_costs(T: int, d_k: int, d_v: int, chunk_size: int | None = None, mode: str = "chunkwise") -> dict:
    r"""Operation counts of one head of retention over T tokens, from the equations (multiply-adds; the decay
    mask's cost, O(T²) or O(B²) but without a d factor, is left out).

    - parallel: ``Q Kᵀ`` (T² d_k) and ``(·) V`` (T² d_v); the T × T score matrix is held at once;
    - recurrent: per token ``k_nᵀ v_n`` and ``q_n S_n`` (2 d_k d_v); T sequential steps; nothing T-sized is held
      besides the output;
    - chunkwise with chunk size B: per chunk the inner part (B² d_k + B² d_v), the cross part (B d_k d_v) and
      the state update (B d_k d_v); T/B sequential steps; a B × B score block is held.

    Returns ``{"macs", "sequential_steps", "score_entries"}`` (score_entries = the largest score block held).
    Per token, chunkwise costs ``B (d_k + d_v) + 2 d_k d_v``: linear in B, from the recurrent form's cost at B = 1
    to the parallel form's at B = T.
    """
    T = _check_positive_int(T, "T")
    d_k = _check_positive_int(d_k, "d_k")
    d_v = _check_positive_int(d_v, "d_v")
    if mode == "parallel":
        return {"macs": T * T * (d_k + d_v), "sequential_steps": 1, "score_entries": T * T}
    if mode == "recurrent":
        return {"macs": 2 * T * d_k * d_v, "sequential_steps": T, "score_entries": 0}
    if mode != "chunkwise":
        raise ValueError(f"mode must be 'parallel', 'recurrent' or 'chunkwise', got {mode!r}")
    B = _check_positive_int(chunk_size, "chunk_size")
    macs = 0
    for start in range(0, T, B):
        b = min(B, T - start)
        macs += b * b * (d_k + d_v) + 2 * b * d_k * d_v
    return {"macs": macs, "sequential_steps": -(-T // B), "score_entries": min(B, T) ** 2}
