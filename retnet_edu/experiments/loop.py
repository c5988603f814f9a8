"""The one training loop of the package: every trainer (the language-model trainer ``experiments.train``, the
long-range runner ``experiments.lra``, any later sweep) builds its data, its model and its evaluation, then calls
``fit``. What ``fit`` does, in this order, at every step:

1. **batch**: ``batches(step)`` returns the *global* batch (tensors whose first dimension is the batch), drawn from
   the run's shared sampler; the process takes its share (all of it when it runs alone) and moves it to the device;
2. **loss**: ``loss_fn(model, batch)`` under ``autocast_context`` (bf16 or fp32); ``loss_hook(step, loss)`` may
   alter it (tests inject a NaN this way);
3. **divergence check**, the only one in the package: a NaN/inf loss (averaged over the processes), or after the
   backward pass a NaN/inf gradient norm, stops the run *before the update* with ``TrainingDiverged``. The message
   names the step, the value and the last good checkpoint (kept as it was: nothing is written after the bad step),
   or says that none was written yet; the log records ``status = "diverged"`` and the message. Nothing is retried;
4. **update**: backward, gradient clipping (``grad_clip``; 0 = none, the norm is still checked), one optimiser step
   (AdamW, ``configure_optimizer``), one scheduler step (warm-up then cosine, ``lr_at``);
5. **record**: every ``log_interval`` steps a row ``[step, mean loss since the last row, learning rate, tokens/s]``
   in ``history["train"]``; every ``eval_interval`` steps (and at step 0 and at the end) ``evaluate()`` gives
   metrics, stored as ``[step, *metrics, training seconds]`` in ``history["eval"]``; every
   ``checkpoint_interval`` steps (and at the end) an atomic checkpoint (model, optimiser, scheduler, every RNG
   state, history, step, plus what the caller adds) and the log (provenance + history) are written.

**Exact resume.** ``fit(..., resume=load_checkpoint(path))`` restores the model, optimiser, scheduler, history and
every random generator (Python, NumPy, torch CPU/CUDA and the batch sampler), so that on the CPU the resumed run
ends bit-identical to an uninterrupted one. Batches must come from ``sampler`` (or depend on the step alone, as
``EpochSampler``'s do).

**Several processes** (``torchrun --nproc_per_node N ...``): with ``WORLD_SIZE > 1`` in the environment, ``fit``
joins the process group (``init_distributed``: gloo on the CPU, nccl on CUDA, one GPU per process) and wraps the
model in ``DistributedDataParallel``. Every process holds the same sampler state and draws the same global batch;
process r trains on rows ``[r·B/N, (r+1)·B/N)`` of it, and DDP averages the gradients. So an N-process run sees the
batches of a 1-process run with the same global batch size, and its losses are the 1-process losses up to float32
rounding (the loss of a step is averaged over the processes before it is logged or checked). The global batch size
must be divisible by N. Dropout (when the config has any) draws the same random masks in every process for its
own rows, so that run is not the 1-process run draw for draw. Every process evaluates (the copies are identical,
so the numbers are too); process 0 alone writes checkpoints and the log and shows the progress bar; a resumed run
restores process 0's random state in every process.
"""

from __future__ import annotations

import contextlib
import json
import math
import numbers
import os
import pickle
import random
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn

__all__ = [
    "PRECISIONS",
    "CHECKPOINT_FORMAT",
    "TrainingDiverged",
    "CheckpointError",
    "Recipe",
    "FitResult",
    "Distributed",
    "lr_at",
    "make_scheduler",
    "weight_decay_groups",
    "configure_optimizer",
    "resolve_precision",
    "autocast_context",
    "capture_rng_state",
    "restore_rng_state",
    "save_checkpoint",
    "load_checkpoint",
    "write_json_atomic",
    "provenance",
    "init_distributed",
    "EpochSampler",
    "fit",
]

PRECISIONS = ("auto", "fp32", "bf16")
CHECKPOINT_FORMAT = 1
DEFAULT_ADVICE = "Try a lower --lr or a smaller --grad-clip, and start a new run."


class TrainingDiverged(RuntimeError):
    """The loss (or the gradient norm) stopped being a finite number; the run stopped before the update and the
    last good checkpoint is kept."""


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used: truncated, not a checkpoint at all, or of another format. The
    message names the file and what is wrong with it."""


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


def make_scheduler(
    optimizer: torch.optim.Optimizer, lr: float, min_lr: float, warmup_steps: int, max_steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """A ``LambdaLR`` that sets the learning rate of step s to ``lr_at(s, …)`` (its ``step`` is called once after
    each optimiser step). The optimiser's base learning rate must be ``lr``."""
    for group in optimizer.param_groups:
        if not math.isclose(group.get("initial_lr", group["lr"]), lr):
            raise ValueError(f"the optimiser's learning rate {group['lr']} is not lr={lr}")
    return torch.optim.lr_scheduler.LambdaLR(optimizer, _LRFactor(lr, min_lr, warmup_steps, max_steps))


