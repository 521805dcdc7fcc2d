"""Ordered BDDs (CUDD, through the ``dd`` package) as a second compilation target.

Why it exists: on recursive programs whose best SDD vtree is right-linear
(reachability on graphs and grids), an SDD *is* an ordered BDD, and most of
the compile time is the SDD library's applies on such vtrees.  CUDD does
the same applies 4-7x faster: the same proof-based cycle breaking
(:mod:`einlog.circuit.compile`, unchanged) compiled a 24-node random graph's
reachability in 4.8 ms instead of 22 ms, a 28-node one in 16 ms instead of
55 ms (same variable order, same probabilities to 1e-16).  The SDD path
stays the default everywhere else (acyclic programs with their dtree vtrees,
smokers-style programs whose dtree vtree beats every linear order).

How it fits in without a second compiler: :class:`BddManager` and
:class:`BddNode` offer the small part of PySDD's interface the compiler uses
(literals, constants, ``& | ~``, size, reference counting as no-ops since
``dd`` counts references itself).  Downstream:

* weighted model counts (:func:`log_wmc`) walk the BDD once and keep *both*
  polarities of every node instead of using CUDD's complement edges as
  ``1 - p``: a probability near 0 that is the complement of one near 1
  would lose its relative precision.  The walk multiplies probabilities
  (no cancellation, so no relative error beyond rounding) and redoes a
  root in log space only when it is too small for float64's range;
* tensor circuits reuse the SDD converter (:func:`einlog.circuit.tensor.
  build_tensor_circuit`) on a read-only SDD-shaped view (:func:`sdd_view`):
  a BDD node on variable ``x`` is the decision node ``(x, high) | (~x, low)``
  of the right-linear vtree over the BDD's order, complement edges expanded
  into a node per polarity, so layering, smoothing (MPE) and gradients are
  the SDD path's own code.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["BddManager", "BddNode", "available", "log_wmc", "sdd_view"]

_cudd: Any = None
_looked = False


def available() -> bool:
    """Whether CUDD can be used (``dd``'s compiled wheel; without it everything compiles
    to SDDs).  Imported on first need: ``dd.cudd`` brings networkx, 0.17 s of imports
    that acyclic programs and the CLI's start-up should not pay."""
    global _cudd, _looked
    if not _looked:
        _looked = True
        try:
            from dd import cudd
        except ImportError:  # pragma: no cover - the wheel is a declared dependency
            cudd = None
        _cudd = cudd
    return _cudd is not None


#: CUDD's initial tables: its default reserves for large problems (13 ms to start a
#: manager); these start in 0.3 ms and grow on demand.
_MEMORY = 64 * 2**20
_CACHE = 2**14
#: CUDD writes BDDs only to a path: Linux's in-memory files have one
_MEMFD = hasattr(os, "memfd_create") and os.path.isdir("/proc/self/fd")
#: BDDs of more nodes than this are read through DDDMP (:func:`_export_dddmp`)
_DDDMP_FROM = 200
#: how often :meth:`BddManager.size` really counts (see there)
_SIZE_EVERY = 256


class BddNode:
    """One BDD function, with the PySDD node methods the compiler calls."""

    __slots__ = ("f", "manager")

    def __init__(self, f: Any, manager: BddManager) -> None:
        self.f = f
        self.manager = manager

    def __and__(self, other: BddNode) -> BddNode:
        return BddNode(self.f & other.f, self.manager)

    def __or__(self, other: BddNode) -> BddNode:
        return BddNode(self.f | other.f, self.manager)

    def __invert__(self) -> BddNode:
        return BddNode(~self.f, self.manager)

    def is_true(self) -> bool:
        return bool(self.f == self.manager.one)

    def is_false(self) -> bool:
        return bool(self.f == self.manager.zero)

    def is_decision(self) -> bool:
        return False  # no manual reference counting: ``dd`` does it

    @property
    def id(self) -> int:
        return int(self.f)


