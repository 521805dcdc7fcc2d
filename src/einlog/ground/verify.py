"""Invariants of a :class:`GroundProgram`, checked between grounding and evaluation.

Both grounding engines must produce the same kind of ground program, and
every evaluator (fixpoint, proofs, circuits) relies on these facts without
re-checking them.  Tests call :func:`verify_ground` on every grounding so a
broken invariant shows up where it is made, not as a wrong probability
three stages later.  All checks are vectorized numpy, so verifying a
million-rule program is cheap.
"""

from __future__ import annotations

import numpy as np

from einlog.errors import EinlogError
from einlog.ground.program import GroundProgram

__all__ = ["GroundInvariantError", "verify_ground"]


class GroundInvariantError(EinlogError, AssertionError):
    """A ground program breaks one of the invariants of ``ground/program.py``."""


def _fail(message: str) -> None:
    raise GroundInvariantError(f"ground program invariant broken: {message}")


def verify_ground(gp: GroundProgram) -> None:
    """Raise :class:`GroundInvariantError` unless ``gp`` satisfies every invariant."""
    n = gp.num_atoms
    r = gp.num_rules
    leaves = np.asarray(gp.leaves, dtype=np.int64)
    if not (len(gp.leaf_weight) == len(gp.leaf_label) == leaves.shape[0]):
        _fail(
            f"{leaves.shape[0]} leaves but {len(gp.leaf_weight)} weights and "
            f"{len(gp.leaf_label)} labels"
        )
    if leaves.size and (leaves.min() < 0 or leaves.max() >= n):
        _fail("a leaf id is outside the atom table")
    if np.unique(leaves).size != leaves.size:
        _fail("an atom is a leaf twice")
    ptr = np.asarray(gp.rule_ptr, dtype=np.int64)
    if ptr.shape != (r + 1,) or ptr[0] != 0 or np.any(np.diff(ptr) < 0):
        _fail("rule_ptr is not a CSR offset array of length num_rules + 1")
    if ptr[-1] != gp.body_atom.shape[0] or gp.body_atom.shape != gp.body_neg.shape:
        _fail("body_atom / body_neg lengths do not match rule_ptr")
    for name, ids in (("rule head", gp.rule_head), ("body atom", gp.body_atom)):
        if ids.size and (ids.min() < 0 or ids.max() >= n):
            _fail(f"a {name} id is outside the atom table")
    is_leaf = np.zeros(n, dtype=bool)
    is_leaf[leaves] = True
    if r and is_leaf[gp.rule_head].any():
        bad = int(gp.rule_head[is_leaf[gp.rule_head]][0])
        _fail(f"leaf {gp.atoms[bad]} also has a rule (leaves must have no rules)")
    if gp.stratum.shape != (n,):
        _fail(f"stratum has shape {gp.stratum.shape}, expected ({n},)")
    if gp.body_neg.any():
        rule_of_body = np.repeat(np.arange(r), np.diff(ptr))
        neg = gp.body_neg
        head_stratum = gp.stratum[gp.rule_head[rule_of_body[neg]]]
        body_stratum = gp.stratum[gp.body_atom[neg]]
        if np.any(body_stratum >= head_stratum):
            k = int(np.argmax(body_stratum >= head_stratum))
            head = gp.atoms[int(gp.rule_head[rule_of_body[neg]][k])]
            body = gp.atoms[int(gp.body_atom[neg][k])]
            _fail(f"negated {body} is not in a lower stratum than {head}")
    seen: set[int] = set()
    for group in gp.groups:
        for i in group:
            if not 0 <= int(i) < leaves.shape[0]:
                _fail(f"group member {i} is not a leaf index")
            if int(i) in seen:
                _fail(f"leaf {gp.leaf_label[int(i)]} is in two mutually exclusive groups")
            seen.add(int(i))
    for w, label in zip(gp.leaf_weight, gp.leaf_label):
        if w.kind == "const" and not (w.value is not None and 0.0 <= w.value <= 1.0):
            _fail(f"leaf {label} has constant weight {w.value} outside [0, 1]")
    for q in gp.queries:
        if not 0 <= int(q) < n:
            _fail(f"query id {q} is outside the atom table")
    for a, _ in gp.evidence:
        if not 0 <= int(a) < n:
            _fail(f"evidence id {a} is outside the atom table")
