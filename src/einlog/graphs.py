"""Strongly connected components, shared by every stage that needs them.

Stratification (front end), grounding strata, the columnar engine's
evaluation order and the circuit compiler's cycle breaking all ask the same
question of different graphs.  One iterative Tarjan serves them all: it
takes the graph as a successor function, so callers keep their own graph
representation and restrict it on the fly, and it never recurses, so deep
dependency chains cannot hit Python's recursion limit.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import TypeVar

__all__ = ["strongly_connected_components"]

N = TypeVar("N", bound=Hashable)


def strongly_connected_components(
    roots: Iterable[N], successors: Callable[[N], Iterable[N]]
) -> list[list[N]]:
    """Components reachable from ``roots``, each after every component it reaches."""
    index: dict[N, int] = {}
    low: dict[N, int] = {}
    on_stack: set[N] = set()
    stack: list[N] = []
    out: list[list[N]] = []
    counter = 0
    for root in roots:
        if root in index:
            continue
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        work: list[tuple[N, Iterator[N]]] = [(root, iter(successors(root)))]
        while work:
            node, it = work[-1]
            descended = False
            for succ in it:
                if succ not in index:
                    index[succ] = low[succ] = counter
                    counter += 1
                    stack.append(succ)
                    on_stack.add(succ)
                    work.append((succ, iter(successors(succ))))
                    descended = True
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index[succ])
            if descended:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                comp: list[N] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    comp.append(member)
                    if member == node:
                        break
                out.append(comp)
    return out
