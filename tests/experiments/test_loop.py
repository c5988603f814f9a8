"""retnet_edu.experiments.loop, the package's one training loop: schedule, optimiser groups, precision, RNG state,
atomic checkpoints, the epoch sampler, and ``fit`` itself on a toy regression (divergence stops with the message
that names the last good checkpoint and keeps it; a run interrupted by an exception resumes exactly; one optimiser
step per step, and one optimiser step in the whole package)."""

import json
import math
import random
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from retnet_edu.experiments import loop as L
from retnet_edu.model import RetNetConfig, RetNetLM

PACKAGE = Path(__file__).resolve().parents[2] / "retnet_edu"


# ---------------------------------------------------------------------------------------------------------
# schedule and optimiser
# ---------------------------------------------------------------------------------------------------------
def test_lr_schedule_shape():
    lr, lo, w, n = 1.0, 0.1, 10, 110
    vals = [L.lr_at(s, lr, lo, w, n) for s in range(n + 5)]
    assert vals[0] == pytest.approx(0.1) and vals[9] == pytest.approx(1.0)  # linear warm-up to the peak
    assert vals[10] == pytest.approx(1.0)  # cosine starts at the peak
    assert vals[60] == pytest.approx(0.55)  # half-way: the mean of lr and min_lr
    assert all(a >= b for a, b in zip(vals[10:n], vals[11:n], strict=False))  # decreasing after warm-up
    assert vals[n - 1] == pytest.approx(lo + 0.5 * (1 + math.cos(math.pi * 99 / 100)) * 0.9)
    assert vals[n:] == [lo] * 5
    with pytest.raises(ValueError, match="step must be an int >= 0"):
        L.lr_at(-1, lr, lo, w, n)
    with pytest.raises(ValueError, match="warmup_steps < max_steps"):
        L.lr_at(0, lr, lo, 10, 10)


def test_scheduler_follows_lr_at():
    model = torch.nn.Linear(3, 3)
    opt = L.configure_optimizer(model, 0.5)
    sched = L.make_scheduler(opt, 0.5, 0.05, 3, 20)
    seen = []
    for _ in range(25):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert seen == pytest.approx([L.lr_at(s, 0.5, 0.05, 3, 20) for s in range(25)])
    with pytest.raises(ValueError, match="not lr=0.1"):
        L.make_scheduler(L.configure_optimizer(model, 0.5), 0.1, 0.01, 3, 20)


def test_weight_decay_on_matrices_only():
    model = RetNetLM(RetNetConfig(vocab_size=10, embed_dim=16, num_heads=2))
    opt = L.configure_optimizer(model, 1e-3, weight_decay=0.1)
    decayed, plain = opt.param_groups
    assert decayed["weight_decay"] == 0.1 and plain["weight_decay"] == 0.0
    assert all(p.dim() == 2 for p in decayed["params"]) and all(p.dim() == 1 for p in plain["params"])
    assert len(decayed["params"]) + len(plain["params"]) == len(list(model.parameters()))


def test_parameter_groups_are_a_parameter():
    """A trainer can give some parameters a group of their own (e.g. Hyena's filter MLP), with its own decay."""
    model = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 1))

    def groups(m, weight_decay):
        return [
            {"params": list(m[0].parameters()), "weight_decay": 0.0},
            {"params": list(m[1].parameters()), "weight_decay": weight_decay},
        ]

    opt = L.configure_optimizer(model, 1e-2, 0.3, param_groups=groups)
    assert [g["weight_decay"] for g in opt.param_groups] == [0.0, 0.3]
    res = L.fit(
        model,
        L.Recipe(3, 1e-2, 1e-3, 1, weight_decay=0.3),
        _toy_batches(torch.Generator().manual_seed(0)),
        _mse,
        param_groups=groups,
    )
    assert [len(g["params"]) for g in res.optimizer.param_groups] == [2, 2]


def test_precision_resolution():
    cpu = torch.device("cpu")
    assert L.resolve_precision("auto", cpu) == "fp32"
    assert L.resolve_precision("fp32", cpu) == "fp32"
    assert L.resolve_precision("bf16", cpu) == "bf16"
    assert L.resolve_precision("bf16", torch.device("mps")) == "fp32"
    with pytest.raises(ValueError, match="precision must be one of"):
        L.resolve_precision("fp8", cpu)
    with L.autocast_context(cpu, "bf16"):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.bfloat16
    with L.autocast_context(cpu, "fp32"):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32


# ---------------------------------------------------------------------------------------------------------
# RNG state, checkpoints, the epoch sampler
# ---------------------------------------------------------------------------------------------------------
def draws(g):
    return (random.random(), float(np.random.rand()), float(torch.rand(1)), float(torch.rand(1, generator=g)))


