"""mini-LRA: RetNet, RetNet γ = 1 (linear attention), the Transformer and Hyena on generated long-range tasks, at
an equal budget.

Command line (``python -m retnet_edu.experiments.lra --help``)::

    python -m retnet_edu.experiments.lra --task mqar --model hyena --seed 0 --length 128      # one run → JSON result
    python -m retnet_edu.experiments.lra --task listops --model retnet --seed 1 --length 256 --out results/x.json
    python -m retnet_edu.experiments.lra --print-sizes --task listops --length 256            # the four models' sizes
    python -m retnet_edu.experiments.lra summarize benchmarks/mini_lra/results     # best-lr and mean ± std tables

The four models (``MODELS``) share everything but the token mixer: token embedding, pre-norm RMSNorm blocks, the
gated feed-forward, a final RMSNorm and the untied LM head. Their parameter counts are matched to the RetNet's
within ±5 % by giving each its own feed-forward width (``model_configs``):

- ``retnet``: multi-scale retention with the paper's LM decays (γ such that 1/(1-γ) runs from 32 to 512, §3.1);
- ``linear``: the same module with γ = 1 (``RetNetConfig(decay="none")``): "RetNet γ = 1", an unnormalised linear
  attention that keeps RetNet's rotation, group norm and gate and forgets nothing. It is *not* the "linear
  Transformer" of the LRA tables (Katharopoulos et al.: a feature map elu+1 and a normalising denominator);
- ``transformer``: causal softmax attention with the same rotary positions (``retnet_edu.baselines.transformer``);
- ``hyena``: the order-2 Hyena operator (``retnet_edu.baselines.hyena``).

Every model answers through the same head: the next-token logits at the scored positions, restricted to the task's
answer tokens (``retnet_edu.experiments.tasks``). One training recipe for all, run by the package's one training loop
(``retnet_edu.experiments.loop.fit``: AdamW with weight decay on matrices, linear warm-up then cosine, gradient
clipping, the divergence check, seeded everything). Hyena's implicit filter (the filter MLP and its sin
frequencies) is an optimiser group of its own with weight decay ``filter_weight_decay`` (0, as in the reference
code, HazyResearch/safari ``HyenaFilter``), through the loop's ``param_groups`` (``lra_param_groups``); its decay
window has no trainable parameter here. The learning rate is one per run; ``benchmarks/mini_lra/sweep.py`` sweeps
it per model and ``best_lr`` picks each model's best (Zoology's protocol). The data are fixed per task and length
(``data_seed``), the run's ``seed`` sets the initialisation and the batch order (a fresh permutation of the
training set per epoch). A result JSON holds ``model``, ``lr`` and ``seed`` at the top, the config, the parameter
count, the data's class balance, the loss and accuracy curve, the final test accuracy and the training time.
"""

from __future__ import annotations

import dataclasses
import functools
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from retnet_edu._args import check_fields, check_schedule
from retnet_edu.baselines.hyena import ImplicitFilter, matched_hyena_config
from retnet_edu.baselines.transformer import matched_transformer_config
from retnet_edu.experiments import runner
from retnet_edu.experiments.loop import (
    EpochSampler,
    FitResult,
    Recipe,
    TrainingDiverged,  # noqa: F401 (lra.TrainingDiverged, as before)
    fit,
    init_distributed,
)
from retnet_edu.experiments.runner import load_results
from retnet_edu.experiments.runtime import get_device, seed_everything
from retnet_edu.experiments.tasks import IGNORE, TaskData, class_balance, mini_listops, mqar
from retnet_edu.lm import TokenLM
from retnet_edu.model import RetNetConfig

__all__ = [
    "MODELS",
    "TASKS",
    "PRESETS",
    "LRAConfig",
    "get_lra_config",
    "task_data",
    "model_configs",
    "build_task_model",
    "task_logits",
    "task_loss",
    "evaluate_task",
    "lra_param_groups",
    "fit_task",
    "run",
    "mixing_matrix",
    "result_name",
    "load_results",
    "run_lr",
    "summarize",
    "best_lr",
    "format_table",
    "format_best_table",
    "rates_cell",
    "main",
]

