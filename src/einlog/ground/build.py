"""From raw derivations to the final :class:`GroundProgram`: simplify, restrict, renumber.

Why a separate pass: during top-down grounding tables are incomplete, so
whether an atom is *certainly* true (derived from deterministic facts only)
or *impossible* (no derivation in any world) is only known at the end.  This
pass computes both with the alternating fixpoint (Van Gelder), which for a
stratified program equals the perfect model of the "certain" and "possible"
readings, using counting-based least fixpoints (linear in the program size):

* certain: some rule whose positive literals are certain and whose negated
  atoms are impossible; leaves are never certain;
* possible: some rule whose positive literals are possible and whose negated
  atoms are not certain; leaves are possible.

"Possible" is a sound over-approximation of "true in some world" (it does
not see that two alternatives of one annotated disjunction exclude each
other, or that ``p, \\+ p`` is contradictory); evaluation gives those atoms
probability 0.  Then rules are simplified (certain positive literals and
impossible negated literals dropped; rules with an impossible positive or a
certain negated literal dropped; a certain atom keeps exactly one empty-body
rule), restricted to what the query and evidence atoms reach, and renumbered
densely: atoms in discovery order, leaves in program-text order (the circuit
compiler's default variable order is the leaf order).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np

from einlog.errors import SourceSpan
from einlog.ground.program import AtomTable, GroundProgram, GroundWeight
from einlog.ir.nodes import PredKey
from einlog.terms import Struct

__all__ = ["RawLeaf", "RawGround", "analyze", "build_program", "span_pos"]

LEAF_FUNCTOR = "$leaf"


@dataclass
class RawLeaf:
    """A leaf found during grounding.

    ``own`` leaves (choice alternatives) are the atom ``atom`` itself; fact
    leaves make ``atom`` true and become ``atom`` itself when it has no other
    derivation, else a separate ``'$leaf'(atom)`` atom with a rule.
    """

    atom: int
    weight: GroundWeight
    label: Struct
    group: Hashable | None
    own: bool
    #: where the leaf's fact or clause stands in the program text, ``(line, column)``;
    #: leaves are numbered in this order (ties: discovery order), see :func:`build_program`
    pos: tuple[int, int] = (1 << 62, 0)


def span_pos(span: SourceSpan | None) -> tuple[int, int]:
    """``RawLeaf.pos`` of a fact or clause at ``span`` (unknown: after everything else)."""
    return (span.line, span.col) if span is not None else (1 << 62, 0)


@dataclass
class RawGround:
    """The engine's output before simplification (body literals: ``2 * atom + negated``)."""

    atoms: list[Struct]
    rules: dict[int, list[tuple[int, ...]]]
    leaves: list[RawLeaf]
    queries: list[int]
    evidence: list[tuple[int, bool]]


#: ``bytearray.translate`` table that flips 0/1 flags
_FLIP = bytes([1, 0]) + bytes(254)


def _lfp(
    n: int,
    heads: list[int],
    pos_count: list[int],
    neg_rules: list[tuple[int, list[int]]],
    zero: list[int],
    watchers: list[list[int]],
    seed: Sequence[int],
    neg_ok: bytearray | None,
) -> bytearray:
    """Least fixpoint from ``seed``; a negated atom ``a`` is allowed iff ``neg_ok[a]``.

    Rule ``r`` has ``pos_count[r]`` positive literals, watched in ``watchers``;
    ``neg_rules`` lists the rules with negated atoms, ``zero`` those without
    positive literals.
    """
    true = bytearray(n)
    count = pos_count.copy()
    queue: list[int] = []
    for a in seed:
        if not true[a]:
            true[a] = 1
            queue.append(a)
    if neg_ok is not None:
        for r, negs in neg_rules:
            for a in negs:
                if not neg_ok[a]:
                    count[r] = -1
                    break
    for r in zero:
        if count[r] == 0:
            h = heads[r]
            if not true[h]:
                true[h] = 1
                queue.append(h)
    while queue:
        a = queue.pop()
        for r in watchers[a]:
            c = count[r]
            if c <= 0:
                continue
            c -= 1
            count[r] = c
            if c == 0:
                h = heads[r]
                if not true[h]:
                    true[h] = 1
                    queue.append(h)
    return true


