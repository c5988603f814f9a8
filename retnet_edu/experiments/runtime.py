"""Run-time choices shared by the training code and the notebooks: seeding every random generator, and picking
the device (CUDA, then Apple's MPS, then the CPU)."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

__all__ = ["get_device", "seed_everything"]


def seed_everything(seed: int = 0) -> None:
    """Seed Python's ``random``, NumPy and PyTorch (CPU and every CUDA device)."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


def get_device(prefer: str | None = None) -> torch.device:
    """The best available device: CUDA, then Apple's MPS, then the CPU.

    ``prefer`` (or the environment variable ``RETNET_DEVICE``) forces one of "cuda", "mps" or "cpu";
    asking for a device that is not available raises ValueError.
    """
    choice = prefer if prefer is not None else os.environ.get("RETNET_DEVICE") or None
    if choice is not None:
        if choice not in ("cuda", "mps", "cpu"):
            raise ValueError(f"prefer must be 'cuda', 'mps' or 'cpu', got {choice!r}")
        if choice == "cuda" and not torch.cuda.is_available():
            raise ValueError("prefer='cuda' but CUDA is not available on this machine")
        if choice == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise ValueError("prefer='mps' but Apple's MPS backend is not available on this machine")
        return torch.device(choice)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if hasattr(torch.backends, "mps") and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")
