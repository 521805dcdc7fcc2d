"""Stratification: the predicate dependency graph, its SCCs and the strata.

Why iterative Tarjan: generated and real programs have dependency chains far
longer than Python's recursion limit.  Edges run from a rule's head to each
called predicate and are ``pos``, ``neg`` (``\\+``) or ``agg`` (an aggregate's
goal).  A ``neg``/``agg`` edge inside one SCC means negation or aggregation
through recursion: a :class:`StratificationError` names the cycle by the
user's predicate names (auxiliary ``$`` predicates are skipped when printing).
Strata: positive dependencies are in the same or a lower stratum, negative
and aggregate dependencies in a strictly lower one.
"""

from __future__ import annotations

from collections import deque

from einlog.errors import SourceSpan, StratificationError
from einlog.ir.nodes import CHOICE_FUNCTOR, AggregateLiteral, IRProgram, PredKey, PredLiteral

__all__ = ["dependency_graph", "sccs", "stratify"]

Edge = tuple[PredKey, str, SourceSpan | None]  # (callee, kind, span of the literal)


def dependency_graph(ir: IRProgram) -> dict[PredKey, list[Edge]]:
    graph: dict[PredKey, list[Edge]] = {k: [] for k in ir.facts}
    for rule in ir.rules:
        edges = graph.setdefault(rule.head.indicator, [])
        for lit in rule.body:
            if isinstance(lit, PredLiteral):
                if lit.atom.functor == CHOICE_FUNCTOR:
                    continue
                edges.append((lit.atom.indicator, "neg" if lit.negated else "pos",
                              lit.span or rule.span))
                graph.setdefault(lit.atom.indicator, [])
            elif isinstance(lit, AggregateLiteral):
                edges.append((lit.goal.indicator, "agg", lit.span or rule.span))
                graph.setdefault(lit.goal.indicator, [])
    return graph


def sccs(graph: dict[PredKey, list[Edge]]) -> list[list[PredKey]]:
    """Strongly connected components, callees before callers (iterative Tarjan)."""
    index: dict[PredKey, int] = {}
    low: dict[PredKey, int] = {}
    on_stack: set[PredKey] = set()
    stack: list[PredKey] = []
    out: list[list[PredKey]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work: list[tuple[PredKey, int]] = [(root, 0)]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, i = work[-1]
            edges = graph[node]
            if i < len(edges):
                work[-1] = (node, i + 1)
                succ = edges[i][0]
                if succ not in index:
                    index[succ] = low[succ] = counter
                    counter += 1
                    stack.append(succ)
                    on_stack.add(succ)
                    work.append((succ, 0))
                elif succ in on_stack:
                    low[node] = min(low[node], index[succ])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                comp: list[PredKey] = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == node:
                        break
                out.append(comp)
    return out


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


def stratify(ir: IRProgram) -> dict[PredKey, int]:
    """Check stratification and return each predicate's stratum."""
    graph = dependency_graph(ir)
    comps = sccs(graph)
    stratum: dict[PredKey, int] = {}
    for comp in comps:
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
        level = 0
        for node in comp:
            for succ, kind, _ in graph[node]:
                if succ in members:
                    continue
                level = max(level, stratum[succ] + (0 if kind == "pos" else 1))
        for node in comp:
            stratum[node] = level
    return stratum
