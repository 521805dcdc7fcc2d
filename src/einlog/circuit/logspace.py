"""Guarded logarithms shared by the layered and the flat tensor circuits.

Why: both evaluate in log space from leaf probabilities that may be exactly 0 or
1; ``log 0`` must be ``-inf`` (not NaN) and, under autograd, the guarded branch
must pass a zero gradient -- the double ``where`` does both.  One definition, so
the two circuit forms cannot drift apart in how they treat the boundary.
"""

from __future__ import annotations

import math

import torch

__all__ = ["NEG_INF", "safe_log", "safe_log1p_neg"]

NEG_INF = -math.inf


def safe_log(x: torch.Tensor) -> torch.Tensor:
    """``log x`` with ``log 0 = -inf`` and a zero (not NaN) gradient at 0."""
    ok = x > 0
    return torch.where(ok, torch.log(torch.where(ok, x, 1.0)), NEG_INF)


def safe_log1p_neg(p: torch.Tensor) -> torch.Tensor:
    """``log(1 - p)`` (via ``log1p``: exact for small p) with a zero gradient at p = 1."""
    ok = p < 1
    return torch.where(ok, torch.log1p(-torch.where(ok, p, 0.0)), NEG_INF)
