"""The built-in semirings, and the one place that registers them.

Each class is a handful of torch one-liners; the only subtlety is keeping
gradients finite.  Max/min folds use ``scatter_reduce`` amax/amin, whose
backward splits the gradient among ties; products use ``scatter_reduce``
prod, whose backward is exact at zeros; log-space sums use a max-shifted,
NaN-guarded log-sum-exp (:func:`safe_segment_logsumexp`).

Choices worth knowing (also in each ``description``):

* ``boolean`` asks "is the atom *possible*": a leaf is true iff its weight
  is > 0.  Values are 0./1. floats (so the same evaluator runs it);
  ``to_output`` returns a ``bool`` tensor.  With negation it computes the
  stratified model of the world where every possible leaf is true.
* ``possibilistic`` has the same algebra as ``godel`` (max/min) but reads
  leaf weights as possibility degrees; a negated literal ``\\+ b`` gets
  ``1 - Π(b)``, i.e. the necessity of ``not b`` (the duality N(¬b) = 1 - Π(b)).
* the ``log-*`` variants hold log-probabilities (zero = -inf, one = 0) so that
  long conjunctions do not underflow; ``to_output`` returns probabilities.

Annotated-disjunction groups play no role in any of these: each leaf is just
its weight.
"""

from __future__ import annotations

import math

import torch

from einlog.semirings.base import Semiring, _scatter, log1mexp, safe_segment_logsumexp

__all__ = [
    "BooleanSemiring",
    "GodelSemiring",
    "PossibilisticSemiring",
    "ProductSemiring",
    "LukasiewiczSemiring",
    "ViterbiSemiring",
    "AddMultSemiring",
    "LogViterbiSemiring",
    "LogAddMultSemiring",
    "LogProductSemiring",
    "register_builtins",
]


def _counts(segment_ids: torch.Tensor, num_segments: int, like: torch.Tensor) -> torch.Tensor:
    return torch.bincount(segment_ids, minlength=num_segments).to(like.dtype)


