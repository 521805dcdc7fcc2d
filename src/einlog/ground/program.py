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

Atoms live in an :class:`AtomTable`.  The top-down grounder interns atoms one
by one; the columnar bottom-up engine adds whole relations as blocks of
constant-id rows, and those become :class:`Struct` objects only when someone
asks (printing an answer), so a million derived atoms cost arrays, not objects.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal as TypingLiteral

import numpy as np
import numpy.typing as npt

from einlog.terms import Struct, Term

__all__ = ["GroundWeight", "GroundProgram", "AtomTable", "const_weight"]

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


_CONST_FIELDS = {"kind": "const", "value": 0.0, "param": None, "network": None,
                 "inputs": (), "index": None, "domain_size": None}


def const_weight(value: float) -> GroundWeight:
    """``GroundWeight("const", value=value)`` without the frozen dataclass ``__init__``
    (seven ``object.__setattr__`` calls, twice the cost; grounding makes one per leaf)."""
    gw = object.__new__(GroundWeight)
    d = gw.__dict__
    d.update(_CONST_FIELDS)
    d["value"] = value
    return gw


class AtomTable:
    """Dense ids for ground atoms: single interned atoms plus columnar blocks."""

    def __init__(self) -> None:
        self._single: dict[int, Struct] = {}
        self._index: dict[Struct, int] = {}
        self._size = 0
        # blocks: (start, functor, rows [n, arity] of constant ids, constants)
        self._blocks: list[tuple[int, str, npt.NDArray[np.int64], Sequence[Term]]] = []
        self._block_starts: list[int] = []
        self._block_lookup: dict[int, dict[tuple[int, ...], int]] = {}

    def __len__(self) -> int:
        return self._size

    def intern(self, atom: Struct) -> int:
        """Id of ``atom``, adding it if new."""
        found = self.index(atom)
        if found is not None:
            return found
        i = self._size
        self._single[i] = atom
        self._index[atom] = i
        self._size += 1
        return i

    def extend(self, atoms: Sequence[Struct]) -> list[int]:
        """Ids of ``atoms`` in order, adding the new ones: one dict build for distinct atoms
        into an empty table (the grounder's renumbering), else one :meth:`intern` each."""
        n = len(atoms)
        if not self._size and not self._blocks:
            index = dict(zip(atoms, range(n)))
            if len(index) == n:  # distinct atoms into an empty table: ids 0..n-1
                self._index = index
                self._single = dict(enumerate(atoms))
                self._size = n
                return list(range(n))
        return [self.intern(atom) for atom in atoms]

    def add_block(
        self, functor: str, rows: npt.NDArray[np.int64], constants: Sequence[Term]
    ) -> int:
        """Add ``len(rows)`` new atoms ``functor(constants[r0], ...)``; return the first id.

        The caller guarantees the rows are distinct and not yet in the table.
        """
        start = self._size
        rows = np.ascontiguousarray(rows, dtype=np.int64)
        if rows.ndim != 2:
            raise ValueError("rows must be a 2-d array [n, arity]")
        self._blocks.append((start, functor, rows, constants))
        self._block_starts.append(start)
        self._size += int(rows.shape[0])
        return start

    def _block_of(self, i: int) -> int | None:
        b = bisect.bisect_right(self._block_starts, i) - 1
        if b < 0:
            return None
        start, _, rows, _ = self._blocks[b]
        return b if start <= i < start + rows.shape[0] else None

    def __getitem__(self, i: int) -> Struct:
        i = int(i)
        if i < 0 or i >= self._size:
            raise IndexError(i)
        atom = self._single.get(i)
        if atom is not None:
            return atom
        b = self._block_of(i)
        assert b is not None
        start, functor, rows, constants = self._blocks[b]
        return Struct(functor, tuple(constants[int(c)] for c in rows[i - start]))

    def __iter__(self) -> Iterator[Struct]:
        for i in range(self._size):
            yield self[i]

    def index(self, atom: Struct) -> int | None:
        """Id of ``atom`` or ``None`` when it is not in the table."""
        found = self._index.get(atom)
        if found is not None or not self._blocks:
            return found
        for b, (_, functor, rows, constants) in enumerate(self._blocks):
            if functor != atom.functor or rows.shape[1] != len(atom.args):
                continue
            lookup = self._block_lookup.get(b)
            if lookup is None:
                lookup = {tuple(r): k for k, r in enumerate(rows.tolist())}
                self._block_lookup[b] = lookup
            const_ids = {c: k for k, c in enumerate(constants)}
            try:
                key = tuple(const_ids[a] for a in atom.args)
            except (KeyError, TypeError):
                continue
            row = lookup.get(key)
            if row is not None:
                return self._blocks[b][0] + row
        return None

    def __contains__(self, atom: object) -> bool:
        return isinstance(atom, Struct) and self.index(atom) is not None


def _empty() -> IntArray:
    return np.zeros(0, dtype=np.int64)


@dataclass
class GroundProgram:
    """A ground program with provenance; see the module docstring for its invariants."""

    atoms: AtomTable = field(default_factory=AtomTable)
    leaves: IntArray = field(default_factory=_empty)  # atom id of each leaf
    leaf_weight: list[GroundWeight] = field(default_factory=list)
    # what a person should read for each leaf: the fact or chosen head, e.g. ``digit(img1,3)``
    leaf_label: list[Struct] = field(default_factory=list)
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
        return self.atoms.index(atom)

    def rule_body(self, rule: int) -> list[tuple[int, bool]]:
        """Body of one rule as ``(atom id, negated)`` pairs (for debugging and printing)."""
        lo, hi = int(self.rule_ptr[rule]), int(self.rule_ptr[rule + 1])
        return [(int(a), bool(n)) for a, n in zip(self.body_atom[lo:hi], self.body_neg[lo:hi])]

    def leaf_of_atom(self) -> dict[int, int]:
        """Map atom id -> leaf index."""
        return {int(a): i for i, a in enumerate(self.leaves)}
