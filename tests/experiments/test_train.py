"""retnet_edu.experiments.train, the language-model runner: configs, the run (cpu-tiny) through the one loop, the
recorded reference losses, resume after a real kill (bit-exact), NaN stop, the command line (damaged checkpoints
included) and sampling. The loop's own pieces (schedule, optimiser, RNG state, checkpoints) are tested in
test_loop.py."""

import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from retnet_edu.baselines.transformer import TransformerLM
from retnet_edu.experiments import train as T
from retnet_edu.experiments.loop import CheckpointError
from retnet_edu.model import RetNetLM

ROOT = Path(__file__).resolve().parents[2]


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
    assert 10.0e6 < rc.num_parameters() < 11.5e6  # nanoGPT's Shakespeare size


def test_config_validation():
    with pytest.raises(ValueError, match="unknown config 'laptop'"):
        T.get_config("laptop")
    with pytest.raises(ValueError, match=r"unknown config field\(s\) \['lr_max'\]"):
        T.get_config("cpu", lr_max=1.0)
    for kw, words in [
        (dict(model="lstm"), "model must be one of"),
        (dict(mode="recurrent"), "mode must be one of"),
        (dict(max_steps=0), "max_steps must be an int >= 1"),
        (dict(lr=-1.0), "lr must be"),
        (dict(min_lr=1.0, lr=0.1), "min_lr <= lr"),
        (dict(warmup_steps=40), "warmup_steps"),
        (dict(precision="fp16"), "precision must be one of"),
        (dict(beta2=1.0), "beta1 and beta2"),
        (dict(device="tpu"), "device must be one of"),
        (dict(lr=float("nan")), "lr must be"),
    ]:
        with pytest.raises(ValueError, match=words):
            T.get_config("cpu-tiny", **kw)


# ---------------------------------------------------------------------------------------------------------
# the loop
# ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("model,mode", [("retnet", "parallel"), ("retnet", "chunkwise"), ("transformer", "parallel")])
def test_tiny_run_learns(data, tmp_path, model, mode):
    cfg = tiny(model=model, mode=mode)
    res = T.train(cfg, progress=False, out_dir=tmp_path, data=data)
    ev = res.history["eval"]
    assert [e[0] for e in ev] == [0, 10, 20, 30, 40]
    assert ev[0][2] > math.log(data[0].vocab_size) - 0.3  # starts near the uniform guess ln V
    assert ev[-1][2] < ev[0][2] - 1.0 and ev[-1][1] < ev[0][1] - 1.0  # and learns
    assert isinstance(res.model, RetNetLM if model == "retnet" else TransformerLM)
    log = json.loads((tmp_path / "log.json").read_text())
    assert log["history"]["status"] == "finished" and log["model"]["kind"] == model
    assert [r[0] for r in log["history"]["train"]] == list(range(1, 41))
    assert all(r[3] > 0 for r in log["history"]["train"])  # tokens/s recorded
    assert T.load_checkpoint(tmp_path / "checkpoint.pt")["step"] == 40


def test_same_seed_same_run(data):
    a = T.train(tiny(max_steps=12, warmup_steps=2), progress=False, data=data)
    b = T.train(tiny(max_steps=12, warmup_steps=2), progress=False, data=data)
    assert all(
        torch.equal(p, q) for p, q in zip(a.model.state_dict().values(), b.model.state_dict().values(), strict=True)
    )
    assert [r[1] for r in a.history["train"]] == [r[1] for r in b.history["train"]]


def test_bf16_autocast_path_runs_on_cpu(data):
    res = T.train(tiny(max_steps=6, warmup_steps=1, precision="bf16", eval_interval=3), progress=False, data=data)
    assert res.precision == "bf16" and all(math.isfinite(e[2]) for e in res.history["eval"])
    assert all(p.dtype == torch.float32 for p in res.model.parameters())  # weights stay float32


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
        T.train(
            tiny(checkpoint_interval=5), progress=False, out_dir=tmp_path / "ref", data=data, loss_hook=_stop_at(17)
        )
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
    assert all(
        torch.equal(a, b)
        for a, b in zip(full.model.state_dict().values(), resumed.model.state_dict().values(), strict=True)
    )
    assert [r[:3] for r in resumed.history["train"]] == [r[:3] for r in full.history["train"]]
    assert [e[:3] for e in resumed.history["eval"]] == [e[:3] for e in full.history["eval"]]
    assert resumed.history["resumed_at"] == [20]
    with pytest.raises(ValueError, match=r"fields differ from it: \['lr'\]"):
        T.train(tiny(lr=1e-3), resume=True, progress=False, out_dir=part, data=data)


