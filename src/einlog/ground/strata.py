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

from einlog.graphs import strongly_connected_components
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
    comps = strongly_connected_components(sorted(edges), lambda k: succ.get(k, []))
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
