#!/usr/bin/env python3
"""Execute notebooks top to bottom in fresh kernels and store their outputs ("bless").

Usage: python scripts/execute_notebooks.py [NB.ipynb ...]   (default: every notebook under notebooks/)

Run it through ``python3 course.py bless`` so that it gets the test settings (one thread, PYTHONHASHSEED=0,
CPU device): stored outputs must be what strict nbval will see. Each notebook runs with its own folder as the
working directory; per-cell timing metadata is not recorded (it would only add noise to diffs).
Env: NB_TIMEOUT (seconds per cell, default 600), NB_JOBS (notebooks run at once, default 1).
"""

from __future__ import annotations

import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def execute(path: str) -> tuple[str, float]:
    p = Path(path).resolve()
    nb = nbformat.read(p, as_version=4)
    nb.metadata["kernelspec"] = KERNELSPEC
    client = NotebookClient(
        nb,
        timeout=int(os.environ.get("NB_TIMEOUT", "600")),
        kernel_name="python3",
        resources={"metadata": {"path": str(p.parent)}},
        record_timing=False,
    )
    t0 = time.perf_counter()
    client.execute()
    dt = time.perf_counter() - t0
    nb.metadata.get("language_info", {}).pop("version", None)
    nbformat.write(nb, p)
    return str(p.relative_to(ROOT)), dt


def main(argv: list[str]) -> int:
    paths = argv or sorted(str(p) for p in (ROOT / "notebooks").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    jobs = int(os.environ.get("NB_JOBS", "1"))
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        for name, dt in pool.map(execute, paths):
            print(f"{name}: executed in {dt:.1f} s", flush=True)
    print(f"{len(paths)} notebook(s) in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
