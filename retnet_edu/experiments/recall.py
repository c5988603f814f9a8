"""The recall test (notebook 12): RetNet, its successors and the Transformer on multi-query associative recall
(MQAR, Zoology's generator: ``experiments.tasks.mqar``), at one parameter budget, through the one training loop.

Command line (``python -m retnet_edu.experiments.recall --help``)::

    python -m retnet_edu.experiments.recall --model deltanet --lr 0.003 --seed 0 --length 64   # one run → JSON
    python -m retnet_edu.experiments.recall --print-sizes --length 128      # every model's parameters and state bytes
    python -m retnet_edu.experiments.recall summarize benchmarks/recall/results     # best-lr table with state sizes

The models (``MODELS``) share the embedding, the pre-norm blocks with the gated feed-forward, the final norm and the
head; they differ in the token mixer only, and each gets the feed-forward width that matches the RetNet's parameter
count within 2 % (``model_configs``):

- ``retnet``: RetNet as in the paper (``retnet_edu.model``: rotation, fixed decays with the LM schedule);
- ``gated_retention``, ``gla``, ``deltanet``, ``gated_deltanet``: ``retnet_edu.baselines.recurrent`` (short
  convolutions, the rule of ``retnet_edu.successors``, RetNet's group norm and output gate), run chunkwise;
- ``retention``: the same module with RetNet's fixed decays (the family's own baseline: RetNet's rule with the
  successors' inputs); not in the recorded sweep's default list;
- ``transformer``: causal softmax attention with rotary positions (``retnet_edu.baselines.transformer``).

Each run reports the size of the state a decoder would keep after ``length`` tokens (``state_bytes``, float32):
a fixed matrix per head for the recurrent models, the KV cache (growing with the length) for the Transformer.
The task, the loss (cross-entropy over the value tokens at the query positions), the training, the accuracy and the
tables come from ``experiments.lra`` (``task_loss``, ``fit_task``, ``evaluate_task``, ``summarize``, ``best_lr``),
and the result's first and last keys from ``experiments.runner``, so a recall result has the same keys as a mini-LRA
result (``"model"``, ``"lr"``, ``"seed"`` at the top), plus ``"state_bytes"``.
"""

from __future__ import annotations

import functools
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from retnet_edu._args import check_fields, check_schedule
from retnet_edu.baselines.recurrent import RecurrentConfig, matched_recurrent_config
from retnet_edu.baselines.transformer import TransformerConfig, matched_transformer_config
from retnet_edu.experiments import runner
from retnet_edu.experiments.loop import TrainingDiverged  # noqa: F401 (recall.TrainingDiverged, as before)
from retnet_edu.experiments.lra import (
    best_lr,
    build_task_model,  # noqa: F401 (recall.build_task_model, as before)
    evaluate_task,
    fit_task,
    rates_cell,
    summarize,
)
from retnet_edu.experiments.runner import load_results  # noqa: F401 (recall.load_results, as before)
from retnet_edu.experiments.runtime import get_device
from retnet_edu.experiments.tasks import IGNORE, TaskData, class_balance, mqar
from retnet_edu.model import RetNetConfig

__all__ = [
    "MODELS",
    "MODEL_LABELS",
    "RecallConfig",
    "recall_data",
    "model_configs",
    "state_bytes",
    "result_name",
    "run",
    "recall_table",
    "format_recall_table",
    "main",
]

MODELS = ("retnet", "gated_retention", "gla", "deltanet", "gated_deltanet", "transformer", "retention")
MODEL_LABELS = {
    "retnet": "RetNet",
    "retention": "retention + conv (fixed decay)",
    "gated_retention": "gated retention",
    "gla": "GLA",
    "deltanet": "DeltaNet",
    "gated_deltanet": "Gated DeltaNet",
    "transformer": "Transformer",
}
# the chunk length each recurrent rule trains with (same numbers in every mode; GLA's per-channel chunk mask is
# T² · d_k, so it is fastest in short chunks)
CHUNKS = {"retention": 32, "gated_retention": 32, "gla": 8, "deltanet": 32, "gated_deltanet": 32}