MODELS = ("retnet", "linear", "transformer", "hyena")
TASKS = ("listops", "mqar")
MODEL_LABELS = {
    "retnet": "RetNet",
    "linear": "RetNet γ = 1 (linear attention)",
    "transformer": "Transformer",
    "hyena": "Hyena",
}


@dataclass
class LRAConfig:
    """One run. Sizes describe the RetNet; the other models get the same width and depth (and heads) and the
    feed-forward width that matches its parameter count. ``length``: the sequence length (ListOps: the longest
    expression, expressions of length//2 … length tokens; MQAR: every sequence). ``num_pairs`` (MQAR) stays the same
    at every length, so that a longer sequence means longer distances between a pair and its query, not more pairs.
    ``mqar_vocab`` (MQAR): the vocabulary V, 0 = 2 × ``length``; it must exceed the length (Zoology's precondition:
    otherwise the filler repeats the queried keys often, each followed by a random token).
    ``filter_weight_decay``: the weight decay of Hyena's implicit filter group (``lra_param_groups``)."""

    task: str = "mqar"
    model: str = "retnet"
    seed: int = 0
    length: int = 64
    # data
    num_train: int = 8000
    num_test: int = 1000
    data_seed: int = 1234
    listops_depth: int = 6
    listops_args: int = 8
    num_pairs: int = 4
    mqar_vocab: int = 0  # 0 = 2 × length
    power_a: float = 1.0  # MQAR query offsets: 1 = uniform over the sequence (Zoology uses 0.01)
    # model
    embed_dim: int = 64
    num_layers: int = 2
    num_heads: int = 4
    retnet_decay: str = "lm"
    # recipe
    batch_size: int = 32
    max_steps: int = 1000
    lr: float = 3e-3
    min_lr: float = 3e-4
    warmup_steps: int = 50
    weight_decay: float = 0.1
    filter_weight_decay: float = 0.0  # Hyena's implicit filter (its own group, as in the reference code)
    beta1: float = 0.9
    beta2: float = 0.99
    grad_clip: float = 1.0
    eval_interval: int = 250
    eval_examples: int = 0  # 0 = the whole test set at each evaluation
    device: str = "cpu"
    threads: int = 1  # 0 leaves PyTorch's setting alone

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}")
        if self.model not in MODELS:
            raise ValueError(f"model must be one of {MODELS}, got {self.model!r}")
        check_fields(
            self,
            dict(
                seed=0,
                length=8,
                num_train=1,
                num_test=1,
                data_seed=0,
                listops_depth=1,
                listops_args=2,
                num_pairs=1,
                mqar_vocab=0,
                embed_dim=2,
                num_layers=1,
                num_heads=1,
                batch_size=1,
                max_steps=1,
                warmup_steps=0,
                eval_interval=1,
                eval_examples=0,
                threads=0,
            ),
            reals=("lr", "min_lr", "weight_decay", "filter_weight_decay", "grad_clip", "beta1", "beta2", "power_a"),
        )
        if self.task == "mqar" and self.vocab_size_mqar <= self.length:
            raise ValueError(
                f"mqar_vocab = {self.vocab_size_mqar} must exceed the sequence length {self.length} (Zoology's "
                f"vocab_size > seq_len; 0 = 2 × length)"
            )
        check_schedule(self.lr, self.min_lr, self.warmup_steps, self.max_steps)
        if self.retnet_decay not in ("eq8", "lm"):
            raise ValueError(
                f"retnet_decay must be 'eq8' or 'lm' (γ = 1 is the 'linear' model), got {self.retnet_decay!r}"
            )
        if self.device not in ("auto", "cpu", "cuda", "mps"):
            raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'mps', got {self.device!r}")

    @property
    def vocab_size_mqar(self) -> int:
        """The MQAR vocabulary: ``mqar_vocab``, or 2 × ``length`` when it is 0."""
        return self.mqar_vocab or 2 * self.length

    def to_dict(self) -> dict:
        return asdict(self)