def analyze(
    n: int, rules: dict[int, list[tuple[int, ...]]], leaves: Sequence[int]
) -> tuple[bytearray, bytearray]:
    """``(certain, possible)`` per atom id by the alternating fixpoint (see module docstring)."""
    heads: list[int] = []
    pos_count: list[int] = []
    neg_rules: list[tuple[int, list[int]]] = []
    zero: list[int] = []
    watchers: list[list[int]] = [[] for _ in range(n)]
    for h, bs in rules.items():
        for body in bs:
            r = len(heads)
            heads.append(h)
            c = 0
            negs: list[int] | None = None
            for lit in body:
                if lit & 1:
                    if negs is None:
                        negs = []
                        neg_rules.append((r, negs))
                    negs.append(lit >> 1)
                else:
                    watchers[lit >> 1].append(r)
                    c += 1
            pos_count.append(c)
            if not c:
                zero.append(r)
    args = (n, heads, pos_count, neg_rules, zero, watchers)
    possible = _lfp(*args, leaves, None)
    while True:
        certain = _lfp(*args, (), possible.translate(_FLIP))
        if not neg_rules or 1 not in certain:
            # nothing certain: no rule is blocked, the next round repeats ``possible``
            return certain, possible
        new_possible = _lfp(*args, leaves, certain.translate(_FLIP))
        if new_possible == possible:
            return certain, possible
        possible = new_possible


