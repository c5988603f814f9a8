"""The command line: ``python -m retnet_edu.experiments.bench decode|train|official [--quick] [--out DIR] ...``
(``--help`` lists the flags). Runs one command, prints its table, and writes its result with the provenance
(command line, machine, code version, date) as ``<out>/<command>-<device>.json`` and ``.png``."""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import shlex
import sys
import time

import torch

import retnet_edu.experiments.bench as _package
from retnet_edu.experiments.bench.common import (
    COMMANDS,
    DEFAULT_OUT,
    DTYPES,
    SCHEMA,
    _device,
    _load,
    code_version,
    machine_info,
    save_result,
)
from retnet_edu.experiments.bench.decode import DECODE_CONTEXTS, run_decode
from retnet_edu.experiments.bench.official import run_official
from retnet_edu.experiments.bench.train import TRAIN_LENGTHS, run_train

__all__ = ["QUICK", "main"]

QUICK = {
    "decode": dict(sizes=("cpu-tiny",), batches=(1, 2), contexts=(16, 32), repeats=2, inner=2, warmup=1),
    "train": dict(size="cpu-tiny", lengths=(32, 64), tokens=64, chunk_sizes=(8, 16), repeats=2, warmup=1),
    "official": dict(size="cpu-tiny", lengths=(32,), batch=1, chunk_size=8, recurrent_steps=4, repeats=2, warmup=1),
}


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m retnet_edu.experiments.bench",
        description=_package.__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    ap.add_argument("command", choices=COMMANDS)
    ap.add_argument("--quick", action="store_true", help="tiny sizes, a few repeats: seconds (for tests)")
    ap.add_argument(
        "--out",
        default=DEFAULT_OUT,
        help="folder for <command>-<device>.json and .png (git-ignored by "
        "default; the course's recorded runs were written with --out benchmarks)",
    )
    ap.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda", "mps"], help="official: always the CPU")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (0 = leave PyTorch's default)")
    ap.add_argument("--dtype", default="float32", choices=sorted(DTYPES), help="decode and train")
    ap.add_argument("--repeats", type=int, default=None, help="timed blocks per point (default per command)")
    ap.add_argument("--sizes", default="cpu,gpu", help="decode: model sizes (training config names)")
    ap.add_argument("--size", default="cpu", help="train, official: the model size")
    ap.add_argument("--batches", default="1,8", help="decode: batch sizes")
    ap.add_argument("--contexts", default=",".join(map(str, DECODE_CONTEXTS)), help="decode: context lengths")
    ap.add_argument(
        "--lengths", default=None, help="train: sequence lengths (default 512,…,8192); official: default 512,2048"
    )
    ap.add_argument("--tokens", type=int, default=8192, help="train: tokens per step (batch = tokens // T)")
    ap.add_argument("--chunk-sizes", default="64,256,512", help="train: chunk sizes")
    ap.add_argument("--max-cache-mib", type=float, default=3072.0, help="decode: skip larger KV caches")
    ap.add_argument("--max-gib", type=float, default=8.0, help="train: skip larger T×T score memory (estimate)")
    ap.add_argument("--no-memory", action="store_true", help="decode, train: time only")
    ap.add_argument(
        "--compile",
        action="store_true",
        help="decode: also time one torch.compile'd step of each model, interleaved with the eager steps "
        "(written as decode-compiled-<device>.json)",
    )
    ap.add_argument(
        "--compile-mode",
        default=None,
        help="decode --compile: torch.compile's mode (e.g. reduce-overhead: CUDA graphs on a GPU; default: none)",
    )
    return ap


def _ints(text: str, name: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise SystemExit(f"--{name} must be a comma-separated list of integers, got {text!r}") from None


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ns = _parser().parse_args(argv)
    if ns.threads < 0:
        raise SystemExit("--threads must be >= 0")
    if (ns.compile or ns.compile_mode) and ns.command != "decode":
        raise SystemExit("--compile and --compile-mode apply to the decode command only")
    if ns.compile_mode and not ns.compile:
        raise SystemExit("--compile-mode needs --compile")
    if ns.threads:
        torch.set_num_threads(ns.threads)
    device = torch.device("cpu") if ns.command == "official" else _device(ns.device)
    started = time.perf_counter()
    load_before = _load()
    code = code_version()  # before anything is written
    say = lambda line: print(line, flush=True)  # noqa: E731
    kw: dict = {}
    if ns.command == "decode":
        kw = dict(
            sizes=tuple(s for s in ns.sizes.split(",") if s),
            batches=_ints(ns.batches, "batches"),
            contexts=_ints(ns.contexts, "contexts"),
            device=device,
            dtype=ns.dtype,
            memory=not ns.no_memory,
            max_cache_mib=ns.max_cache_mib,
            compile=ns.compile,
            compile_mode=ns.compile_mode,
        )
    elif ns.command == "train":
        kw = dict(
            size=ns.size,
            lengths=_ints(ns.lengths, "lengths") if ns.lengths else TRAIN_LENGTHS,
            tokens=ns.tokens,
            chunk_sizes=_ints(ns.chunk_sizes, "chunk-sizes"),
            device=device,
            dtype=ns.dtype,
            memory=not ns.no_memory,
            max_gib=ns.max_gib,
        )
    else:
        kw = dict(size=ns.size, lengths=_ints(ns.lengths, "lengths") if ns.lengths else (512, 2048))
    if ns.quick:
        kw.update(QUICK[ns.command])
    if ns.repeats is not None:
        kw["repeats"] = ns.repeats
    runner = {"decode": run_decode, "train": run_train, "official": run_official}[ns.command]
    say(f"[bench] {ns.command} on {device.type}, torch threads {torch.get_num_threads()}, load {load_before}")
    body = runner(progress=say, **kw)
    machine = machine_info(device)
    machine["load_avg_before"] = load_before
    machine["load_avg_after"] = machine.pop("load_avg")
    result = {
        "schema": SCHEMA,
        "quick": bool(ns.quick),
        "command_line": "python -m retnet_edu.experiments.bench " + " ".join(shlex.quote(a) for a in argv),
        "date": _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat(),
        "machine": machine,
        "code": code,
        "wall_seconds": round(time.perf_counter() - started, 1),
        **body,
    }  # body: command, settings, …
    json_path, png_path = save_result(result, ns.out)
    say(f"[bench] summary: {json.dumps(result['summary'], ensure_ascii=False)}")
    say(
        f"[bench] wrote {json_path}"
        + (f" and {png_path}" if png_path else "")
        + f" in {result['wall_seconds']:.0f} s; load {load_before} → {machine['load_avg_after']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