REFERENCE = json.loads((Path(__file__).parent / "reference_losses.json").read_text())


@pytest.mark.parametrize("key", sorted(REFERENCE["lm"]))
def test_losses_equal_the_recorded_reference(data, key):
    """The losses of the code before the one loop (bit for bit on the recording machine): same batches, same
    initialisation, same dropout masks, same schedule."""
    model, mode, *extra = key.split("-")
    extra = {k: float(v) for k, v in (e.split("=") for e in extra)}
    cfg = T.get_config(
        "cpu-tiny",
        model=model,
        mode=mode,
        max_steps=12,
        warmup_steps=2,
        eval_interval=6,
        log_interval=1,
        threads=1,
        **extra,
    )
    hist = T.train(cfg, progress=False, data=data).history
    ref = REFERENCE["lm"][key]
    assert [r[1] for r in hist["train"]] == pytest.approx(ref["train"], rel=1e-4)
    assert [r[2] for r in hist["train"]] == ref["lr"]
    assert [e[1:3] for e in hist["eval"]] == [pytest.approx(e, rel=1e-4) for e in ref["eval"]]


def test_lm_loss_runs_the_model_as_configured(data):
    cfg = tiny(mode="chunkwise", chunk_size=8)
    torch.manual_seed(0)
    model = T.build_model(cfg, data[0].vocab_size).double()
    assert model.config.mode == "chunkwise" and model.config.chunk_size == 8
    x = data[1][:65].reshape(1, -1)
    a = T.lm_loss(model, x[:, :-1], x[:, 1:]).item()
    b = T.lm_loss(model, x[:, :-1], x[:, 1:], mode="parallel").item()  # the model's own options pass through
    assert abs(a - b) < 1e-12


def test_runners_do_not_dispatch_on_model_type():
    """train.py and lra.py use the TokenLM protocol (model(x), model.kind, generate, the registry): they neither
    import the model classes nor test for them."""
    classes = r"(RetNetLM|TransformerLM|HyenaLM|RetNetConfig|TransformerConfig|HyenaConfig)"
    for name in ("train.py", "lra.py"):
        src = (ROOT / "retnet_edu" / "experiments" / name).read_text()
        assert not re.search(r"isinstance\([^)]*" + classes, src), name
        assert not re.search(r"^from .* import .*\b(RetNetLM|TransformerLM|HyenaLM)\b", src, re.M), name


# ---------------------------------------------------------------------------------------------------------
# a real process, really killed
# ---------------------------------------------------------------------------------------------------------
def _cli(*args):
    return [sys.executable, "-m", "retnet_edu.experiments.train", *args]


def _env():
    env = dict(os.environ, OMP_NUM_THREADS="1", RETNET_DEVICE="cpu", PYTHONHASHSEED="0")
    env.pop("MPLBACKEND", None)
    return env


RUN = [
    "--config",
    "cpu-tiny",
    "--max-steps",
    "150",
    "--checkpoint-interval",
    "10",
    "--eval-interval",
    "25",
    "--threads",
    "1",
    "--no-progress",
]


def test_killed_run_resumes_bit_exactly(tmp_path, data):
    ref_dir, killed_dir = tmp_path / "uninterrupted", tmp_path / "killed"
    # the uninterrupted reference runs in this process (same code, same single thread: the same numbers)
    cfg, _, _ = T.parse_train_args(RUN + ["--out-dir", str(ref_dir)])
    T.train(cfg, progress=False, data=data)

    proc = subprocess.Popen(
        _cli(*RUN, "--out-dir", str(killed_dir)),
        env=_env(),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    ckpt, log = killed_dir / "checkpoint.pt", killed_dir / "log.json"
    deadline = time.monotonic() + 120
    # the log is written (atomically) just after each checkpoint: wait for both, so that the log can be checked
    while not (ckpt.exists() and log.exists()) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)  # no clean-up, no atexit: a power cut, as far as Python knows
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    killed_at = T.load_checkpoint(ckpt)["step"]
    assert 10 <= killed_at < 150
    assert json.loads(log.read_text())["history"]["status"] == "running"

    out = subprocess.run(
        _cli("--resume", "--out-dir", str(killed_dir), "--threads", "1", "--no-progress"),
        env=_env(),
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    assert "done: retnet step 150" in out.stdout

    a, b = T.load_checkpoint(ref_dir / "checkpoint.pt"), T.load_checkpoint(ckpt)
    assert a["step"] == b["step"] == 150
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])  # bit-identical weights
    sa, sb = a["optimizer"]["state"], b["optimizer"]["state"]
    assert all(torch.equal(sa[i][n], sb[i][n]) for i in sa for n in ("exp_avg", "exp_avg_sq"))
    la = json.loads((ref_dir / "log.json").read_text())["history"]
    lb = json.loads((killed_dir / "log.json").read_text())["history"]
    assert [r[:3] for r in la["train"]] == [r[:3] for r in lb["train"]]  # identical loss curve
    assert [e[:3] for e in la["eval"]] == [e[:3] for e in lb["eval"]]
    assert lb["resumed_at"] == [killed_at] and lb["status"] == "finished"


