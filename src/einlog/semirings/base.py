"""The semiring protocol: batched torch operations, not scalar callbacks.

Evaluators never call a semiring once per rule.  They hand it whole
tensors: a batch of body values to fold per rule (:meth:`Semiring.segment_mul`)
and a batch of rule values to fold per head (:meth:`Semiring.segment_add`).
Segment folds are built on ``Tensor.scatter_reduce`` (identity-filled output,
``include_self=False`` so the identity never ties with a real value in a
max/min and steals half of its gradient) so one call covers every rule of a
program and autograd flows through it.

Values live in the semiring's own *domain*: probabilities for the
probability-like semirings, log-probabilities for the ``log-*`` ones, 0/1
floats for ``boolean``.  :meth:`Semiring.from_probability` says how a leaf
weight in [0, 1] enters the domain and :meth:`Semiring.to_output` maps a
domain value back to what a user reads.

Not every semantics is a tensor semiring: top-k proofs keep Python lists per
atom and exact probability needs knowledge compilation.  Both are
:class:`Semantics` so that one registry (and one CLI ``--semantics`` flag)
selects among all of them; only :class:`Semiring` instances go to the
fixpoint evaluator.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch

from einlog.errors import ConfigError, UnsupportedError

__all__ = ["Semantics", "Semiring", "expand_ids", "log1mexp", "safe_segment_logsumexp"]


class Semantics:
    """Anything selectable by name: a tensor semiring, top-k proofs, exact inference.

    ``kind`` tells the integrator which engine runs it: ``"semiring"``
    (:class:`einlog.eval.FixpointEvaluator`), ``"proofs"``
    (:func:`einlog.eval.top_k_proofs`) or ``"exact"`` (the circuit package).
    """

    name: str = ""
    description: str = ""
    kind: ClassVar[str] = "semiring"

    def configure(self, **options: Any) -> Semantics:
        """A copy with ``options`` applied; the base accepts none."""
        if options:
            raise ConfigError(
                f"semantics {self.name!r} takes no options, got {sorted(options)}",
                hint="drop the options or choose a semantics that takes them (e.g. topk k=3)",
            )
        return self

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


def expand_ids(segment_ids: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """Broadcast 1-d ``segment_ids`` over the leading (batch) dims of ``values``."""
    if values.dim() == 1:
        return segment_ids
    return segment_ids.expand(values.shape)


def _scatter(
    values: torch.Tensor,
    segment_ids: torch.Tensor,
    num_segments: int,
    reduce: str,
    fill: float,
) -> torch.Tensor:
    """Fold ``values[..., i]`` into ``out[..., segment_ids[i]]``; empty segments hold ``fill``."""
    shape = (*values.shape[:-1], num_segments)
    out = torch.full(shape, fill, dtype=values.dtype, device=values.device)
    if values.shape[-1] == 0:
        return out
    return out.scatter_reduce(
        -1, expand_ids(segment_ids, values), values, reduce, include_self=False
    )


def log1mexp(x: torch.Tensor) -> torch.Tensor:
    """``log(1 - exp(x))`` for ``x <= 0``, accurate at both ends (Mächler 2012).

    At ``x = 0`` the value is ``-inf`` and the gradient is taken as 0 (not the
    true ``-inf``), so a certain atom under negation never turns gradients to NaN.
    """
    x = torch.clamp(x, max=0.0)
    near = x > -math.log(2.0)
    at_zero = x == 0
    # evaluate each branch only where it is finite so that no NaN enters the gradient
    a = torch.where(near & ~at_zero, x, torch.full_like(x, -1.0))
    b = torch.where(near, torch.full_like(x, -1.0), x)
    value = torch.where(near, torch.log(-torch.expm1(a)), torch.log1p(-torch.exp(b)))
    return torch.where(at_zero, torch.full_like(x, -math.inf), value)


def safe_segment_logsumexp(
    values: torch.Tensor, segment_ids: torch.Tensor, num_segments: int
) -> torch.Tensor:
    """Segment log-sum-exp with ``-inf`` for empty/all ``-inf`` segments and NaN-free gradients."""
    shape = (*values.shape[:-1], num_segments)
    neg_inf = torch.full(shape, -math.inf, dtype=values.dtype, device=values.device)
    if values.shape[-1] == 0:
        return neg_inf
    ids = expand_ids(segment_ids, values)
    m = neg_inf.scatter_reduce(-1, ids, values.detach(), "amax", include_self=False)
    m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
    shifted = torch.exp(values - m.gather(-1, ids))
    s = torch.zeros(shape, dtype=values.dtype, device=values.device).scatter_add(-1, ids, shifted)
    positive = s > 0
    s_safe = torch.where(positive, s, torch.ones_like(s))
    return torch.where(positive, torch.log(s_safe) + m, neg_inf)


class Semiring(Semantics):
    """A commutative semiring over batched tensors (see the module docstring).

    Subclasses set ``zero_value``/``one_value`` and implement :meth:`add`,
    :meth:`mul`; they override the reductions whenever a direct
    ``scatter_reduce`` exists (all built-ins do).  ``negate`` raises
    :class:`UnsupportedError` unless ``has_negation``.
    """

    kind: ClassVar[str] = "semiring"
    idempotent: bool = False
    log_space: bool = False
    has_negation: bool = True
    zero_value: float = 0.0
    one_value: float = 1.0

    # -- constants -----------------------------------------------------------------
    def zero(
        self,
        shape: tuple[int, ...] | torch.Size,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> torch.Tensor:
        """A tensor of ``zero`` (default dtype: ``torch.get_default_dtype()``)."""
        return torch.full(tuple(shape), self.zero_value, dtype=dtype, device=device)

    def one(
        self,
        shape: tuple[int, ...] | torch.Size,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> torch.Tensor:
        """A tensor of ``one`` (default dtype: ``torch.get_default_dtype()``)."""
        return torch.full(tuple(shape), self.one_value, dtype=dtype, device=device)

    # -- binary operations -----------------------------------------------------------
    def add(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def mul(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def negate(self, a: torch.Tensor) -> torch.Tensor:
        raise UnsupportedError(
            f"semantics {self.name!r} has no negation",
            hint="remove negated body literals or choose a semantics with negation",
        )

    # -- reductions ------------------------------------------------------------------
    def sum_reduce(self, x: torch.Tensor, dim: int = -1) -> torch.Tensor:
        """``add`` over ``dim`` (``zero`` for an empty dim)."""
        out = self.zero(
            tuple(s for i, s in enumerate(x.shape) if i != dim % x.dim()), x.dtype, x.device
        )
        for t in x.unbind(dim):  # generic fallback; built-ins override
            out = self.add(out, t)
        return out

    def prod_reduce(self, x: torch.Tensor, dim: int = -1) -> torch.Tensor:
        """``mul`` over ``dim`` (``one`` for an empty dim)."""
        out = self.one(
            tuple(s for i, s in enumerate(x.shape) if i != dim % x.dim()), x.dtype, x.device
        )
        for t in x.unbind(dim):
            out = self.mul(out, t)
        return out

    def segment_add(
        self, values: torch.Tensor, segment_ids: torch.Tensor, num_segments: int
    ) -> torch.Tensor:
        """``add`` of ``values[..., i]`` per ``segment_ids[i]`` (last dim); empty -> ``zero``."""
        raise NotImplementedError

    def segment_mul(
        self, values: torch.Tensor, segment_ids: torch.Tensor, num_segments: int
    ) -> torch.Tensor:
        """``mul`` of ``values[..., i]`` per ``segment_ids[i]`` (last dim); empty -> ``one``."""
        raise NotImplementedError

    # -- entering and leaving the domain ---------------------------------------------
    def from_probability(self, p: torch.Tensor) -> torch.Tensor:
        """How a leaf weight in [0, 1] enters the domain (identity by default)."""
        return p

    def to_output(self, x: torch.Tensor) -> torch.Tensor:
        """A domain value as the user reads it (identity by default)."""
        return x

    def distance(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Largest elementwise change between two domain tensors (0 where equal, incl. inf)."""
        if a.numel() == 0:
            return torch.zeros((), dtype=a.dtype)
        diff = torch.where(a == b, torch.zeros_like(a), (a - b).abs())
        return diff.max()

    def __repr__(self) -> str:
        return f"<Semiring {self.name!r}>"