class _MaxMin(Semiring):
    """max/min with ``1 - x`` negation on [0, 1]."""

    idempotent = True

    def add(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.maximum(a, b)

    def mul(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.minimum(a, b)

    def negate(self, a: torch.Tensor) -> torch.Tensor:
        return 1.0 - a

    def sum_reduce(self, x: torch.Tensor, dim: int = -1) -> torch.Tensor:
        if x.shape[dim] == 0:
            return super().sum_reduce(x, dim)
        return x.amax(dim)

    def prod_reduce(self, x: torch.Tensor, dim: int = -1) -> torch.Tensor:
        if x.shape[dim] == 0:
            return super().prod_reduce(x, dim)
        return x.amin(dim)

    def segment_add(
        self, values: torch.Tensor, segment_ids: torch.Tensor, num_segments: int
    ) -> torch.Tensor:
        return _scatter(values, segment_ids, num_segments, "amax", self.zero_value)

    def segment_mul(
        self, values: torch.Tensor, segment_ids: torch.Tensor, num_segments: int
    ) -> torch.Tensor:
        return _scatter(values, segment_ids, num_segments, "amin", self.one_value)


class BooleanSemiring(_MaxMin):
    name = "boolean"
    description = (
        "possible truth: or/and over 0/1; a leaf is true iff its weight > 0; "
        "output is a bool tensor"
    )

    def from_probability(self, p: torch.Tensor) -> torch.Tensor:
        return (p > 0).to(p.dtype if p.is_floating_point() else torch.get_default_dtype())

    def to_output(self, x: torch.Tensor) -> torch.Tensor:
        return x > 0.5


class GodelSemiring(_MaxMin):
    name = "godel"
    description = "Gödel fuzzy logic: or = max, and = min, not = 1 - x"


class PossibilisticSemiring(_MaxMin):
    name = "possibilistic"
    description = (
        "possibilistic logic: weights are possibility degrees, max/min; "
        "\\+ b is the necessity of not b, 1 - Π(b)"
    )


class ProductSemiring(Semiring):
    name = "product"
    description = "product fuzzy logic / independence: or = a + b - ab, and = ab, not = 1 - x"

    def add(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a + b - a * b

    def mul(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a * b

    def negate(self, a: torch.Tensor) -> torch.Tensor:
        return 1.0 - a

    def sum_reduce(self, x: torch.Tensor, dim: int = -1) -> torch.Tensor:
        return 1.0 - torch.prod(1.0 - x, dim)

    def prod_reduce(self, x: torch.Tensor, dim: int = -1) -> torch.Tensor:
        return torch.prod(x, dim)

    def segment_add(
        self, values: torch.Tensor, segment_ids: torch.Tensor, num_segments: int
    ) -> torch.Tensor:
        return 1.0 - _scatter(1.0 - values, segment_ids, num_segments, "prod", 1.0)

    def segment_mul(
        self, values: torch.Tensor, segment_ids: torch.Tensor, num_segments: int
    ) -> torch.Tensor:
        return _scatter(values, segment_ids, num_segments, "prod", 1.0)


class LukasiewiczSemiring(Semiring):
    name = "lukasiewicz"
    description = (
        "Łukasiewicz logic: or = min(1, a + b), and = max(0, a + b - 1), not = 1 - x "
        "(not idempotent: a cycle with weight p reaches 1 after about 1/p iterations)"
    )

    def add(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.clamp(a + b, max=1.0)

    def mul(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.clamp(a + b - 1.0, min=0.0)

    def negate(self, a: torch.Tensor) -> torch.Tensor:
        return 1.0 - a

    def sum_reduce(self, x: torch.Tensor, dim: int = -1) -> torch.Tensor:
        return torch.clamp(x.sum(dim), max=1.0)

    def prod_reduce(self, x: torch.Tensor, dim: int = -1) -> torch.Tensor:
        return torch.clamp(x.sum(dim) - (x.shape[dim] - 1), min=0.0, max=1.0)

    def segment_add(
        self, values: torch.Tensor, segment_ids: torch.Tensor, num_segments: int
    ) -> torch.Tensor:
        return torch.clamp(_scatter(values, segment_ids, num_segments, "sum", 0.0), max=1.0)

    def segment_mul(
        self, values: torch.Tensor, segment_ids: torch.Tensor, num_segments: int
    ) -> torch.Tensor:
        total = _scatter(values, segment_ids, num_segments, "sum", 0.0)
        n = _counts(segment_ids, num_segments, values)
        return torch.clamp(total - (n - 1.0), min=0.0, max=1.0)


class ViterbiSemiring(Semiring):
    name = "viterbi"
    description = "max-product: probability of the most probable proof, not = 1 - x"
    idempotent = True

    def add(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.maximum(a, b)

    def mul(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a * b

    def negate(self, a: torch.Tensor) -> torch.Tensor:
        return 1.0 - a

    def sum_reduce(self, x: torch.Tensor, dim: int = -1) -> torch.Tensor:
        if x.shape[dim] == 0:
            return super().sum_reduce(x, dim)
        return x.amax(dim)

    def prod_reduce(self, x: torch.Tensor, dim: int = -1) -> torch.Tensor:
        return torch.prod(x, dim)

    def segment_add(
        self, values: torch.Tensor, segment_ids: torch.Tensor, num_segments: int
    ) -> torch.Tensor:
        return _scatter(values, segment_ids, num_segments, "amax", 0.0)

    def segment_mul(
        self, values: torch.Tensor, segment_ids: torch.Tensor, num_segments: int
    ) -> torch.Tensor:
        return _scatter(values, segment_ids, num_segments, "prod", 1.0)


class AddMultSemiring(Semiring):
    name = "addmult"
    description = (
        "Scallop's add-mult probability: or = min(1, a + b), and = ab, not = 1 - x "
        "(an upper bound for disjunctions, exact for disjoint proofs)"
    )

    def add(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.clamp(a + b, max=1.0)

    def mul(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a * b

    def negate(self, a: torch.Tensor) -> torch.Tensor:
        return 1.0 - a

    def sum_reduce(self, x: torch.Tensor, dim: int = -1) -> torch.Tensor:
        return torch.clamp(x.sum(dim), max=1.0)

    def prod_reduce(self, x: torch.Tensor, dim: int = -1) -> torch.Tensor:
        return torch.prod(x, dim)

    def segment_add(
        self, values: torch.Tensor, segment_ids: torch.Tensor, num_segments: int
    ) -> torch.Tensor:
        return torch.clamp(_scatter(values, segment_ids, num_segments, "sum", 0.0), max=1.0)

    def segment_mul(
        self, values: torch.Tensor, segment_ids: torch.Tensor, num_segments: int
    ) -> torch.Tensor:
        return _scatter(values, segment_ids, num_segments, "prod", 1.0)


class _LogSpace(Semiring):
    """Log-probability domain: zero = -inf, one = 0, and = +, not = log(1 - exp(x))."""

    log_space = True
    zero_value = -math.inf
    one_value = 0.0

    def mul(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a + b

    def negate(self, a: torch.Tensor) -> torch.Tensor:
        return log1mexp(a)

    def prod_reduce(self, x: torch.Tensor, dim: int = -1) -> torch.Tensor:
        return x.sum(dim)

    def segment_mul(
        self, values: torch.Tensor, segment_ids: torch.Tensor, num_segments: int
    ) -> torch.Tensor:
        return _scatter(values, segment_ids, num_segments, "sum", 0.0)

    def from_probability(self, p: torch.Tensor) -> torch.Tensor:
        return torch.log(p)

    def to_output(self, x: torch.Tensor) -> torch.Tensor:
        return torch.exp(x)

    def _stack_ids(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a, b = torch.broadcast_tensors(a, b)
        flat = torch.stack([a.reshape(-1), b.reshape(-1)], dim=-1).reshape(-1)
        ids = torch.arange(a.numel(), device=a.device).repeat_interleave(2)
        return flat, ids


class LogViterbiSemiring(_LogSpace):
    name = "log-viterbi"
    description = "max-product in log space (max / +): the most probable proof without underflow"
    idempotent = True

    def add(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.maximum(a, b)

    def sum_reduce(self, x: torch.Tensor, dim: int = -1) -> torch.Tensor:
        if x.shape[dim] == 0:
            return super().sum_reduce(x, dim)
        return x.amax(dim)

    def segment_add(
        self, values: torch.Tensor, segment_ids: torch.Tensor, num_segments: int
    ) -> torch.Tensor:
        return _scatter(values, segment_ids, num_segments, "amax", -math.inf)


class LogAddMultSemiring(_LogSpace):
    name = "log-addmult"
    description = "addmult in log space: or = min(0, logaddexp(a, b)), and = a + b"

    def add(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        flat, ids = self._stack_ids(a, b)
        out = safe_segment_logsumexp(flat, ids, flat.numel() // 2)
        return torch.clamp(out, max=0.0).reshape(torch.broadcast_shapes(a.shape, b.shape))

    def sum_reduce(self, x: torch.Tensor, dim: int = -1) -> torch.Tensor:
        moved = x.movedim(dim, -1)
        n = moved.shape[-1]
        ids = torch.zeros(n, dtype=torch.long, device=x.device)
        return torch.clamp(safe_segment_logsumexp(moved, ids, 1), max=0.0).squeeze(-1)

    def segment_add(
        self, values: torch.Tensor, segment_ids: torch.Tensor, num_segments: int
    ) -> torch.Tensor:
        return torch.clamp(safe_segment_logsumexp(values, segment_ids, num_segments), max=0.0)


class LogProductSemiring(_LogSpace):
    name = "log-product"
    description = "product semiring in log space: or = log(1 - (1 - e^a)(1 - e^b)), and = a + b"

    def add(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return log1mexp(log1mexp(a) + log1mexp(b))

    def sum_reduce(self, x: torch.Tensor, dim: int = -1) -> torch.Tensor:
        return log1mexp(log1mexp(x).sum(dim))

    def segment_add(
        self, values: torch.Tensor, segment_ids: torch.Tensor, num_segments: int
    ) -> torch.Tensor:
        return log1mexp(_scatter(log1mexp(values), segment_ids, num_segments, "sum", 0.0))


def register_builtins() -> None:
    """Register every built-in semantics (called once by :mod:`einlog.semirings.registry`)."""
    from einlog.semirings.registry import register, register_lazy
    from einlog.semirings.topk import TopKSemantics

    for semiring in (
        BooleanSemiring(),
        GodelSemiring(),
        PossibilisticSemiring(),
        ProductSemiring(),
        LukasiewiczSemiring(),
        ViterbiSemiring(),
        AddMultSemiring(),
        LogViterbiSemiring(),
        LogAddMultSemiring(),
        LogProductSemiring(),
        TopKSemantics(),
    ):
        register(semiring, _builtin=True)
    # exact probability lives in the circuit package; it registers on first use
    register_lazy(
        "exact",
        "einlog.circuit.semantics:EXACT",
        description="exact probability by knowledge compilation (circuit package)",
        aliases=("probability",),
    )