# ---------------------------------------------------------------------------------------------------------
# command line and sampling
# ---------------------------------------------------------------------------------------------------------
def test_cli_parsing():
    cfg, ns, over = T.parse_train_args(
        ["--config", "cpu-tiny", "--model", "transformer", "--lr", "1e-3", "--max-steps", "7", "--warmup-steps", "2"]
    )
    assert (cfg.name, cfg.model, cfg.lr, cfg.max_steps, cfg.embed_dim) == ("cpu-tiny", "transformer", 1e-3, 7, 32)
    assert cfg.out_dir == str(Path("runs") / "cpu-tiny-transformer") and over == {
        "model": "transformer",
        "lr": 1e-3,
        "max_steps": 7,
        "warmup_steps": 2,
    }
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
    assert T.main(args) == 2  # would overwrite a checkpoint
    assert "--resume" in capsys.readouterr().err
    assert T.main(["train", *args, "--overwrite"]) == 0
    capsys.readouterr()
    assert T.main(["--resume", "--out-dir", str(out), "--lr", "1.0"]) == 2  # resume keeps the saved config
    assert "drop ['lr']" in capsys.readouterr().err
    assert T.main(["--resume", "--out-dir", str(tmp_path / "nothing")]) == 2
    assert "no checkpoint" in capsys.readouterr().err
    assert T.main(["--resume", "--out-dir", str(out), "--no-progress"]) == 0  # already finished: nothing to do
    assert "done: retnet step 12" in capsys.readouterr().out

    ckpt = str(out / "checkpoint.pt")
    assert T.main(["sample", "--checkpoint", ckpt, "--prompt", "ROMEO:", "--max-new-tokens", "40", "--seed", "1"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("ROMEO:") and len(text.rstrip("\n")) >= 40
    assert T.main(["sample", "--checkpoint", ckpt, "--prompt", "ROMEO:", "--max-new-tokens", "40", "--seed", "1"]) == 0
    assert capsys.readouterr().out == text  # seeded: the same text again
    assert T.main(["sample", "--checkpoint", ckpt, "--prompt", "~"]) == 2
    assert "outside the vocabulary" in capsys.readouterr().err
    assert T.main(["--config", "cpu-tiny", "--print-config"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["retnet"]["embed_dim"] == printed["transformer"]["embed_dim"] == 32


# ---------------------------------------------------------------------------------------------------------
# damaged or missing checkpoints: one line on stderr, exit code 2, no traceback
# ---------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def real_checkpoint(tmp_path_factory, data):
    out = tmp_path_factory.mktemp("real")
    T.train(
        tiny(max_steps=4, warmup_steps=1, checkpoint_interval=4, eval_interval=4),
        progress=False,
        out_dir=out,
        data=data,
    )
    return (out / "checkpoint.pt").read_bytes()


def _damage(path: Path, how: str, real: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if how == "truncated":
        path.write_bytes(real[: len(real) // 2])
    elif how == "garbage":
        path.write_bytes(np.random.default_rng(0).integers(0, 256, 3000, dtype=np.uint8).tobytes())
    elif how == "empty":
        path.write_bytes(b"")


def _one_line(err: str) -> str:
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("how", ["missing", "truncated", "garbage", "empty"])
def test_resume_from_a_damaged_checkpoint_is_one_clear_line(tmp_path, capsys, real_checkpoint, how):
    out = tmp_path / "run"
    _damage(out / "checkpoint.pt", how, real_checkpoint)
    assert T.main(["--resume", "--out-dir", str(out), "--no-progress"]) == 2
    captured = capsys.readouterr()
    err = _one_line(captured.err)
    assert str(out / "checkpoint.pt") in err and captured.out == ""
    if how == "missing":
        assert "no checkpoint at" in err and "without --resume" in err
    else:
        assert "is truncated or not a checkpoint (" in err and "delete it and start a new run" in err
        assert "--out-dir" in err


@pytest.mark.parametrize("how", ["missing", "truncated", "garbage", "empty"])
def test_sample_from_a_damaged_checkpoint_is_one_clear_line(tmp_path, capsys, real_checkpoint, how):
    path = tmp_path / "x" / "checkpoint.pt"
    _damage(path, how, real_checkpoint)
    assert T.main(["sample", "--checkpoint", str(path), "--max-new-tokens", "3"]) == 2
    captured = capsys.readouterr()
    err = _one_line(captured.err)
    assert str(path) in err and captured.out == ""
    if how == "missing":
        assert "no checkpoint at" in err and "point --checkpoint at" in err
    else:
        assert "is truncated or not a checkpoint (" in err
        assert "delete it and start a new run, or point --checkpoint at another file" in err


def test_load_checkpoint_names_the_damage(tmp_path, real_checkpoint):
    """The exceptions behind those lines: FileNotFoundError for a missing file, CheckpointError (a ValueError)
    naming the file and the reason for a damaged one."""
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        T.load_checkpoint(tmp_path / "none.pt")
    reasons = {
        "truncated": "PytorchStreamReader failed reading zip archive",
        "garbage": "not a zip archive",
        "empty": "the file is empty",
    }
    for how, reason in reasons.items():
        path = tmp_path / f"{how}.pt"
        _damage(path, how, real_checkpoint)
        with pytest.raises(CheckpointError, match="is truncated or not a checkpoint") as info:
            T.load_checkpoint(path)
        assert str(path) in str(info.value) and reason in str(info.value) and "\n" not in str(info.value)
    torch.save({"step": 3}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a retnet_edu training checkpoint"):
        T.load_checkpoint(tmp_path / "other.pt")
    assert issubclass(CheckpointError, ValueError)


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


# ---------------------------------------------------------------------------------------------------------
# the whole validation split
# ---------------------------------------------------------------------------------------------------------
def _window_by_window(model, ids, T_len):
    """The definition, one window at a time: windows of T_len inputs at 0, T_len, 2·T_len, …, the last one
    shorter; the mean over every predicted token."""
    total, count = 0.0, 0
    for s in range(0, ids.numel() - 1, T_len):
        x = ids[s : s + T_len]
        y = ids[s + 1 : s + T_len + 1]
        x = x[: y.numel()]
        total += T.lm_loss(model, x[None], y[None]).item() * y.numel()
        count += y.numel()
    assert count == ids.numel() - 1
    return total / count


@pytest.mark.parametrize("model_kind", ["retnet", "transformer"])
def test_evaluate_split_scores_every_token_once(data, model_kind):
    torch.manual_seed(0)
    model = T.build_model(tiny(model=model_kind), data[0].vocab_size).double()
    model.train()
    ids = data[2][:1000]  # 999 predicted tokens: 31 windows of 32 and a remainder of 7
    want = _window_by_window(model.eval(), ids, 32)
    model.train()
    for batch_size in (1, 5, 64):
        got = T.evaluate_split(model, ids, block_size=32, batch_size=batch_size)
        assert abs(got - want) < 1e-10 * want, (batch_size, got, want)
    assert model.training  # the mode is restored
    exact = ids[: 32 * 4 + 1]  # no remainder: four whole windows, the mean `evaluate` gives on them
    batches = [(exact[:-1].reshape(4, 32), exact[1:].reshape(4, 32))]
    assert abs(T.evaluate_split(model, exact, 32) - T.evaluate(model, batches)) < 1e-12
    assert abs(T.evaluate_split(model, ids[:2], 32) - _window_by_window(model.eval(), ids[:2], 32)) < 1e-12


def test_evaluate_split_float32_and_no_grad(data):
    torch.manual_seed(0)
    model = T.build_model(tiny(), data[0].vocab_size)
    ids = data[2][:700]
    got = T.evaluate_split(model, ids, 32, 16)
    want = _window_by_window(model.double().eval(), ids, 32)
    assert abs(got - want) < 1e-5 * want  # float32 forward against float64: rounding only
    assert all(p.grad is None for p in model.parameters())


def test_evaluate_split_bad_input(data):
    model = T.build_model(tiny(), data[0].vocab_size)
    ids = data[2][:100]
    for args, err, words in [
        ((ids.reshape(10, 10), 8), ValueError, "1-D"),
        (([1, 2, 3], 8), ValueError, "1-D"),
        ((ids.float(), 8), TypeError, "integer"),
        ((ids[:1], 8), ValueError, "at least 2"),
        ((ids, 0), ValueError, "block_size"),
        ((ids, 8.0), ValueError, "block_size"),
        ((ids, 8, 0), ValueError, "batch_size"),
    ]:
        with pytest.raises(err, match=words):
            T.evaluate_split(model, *args)