PRESETS: dict[str, dict] = {
    # the unit tests: seconds
    "tiny": dict(
        num_train=256,
        num_test=64,
        embed_dim=16,
        num_layers=1,
        num_heads=2,
        batch_size=16,
        max_steps=12,
        warmup_steps=2,
        eval_interval=6,
    ),
    # notebook 10's live run: ~15 s per model on one CPU thread
    "notebook": dict(
        num_train=2000,
        num_test=500,
        embed_dim=32,
        num_layers=2,
        num_heads=2,
        batch_size=32,
        max_steps=300,
        warmup_steps=30,
        eval_interval=100,
    ),
    # the recorded sweep (benchmarks/mini_lra): a few minutes per run on one CPU thread
    "cpu": dict(),
    # one GPU: a larger sweep (not run for the course's recorded results)
    "gpu": dict(
        num_train=50000,
        num_test=3000,
        embed_dim=128,
        num_layers=4,
        num_heads=4,
        batch_size=64,
        max_steps=10000,
        lr=1e-3,
        min_lr=1e-4,
        warmup_steps=500,
        eval_interval=1000,
        device="auto",
        threads=0,
    ),
}


def get_lra_config(preset: str = "cpu", **overrides) -> LRAConfig:
    """The preset's config (``PRESETS``) with ``overrides``, e.g. ``get_lra_config("cpu", task="listops")``."""
    return runner.named_config(LRAConfig, PRESETS, preset, overrides, kind="preset")


# ----------------------------------------------------------------------------------------------------------
# data and models
# ----------------------------------------------------------------------------------------------------------
def task_data(cfg: LRAConfig) -> tuple[TaskData, TaskData]:
    """The (train, test) sets of ``cfg.task`` at ``cfg.length``, generated from ``cfg.data_seed`` (the same for every
    model and run seed). ListOps expressions are distinct, so train and test do not overlap."""
    n = cfg.num_train + cfg.num_test
    if cfg.task == "listops":
        data = mini_listops(n, cfg.length, max_depth=cfg.listops_depth, max_args=cfg.listops_args, seed=cfg.data_seed)
    else:
        data = mqar(n, cfg.length, cfg.num_pairs, cfg.vocab_size_mqar, cfg.power_a, seed=cfg.data_seed)
    return data.split(cfg.num_train)


def model_configs(cfg: LRAConfig, vocab_size: int) -> dict:
    """The four models' configs at one parameter budget (the RetNet's): ``{"retnet", "linear", "transformer",
    "hyena"}``. "linear" is the RetNet with γ = 1; the Transformer and Hyena get the matching FFN width."""
    retnet = RetNetConfig(
        vocab_size=vocab_size,
        embed_dim=cfg.embed_dim,
        num_layers=cfg.num_layers,
        num_heads=cfg.num_heads,
        decay=cfg.retnet_decay,
    )
    return {
        "retnet": retnet,
        "linear": dataclasses.replace(retnet, decay="none"),
        "transformer": matched_transformer_config(retnet),
        "hyena": matched_hyena_config(retnet, max_len=cfg.length),
    }


def build_task_model(config) -> TokenLM:
    """The model for a config from ``model_configs`` (the registered ``TokenLM`` whose ``config_class`` it is),
    freshly initialised from the current torch RNG."""
    for cls in TokenLM.registry.values():
        if type(config) is cls.config_class:
            return cls(config)
    raise TypeError(
        f"config must be the config of a registered model ({sorted(TokenLM.registry)}), got {type(config).__name__}"
    )