def weight_decay_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """The default parameter groups: weight decay on matrices (projections, embeddings), none on vectors (norm
    gains, biases), as in GPT-2/nanoGPT. A trainer that needs other groups (e.g. Hyena's filter MLP on its own)
    passes its own function of the same signature as ``param_groups``."""
    params = [p for p in model.parameters() if p.requires_grad]
    return [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]


def configure_optimizer(
    model: nn.Module,
    lr: float,
    weight_decay: float = 0.1,
    betas: tuple[float, float] = (0.9, 0.99),
    param_groups: Callable[[nn.Module, float], list[dict]] | None = None,
) -> torch.optim.AdamW:
    """AdamW over ``param_groups(model, weight_decay)`` (default ``weight_decay_groups``: decay on matrices only)."""
    return torch.optim.AdamW((param_groups or weight_decay_groups)(model, weight_decay), lr=lr, betas=betas)


@dataclass(frozen=True)
class Recipe:
    """The optimisation recipe of a run: AdamW (``weight_decay``, ``betas``), the schedule (``lr_at``: ``warmup_steps``
    linear steps up to ``lr``, a cosine down to ``min_lr`` at ``max_steps``) and gradient clipping at ``grad_clip``
    (0 = none)."""

    max_steps: int
    lr: float
    min_lr: float
    warmup_steps: int
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.99)
    grad_clip: float = 1.0


# ----------------------------------------------------------------------------------------------------------
# precision and random state
# ----------------------------------------------------------------------------------------------------------
def resolve_precision(precision: str, device: torch.device) -> str:
    """ "auto" → "bf16" on a CUDA device that supports bfloat16, else "fp32". "bf16" on a CUDA device without
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
        "numpy": {
            "name": name,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
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
    np.random.set_state(
        (n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"])
    )
    torch.set_rng_state(state["torch_cpu"])
    if state.get("torch_cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["torch_cuda"])
    if sampler is not None:
        if "sampler" not in state:
            raise ValueError("the saved RNG state has no batch-sampler state")
        sampler.set_state(state["sampler"])


def _tuplify(x):
    return tuple(_tuplify(i) for i in x) if isinstance(x, (list, tuple)) else x


class EpochSampler:
    """Batches of indices into a fixed set of ``size`` examples, epoch after epoch: each epoch is a fresh random
    permutation (``torch.randperm`` from one generator seeded with ``seed``) cut into ``size // batch_size``
    batches, the remainder skipped (a batch larger than the set takes a whole fresh permutation every step).
    ``sampler(step)`` depends on the step alone, so a resumed run draws what the uninterrupted run drew."""

    def __init__(self, size: int, batch_size: int, seed: int):
        for name, val in (("size", size), ("batch_size", batch_size)):
            if isinstance(val, bool) or not isinstance(val, numbers.Integral) or val < 1:
                raise ValueError(f"{name} must be an int >= 1, got {val!r}")
        self.size, self.batch_size, self.seed = int(size), int(batch_size), int(seed)
        self.per_epoch = self.size // self.batch_size
        self._generator, self._drawn, self._perm = None, -1, None

    def __call__(self, step: int) -> Tensor:
        draw, j = (step // self.per_epoch, step % self.per_epoch) if self.per_epoch else (step + 1, 0)
        if self._generator is None or draw < self._drawn:  # start over (a resumed or earlier step)
            self._generator, self._drawn = torch.Generator().manual_seed(self.seed), -1
        while self._drawn < draw:
            self._perm = torch.randperm(self.size, generator=self._generator)
            self._drawn += 1
        return self._perm[j * self.batch_size : (j + 1) * self.batch_size]


# ----------------------------------------------------------------------------------------------------------
# files: checkpoints, logs, provenance
# ----------------------------------------------------------------------------------------------------------
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
    """Load a checkpoint written by ``save_checkpoint`` (``weights_only=True``: no arbitrary code runs).

    A missing file raises ``FileNotFoundError``; a file that ``torch.load`` cannot read (truncated, garbage) or
    that is not a checkpoint of this format raises ``CheckpointError``; both messages name the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except (
        RuntimeError,
        EOFError,
        ValueError,
        KeyError,
        TypeError,
        IndexError,
        AttributeError,
        ImportError,
        OSError,
        pickle.UnpicklingError,
    ) as err:
        raise CheckpointError(f"{path} is truncated or not a checkpoint ({_unreadable_reason(path, err)})") from err
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not a retnet_edu training checkpoint (format {CHECKPOINT_FORMAT})")
    return ckpt