class BddManager:
    """A CUDD manager over SDD variables ``order`` (1-based ids, top to bottom)."""

    def __init__(self, order: Sequence[int]) -> None:
        if not available():  # pragma: no cover - the compiler checks first
            raise RuntimeError("the BDD backend needs the 'dd' package (pip install dd)")
        bdd = _cudd.BDD(memory_estimate=_MEMORY, initial_cache_size=_CACHE)
        bdd.configure(reordering=False)  # the order is chosen by the compiler
        self.order = [int(v) for v in order]
        bdd.declare(*(str(v) for v in self.order))
        self.bdd = bdd
        # the constants, read once: ``bdd.true`` wraps a new function on every read, and
        # the compiler tests for constants after every apply
        self.one, self.zero = bdd.true, bdd.false
        self._true = BddNode(self.one, self)
        self._false = BddNode(self.zero, self)
        self._literal: dict[int, BddNode] = {}
        self._size = self._size_calls = 0
        for v in self.order:
            x = bdd.var(str(v))
            self._literal[v] = BddNode(x, self)
            self._literal[-v] = BddNode(~x, self)
        # level -> SDD variable (levels are the declaration order: reordering is off)
        self.var_at_level = [int(bdd.var_at_level(i)) for i in range(len(self.order))]

    def literal(self, var: int) -> BddNode:
        return self._literal[int(var)]

    def true(self) -> BddNode:
        return self._true

    def false(self) -> BddNode:
        return self._false

    def size(self) -> int:
        """Live BDD nodes (what the compile budget counts), read every
        :data:`_SIZE_EVERY` calls: CUDD counts them by a scan (22 us a call, 5x the
        compile time of a 4x4 grid when read between all applies)."""
        if self._size_calls == 0:
            self._size = len(self.bdd)
        self._size_calls = (self._size_calls + 1) % _SIZE_EVERY
        return self._size

    live_size = size

    def garbage_collect(self) -> None:
        """Nothing to do: CUDD frees dead nodes itself."""

    def var_count(self) -> int:
        return len(self.order)


def _export(manager: BddManager, roots: Sequence[BddNode]) -> tuple[
        list[int], list[int], list[int], list[int]]:
    """The regular nodes under ``roots`` children first: ``(var, high, low)`` per node and
    the roots, as references ``2 * k + complemented`` (node 0 is the constant true).

    ``int`` of a ``dd`` function is CUDD's pointer, complement flag in bit 0; ``succ``
    of either polarity gives the regular node's children.
    """
    succ = manager.bdd.succ
    var_at = manager.var_at_level
    index: dict[int, int] = {int(manager.bdd.true): 0}
    get = index.get
    var: list[int] = [0]
    high: list[int] = [0]
    low: list[int] = [0]
    for root in roots:
        stack = [root.f]
        while stack:
            f = stack[-1]
            key = int(f) & ~1
            if key in index:
                stack.pop()
                continue
            level, lo, hi = succ(f)
            kl, kh = int(lo), int(hi)
            il, ih = get(kl & ~1), get(kh & ~1)
            if il is None or ih is None:
                if il is None:
                    stack.append(lo)
                if ih is None:
                    stack.append(hi)
                continue
            stack.pop()
            index[key] = len(var)
            var.append(var_at[level])
            high.append(2 * ih + (kh & 1))
            low.append(2 * il + (kl & 1))
    refs = []
    for root in roots:
        k = int(root.f)
        refs.append(2 * index[k & ~1] + (k & 1))
    return var, high, low, refs


