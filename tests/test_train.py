"""retnet_edu.experiments.train: schedule, optimiser, RNG state, atomic checkpoints, the loop (cpu-tiny), resume after a real
kill (bit-exact), NaN stop, the command line and sampling."""

import json
import math
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from retnet_edu.experiments import train as T
from retnet_edu.model import RetNetLM
from retnet_edu.baselines.transformer import TransformerLM

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def data():
    return T.prepare_data(T.get_config("cpu-tiny"))


def tiny(**kw):
    kw.setdefault("threads", 1)
    return T.get_config("cpu-tiny", **kw)


# ---------------------------------------------------------------------------------------------------------
# configs
# ---------------------------------------------------------------------------------------------------------
def test_named_configs_build_and_match_in_size(data):
    tok = data[0]
    for name in T.CONFIGS:
        cfg = T.get_config(name)
        assert cfg.name == name
        rc, tc = T.model_configs(cfg, tok.vocab_size)
        assert (rc.embed_dim, rc.num_layers, rc.num_heads) == (tc.embed_dim, tc.num_layers, tc.num_heads)
    rc, tc = T.model_configs(T.get_config("gpu"), tok.vocab_size)
    assert rc.embed_dim == 384 and rc.num_layers == 6
    assert 10.0e6 < rc.num_parameters() < 11.5e6                   # nanoGPT's Shakespeare size


def test_config_validation():
    with pytest.raises(ValueError, match="unknown config 'laptop'"):
        T.get_config("laptop")
    with pytest.raises(ValueError, match=r"unknown config field\(s\) \['lr_max'\]"):
        T.get_config("cpu", lr_max=1.0)
    for kw, words in [(dict(model="lstm"), "model must be one of"), (dict(mode="recurrent"), "mode must be one of"),
                      (dict(max_steps=0), "max_steps must be an int >= 1"), (dict(lr=-1.0), "lr must be"),
                      (dict(min_lr=1.0, lr=0.1), "min_lr <= lr"), (dict(warmup_steps=40), "warmup_steps"),
                      (dict(precision="fp16"), "precision must be one of"), (dict(beta2=1.0), "beta1 and beta2"),
                      (dict(device="tpu"), "device must be one of"), (dict(lr=float("nan")), "lr must be")]:
        with pytest.raises(ValueError, match=words):
            T.get_config("cpu-tiny", **kw)


# ---------------------------------------------------------------------------------------------------------
# schedule and optimiser
# ---------------------------------------------------------------------------------------------------------
def test_lr_schedule_shape():
    lr, lo, w, n = 1.0, 0.1, 10, 110
    vals = [T.lr_at(s, lr, lo, w, n) for s in range(n + 5)]
    assert vals[0] == pytest.approx(0.1) and vals[9] == pytest.approx(1.0)       # linear warm-up to the peak
    assert vals[10] == pytest.approx(1.0)                                        # cosine starts at the peak
    assert vals[60] == pytest.approx(0.55)                                       # half-way: the mean of lr and min_lr
    assert all(a >= b for a, b in zip(vals[10:n], vals[11:n]))                   # decreasing after warm-up
    assert vals[n - 1] == pytest.approx(lo + 0.5 * (1 + math.cos(math.pi * 99 / 100)) * 0.9)
    assert vals[n:] == [lo] * 5
    with pytest.raises(ValueError, match="step must be an int >= 0"):
        T.lr_at(-1, lr, lo, w, n)
    with pytest.raises(ValueError, match="warmup_steps < max_steps"):
        T.lr_at(0, lr, lo, 10, 10)


def test_scheduler_follows_lr_at():
    model = torch.nn.Linear(3, 3)
    opt = T.configure_optimizer(model, 0.5)
    sched = T.make_scheduler(opt, 0.5, 0.05, 3, 20)
    seen = []
    for _ in range(25):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert seen == pytest.approx([T.lr_at(s, 0.5, 0.05, 3, 20) for s in range(25)])
    with pytest.raises(ValueError, match="not lr=0.1"):
        T.make_scheduler(T.configure_optimizer(model, 0.5), 0.1, 0.01, 3, 20)


def test_weight_decay_on_matrices_only():
    model = RetNetLM(T.model_configs(tiny(), 10)[0])
    opt = T.configure_optimizer(model, 1e-3, weight_decay=0.1)
    decayed, plain = opt.param_groups
    assert decayed["weight_decay"] == 0.1 and plain["weight_decay"] == 0.0
    assert all(p.dim() == 2 for p in decayed["params"]) and all(p.dim() == 1 for p in plain["params"])
    assert len(decayed["params"]) + len(plain["params"]) == len(list(model.parameters()))


