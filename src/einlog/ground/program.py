"""The ground program: the hand-off from grounding to every evaluator.

It is columnar on purpose.  Atoms are interned to dense integer ids; rules
are one CSR structure (``rule_head``, ``rule_ptr``, ``body_atom``,
``body_neg``) so that semiring evaluation, knowledge compilation and the
tensor circuits read numpy arrays, never Python objects per rule.

Vocabulary:

* a *leaf* is an atom whose truth is a random choice: a probabilistic fact,
  one alternative of an annotated disjunction, a neural output.  Leaves have
  no rules (invariant).  ``leaf_weight[i]`` says where leaf ``i``'s weight
  comes from; ``groups`` lists sets of mutually exclusive leaves (annotated
  disjunctions); every other leaf is independent.
* a *rule* ``h :- b1, ..., \\+ bn`` is the provenance of a derived atom: the
  atom is true in a world iff some rule's body is true there.  A rule with an
  empty body makes its head certainly true (a deterministic fact).
* ``stratum[a]`` orders atoms for negation: a negated body atom always lies
  in a strictly lower stratum than the rule head.

Builtins and aggregates have been evaluated away by the grounder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal as TypingLiteral

import numpy as np
import numpy.typing as npt

from einlog.terms import Struct, Term

__all__ = ["GroundWeight", "GroundProgram"]

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class GroundWeight:
    """Where a leaf's weight comes from, after grounding.

    ``const``: ``value``; ``param``: learnable parameter ``param`` of the
    program; ``neural``: output ``index`` (``None`` = sigmoid form) of
    ``network`` on the ground ``inputs``, a domain of ``domain_size``.
    """

    kind: TypingLiteral["const", "param", "neural"]
    value: float | None = None
    param: int | None = None
    network: str | None = None
    inputs: tuple[Term, ...] = ()
    index: int | None = None
    domain_size: int | None = None


def _empty() -> IntArray:
    return np.zeros(0, dtype=np.int64)


@dataclass
class GroundProgram:
    """A ground program with provenance; see the module docstring for its invariants."""

    atoms: list[Struct] = field(default_factory=list)
    atom_index: dict[Struct, int] = field(default_factory=dict)
    leaves: IntArray = field(default_factory=_empty)  # atom id of each leaf
    leaf_weight: list[GroundWeight] = field(default_factory=list)
    groups: list[list[int]] = field(default_factory=list)  # indices into ``leaves``
    rule_head: IntArray = field(default_factory=_empty)
    rule_ptr: IntArray = field(default_factory=lambda: np.zeros(1, dtype=np.int64))
    body_atom: IntArray = field(default_factory=_empty)
    body_neg: BoolArray = field(default_factory=lambda: np.zeros(0, dtype=np.bool_))
    stratum: IntArray = field(default_factory=_empty)  # per atom
    queries: list[int] = field(default_factory=list)  # atom ids of ground queries
    evidence: list[tuple[int, bool]] = field(default_factory=list)

    @property
    def num_atoms(self) -> int:
        return len(self.atoms)

    @property
    def num_rules(self) -> int:
        return int(self.rule_head.shape[0])

    def atom_id(self, atom: Struct) -> int | None:
        return self.atom_index.get(atom)

    def rule_body(self, rule: int) -> list[tuple[int, bool]]:
        """Body of one rule as ``(atom id, negated)`` pairs (for debugging and printing)."""
        lo, hi = int(self.rule_ptr[rule]), int(self.rule_ptr[rule + 1])
        return [(int(a), bool(n)) for a, n in zip(self.body_atom[lo:hi], self.body_neg[lo:hi])]

    def leaf_of_atom(self) -> dict[int, int]:
        """Map atom id -> leaf index."""
        return {int(a): i for i, a in enumerate(self.leaves)}