def build_program(
    raw: RawGround,
    pred_stratum: Callable[[PredKey], int],
) -> tuple[GroundProgram, bytearray, int]:
    """Simplify and restrict ``raw``; return ``(program, possible per raw atom, raw rule count)``.

    The returned ``possible`` array is indexed by raw atom id (before
    renumbering); the engine uses it to filter query answers.
    """
    atoms = list(raw.atoms)
    # shared with ``raw``: lists are copied before they are extended
    rules: dict[int, list[tuple[int, ...]]] = {h: bs for h, bs in raw.rules.items() if bs}
    raw_rule_count = sum(map(len, rules.values()))
    # decide leaf atoms
    fact_leaves: dict[int, list[int]] = {}
    for i, leaf in enumerate(raw.leaves):
        if not leaf.own:
            fact_leaves.setdefault(leaf.atom, []).append(i)
    leaf_atom: list[int] = [leaf.atom for leaf in raw.leaves]
    for a, idxs in fact_leaves.items():
        if len(idxs) == 1 and a not in rules:
            continue
        extra: list[tuple[int, ...]] = []
        for j, li in enumerate(idxs):
            args: tuple[Struct | int, ...] = (atoms[a],) if j == 0 else (atoms[a], j)
            new_id = len(atoms)
            atoms.append(Struct(LEAF_FUNCTOR, args))
            leaf_atom[li] = new_id
            extra.append((2 * new_id,))
        rules[a] = [*rules.get(a, ()), *extra]
    n = len(atoms)
    certain, possible = analyze(n, rules, leaf_atom)

    # simplify; ``plain[lit]``: the literal stays as it is (its atom possible, not certain)
    plain = (
        np.frombuffer(possible, dtype=np.uint8) & ~np.frombuffer(certain, dtype=np.uint8)
    ).repeat(2).tobytes()
    is_plain = plain.__getitem__
    simple: dict[int, list[tuple[int, ...]]] = {}
    for h, bs in rules.items():
        if not possible[h]:
            continue
        if certain[h]:
            simple[h] = [()]
            continue
        seen: set[tuple[int, ...]] = set()
        out: list[tuple[int, ...]] = []
        self_lit = 2 * h
        for body in bs:
            if all(map(is_plain, body)) and self_lit not in body:
                key = body if len(body) < 2 else tuple(dict.fromkeys(body))
                if key not in seen:
                    seen.add(key)
                    out.append(key)
                continue
            new: list[int] = []
            for lit in body:
                a = lit >> 1
                if lit & 1:
                    if certain[a]:
                        break
                    if not possible[a]:
                        continue
                else:
                    if not possible[a] or a == h:
                        break
                    if certain[a]:
                        continue
                new.append(lit)
            else:
                # drop repeated literals, keep order
                key = tuple(new) if len(new) < 2 else tuple(dict.fromkeys(new))
                if key not in seen:
                    seen.add(key)
                    out.append(key)
        if out:
            simple[h] = out

    # restrict to what queries and evidence reach; a reached leaf brings its group
    group_members: dict[Hashable, list[int]] = {}
    for i, leaf in enumerate(raw.leaves):
        if leaf.group is not None:
            group_members.setdefault(leaf.group, []).append(i)
    # group of the (last) leaf of each leaf atom; empty when there are no groups
    group_of: dict[int, Hashable | None] = (
        {leaf_atom[i]: leaf.group for i, leaf in enumerate(raw.leaves)} if group_members else {}
    )
    reached = bytearray(n)
    stack: list[int] = []
    for a in [*raw.queries, *(a for a, _ in raw.evidence)]:
        if not reached[a]:
            reached[a] = 1
            stack.append(a)
    while stack:
        a = stack.pop()
        if group_of:
            g = group_of.get(a)
            if g is not None:
                for lj in group_members[g]:
                    b = leaf_atom[lj]
                    if not reached[b]:
                        reached[b] = 1
                        stack.append(b)
        for body in simple.get(a, ()):
            for lit in body:
                b = lit >> 1
                if not reached[b]:
                    reached[b] = 1
                    stack.append(b)

    # renumber densely, in raw (discovery) order
    kept = [a for a in range(n) if reached[a]]
    kept_atoms = [atoms[a] for a in kept]
    table = AtomTable()
    new_ids: list[int] = [-1] * n
    for a, i in zip(kept, table.extend(kept_atoms)):
        new_ids[a] = i
    is_leaf_atom = set(leaf_atom)
    strata = [
        0 if a in is_leaf_atom or atom.functor == LEAF_FUNCTOR
        else pred_stratum((atom.functor, len(atom.args)))
        for a, atom in zip(kept, kept_atoms)
    ]
    # leaves in program order (stable: discovery order within a clause), not in the
    # order the queries reached them: the circuit compiler's "natural" variable order
    # is the leaf order, and for acyclic programs (Bayesian networks) program order
    # compiled in 0.2 s where depth-first discovery order exceeded 20 s (bn-80)
    positions = [leaf.pos for leaf in raw.leaves]
    order = sorted(range(len(positions)), key=positions.__getitem__)
    leaves = raw.leaves
    chosen = [i for i in order if reached[leaf_atom[i]]]
    groups: list[list[int]] = []
    if group_members:
        new_leaf_index = {i: k for k, i in enumerate(chosen)}
        for members in group_members.values():
            in_gp = [new_leaf_index[i] for i in members if i in new_leaf_index]
            if len(in_gp) > 1:
                groups.append(in_gp)
    heads_out: list[int] = []
    bodies: list[tuple[int, ...]] = []
    for a in kept:
        kept_bodies = simple.get(a)
        if kept_bodies:
            heads_out += [new_ids[a]] * len(kept_bodies)
            bodies += kept_bodies
    lits = np.fromiter(chain.from_iterable(bodies), dtype=np.int64)
    ptr = np.zeros(len(bodies) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, bodies), dtype=np.int64, count=len(bodies)), out=ptr[1:])
    gp = GroundProgram(
        atoms=table,
        leaves=np.asarray([new_ids[leaf_atom[i]] for i in chosen], dtype=np.int64),
        leaf_weight=[leaves[i].weight for i in chosen],
        leaf_label=[leaves[i].label for i in chosen],
        groups=groups,
        rule_head=np.asarray(heads_out, dtype=np.int64),
        rule_ptr=ptr,
        body_atom=np.asarray(new_ids, dtype=np.int64)[lits >> 1],
        body_neg=(lits & 1).astype(np.bool_),
        stratum=np.asarray(strata, dtype=np.int64),
        queries=list(dict.fromkeys(new_ids[a] for a in raw.queries)),
        evidence=[(new_ids[a], v) for a, v in dict.fromkeys(raw.evidence)],
    )
    return gp, possible, raw_rule_count
