"""Predicate strata computed from the IR itself.

Why: the grounder needs a stratum per predicate twice -- to run aggregates
only once their goal's tables are complete (lowest goal stratum first) and
to fill :attr:`GroundProgram.stratum`.  The front end provides
``IRProgram.strata``, but the grounder must not silently misbehave when a
hand-built IR (tests, other front ends) leaves some predicates out, so it
computes the same thing from the rules: strongly connected components of
the predicate dependency graph (iterative Tarjan, no recursion), then the
longest path where negated and aggregated calls count one.
"""

from __future__ import annotations

from collections.abc import Iterable

from einlog.ir.nodes import (
    CHOICE_FUNCTOR,
    AggregateLiteral,
    IRProgram,
    PredKey,
    PredLiteral,
)

__all__ = ["compute_strata", "dependency_edges"]


def dependency_edges(ir: IRProgram) -> dict[PredKey, list[tuple[PredKey, bool]]]:
    """``head -> [(body predicate, strict)]``; strict for negation and aggregates."""
    edges: dict[PredKey, list[tuple[PredKey, bool]]] = {}
    for rule in ir.rules:
        out = edges.setdefault(rule.head.indicator, [])
        for lit in rule.body:
            if isinstance(lit, PredLiteral):
                if lit.atom.functor == CHOICE_FUNCTOR:
                    continue
                out.append((lit.atom.indicator, lit.negated))
            elif isinstance(lit, AggregateLiteral):
                out.append((lit.goal.indicator, True))
    for key in ir.facts:
        edges.setdefault(key, [])
    return edges


def _sccs(nodes: Iterable[PredKey], succ: dict[PredKey, list[PredKey]]) -> list[list[PredKey]]:
    """Tarjan's algorithm, iterative; components come out in reverse topological order."""
    index: dict[PredKey, int] = {}
    low: dict[PredKey, int] = {}
    on_stack: set[PredKey] = set()
    stack: list[PredKey] = []
    out: list[list[PredKey]] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work: list[tuple[PredKey, int]] = [(root, 0)]
        while work:
            v, i = work.pop()
            if i == 0:
                index[v] = low[v] = counter
                counter += 1
                stack.append(v)
                on_stack.add(v)
            children = succ.get(v, [])
            recursed = False
            while i < len(children):
                w = children[i]
                i += 1
                if w not in index:
                    work.append((v, i))
                    work.append((w, 0))
                    recursed = True
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            if recursed:
                continue
            if low[v] == index[v]:
                comp: list[PredKey] = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                out.append(comp)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
    return out


def compute_strata(ir: IRProgram) -> tuple[dict[PredKey, int], set[PredKey]]:
    """``(stratum per predicate, recursive predicates)``.

    A predicate is recursive when it lies on a cycle of the dependency graph.
    Strict edges inside one component (negation through recursion) are not
    rejected here; the front end reports those as a StratificationError.
    """
    edges = dependency_edges(ir)
    for key in list(edges):
        for dep, _ in edges[key]:
            edges.setdefault(dep, [])
    succ = {k: [d for d, _ in v] for k, v in edges.items()}
    comps = _sccs(sorted(edges), succ)
    comp_of: dict[PredKey, int] = {}
    for ci, comp in enumerate(comps):
        for k in comp:
            comp_of[k] = ci
    recursive: set[PredKey] = set()
    stratum_of_comp: list[int] = [0] * len(comps)
    for ci, comp in enumerate(comps):  # reverse topological: dependencies first
        s = 0
        for k in comp:
            for dep, strict in edges[k]:
                dc = comp_of[dep]
                if dc == ci:
                    recursive.add(k)
                    continue
                s = max(s, stratum_of_comp[dc] + (1 if strict else 0))
        if len(comp) > 1:
            recursive.update(comp)
        stratum_of_comp[ci] = s
    return {k: stratum_of_comp[comp_of[k]] for k in edges}, recursive
