"""Reproducible runs: one call seeds every random number generator training touches.

Why it is built this way: Python's ``random``, numpy and torch (CPU and every CUDA
device) each keep their own generator; forgetting one makes runs differ.  The returned
``torch.Generator`` is what data loaders should shuffle with, so the data order does
not depend on how many random numbers the networks drew.
"""

from __future__ import annotations

import random

import numpy as np
import torch

__all__ = ["seed_everything"]


def seed_everything(seed: int, *, deterministic: bool = False) -> torch.Generator:
    """Seed ``random``, numpy and torch (all devices); return a generator for data order.

    ``deterministic=True`` also asks torch for deterministic kernels (slower on GPU).
    """
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
    return torch.Generator().manual_seed(seed)
