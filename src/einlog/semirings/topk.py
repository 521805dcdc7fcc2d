"""Top-k proofs as a selectable semantics.

Top-k is not a tensor semiring (it keeps a Python list of proofs per atom),
so this is only the registry entry: it carries the option ``k`` and hands
the work to :func:`einlog.eval.proofs.top_k_proofs`, imported lazily so the
semirings package does not depend on the evaluators.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import torch

from einlog.errors import ConfigError
from einlog.semirings.base import Semantics

if TYPE_CHECKING:
    from einlog.eval.proofs import TopKProofs
    from einlog.ground.program import GroundProgram

__all__ = ["TopKSemantics"]


class TopKSemantics(Semantics):
    """The ``topk`` semantics: the ``k`` most probable proofs of every atom."""

    kind: ClassVar[str] = "proofs"
    name = "topk"
    description = (
        "the k most probable proofs per atom (option k, default 3); probability = "
        "exact probability of the disjunction of those proofs (a lower bound)"
    )

    def __init__(self, k: int = 3) -> None:
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ConfigError(f"topk needs an integer k >= 1, got {k!r}", hint="e.g. k=3")
        self.k = k

    def configure(self, **options: Any) -> TopKSemantics:
        unknown = sorted(set(options) - {"k"})
        if unknown:
            raise ConfigError(
                f"semantics 'topk' has no option(s) {unknown}", hint="the only option is k"
            )
        k = options.get("k", self.k)
        try:
            k = int(k)
        except (TypeError, ValueError):
            raise ConfigError(f"topk needs an integer k >= 1, got {k!r}", hint="e.g. k=3") from None
        return TopKSemantics(k)

    def run(self, gp: GroundProgram, weights: Sequence[float] | torch.Tensor) -> TopKProofs:
        """Top-k proofs of every atom of ``gp`` under leaf probabilities ``weights``."""
        from einlog.eval.proofs import top_k_proofs

        return top_k_proofs(gp, weights, self.k)

    def __repr__(self) -> str:
        return f"<TopKSemantics k={self.k}>"