def _unreadable_reason(path: Path, err: Exception) -> str:
    """One short line on why ``torch.load`` failed: empty, not a zip archive, or torch's first sentence."""
    with open(path, "rb") as fh:
        head = fh.read(4)
    if not head:
        return "the file is empty"
    if head != b"PK\x03\x04":
        return "not a zip archive written by torch.save"
    first = " ".join(str(err).split()).split(". ")[0].rstrip(".")  # one line: the first sentence
    reason = f"{type(err).__name__}: {first}" if first else type(err).__name__
    return reason if len(reason) <= 120 else reason[:117] + "..."


def write_json_atomic(path: str | Path, obj: dict) -> None:
    """``obj`` as indented JSON, written to a temporary file and renamed over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(obj, indent=1) + "\n")
    os.replace(tmp, path)


def provenance(command: str, config: dict, device: torch.device, precision: str, **more) -> dict:
    """What a run's log starts with: the command, the config, the caller's ``more`` (model, data sizes, …), the
    device, the precision, the torch version and the number of CPU threads (and the number of processes when
    there is more than one)."""
    record = {
        "command": command or "",
        "config": config,
        **more,
        "device": device.type,
        "precision": precision,
        "torch": torch.__version__.split("+")[0],
        "threads": torch.get_num_threads(),
    }
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world > 1:
        record["processes"] = world
    return record


# ----------------------------------------------------------------------------------------------------------
# several processes
# ----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Distributed:
    """This process's place in a run: ``rank`` of ``world_size`` processes, ``local_rank`` on its machine, and the
    ``device`` it trains on. One process alone: rank 0 of 1."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        """Process 0: the one that writes checkpoints and logs and shows the progress bar."""
        return self.rank == 0


def init_distributed(device: torch.device) -> Distributed:
    """This process's place, from torchrun's environment (``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``, ``MASTER_ADDR``,
    ``MASTER_PORT``). With ``WORLD_SIZE > 1`` it joins the process group once (backend gloo on the CPU, nccl on
    CUDA) and a CUDA process trains on ``cuda:LOCAL_RANK``. Without it: rank 0 of 1 on ``device``."""
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world <= 1:
        return Distributed(device=device)
    if not dist.is_available():
        raise RuntimeError("WORLD_SIZE > 1 but this torch build has no torch.distributed")
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    elif device.type != "cpu":
        raise ValueError(f"several processes need CUDA or the CPU, got device {device.type!r}")
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    if dist.get_world_size() != world:
        raise RuntimeError(f"the process group has {dist.get_world_size()} processes, WORLD_SIZE says {world}")
    return Distributed(rank=dist.get_rank(), world_size=world, local_rank=local, device=device)


def _share(batch: Sequence[Tensor], place: Distributed, device: torch.device) -> tuple[Tensor, ...]:
    """This process's rows of the global batch, on ``device``."""
    if place.world_size > 1:
        size = batch[0].shape[0]
        if size % place.world_size:
            raise ValueError(f"the global batch of {size} does not split into {place.world_size} equal shares")
        n = size // place.world_size
        batch = [t[place.rank * n : (place.rank + 1) * n] for t in batch]
    return tuple(t.to(device) for t in batch)


def _mean_over_processes(loss: Tensor, place: Distributed) -> float:
    if place.world_size == 1:
        return loss.item()
    total = loss.detach().float().clone()
    dist.all_reduce(total)
    return (total / place.world_size).item()