def test_precision_resolution():
    cpu = torch.device("cpu")
    assert T.resolve_precision("auto", cpu) == "fp32"
    assert T.resolve_precision("fp32", cpu) == "fp32"
    assert T.resolve_precision("bf16", cpu) == "bf16"
    assert T.resolve_precision("bf16", torch.device("mps")) == "fp32"
    with pytest.raises(ValueError, match="precision must be one of"):
        T.resolve_precision("fp8", cpu)
    with T.autocast_context(cpu, "bf16"):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.bfloat16
    with T.autocast_context(cpu, "fp32"):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32


# ---------------------------------------------------------------------------------------------------------
# RNG state and checkpoints
# ---------------------------------------------------------------------------------------------------------
def draws(g):
    return (random.random(), float(np.random.rand()), float(torch.rand(1)), float(torch.rand(1, generator=g)))


def test_rng_state_round_trip(tmp_path):
    g = torch.Generator().manual_seed(3)
    draws(g)
    state = T.capture_rng_state(g)
    first = draws(g)
    T.save_checkpoint(tmp_path / "c.pt", {"format": T.CHECKPOINT_FORMAT, "rng": state})
    draws(g)
    T.restore_rng_state(T.load_checkpoint(tmp_path / "c.pt")["rng"], g)     # through torch.save/load
    assert draws(g) == first
    with pytest.raises(ValueError, match="no batch-sampler state"):
        T.restore_rng_state(T.capture_rng_state(), g)


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    T.save_checkpoint(path, {"format": T.CHECKPOINT_FORMAT, "step": 1})
    before = path.read_bytes()

    def broken_save(obj, fh):
        fh.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        T.save_checkpoint(path, {"format": T.CHECKPOINT_FORMAT, "step": 2})
    assert path.read_bytes() == before                                  # the old checkpoint is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt"]   # no temporary file left behind
    monkeypatch.undo()
    assert T.load_checkpoint(path)["step"] == 1


def test_load_checkpoint_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        T.load_checkpoint(tmp_path / "none.pt")
    torch.save({"step": 3}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a retnet_edu training checkpoint"):
        T.load_checkpoint(tmp_path / "other.pt")


# ---------------------------------------------------------------------------------------------------------
# the loop
# ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("model,mode", [("retnet", "parallel"), ("retnet", "chunkwise"), ("transformer", "parallel")])
def test_tiny_run_learns(data, tmp_path, model, mode):
    cfg = tiny(model=model, mode=mode)
    res = T.train(cfg, progress=False, out_dir=tmp_path, data=data)
    ev = res.history["eval"]
    assert [e[0] for e in ev] == [0, 10, 20, 30, 40]
    assert ev[0][2] > math.log(data[0].vocab_size) - 0.3              # starts near the uniform guess ln V
    assert ev[-1][2] < ev[0][2] - 1.0 and ev[-1][1] < ev[0][1] - 1.0   # and learns
    assert isinstance(res.model, RetNetLM if model == "retnet" else TransformerLM)
    log = json.loads((tmp_path / "log.json").read_text())
    assert log["history"]["status"] == "finished" and log["model"]["kind"] == model
    assert [r[0] for r in log["history"]["train"]] == list(range(1, 41))
    assert all(r[3] > 0 for r in log["history"]["train"])              # tokens/s recorded
    assert T.load_checkpoint(tmp_path / "checkpoint.pt")["step"] == 40


def test_same_seed_same_run(data):
    a = T.train(tiny(max_steps=12, warmup_steps=2), progress=False, data=data)
    b = T.train(tiny(max_steps=12, warmup_steps=2), progress=False, data=data)
    assert all(torch.equal(p, q) for p, q in zip(a.model.state_dict().values(), b.model.state_dict().values()))
    assert [r[1] for r in a.history["train"]] == [r[1] for r in b.history["train"]]


def test_bf16_autocast_path_runs_on_cpu(data):
    res = T.train(tiny(max_steps=6, warmup_steps=1, precision="bf16", eval_interval=3), progress=False, data=data)
    assert res.precision == "bf16" and all(math.isfinite(e[2]) for e in res.history["eval"])
    assert all(p.dtype == torch.float32 for p in res.model.parameters())   # weights stay float32


def test_nan_stops_and_keeps_the_last_good_checkpoint(data, tmp_path):
    def inject(step, loss):
        return loss * float("nan") if step == 17 else loss

    with pytest.raises(T.TrainingDiverged) as info:
        T.train(tiny(checkpoint_interval=5), progress=False, out_dir=tmp_path, loss_hook=inject, data=data)
    msg = str(info.value)
    assert "became nan at step 17" in msg and "last good checkpoint (step 15)" in msg and "--lr" in msg
    ckpt = T.load_checkpoint(tmp_path / "checkpoint.pt")
    assert ckpt["step"] == 15
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values())
    log = json.loads((tmp_path / "log.json").read_text())
    assert log["history"]["status"] == "diverged" and "step 17" in log["history"]["message"]
    # the kept checkpoint is the one a run interrupted at the same step (without a NaN) leaves
    with pytest.raises(_Stop):
        T.train(tiny(checkpoint_interval=5), progress=False, out_dir=tmp_path / "ref", data=data,
                loss_hook=_stop_at(17))
    ref = T.load_checkpoint(tmp_path / "ref" / "checkpoint.pt")
    assert ref["step"] == 15 and all(torch.equal(ckpt["model"][k], v) for k, v in ref["model"].items())


