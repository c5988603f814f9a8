r"""Generated long-range tasks, seeded, nothing downloaded: mini-ListOps and multi-query associative recall (MQAR).

Both tasks are posed to a causal language model the same way: a batch of token sequences ``inputs`` (N, T) and
``targets`` (N, T) that hold, at the positions that are scored, the token the model must predict there, and
``IGNORE`` (-100) everywhere else. The answer at a scored position is read from the model's next-token logits,
restricted to the task's answer tokens (``answer_ids``): a K-way classifier made of K rows of the LM head, the same
for every model.

**mini-ListOps** (after the Long Range Arena's ListOps, Tay et al. 2021, arXiv 2011.04006, whose generator is
``google-research/long-range-arena lra_benchmarks/data/listops.py``): nested prefix expressions over the digits
0-9 with the operators MIN, MAX, MED (median, rounded down) and SM (sum modulo 10), e.g.
``[MAX 4 3 [MIN 2 3 ] 1 0 [MED 1 5 8 9 2 ] ] → 5``. The tree is drawn exactly as in the LRA generator: a node
below ``max_depth`` is an operator with probability 0.25 (with 2 … ``max_args`` arguments), otherwise a digit;
expressions are kept if their length in tokens lies in [``min_length``, ``max_length``] and are unique. Scaled
down from LRA (depth 10, up to 10 arguments, 500-2000 tokens) so that it trains in minutes on a CPU. The label (10
classes) is predicted at the last token ``]``, the only position that has seen the whole expression (the
sequence is right-padded with ``<pad>``, which a causal model never sees before that position). The LRA code wraps
sub-lists in ``( )``; those tokens carry no information and are left out, as in the paper's example.

**MQAR** (Arora et al. 2024, "Zoology", arXiv 2312.04927; generator ``HazyResearch/zoology
zoology/data/multiquery_ar.py``): ``num_pairs`` key-value pairs ``k1 v1 k2 v2 …`` (distinct keys from the lower half
of the vocabulary, distinct values from the upper half), then a query region in which every key appears once more,
at random even offsets, among random filler tokens. At each query the model must output the value that followed
that key in the context. The query offsets are drawn with probability ∝ g^(power_a - 1) over the slots g = 1, 2, …:
Zoology's ``power_a = 0.01`` favours the slots right after the context; ``power_a = 1`` (uniform) spreads them over
the whole sequence, so the distance a model must remember grows with the sequence length (the mini-LRA sweep
uses it). As in Zoology, the vocabulary must exceed the sequence length (``vocab_size > seq_len``): the filler is
drawn from the whole vocabulary, so each queried key also turns up about ``(seq_len - 3N) / vocab_size`` times in
the filler, followed by a random token; with a small vocabulary those false cues swamp the real pairs (the mini-LRA
sweep takes V ≥ 2T).
"""

from __future__ import annotations

import numbers
import random
from dataclasses import dataclass, field

import torch
from torch import Tensor

from retnet_edu._args import check_int as _check_int

__all__ = [
    "IGNORE",
    "TaskData",
    "LISTOPS_OPERATORS",
    "LISTOPS_VOCAB",
    "listops_tree",
    "listops_value",
    "listops_tokens",
    "listops_expressions",
    "mini_listops",
    "mqar",
    "class_balance",
    "decode",
]

IGNORE = -100


