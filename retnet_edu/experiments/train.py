"""Training a character-level language model, RetNet or the equal-size Transformer, on the course corpus.

Command line (``python -m retnet_edu.experiments.train --help``)::

    python -m retnet_edu.experiments.train --config cpu --model retnet               # train, checkpoints in runs/cpu-retnet/
    python -m retnet_edu.experiments.train --config cpu --model transformer          # the baseline, same data and schedule
    python -m retnet_edu.experiments.train --config cpu --model retnet --resume      # continue a killed run exactly
    python -m retnet_edu.experiments.train sample --checkpoint runs/cpu-retnet/checkpoint.pt --prompt "ROMEO:"

Named configs (``CONFIGS``; any field can be overridden by a flag, e.g. ``--max-steps 500 --lr 3e-4``):
``cpu-tiny`` (tests, seconds), ``notebook`` (notebook 08, about half a minute per model on one CPU thread),
``cpu`` (a laptop, 6-8 minutes per model on 2 cores), ``gpu`` (one GPU, ~10M parameters, context 256).

The pieces are plain functions so that other training loops (notebook 08, the long-range tasks) reuse them:
``lr_at``/``make_scheduler`` (linear warm-up then cosine decay), ``configure_optimizer`` (AdamW, weight decay on
matrices only), ``autocast_context`` (bf16 on CUDA, fp32 elsewhere), ``capture_rng_state``/``restore_rng_state``
(python, numpy, torch CPU and CUDA, and the batch sampler's generator), ``save_checkpoint`` (atomic: written to a
temporary file, then renamed over the old one) / ``load_checkpoint``, ``evaluate``, and ``train`` itself.

Exactness: on the CPU a run that is killed and resumed with ``--resume`` ends with bit-identical weights and losses
to an uninterrupted run (the checkpoint holds the model, the optimiser, the scheduler, every RNG state and the
step; tests kill a real process to check it). A non-finite loss or gradient norm stops the run with
``TrainingDiverged`` and leaves the last good checkpoint in place.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import numbers
import os
import random
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from retnet_edu._args import check_fields, check_schedule
from retnet_edu.experiments.data import CharTokenizer, fixed_batches, load_corpus, random_batch, train_val_split
from retnet_edu.model import RetNetConfig, RetNetLM
from retnet_edu.experiments.runtime import get_device
from retnet_edu.baselines.transformer import TransformerConfig, TransformerLM, matched_transformer_config

__all__ = [
    "TrainConfig",
    "CONFIGS",
    "get_config",
    "TrainingDiverged",
    "TrainResult",
    "model_configs",
    "build_model",
    "lm_loss",
    "lr_at",
    "make_scheduler",
    "configure_optimizer",
    "resolve_precision",
    "autocast_context",
    "capture_rng_state",
    "restore_rng_state",
    "save_checkpoint",
    "load_checkpoint",
    "evaluate",
    "prepare_data",
    "train",
    "load_model",
    "sample_text",
    "main",
]

MODELS = ("retnet", "transformer")
TRAIN_MODES = ("parallel", "chunkwise")
PRECISIONS = ("auto", "fp32", "bf16")
CHECKPOINT_NAME = "checkpoint.pt"
LOG_NAME = "log.json"
CHECKPOINT_FORMAT = 1


# ----------------------------------------------------------------------------------------------------------
# configuration
# ----------------------------------------------------------------------------------------------------------
@dataclass
class TrainConfig:
    """Everything a run depends on. The model sizes describe the RetNet; the Transformer gets the same width,
    depth and heads and the feed-forward width that matches the RetNet's parameter count
    (``transformer.matched_transformer_config``)."""

    name: str = "custom"
    model: str = "retnet"            # "retnet" or "transformer"
    mode: str = "parallel"           # RetNet's training forward: "parallel" (eq. 5) or "chunkwise" (eq. 7)
    chunk_size: int = 64
    embed_dim: int = 128
    num_layers: int = 4
    num_heads: int = 4
    decay: str = "eq8"               # RetNet decays: "eq8", "lm" or "none"
    dropout: float = 0.0
    block_size: int = 128            # context length T of each training window
    batch_size: int = 16
    max_steps: int = 2000
    lr: float = 2e-3
    min_lr: float = 2e-4
    warmup_steps: int = 100
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.99
    grad_clip: float = 1.0
    eval_interval: int = 250
    eval_batches: int = 20
    checkpoint_interval: int = 250
    log_interval: int = 10
    seed: int = 1337
    eval_seed: int = 1234
    device: str = "auto"             # "auto" (CUDA, then MPS, then CPU), "cuda", "mps" or "cpu"
    precision: str = "auto"          # "auto" (bf16 autocast on CUDA when supported, else fp32), "fp32", "bf16"
    threads: int = 0                 # torch CPU threads; 0 leaves PyTorch's setting alone
    out_dir: str = ""                # "" = runs/<name>-<model> on the command line; no files from train(...)
    data_path: str = ""              # "" = the course corpus data/shakespeare.txt (checksum verified)
    val_fraction: float = 0.1

    def __post_init__(self):
        ints = dict.fromkeys(("chunk_size", "embed_dim", "num_layers", "num_heads", "block_size", "batch_size",
                              "max_steps", "eval_interval", "eval_batches", "checkpoint_interval", "log_interval"), 1)
        check_fields(self, {**ints, **dict.fromkeys(("warmup_steps", "seed", "eval_seed", "threads"), 0)})
        for name, allowed in (("model", MODELS), ("mode", TRAIN_MODES), ("precision", PRECISIONS),
                              ("decay", ("eq8", "lm", "none")), ("device", ("auto", "cuda", "mps", "cpu"))):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        check_fields(self, reals=("lr", "min_lr", "weight_decay", "grad_clip", "beta1", "beta2", "dropout",
                                  "val_fraction"))
        check_schedule(self.lr, self.min_lr, self.warmup_steps, self.max_steps)
        if not (self.beta1 < 1 and self.beta2 < 1):
            raise ValueError(f"beta1 and beta2 must be < 1, got {self.beta1}, {self.beta2}")
        if not self.dropout < 1:
            raise ValueError(f"dropout must be < 1, got {self.dropout}")
        if not 0 < self.val_fraction < 1:
            raise ValueError(f"val_fraction must lie in (0, 1), got {self.val_fraction}")
        if not isinstance(self.name, str) or not isinstance(self.out_dir, str) or not isinstance(self.data_path, str):
            raise TypeError("name, out_dir and data_path must be strings")

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def tokens_per_step(self) -> int:
        return self.batch_size * self.block_size


CONFIGS: dict[str, dict] = {
    # seconds on one CPU thread: the test suite's smoke runs
    "cpu-tiny": dict(embed_dim=32, num_layers=2, num_heads=2, chunk_size=8, block_size=32, batch_size=8,
                     max_steps=40, lr=3e-3, min_lr=3e-4, warmup_steps=5, eval_interval=10, eval_batches=2,
                     checkpoint_interval=10, log_interval=1),
    # notebook 08 on a CPU: about half a minute per model with one thread
    "notebook": dict(embed_dim=96, num_layers=3, num_heads=2, chunk_size=32, block_size=64, batch_size=16,
                     max_steps=600, lr=3e-3, min_lr=3e-4, warmup_steps=50, eval_interval=100, eval_batches=8,
                     checkpoint_interval=100, log_interval=10),
    # a laptop: 6-8 minutes per model on 2 cores (data/results/README.md)
    "cpu": dict(embed_dim=128, num_layers=4, num_heads=4, chunk_size=64, block_size=128, batch_size=16,
                max_steps=3000, lr=2e-3, min_lr=2e-4, warmup_steps=100, eval_interval=250, eval_batches=20,
                checkpoint_interval=250, log_interval=10),
    # one GPU (nanoGPT's Shakespeare-char size): ~10.7M parameters, context 256
    "gpu": dict(embed_dim=384, num_layers=6, num_heads=6, chunk_size=64, block_size=256, batch_size=64,
                max_steps=5000, lr=1e-3, min_lr=1e-4, warmup_steps=100, dropout=0.2, eval_interval=250,
                eval_batches=50, checkpoint_interval=500, log_interval=10),
}


def get_config(name: str, **overrides) -> TrainConfig:
    """The named config (``CONFIGS``) with ``overrides`` applied, e.g. ``get_config("cpu", model="transformer")``."""
    if name not in CONFIGS:
        raise ValueError(f"unknown config {name!r}; choose one of {sorted(CONFIGS)}")
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(f"unknown config field(s) {unknown}; known: {sorted(fields)}")
    kw = dict(CONFIGS[name], name=name)
    kw.update(overrides)
    return TrainConfig(**kw)


class TrainingDiverged(RuntimeError):
    """The loss (or the gradient norm) stopped being a finite number; the last good checkpoint is kept."""


# ----------------------------------------------------------------------------------------------------------
# models
# ----------------------------------------------------------------------------------------------------------
def model_configs(cfg: TrainConfig, vocab_size: int) -> tuple[RetNetConfig, TransformerConfig]:
    """The RetNet described by ``cfg`` and the Transformer matched to its parameter count."""
    retnet = RetNetConfig(vocab_size=vocab_size, embed_dim=cfg.embed_dim, num_layers=cfg.num_layers,
                          num_heads=cfg.num_heads, chunk_size=cfg.chunk_size, dropout=cfg.dropout, decay=cfg.decay)
    return retnet, matched_transformer_config(retnet)


def build_model(cfg: TrainConfig, vocab_size: int) -> nn.Module:
    """``RetNetLM`` or ``TransformerLM`` (``cfg.model``), freshly initialised from the current torch RNG."""
    retnet, transformer = model_configs(cfg, vocab_size)
    return RetNetLM(retnet) if cfg.model == "retnet" else TransformerLM(transformer)


def _model_from_dict(kind: str, config: dict) -> nn.Module:
    if kind == "retnet":
        return RetNetLM(RetNetConfig(**config))
    if kind == "transformer":
        return TransformerLM(TransformerConfig(**config))
    raise ValueError(f"unknown model kind {kind!r}")


def _model_kind(model: nn.Module) -> str:
    if isinstance(model, RetNetLM):
        return "retnet"
    if isinstance(model, TransformerLM):
        return "transformer"
    raise TypeError(f"model must be a RetNetLM or a TransformerLM, got {type(model).__name__}")


def lm_loss(model: nn.Module, x: Tensor, y: Tensor, mode: str = "parallel", chunk_size: int | None = None) -> Tensor:
    """Mean next-token cross-entropy in nats: ``-mean log p(y | x)``. RetNet runs in ``mode`` ("parallel" or
    "chunkwise"); the Transformer ignores it. Half-precision logits (autocast) are cast to float32 for the
    log-softmax; float32 and float64 logits are used as they are."""
    if isinstance(model, RetNetLM):
        logits, _ = model(x, mode=mode, chunk_size=chunk_size)
    else:
        logits, _ = model(x)
    if logits.dtype in (torch.float16, torch.bfloat16):
        logits = logits.float()
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))


# ----------------------------------------------------------------------------------------------------------
# optimiser and schedule
# ----------------------------------------------------------------------------------------------------------
def lr_at(step: int, lr: float, min_lr: float, warmup_steps: int, max_steps: int) -> float:
    """The learning rate of (0-based) ``step``: a linear warm-up ``lr·(step+1)/warmup_steps`` for the first
    ``warmup_steps`` steps, then a cosine from ``lr`` down to ``min_lr`` at ``max_steps``:
    ``min_lr + ½(1 + cos(π·p))·(lr - min_lr)`` with ``p = (step - warmup_steps)/(max_steps - warmup_steps)``.
    Steps at or after ``max_steps`` get ``min_lr``."""
    if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 0:
        raise ValueError(f"step must be an int >= 0, got {step!r}")
    if not (0 <= warmup_steps < max_steps):
        raise ValueError(f"need 0 <= warmup_steps < max_steps, got {warmup_steps}, {max_steps}")
    if step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    if step >= max_steps:
        return min_lr
    p = (step - warmup_steps) / (max_steps - warmup_steps)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * p)) * (lr - min_lr)


class _LRFactor:
    """Picklable multiplier for LambdaLR: lr_at(step)/lr."""

    def __init__(self, lr: float, min_lr: float, warmup_steps: int, max_steps: int):
        self.args = (lr, min_lr, warmup_steps, max_steps)

    def __call__(self, step: int) -> float:
        lr, min_lr, warmup, max_steps = self.args
        return lr_at(step, lr, min_lr, warmup, max_steps) / lr


def make_scheduler(optimizer: torch.optim.Optimizer, lr: float, min_lr: float, warmup_steps: int,
                   max_steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """A ``LambdaLR`` that sets the learning rate of step s to ``lr_at(s, …)`` (call ``.step()`` after each
    optimiser step). The optimiser's base learning rate must be ``lr``."""
    for group in optimizer.param_groups:
        if not math.isclose(group.get("initial_lr", group["lr"]), lr):
            raise ValueError(f"the optimiser's learning rate {group['lr']} is not lr={lr}")
    return torch.optim.lr_scheduler.LambdaLR(optimizer, _LRFactor(lr, min_lr, warmup_steps, max_steps))


