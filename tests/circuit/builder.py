"""Hand-built ground programs and a tiny possible-world oracle for circuit tests.

The builder names atoms by strings so tests read like ProbLog; the oracle
enumerates every choice of every leaf (AD groups pick one alternative or
none) and computes the least model per world by naive fixpoint, stratum by
stratum via repeated passes (negation refers to lower strata only).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from einlog.ground.program import GroundProgram, GroundWeight
from einlog.terms import Struct


class Builder:
    def __init__(self) -> None:
        self.gp = GroundProgram()
        self.leaf_probs: list[float] = []
        self.rules: list[tuple[int, list[tuple[int, bool]]]] = []

    def atom(self, name: str) -> int:
        return self.gp.atoms.intern(Struct(name))

    def fact(self, p: float, name: str) -> int:
        a = self.atom(name)
        self.gp.leaves = np.append(self.gp.leaves, a).astype(np.int64)
        self.gp.leaf_weight.append(GroundWeight("const", value=p))
        self.gp.leaf_label.append(Struct(name))
        self.leaf_probs.append(p)
        return len(self.leaf_probs) - 1

    def ad(self, alts: Sequence[tuple[float, str]]) -> list[int]:
        leaves = [self.fact(p, n) for p, n in alts]
        self.gp.groups.append(leaves)
        return leaves

    def rule(self, head: str, *body: str) -> None:
        lits = []
        for b in body:
            neg = b.startswith("\\+")
            lits.append((self.atom(b[2:] if neg else b), neg))
        self.rules.append((self.atom(head), lits))

    def query(self, *names: str) -> None:
        self.gp.queries.extend(self.atom(n) for n in names)

    def evidence(self, name: str, value: bool = True) -> None:
        self.gp.evidence.append((self.atom(name), value))

    def build(self) -> GroundProgram:
        gp = self.gp
        heads, ptr, batoms, bneg = [], [0], [], []
        for h, lits in self.rules:
            heads.append(h)
            for a, n in lits:
                batoms.append(a)
                bneg.append(n)
            ptr.append(len(batoms))
        gp.rule_head = np.asarray(heads, dtype=np.int64)
        gp.rule_ptr = np.asarray(ptr, dtype=np.int64)
        gp.body_atom = np.asarray(batoms, dtype=np.int64)
        gp.body_neg = np.asarray(bneg, dtype=bool)
        gp.stratum = _strata(gp)
        return gp


def _strata(gp: GroundProgram) -> np.ndarray:
    n = gp.num_atoms
    st = np.zeros(n, dtype=np.int64)
    for _ in range(n + 1):
        changed = False
        for r in range(gp.num_rules):
            h = int(gp.rule_head[r])
            for a, neg in gp.rule_body(r):
                need = st[a] + (1 if neg else 0)
                if st[h] < need:
                    st[h] = need
                    changed = True
        if not changed:
            break
    return st


def worlds(gp: GroundProgram, probs: Sequence[float]):
    """Yield ``(leaf truth values, probability)`` for every world."""
    n = len(probs)
    grouped = {leaf for g in gp.groups for leaf in g}
    indep = [i for i in range(n) if i not in grouped]
    choices: list[list[tuple[list[int], float]]] = []
    for i in indep:
        choices.append([([i], probs[i]), ([], 1 - probs[i])])
    for g in gp.groups:
        opts = [([leaf], probs[leaf]) for leaf in g]
        opts.append(([], 1 - sum(probs[leaf] for leaf in g)))
        choices.append(opts)
    for combo in itertools.product(*choices):
        truth = np.zeros(n, dtype=bool)
        p = 1.0
        for on, q in combo:
            p *= q
            truth[on] = True
        yield truth, p


def least_model(gp: GroundProgram, leaf_truth: np.ndarray) -> np.ndarray:
    val = np.zeros(gp.num_atoms, dtype=bool)
    val[gp.leaves[leaf_truth]] = True
    for s in range(int(gp.stratum.max(initial=0)) + 1):
        changed = True
        while changed:
            changed = False
            for r in range(gp.num_rules):
                h = int(gp.rule_head[r])
                if gp.stratum[h] != s or val[h]:
                    continue
                if all(val[a] != neg for a, neg in gp.rule_body(r)):
                    val[h] = True
                    changed = True
    return val


def oracle(gp: GroundProgram, probs: Sequence[float], evidence=None) -> list[float]:
    """P(q | e) for every query by enumeration."""
    ev = gp.evidence if evidence is None else evidence
    pe = 0.0
    pq = np.zeros(len(gp.queries))
    for truth, p in worlds(gp, probs):
        if p == 0:
            continue
        val = least_model(gp, truth)
        if all(val[a] == v for a, v in ev):
            pe += p
            pq += p * val[np.asarray(gp.queries, dtype=np.int64)]
    return list(pq / pe) if pe > 0 else [float("nan")] * len(gp.queries)


def oracle_mpe(gp: GroundProgram, probs: Sequence[float], evidence=None) -> float:
    ev = gp.evidence if evidence is None else evidence
    best = 0.0
    for truth, p in worlds(gp, probs):
        val = least_model(gp, truth)
        if all(val[a] == v for a, v in ev):
            best = max(best, p)
    return best