@dataclass
class TaskData:
    """A generated data set: ``inputs`` (N, T) int64 token ids, ``targets`` (N, T) int64 (the token expected at each
    scored position, ``IGNORE`` elsewhere), ``answer_ids`` (K,) the tokens an answer can be (the K classes, in
    class order), ``vocab`` (token strings, index = id) and ``info`` (the generator's settings)."""

    name: str
    inputs: Tensor
    targets: Tensor
    answer_ids: Tensor
    vocab: tuple[str, ...]
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.inputs.shape != self.targets.shape or self.inputs.dim() != 2:
            raise ValueError(
                f"inputs and targets must both be (N, T), got {tuple(self.inputs.shape)} and "
                f"{tuple(self.targets.shape)}"
            )

    def __len__(self) -> int:
        return self.inputs.shape[0]

    @property
    def seq_len(self) -> int:
        return self.inputs.shape[1]

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def classes(self) -> Tensor:
        """The class index (position in ``answer_ids``) of every scored target, in row-major order."""
        scored = self.targets[self.targets != IGNORE]
        lookup = torch.full((self.vocab_size,), -1, dtype=torch.long)
        lookup[self.answer_ids] = torch.arange(len(self.answer_ids))
        return lookup[scored]

    def split(self, n_first: int) -> tuple[TaskData, TaskData]:
        """The first ``n_first`` examples and the rest, as two ``TaskData``."""
        n_first = _check_int(n_first, "n_first", 0)
        if n_first > len(self):
            raise ValueError(f"n_first = {n_first} exceeds the {len(self)} examples")
        a = TaskData(self.name, self.inputs[:n_first], self.targets[:n_first], self.answer_ids, self.vocab, self.info)
        b = TaskData(self.name, self.inputs[n_first:], self.targets[n_first:], self.answer_ids, self.vocab, self.info)
        return a, b


def decode(ids, vocab) -> str:
    """Token ids (a 1-D tensor or list) as a space-separated string, ``<pad>`` tokens dropped."""
    ids = ids.tolist() if isinstance(ids, Tensor) else list(ids)
    return " ".join(vocab[i] for i in ids if vocab[i] != "<pad>")


# ----------------------------------------------------------------------------------------------------------
# mini-ListOps
# ----------------------------------------------------------------------------------------------------------
LISTOPS_OPERATORS = ("MIN", "MAX", "MED", "SM")
LISTOPS_VOCAB = ("<pad>",) + tuple(str(d) for d in range(10)) + tuple("[" + op for op in LISTOPS_OPERATORS) + ("]",)
_LISTOPS_ID = {tok: i for i, tok in enumerate(LISTOPS_VOCAB)}
VALUE_P = 0.25  # LRA: a node below max_depth is an operator when r <= 0.25, a digit otherwise


def listops_tree(rng: random.Random, max_depth: int = 6, max_args: int = 8, depth: int = 1):
    """Draw one ListOps tree as the LRA generator does. Returns ``(tree, length)``: a tree is a digit (int) or a
    pair ``(operator, [children])``; ``length`` counts its tokens (an operator node adds ``[OP`` and ``]``)."""
    r = rng.random() if depth < max_depth else 1.0
    if r > VALUE_P:
        return rng.randrange(10), 1
    op = rng.choice(LISTOPS_OPERATORS)
    children, length = [], 2
    for _ in range(rng.randint(2, max_args)):
        child, n = listops_tree(rng, max_depth, max_args, depth + 1)
        children.append(child)
        length += n
    return (op, children), length


