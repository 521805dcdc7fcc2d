"""Top-k proofs: the k most probable explanations of every atom.

This is the top-k-proofs provenance of Scallop, run to a fixpoint over the
ground program with Python lists per atom (it is not a tensor semiring: the
elements are sets of facts).

* A proof is a set of *facts*: leaf indices, plus pseudo-facts ``\\+ b`` for
  negated body atoms.  Its probability is the product of its distinct
  facts' probabilities (a leaf used twice counts once).
* Conjunction (a rule body): cross product of the body atoms' proof lists,
  union of the fact sets, proofs using two different leaves of one mutually
  exclusive group are dropped, then the best k are kept.
* Disjunction (the rules of a head, and the head's previous list): merge,
  dedupe by fact set, drop proofs that are supersets of a kept proof (they
  add nothing and would waste a slot), keep the best k.  Ties are broken by
  (fewer facts, sorted fact ids), so results are deterministic.
* A negated literal ``\\+ b``: true with no facts when ``b`` has no proof;
  otherwise the pseudo-fact ``\\+ b`` with probability ``1 - P(b)``, where
  ``P(b)`` is the exact probability of the disjunction of ``b``'s top-k proofs
  (:meth:`TopKProofs.lower_bound`).  This is an approximation: ``P(b)`` is a lower
  bound, and the pseudo-fact is treated as independent of the leaves.
* Deterministic facts (empty-body rules) give the empty proof, probability 1.

Because lists are truncated to k, the result is exact when proofs of
different body atoms share no facts and k is at least the number of
proofs; otherwise it is the usual top-k approximation.  With ``k = 1`` it is
the most probable proof, and its probability equals the ``viterbi`` value
whenever that best proof uses each leaf once.

Each head's new list is merged with its previous list, so lists only
improve; since there are finitely many fact sets, iteration on cycles stops.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch

from einlog.errors import InferenceError
from einlog.eval.oracle import _weights, compute_strata
from einlog.ground.program import GroundProgram
from einlog.terms import Struct

__all__ = ["Proof", "TopKProofs", "top_k_proofs", "most_probable_proof", "NEGATION_FUNCTOR"]

NEGATION_FUNCTOR = "\\+"
_Key = frozenset[int]  # leaf index i >= 0, negated atom a as -(a + 1)
_Entry = tuple[float, _Key]


@dataclass(frozen=True)
class Proof:
    """One proof of an atom.

    ``facts`` are the leaves used (their ``gp.leaf_label``), then the negated
    atoms used, each as ``Struct('\\\\+', (atom,))``.  ``leaves`` and
    ``negated`` give the same as leaf indices and atom ids.
    """

    facts: tuple[Struct, ...]
    probability: float
    leaves: tuple[int, ...] = ()
    negated: tuple[int, ...] = ()


def _sort_key(entry: _Entry) -> tuple[float, int, tuple[int, ...]]:
    prob, key = entry
    return (-prob, len(key), tuple(sorted(key)))


class TopKProofs:
    """Top-k proofs of every atom of a ground program (computed on construction)."""

    def __init__(
        self,
        gp: GroundProgram,
        weights: Sequence[float] | torch.Tensor | None,
        k: int,
        *,
        max_iterations: int = 1000,
    ) -> None:
        if k < 1:
            raise InferenceError(f"top-k proofs need k >= 1, got {k}", hint="e.g. k=3")
        self.gp = gp
        self.k = k
        self.weights = _weights(gp, weights)
        self._group_of: dict[int, int] = {}
        for g, group in enumerate(gp.groups):
            for i in group:
                self._group_of[int(i)] = g
        self._fact_prob: dict[int, float] = dict(enumerate(self.weights))
        self._lists: dict[int, list[_Entry]] = {}
        self._bound_cache: dict[int, tuple[list[_Entry], float]] = {}
        for i, a in enumerate(gp.leaves.tolist()):
            w = self.weights[i]
            self._lists[int(a)] = [(w, frozenset((i,)))] if w > 0 else []
        self._run(max_iterations)

    # -- the fixpoint ------------------------------------------------------------------
    def _run(self, max_iterations: int) -> None:
        gp = self.gp
        strata = compute_strata(gp)
        by_stratum: dict[int, list[tuple[int, list[tuple[int, bool]]]]] = {}
        for r in range(gp.num_rules):
            head = int(gp.rule_head[r])
            by_stratum.setdefault(strata[head], []).append((head, gp.rule_body(r)))
        for s in sorted(by_stratum):
            rules = by_stratum[s]
            for _ in range(max_iterations):
                changed = False
                for head, body in rules:
                    old = self._lists.get(head, [])
                    new = self._merge([*old, *self._conjunction(body)])
                    if new != old:
                        self._lists[head] = new
                        changed = True
                if not changed:
                    break
            else:
                raise InferenceError(
                    f"semantics 'topk': proofs did not converge within {max_iterations} passes",
                    hint="raise max_iterations",
                )

    def _consistent(self, key: _Key) -> bool:
        seen: set[int] = set()
        for f in key:
            g = self._group_of.get(f) if f >= 0 else None
            if g is not None:
                if g in seen:
                    return False
                seen.add(g)
        return True

    def _probability(self, key: _Key) -> float:
        return float(math.prod(self._fact_prob[f] for f in key))

    def _literal_options(self, atom: int, negated: bool) -> list[_Entry]:
        proofs = self._lists.get(atom, [])
        if not negated:
            return proofs
        if not proofs:
            return [(1.0, frozenset())]
        q = 1.0 - self.lower_bound(atom)
        if q <= 0.0:
            return []
        pseudo = -(atom + 1)
        self._fact_prob[pseudo] = q
        return [(q, frozenset((pseudo,)))]

    def _conjunction(self, body: list[tuple[int, bool]]) -> list[_Entry]:
        partial: list[_Key] = [frozenset()]
        for atom, negated in body:
            options = self._literal_options(atom, negated)
            if not options:
                return []
            nxt = {a | b for a in partial for (_, b) in options}
            partial = [key for key in nxt if self._consistent(key)]
            if not partial:
                return []
        return [(self._probability(key), key) for key in partial]

    def _merge(self, entries: Iterable[_Entry]) -> list[_Entry]:
        kept: list[_Entry] = []
        seen: set[_Key] = set()
        for entry in sorted(entries, key=_sort_key):
            prob, key = entry
            if prob <= 0.0 or key in seen:
                continue
            seen.add(key)
            if any(other <= key for _, other in kept):
                continue  # a superset of a kept proof adds nothing
            kept.append(entry)
            if len(kept) == self.k:
                break
        return kept

    # -- results -----------------------------------------------------------------------
    def _atom(self, atom: int | Struct) -> int:
        if isinstance(atom, Struct):
            found = self.gp.atom_id(atom)
            if found is None:
                raise InferenceError(f"unknown atom {atom!r}", hint="ask about a ground atom")
            return found
        return int(atom)

    def _label(self, fact: int) -> Struct:
        gp = self.gp
        if fact >= 0:
            if fact < len(gp.leaf_label):
                return gp.leaf_label[fact]
            return gp.atoms[int(gp.leaves[fact])]
        return Struct(NEGATION_FUNCTOR, (gp.atoms[-fact - 1],))

    def proofs(self, atom: int | Struct) -> list[Proof]:
        """The (up to) k best proofs of ``atom`` (atom id or ground atom), best first."""
        out = []
        for prob, key in self._lists.get(self._atom(atom), []):
            leaves = tuple(sorted(f for f in key if f >= 0))
            negated = tuple(sorted(-f - 1 for f in key if f < 0))
            facts = tuple(self._label(f) for f in leaves) + tuple(
                self._label(-a - 1) for a in negated
            )
            out.append(Proof(facts, prob, leaves, negated))
        return out

    explain = proofs

    def lower_bound(self, atom: int | Struct) -> float:
        """Exact probability of the disjunction of ``atom``'s top-k proofs.

        A lower bound on the atom's probability (up to the negation approximation);
        the facts in the proofs are enumerated when there are at most 16 of them,
        else inclusion-exclusion over at most 16 proofs, else the best proof's
        probability (still a lower bound).
        """
        a = self._atom(atom)
        entries = self._lists.get(a, [])
        cached = self._bound_cache.get(a)
        if cached is not None and cached[0] is entries:
            return cached[1]
        value = self._disjunction([key for _, key in entries])
        self._bound_cache[a] = (entries, value)
        return value

    def probabilities(self) -> list[float]:
        """:meth:`lower_bound` of every atom id (0 for atoms without proofs)."""
        return [self.lower_bound(a) for a in range(self.gp.num_atoms)]

    def _disjunction(self, keys: list[_Key]) -> float:
        if not keys:
            return 0.0
        if any(not key for key in keys):
            return 1.0
        facts = sorted(set().union(*keys))
        if len(facts) <= 16:
            return self._enumerate(keys, facts)
        if len(keys) <= 16:
            total = 0.0
            for r in range(1, len(keys) + 1):
                for subset in itertools.combinations(keys, r):
                    union = frozenset().union(*subset)
                    if self._consistent(union):
                        total += (-1) ** (r + 1) * self._probability(union)
            return min(1.0, max(0.0, total))
        return self._probability(keys[0])

    def _enumerate(self, keys: list[_Key], facts: list[int]) -> float:
        # choice units over the facts involved: a group picks one involved member or none
        units: list[list[tuple[frozenset[int], float]]] = []
        by_group: dict[int, list[int]] = {}
        for f in facts:
            g = self._group_of.get(f) if f >= 0 else None
            if g is None:
                p = self._fact_prob[f]
                units.append([(frozenset((f,)), p), (frozenset(), 1.0 - p)])
            else:
                by_group.setdefault(g, []).append(f)
        for members in by_group.values():
            rest = 1.0 - sum(self._fact_prob[f] for f in members)
            units.append(
                [(frozenset((f,)), self._fact_prob[f]) for f in members]
                + [(frozenset(), max(0.0, rest))]
            )
        total = 0.0
        for choice in itertools.product(*units):
            world = frozenset().union(*(c for c, _ in choice))
            if any(key <= world for key in keys):
                total += math.prod(p for _, p in choice)
        return min(1.0, total)


def top_k_proofs(
    gp: GroundProgram, weights: Sequence[float] | torch.Tensor | None, k: int
) -> TopKProofs:
    """Top-k proofs of every atom; ``weights`` are leaf probabilities (``None``: constants)."""
    return TopKProofs(gp, weights, k)


def most_probable_proof(
    gp: GroundProgram, weights: Sequence[float] | torch.Tensor | None, atom: int | Struct
) -> Proof | None:
    """The most probable proof of ``atom`` (``k = 1``), or ``None`` when it has none."""
    found = TopKProofs(gp, weights, 1).proofs(atom)
    return found[0] if found else None