def _export_dddmp(manager: BddManager, root: BddNode) -> tuple[
        list[int], list[int], list[int], list[int]] | None:
    """:func:`_export` of one non-constant root through CUDD's own DDDMP writer (into
    an in-memory file) and numpy's reader: 2.5x faster than walking the nodes from
    Python.  ``None`` where there is no in-memory file or the layout is unexpected."""
    if not _MEMFD:
        return None
    fd = os.memfd_create("einlog-bdd")
    try:
        manager.bdd.dump(f"/proc/self/fd/{fd}", [root.f], filetype="dddmp")
        os.lseek(fd, 0, os.SEEK_SET)
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    # header lines, ".rootids R", ".nodes", then "id var index then else" (else < 0:
    # complemented; node 1 is the constant), children before parents, ".end"
    head, found, body = data.partition(b"\n.nodes\n")
    at = head.find(b".rootids ")
    if not found or at < 0:  # pragma: no cover - CUDD's format
        return None
    root_id = int(head[at + 9:].split(b"\n", 1)[0])
    body = body[body.index(b"\n") + 1 : body.rindex(b".end")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the fast text-to-int reader
        table = np.fromstring(body.decode(), dtype=np.int64, sep=" ")
    if table.size % 5:  # pragma: no cover - CUDD's format
        return None
    table = table.reshape(-1, 5)
    ids = table[:, 0]
    hi_id, lo_id = table[:, 3], table[:, 4]
    if not (np.array_equal(ids, np.arange(2, len(ids) + 2))
            and np.all(hi_id > 0) and np.all(hi_id < ids) and np.all(np.abs(lo_id) < ids)):
        return None  # pragma: no cover - not children first: walk it instead
    # DDDMP id i -> node i - 1; reference 2 * node + complemented
    high = [0, *(2 * (hi_id - 1)).tolist()]
    low = [0, *(2 * (np.abs(lo_id) - 1) + (lo_id < 0)).tolist()]
    var = [0, *table[:, 1].tolist()]
    return var, high, low, [2 * (abs(root_id) - 1) + (root_id < 0)]


def log_wmc(manager: BddManager, roots: Sequence[BddNode], log_pos: Sequence[float],
            log_neg: Sequence[float]) -> list[float]:
    """``log WMC`` of every root; variable ``v`` weighs ``exp(log_pos[v - 1])`` true and
    ``exp(log_neg[v - 1])`` false.  Both polarities of each node are counted (no
    ``1 - p``), so small probabilities keep their relative precision.

    The pass runs in probability space (two products and a sum per polarity, 3x
    cheaper than log-space's ``exp``/``log1p``): sums of non-negative products lose
    no relative precision, only range.  A root below :data:`_PROB_SPACE_MIN` may owe
    its value to underflowed (denormal or zero) intermediates, so it is counted
    again in log space.
    """
    out: list[float] = []
    pos = [0.0, *(math.exp(x) for x in log_pos)]  # 1-based: var k at index k
    neg = [0.0, *(math.exp(x) for x in log_neg)]
    for root in roots:
        if root.is_true() or root.is_false():
            out.append(0.0 if root.is_true() else -math.inf)
            continue
        exported = None
        if root.f.dag_size > _DDDMP_FROM:  # C-side export; small BDDs: the walk is faster
            exported = _export_dddmp(manager, root)
        exported = exported or _export(manager, [root])
        value = _count(*exported, pos, neg)[0]
        if value >= _PROB_SPACE_MIN:
            out.append(math.log(value))
        else:
            out.append(_log_count(*exported, log_pos, log_neg)[0])
    return out


#: roots counted in probability space below this are counted again in log space: an
#: intermediate that underflowed contributes at most ~1e-308 / 1e-280 of the root
_PROB_SPACE_MIN = 1e-280


def _count(var: list[int], high: list[int], low: list[int], refs: list[int],
           pos: Sequence[float], neg: Sequence[float]) -> list[float]:
    """Probability-space counts: ``pos[v]``, ``neg[v]`` weigh variable ``v`` (1-based)."""
    # val[2k]: count of node k, val[2k + 1]: of its complement (references index it)
    val = [1.0, 0.0]
    push = val.append
    for v, h, lo in zip(var[1:], high[1:], low[1:]):
        wp, wn = pos[v], neg[v]
        push(wp * val[h] + wn * val[lo])
        push(wp * val[h ^ 1] + wn * val[lo ^ 1])
    return [val[r] for r in refs]


def _log_count(var: list[int], high: list[int], low: list[int], refs: list[int],
               log_pos: Sequence[float], log_neg: Sequence[float]) -> list[float]:
    """:func:`_count` in log space (``log_pos[v - 1]``, ``log_neg[v - 1]``)."""
    val = [0.0, -math.inf] * len(var)
    exp, log1p, inf = math.exp, math.log1p, -math.inf
    for k in range(1, len(var)):
        v = var[k] - 1
        wp, wn = log_pos[v], log_neg[v]
        h, lo = high[k], low[k]
        for c in (0, 1):
            a = wp + val[h ^ c]
            b = wn + val[lo ^ c]
            if a < b:
                a, b = b, a
            val[2 * k + c] = a if b == inf else a + log1p(exp(b - a))
    return [val[r] for r in refs]


# ----------------------------------------------------------------- SDD-shaped view
class _VtreeNode:
    """A node of the right-linear vtree over the BDD order (in-order positions)."""

    __slots__ = ("_pos", "_var", "_left", "_right")

    def __init__(self, pos: int, var: int, left: _VtreeNode | None,
                 right: _VtreeNode | None) -> None:
        self._pos, self._var, self._left, self._right = pos, var, left, right

    def position(self) -> int:
        return self._pos

    def is_leaf(self) -> bool:
        return self._left is None

    def var(self) -> int:
        return self._var

    def left(self) -> _VtreeNode | None:
        return self._left

    def right(self) -> _VtreeNode | None:
        return self._right


class _ViewNode:
    """A read-only SDD node: a constant, a literal, or a decision node on one variable."""

    __slots__ = ("id", "_kind", "literal", "_elements", "_vtree")

    def __init__(self, node_id: int, kind: int, literal: int = 0,
                 elements: list[tuple[_ViewNode, _ViewNode]] | None = None,
                 vtree: _VtreeNode | None = None) -> None:
        self.id = node_id
        self._kind = kind  # 0 false, 1 true, 2 literal, 3 decision
        self.literal = literal
        self._elements = elements or []
        self._vtree = vtree

    def is_false(self) -> bool:
        return self._kind == 0

    def is_true(self) -> bool:
        return self._kind == 1

    def is_decision(self) -> bool:
        return self._kind == 3

    def elements(self) -> list[tuple[_ViewNode, _ViewNode]]:
        return self._elements

    def vtree(self) -> _VtreeNode | None:
        return self._vtree


class _View:
    """What :func:`einlog.circuit.tensor.build_tensor_circuit` reads of a manager."""

    def __init__(self, root: _VtreeNode) -> None:
        self._root = root

    def vtree(self) -> _VtreeNode:
        return self._root


def sdd_view(manager: BddManager, roots: Sequence[BddNode]) -> tuple[_View, list[_ViewNode]]:
    """``roots`` as SDD nodes over the right-linear vtree of the BDD's order."""
    order = manager.order
    n = len(order)
    # right-linear vtree: leaf i at in-order position 2i, internal node i at 2i + 1
    leaves = [_VtreeNode(2 * i, v, None, None) for i, v in enumerate(order)]
    inner: list[_VtreeNode] = []
    below: _VtreeNode = leaves[-1]
    for i in range(n - 2, -1, -1):
        below = _VtreeNode(2 * i + 1, 0, leaves[i], below)
        inner.append(below)
    inner.reverse()
    level_of = {v: i for i, v in enumerate(order)}
    var, high, low, refs = _export(manager, roots)
    false, true = _ViewNode(0, 0), _ViewNode(1, 1)
    prime = {v: (_ViewNode(-2 - 2 * v, 2, v, vtree=leaves[level_of[v]]),
                 _ViewNode(-3 - 2 * v, 2, -v, vtree=leaves[level_of[v]])) for v in order}
    # the polarities the roots reach (a node and its complement are two SDD nodes)
    needed = bytearray(2 * len(var))
    for r in refs:
        needed[r] = 1
    for k in range(len(var) - 1, 0, -1):
        for c in (0, 1):
            if needed[2 * k + c]:
                needed[high[k] ^ c] = needed[low[k] ^ c] = 1
    # views of references 2k + c, children first (node ids increase: a topological order)
    views: list[_ViewNode] = [true, false] + [false] * (2 * len(var) - 2)
    for k in range(1, len(var)):
        v, h, lo = var[k], high[k], low[k]
        pos_x, neg_x = prime[v]
        for c in (0, 1):
            if not needed[2 * k + c]:
                continue
            hv, lv = views[h ^ c], views[lo ^ c]
            node_id = 2 + 2 * k + c
            if hv.is_true() and lv.is_false():
                view = _ViewNode(node_id, 2, v, vtree=leaves[level_of[v]])
            elif hv.is_false() and lv.is_true():
                view = _ViewNode(node_id, 2, -v, vtree=leaves[level_of[v]])
            else:
                view = _ViewNode(node_id, 3, elements=[(pos_x, hv), (neg_x, lv)],
                                 vtree=inner[level_of[v]])
            views[2 * k + c] = view
    return _View(inner[0] if n > 1 else leaves[0]), [views[r] for r in refs]
