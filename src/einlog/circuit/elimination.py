"""Variable elimination: one unbatched count of an acyclic program without a circuit.

Why it exists: ``einlog query`` on a Bayesian-network-like program asks for
one evaluation, and compiling an SDD for it is most of the time (a random
40-node network with full CPTs: 9 ms of SDD applies for 0.1 ms of counting).
On an acyclic program every derived atom is a function of the atoms below
it, so the weighted model count is a sum over products of small factors:
one table per derived atom, ``T[x_a, parents] = P(a's rule bodies | parents)``
with the leaves used only there summed out in closed form, contracted by
numpy ``einsum`` in a min-degree elimination order.  The knowledge-compiled
circuit is still what serves batches, gradients and MPE; it is compiled on
their first use, not for this count.

Scope (:meth:`EliminationPlan.build` returns ``None`` otherwise, and the
SDD/BDD path counts): the atoms the queries and evidence depend on are not
recursive, no atom's table has more than :data:`MAX_SCOPE` parents (its
entries are filled in Python: a noisy-or of 30 causes is the SDD's job) and
no table made by elimination more than :data:`MAX_WIDTH` variables.  The
alternatives of an annotated disjunction are variables tied by one table
over the group (``p_i`` where only alternative ``i`` holds, the *none* mass
where none does).

Queries share one pass: a batch axis holds ``[e, q1 & e, ...]`` (``[q1, ...]``
without evidence), each item clamping its query true, so the result has the
circuit's root layout.

Exactness: the tables hold both truth values of each atom, each a sum of
non-negative products (``P(not (l1 & l2)) = P(~l1) + P(l1) P(~l2)``, never
``1 - P``), and elimination only multiplies and adds them, so values keep
their relative precision down to float64's range; a count below
:data:`TINY` (where underflowed terms could matter, or evidence that is
impossible) is left to the log-space circuit (``None``).
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np

from einlog.graphs import strongly_connected_components
from einlog.ground.program import GroundProgram

__all__ = ["EliminationPlan", "MAX_SCOPE", "MAX_WIDTH"]

#: largest table an elimination step may create, in variables (2**16 entries per item)
MAX_WIDTH = 16
#: most parents (body atoms other than private leaves) of one atom's table
MAX_SCOPE = 10
#: counts below this are redone in log space by the circuit (see the module doc)
TINY = 1e-280

Literal = tuple[int, bool]  # (leaf index, negated)


@dataclass
class _AtomTable:
    """How to fill one derived atom's table: for every assignment of ``scope`` (first
    variable most significant), the local literals of each rule whose other literals
    the assignment satisfies."""

    atom: int
    scope: list[int]
    alive: list[list[list[Literal]]]
    literals: int  # local literals over all its rules


@dataclass
class _Step:
    """Multiply the tables in ``slots`` and sum out what ``out`` lacks; einsum sublists
    use label 0 for the batch axis and 1.. for variables."""

    slots: list[int]
    subscripts: list[list[int]]
    out: list[int]
    out_vars: list[int]
    batched: bool


class EliminationPlan:
    """Factors and elimination order of one ground program, queries and evidence."""

    def __init__(self, tables: list[_AtomTable], shared_leaves: list[tuple[int, int]],
                 groups: list[tuple[list[int], list[int], list[int]]],
                 clamps: list[tuple[int, int, list[int]]], batch: int,
                 steps: list[_Step], final: list[int]) -> None:
        self.tables = tables
        self.shared_leaves = shared_leaves  # (variable, leaf index)
        # per AD: its relevant alternatives' variables and leaf indices, all its leaves
        self.groups = groups
        #: literals over all input tables, an AD's table counting as one (see _no_underflow)
        self.literals = len(shared_leaves) + len(groups) + sum(t.literals for t in tables)
        self.clamps = clamps  # (variable, value, batch items) -- see _clamp_table
        self.batch = batch
        self.steps = steps
        self.final = final  # slots left after elimination: scalars or [batch]
        #: numbers held by all tables together (what a memory budget counts)
        self.size = (sum(2 ** (1 + len(t.scope)) for t in tables) + 2 * len(shared_leaves)
                     + sum(2 ** len(kept) for _, kept, _ in groups)
                     + sum(2 ** len(st.out_vars) * (batch if st.batched else 1) for st in steps))

    # ------------------------------------------------------------------ build
    @classmethod
    def build(cls, gp: GroundProgram, queries: list[int],
              evidence: tuple[tuple[int, bool], ...]) -> EliminationPlan | None:
        """The plan, or ``None`` where the program is out of scope (module doc)."""
        n = gp.num_atoms
        roots = [*(a for a, _ in evidence), *queries]
        if any(not 0 <= a < n for a in roots):
            return None
        leaf_of = gp.leaf_of_atom()
        grouped = {int(x) for g in gp.groups for x in g}
        heads = gp.rule_head.tolist()
        ptr = gp.rule_ptr.tolist()
        body = gp.body_atom.tolist()
        neg = gp.body_neg.tolist()
        rules_of: dict[int, list[int]] = {}
        for r, h in enumerate(heads):
            rules_of.setdefault(h, []).append(r)

        def deps(a: int) -> list[int]:
            out: list[int] = []
            for r in rules_of.get(a, ()):
                out.extend(body[ptr[r]:ptr[r + 1]])
            return out

        comps = strongly_connected_components(roots, deps)
        uses: dict[int, int] = {}  # leaf atom -> body occurrences among relevant rules
        for comp in comps:
            a = comp[0]
            if len(comp) > 1:
                return None
            for r in rules_of.get(a, ()):
                for b in body[ptr[r]:ptr[r + 1]]:
                    if b == a:
                        return None  # recursive
                    if b in leaf_of:
                        uses[b] = uses.get(b, 0) + 1
        relevant = [c[0] for c in comps]
        root_set = set(roots)
        # a leaf read once (and not asked about) is summed out inside its atom's table;
        # alternatives of an AD are variables, tied together by their group's table
        local = {b for b, k in uses.items()
                 if k == 1 and b not in root_set and leaf_of[b] not in grouped}
        tables: list[_AtomTable] = []
        shared_leaves: list[tuple[int, int]] = []
        in_groups: set[int] = set()  # relevant AD alternatives (leaf indices)
        for a in relevant:
            if a in leaf_of:
                if leaf_of[a] in grouped:
                    in_groups.add(leaf_of[a])
                elif a not in local:
                    shared_leaves.append((a, leaf_of[a]))
                continue
            rules = rules_of.get(a, [])
            scope = sorted({b for r in rules for b in body[ptr[r]:ptr[r + 1]]} - local)
            if len(scope) > MAX_SCOPE:
                return None
            pos = {v: i for i, v in enumerate(scope)}
            k = len(scope)
            conds: list[tuple[int, int, list[Literal]]] = []
            for r in rules:
                care = want = 0
                lits: list[Literal] = []
                dead = False
                for b, ng in zip(body[ptr[r]:ptr[r + 1]], neg[ptr[r]:ptr[r + 1]]):
                    if b in local:
                        lits.append((leaf_of[b], bool(ng)))
                        continue
                    bit = 1 << (k - 1 - pos[b])
                    value = 0 if ng else bit
                    if care & bit and want & bit != value:
                        dead = True  # b and not b
                    care |= bit
                    want |= value
                if not dead:
                    conds.append((care, want, lits))
            alive = [[lits for care, want, lits in conds if sigma & care == want]
                     for sigma in range(1 << k)]
            tables.append(_AtomTable(a, scope, alive, sum(len(c[2]) for c in conds)))
        groups: list[tuple[list[int], list[int], list[int]]] = []
        for members in gp.groups:
            kept = [int(x) for x in members if int(x) in in_groups]
            if not kept:
                continue
            if len(kept) > MAX_SCOPE:
                return None
            groups.append(([int(gp.leaves[x]) for x in kept], kept,
                           [int(x) for x in members]))
        # evidence and queries: unary tables, the queries' over the batch axis
        batch = len(queries) + (1 if evidence else 0)
        if not batch:
            return None
        clamps: list[tuple[int, int, list[int]]] = []
        for a, v in evidence:
            clamps.append((a, int(v), list(range(batch))))
        first_query = 1 if evidence else 0
        by_atom: dict[int, list[int]] = {}
        for i, q in enumerate(queries):
            by_atom.setdefault(q, []).append(first_query + i)
        for q, items in by_atom.items():
            clamps.append((q, 1, items))
        # slots in the order counts() fills them
        scopes = ([[t.atom, *t.scope] for t in tables] + [[a] for a, _ in shared_leaves]
                  + [atoms for atoms, _, _ in groups])
        batched = [False] * len(scopes) + [len(items) < batch for _, _, items in clamps]
        scopes += [[a] for a, _, _ in clamps]
        steps, final = _order(scopes, batched)
        if steps is None:
            return None
        return cls(tables, shared_leaves, groups, clamps, batch, steps, final)

    # ------------------------------------------------------------------ count
    def counts(self, probs: np.ndarray) -> np.ndarray | None:
        """``WMC`` of ``[e, q1 & e, ...]`` for leaf probabilities ``probs`` ([L], float64),
        or ``None`` where one is below :data:`TINY` (the log-space circuit answers)."""
        pos = probs.tolist()
        neg = (1.0 - probs).tolist()
        slots: list[np.ndarray | None] = []
        for t in self.tables:
            slots.append(_fill(t, pos, neg))
        for _, leaf in self.shared_leaves:
            slots.append(np.array([neg[leaf], pos[leaf]]))
        for _, kept, members in self.groups:
            slots.append(_group_table(kept, members, pos))
        group_tables = slots[len(self.tables) + len(self.shared_leaves):]
        for _, value, items in self.clamps:
            slots.append(_clamp_table(value, items, self.batch))
        for step in self.steps:
            args: list[object] = []
            for s, sub in zip(step.slots, step.subscripts):
                args += [slots[s], sub]
                slots[s] = None
            args.append(step.out)
            slots.append(np.einsum(*args))  # type: ignore[call-overload]
        total = np.ones(self.batch)
        for s in self.final:
            total = total * slots[s]  # type: ignore[operator]
        if not bool(np.all(total >= TINY)) and not self._no_underflow(probs, group_tables):
            return None
        return total

    def _no_underflow(self, probs: np.ndarray, group_tables: list[np.ndarray | None]) -> bool:
        """Whether every non-zero number the count computes is at least :data:`TINY`, so
        counts of 0 are exact: each is a sum of products of at most :attr:`literals`
        weights (literal weights ``p``, ``1 - p`` and AD table entries), so a non-zero one
        is at least the smallest non-zero weight to that power."""
        parts = [probs[probs > 0], 1.0 - probs[probs < 1]]
        parts += [t[t > 0].ravel() for t in group_tables if t is not None]
        weights = np.concatenate(parts)
        if weights.size == 0:
            return True
        return self.literals * math.log(float(weights.min())) >= math.log(TINY)


def _fill(t: _AtomTable, pos: list[float], neg: list[float]) -> np.ndarray:
    """``T[x, scope]``: both truth values of the atom for every assignment of its scope."""
    size = len(t.alive)
    table = np.empty(2 * size)
    for sigma, rules in enumerate(t.alive):
        p_false = 1.0  # no rule fires
        p_true = 0.0  # some rule fires: the first one that does, summed over which
        for lits in rules:
            fires = 1.0
            fails = 0.0  # P(not all literals): the first false literal, summed
            for leaf, ng in lits:
                yes, no = (neg[leaf], pos[leaf]) if ng else (pos[leaf], neg[leaf])
                fails += fires * no
                fires *= yes
            p_true += p_false * fires
            p_false *= fails
        table[sigma] = p_false
        table[size + sigma] = p_true
    return table.reshape((2,) * (1 + len(t.scope)))


def _group_table(kept: list[int], members: list[int], pos: list[float]) -> np.ndarray:
    """``T[l1, ..., lk]`` over an AD's relevant alternatives: ``p_i`` where only ``l_i``
    holds, the rest of the mass (*none* and the alternatives nothing reads) where none
    does, 0 elsewhere.  *none* is ``max(0, 1 - sum p)``, as in the tensor circuit."""
    k = len(kept)
    table = np.zeros(1 << k)
    kept_set = set(kept)
    table[0] = max(0.0, 1.0 - sum(pos[x] for x in members)) + sum(
        pos[x] for x in members if x not in kept_set)
    for i, leaf in enumerate(kept):
        table[1 << (k - 1 - i)] = pos[leaf]
    return table.reshape((2,) * k)


def _clamp_table(value: int, items: list[int], batch: int) -> np.ndarray:
    """``[x]`` forcing ``x = value`` (every item), or ``[batch, x]`` forcing it in ``items``."""
    if len(items) == batch:
        out = np.zeros(2)
        out[value] = 1.0
        return out
    out = np.ones((batch, 2))
    out[items, 1 - value] = 0.0
    return out


def _order(scopes: list[list[int]], batched: list[bool]) -> tuple[list[_Step] | None, list[int]]:
    """Min-degree elimination of every variable; ``None`` past :data:`MAX_WIDTH`.
    Slots are the input tables, then each step's output in turn."""
    scopes, batched = list(scopes), list(batched)
    live = set(range(len(scopes)))  # tables not yet multiplied into a step
    holding: dict[int, set[int]] = {}  # variable -> live tables over it
    adj: dict[int, set[int]] = {}  # variable -> variables it shares a live table with
    for s, scope in enumerate(scopes):
        for v in scope:
            holding.setdefault(v, set()).add(s)
            adj.setdefault(v, set()).update(scope)
    for v, nb in adj.items():
        nb.discard(v)
    heap = [(len(nb), v) for v, nb in adj.items()]
    heapq.heapify(heap)
    steps: list[_Step] = []
    while heap:
        d, v = heapq.heappop(heap)
        if v not in holding or d != len(adj[v]):
            continue  # eliminated, or a stale degree (a fresher entry is queued)
        if d + 1 > MAX_WIDTH:
            return None, []
        used = sorted(holding.pop(v))
        union: list[int] = []
        batched_out = False
        for s in used:
            live.discard(s)
            batched_out = batched_out or batched[s]
            for x in scopes[s]:
                if x not in union:
                    union.append(x)
                if x != v:
                    holding[x].discard(s)
        label = {x: i + 1 for i, x in enumerate(union)}
        out_vars = [x for x in union if x != v]
        subs = [([0] if batched[s] else []) + [label[x] for x in scopes[s]] for s in used]
        out = ([0] if batched_out else []) + [label[x] for x in out_vars]
        steps.append(_Step(used, subs, out, out_vars, batched_out))
        new_slot = len(scopes)
        live.add(new_slot)
        batched.append(batched_out)
        scopes.append(out_vars)
        nb = adj.pop(v)
        for x in out_vars:
            holding[x].add(new_slot)
            ax = adj[x]
            ax |= nb
            ax.discard(x)
            ax.discard(v)
            heapq.heappush(heap, (len(ax), x))
    return steps, sorted(live)