# ----------------------------------------------------------------------------------------------------------
# the loop
# ----------------------------------------------------------------------------------------------------------
@dataclass
class FitResult:
    """What ``fit`` returns: the (unwrapped) model, its optimiser and scheduler, the history
    (``"train"`` and ``"eval"`` rows, ``train_seconds``: optimisation steps only, ``wall_seconds``: everything
    since the first start, ``resumed_at``, ``status``, ``message``), the number of steps done, where the
    checkpoint is (None: none written) and this process's place."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    history: dict
    step: int
    checkpoint: Path | None
    place: Distributed


def _new_history() -> dict:
    return {
        "train": [],
        "eval": [],
        "train_seconds": 0.0,
        "wall_seconds": 0.0,
        "resumed_at": [],
        "status": "running",
        "message": "",
    }


def _fmt_rate(x: float) -> str:
    return f"{x / 1000:.1f}k" if x >= 1000 else f"{x:.0f}"


def _diverged_message(
    what: str, value: float, step: int, ckpt_path: Path | None, last_good: int | None, advice: str
) -> str:
    msg = f"the {what} became {value} at step {step}: training stopped before the update. "
    if ckpt_path is not None and last_good is not None:
        msg += f"The last good checkpoint (step {last_good}) is kept at {ckpt_path}. "
    else:
        msg += "No checkpoint had been written yet. "
    return msg + advice


def fit(
    model: nn.Module,
    recipe: Recipe,
    batches: Callable[[int], Sequence[Tensor]],
    loss_fn: Callable[[nn.Module, tuple[Tensor, ...]], Tensor],
    *,
    sampler: torch.Generator | None = None,
    param_groups: Callable[[nn.Module, float], list[dict]] | None = None,
    device: torch.device | None = None,
    precision: str = "fp32",
    evaluate: Callable[[], Sequence[float]] | None = None,
    eval_interval: int = 0,
    eval_line: Callable[[int, Sequence[float], float | None, float], str | None] | None = None,
    log_interval: int = 1,
    tokens_per_step: int = 0,
    checkpoint: str | Path | None = None,
    checkpoint_interval: int = 0,
    checkpoint_extra: dict | None = None,
    log: str | Path | None = None,
    record: dict | None = None,
    resume: dict | None = None,
    loss_hook: Callable[[int, Tensor], Tensor] | None = None,
    progress: bool = False,
    desc: str = "",
    advice: str = DEFAULT_ADVICE,
) -> FitResult:
    """Train ``model`` (already on ``device``, initialised) for ``recipe.max_steps`` steps; see the module
    docstring for what happens at each step, on divergence, on resume and with several processes.

    - ``batches(step)``: the global batch of ``step`` (a tuple of tensors, batch first), drawn from ``sampler``
      (saved and restored with the RNG state) or from the step alone; ``loss_fn(model, batch)``: the scalar loss
      of this process's share (``model`` is then the DDP wrapper);
    - ``param_groups(model, weight_decay)``: the optimiser's parameter groups (default ``weight_decay_groups``);
    - ``evaluate()``: the metrics of the model as it stands (it sets eval mode itself), every ``eval_interval``
      steps, at step 0 of a fresh run and at the end; ``eval_line(step, metrics, mean loss since the previous
      evaluation or None, training seconds)``: the line to print under the progress bar (None: no line);
    - ``log_interval``/``tokens_per_step``: the training-loss rows (and the tokens/s they report);
    - ``checkpoint``/``checkpoint_interval``/``checkpoint_extra``: where (None: nowhere), how often, and what else
      to store (config, tokenizer, …); ``log``/``record``: the JSON log (``record`` + ``history``, see
      ``provenance``), rewritten at each checkpoint and at the end;
    - ``resume``: a checkpoint dict from ``load_checkpoint`` to continue exactly;
    - ``loss_hook(step, loss) -> loss``: alters the loss before the update (tests, experiments);
    - ``progress``/``desc``: a tqdm bar (process 0 only); ``advice``: the end of the divergence message.

    Raises ``TrainingDiverged`` (see above). Any other exception leaves the last checkpoint and log as they were.
    """
    intervals = {"log_interval": log_interval}
    if evaluate is not None:
        intervals["eval_interval"] = eval_interval
    if checkpoint is not None:
        intervals["checkpoint_interval"] = checkpoint_interval
    for name, val in intervals.items():
        if isinstance(val, bool) or not isinstance(val, numbers.Integral) or val < 1:
            raise ValueError(f"{name} must be an int >= 1, got {val!r}")
    device = device if device is not None else next(model.parameters()).device
    place = init_distributed(device)
    ckpt_path = Path(checkpoint) if checkpoint is not None else None
    log_path = Path(log) if log is not None else None
    if place.is_main and ckpt_path is not None and ckpt_path.parent.is_dir():
        for stale in ckpt_path.parent.glob(f".{ckpt_path.name}.tmp-*"):  # left by a process killed while writing
            stale.unlink(missing_ok=True)

    optimizer = configure_optimizer(model, recipe.lr, recipe.weight_decay, recipe.betas, param_groups)
    scheduler = make_scheduler(optimizer, recipe.lr, recipe.min_lr, recipe.warmup_steps, recipe.max_steps)
    history, start = _new_history(), 0
    if resume is not None:
        model.load_state_dict(resume["model"])
        optimizer.load_state_dict(resume["optimizer"])
        scheduler.load_state_dict(resume["scheduler"])
        restore_rng_state(resume["rng"], sampler)
        history, start = resume["history"], int(resume["step"])
        history["resumed_at"] = list(history["resumed_at"]) + [start]
        history["status"] = "running"
    last_good = start if resume is not None else None
    train_model = model
    if place.world_size > 1:
        ids = [place.device.index] if place.device.type == "cuda" else None
        train_model = nn.parallel.DistributedDataParallel(model, device_ids=ids)

    wall_start, wall_before = time.perf_counter(), float(history.get("wall_seconds", 0.0))

    def tick():
        history["wall_seconds"] = round(wall_before + time.perf_counter() - wall_start, 3)

    def write_log():
        tick()
        if log_path is not None and place.is_main:
            write_json_atomic(log_path, {**(record or {}), "history": history})

    def run_eval(step: int, seconds: float, recent: float | None):
        metrics = [float(m) for m in evaluate()]
        history["eval"].append([step, *metrics, round(seconds, 3)])
        line = eval_line(step, metrics, recent, seconds) if eval_line is not None else None
        if bar is not None and line:
            bar.write(line)

    bar = None
    if progress and place.is_main:
        from tqdm.auto import tqdm

        bar = tqdm(total=recipe.max_steps, initial=start, desc=desc, unit="step", dynamic_ncols=True)
    seconds = float(history["train_seconds"])
    window_loss, window_tokens, window_time, window_steps = 0.0, 0, 0.0, 0
    since_eval, since_eval_steps = 0.0, 0
    try:
        if start == 0 and evaluate is not None:
            run_eval(0, 0.0, None)
        model.train()
        for step in range(start, recipe.max_steps):
            t0 = time.perf_counter()
            batch = _share(batches(step), place, device)
            with autocast_context(device, precision):
                loss = loss_fn(train_model, batch)
            if loss_hook is not None:
                loss = loss_hook(step, loss)
            value = _mean_over_processes(loss, place)
            if not math.isfinite(value):
                raise TrainingDiverged(_diverged_message("loss", value, step, ckpt_path, last_good, advice))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            gnorm = nn.utils.clip_grad_norm_(model.parameters(), recipe.grad_clip if recipe.grad_clip > 0 else math.inf)
            if not math.isfinite(gnorm.item()):
                raise TrainingDiverged(
                    _diverged_message("gradient norm", gnorm.item(), step, ckpt_path, last_good, advice)
                )
            lr = optimizer.param_groups[0]["lr"]
            optimizer.step()
            scheduler.step()
            dt = time.perf_counter() - t0
            seconds += dt
            done = step + 1
            window_loss, window_tokens = window_loss + value, window_tokens + tokens_per_step
            window_time, window_steps = window_time + dt, window_steps + 1
            since_eval, since_eval_steps = since_eval + value, since_eval_steps + 1
            if done % log_interval == 0 or done == recipe.max_steps:
                rate = window_tokens / window_time if window_time > 0 else 0.0
                history["train"].append([done, window_loss / window_steps, lr, round(rate, 1)])
                if bar is not None:
                    bar.set_postfix_str(f"loss {window_loss / window_steps:.3f}, {_fmt_rate(rate)} tok/s")
                window_loss, window_tokens, window_time, window_steps = 0.0, 0, 0.0, 0
            history["train_seconds"] = seconds
            if evaluate is not None and (done % eval_interval == 0 or done == recipe.max_steps):
                run_eval(done, seconds, since_eval / since_eval_steps)
                since_eval, since_eval_steps = 0.0, 0
            if ckpt_path is not None and (done % checkpoint_interval == 0 or done == recipe.max_steps):
                if done == recipe.max_steps:
                    history["status"] = "finished"
                tick()
                if place.is_main:
                    save_checkpoint(
                        ckpt_path,
                        {
                            **(checkpoint_extra or {}),
                            "format": CHECKPOINT_FORMAT,
                            "step": done,
                            "model": model.state_dict(),
                            "optimizer": optimizer.state_dict(),
                            "scheduler": scheduler.state_dict(),
                            "rng": capture_rng_state(sampler),
                            "history": history,
                        },
                    )
                last_good = done
                write_log()
            if bar is not None:
                bar.update(1)
    except TrainingDiverged as err:
        history["status"], history["message"] = "diverged", str(err)
        write_log()
        raise
    finally:
        if bar is not None:
            bar.close()
    history["status"] = "finished"
    write_log()  # also sets wall_seconds: training, evaluation and checkpoints, since the (first) start
    return FitResult(model, optimizer, scheduler, history, recipe.max_steps, ckpt_path, place)
