"""The ``exact`` semantics (alias ``probability``) as a registry entry.

The semirings registry announces ``exact`` lazily as
``einlog.circuit.semantics:EXACT`` so that importing the semirings does not
import PySDD and the circuit package.  Exact inference is not a tensor
semiring (it needs knowledge compilation), so this entry only carries the
compile budgets and hands the work to :class:`~einlog.circuit.exact.ExactEngine`.
Integrators dispatch on ``semantics.kind == "exact"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch

from einlog.circuit.compile import CompileLimits
from einlog.circuit.exact import EvidenceSpec, ExactEngine
from einlog.errors import ConfigError
from einlog.ground.program import GroundProgram
from einlog.semirings.base import Semantics

__all__ = ["ExactSemantics", "EXACT"]


class ExactSemantics(Semantics):
    """Exact ProbLog probabilities by knowledge compilation (options: max_size, time_limit)."""

    kind: ClassVar[str] = "exact"
    name = "exact"
    description = "exact probability by knowledge compilation (ProbLog's semantics)"

    def __init__(self, limits: CompileLimits | None = None) -> None:
        self.limits = limits or CompileLimits()

    def configure(self, **options: Any) -> ExactSemantics:
        unknown = sorted(set(options) - {"max_size", "time_limit"})
        if unknown:
            raise ConfigError(
                f"semantics 'exact' has no option(s) {unknown}",
                hint="the options are max_size (SDD elements) and time_limit (seconds)",
            )
        try:
            max_size = int(options.get("max_size", self.limits.max_size))
            tl = options.get("time_limit", self.limits.time_limit)
            time_limit = None if tl is None else float(tl)
        except (TypeError, ValueError):
            raise ConfigError(
                f"bad option value for 'exact': {options}",
                hint="max_size is an integer, time_limit a number of seconds",
            ) from None
        if max_size <= 0 or (time_limit is not None and time_limit <= 0):
            raise ConfigError("exact: max_size and time_limit must be positive")
        return ExactSemantics(CompileLimits(max_size=max_size, time_limit=time_limit))

    def engine(self, gp: GroundProgram, roots: Sequence[int] | None = None,
               **kwargs: Any) -> ExactEngine:
        """An :class:`ExactEngine` for ``gp`` under this entry's budgets."""
        return ExactEngine(gp, roots, limits=self.limits, **kwargs)

    def run(
        self,
        gp: GroundProgram,
        weights: torch.Tensor | Sequence[float],
        evidence: EvidenceSpec | None = None,
    ) -> torch.Tensor:
        """``P(q | e)`` of every ``gp.queries`` atom under leaf probabilities ``weights``."""
        w = weights if isinstance(weights, torch.Tensor) else torch.as_tensor(
            weights, dtype=torch.float64
        )
        return self.engine(gp).probabilities(w, evidence)

    def __repr__(self) -> str:
        lim = self.limits
        return f"<ExactSemantics max_size={lim.max_size} time_limit={lim.time_limit}>"


EXACT = ExactSemantics()
