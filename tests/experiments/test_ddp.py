"""Training under torchrun: two CPU processes (gloo), each training on half of every global batch, give the losses of
one process with the same global batch, to float32 rounding.

Tolerance: the first 10 steps agree to 1e-5 (the loss of a step is the mean of two half-batch means instead of one
mean: float32 rounding only); over all 40 steps of cpu-tiny to 2e-4 nats (the rounding differences of the averaged
gradients grow a little as training goes on; measured: at most 4.2e-5)."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from retnet_edu.experiments import train as T

ROOT = Path(__file__).resolve().parents[2]
ARGS = ["--config", "cpu-tiny", "--threads", "1", "--no-progress"]

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_train_like_one_with_the_same_global_batch(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1", RETNET_DEVICE="cpu", PYTHONHASHSEED="0")
    env.pop("MPLBACKEND", None)
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(_free_port()),
        "-m",
        "retnet_edu.experiments.train",
        *ARGS,
        "--out-dir",
        str(tmp_path / "two"),
    ]
    out = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    assert out.stdout.count("done: retnet step 40") == 1  # process 0 alone reports

    cfg, _, _ = T.parse_train_args(ARGS + ["--out-dir", str(tmp_path / "one")])
    T.train(cfg, progress=False)  # one process, the same global batch

    one, two = (json.loads((tmp_path / d / "log.json").read_text()) for d in ("one", "two"))
    assert two["processes"] == 2 and "processes" not in one
    a, b = ([r[1] for r in log["history"]["train"]] for log in (one, two))
    assert len(a) == len(b) == 40
    diffs = [abs(x - y) for x, y in zip(a, b, strict=True)]
    assert max(diffs[:10]) <= 1e-5 and max(diffs) <= 2e-4, diffs
    evals = [
        abs(x[i] - y[i]) for x, y in zip(one["history"]["eval"], two["history"]["eval"], strict=True) for i in (1, 2)
    ]
    assert max(evals) <= 2e-4, evals
    # every process drew the same global batches from the same sampler: its state after 40 steps is the same
    ca, cb = (T.load_checkpoint(tmp_path / d / "checkpoint.pt") for d in ("one", "two"))
    assert cb["step"] == 40 and torch.equal(ca["rng"]["sampler"], cb["rng"]["sampler"])
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == ["checkpoint.pt", "log.json"]  # process 0 wrote