class _Stop(Exception):
    pass


def _stop_at(n):
    """A loss hook that interrupts training at (0-based) step n, before its update."""
    def hook(step, loss):
        if step == n:
            raise _Stop
        return loss
    return hook


def test_nan_before_any_checkpoint(data):
    with pytest.raises(T.TrainingDiverged, match="No checkpoint had been written yet"):
        T.train(tiny(), progress=False, data=data, loss_hook=lambda s, loss: loss + float("inf") if s == 2 else loss)


def test_resume_in_process_is_exact(data, tmp_path):
    full = T.train(tiny(), progress=False, out_dir=tmp_path / "full", data=data)
    part = tmp_path / "part"
    with pytest.raises(_Stop):
        T.train(tiny(), progress=False, out_dir=part, data=data, loss_hook=_stop_at(23))
    assert T.load_checkpoint(part / "checkpoint.pt")["step"] == 20
    resumed = T.train(tiny(), resume=True, progress=False, out_dir=part, data=data)
    assert all(torch.equal(a, b) for a, b in zip(full.model.state_dict().values(), resumed.model.state_dict().values()))
    assert [r[:3] for r in resumed.history["train"]] == [r[:3] for r in full.history["train"]]
    assert [e[:3] for e in resumed.history["eval"]] == [e[:3] for e in full.history["eval"]]
    assert resumed.history["resumed_at"] == [20]
    with pytest.raises(ValueError, match=r"fields differ from it: \['lr'\]"):
        T.train(tiny(lr=1e-3), resume=True, progress=False, out_dir=part, data=data)


# ---------------------------------------------------------------------------------------------------------
# a real process, really killed
# ---------------------------------------------------------------------------------------------------------
def _cli(*args):
    return [sys.executable, "-m", "retnet_edu.experiments.train", *args]


def _env():
    env = dict(os.environ, OMP_NUM_THREADS="1", RETNET_DEVICE="cpu", PYTHONHASHSEED="0")
    env.pop("MPLBACKEND", None)
    return env


RUN = ["--config", "cpu-tiny", "--max-steps", "150", "--checkpoint-interval", "10", "--eval-interval", "25",
       "--threads", "1", "--no-progress"]


def test_killed_run_resumes_bit_exactly(tmp_path, data):
    ref_dir, killed_dir = tmp_path / "uninterrupted", tmp_path / "killed"
    # the uninterrupted reference runs in this process (same code, same single thread: the same numbers)
    cfg, _, _ = T.parse_train_args(RUN + ["--out-dir", str(ref_dir)])
    T.train(cfg, progress=False, data=data)

    proc = subprocess.Popen(_cli(*RUN, "--out-dir", str(killed_dir)), env=_env(), cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpt, log = killed_dir / "checkpoint.pt", killed_dir / "log.json"
    deadline = time.monotonic() + 120
    # the log is written (atomically) just after each checkpoint: wait for both, so that the log can be checked
    while not (ckpt.exists() and log.exists()) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)                   # no clean-up, no atexit: a power cut, as far as Python knows
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    killed_at = T.load_checkpoint(ckpt)["step"]
    assert 10 <= killed_at < 150
    assert json.loads(log.read_text())["history"]["status"] == "running"

    out = subprocess.run(_cli("--resume", "--out-dir", str(killed_dir), "--threads", "1", "--no-progress"),
                         env=_env(), cwd=ROOT, check=True, capture_output=True, text=True)
    assert "done: retnet step 150" in out.stdout

    a, b = T.load_checkpoint(ref_dir / "checkpoint.pt"), T.load_checkpoint(ckpt)
    assert a["step"] == b["step"] == 150
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])             # bit-identical weights
    sa, sb = a["optimizer"]["state"], b["optimizer"]["state"]
    assert all(torch.equal(sa[i][n], sb[i][n]) for i in sa for n in ("exp_avg", "exp_avg_sq"))
    la = json.loads((ref_dir / "log.json").read_text())["history"]
    lb = json.loads((killed_dir / "log.json").read_text())["history"]
    assert [r[:3] for r in la["train"]] == [r[:3] for r in lb["train"]]                     # identical loss curve
    assert [e[:3] for e in la["eval"]] == [e[:3] for e in lb["eval"]]
    assert lb["resumed_at"] == [killed_at] and lb["status"] == "finished"