def task_logits(model: nn.Module, inputs: Tensor) -> Tensor:
    """Next-token logits (B, T, vocab) of any ``TokenLM`` (or a DistributedDataParallel wrapper of one), running
    as its config says (RetNet: ``config.mode``, parallel here)."""
    if not isinstance(getattr(model, "module", model), TokenLM):
        raise TypeError(f"model must be a TokenLM, got {type(model).__name__}")
    return model(inputs)[0]


def task_loss(model: nn.Module, inputs: Tensor, targets: Tensor, answer_ids: Tensor) -> tuple[Tensor, int, int]:
    """Cross-entropy of the K-way answer at the scored positions (``targets != IGNORE``): the LM head's logits
    restricted to ``answer_ids``. Returns ``(mean loss, number correct, number scored)``."""
    logits = task_logits(model, inputs)
    scored = targets != IGNORE
    if not bool(scored.any()):
        raise ValueError("targets hold no scored position (every entry is IGNORE)")
    answer_ids = answer_ids.to(logits.device)
    sel = logits[scored][:, answer_ids]  # (M, K)
    lookup = torch.full((logits.shape[-1],), -1, dtype=torch.long, device=logits.device)
    lookup[answer_ids] = torch.arange(len(answer_ids), device=logits.device)
    cls = lookup[targets[scored]]
    if bool((cls < 0).any()):
        raise ValueError("a scored target is not one of the answer tokens")
    loss = F.cross_entropy(sel if sel.dtype in (torch.float32, torch.float64) else sel.float(), cls)
    correct = int((sel.argmax(-1) == cls).sum())
    return loss, correct, int(cls.numel())


