"""Notebook helpers: one stable preamble for every notebook, and device selection.

The preamble makes stored notebook outputs reproducible (the course's notebooks are tested with strict nbval,
which compares printed text): it seeds every random generator, pins PyTorch to one thread (reductions and
matrix products round differently with 1 and 2 threads), fixes print precision and the figure size, and
silences warnings that would otherwise leak version-dependent text into stored outputs.

Seeding and device selection live in ``retnet_edu.experiments.runtime`` (the training code needs them too);
they are re-exported here so that a notebook imports everything it starts with from one place.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import torch

from retnet_edu.experiments.runtime import get_device, seed_everything

__all__ = ["below", "course_setup", "get_device", "repo_root", "seed_everything"]

FIGSIZE = (6.4, 3.6)
DPI = 100
# Okabe & Ito's colour-blind-safe palette (Color Universal Design): the colours stay distinct under the common
# colour-vision deficiencies; figures add line styles as a second cue where lines are compared.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")


def _ipython():
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency of the course, not of the package
        return None
    return get_ipython()


def course_setup(seed: int = 0, threads: int = 1, quiet: bool = False) -> None:
    """The stable preamble every course notebook calls first.

    - seeds ``random``, NumPy and PyTorch with ``seed``;
    - ``torch.set_num_threads(threads)`` (1 by default: stored outputs then do not depend on the core count);
    - float64 as PyTorch's default dtype is *not* set: each notebook states its dtypes explicitly;
    - print precision 4 for tensors and arrays;
    - inline PNG figures of a fixed size and DPI (the ``<Figure size ...>`` text depends on both);
    - filters warnings whose text depends on library versions.

    Prints one stable line unless ``quiet``.
    """
    seed_everything(seed)
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be a positive int, got {threads!r}")
    torch.set_num_threads(threads)
    torch.set_printoptions(precision=4, sci_mode=None)
    np.set_printoptions(precision=4, suppress=True)
    # TF32 would make float32 matmuls on recent NVIDIA GPUs ~1e-3 accurate: the course checks 1e-5.
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False

    import matplotlib

    shell = _ipython()
    if shell is not None:
        shell.run_line_magic("matplotlib", "inline")
        shell.run_line_magic("config", "InlineBackend.figure_formats = ['png']")
    matplotlib.rcParams.update(
        {
            "figure.figsize": FIGSIZE,
            "figure.dpi": DPI,
            "savefig.dpi": DPI,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "font.size": 10,
            "legend.fontsize": 9,
            "image.cmap": "viridis",
            "axes.prop_cycle": matplotlib.cycler(color=list(PALETTE)),
            # explicit white backgrounds: figures stay readable under a dark JupyterLab or VS Code theme
            "figure.facecolor": "white",
            "axes.facecolor": "white",
            "savefig.facecolor": "white",
        }
    )

    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=UserWarning, module="torch")
    warnings.filterwarnings("ignore", message=".*TqdmWarning.*")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if not quiet:
        print(f"course_setup: seed={seed}, torch threads={threads}, torch {torch.__version__.split('+')[0]}")


def below(err: float, limit: float) -> str:
    """``"< limit"`` if the measured error ``err`` is below ``limit``, else an AssertionError. Check cells print this
    instead of the error itself, whose exact digits depend on the CPU, so the stored output stays the same
    everywhere."""
    assert err < limit, f"{err:.3g} is not below {limit:g}"
    return f"< {limit:g}"


def repo_root(start: str | Path | None = None) -> Path:
    """The course's repository root (the folder holding ``course.py`` and ``notebooks/``), wherever the kernel was
    started: in the notebook's folder (JupyterLab), at the root (VS Code, JupyterHub) or anywhere inside the clone.
    Searched from ``start`` (default: the working directory) upwards, then where the package itself lives (an
    editable install). Notebooks find recorded results with it instead of a relative ``Path("..")``."""
    here = Path.cwd() if start is None else Path(start)
    for p in [here, *here.parents]:
        if (p / "course.py").is_file() and (p / "notebooks").is_dir():
            return p
    p = Path(__file__).resolve().parents[2]
    if (p / "course.py").is_file() and (p / "notebooks").is_dir():
        return p
    raise FileNotFoundError(
        f"no course repository (a folder with course.py and notebooks/) above {here}: start Jupyter inside the clone"
    )