@dataclass
class RecallConfig:
    """One run. ``vocab``: MQAR's vocabulary V (0 = 2 × length, the least the recall test allows: V/2 keys and V/2
    values, so that the filler rarely repeats a key). ``num_pairs`` is the same at every length: a longer sequence
    means longer distances, not more pairs. ``num_train`` = ``max_steps`` × ``batch_size`` by default: every training
    sequence is new (a model cannot pass by memorising sequences, as it can when they repeat every few epochs). The
    recipe is mini-LRA's (warm-up then cosine to ``min_lr_ratio`` × lr, AdamW, clipping) at mini-LRA's compute per run
    with twice the updates: 2,000 steps of batch 16 (the successors were still learning after 1,000 of batch 32)."""

    model: str = "gated_deltanet"
    seed: int = 0
    lr: float = 3e-3
    length: int = 64
    num_pairs: int = 4
    vocab: int = 0
    power_a: float = 1.0
    num_train: int = 32000
    num_test: int = 1000
    data_seed: int = 1234
    embed_dim: int = 64
    num_layers: int = 2
    num_heads: int = 4
    batch_size: int = 16
    max_steps: int = 2000
    min_lr_ratio: float = 0.1
    warmup_steps: int = 100
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.99
    grad_clip: float = 1.0
    eval_interval: int = 500
    device: str = "cpu"
    threads: int = 1  # 0 leaves PyTorch's setting alone

    def __post_init__(self):
        if self.model not in MODELS:
            raise ValueError(f"model must be one of {MODELS}, got {self.model!r}")
        check_fields(
            self,
            dict(
                seed=0,
                length=8,
                num_pairs=1,
                vocab=0,
                num_train=1,
                num_test=1,
                data_seed=0,
                embed_dim=2,
                num_layers=1,
                num_heads=1,
                batch_size=1,
                max_steps=1,
                warmup_steps=0,
                eval_interval=1,
                threads=0,
            ),
            reals=("lr", "min_lr_ratio", "weight_decay", "grad_clip", "beta1", "beta2", "power_a"),
        )
        if self.vocab_size < 2 * self.length:
            raise ValueError(f"vocab = {self.vocab_size} must be at least 2 × length = {2 * self.length}")
        if not 0 < self.min_lr_ratio <= 1:
            raise ValueError(f"min_lr_ratio must lie in (0, 1], got {self.min_lr_ratio!r}")
        check_schedule(self.lr, self.min_lr, self.warmup_steps, self.max_steps)
        if self.device not in ("auto", "cpu", "cuda", "mps"):
            raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'mps', got {self.device!r}")

    @property
    def vocab_size(self) -> int:
        return self.vocab or 2 * self.length

    @property
    def min_lr(self) -> float:
        return self.lr * self.min_lr_ratio

    def to_dict(self) -> dict:
        return asdict(self)


def recall_data(cfg: RecallConfig) -> tuple[TaskData, TaskData]:
    """The (train, test) MQAR sets of ``cfg`` (from ``cfg.data_seed``: the same for every model and run seed)."""
    data = mqar(cfg.num_train + cfg.num_test, cfg.length, cfg.num_pairs, cfg.vocab_size, cfg.power_a, cfg.data_seed)
    return data.split(cfg.num_train)


def model_configs(cfg: RecallConfig, vocab_size: int) -> dict:
    """Every model's config at the RetNet's parameter count (within 2 %): ``{name: config}`` for ``MODELS``."""
    retnet = RetNetConfig(
        vocab_size=vocab_size, embed_dim=cfg.embed_dim, num_layers=cfg.num_layers, num_heads=cfg.num_heads, decay="lm"
    )
    out = {"retnet": retnet, "transformer": matched_transformer_config(retnet, tolerance=0.02)}
    for rule, chunk in CHUNKS.items():
        out[rule] = matched_recurrent_config(retnet, rule, mode="chunkwise", chunk_size=chunk)
    return {name: out[name] for name in MODELS}