@torch.no_grad()
def evaluate_task(model: nn.Module, data: TaskData, batch_size: int = 250, limit: int = 0) -> float:
    """Accuracy over every scored position of ``data`` (the first ``limit`` examples when limit > 0), eval mode."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    n = len(data) if not limit else min(limit, len(data))
    correct = total = 0
    try:
        for i in range(0, n, batch_size):
            j = min(n, i + batch_size)
            _, c, t = task_loss(model, data.inputs[i:j].to(device), data.targets[i:j].to(device), data.answer_ids)
            correct, total = correct + c, total + t
    finally:
        model.train(was_training)
    return correct / total


def lra_param_groups(filter_weight_decay: float = 0.0):
    """The ``param_groups`` function (``loop.fit``'s argument) of the mini-LRA runs: ``loop.weight_decay_groups``
    (decay on matrices, none on vectors) for every parameter outside a Hyena implicit filter, and the parameters of
    every ``ImplicitFilter`` (the filter MLP's weights and biases, the sin frequencies) in their own groups, named
    ``"hyena_filter"``: matrices with ``filter_weight_decay``, vectors with none. With the default 0 no filter
    parameter is decayed, as in the reference code (safari's ``HyenaFilter`` gives its MLP ``weight_decay=0``);
    ``filter_weight_decay = weight_decay`` gives back the single course-wide rule. Models without a Hyena filter get
    exactly ``weight_decay_groups``. Every group has the run's learning rate (the sweep tunes it per model)."""
    filter_weight_decay = float(filter_weight_decay)

    def groups(model: nn.Module, weight_decay: float) -> list[dict]:
        in_filter = {id(p) for m in model.modules() if isinstance(m, ImplicitFilter) for p in m.parameters()}
        params = [p for p in model.parameters() if p.requires_grad]
        rest = [p for p in params if id(p) not in in_filter]
        filt = [p for p in params if id(p) in in_filter]
        out = [
            {"params": [p for p in rest if p.dim() >= 2], "weight_decay": weight_decay},
            {"params": [p for p in rest if p.dim() < 2], "weight_decay": 0.0},
            {"params": [p for p in filt if p.dim() >= 2], "weight_decay": filter_weight_decay, "name": "hyena_filter"},
            {"params": [p for p in filt if p.dim() < 2], "weight_decay": 0.0, "name": "hyena_filter"},
        ]
        return [g for g in out if g["params"]]

    return groups


# ----------------------------------------------------------------------------------------------------------
# one run
# ----------------------------------------------------------------------------------------------------------
def result_name(cfg: LRAConfig) -> str:
    """``{task}-L{length}-{model}-lr{lr}-s{seed}`` (lr as ``format(lr, "g")``, e.g. ``lr0.003``): the file name
    (without .json) of a run's result."""
    return f"{cfg.task}-L{cfg.length}-{cfg.model}-lr{cfg.lr:g}-s{cfg.seed}"


def _eval_line(step: int, metrics, recent: float | None, seconds: float) -> str | None:
    return None if recent is None else f"step {step:>5}: loss {recent:.4f}, test accuracy {metrics[0]:.3f}"


def fit_task(
    config,
    cfg,
    train_set: TaskData,
    test_set: TaskData,
    device: torch.device,
    *,
    eval_line,
    desc: str,
    progress: bool,
    param_groups=None,
    eval_limit: int = 0,
) -> tuple[TokenLM, FitResult]:
    """Seed with ``cfg.seed``, build the model of ``config`` (``build_task_model``) on ``device`` and train it on
    ``train_set`` with ``loop.fit``: ``task_loss`` on batches of a fresh permutation per epoch (``EpochSampler``), the
    warm-up + cosine recipe of ``cfg`` (an ``LRAConfig`` or a config with the same recipe fields), the accuracy on
    the first ``eval_limit`` (0 = all) test examples every ``cfg.eval_interval`` steps. Returns ``(model, fitted)``
    (``loop.FitResult``)."""
    for name, data in (("train_set", train_set), ("test_set", test_set)):
        if not isinstance(data, TaskData):
            raise TypeError(f"{name} must be a TaskData, got {type(data).__name__}")
    seed_everything(cfg.seed)
    model = build_task_model(config).to(device)
    order = EpochSampler(len(train_set), cfg.batch_size, cfg.seed)
    answer_ids = train_set.answer_ids.to(device)

    def batch(step: int) -> tuple[Tensor, Tensor]:
        idx = order(step)
        return train_set.inputs[idx], train_set.targets[idx]

    fitted = fit(
        model,
        Recipe(
            cfg.max_steps, cfg.lr, cfg.min_lr, cfg.warmup_steps, cfg.weight_decay, (cfg.beta1, cfg.beta2), cfg.grad_clip
        ),
        batches=batch,
        loss_fn=lambda m, b: task_loss(m, *b, answer_ids)[0],
        param_groups=param_groups,
        device=device,
        evaluate=lambda: [evaluate_task(model, test_set, limit=eval_limit)],
        eval_interval=cfg.eval_interval,
        eval_line=eval_line,
        log_interval=cfg.eval_interval,
        tokens_per_step=cfg.batch_size * train_set.seq_len,
        progress=progress,
        desc=desc,
    )
    return model, fitted


def run(cfg: LRAConfig, progress: bool = True, command: str = "", data=None, keep_model: bool = False) -> dict:
    """Train ``cfg.model`` on ``cfg.task`` with ``loop.fit`` and return the result (a JSON-able dict; with
    ``keep_model`` the trained model too, under ``"trained_model"``). ``data``: an optional (train, test) pair to
    skip generating it again. Raises ``loop.TrainingDiverged`` if the loss or gradient norm stops being finite."""
    if not isinstance(cfg, LRAConfig):
        raise TypeError(f"cfg must be an LRAConfig, got {type(cfg).__name__}")
    wall0 = time.perf_counter()
    load_start = runner.load_average()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = init_distributed(get_device(None if cfg.device == "auto" else cfg.device)).device
    train_set, test_set = data if data is not None else task_data(cfg)
    data_seconds = time.perf_counter() - wall0
    configs = model_configs(cfg, train_set.vocab_size)
    sizes = {name: build_task_model(c).num_parameters() for name, c in configs.items()}
    model, fitted = fit_task(
        configs[cfg.model],
        cfg,
        train_set,
        test_set,
        device,
        eval_line=_eval_line,
        desc=f"{cfg.model} {cfg.task} L={cfg.length} seed {cfg.seed}",
        progress=progress,
        param_groups=lra_param_groups(cfg.filter_weight_decay),
        eval_limit=cfg.eval_examples,
    )
    # [step, mean training loss since the previous evaluation, test accuracy]
    history = runner.eval_history(fitted.history)
    train_seconds = fitted.history["train_seconds"]
    test_acc = evaluate_task(model, test_set)
    train_acc = evaluate_task(model, train_set, limit=len(test_set))
    balance = class_balance(test_set)
    result = {
        **runner.result_head(result_name(cfg), cfg.task, cfg, command, configs, sizes),
        "data": {
            "num_train": len(train_set),
            "num_test": len(test_set),
            "seq_len": train_set.seq_len,
            "vocab_size": train_set.vocab_size,
            "classes": len(train_set.answer_ids),
            "scored_per_example": float((test_set.targets != IGNORE).sum()) / len(test_set),
            "test_class_fractions": [round(float(f), 4) for f in balance["fractions"]],
            "majority_fraction": balance["majority_fraction"],
            "chance": balance["chance"],
            "info": train_set.info,
        },
        "history": history,
        "test_accuracy": test_acc,
        "train_accuracy": train_acc,
        "train_seconds": round(train_seconds, 2),
        "data_seconds": round(data_seconds, 2),
        **runner.run_stamp(wall0, load_start, device),
    }
    if keep_model:
        result["trained_model"] = model
    return result


# ----------------------------------------------------------------------------------------------------------
# what each mixer does to a sequence
# ----------------------------------------------------------------------------------------------------------
@torch.no_grad()
def mixing_matrix(model: nn.Module, tokens: Tensor, layer: int = 0, index: int = 0) -> dict:
    r"""The T × T matrix by which one layer's token mixer combines positions, for one sequence ``tokens`` (T,):
    output row n = Σ_m M[n, m] · (value at m). Returns ``{"fixed": the part that does not depend on the data,
    "full": M for this input, "kind"}`` (float64 arrays of shape (T, T)), from the mixer's own ``mixing_matrix``
    applied to the block's normed input:

    - RetNet / linear attention, head ``index``: ``M = (q kᵀ) ⊙ D`` (before the group norm; q, k rotated and the
      key scaled, as in the layer); fixed part ``D`` (γ^(n-m), or the causal mask of ones when γ = 1);
    - Transformer, head ``index``: ``M = softmax(q kᵀ/√d_h + causal mask)``; fixed part the causal mask;
    - Hyena, channel ``index``: ``M[n, m] = x1[n] · (h[n-m] + D δ_nm) · x2[m]`` for m ≤ n (the operator as a
      data-controlled matrix, Poli et al. §3.2); fixed part the Toeplitz matrix of the filter, ``h[n-m] + D δ_nm``.
    """
    if not isinstance(tokens, Tensor) or tokens.dim() != 1:
        raise ValueError("tokens must be a 1-D tensor of token ids (one sequence)")
    if isinstance(layer, bool) or not isinstance(layer, int) or not 0 <= layer < len(getattr(model, "layers", [])):
        raise ValueError(f"layer must be an int in [0, number of layers), got {layer!r}")
    tokens = tokens[None].to(next(model.parameters()).device)
    model.check_tokens(tokens)
    block, seen = model.layers[layer], {}
    handle = block.register_forward_pre_hook(lambda module, args: seen.setdefault("x", args[0]))
    try:
        model(tokens)  # as configured; the hook keeps the block's input
    finally:
        handle.remove()
    m = block.token_mixer.mixing_matrix(block.mixer_norm(seen["x"]), index)
    return {"fixed": _as_array(m["fixed"]), "full": _as_array(m["full"]), "kind": m["kind"]}


def _as_array(t: Tensor):
    return t.detach().to(torch.float64).cpu().numpy()


# ----------------------------------------------------------------------------------------------------------
# results of a sweep
# ----------------------------------------------------------------------------------------------------------
def run_lr(result: dict) -> float:
    """A result's learning rate: its top-level ``"lr"`` (results written before it existed: ``config["lr"]``)."""
    return float(result["lr"] if "lr" in result else result["config"]["lr"])


def summarize(results: list[dict]) -> list[dict]:
    """One row per (task, length, model, learning rate): mean and sample standard deviation of the test accuracy
    over seeds, the seeds, the mean training time, the parameter count, the data's majority-class fraction. Sorted
    by task, length, ``MODELS`` order, then learning rate."""
    groups: dict[tuple, list[dict]] = {}
    for r in results:
        groups.setdefault((r["task"], r["length"], r["model"], run_lr(r)), []).append(r)
    rows = []
    for (task, length, model, lr), rs in groups.items():
        accs = [r["test_accuracy"] for r in rs]
        rows.append(
            {
                "task": task,
                "length": length,
                "model": model,
                "lr": lr,
                "n": len(rs),
                "seeds": sorted(r["seed"] for r in rs),
                "accuracies": [r["test_accuracy"] for r in sorted(rs, key=lambda r: r["seed"])],
                "mean": statistics.fmean(accs),
                "std": statistics.stdev(accs) if len(accs) > 1 else 0.0,
                "train_seconds": statistics.fmean(r["train_seconds"] for r in rs),
                "wall_seconds": statistics.fmean(r["wall_seconds"] for r in rs),
                "parameters": rs[0]["parameters"],
                "majority": rs[0]["data"]["majority_fraction"],
                "chance": rs[0]["data"]["chance"],
            }
        )
    order = {m: i for i, m in enumerate(MODELS)}
    return sorted(rows, key=lambda r: (r["task"], r["length"], order.get(r["model"], 99), r["lr"]))


def best_lr(rows: list[dict], min_seeds: int = 1) -> list[dict]:
    """Zoology's protocol on ``summarize`` rows: for each (task, length, model) the learning rate with the highest
    mean test accuracy over its seeds (a tie goes to the smaller rate), among the rates with at least ``min_seeds``
    seeds. Returns that rate's row with ``"tried"`` added: ``[(lr, mean, number of seeds), …]`` for every rate of
    the group (including those with fewer seeds), in order of lr. Groups without a rate that qualifies are left out."""
    if isinstance(min_seeds, bool) or not isinstance(min_seeds, int) or min_seeds < 1:
        raise ValueError(f"min_seeds must be an int >= 1, got {min_seeds!r}")
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["task"], r["length"], r["model"]), []).append(r)
    out = []
    for group in groups.values():
        group = sorted(group, key=lambda r: r["lr"])
        eligible = [r for r in group if r["n"] >= min_seeds]
        if not eligible:
            continue
        best = max(eligible, key=lambda r: (r["mean"], -r["lr"]))
        out.append({**best, "tried": [(r["lr"], r["mean"], r["n"]) for r in group]})
    return out


def format_table(rows: list[dict], show_lr: bool = True) -> str:
    """The summary as a Markdown table (accuracy in %, mean ± std over seeds), one row per ``summarize`` row."""
    head = "| task | length | model | " + ("lr | " if show_lr else "")
    lines = [
        head + "parameters | test accuracy (%) | seeds | training time (s) | majority class (%) |",
        "|---|---|---|" + ("---|" if show_lr else "") + "---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['task']} | {r['length']} | {MODEL_LABELS.get(r['model'], r['model'])} | "
            + (f"{r['lr']:g} | " if show_lr else "")
            + f"{r['parameters']:,} | {100 * r['mean']:.1f} ± {100 * r['std']:.1f} | {r['n']} | "
            f"{r['train_seconds']:.0f} | {100 * r['majority']:.1f} |"
        )
    return "\n".join(lines)


def format_best_table(best: list[dict]) -> str:
    """``best_lr``'s rows as a Markdown table: the best rate, its mean ± std over seeds, and every rate tried
    (mean accuracy, and the number of seeds when a rate has fewer than the group's most)."""
    lines = [
        "| task | length | model | best lr | test accuracy (%) | seeds | all rates: mean (%) | majority class (%) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in best:
        lines.append(
            f"| {r['task']} | {r['length']} | {MODEL_LABELS.get(r['model'], r['model'])} | {r['lr']:g} | "
            f"{100 * r['mean']:.1f} ± {100 * r['std']:.1f} | {r['n']} | {rates_cell(r['tried'])} | "
            f"{100 * r['majority']:.1f} |"
        )
    return "\n".join(lines)


def rates_cell(tried: list[tuple]) -> str:
    """The "all rates" cell of a best-lr table from a ``best_lr`` row's ``"tried"`` (lr, mean, seeds): each rate's
    mean accuracy in %, with its number of seeds when it has fewer than the most."""
    most = max(n for _, _, n in tried)
    return ", ".join(
        f"{lr:g}: {100 * mean:.1f}" + ("" if n == most else f" ({n} seed{'s' if n > 1 else ''})")
        for lr, mean, n in tried
    )


# ----------------------------------------------------------------------------------------------------------
# command line
# ----------------------------------------------------------------------------------------------------------
_MODULE = "retnet_edu.experiments.lra"


def _parser():
    ap = runner.runner_parser(
        _MODULE,
        "Train one of RetNet / RetNet γ = 1 (linear attention) / Transformer / Hyena on a generated long-range task "
        f"(mini-ListOps or MQAR) and write a JSON result. `python -m {_MODULE} summarize DIR` prints the best-lr table "
        "and the mean ± std table of a folder of results.",
    )
    ap.add_argument("--preset", default="cpu", choices=sorted(PRESETS), help="named sizes to start from")
    runner.add_result_flags(
        ap,
        "result file (default runs/lra/<task>-L<length>-<model>-s<seed>.json)",
        "print the four models' parameter counts and exit",
    )
    runner.add_config_flags(ap, LRAConfig, "override the preset's {name}", {"model": MODELS, "task": TASKS})
    return ap


def _done(cfg: LRAConfig, result: dict, out: Path) -> str:
    return (
        f"done: {cfg.model} on {cfg.task} (length {cfg.length}, seed {cfg.seed}): test accuracy "
        f"{result['test_accuracy']:.4f}, {result['parameters']:,} parameters, {result['train_seconds']:.1f} s of "
        f"training; {out}"
    )


def _summary(results: list[dict]) -> str:
    rows = summarize(results)
    return format_best_table(best_lr(rows)) + "\n\n" + format_table(rows)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "summarize":
        return runner.summarize_command(argv[1:], _MODULE, _summary)
    ns = _parser().parse_args(argv)
    try:
        cfg = get_lra_config(ns.preset, **runner.config_overrides(ns, LRAConfig))
    except (ValueError, TypeError) as err:
        return runner.error(err)
    out = Path(ns.out) if ns.out else Path("runs") / "lra" / f"{result_name(cfg)}.json"
    if ns.print_sizes:
        train_set, _ = task_data(dataclasses.replace(cfg, num_train=1, num_test=1))
        for name, c in model_configs(cfg, train_set.vocab_size).items():
            print(f"{name:12s} {build_task_model(c).num_parameters():>9,} parameters  {c}")
        return 0
    work = functools.partial(run, cfg, progress=not ns.no_progress, command=f"python -m {_MODULE} " + " ".join(argv))
    return runner.run_to_file(out, ns.overwrite, work, lambda result: _done(cfg, result, out))


if __name__ == "__main__":
    sys.exit(main())