# ---------------------------------------------------------------------------------------------------------
# command line and sampling
# ---------------------------------------------------------------------------------------------------------
def test_cli_parsing():
    cfg, ns, over = T.parse_train_args(["--config", "cpu-tiny", "--model", "transformer", "--lr", "1e-3",
                                        "--max-steps", "7", "--warmup-steps", "2"])
    assert (cfg.name, cfg.model, cfg.lr, cfg.max_steps, cfg.embed_dim) == ("cpu-tiny", "transformer", 1e-3, 7, 32)
    assert cfg.out_dir == str(Path("runs") / "cpu-tiny-transformer") and over == {"model": "transformer", "lr": 1e-3,
                                                                                  "max_steps": 7, "warmup_steps": 2}
    assert not ns.resume
    cfg, _, _ = T.parse_train_args([])
    assert cfg.name == "cpu" and cfg.model == "retnet"
    with pytest.raises(SystemExit):
        T.parse_train_args(["--max-steps", "many"])
    with pytest.raises(SystemExit):
        T.parse_train_args(["--config", "laptop"])
    with pytest.raises(ValueError, match="mode must be one of"):
        T.parse_train_args(["--mode", "recurrent"])


def test_cli_train_resume_sample_and_errors(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["--config", "cpu-tiny", "--max-steps", "12", "--warmup-steps", "2", "--out-dir", str(out), "--no-progress"]
    assert T.main(args) == 0
    assert "done: retnet step 12" in capsys.readouterr().out
    assert T.main(args) == 2                                               # would overwrite a checkpoint
    assert "--resume" in capsys.readouterr().err
    assert T.main(["train", *args, "--overwrite"]) == 0
    capsys.readouterr()
    assert T.main(["--resume", "--out-dir", str(out), "--lr", "1.0"]) == 2  # resume keeps the saved config
    assert "drop ['lr']" in capsys.readouterr().err
    assert T.main(["--resume", "--out-dir", str(tmp_path / "nothing")]) == 2
    assert "no checkpoint" in capsys.readouterr().err
    assert T.main(["--resume", "--out-dir", str(out), "--no-progress"]) == 0   # already finished: nothing to do
    assert "done: retnet step 12" in capsys.readouterr().out

    ckpt = str(out / "checkpoint.pt")
    assert T.main(["sample", "--checkpoint", ckpt, "--prompt", "ROMEO:", "--max-new-tokens", "40", "--seed", "1"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("ROMEO:") and len(text.rstrip("\n")) >= 40
    assert T.main(["sample", "--checkpoint", ckpt, "--prompt", "ROMEO:", "--max-new-tokens", "40", "--seed", "1"]) == 0
    assert capsys.readouterr().out == text                                     # seeded: the same text again
    assert T.main(["sample", "--checkpoint", ckpt, "--prompt", "~"]) == 2
    assert "outside the vocabulary" in capsys.readouterr().err
    assert T.main(["--config", "cpu-tiny", "--print-config"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["retnet"]["embed_dim"] == printed["transformer"]["embed_dim"] == 32


def test_sampling_is_recurrent_and_matches_parallel(data):
    res = T.train(tiny(max_steps=10, warmup_steps=2), progress=False, data=data)
    model, tok = res.model.eval(), res.tokenizer
    text = T.sample_text(model, tok, "ROMEO:", 30, temperature=0.0)
    prompt = tok.encode("ROMEO:")
    parallel = model.generate(prompt, 30, temperature=0.0, mode="parallel")
    assert text == tok.decode(parallel)
    with pytest.raises(ValueError, match="prompt must be a non-empty string"):
        T.sample_text(model, tok, "", 3)


def test_load_model_from_checkpoint(data, tmp_path):
    res = T.train(tiny(model="transformer", max_steps=10, warmup_steps=2), progress=False, out_dir=tmp_path, data=data)
    model, tok, ckpt = T.load_model(tmp_path / "checkpoint.pt", "cpu")
    assert isinstance(model, TransformerLM) and not model.training and tok == res.tokenizer
    x = tok.encode("KING:\nWhat").unsqueeze(0)
    assert torch.equal(model(x)[0], res.model.eval()(x)[0])
