"""Stratification: the predicate dependency graph, its SCCs and the strata.

Why iterative Tarjan: generated and real programs have dependency chains far
longer than Python's recursion limit.  Edges run from a rule's head to each
called predicate and are ``pos``, ``neg`` (``\\+``) or ``agg`` (an aggregate's
goal).  A ``neg``/``agg`` edge inside one SCC means negation or aggregation
through recursion: a :class:`StratificationError` names the cycle by the
user's predicate names (auxiliary ``$`` predicates are skipped when printing).
Strata: positive dependencies are in the same or a lower stratum, negative
and aggregate dependencies in a strictly lower one.  They are computed on the
graph without repeated edges (a CPT has one rule per row, all calling the
same parents); the full edge list, with spans, is built only to report a cycle.
"""

from __future__ import annotations

from collections import deque
from typing import NoReturn

from einlog.errors import SourceSpan, StratificationError
from einlog.graphs import strongly_connected_components
from einlog.ir.nodes import (
    CHOICE_FUNCTOR,
    AggregateLiteral,
    IRProgram,
    PredKey,
    PredLiteral,
    Rule,
)

__all__ = ["dependency_graph", "sccs", "stratify"]

Edge = tuple[PredKey, str, SourceSpan | None]  # (callee, kind, span of the literal)


def _rule_calls(rule: Rule) -> list[Edge]:
    """The predicates one rule's body calls, in order, with kind and span."""
    calls: list[Edge] = []
    for lit in rule.body:
        if isinstance(lit, PredLiteral):
            atom = lit.atom
            if atom.functor != CHOICE_FUNCTOR:
                calls.append(((atom.functor, len(atom.args)),
                              "neg" if lit.negated else "pos", lit.span or rule.span))
        elif isinstance(lit, AggregateLiteral):
            goal = lit.goal
            calls.append(((goal.functor, len(goal.args)), "agg", lit.span or rule.span))
    return calls


def dependency_graph(ir: IRProgram) -> dict[PredKey, list[Edge]]:
    graph: dict[PredKey, list[Edge]] = {k: [] for k in ir.facts}
    for rule in ir.rules:
        head = rule.head
        edges = graph.setdefault((head.functor, len(head.args)), [])
        for call in _rule_calls(rule):
            edges.append(call)
            graph.setdefault(call[0], [])
    return graph


def sccs(graph: dict[PredKey, list[Edge]]) -> list[list[PredKey]]:
    """Strongly connected components, callees before callers."""
    return strongly_connected_components(graph, lambda node: (e[0] for e in graph[node]))


def _name(key: PredKey) -> str:
    return f"{key[0]}/{key[1]}"


def _is_aux(key: PredKey) -> bool:
    return key[0].startswith("$") and not key[0].startswith("$lists_")


def _cycle_message(
    graph: dict[PredKey, list[Edge]], comp: set[PredKey], src: PredKey, dst: PredKey, kind: str
) -> str:
    # shortest path dst -> src inside the component
    prev: dict[PredKey, tuple[PredKey, str]] = {}
    seen = {dst}
    queue = deque([dst])
    while queue and src not in seen:
        n = queue.popleft()
        for succ, k, _ in graph[n]:
            if succ in comp and succ not in seen:
                seen.add(succ)
                prev[succ] = (n, k)
                queue.append(succ)
    path: list[tuple[str, PredKey]] = []
    node = src
    while node != dst:
        p, k = prev[node]
        path.append((k, node))
        node = p
    path.reverse()
    steps = [(kind, dst), *path]
    # rotate so that the cycle starts at a user predicate
    nodes = [src] + [n for _, n in steps[:-1]]
    start = next((i for i, n in enumerate(nodes) if not _is_aux(n)), 0)
    steps = steps[start:] + steps[:start]
    first = nodes[start]
    # each arrow is one call: 'win/1 -> \+ win/1' reads "win/1 calls \+ win/1"
    parts = [_name(first)]
    pending = "pos"
    for k, n in steps:
        if k != "pos":
            pending = k
        if _is_aux(n):
            continue
        if pending == "neg":
            parts.append(f"\\+ {_name(n)}")
        elif pending == "agg":
            parts.append(f"aggregate over {_name(n)}")
        else:
            parts.append(_name(n))
        pending = "pos"
    return " -> ".join(parts)


def _callees(ir: IRProgram) -> dict[PredKey, dict[PredKey, bool]]:
    """The dependency graph without repeated edges: each predicate's callees, in
    first-call order, each with whether some call is negated or aggregated.

    Keys come in :func:`dependency_graph`'s order and repeated edges change neither
    the components nor their order, so the strata come out the same, for a fraction
    of the work (a CPT has one rule per row, all calling the same parents).
    """
    graph: dict[PredKey, dict[PredKey, bool]] = {k: {} for k in ir.facts}
    for rule in ir.rules:
        head = rule.head
        out = graph.setdefault((head.functor, len(head.args)), {})
        for key, kind, _ in _rule_calls(rule):
            if kind != "pos":
                out[key] = True
            elif key not in out:
                out[key] = False
            graph.setdefault(key, {})
    return graph


def _raise_cycle(ir: IRProgram, comp: list[PredKey]) -> NoReturn:
    """Report the negation or aggregation inside ``comp``, naming the cycle."""
    graph = dependency_graph(ir)
    members = set(comp)
    for node in comp:
        for succ, kind, span in graph[node]:
            if kind != "pos" and succ in members:
                what = "negation" if kind == "neg" else "aggregation"
                cycle = _cycle_message(graph, members, node, succ, kind)
                raise StratificationError(
                    f"{what} through recursion: {cycle}",
                    span,
                    f"a predicate may not depend on its own {what} (the program must be "
                    "stratified); compute what the cycle needs with positive calls first "
                    f"and apply the {what} to that result",
                )
    raise AssertionError("no negative edge inside the component")  # pragma: no cover


def stratify(ir: IRProgram) -> dict[PredKey, int]:
    """Check stratification and return each predicate's stratum."""
    graph = _callees(ir)
    stratum: dict[PredKey, int] = {}
    for comp in strongly_connected_components(graph, graph.__getitem__):
        level = 0
        if len(comp) == 1:
            node = comp[0]
            callees = graph[node]
            if callees.get(node):
                _raise_cycle(ir, comp)
            for succ, strict in callees.items():
                if succ != node:
                    lower = stratum[succ] + strict
                    if lower > level:
                        level = lower
            stratum[node] = level
            continue
        members = set(comp)
        for node in comp:
            for succ, strict in graph[node].items():
                if succ in members:
                    if strict:
                        _raise_cycle(ir, comp)
                    continue
                lower = stratum[succ] + strict
                if lower > level:
                    level = lower
        for node in comp:
            stratum[node] = level
    return stratum
