"""What every benchmark command shares: argument checks, the model sizes, timing (``Timer``, ``time_interleaved``,
``summarize``), memory (``peak_memory``, ``memory_method``, ``rss_bytes``), the machine and the code a result was
measured with (``machine_info``, ``code_version``) and the result files (``save_result``, ``load_result``, schema
``SCHEMA``). How time and memory are measured: see the package's docstring (``retnet_edu.experiments.bench``)."""

from __future__ import annotations

import gc
import json
import numbers
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

from retnet_edu._args import check_int as _check_positive_int
from retnet_edu.baselines.transformer import TransformerConfig
from retnet_edu.experiments.data import CORPUS_VOCAB_SIZE
from retnet_edu.experiments.measure import peak_tensor_bytes
from retnet_edu.experiments.runtime import get_device
from retnet_edu.experiments.train import get_config, model_configs
from retnet_edu.model import RetNetConfig

__all__ = [
    "SCHEMA",
    "COMMANDS",
    "DTYPES",
    "DEFAULT_OUT",
    "model_sizes",
    "synchronize",
    "Timer",
    "time_interleaved",
    "summarize",
    "peak_memory",
    "memory_method",
    "rss_bytes",
    "machine_info",
    "code_version",
    "result_stem",
    "save_result",
    "load_result",
]

SCHEMA = "retnet_edu.bench/1"  # the format's name: it predates the move to experiments/, the format is the same
COMMANDS = ("decode", "train", "official")
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16, "float64": torch.float64}


def check_ints(values, name: str) -> tuple[int, ...]:
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(f"{name} must be a sequence of positive ints, got {type(values).__name__}")
    out = tuple(_check_positive_int(v, name) for v in values)
    if not out:
        raise ValueError(f"{name} must not be empty")
    return out


def _device(device) -> torch.device:
    if isinstance(device, torch.device):
        return device
    if device is None or device == "auto":
        return get_device()
    if not isinstance(device, str):
        raise TypeError(f"device must be a torch.device, 'auto', 'cpu', 'cuda' or 'mps', got {type(device).__name__}")
    return get_device(device)


def _dtype(dtype) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        if dtype not in DTYPES.values():
            raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {dtype}")
        return dtype
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
    return DTYPES[dtype]


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).replace("torch.", "")


# ----------------------------------------------------------------------------------------------------------
# model sizes
# ----------------------------------------------------------------------------------------------------------
def model_sizes(name: str, vocab_size: int = CORPUS_VOCAB_SIZE) -> tuple[RetNetConfig, TransformerConfig]:
    """The RetNet and the parameter-matched Transformer of the training config ``name``
    (``retnet_edu.experiments.train``): "cpu" is the course's model (notebook 08: d = 128, 4 layers, 4 heads), "gpu"
    the larger one (d = 384, 6 layers, 6 heads), "cpu-tiny" and "notebook" smaller ones. The vocabulary defaults to
    the course corpus's 76 characters."""
    return model_configs(get_config(name), _check_positive_int(vocab_size, "vocab_size"))


# ----------------------------------------------------------------------------------------------------------
# timing and memory, per device
# ----------------------------------------------------------------------------------------------------------
def synchronize(device: torch.device) -> None:
    """Wait until the device has finished its queued work (CUDA and MPS run asynchronously; the CPU does not)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


class Timer:
    """Seconds per call of ``fn``, averaged over ``inner`` back-to-back calls.

    CUDA: ``torch.cuda.synchronize``, then two ``torch.cuda.Event(enable_timing=True)`` recorded around the calls
    and ``elapsed_time`` between them (GPU time of the queued work, no Python launch gaps counted twice).
    CPU and MPS: the device is synchronised before and after, and ``time.perf_counter`` measures wall time.
    """

    def __init__(self, device: torch.device | str = "cpu"):
        self.device = _device(device)

    def __call__(self, fn: Callable[[], object], inner: int = 1) -> float:
        if not callable(fn):
            raise TypeError(f"fn must be callable, got {type(fn).__name__}")
        inner = _check_positive_int(inner, "inner")
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(inner):
                fn()
            end.record()
            end.synchronize()
            return start.elapsed_time(end) / 1e3 / inner
        synchronize(self.device)
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        synchronize(self.device)
        return (time.perf_counter() - t0) / inner


def time_interleaved(
    fns: dict[str, Callable[[], object]],
    repeats: int = 5,
    warmup: int = 1,
    inner: int = 1,
    device: torch.device | str = "cpu",
) -> dict[str, list[float]]:
    """Time several candidates side by side: ``warmup`` untimed calls of each, then ``repeats`` rounds in which
    every candidate is timed once (``inner`` calls per block), the order reversed every other round. Returns
    name → the ``repeats`` seconds-per-call samples. Ratios of their medians compare the candidates under the same
    machine conditions."""
    if not isinstance(fns, dict) or not fns or not all(callable(f) for f in fns.values()):
        raise TypeError("fns must be a non-empty dict of name -> callable")
    repeats = _check_positive_int(repeats, "repeats")
    if isinstance(warmup, bool) or not isinstance(warmup, numbers.Integral) or warmup < 0:
        raise ValueError(f"warmup must be an int >= 0, got {warmup!r}")
    timer = Timer(device)
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    names = list(fns)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        for name in names if r % 2 == 0 else names[::-1]:
            samples[name].append(timer(fns[name], inner))
    return samples


def summarize(samples) -> dict:
    """``{"median", "q25", "q75", "min", "n"}`` of a list of timings (seconds)."""
    xs = sorted(float(s) for s in samples)
    if not xs:
        raise ValueError("samples must not be empty")
    if len(xs) == 1:
        q25 = q75 = xs[0]
    else:
        q25, _, q75 = statistics.quantiles(xs, n=4, method="inclusive")
    return {"median": statistics.median(xs), "q25": q25, "q75": q75, "min": xs[0], "n": len(xs)}


def memory_method(device: torch.device | str) -> str:
    """What ``peak_memory`` measures on ``device``, in words (recorded in every result)."""
    device = _device(device)
    if device.type == "cuda":
        return "torch.cuda.max_memory_allocated during the call, minus torch.cuda.memory_allocated before it"
    return (
        "peak bytes held at once by tensors created by PyTorch operators during the call "
        "(retnet_edu.experiments.measure.peak_tensor_bytes; memory held before the call, e.g. the weights, "
        "not counted)"
    )


def peak_memory(fn: Callable[[], object], device: torch.device | str = "cpu") -> int:
    """Peak bytes that ``fn()`` adds on ``device`` (see ``memory_method``); its result is dropped first."""
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    device = _device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        gc.collect()
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        result = fn()
        del result
        torch.cuda.synchronize(device)
        return int(torch.cuda.max_memory_allocated(device) - base)
    return int(peak_tensor_bytes(fn))


def rss_bytes() -> int | None:
    """The resident set size of this process (Linux ``/proc/self/statm``), or None where it cannot be read."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