def state_bytes(config, length: int) -> int:
    """Bytes of the state a decoder of ``config`` keeps after ``length`` tokens (float32): RetNet's and the recurrent
    models' fixed states, the Transformer's KV cache (keys and values of every token in every layer)."""
    if isinstance(config, RecurrentConfig):
        return config.state_bytes(length)
    if isinstance(config, RetNetConfig):
        return (
            config.num_layers
            * config.num_heads
            * (config.embed_dim // config.num_heads)
            * (config.value_dim // config.num_heads)
            * 4
        )
    if isinstance(config, TransformerConfig):
        return config.num_layers * 2 * length * config.embed_dim * 4
    raise TypeError(f"config must be a RetNet, recurrent or Transformer config, got {type(config).__name__}")


def result_name(cfg: RecallConfig) -> str:
    """``mqar-L{length}-{model}-lr{lr}-s{seed}``: a run's result file name (without .json)."""
    return f"mqar-L{cfg.length}-{cfg.model}-lr{cfg.lr:g}-s{cfg.seed}"


def _eval_line(step: int, metrics, recent: float | None, seconds: float) -> str | None:
    return None if recent is None else f"step {step}: acc {metrics[0]:.3f}"


def run(cfg: RecallConfig, progress: bool = True, command: str = "", data=None) -> dict:
    """Train ``cfg.model`` on MQAR with ``loop.fit``; return the result (a JSON-able dict). ``data``: an optional
    (train, test) pair. Raises ``loop.TrainingDiverged`` if the loss or gradient norm stops being finite."""
    if not isinstance(cfg, RecallConfig):
        raise TypeError(f"cfg must be a RecallConfig, got {type(cfg).__name__}")
    wall0, load_start = time.perf_counter(), runner.load_average()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = get_device(None if cfg.device == "auto" else cfg.device)
    train_set, test_set = data if data is not None else recall_data(cfg)
    configs = model_configs(cfg, train_set.vocab_size)
    sizes = {name: c.num_parameters() for name, c in configs.items()}
    desc = f"{cfg.model} MQAR L={cfg.length} lr {cfg.lr:g} seed {cfg.seed}"
    model, fitted = fit_task(
        configs[cfg.model], cfg, train_set, test_set, device, eval_line=_eval_line, desc=desc, progress=progress
    )
    history = runner.eval_history(fitted.history)
    balance = class_balance(test_set)
    return {
        **runner.result_head(result_name(cfg), "mqar", cfg, command, configs, sizes),
        "state_bytes": state_bytes(configs[cfg.model], cfg.length),
        "data": {
            "num_train": len(train_set),
            "num_test": len(test_set),
            "seq_len": train_set.seq_len,
            "vocab_size": train_set.vocab_size,
            "num_pairs": cfg.num_pairs,
            "classes": len(train_set.answer_ids),
            "scored_per_example": float((test_set.targets != IGNORE).sum()) / len(test_set),
            "majority_fraction": balance["majority_fraction"],
            "chance": balance["chance"],
        },
        "history": history,
        "test_accuracy": evaluate_task(model, test_set),
        "train_accuracy": evaluate_task(model, train_set, limit=len(test_set)),
        "train_seconds": round(fitted.history["train_seconds"], 2),
        **runner.run_stamp(wall0, load_start, device),
    }


# ----------------------------------------------------------------------------------------------------------
# the table
# ----------------------------------------------------------------------------------------------------------
def recall_table(results: list[dict], min_seeds: int = 1) -> list[dict]:
    """Each (length, model)'s best learning rate (``lra.best_lr``: highest mean test accuracy over seeds) with its
    state bytes, in ``MODELS`` order within each length."""
    states = {(r["length"], r["model"]): r["state_bytes"] for r in results}
    rows = [
        {**row, "state_bytes": states[(row["length"], row["model"])]} for row in best_lr(summarize(results), min_seeds)
    ]
    order = {m: i for i, m in enumerate(MODELS)}
    return sorted(rows, key=lambda r: (r["length"], order.get(r["model"], 99)))


def format_recall_table(rows: list[dict]) -> str:
    """``recall_table``'s rows as Markdown: accuracy mean ± std over seeds at the best rate, every rate's mean,
    parameters and state bytes."""
    lines = [
        "| length | model | parameters | state after L tokens (bytes) | best lr | test accuracy (%) | seeds | "
        "all rates: mean (%) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['length']} | {MODEL_LABELS[r['model']]} | {r['parameters']:,} | {r['state_bytes']:,} | "
            f"{r['lr']:g} | {100 * r['mean']:.1f} ± {100 * r['std']:.1f} | {r['n']} | {rates_cell(r['tried'])} |"
        )
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------------------
# command line
# ----------------------------------------------------------------------------------------------------------
_MODULE = "retnet_edu.experiments.recall"


def _done(cfg: RecallConfig, result: dict, out: Path) -> str:
    return (
        f"done: {cfg.model} on MQAR (length {cfg.length}, lr {cfg.lr:g}, seed {cfg.seed}): test "
        f"accuracy {result['test_accuracy']:.4f}, {result['parameters']:,} parameters, {result['state_bytes']:,} "
        f"state bytes, {result['train_seconds']:.1f} s of training; {out}"
    )


def _parser():
    ap = runner.runner_parser(
        _MODULE,
        f"Train one model on MQAR and write a JSON result. `python -m {_MODULE} summarize DIR` prints the best-lr "
        "table of a folder of results.",
    )
    runner.add_result_flags(
        ap, "result file (default runs/recall/<name>.json)", "print every model's parameters and state bytes"
    )
    runner.add_config_flags(ap, RecallConfig, "override {name} (default {default})", {"model": MODELS})
    return ap


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "summarize":
        return runner.summarize_command(argv[1:], _MODULE, lambda results: format_recall_table(recall_table(results)))
    ns = _parser().parse_args(argv)
    try:
        cfg = RecallConfig(**runner.config_overrides(ns, RecallConfig))
    except (ValueError, TypeError) as err:
        return runner.error(err)
    out = Path(ns.out) if ns.out else Path("runs") / "recall" / f"{result_name(cfg)}.json"
    if ns.print_sizes:
        for name, c in model_configs(cfg, cfg.vocab_size).items():
            print(f"{name:16s} {c.num_parameters():>9,} parameters  {state_bytes(c, cfg.length):>9,} state bytes")
        return 0
    work = functools.partial(run, cfg, progress=not ns.no_progress, command=f"python -m {_MODULE} " + " ".join(argv))
    return runner.run_to_file(out, ns.overwrite, work, lambda result: _done(cfg, result, out))


if __name__ == "__main__":
    sys.exit(main())
