"""Build small ground programs by hand, for tests of every evaluator.

Evaluator tests must not depend on the parser and grounder (written in
parallel, and themselves tested against these evaluators), so they spell a
ground program as Python data::

    gp = make_program(
        rules=[("a", ["b", "~c"]), ("c", ["d"]), ("e", [])],
        leaves=[("b", 0.3), ("d", 0.6), ("x", 0.2), ("y", 0.5)],
        groups=[["x", "y"]],
    )

A body literal ``"~c"`` (or ``"\\\\+c"``) is negated.  Atom ids are given in
order of first mention (leaves first); ``gp.stratum`` is computed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from einlog.errors import ProgramError
from einlog.eval.oracle import compute_strata
from einlog.ground.program import GroundProgram, GroundWeight
from einlog.terms import Struct

__all__ = ["make_program", "atom_ids"]


def _literal(text: str) -> tuple[str, bool]:
    text = text.strip()
    if text.startswith("~"):
        return text[1:].strip(), True
    if text.startswith("\\+"):
        return text[2:].strip(), True
    return text, False


def make_program(
    rules: Sequence[tuple[str, Sequence[str]]] = (),
    leaves: Sequence[tuple[str, float]] = (),
    groups: Sequence[Sequence[str]] = (),
    queries: Sequence[str] = (),
) -> GroundProgram:
    """A :class:`GroundProgram` from rule and leaf lists (see the module docstring)."""
    gp = GroundProgram()
    for name, _ in leaves:
        if gp.atom_id(Struct(name)) is not None:
            raise ProgramError(f"leaf {name!r} given twice")
        gp.atoms.intern(Struct(name))
    leaf_ids = [gp.atoms.intern(Struct(name)) for name, _ in leaves]
    heads: list[int] = []
    ptr = [0]
    body_atom: list[int] = []
    body_neg: list[bool] = []
    leaf_set = set(leaf_ids)
    for head, body in rules:
        h = gp.atoms.intern(Struct(head))
        if h in leaf_set:
            raise ProgramError(f"leaf {head!r} cannot have rules")
        heads.append(h)
        for lit in body:
            name, neg = _literal(lit)
            body_atom.append(gp.atoms.intern(Struct(name)))
            body_neg.append(neg)
        ptr.append(len(body_atom))
    for q in queries:
        gp.queries.append(gp.atoms.intern(Struct(q)))
    index = {name: i for i, (name, _) in enumerate(leaves)}
    gp.leaves = np.asarray(leaf_ids, dtype=np.int64)
    gp.leaf_weight = [GroundWeight("const", value=float(w)) for _, w in leaves]
    gp.leaf_label = [Struct(name) for name, _ in leaves]
    gp.groups = [[index[name] for name in group] for group in groups]
    gp.rule_head = np.asarray(heads, dtype=np.int64)
    gp.rule_ptr = np.asarray(ptr, dtype=np.int64)
    gp.body_atom = np.asarray(body_atom, dtype=np.int64)
    gp.body_neg = np.asarray(body_neg, dtype=np.bool_)
    gp.stratum = np.asarray(compute_strata(gp), dtype=np.int64)
    return gp


def atom_ids(gp: GroundProgram, *names: str) -> list[int]:
    """Atom ids of the named atoms (``KeyError`` for an unknown name)."""
    out = []
    for name in names:
        i = gp.atom_id(Struct(name))
        if i is None:
            raise KeyError(name)
        out.append(i)
    return out