# ----------------------------------------------------------------------------------------------------------
# provenance and result files
# ----------------------------------------------------------------------------------------------------------
def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _load() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (OSError, AttributeError):
        return None


def machine_info(device: torch.device | str = "cpu") -> dict:
    """CPU model, core count, Python, torch, threads, device (and GPU name), load averages (1, 5, 15 min)."""
    device = _device(device)
    info = {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "device": device.type,
        "gpu": None,
        "load_avg": _load(),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
        info["cuda"] = torch.version.cuda
    return info


def result_stem(result: dict) -> str:
    """The file name of a result without extension: ``<command>-<device>``, or ``<command>-<variant>-<device>`` for
    a variant of a command (``decode --compile`` writes ``decode-compiled-cpu``)."""
    variant = result.get("variant")
    return "-".join([result["command"], *([variant] if variant else []), result["machine"]["device"]])


def save_result(result: dict, out_dir: str | Path) -> tuple[Path, Path | None]:
    """Write ``<out>/<stem>.json`` (``result_stem``: ``<command>-<device>``, or ``<command>-<variant>-<device>``) and
    its figure (``.png``, drawn by ``retnet_edu.experiments.bench_plots``); returns both paths (the PNG is None when
    matplotlib is missing)."""
    if not isinstance(result, dict) or result.get("schema") != SCHEMA:
        raise ValueError(f"result must be a dict with schema {SCHEMA!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = result_stem(result)
    path = out / f"{stem}.json"
    path.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        from retnet_edu.experiments.bench_plots import plot_benchmark
    except ImportError:  # pragma: no cover - matplotlib is a dependency
        return path, None
    drawn = plot_benchmark(result)
    png = out / f"{stem}.png"
    drawn["fig"].savefig(png, dpi=110, bbox_inches="tight")
    plt.close(drawn["fig"])
    return path, png


def load_result(path: str | Path) -> dict:
    """Read a result written by ``save_result`` (checks the schema)."""
    data = json.loads(Path(path).read_text())
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise ValueError(f"{path} is not a retnet_edu.experiments.bench result (schema {SCHEMA!r})")
    return data


DEFAULT_OUT = "runs/bench"  # runs/ is git-ignored: a re-run never overwrites the recorded results in benchmarks/


def code_version() -> dict:
    """The package version and, when it runs from a git checkout, the commit and whether tracked files other than
    the recorded results (``benchmarks/``) differ from it."""
    from retnet_edu import __version__

    info = {"retnet_edu": __version__, "git_commit": None, "git_dirty": None}
    root = Path(__file__).resolve().parents[3]  # retnet_edu/experiments/bench/common.py → the repo
    if (root / ".git").exists():
        import subprocess

        try:
            commit = subprocess.run(
                ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
            dirty = subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)benchmarks"],
                cwd=root,
                capture_output=True,
                text=True,
                timeout=10,
                check=True,
            ).stdout.strip()
            info.update(git_commit=commit, git_dirty=bool(dirty))
        except (OSError, subprocess.SubprocessError):
            pass
    return info