def listops_value(tree) -> int:
    """The value of a tree: MIN, MAX, MED = the median rounded down (``int(np.median)`` in LRA), SM = sum mod 10."""
    if isinstance(tree, int):
        return tree
    op, children = tree
    vals = [listops_value(c) for c in children]
    if op == "MIN":
        return min(vals)
    if op == "MAX":
        return max(vals)
    if op == "MED":
        s = sorted(vals)
        return (s[(len(s) - 1) // 2] + s[len(s) // 2]) // 2
    if op == "SM":
        return sum(vals) % 10
    raise ValueError(f"unknown operator {op!r}")


def listops_tokens(tree) -> list[str]:
    """The tree as prefix tokens: ``[OP`` arguments … ``]``."""
    if isinstance(tree, int):
        return [str(tree)]
    op, children = tree
    out = ["[" + op]
    for c in children:
        out += listops_tokens(c)
    return out + ["]"]


def listops_expressions(
    num: int,
    min_length: int,
    max_length: int,
    max_depth: int = 6,
    max_args: int = 8,
    seed: int = 0,
    max_draws: int | None = None,
) -> list[tuple[tuple[str, ...], int]]:
    """``num`` distinct expressions ``(tokens, value)`` with ``min_length ≤ len(tokens) ≤ max_length``, drawn with
    ``random.Random(seed)`` (rejection sampling, as LRA). Raises RuntimeError after ``max_draws`` trees
    (default 2000·num) if too few fall in the length range."""
    num = _check_int(num, "num")
    min_length, max_length = _check_int(min_length, "min_length"), _check_int(max_length, "max_length")
    max_depth, max_args = _check_int(max_depth, "max_depth"), _check_int(max_args, "max_args", 2)
    if min_length > max_length:
        raise ValueError(f"min_length ({min_length}) must not exceed max_length ({max_length})")
    rng = random.Random(_check_int(seed, "seed", 0))
    limit = 2000 * num if max_draws is None else _check_int(max_draws, "max_draws")
    seen, out = set(), []
    for _ in range(limit):
        tree, length = listops_tree(rng, max_depth, max_args)
        if not min_length <= length <= max_length:
            continue
        tokens = tuple(listops_tokens(tree))
        if tokens in seen:
            continue
        seen.add(tokens)
        out.append((tokens, listops_value(tree)))
        if len(out) == num:
            return out
    raise RuntimeError(
        f"only {len(out)} of {num} expressions of length {min_length}-{max_length} after {limit} "
        f"draws: widen the length range or change max_depth/max_args"
    )


def mini_listops(
    num_examples: int,
    max_length: int = 64,
    min_length: int | None = None,
    max_depth: int = 6,
    max_args: int = 8,
    seed: int = 0,
) -> TaskData:
    """``num_examples`` distinct mini-ListOps expressions of ``min_length`` (default max_length // 2) to
    ``max_length`` tokens, right-padded to ``max_length``; the target (the value's digit token) sits at the last
    token of each expression. Split with ``.split(n_train)``: the examples are distinct, so the parts are disjoint."""
    max_length = _check_int(max_length, "max_length", 3)
    min_length = max(3, max_length // 2) if min_length is None else min_length
    exprs = listops_expressions(num_examples, min_length, max_length, max_depth, max_args, seed)
    inputs = torch.zeros(len(exprs), max_length, dtype=torch.long)
    targets = torch.full((len(exprs), max_length), IGNORE, dtype=torch.long)
    for i, (tokens, value) in enumerate(exprs):
        inputs[i, : len(tokens)] = torch.tensor([_LISTOPS_ID[t] for t in tokens])
        targets[i, len(tokens) - 1] = _LISTOPS_ID[str(value)]
    answer_ids = torch.tensor([_LISTOPS_ID[str(d)] for d in range(10)])
    info = dict(
        task="listops", max_length=max_length, min_length=min_length, max_depth=max_depth, max_args=max_args, seed=seed
    )
    return TaskData("listops", inputs, targets, answer_ids, LISTOPS_VOCAB, info)


# ----------------------------------------------------------------------------------------------------------
# MQAR
# ----------------------------------------------------------------------------------------------------------
def mqar(
    num_examples: int,
    seq_len: int = 64,
    num_pairs: int = 8,
    vocab_size: int = 128,
    power_a: float = 0.01,
    seed: int = 0,
) -> TaskData:
    """Multi-query associative recall, ``num_examples`` sequences of ``seq_len`` tokens (Zoology's generator,
    rewritten with torch).

    Tokens 1 … V/2-1 are keys, V/2 … V-1 values (V = ``vocab_size``). Each sequence: ``k1 v1 … kN vN`` (N =
    ``num_pairs`` distinct keys and distinct values), then ``seq_len - 2N`` tokens of random filler (uniform over
    the whole vocabulary) in which each key appears once more at an even offset; the target at that position is its
    value. Offsets: slot g = 1, 2, … (offset 2(g-1)) with probability ∝ g^(power_a - 1), without replacement.
    Needs ``seq_len ≥ 4N`` (room for N query slots), ``vocab_size ≥ 2N + 2`` and ``vocab_size > seq_len``
    (Zoology's precondition; see the module docstring).
    """
    num_examples = _check_int(num_examples, "num_examples")
    seq_len, num_pairs = _check_int(seq_len, "seq_len", 2), _check_int(num_pairs, "num_pairs")
    vocab_size = _check_int(vocab_size, "vocab_size", 4)
    if isinstance(power_a, bool) or not isinstance(power_a, numbers.Real) or not 0 < power_a <= 1:
        raise ValueError(f"power_a must be a number in (0, 1], got {power_a!r}")
    half = vocab_size // 2
    if half - 1 < num_pairs or vocab_size - half < num_pairs:
        raise ValueError(
            f"vocab_size = {vocab_size} is too small for {num_pairs} distinct keys and values "
            f"(need vocab_size >= {2 * num_pairs + 2})"
        )
    if vocab_size <= seq_len:
        raise ValueError(
            f"vocab_size = {vocab_size} must exceed seq_len = {seq_len} (Zoology's precondition: otherwise the "
            f"random filler repeats the queried keys too often); take vocab_size >= 2 * seq_len"
        )
    slots = (seq_len - 2 * num_pairs) // 2
    if slots < num_pairs:
        raise ValueError(
            f"seq_len = {seq_len} leaves {slots} query slots for {num_pairs} pairs (need seq_len >= {4 * num_pairs})"
        )
    g = torch.Generator().manual_seed(_check_int(seed, "seed", 0))
    N, T, P = num_examples, seq_len, num_pairs
    keys = torch.rand(N, half - 1, generator=g).argsort(dim=1)[:, :P] + 1
    values = torch.rand(N, vocab_size - half, generator=g).argsort(dim=1)[:, :P] + half
    inputs = torch.randint(0, vocab_size, (N, T), generator=g)
    targets = torch.full((N, T), IGNORE, dtype=torch.long)
    inputs[:, 0 : 2 * P : 2] = keys
    inputs[:, 1 : 2 * P : 2] = values
    weights = torch.arange(1, slots + 1, dtype=torch.float64) ** (float(power_a) - 1)
    chosen = torch.multinomial(weights.expand(N, slots), P, replacement=False, generator=g)  # (N, P) slots
    order = torch.rand(N, P, generator=g).argsort(dim=1)  # which key where
    pos = 2 * P + 2 * chosen
    inputs.scatter_(1, pos, keys.gather(1, order))
    targets.scatter_(1, pos, values.gather(1, order))
    vocab = ("<f>",) + tuple(f"k{i}" for i in range(1, half)) + tuple(f"v{i}" for i in range(vocab_size - half))
    info = dict(
        task="mqar", seq_len=seq_len, num_pairs=num_pairs, vocab_size=vocab_size, power_a=float(power_a), seed=seed
    )
    return TaskData("mqar", inputs, targets, torch.arange(half, vocab_size), vocab, info)


def class_balance(data: TaskData) -> dict:
    """How the scored targets spread over the classes: ``{"counts" (K,), "fractions" (K,), "majority_class",
    "majority_fraction" (the accuracy of always answering the most frequent class), "chance" (1/K)}``."""
    if not isinstance(data, TaskData):
        raise TypeError(f"data must be a TaskData, got {type(data).__name__}")
    classes = data.classes()
    counts = torch.bincount(classes, minlength=len(data.answer_ids))
    fractions = counts.double() / max(1, int(counts.sum()))
    major = int(counts.argmax())
    return {
        "counts": counts,
        "fractions": fractions,
        "majority_class": major,
        "majority_fraction": float(fractions[major]),
        "chance": 1.0 / len(data.answer_ids),
    }