def configure_optimizer(model: nn.Module, lr: float, weight_decay: float = 0.1,
                        betas: tuple[float, float] = (0.9, 0.99)) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices (projections, embeddings) and none on vectors (norm gains), as in
    GPT-2/nanoGPT."""
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=betas)


# ----------------------------------------------------------------------------------------------------------
# precision, RNG state, checkpoints
# ----------------------------------------------------------------------------------------------------------
def resolve_precision(precision: str, device: torch.device) -> str:
    """"auto" → "bf16" on a CUDA device that supports bfloat16, else "fp32". "bf16" on a CUDA device without
    bfloat16 falls back to "fp32" too. "bf16" on the CPU is honoured (CPU autocast; slow, for testing)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if device.type == "cuda":
        if precision in ("auto", "bf16"):
            return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
        return "fp32"
    if precision == "bf16" and device.type == "cpu":
        return "bf16"
    return "fp32"


def autocast_context(device: torch.device, precision: str):
    """``torch.autocast(device, bfloat16)`` for "bf16", a no-op context for "fp32". Weights and optimiser state
    stay float32 either way (mixed precision, no loss scaling needed with bfloat16)."""
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def capture_rng_state(sampler: torch.Generator | None = None) -> dict:
    """Every random state a run depends on: Python's ``random``, NumPy's global generator, torch's CPU and CUDA
    generators, and the batch sampler's ``torch.Generator``. Only tensors, ints, strings, tuples (loadable
    with ``torch.load(weights_only=True)``)."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": {"name": name, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "torch_cpu": torch.get_rng_state(),
        "torch_cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }
    if sampler is not None:
        state["sampler"] = sampler.get_state()
    return state


def restore_rng_state(state: dict, sampler: torch.Generator | None = None) -> None:
    """Undo ``capture_rng_state``: afterwards every generator produces what it would have at capture time."""
    random.setstate(_tuplify(state["python"]))
    n = state["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                         n["cached_gaussian"]))
    torch.set_rng_state(state["torch_cpu"])
    if state.get("torch_cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["torch_cuda"])
    if sampler is not None:
        if "sampler" not in state:
            raise ValueError("the saved RNG state has no batch-sampler state")
        sampler.set_state(state["sampler"])


def _tuplify(x):
    return tuple(_tuplify(i) for i in x) if isinstance(x, (list, tuple)) else x


def save_checkpoint(path: str | Path, checkpoint: dict) -> Path:
    """Write ``checkpoint`` with ``torch.save`` atomically: to a temporary file in the same folder, flushed to
    disk, then renamed over ``path`` (``os.replace``). A crash at any moment leaves either the old file or the
    new one, never a truncated one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            torch.save(checkpoint, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return path


def load_checkpoint(path: str | Path, map_location="cpu") -> dict:
    """Load a checkpoint written by ``save_checkpoint`` (``weights_only=True``: no arbitrary code runs)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    ckpt = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a retnet_edu training checkpoint (format {CHECKPOINT_FORMAT})")
    return ckpt


def _write_json_atomic(path: Path, obj: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(obj, indent=1) + "\n")
    os.replace(tmp, path)


# ----------------------------------------------------------------------------------------------------------
# data and evaluation
# ----------------------------------------------------------------------------------------------------------
def prepare_data(cfg: TrainConfig) -> tuple[CharTokenizer, Tensor, Tensor]:
    """The tokenizer (every character of the corpus) and the token ids of the train and validation splits."""
    text = load_corpus() if not cfg.data_path else load_corpus(cfg.data_path, sha256=None)
    tokenizer = CharTokenizer.from_text(text)
    train_text, val_text = train_val_split(text, cfg.val_fraction)
    return tokenizer, tokenizer.encode(train_text), tokenizer.encode(val_text)


@torch.no_grad()
def evaluate(model: nn.Module, batches, mode: str = "parallel", chunk_size: int | None = None,
             precision: str = "fp32") -> float:
    """Mean loss (nats per character) over ``batches`` (a list of (x, y)), in eval mode (no dropout)."""
    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        losses = []
        for x, y in batches:
            with autocast_context(device, precision):
                losses.append(lm_loss(model, x, y, mode, chunk_size).item())
    finally:
        model.train(was_training)
    return float(sum(losses) / len(losses))


# ----------------------------------------------------------------------------------------------------------
# the training loop
# ----------------------------------------------------------------------------------------------------------
@dataclass
class TrainResult:
    """What ``train`` returns: the trained model, the tokenizer, the run's config and its history
    (``history["train"]``: rows [step, mean training loss of the last ``log_interval`` steps, learning rate,
    tokens/s]; ``history["eval"]``: rows [step, train loss, validation loss, training seconds so far];
    ``train_seconds`` (optimisation steps only) and ``wall_seconds`` (everything, evaluations included))."""

    model: nn.Module
    tokenizer: CharTokenizer
    config: TrainConfig
    history: dict
    device: torch.device
    precision: str
    checkpoint: Path | None


def _fmt_rate(x: float) -> str:
    return f"{x / 1000:.1f}k" if x >= 1000 else f"{x:.0f}"


def train(cfg: TrainConfig, resume: bool = False, progress: bool = True, out_dir: str | Path | None = None,
          loss_hook=None, command: str | None = None, data=None) -> TrainResult:
    """Train ``cfg.model`` on the corpus and return a ``TrainResult``.

    ``out_dir`` (default ``cfg.out_dir``; none = no files): where ``checkpoint.pt`` (every
    ``checkpoint_interval`` steps and at the end) and ``log.json`` (the loss curve, rewritten at every checkpoint)
    go. ``resume=True`` continues from ``out_dir/checkpoint.pt`` with the config saved in it (``cfg`` must then
    equal it, except for ``device``/``threads``). ``progress`` shows a tqdm bar (loss, tokens/s).
    ``loss_hook(step, loss) -> loss`` lets a test or an experiment alter the loss before the update (e.g. inject
    a NaN). ``data``: an optional (tokenizer, train_ids, val_ids) to skip loading the corpus again.

    Raises ``TrainingDiverged`` if the loss or gradient norm becomes NaN/inf (the last checkpoint is kept).
    """
    if not isinstance(cfg, TrainConfig):
        raise TypeError(f"cfg must be a TrainConfig, got {type(cfg).__name__}")
    out = Path(out_dir) if out_dir is not None else (Path(cfg.out_dir) if cfg.out_dir else None)
    ckpt_path = out / CHECKPOINT_NAME if out is not None else None
    if resume and ckpt_path is None:
        raise ValueError("resume=True needs an out_dir holding a checkpoint")
    if out is not None and out.is_dir():   # a process killed while writing leaves its temporary file behind
        for stale in out.glob(f".{CHECKPOINT_NAME}.tmp-*"):
            stale.unlink(missing_ok=True)
    ckpt = None
    if resume:
        ckpt = load_checkpoint(ckpt_path)
        saved = TrainConfig(**ckpt["config"])
        differs = [f.name for f in dataclasses.fields(TrainConfig)
                   if f.name not in ("device", "threads", "out_dir")
                   and getattr(saved, f.name) != getattr(cfg, f.name)]
        if differs:
            raise ValueError(f"resume continues the saved run with its own config; these fields differ from it: "
                             f"{differs}")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = get_device(None if cfg.device == "auto" else cfg.device)
    precision = resolve_precision(cfg.precision, device)

    tokenizer, train_ids, val_ids = data if data is not None else prepare_data(cfg)
    if ckpt is not None and CharTokenizer.from_dict(ckpt["tokenizer"]) != tokenizer:
        raise ValueError("the checkpoint's vocabulary differs from the corpus's")
    eval_sets = {
        "train": fixed_batches(train_ids, cfg.eval_batches, cfg.batch_size, cfg.block_size, cfg.eval_seed, device),
        "val": fixed_batches(val_ids, cfg.eval_batches, cfg.batch_size, cfg.block_size, cfg.eval_seed, device),
    }

    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    model = build_model(cfg, tokenizer.vocab_size).to(device)
    optimizer = configure_optimizer(model, cfg.lr, cfg.weight_decay, (cfg.beta1, cfg.beta2))
    scheduler = make_scheduler(optimizer, cfg.lr, cfg.min_lr, cfg.warmup_steps, cfg.max_steps)
    sampler = torch.Generator().manual_seed(cfg.seed)
    chunk = cfg.chunk_size if cfg.mode == "chunkwise" else None
    kind = _model_kind(model)
    history = {"train": [], "eval": [], "train_seconds": 0.0, "wall_seconds": 0.0, "resumed_at": [],
               "status": "running", "message": ""}
    start = 0
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        restore_rng_state(ckpt["rng"], sampler)
        history = ckpt["history"]
        start = int(ckpt["step"])
        history["resumed_at"] = list(history["resumed_at"]) + [start]
        history["status"] = "running"
    last_good = start if ckpt is not None else None

    n_params = model.num_parameters()
    meta = {
        "command": command or "",
        "config": cfg.to_dict(),
        "model": {"kind": kind, "config": model.config.to_dict(), "parameters": n_params,
                  "parameters_without_embeddings": model.num_parameters(exclude_embeddings=True)},
        "data": {"vocab_size": tokenizer.vocab_size, "train_tokens": int(train_ids.numel()),
                 "val_tokens": int(val_ids.numel())},
        "device": device.type,
        "precision": precision,
        "torch": torch.__version__.split("+")[0],
        "threads": torch.get_num_threads(),
    }

    wall_start, wall_before = time.perf_counter(), float(history.get("wall_seconds", 0.0))

    def tick():
        history["wall_seconds"] = round(wall_before + time.perf_counter() - wall_start, 3)

    def write_log():
        tick()
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            _write_json_atomic(out / LOG_NAME, {**meta, "history": history})

    def checkpoint(step: int):
        nonlocal last_good
        if ckpt_path is None:
            return
        tick()
        save_checkpoint(ckpt_path, {
            "format": CHECKPOINT_FORMAT, "step": step, "config": cfg.to_dict(), "model_kind": kind,
            "model_config": model.config.to_dict(), "tokenizer": tokenizer.to_dict(),
            "model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
            "rng": capture_rng_state(sampler), "history": history,
        })
        last_good = step
        write_log()

    def run_eval(step: int, seconds: float):
        tr = evaluate(model, eval_sets["train"], cfg.mode, chunk, precision)
        va = evaluate(model, eval_sets["val"], cfg.mode, chunk, precision)
        history["eval"].append([step, tr, va, round(seconds, 3)])
        return tr, va

    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=cfg.max_steps, initial=start, desc=f"{kind} ({cfg.name})", unit="step", dynamic_ncols=True)
    if start == 0:
        tr, va = run_eval(0, 0.0)
        if bar is not None:
            bar.write(f"step {0:>6}: train {tr:.4f}  val {va:.4f}")
    model.train()
    seconds = float(history["train_seconds"])
    window_loss, window_tokens, window_time, window_steps = 0.0, 0, 0.0, 0
    try:
        for step in range(start, cfg.max_steps):
            t0 = time.perf_counter()
            x, y = random_batch(train_ids, cfg.batch_size, cfg.block_size, sampler, device)
            with autocast_context(device, precision):
                loss = lm_loss(model, x, y, cfg.mode, chunk)
            if loss_hook is not None:
                loss = loss_hook(step, loss)
            value = loss.item()
            if not math.isfinite(value):
                raise TrainingDiverged(_diverged_message("loss", value, step, ckpt_path, last_good))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip if cfg.grad_clip > 0 else math.inf)
            if not math.isfinite(gnorm.item()):
                raise TrainingDiverged(_diverged_message("gradient norm", gnorm.item(), step, ckpt_path, last_good))
            lr = optimizer.param_groups[0]["lr"]
            optimizer.step()
            scheduler.step()
            dt = time.perf_counter() - t0
            seconds += dt
            done = step + 1
            window_loss += value
            window_tokens += cfg.tokens_per_step
            window_time += dt
            window_steps += 1
            if done % cfg.log_interval == 0 or done == cfg.max_steps:
                rate = window_tokens / window_time if window_time > 0 else 0.0
                history["train"].append([done, window_loss / window_steps, lr, round(rate, 1)])
                if bar is not None:
                    bar.set_postfix_str(f"loss {window_loss / window_steps:.3f}, {_fmt_rate(rate)} tok/s")
                window_loss, window_tokens, window_time, window_steps = 0.0, 0, 0.0, 0
            history["train_seconds"] = seconds
            if done % cfg.eval_interval == 0 or done == cfg.max_steps:
                tr, va = run_eval(done, seconds)
                if bar is not None:
                    bar.write(f"step {done:>6}: train {tr:.4f}  val {va:.4f}  ({seconds:.0f} s)")
            if done % cfg.checkpoint_interval == 0 or done == cfg.max_steps:
                if done == cfg.max_steps:
                    history["status"] = "finished"
                checkpoint(done)
            if bar is not None:
                bar.update(1)
    except TrainingDiverged as err:
        history["status"] = "diverged"
        history["message"] = str(err)
        write_log()
        raise
    finally:
        if bar is not None:
            bar.close()
    history["status"] = "finished"
    write_log()   # also sets wall_seconds: training, evaluation and checkpoints, since the (first) start
    return TrainResult(model, tokenizer, cfg, history, device, precision, ckpt_path)


def _diverged_message(what: str, value: float, step: int, ckpt_path: Path | None, last_good: int | None) -> str:
    msg = f"the {what} became {value} at step {step}: training stopped before the update. "
    if ckpt_path is not None and last_good is not None:
        msg += (f"The last good checkpoint (step {last_good}) is kept at {ckpt_path}. ")
    else:
        msg += "No checkpoint had been written yet. "
    return msg + "Try a lower --lr, a smaller --grad-clip or --precision fp32, and start a new run."


# ----------------------------------------------------------------------------------------------------------
# sampling
# ----------------------------------------------------------------------------------------------------------
def load_model(checkpoint: str | Path, device: str | torch.device | None = None) -> tuple[nn.Module, CharTokenizer, dict]:
    """The model (eval mode), its tokenizer and the whole checkpoint dict, from a training checkpoint."""
    ckpt = load_checkpoint(checkpoint)
    model = _model_from_dict(ckpt["model_kind"], ckpt["model_config"])
    model.load_state_dict(ckpt["model"])
    dev = get_device(None if device in (None, "auto") else str(device)) if not isinstance(device, torch.device) else device
    return model.to(dev).eval(), CharTokenizer.from_dict(ckpt["tokenizer"]), ckpt


def sample_text(model: nn.Module, tokenizer: CharTokenizer, prompt: str, max_new_tokens: int = 500,
                temperature: float = 0.8, top_k: int | None = None, seed: int = 0) -> str:
    """Prompt + ``max_new_tokens`` sampled characters. RetNet decodes in recurrent mode (an O(1) state per
    token), the Transformer with its KV cache. ``seed`` makes the draw reproducible."""
    if not isinstance(prompt, str) or not prompt:
        raise ValueError("prompt must be a non-empty string")
    device = next(model.parameters()).device
    ids = tokenizer.encode(prompt).to(device)
    gen = torch.Generator(device=device).manual_seed(int(seed))
    if isinstance(model, RetNetLM):
        out = model.generate(ids, max_new_tokens, temperature=temperature, top_k=top_k, mode="recurrent",
                             generator=gen)
    else:
        out = model.generate(ids, max_new_tokens, temperature=temperature, top_k=top_k, use_cache=True,
                             generator=gen)
    return tokenizer.decode(out.cpu())


# ----------------------------------------------------------------------------------------------------------
# command line
# ----------------------------------------------------------------------------------------------------------
_FLAG_FIELDS = [f for f in dataclasses.fields(TrainConfig) if f.name != "name"]


def _train_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m retnet_edu.experiments.train",
        description="Train RetNet or the equal-size Transformer on the course's Shakespeare corpus. "
                    "Use `python -m retnet_edu.experiments.train sample --help` to generate text from a checkpoint.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--config", default="cpu", choices=sorted(CONFIGS), help="named config to start from")
    ap.add_argument("--resume", action="store_true", help="continue the run saved in --out-dir exactly")
    ap.add_argument("--overwrite", action="store_true", help="start afresh even if --out-dir holds a checkpoint")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar (logs still go to --out-dir)")
    ap.add_argument("--print-config", action="store_true", help="print the resolved config and sizes, then exit")
    for f in _FLAG_FIELDS:
        typ = {"int": int, "float": float, "str": str}[f.type if isinstance(f.type, str) else f.type.__name__]
        ap.add_argument("--" + f.name.replace("_", "-"), dest=f.name, type=typ, default=argparse.SUPPRESS,
                        help=f"override the config's {f.name}")
    return ap


def _sample_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m retnet_edu.experiments.train sample",
                                 description="Generate text from a checkpoint (RetNet: recurrent mode; "
                                             "Transformer: KV cache).",
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--checkpoint", required=True, help="path to a checkpoint.pt written by training")
    ap.add_argument("--prompt", default="\n", help="text to continue (characters of the corpus only)")
    ap.add_argument("--max-new-tokens", type=int, default=500)
    ap.add_argument("--temperature", type=float, default=0.8)
    ap.add_argument("--top-k", type=int, default=0, help="0 = no top-k restriction")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="auto", choices=["auto", "cuda", "mps", "cpu"])
    return ap


def parse_train_args(argv: list[str]) -> tuple[TrainConfig, argparse.Namespace, dict]:
    """Parse training flags: returns (config, namespace, the overrides given explicitly)."""
    ns = _train_parser().parse_args(argv)
    overrides = {f.name: getattr(ns, f.name) for f in _FLAG_FIELDS if hasattr(ns, f.name)}
    cfg = get_config(ns.config, **overrides)
    if not cfg.out_dir:
        cfg = dataclasses.replace(cfg, out_dir=str(Path("runs") / f"{cfg.name}-{cfg.model}"))
    return cfg, ns, overrides


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "sample":
        ns = _sample_parser().parse_args(argv[1:])
        model, tok, _ = load_model(ns.checkpoint, ns.device)
        try:
            text = sample_text(model, tok, ns.prompt, ns.max_new_tokens, ns.temperature, ns.top_k or None, ns.seed)
        except ValueError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        print(text)
        return 0
    if argv and argv[0] == "train":
        argv = argv[1:]
    try:
        cfg, ns, overrides = parse_train_args(argv)
    except (ValueError, TypeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    out = Path(cfg.out_dir)
    if ns.print_config:
        retnet, transformer = model_configs(cfg, vocab_size=_vocab_size_for(cfg))
        print(json.dumps({"config": cfg.to_dict(), "retnet": retnet.to_dict(), "transformer": transformer.to_dict()},
                         indent=1))
        return 0
    if ns.resume:
        if not (out / CHECKPOINT_NAME).is_file():
            print(f"error: --resume but there is no checkpoint at {out / CHECKPOINT_NAME}", file=sys.stderr)
            return 2
        saved = TrainConfig(**load_checkpoint(out / CHECKPOINT_NAME)["config"])
        extra = sorted(set(overrides) - {"device", "threads", "out_dir"})
        if extra:
            print(f"error: --resume continues the saved run with its saved config; drop {extra}", file=sys.stderr)
            return 2
        cfg = dataclasses.replace(saved, device=cfg.device if "device" in overrides else saved.device,
                                  threads=cfg.threads if "threads" in overrides else saved.threads,
                                  out_dir=cfg.out_dir)
    elif (out / CHECKPOINT_NAME).exists() and not ns.overwrite:
        print(f"error: {out} already holds a checkpoint: pass --resume to continue it, --overwrite to start "
              f"afresh, or --out-dir for a new run", file=sys.stderr)
        return 2
    command = "python -m retnet_edu.experiments.train " + " ".join(argv)
    try:
        result = train(cfg, resume=ns.resume, progress=not ns.no_progress, command=command)
    except TrainingDiverged as err:
        print(f"error: {err}", file=sys.stderr)
        return 3
    last = result.history["eval"][-1]
    print(f"done: {cfg.model} step {last[0]}: train loss {last[1]:.4f}, val loss {last[2]:.4f} nats/char, "
          f"{result.history['train_seconds']:.1f} s of training; checkpoint {result.checkpoint}")
    return 0


def _vocab_size_for(cfg: TrainConfig) -> int:
    return prepare_data(cfg)[0].vocab_size


if __name__ == "__main__":
    sys.exit(main())
