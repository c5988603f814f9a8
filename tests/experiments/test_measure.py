"""retnet_edu.experiments.measure: timing helper, the peak-tensor-memory counter, analytic retention costs."""

import pytest
import torch

from retnet_edu.experiments.measure import median_time, peak_tensor_bytes, retention_costs
from retnet_edu.retention import chunkwise_retention, decay_gammas, parallel_retention, recurrent_retention


def test_median_time_calls_and_checks():
    calls = []
    t = median_time(lambda: calls.append(1), repeats=3, warmup=2)
    assert len(calls) == 5 and t >= 0
    with pytest.raises(ValueError, match="repeats"):
        median_time(lambda: None, repeats=0)
    with pytest.raises(ValueError, match="warmup"):
        median_time(lambda: None, warmup=-1)
    with pytest.raises(TypeError, match="callable"):
        median_time(3)


def test_peak_counts_live_tensors_only():
    def two_in_sequence():
        a = torch.zeros(1000, dtype=torch.float64)  # 8000 bytes
        del a
        b = torch.zeros(500, dtype=torch.float64)  # 4000 bytes, after a was freed
        return b

    def two_at_once():
        a = torch.zeros(1000, dtype=torch.float64)
        b = torch.zeros(500, dtype=torch.float64)
        return a, b

    assert peak_tensor_bytes(two_in_sequence) == 8000
    assert peak_tensor_bytes(two_at_once) == 12000
    x = torch.zeros(1000)
    assert peak_tensor_bytes(lambda: x.view(10, 100)) == 0  # a view of existing memory costs nothing
    assert peak_tensor_bytes(lambda: x.add_(1)) == 0  # neither does an in-place op
    with pytest.raises(TypeError, match="callable"):
        peak_tensor_bytes(None)


@torch.no_grad()
def test_peak_memory_of_the_modes():
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, 2, 256, 8, generator=g) for _ in range(3))
    gamma = decay_gammas(2)
    par = peak_tensor_bytes(lambda: parallel_retention(q, k, v, gamma))
    assert par >= 2 * 256 * 256 * 4  # at least the (H, T, T) scores
    rec = peak_tensor_bytes(lambda: recurrent_retention(q, k, v, gamma))
    small = peak_tensor_bytes(lambda: chunkwise_retention(q, k, v, gamma, 16))
    large = peak_tensor_bytes(lambda: chunkwise_retention(q, k, v, gamma, 128))
    assert rec < small < large < par


def test_retention_costs():
    T, dk, dv = 64, 8, 16
    par = retention_costs(T, dk, dv, mode="parallel")
    rec = retention_costs(T, dk, dv, mode="recurrent")
    assert par == {"macs": T * T * (dk + dv), "sequential_steps": 1, "score_entries": T * T}
    assert rec == {"macs": 2 * T * dk * dv, "sequential_steps": T, "score_entries": 0}
    c1 = retention_costs(T, dk, dv, 1)
    assert c1["macs"] == T * (dk + dv) + rec["macs"] and c1["sequential_steps"] == T
    c8 = retention_costs(T, dk, dv, 8)
    assert c8["macs"] == T * (8 * (dk + dv) + 2 * dk * dv) and c8["score_entries"] == 64
    c10 = retention_costs(T, dk, dv, 10)  # 6 chunks of 10 and one of 4
    assert c10["sequential_steps"] == 7
    assert c10["macs"] == 6 * (100 * 24 + 2 * 10 * 128) + (16 * 24 + 2 * 4 * 128)
    assert retention_costs(T, dk, dv, 100)["score_entries"] == T * T
    with pytest.raises(ValueError, match="mode"):
        retention_costs(T, dk, dv, 4, mode="other")
    with pytest.raises(ValueError, match="chunk_size"):
        retention_costs(T, dk, dv, None)
    with pytest.raises(ValueError, match="T"):
        retention_costs(0, dk, dv, 4)
