"""Training a character-level language model, RetNet or the equal-size Transformer, on the course corpus.

Command line (``python -m retnet_edu.experiments.train --help``)::

    python -m retnet_edu.experiments.train --config cpu --model retnet           # checkpoints in runs/cpu-retnet/
    python -m retnet_edu.experiments.train --config cpu --model transformer      # the baseline, same data and schedule
    python -m retnet_edu.experiments.train --config cpu --model retnet --resume  # continue a killed run exactly
    python -m retnet_edu.experiments.train sample --checkpoint runs/cpu-retnet/checkpoint.pt --prompt "ROMEO:"
    torchrun --nproc_per_node 2 -m retnet_edu.experiments.train --config gpu     # several GPUs (or CPU processes)

Named configs (``CONFIGS``; any field can be overridden by a flag, e.g. ``--max-steps 500 --lr 3e-4``):
``cpu-tiny`` (tests, seconds), ``notebook`` (notebook 08, about half a minute per model on one CPU thread),
``cpu`` (a laptop, 6-8 minutes per model on 2 cores), ``gpu`` (one GPU, ~10M parameters, context 256).

This module is the runner: the data (``prepare_data``), the model (``build_model``; RetNet's training mode goes
into its config), the evaluation windows, then ``retnet_edu.experiments.loop.fit``, the package's one training
loop (AdamW with weight decay on matrices, warm-up + cosine, clipping, bf16 autocast on CUDA, divergence checks,
atomic checkpoints, exact resume, several processes under torchrun). ``configure_optimizer``, ``lr_at``,
``load_checkpoint`` and ``TrainingDiverged`` are the loop's, importable here too.

Exactness: on the CPU a run that is killed and resumed with ``--resume`` ends with bit-identical weights and losses
to an uninterrupted run (tests kill a real process to check it). A non-finite loss or gradient norm stops the run
with ``TrainingDiverged`` and leaves the last good checkpoint in place. A missing, truncated or foreign checkpoint
given to ``--resume`` or ``sample --checkpoint`` ends with one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

from retnet_edu._args import check_fields, check_schedule
from retnet_edu.baselines.transformer import TransformerConfig, matched_transformer_config
from retnet_edu.experiments.data import CharTokenizer, fixed_batches, load_corpus, random_batch, train_val_split
from retnet_edu.experiments.loop import (
    PRECISIONS,
    CheckpointError,
    Recipe,
    TrainingDiverged,
    autocast_context,
    configure_optimizer,
    fit,
    init_distributed,
    load_checkpoint,
    lr_at,
    provenance,
    resolve_precision,
)
from retnet_edu.experiments.runner import add_config_flags, config_overrides, named_config, runner_parser
from retnet_edu.experiments.runtime import get_device, seed_everything
from retnet_edu.lm import TokenLM, build_lm
from retnet_edu.model import RetNetConfig

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
    "configure_optimizer",
    "load_checkpoint",
    "evaluate",
    "evaluate_split",
    "prepare_data",
    "train",
    "load_model",
    "sample_text",
    "main",
]

MODELS = ("retnet", "transformer")
TRAIN_MODES = ("parallel", "chunkwise")
CHECKPOINT_NAME = "checkpoint.pt"
LOG_NAME = "log.json"
ADVICE = "Try a lower --lr, a smaller --grad-clip or --precision fp32, and start a new run."


# ----------------------------------------------------------------------------------------------------------
# configuration
# ----------------------------------------------------------------------------------------------------------
@dataclass
class TrainConfig:
    """Everything a run depends on. The model sizes describe the RetNet; the Transformer gets the same width,
    depth and heads and the feed-forward width that matches the RetNet's parameter count
    (``transformer.matched_transformer_config``)."""

    name: str = "custom"
    model: str = "retnet"  # "retnet" or "transformer"
    mode: str = "parallel"  # RetNet's training forward: "parallel" (eq. 5) or "chunkwise" (eq. 7)
    chunk_size: int = 64
    embed_dim: int = 128
    num_layers: int = 4
    num_heads: int = 4
    decay: str = "eq8"  # RetNet decays: "eq8", "lm" or "none"
    dropout: float = 0.0
    block_size: int = 128  # context length T of each training window
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
    device: str = "auto"  # "auto" (CUDA, then MPS, then CPU), "cuda", "mps" or "cpu"
    precision: str = "auto"  # "auto" (bf16 autocast on CUDA when supported, else fp32), "fp32", "bf16"
    threads: int = 0  # torch CPU threads; 0 leaves PyTorch's setting alone
    out_dir: str = ""  # "" = runs/<name>-<model> on the command line; no files from train(...)
    data_path: str = ""  # "" = the course corpus data/shakespeare.txt (checksum verified)
    val_fraction: float = 0.1

    def __post_init__(self):
        ints = dict.fromkeys(
            (
                "chunk_size",
                "embed_dim",
                "num_layers",
                "num_heads",
                "block_size",
                "batch_size",
                "max_steps",
                "eval_interval",
                "eval_batches",
                "checkpoint_interval",
                "log_interval",
            ),
            1,
        )
        check_fields(self, {**ints, **dict.fromkeys(("warmup_steps", "seed", "eval_seed", "threads"), 0)})
        for name, allowed in (
            ("model", MODELS),
            ("mode", TRAIN_MODES),
            ("precision", PRECISIONS),
            ("decay", ("eq8", "lm", "none")),
            ("device", ("auto", "cuda", "mps", "cpu")),
        ):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        check_fields(
            self, reals=("lr", "min_lr", "weight_decay", "grad_clip", "beta1", "beta2", "dropout", "val_fraction")
        )
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
    "cpu-tiny": dict(
        embed_dim=32,
        num_layers=2,
        num_heads=2,
        chunk_size=8,
        block_size=32,
        batch_size=8,
        max_steps=40,
        lr=3e-3,
        min_lr=3e-4,
        warmup_steps=5,
        eval_interval=10,
        eval_batches=2,
        checkpoint_interval=10,
        log_interval=1,
    ),
    # notebook 08 on a CPU: about half a minute per model with one thread
    "notebook": dict(
        embed_dim=96,
        num_layers=3,
        num_heads=2,
        chunk_size=32,
        block_size=64,
        batch_size=16,
        max_steps=600,
        lr=3e-3,
        min_lr=3e-4,
        warmup_steps=50,
        eval_interval=100,
        eval_batches=8,
        checkpoint_interval=100,
        log_interval=10,
    ),
    # a laptop: 6-8 minutes per model on 2 cores (data/results/README.md)
    "cpu": dict(
        embed_dim=128,
        num_layers=4,
        num_heads=4,
        chunk_size=64,
        block_size=128,
        batch_size=16,
        max_steps=3000,
        lr=2e-3,
        min_lr=2e-4,
        warmup_steps=100,
        eval_interval=250,
        eval_batches=20,
        checkpoint_interval=250,
        log_interval=10,
    ),
    # one GPU (nanoGPT's Shakespeare-char size): ~10.7M parameters, context 256
    "gpu": dict(
        embed_dim=384,
        num_layers=6,
        num_heads=6,
        chunk_size=64,
        block_size=256,
        batch_size=64,
        max_steps=5000,
        lr=1e-3,
        min_lr=1e-4,
        warmup_steps=100,
        dropout=0.2,
        eval_interval=250,
        eval_batches=50,
        checkpoint_interval=500,
        log_interval=10,
    ),
}


def get_config(name: str, **overrides) -> TrainConfig:
    """The named config (``CONFIGS``) with ``overrides`` applied, e.g. ``get_config("cpu", model="transformer")``."""
    return named_config(TrainConfig, CONFIGS, name, {"name": name, **overrides})


# ----------------------------------------------------------------------------------------------------------
# models
# ----------------------------------------------------------------------------------------------------------
def model_configs(cfg: TrainConfig, vocab_size: int) -> tuple[RetNetConfig, TransformerConfig]:
    """The RetNet described by ``cfg`` (training in ``cfg.mode``) and the Transformer matched to its parameter
    count."""
    retnet = RetNetConfig(
        vocab_size=vocab_size,
        embed_dim=cfg.embed_dim,
        num_layers=cfg.num_layers,
        num_heads=cfg.num_heads,
        chunk_size=cfg.chunk_size,
        dropout=cfg.dropout,
        decay=cfg.decay,
        mode=cfg.mode,
    )
    return retnet, matched_transformer_config(retnet)


def build_model(cfg: TrainConfig, vocab_size: int) -> TokenLM:
    """``RetNetLM`` or ``TransformerLM`` (``cfg.model``), freshly initialised from the current torch RNG."""
    configs = dict(zip(MODELS, model_configs(cfg, vocab_size), strict=True))
    return TokenLM.registry[cfg.model](configs[cfg.model])


def lm_loss(model: nn.Module, x: Tensor, y: Tensor, **options) -> Tensor:
    """Mean next-token cross-entropy in nats: ``-mean log p(y | x)``, with the logits of ``model(x, **options)``
    (no options: the model runs as its config says, e.g. RetNet in ``config.mode``; ``options`` are the model's
    own, e.g. RetNet's ``mode="chunkwise", chunk_size=32``). Half-precision logits (autocast) are cast to float32
    for the log-softmax; float32 and float64 logits are used as they are."""
    logits, _ = model(x, **options)
    if logits.dtype in (torch.float16, torch.bfloat16):
        logits = logits.float()
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))


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
def evaluate(model: nn.Module, batches, precision: str = "fp32") -> float:
    """Mean loss (nats per character) over ``batches`` (a list of (x, y)), in eval mode (no dropout), the model
    running as its config says."""
    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        losses = []
        for x, y in batches:
            with autocast_context(device, precision):
                losses.append(lm_loss(model, x, y).item())
    finally:
        model.train(was_training)
    return float(sum(losses) / len(losses))


@torch.no_grad()
def evaluate_split(
    model: nn.Module, ids: Tensor, block_size: int, batch_size: int = 64, precision: str = "fp32"
) -> float:
    """Mean loss (nats per character) over a whole split: every token of ``ids`` but the first is predicted exactly
    once. The split is cut into non-overlapping windows of ``block_size`` inputs, ``x = ids[s : s + T]`` and
    ``y = ids[s + 1 : s + T + 1]`` for ``s = 0, T, 2T, …``, plus the shorter window the remainder leaves; each
    prediction sees the context since the start of its window (as in training). The mean is over tokens (the
    short window counts by its length), computed ``batch_size`` windows at a time in eval mode (no dropout), the
    model running as its config says. ``evaluate`` on a few fixed windows is the cheap estimate a run prints; this
    is the number to compare runs by."""
    if not isinstance(ids, Tensor) or ids.dim() != 1:
        raise ValueError(f"ids must be a 1-D tensor of token ids, got {type(ids).__name__} {getattr(ids, 'shape', '')}")
    if ids.dtype.is_floating_point or ids.dtype.is_complex or ids.dtype == torch.bool:
        raise TypeError(f"ids must hold integer token ids, got dtype {ids.dtype}")
    for name, val in (("block_size", block_size), ("batch_size", batch_size)):
        if isinstance(val, bool) or not isinstance(val, int) or val < 1:
            raise ValueError(f"{name} must be an int >= 1, got {val!r}")
    n = ids.numel() - 1  # predicted tokens
    if n < 1:
        raise ValueError(f"ids must hold at least 2 tokens, got {ids.numel()}")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    ids = ids.long()

    def summed(x: Tensor, y: Tensor) -> float:
        with autocast_context(device, precision):
            logits, _ = model(x.to(device))
        logits = logits.float() if logits.dtype in (torch.float16, torch.bfloat16) else logits
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.to(device).reshape(-1), reduction="sum").item()

    try:
        full, total = n // block_size, 0.0
        offsets = torch.arange(block_size + 1)
        for first in range(0, full, batch_size):
            starts = torch.arange(first, min(first + batch_size, full)) * block_size
            chunk = ids[starts[:, None] + offsets[None, :]]
            total += summed(chunk[:, :-1], chunk[:, 1:])
        if full * block_size < n:
            tail = ids[full * block_size :]
            total += summed(tail[None, :-1], tail[None, 1:])
    finally:
        model.train(was_training)
    return total / n


# ----------------------------------------------------------------------------------------------------------
# the runner
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


def _saved_run(ckpt_path: Path, cfg: TrainConfig) -> dict:
    """The checkpoint to resume from; ``cfg`` must equal its config except for device, threads and out_dir."""
    ckpt = load_checkpoint(ckpt_path)
    saved = TrainConfig(**ckpt["config"])
    differs = [
        f.name
        for f in dataclasses.fields(TrainConfig)
        if f.name not in ("device", "threads", "out_dir") and getattr(saved, f.name) != getattr(cfg, f.name)
    ]
    if differs:
        raise ValueError(f"resume continues the saved run with its own config; these fields differ from it: {differs}")
    return ckpt


def _eval_line(step: int, metrics, recent: float | None, seconds: float) -> str:
    line = f"step {step:>6}: train {metrics[0]:.4f}  val {metrics[1]:.4f}"
    return line if step == 0 else line + f"  ({seconds:.0f} s)"


def train(
    cfg: TrainConfig,
    resume: bool = False,
    progress: bool = True,
    out_dir: str | Path | None = None,
    loss_hook=None,
    command: str | None = None,
    data=None,
) -> TrainResult:
    """Train ``cfg.model`` on the corpus with ``loop.fit`` and return a ``TrainResult``.

    ``out_dir`` (default ``cfg.out_dir``; none = no files): where ``checkpoint.pt`` (every
    ``checkpoint_interval`` steps and at the end) and ``log.json`` (the loss curve, rewritten at every checkpoint)
    go. ``resume=True`` continues from ``out_dir/checkpoint.pt`` with the config saved in it (``cfg`` must then
    equal it, except for ``device``/``threads``). ``progress`` shows a tqdm bar (loss, tokens/s).
    ``loss_hook(step, loss) -> loss`` lets a test or an experiment alter the loss before the update (e.g. inject
    a NaN). ``data``: an optional (tokenizer, train_ids, val_ids) to skip loading the corpus again. Under torchrun
    every process runs this with the same arguments (see ``loop``: each trains on its share of every batch).

    Raises ``TrainingDiverged`` if the loss or gradient norm becomes NaN/inf (the last checkpoint is kept).
    """
    if not isinstance(cfg, TrainConfig):
        raise TypeError(f"cfg must be a TrainConfig, got {type(cfg).__name__}")
    out = Path(out_dir) if out_dir is not None else (Path(cfg.out_dir) if cfg.out_dir else None)
    ckpt_path = out / CHECKPOINT_NAME if out is not None else None
    if resume and ckpt_path is None:
        raise ValueError("resume=True needs an out_dir holding a checkpoint")
    ckpt = _saved_run(ckpt_path, cfg) if resume else None
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = init_distributed(get_device(None if cfg.device == "auto" else cfg.device)).device
    precision = resolve_precision(cfg.precision, device)

    tokenizer, train_ids, val_ids = data if data is not None else prepare_data(cfg)
    if ckpt is not None and CharTokenizer.from_dict(ckpt["tokenizer"]) != tokenizer:
        raise ValueError("the checkpoint's vocabulary differs from the corpus's")
    eval_sets = [
        fixed_batches(ids, cfg.eval_batches, cfg.batch_size, cfg.block_size, cfg.eval_seed, device)
        for ids in (train_ids, val_ids)
    ]
    seed_everything(cfg.seed)
    model = build_model(cfg, tokenizer.vocab_size).to(device)
    sampler = torch.Generator().manual_seed(cfg.seed)
    model_record = {
        "kind": model.kind,
        "config": model.config.to_dict(),
        "parameters": model.num_parameters(),
        "parameters_without_embeddings": model.num_parameters(exclude_embeddings=True),
    }
    data_record = {
        "vocab_size": tokenizer.vocab_size,
        "train_tokens": int(train_ids.numel()),
        "val_tokens": int(val_ids.numel()),
    }
    fitted = fit(
        model,
        Recipe(
            cfg.max_steps, cfg.lr, cfg.min_lr, cfg.warmup_steps, cfg.weight_decay, (cfg.beta1, cfg.beta2), cfg.grad_clip
        ),
        batches=lambda step: random_batch(train_ids, cfg.batch_size, cfg.block_size, sampler),
        loss_fn=lambda m, batch: lm_loss(m, *batch),
        sampler=sampler,
        device=device,
        precision=precision,
        evaluate=lambda: [evaluate(model, batches, precision) for batches in eval_sets],
        eval_interval=cfg.eval_interval,
        eval_line=_eval_line,
        log_interval=cfg.log_interval,
        tokens_per_step=cfg.tokens_per_step,
        checkpoint=ckpt_path,
        checkpoint_interval=cfg.checkpoint_interval,
        checkpoint_extra={
            "config": cfg.to_dict(),
            "model_kind": model.kind,
            "model_config": model.config.to_dict(),
            "tokenizer": tokenizer.to_dict(),
        },
        log=out / LOG_NAME if out is not None else None,
        record=provenance(command, cfg.to_dict(), device, precision, model=model_record, data=data_record),
        resume=ckpt,
        loss_hook=loss_hook,
        progress=progress,
        desc=f"{model.kind} ({cfg.name})",
        advice=ADVICE,
    )
    return TrainResult(model, tokenizer, cfg, fitted.history, device, precision, ckpt_path)


# ----------------------------------------------------------------------------------------------------------
# sampling
# ----------------------------------------------------------------------------------------------------------
def load_model(checkpoint: str | Path, device: str | torch.device | None = None) -> tuple[TokenLM, CharTokenizer, dict]:
    """The model (eval mode), its tokenizer and the whole checkpoint dict, from a training checkpoint
    (``FileNotFoundError`` if it is missing, ``loop.CheckpointError`` if it is damaged)."""
    ckpt = load_checkpoint(checkpoint)
    model = build_lm(ckpt["model_kind"], ckpt["model_config"])
    model.load_state_dict(ckpt["model"])
    dev = (
        get_device(None if device in (None, "auto") else str(device))
        if not isinstance(device, torch.device)
        else device
    )
    return model.to(dev).eval(), CharTokenizer.from_dict(ckpt["tokenizer"]), ckpt


def sample_text(
    model: TokenLM,
    tokenizer: CharTokenizer,
    prompt: str,
    max_new_tokens: int = 500,
    temperature: float = 0.8,
    top_k: int | None = None,
    seed: int = 0,
) -> str:
    """Prompt + ``max_new_tokens`` sampled characters, with the model's default decoding (``generate``: RetNet in
    recurrent mode, an O(1) state per token; the Transformer with its KV cache). ``seed`` makes the draw
    reproducible."""
    if not isinstance(prompt, str) or not prompt:
        raise ValueError("prompt must be a non-empty string")
    device = next(model.parameters()).device
    ids = tokenizer.encode(prompt).to(device)
    gen = torch.Generator(device=device).manual_seed(int(seed))
    out = model.generate(ids, max_new_tokens, temperature=temperature, top_k=top_k, generator=gen)
    return tokenizer.decode(out.cpu())


# ----------------------------------------------------------------------------------------------------------
# command line
# ----------------------------------------------------------------------------------------------------------
def _train_parser() -> argparse.ArgumentParser:
    ap = runner_parser(
        "retnet_edu.experiments.train",
        "Train RetNet or the equal-size Transformer on the course's Shakespeare corpus. "
        "Use `python -m retnet_edu.experiments.train sample --help` to generate text from a checkpoint.",
    )
    ap.add_argument("--config", default="cpu", choices=sorted(CONFIGS), help="named config to start from")
    ap.add_argument("--resume", action="store_true", help="continue the run saved in --out-dir exactly")
    ap.add_argument("--overwrite", action="store_true", help="start afresh even if --out-dir holds a checkpoint")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar (logs still go to --out-dir)")
    ap.add_argument("--print-config", action="store_true", help="print the resolved config and sizes, then exit")
    add_config_flags(ap, TrainConfig, "override the config's {name}", skip=("name",))
    return ap


def _sample_parser() -> argparse.ArgumentParser:
    ap = runner_parser(
        "retnet_edu.experiments.train sample",
        "Generate text from a checkpoint (RetNet: recurrent mode; Transformer: KV cache).",
    )
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
    overrides = config_overrides(ns, TrainConfig)
    cfg = get_config(ns.config, **overrides)
    if not cfg.out_dir:
        cfg = dataclasses.replace(cfg, out_dir=str(Path("runs") / f"{cfg.name}-{cfg.model}"))
    return cfg, ns, overrides


def _error(message: str, code: int = 2) -> int:
    """One line on stderr (from process 0 only under torchrun) and the exit code."""
    if os.environ.get("RANK", "0") == "0":
        print(f"error: {message}", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "sample":
        ns = _sample_parser().parse_args(argv[1:])
        try:
            model, tok, _ = load_model(ns.checkpoint, ns.device)
        except FileNotFoundError:
            return _error(
                f"no checkpoint at {ns.checkpoint}: point --checkpoint at a checkpoint.pt written by training"
            )
        except CheckpointError as err:
            return _error(f"{err}; delete it and start a new run, or point --checkpoint at another file")
        try:
            text = sample_text(model, tok, ns.prompt, ns.max_new_tokens, ns.temperature, ns.top_k or None, ns.seed)
        except ValueError as err:
            return _error(str(err))
        print(text)
        return 0
    if argv and argv[0] == "train":
        argv = argv[1:]
    try:
        cfg, ns, overrides = parse_train_args(argv)
    except (ValueError, TypeError) as err:
        return _error(str(err))
    out = Path(cfg.out_dir)
    if ns.print_config:
        retnet, transformer = model_configs(cfg, vocab_size=_vocab_size_for(cfg))
        print(
            json.dumps(
                {"config": cfg.to_dict(), "retnet": retnet.to_dict(), "transformer": transformer.to_dict()}, indent=1
            )
        )
        return 0
    if ns.resume:
        try:
            saved = TrainConfig(**load_checkpoint(out / CHECKPOINT_NAME)["config"])
        except FileNotFoundError:
            return _error(
                f"--resume but there is no checkpoint at {out / CHECKPOINT_NAME}: start a new run without "
                f"--resume, or point --out-dir at the run to continue"
            )
        except CheckpointError as err:
            return _error(f"{err}; delete it and start a new run, or point --out-dir at another run")
        extra = sorted(set(overrides) - {"device", "threads", "out_dir"})
        if extra:
            return _error(f"--resume continues the saved run with its saved config; drop {extra}")
        cfg = dataclasses.replace(
            saved,
            device=cfg.device if "device" in overrides else saved.device,
            threads=cfg.threads if "threads" in overrides else saved.threads,
            out_dir=cfg.out_dir,
        )
    elif (out / CHECKPOINT_NAME).exists() and not ns.overwrite:
        return _error(
            f"{out} already holds a checkpoint: pass --resume to continue it, --overwrite to start afresh, "
            f"or --out-dir for a new run"
        )
    command = "python -m retnet_edu.experiments.train " + " ".join(argv)
    try:
        result = train(cfg, resume=ns.resume, progress=not ns.no_progress, command=command)
    except TrainingDiverged as err:
        return _error(str(err), 3)
    finally:
        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
    last = result.history["eval"][-1]
    if os.environ.get("RANK", "0") == "0":
        print(
            f"done: {cfg.model} step {last[0]}: train loss {last[1]:.4f}, val loss {last[2]:.4f} nats/char, "
            f"{result.history['train_seconds']:.1f} s of training; checkpoint {result.checkpoint}"
        )
    return 0


def _vocab_size_for(cfg: TrainConfig) -> int:
    return prepare_data(cfg)[0].vocab_size


if __name__ == "__main__":
    sys.exit(main())