def test_rng_state_round_trip(tmp_path):
    g = torch.Generator().manual_seed(3)
    draws(g)
    state = L.capture_rng_state(g)
    first = draws(g)
    L.save_checkpoint(tmp_path / "c.pt", {"format": L.CHECKPOINT_FORMAT, "rng": state})
    draws(g)
    L.restore_rng_state(L.load_checkpoint(tmp_path / "c.pt")["rng"], g)  # through torch.save/load
    assert draws(g) == first
    with pytest.raises(ValueError, match="no batch-sampler state"):
        L.restore_rng_state(L.capture_rng_state(), g)


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    L.save_checkpoint(path, {"format": L.CHECKPOINT_FORMAT, "step": 1})
    before = path.read_bytes()

    def broken_save(obj, fh):
        fh.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        L.save_checkpoint(path, {"format": L.CHECKPOINT_FORMAT, "step": 2})
    assert path.read_bytes() == before  # the old checkpoint is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt"]  # no temporary file left behind
    monkeypatch.undo()
    assert L.load_checkpoint(path)["step"] == 1


def test_load_checkpoint_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        L.load_checkpoint(tmp_path / "none.pt")
    torch.save({"step": 3}, tmp_path / "other.pt")
    with pytest.raises(L.CheckpointError, match="not a retnet_edu training checkpoint"):
        L.load_checkpoint(tmp_path / "other.pt")
    L.save_checkpoint(tmp_path / "real.pt", {"format": L.CHECKPOINT_FORMAT, "w": torch.randn(500)})
    real = (tmp_path / "real.pt").read_bytes()
    for name, content, reason in [
        ("half.pt", real[: len(real) // 2], "PytorchStreamReader failed"),
        ("garbage.pt", bytes(range(256)) * 4, "not a zip archive"),
        ("empty.pt", b"", "the file is empty"),
    ]:
        (tmp_path / name).write_bytes(content)
        with pytest.raises(
            L.CheckpointError, match=re.escape(f"{tmp_path / name} is truncated or not a checkpoint") + ".*" + reason
        ):
            L.load_checkpoint(tmp_path / name)


def test_epoch_sampler_permutes_each_epoch_and_depends_on_the_step_alone():
    s = L.EpochSampler(10, 4, seed=5)  # two batches per epoch, the last 2 examples of each skipped
    g = torch.Generator().manual_seed(5)
    perms = [torch.randperm(10, generator=g) for _ in range(3)]
    want = [perms[0][:4], perms[0][4:8], perms[1][:4], perms[1][4:8], perms[2][:4]]
    assert all(torch.equal(s(i), w) for i, w in enumerate(want))
    assert torch.equal(L.EpochSampler(10, 4, seed=5)(3), want[3])  # a fresh sampler: the same batch of step 3
    assert torch.equal(s(1), want[1])  # and back again
    big = L.EpochSampler(3, 8, seed=0)  # a batch larger than the set
    g = torch.Generator().manual_seed(0)
    perms = [torch.randperm(3, generator=g) for _ in range(3)]
    assert torch.equal(big(0), perms[1]) and torch.equal(big(1), perms[2])
    with pytest.raises(ValueError, match="batch_size"):
        L.EpochSampler(10, 0, 1)


# ---------------------------------------------------------------------------------------------------------
# fit on a toy regression (with dropout, so that the global torch RNG matters too)
# ---------------------------------------------------------------------------------------------------------
def _toy_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Dropout(0.1), nn.Linear(16, 1))


def _toy_batches(sampler):
    def batch(step):
        x = torch.randn(8, 4, generator=sampler)
        return x, x.sum(-1, keepdim=True)

    return batch


def _mse(model, batch):
    x, y = batch
    return ((model(x) - y) ** 2).mean()


RECIPE = L.Recipe(max_steps=20, lr=1e-2, min_lr=1e-3, warmup_steps=2)


def _fit(tmp, **kw):
    model, sampler = _toy_model(), torch.Generator().manual_seed(1)
    kw.setdefault("checkpoint_interval", 5)
    return L.fit(
        model,
        RECIPE,
        _toy_batches(sampler),
        _mse,
        sampler=sampler,
        checkpoint=tmp / "checkpoint.pt",
        log=tmp / "log.json",
        record=L.provenance("toy", {"n": 1}, torch.device("cpu"), "fp32"),
        **kw,
    )


class _Stop(Exception):
    pass


def test_fit_records_checkpoints_and_provenance(tmp_path):
    evals = []
    res = _fit(tmp_path, evaluate=lambda: evals.append(1) or [0.5, 0.25], eval_interval=8, log_interval=4)
    h = res.history
    assert h["status"] == "finished" and res.step == 20 and [r[0] for r in h["train"]] == [4, 8, 12, 16, 20]
    assert [e[:3] for e in h["eval"]] == [[0, 0.5, 0.25], [8, 0.5, 0.25], [16, 0.5, 0.25], [20, 0.5, 0.25]]
    assert h["train"][-1][1] < h["train"][0][1]  # it learns
    ckpt = L.load_checkpoint(tmp_path / "checkpoint.pt")
    assert ckpt["step"] == 20 and set(ckpt) >= {"model", "optimizer", "scheduler", "rng", "history"}
    log = json.loads((tmp_path / "log.json").read_text())
    assert list(log)[:2] == ["command", "config"] and log["torch"] == torch.__version__.split("+")[0]
    assert {"device", "precision", "threads"} <= set(log) and log["history"]["status"] == "finished"
    with pytest.raises(ValueError, match="eval_interval must be an int >= 1"):
        _fit(tmp_path / "x", evaluate=lambda: [0.0])


def test_one_optimiser_step_per_step_and_one_in_the_package(tmp_path):
    res = _fit(tmp_path)
    assert all(int(s["step"]) == RECIPE.max_steps for s in res.optimizer.state.values())
    assert res.scheduler.last_epoch == RECIPE.max_steps
    calls = [
        f"{p.relative_to(PACKAGE)}:{i}"
        for p in sorted(PACKAGE.rglob("*.py"))
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if re.search(r"\.step\(\)", line) and "scheduler.step()" not in line
    ]
    assert len(calls) == 1 and calls[0].startswith(str(Path("experiments") / "loop.py")), calls


def _nan_loss_at_12(step, loss):
    return loss * float("nan") if step == 12 else loss


def _inf_gradients_at_12(step, loss):
    """A finite loss whose gradients are infinite."""
    if step == 12:
        loss.register_hook(lambda g: g * float("inf"))
    return loss


@pytest.mark.parametrize("what,hook", [("loss", _nan_loss_at_12), ("gradient norm", _inf_gradients_at_12)])
def test_divergence_stops_before_the_update_and_keeps_the_last_checkpoint(tmp_path, what, hook):
    with pytest.raises(L.TrainingDiverged) as info:
        _fit(tmp_path, loss_hook=hook)
    msg = str(info.value)
    assert f"the {what} became" in msg and "at step 12: training stopped before the update" in msg
    assert f"last good checkpoint (step 10) is kept at {tmp_path / 'checkpoint.pt'}" in msg and "--lr" in msg
    ckpt = L.load_checkpoint(tmp_path / "checkpoint.pt")
    assert ckpt["step"] == 10 and all(torch.isfinite(v).all() for v in ckpt["model"].values())
    log = json.loads((tmp_path / "log.json").read_text())["history"]
    assert log["status"] == "diverged" and log["message"] == msg
    # the kept checkpoint is the one a run interrupted at the same step (without a NaN) leaves
    with pytest.raises(_Stop):
        _fit(tmp_path / "ref", loss_hook=lambda s, loss: _raise(_Stop) if s == 12 else loss)
    ref = L.load_checkpoint(tmp_path / "ref" / "checkpoint.pt")
    assert ref["step"] == 10 and all(torch.equal(v, ckpt["model"][k]) for k, v in ref["model"].items())


def _raise(exc):
    raise exc


def test_divergence_without_a_checkpoint_says_so():
    model, sampler = _toy_model(), torch.Generator().manual_seed(1)
    with pytest.raises(L.TrainingDiverged, match="No checkpoint had been written yet. Try a lower --lr"):
        L.fit(
            model,
            RECIPE,
            _toy_batches(sampler),
            _mse,
            sampler=sampler,
            loss_hook=lambda s, loss: loss + float("inf") if s == 3 else loss,
        )


def test_resume_after_an_exception_is_exact(tmp_path):
    full = _fit(tmp_path / "full", log_interval=1)
    with pytest.raises(_Stop):
        _fit(tmp_path / "part", log_interval=1, loss_hook=lambda s, loss: _raise(_Stop) if s == 13 else loss)
    saved = L.load_checkpoint(tmp_path / "part" / "checkpoint.pt")
    assert saved["step"] == 10 and saved["history"]["status"] == "running"
    model, sampler = _toy_model(), torch.Generator().manual_seed(1)
    torch.manual_seed(123)  # whatever the RNGs hold now, resume restores them
    resumed = L.fit(
        model,
        RECIPE,
        _toy_batches(sampler),
        _mse,
        sampler=sampler,
        checkpoint_interval=5,
        checkpoint=tmp_path / "part" / "checkpoint.pt",
        log_interval=1,
        resume=saved,
    )
    assert all(
        torch.equal(a, b)
        for a, b in zip(full.model.state_dict().values(), resumed.model.state_dict().values(), strict=True)
    )
    assert [r[:3] for r in resumed.history["train"]] == [r[:3] for r in full.history["train"]]
    assert resumed.history["resumed_at"] == [10] and resumed.history["status"] == "finished"
