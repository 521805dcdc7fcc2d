"""Semirings and the registry of named semantics.

Pick a semantics with :func:`get_semiring` (the CLI's ``--semantics``);
tensor semirings run in :class:`einlog.eval.FixpointEvaluator`, ``topk`` in
:func:`einlog.eval.top_k_proofs`, ``exact`` in the circuit package.
"""

from einlog.semirings.base import Semantics, Semiring, log1mexp
from einlog.semirings.builtin import (
    AddMultSemiring,
    BooleanSemiring,
    GodelSemiring,
    LogAddMultSemiring,
    LogProductSemiring,
    LogViterbiSemiring,
    LukasiewiczSemiring,
    PossibilisticSemiring,
    ProductSemiring,
    ViterbiSemiring,
)
from einlog.semirings.registry import (
    descriptions,
    get_semiring,
    get_tensor_semiring,
    names,
    register,
    register_lazy,
)
from einlog.semirings.topk import TopKSemantics

__all__ = [
    "Semantics",
    "Semiring",
    "log1mexp",
    "AddMultSemiring",
    "BooleanSemiring",
    "GodelSemiring",
    "LogAddMultSemiring",
    "LogProductSemiring",
    "LogViterbiSemiring",
    "LukasiewiczSemiring",
    "PossibilisticSemiring",
    "ProductSemiring",
    "ViterbiSemiring",
    "TopKSemantics",
    "descriptions",
    "get_semiring",
    "get_tensor_semiring",
    "names",
    "register",
    "register_lazy",
]
