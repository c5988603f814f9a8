"""The generated tasks (retnet_edu.experiments.tasks): mini-ListOps checked by an independent evaluator, MQAR checked
example by example, class balance, determinism and bad input."""

import random

import pytest
import torch

from retnet_edu.experiments.tasks import (
    IGNORE,
    LISTOPS_VOCAB,
    TaskData,
    class_balance,
    decode,
    listops_expressions,
    listops_tokens,
    listops_tree,
    listops_value,
    mini_listops,
    mqar,
)


# ---------------------------------------------------------------------------------------------------------
# an independent ListOps evaluator: a stack machine over the token strings (no trees, no recursion)
# ---------------------------------------------------------------------------------------------------------
def stack_eval(tokens):
    stack = []  # frames: [operator, [argument values]]
    result = None
    for tok in tokens:
        if tok.startswith("["):
            stack.append([tok[1:], []])
        elif tok == "]":
            op, args = stack.pop()
            assert len(args) >= 2, "an operator takes at least two arguments"
            s = sorted(args)
            value = {
                "MIN": s[0],
                "MAX": s[-1],
                "SM": sum(s) % 10,
                # int(np.median(...)) as in LRA: the mean of the middle pair, truncated
                "MED": int((s[(len(s) - 1) // 2] + s[len(s) // 2]) / 2),
            }[op]
            if stack:
                stack[-1][1].append(value)
            else:
                result = value
        else:
            assert tok.isdigit() and len(tok) == 1
            if stack:
                stack[-1][1].append(int(tok))
            else:
                result = int(tok)
    assert not stack, "unbalanced brackets"
    return result


def test_paper_example_and_operators():
    tokens = "[MAX 4 3 [MIN 2 3 ] 1 0 [MED 1 5 8 9 2 ] ]".split()
    assert stack_eval(tokens) == 5
    tree = ("MAX", [4, 3, ("MIN", [2, 3]), 1, 0, ("MED", [1, 5, 8, 9, 2])])
    assert listops_tokens(tree) == tokens and listops_value(tree) == 5
    assert listops_value(("MED", [1, 2])) == 1 and listops_value(("MED", [2, 5, 9, 0])) == 3
    assert listops_value(("SM", [9, 8, 7])) == 4
    with pytest.raises(ValueError):
        listops_value(("AVG", [1, 2]))


def test_generated_listops_agree_with_the_stack_evaluator():
    data = mini_listops(400, max_length=64, seed=3)
    assert data.inputs.shape == data.targets.shape == (400, 64)
    ids = {tok: i for i, tok in enumerate(LISTOPS_VOCAB)}
    seen = set()
    for x, y in zip(data.inputs, data.targets, strict=True):
        length = int((x != 0).sum())
        assert 32 <= length <= 64
        assert bool((x[length:] == 0).all()) and bool((x[:length] != 0).all())  # right-padded with <pad>
        tokens = [LISTOPS_VOCAB[i] for i in x[:length].tolist()]
        assert tokens[0].startswith("[") and tokens[-1] == "]"
        scored = (y != IGNORE).nonzero().flatten().tolist()
        assert scored == [length - 1]  # the last token only
        assert int(y[length - 1]) == ids[str(stack_eval(tokens))]
        seen.add(tuple(tokens))
    assert len(seen) == 400  # distinct expressions


def test_tree_shape_follows_the_grammar():
    rng = random.Random(0)
    for _ in range(300):
        tree, length = listops_tree(rng, max_depth=4, max_args=5)
        tokens = listops_tokens(tree)
        assert len(tokens) == length
        depth, deepest, args = 0, 0, []
        for tok in tokens:  # nesting depth and argument counts from the tokens
            if tok.startswith("["):
                depth += 1
                deepest = max(deepest, depth)
                args.append(0)
            elif tok == "]":
                depth -= 1
                n = args.pop()
                assert 2 <= n <= 5
                if args:
                    args[-1] += 1
            elif args:
                args[-1] += 1
        assert deepest <= 3  # operators only above max_depth


def test_listops_is_seeded_and_split_disjoint():
    a, b = mini_listops(60, 32, seed=1), mini_listops(60, 32, seed=1)
    assert torch.equal(a.inputs, b.inputs) and torch.equal(a.targets, b.targets)
    assert not torch.equal(a.inputs, mini_listops(60, 32, seed=2).inputs)
    train, test = a.split(50)
    assert len(train) == 50 and len(test) == 10
    assert not ({tuple(r) for r in train.inputs.tolist()} & {tuple(r) for r in test.inputs.tolist()})
    exprs = listops_expressions(20, 10, 20, seed=5)
    assert all(10 <= len(t) <= 20 and stack_eval(t) == v for t, v in exprs)


def test_listops_bad_input():
    with pytest.raises(ValueError):
        listops_expressions(5, 30, 20)
    with pytest.raises(TypeError):
        listops_expressions(5.0, 10, 20)
    with pytest.raises(ValueError):
        listops_expressions(5, 10, 20, max_args=1)
    with pytest.raises(RuntimeError, match="widen"):
        listops_expressions(5, 500, 600, max_depth=3, max_args=3, max_draws=1000)


def test_class_balance():
    data = mini_listops(500, 64, seed=0)
    bal = class_balance(data)
    assert bal["counts"].sum() == 500 and bal["counts"].shape == (10,)
    assert abs(float(bal["fractions"].sum()) - 1) < 1e-12
    values = [stack_eval([LISTOPS_VOCAB[i] for i in x.tolist() if i]) for x in data.inputs]
    assert bal["counts"].tolist() == [values.count(v) for v in range(10)]
    assert bal["majority_fraction"] == max(values.count(v) for v in range(10)) / 500
    assert bal["chance"] == 0.1
    with pytest.raises(TypeError):
        class_balance("data")


# ---------------------------------------------------------------------------------------------------------
# MQAR
# ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("T,N,V,a", [(64, 8, 128, 1.0), (32, 4, 40, 0.01), (128, 16, 256, 0.5), (8, 2, 10, 1.0)])
def test_mqar_examples(T, N, V, a):
    data = mqar(50, T, N, V, a, seed=7)
    assert data.inputs.shape == (50, T) and data.answer_ids.tolist() == list(range(V // 2, V))
    assert bool((data.inputs >= 0).all()) and bool((data.inputs < V).all())
    for x, y in zip(data.inputs.tolist(), data.targets.tolist(), strict=True):
        keys, values = x[0 : 2 * N : 2], x[1 : 2 * N : 2]
        assert len(set(keys)) == N and all(1 <= k < V // 2 for k in keys)
        assert len(set(values)) == N and all(V // 2 <= v < V for v in values)
        memory = dict(zip(keys, values, strict=True))
        assert all(t == IGNORE for t in y[: 2 * N])
        scored = [i for i, t in enumerate(y) if t != IGNORE]
        assert len(scored) == N and all((i - 2 * N) % 2 == 0 for i in scored)
        assert sorted(x[i] for i in scored) == sorted(keys)  # every key queried once
        assert all(y[i] == memory[x[i]] for i in scored)  # the value that followed it


def test_mqar_power_law_moves_queries_forward():
    early = mqar(300, 128, 4, 256, power_a=0.01, seed=0)
    uniform = mqar(300, 128, 4, 256, power_a=1.0, seed=0)

    def pos(d):
        return (d.targets != IGNORE).nonzero()[:, 1].double().mean()

    assert pos(early) < 8 + 30 < pos(uniform)


def test_mqar_seeded_and_classes():
    a, b = mqar(20, 32, 4, 64, seed=1), mqar(20, 32, 4, 64, seed=1)
    assert torch.equal(a.inputs, b.inputs) and torch.equal(a.targets, b.targets)
    assert not torch.equal(a.inputs, mqar(20, 32, 4, 64, seed=2).inputs)
    cls = a.classes()
    assert cls.shape == (80,) and bool((cls >= 0).all()) and bool((cls < 32).all())
    assert class_balance(a)["chance"] == 1 / 32  # V/2 = 32 values


def test_mqar_false_cues_in_the_filler():
    """Each queried key turns up in the filler about (T - 3N)/V times (filler uniform over the vocabulary): with
    V = 2T about half a time, just above T almost once (the first mini-LRA sweep's V = T/2 at T = 128, now refused:
    about twice)."""
    for V, want in ((256, (128 - 12) / 256), (129, (128 - 12) / 129)):
        d = mqar(2000, 128, 4, V, power_a=1.0, seed=0)
        keys = d.inputs[:, 0:8:2]  # (N, 4) the context's keys
        filler = d.inputs[:, 8:].clone()
        filler[d.targets[:, 8:] != IGNORE] = -1  # the real queries are not false cues
        extra = (filler[:, :, None] == keys[:, None, :]).sum(dim=1).double().mean()
        assert abs(float(extra) - want) < 0.1 * want


@pytest.mark.parametrize(
    "kw,err",
    [
        (dict(seq_len=15, num_pairs=4), ValueError),
        (dict(vocab_size=8, num_pairs=4), ValueError),
        (dict(vocab_size=32), ValueError),  # not > seq_len (Zoology's precondition)
        (dict(power_a=0.0), ValueError),
        (dict(power_a=2.0), ValueError),
        (dict(num_pairs=0), ValueError),
        (dict(seq_len=32.0), TypeError),
    ],
)
def test_mqar_bad_input(kw, err):
    with pytest.raises(err):
        mqar(4, **{**dict(seq_len=32, num_pairs=4, vocab_size=64), **kw})


def test_taskdata_helpers():
    data = mini_listops(10, 16, seed=0)
    assert data.seq_len == 16 and data.vocab_size == len(LISTOPS_VOCAB) and len(data) == 10
    text = decode(data.inputs[0], data.vocab)
    assert "<pad>" not in text and text.split()[-1] == "]"
    with pytest.raises(ValueError):
        data.split(11)
    with pytest.raises(ValueError):
        TaskData(
            "x", torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, 4, dtype=torch.long), torch.arange(2), ("a", "b")
        )
