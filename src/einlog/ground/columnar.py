"""Bottom-up, semi-naive grounding over columnar relations of interned ids.

Why this engine exists beside the top-down tabled grounder: on function-free
Datalog (graphs, joins over large fact tables) the work is a handful of big
joins, and numpy does those orders of magnitude faster than tuple-at-a-time
resolution in Python.  So:

* constants are interned to dense ``int64`` ids once; every relation is an
  append-only ``int64`` array ``[n, arity]`` (:mod:`einlog.ground.columnar_rel`);
* a rule body is evaluated as vectorized hash joins over a binding table
  (one column per variable): each literal's rows are grouped by the bound
  positions once (cached while the relation cannot change) and probed with
  the table's packed keys; constant selections and repeated variables are
  masks, comparisons and ``is`` run on a float column of values;
* recursion is semi-naive per strongly connected component: variant ``j`` of
  a rule reads the delta at recursive literal ``j``, the old relation before
  it and the full relation after it, so every rule instance is found once;
  the variant is evaluated starting from the delta (usually the smallest
  input), the other literals probed through their cached indexes;
* negation is an anti-join against a lower stratum (done already);
* the join carries the row index of every matched body atom, so provenance
  (the ground rules) is a set of arrays per rule, and the CSR of the
  :class:`~einlog.ground.program.GroundProgram` is assembled by concatenation.

Uncertainty: an atom is *possible* when derivable in some world (every
relation above) and *certain* when derivable in every world.  Certainty is
its own semi-naive fixpoint over the certain rows (negative literals: the atom
must be impossible), skipped when an SCC reads nothing uncertain; such an SCC
also keeps no provenance (simplification drops every rule of a certain atom),
so a large deterministic closure costs little more than its answers.  The
ground rules are then simplified exactly as the top-down grounder does:
certain body literals (and negations of impossible atoms) are dropped, a
certain derived atom keeps a single empty-body rule, leaves (probabilistic
facts) have none.

Relevance: only predicates reachable from the queries are computed; a query
with a bound argument (``path(a, X)``) is answered with a magic-set rewrite
(left-to-right sideways information passing through positive literals), and
the ground program is restricted to atoms the answers depend on (backward
reachability over the rule graph, vectorized per BFS level).

:func:`ground_columnar` returns ``None`` when the relevant part is not
function-free Datalog it can handle; the dispatcher then uses the top-down
grounder.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from einlog.errors import GroundingError, GroundingLimitError
from einlog.graphs import strongly_connected_components
from einlog.ground.columnar_rel import (
    BoolArray,
    FloatArray,
    GroupIndex,
    IntArray,
    Interner,
    KeyCodec,
    NotConstant,
    Relation,
    argsort_small,
    is_constant,
    join_index,
)
from einlog.ground.program import AtomTable, GroundProgram, GroundWeight
from einlog.ground.result import Grounding, GroundingLimits, GroundingStats
from einlog.ir.nodes import (
    CHOICE_FUNCTOR,
    AggregateLiteral,
    BuiltinLiteral,
    Fact,
    IRProgram,
    PredKey,
    PredLiteral,
    Rule,
    Weight,
)
from einlog.terms import Str, Struct, Term, Var

__all__ = ["ground_columnar", "AnswerList"]

_CMP = {"<", ">", "=<", ">=", "=:=", "=\\="}
_ARITH2 = {"+", "-", "*", "/", "//", "mod", "rem", "min", "max", "**", "^"}
_ARITH1 = {"-", "+", "abs"}


class _Ineligible(Exception):
    """The relevant program is outside what the columnar engine handles."""


# --------------------------------------------------------------------------- results
class AnswerList(list[Struct]):
    """Query answers held as atom ids; the :class:`Struct` objects are built on first read.

    A ``list`` subclass so it satisfies ``Grounding.answers: dict[Struct,
    list[Struct]]``; ``len()`` and :attr:`ids` never build atoms, so a million
    answers cost an array until someone prints them.
    """

    def __init__(self, atoms: AtomTable, ids: IntArray) -> None:
        super().__init__()
        self.atoms = atoms
        self.ids = ids
        self._done = len(ids) == 0

    def _m(self) -> None:
        if not self._done:
            self._done = True
            super().extend(self.atoms[int(i)] for i in self.ids)

    def __len__(self) -> int:
        return len(self.ids) if not self._done else super().__len__()

    def __bool__(self) -> bool:
        return len(self) > 0

    def __repr__(self) -> str:
        self._m()
        return super().__repr__()


def _lazy(name: str) -> Any:
    base = getattr(list, name)

    def method(self: AnswerList, *args: Any, **kwargs: Any) -> Any:
        self._m()
        return base(self, *args, **kwargs)

    method.__name__ = name
    return method


for _name in ("__iter__", "__getitem__", "__contains__", "__eq__", "__ne__", "__lt__",
              "__le__", "__gt__", "__ge__", "__reversed__", "__add__", "__mul__", "__iadd__",
              "__setitem__", "__delitem__", "__reduce_ex__", "index", "count", "copy",
              "append", "extend", "insert", "pop", "remove", "sort", "reverse", "clear"):
    setattr(AnswerList, _name, _lazy(_name))
AnswerList.__hash__ = None  # type: ignore[assignment,unused-ignore]


# --------------------------------------------------------------------------- compiled rules
@dataclass
class _PosLit:
    pred: PredKey
    args: list[tuple[str, int]]  # ('v', slot) or ('c', const id)
    negated: bool
    record: bool  # False for magic (demand) literals: a filter, not provenance
    orig: int = -1  # position among the rule's positive literals as written
    # filled by _plan:
    const_pos: list[tuple[int, int]] = field(default_factory=list)
    eq_pos: list[tuple[int, int]] = field(default_factory=list)
    bound_pos: list[tuple[int, int]] = field(default_factory=list)  # (position, slot)
    new_pos: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class _BLit:
    name: str
    args: tuple[Term, ...]
    negated: bool


@dataclass
class _ChoiceLit:
    """``'$choice'(cid, k, vars(V...))``: the k-th alternative of a choice instance."""

    cid: int
    k: int
    slots: list[int]


@dataclass
class _CRule:
    index: int
    head_pred: PredKey
    head_args: list[tuple[str, int]]
    body: list[_PosLit | _BLit | _ChoiceLit]
    slots: dict[str, int]
    # a reordered variant: prov_perm[i] = where the i-th provenance column of the
    # rule as written is produced in this body (None: the body as written)
    prov_perm: list[int] | None = None

    @property
    def pos_lits(self) -> list[_PosLit]:
        """Positive, non-negated literals in body order (the ones read through views)."""
        return [b for b in self.body if isinstance(b, _PosLit) and not b.negated]

    @property
    def pred_lits(self) -> list[_PosLit]:
        return [b for b in self.body if isinstance(b, _PosLit)]

    @property
    def prov_lits(self) -> list[_PosLit | _ChoiceLit]:
        """Literals with a provenance column, in the order the join appends them."""
        return [b for b in self.body
                if isinstance(b, _ChoiceLit) or (isinstance(b, _PosLit) and b.record)]


# --------------------------------------------------------------------------- binding table
class _Table:
    """Bindings of a rule body: one id column per bound variable, provenance per literal."""

    def __init__(self, nslots: int, keep_prov: bool = True) -> None:
        self.n = 1
        self.cols: list[IntArray | None] = [None] * nslots
        self.prov: list[IntArray] = []
        self.keep_prov = keep_prov  # False: an SCC known certain needs no rule instances

    def take(self, idx: IntArray) -> None:
        self.n = len(idx)
        self.cols = [None if c is None else c[idx] for c in self.cols]
        self.prov = [p[idx] for p in self.prov]

    def filter(self, mask: BoolArray) -> None:
        if not mask.all():
            self.take(np.nonzero(mask)[0])


@dataclass
class _View:
    """Rows of a relation a literal reads: ``rows`` with absolute row indices ``ids``."""

    rows: IntArray
    ids: IntArray | None  # None: ids are lo + arange
    lo: int
    cache_key: tuple[Any, ...] | None

    def abs_ids(self, local: IntArray) -> IntArray:
        return local + self.lo if self.ids is None else self.ids[local]


# --------------------------------------------------------------------------- the engine
class _Engine:
    def __init__(self, ir: IRProgram, limits: Any) -> None:
        self.ir = ir
        self.limits = limits
        self.interner = Interner()
        self.codec = KeyCodec(1)
        self.rels: dict[PredKey, Relation] = {}
        self.certain: dict[PredKey, BoolArray] = {}
        self.leaf_rows: dict[PredKey, tuple[IntArray, list[Fact]]] = {}
        self.records: list[tuple[_CRule, IntArray, list[IntArray]]] = []
        self.cache: dict[tuple[Any, ...], tuple[IntArray, GroupIndex | None]] = {}
        self.variants: dict[tuple[int, int], _CRule] = {}
        self.unrecorded = 0  # rule instances of SCCs known certain (no provenance kept)
        self.choice_rels: dict[int, Relation] = {}
        self.rounds = 0
        self.max_atoms = _limit(limits, "max_atoms")
        self.max_answers = _limit(limits, "max_answers_per_predicate")
        tl = getattr(limits, "time_limit", None)
        self.deadline = time.monotonic() + tl if tl is not None else None
        self.num_instances = 0
        self.phases: dict[str, float] = {}  # seconds per phase, reported in stats.extra
        self._t = time.perf_counter()

    def lap(self, phase: str) -> None:
        """Charge the time since the previous lap to ``phase``."""
        now = time.perf_counter()
        self.phases[phase] = self.phases.get(phase, 0.0) + now - self._t
        self._t = now

    # ------------------------------------------------------------------ compile
    def const_id(self, t: Term) -> int:
        if not is_constant(t):
            raise _Ineligible(f"non-constant term {t!r}")
        return self.interner.intern(t)

    def compile_rule(self, index: int, rule: Rule, magic: dict[int, bool] | None = None) -> _CRule:
        slots: dict[str, int] = {}

        def arg(t: Term) -> tuple[str, int]:
            if isinstance(t, Var):
                if t.name == "_":
                    t = Var(f"_anon{len(slots)}")
                return ("v", slots.setdefault(t.name, len(slots)))
            return ("c", self.const_id(t))

        body: list[_PosLit | _BLit | _ChoiceLit] = []
        for k, lit in enumerate(rule.body):
            if isinstance(lit, AggregateLiteral):
                raise _Ineligible("aggregate")
            if isinstance(lit, PredLiteral):
                if lit.atom.functor == CHOICE_FUNCTOR:
                    cid, alt, vs = lit.atom.args
                    assert isinstance(cid, int) and isinstance(alt, int)
                    assert isinstance(vs, Struct)
                    choice = self.ir.choices[cid]
                    for w, _ in choice.alternatives:
                        wv = set(_vars_of([w.expr])) if w.expr is not None else set()
                        if not wv <= set(_vars_of(vs.args)):
                            raise _Ineligible("choice weight with unbound variables")
                    cslots = []
                    for a in vs.args:
                        if not isinstance(a, Var):
                            raise _Ineligible("choice with a non-variable key")
                        cslots.append(slots.setdefault(a.name, len(slots)))
                    body.append(_ChoiceLit(cid, alt, cslots))
                    continue
                args = [arg(a) for a in lit.atom.args]
                rec = not (magic or {}).get(k, False)
                body.append(_PosLit(lit.atom.indicator, args, lit.negated, rec))
            else:
                name = lit.atom.functor
                ar = len(lit.atom.args)
                if (name in _CMP and ar == 2) or (name == "is" and ar == 2):
                    for a in lit.atom.args:
                        _check_expr(a)
                elif name in ("=", "==", "\\==", "\\=") and ar == 2:
                    for a in lit.atom.args:
                        if not (isinstance(a, Var) or is_constant(a)):
                            raise _Ineligible("unification with compound terms")
                elif (name in ("true", "fail", "false")) and ar == 0:
                    pass
                else:
                    raise _Ineligible(f"builtin {name}/{ar}")
                for v in _vars_of(lit.atom.args):
                    slots.setdefault(v, len(slots))
                if name in ("=", "==", "\\==", "\\="):
                    for a in lit.atom.args:
                        if not isinstance(a, Var):
                            self.interner.intern(a)
                body.append(_BLit(name, lit.atom.args, lit.negated))
        head_args = [arg(a) for a in rule.head.args]
        cr = _CRule(index, rule.head.indicator, head_args, body, slots)
        for i, plit in enumerate(cr.pos_lits):
            plit.orig = i
        self._plan(cr)
        return cr

    def variant(self, cr: _CRule, j: int) -> _CRule:
        """``cr`` with its ``j``-th positive literal (the delta of a semi-naive step) first.

        The delta is usually the smallest input, so starting from it makes a
        round cost what the new rows cost, and the other literals are probed
        through cached indexes.  The rest follow greedily: the next positive
        literal is the first one sharing a bound variable (else the first
        left); a builtin, negation or choice comes once every literal before
        it as written is placed, so it sees at least the bindings it had.
        """
        key = (cr.index, j)
        found = self.variants.get(key)
        if found is not None:
            return found
        items = list(cr.body)
        delta = next(b for b in items if isinstance(b, _PosLit) and not b.negated and b.orig == j)
        order: list[_PosLit | _BLit | _ChoiceLit] = [delta]
        placed = {id(delta)}
        bound = {v for kind, v in delta.args if kind == "v"}

        def ready(i: int) -> bool:
            return all(id(b) in placed for b in items[:i])

        while len(order) < len(items):
            pick = None
            for i, b in enumerate(items):  # builtins / negations / choices whose turn came
                if id(b) not in placed and not (isinstance(b, _PosLit) and not b.negated) \
                        and ready(i):
                    pick = b
                    break
            if pick is None:
                pos: list[_PosLit | _BLit | _ChoiceLit] = [
                    b for b in items if id(b) not in placed
                    and isinstance(b, _PosLit) and not b.negated]
                linked = [b for b in pos if isinstance(b, _PosLit)
                          and any(k == "v" and v in bound for k, v in b.args)]
                pick = (linked or pos or [b for b in items if id(b) not in placed])[0]
            order.append(pick)
            placed.add(id(pick))
            if isinstance(pick, _PosLit) and not pick.negated:
                bound.update(v for kind, v in pick.args if kind == "v")
        body: list[_PosLit | _BLit | _ChoiceLit] = [
            _PosLit(b.pred, b.args, b.negated, b.record, b.orig)  # re-planned below
            if isinstance(b, _PosLit) else b for b in order]
        var = _CRule(cr.index, cr.head_pred, cr.head_args, body, cr.slots)
        self._plan(var)
        src = {id(b): i for i, b in enumerate(order)}
        mine = [src[id(b)] for b in cr.prov_lits]  # body positions, rule as written
        here = [i for i, b in enumerate(order)
                if isinstance(b, _ChoiceLit) or (isinstance(b, _PosLit) and b.record)]
        var.prov_perm = [here.index(i) for i in mine]
        self.variants[key] = var
        return var

    def _plan(self, cr: _CRule) -> None:
        """Fix, per literal, which argument positions are bound, new, constant, repeated."""
        slot_of = cr.slots
        bound: set[int] = set()
        for lit in cr.body:
            if isinstance(lit, _ChoiceLit):
                if not set(lit.slots) <= bound:
                    raise _Ineligible("probabilistic rule reached with unbound variables")
                continue
            if isinstance(lit, _PosLit):
                seen: dict[int, int] = {}
                for pos, (kind, v) in enumerate(lit.args):
                    if kind == "c":
                        lit.const_pos.append((pos, v))
                    elif v in seen:
                        lit.eq_pos.append((seen[v], pos))
                    elif v in bound:
                        seen[v] = pos
                        lit.bound_pos.append((pos, v))
                    else:
                        seen[v] = pos
                        lit.new_pos.append((pos, v))
                if lit.negated:
                    if lit.new_pos:
                        raise _Ineligible("negated literal with unbound variables")
                else:
                    bound.update(v for _, v in lit.new_pos)
            else:
                names = [slot_of[v] for v in _vars_of(lit.args)]
                if lit.name == "is":
                    rhs = [slot_of[v] for v in _vars_of(lit.args[1:])]
                    if not set(rhs) <= bound or (lit.negated and not set(names) <= bound):
                        raise _Ineligible("is/2 with unbound arguments")
                    bound.update(names)
                elif lit.name == "=" and not lit.negated:
                    unb = {s for s in names if s not in bound}
                    if len(unb) >= 2 or (unb and len(names) == 1 and all(
                            isinstance(a, Var) for a in lit.args)):
                        raise _Ineligible("=/2 between two unbound variables")
                    bound.update(names)
                elif not set(names) <= bound:
                    raise _Ineligible(f"{lit.name}/2 with unbound arguments")
        for kind, v in cr.head_args:
            if kind == "v" and v not in bound:
                raise _Ineligible("head variable not bound by the body")

    # ------------------------------------------------------------------ facts
    def load_facts(self, pred: PredKey, facts: list[Fact]) -> None:
        name, arity = pred
        rel = Relation(name, arity, self.codec)
        self.rels[pred] = rel
        prob = [f for f in facts if f.weight is not None]
        det = [f for f in facts if f.weight is None] if prob else facts
        ids_det = self._fact_rows(det, arity)
        ids_prob = self._fact_rows(prob, arity)
        self.codec.grow(len(self.interner))
        rel.add(ids_det)
        nd = rel.n
        if len(prob):
            pidx, fresh = rel.add(ids_prob)
            if fresh != len(prob):
                raise _Ineligible("probabilistic fact repeated or also certain")
            self.leaf_rows[pred] = (pidx, prob)
        cert = np.zeros(rel.n, dtype=np.bool_)
        cert[:nd] = True
        self.certain[pred] = cert

    def _fact_rows(self, facts: list[Fact], arity: int) -> IntArray:
        if not facts:
            return np.zeros((0, arity), dtype=np.int64)
        try:
            ids = self.interner.intern_args(facts)
        except NotConstant as exc:
            raise _Ineligible("fact with a compound argument") from exc
        return ids.reshape(len(facts), arity)

    # ------------------------------------------------------------------ views and joins
    def full_view(self, pred: PredKey, certain_only: bool, scc_rels: dict[PredKey, Relation]
                  ) -> _View:
        if pred in scc_rels:
            return _View(scc_rels[pred].rows, None, 0, None)
        rel = self.rels.get(pred)
        if rel is None:
            return _View(np.zeros((0, pred[1]), dtype=np.int64), None, 0, None)
        if certain_only:
            cert = self.certain[pred]
            if cert.all():
                return _View(rel.rows, None, 0, (pred, "all"))
            ids = np.nonzero(cert)[0].astype(np.int64)
            return _View(rel.rows[ids], ids, 0, (pred, "certain"))
        return _View(rel.rows, None, 0, (pred, "all"))

    def static_view(self, lit: _PosLit, certain_mode: bool) -> _View:
        if not lit.record:
            rel = self.rels[lit.pred]
            return _View(rel.rows, None, 0, None)
        return self.full_view(lit.pred, certain_mode, {})

    def join(self, t: _Table, lit: _PosLit, view: _View) -> None:
        rows = view.rows
        ckey = None
        if view.cache_key is not None:
            ckey = (*view.cache_key, tuple(lit.const_pos), tuple(lit.eq_pos),
                    tuple(p for p, _ in lit.bound_pos), self.codec.bits)
        hit = self.cache.get(ckey) if ckey is not None else None
        bpos = [p for p, _ in lit.bound_pos]
        packed = bool(bpos) and self.codec.fits(len(bpos))
        if hit is not None:
            cand, index = hit
        else:
            mask: BoolArray | None = None
            for pos, cid in lit.const_pos:
                m = rows[:, pos] == cid
                mask = m if mask is None else mask & m
            for p1, p2 in lit.eq_pos:
                m = rows[:, p1] == rows[:, p2]
                mask = m if mask is None else mask & m
            cand = (np.arange(len(rows), dtype=np.int64) if mask is None
                    else np.nonzero(mask)[0].astype(np.int64))
            index = (GroupIndex(self.codec.pack(rows[cand][:, bpos]), cand,
                                1 << (self.codec.bits * len(bpos))) if packed else None)
            if ckey is not None:
                self.cache[ckey] = (cand, index)
        if bpos:
            left = np.stack([t.cols[s] for _, s in lit.bound_pos], axis=1)  # type: ignore[misc]
            if index is not None:
                li, ri = index.probe(self.codec.pack(left))
            else:
                lk, rk = self.codec.joint(left, rows[cand][:, bpos])
                order = np.argsort(rk, kind="stable")
                li, rpos = join_index(lk, rk[order])
                ri = cand[order[rpos]]
        elif t.n == 1 and not t.prov and all(c is None for c in t.cols):
            # first literal of a body: its rows are the table (no copy of the empty one)
            t.n = len(cand)
            ri = cand
            li = None
        else:
            m = len(cand)
            li = np.repeat(np.arange(t.n, dtype=np.int64), m)
            ri = np.tile(cand, t.n)
        if li is not None:
            t.take(li)
        for pos, s in lit.new_pos:
            t.cols[s] = rows[ri, pos]
        if lit.record and t.keep_prov:
            t.prov.append(view.abs_ids(ri))

    def negative(self, t: _Table, lit: _PosLit, certain_mode: bool) -> None:
        """``\\+ p(...)``: drop bindings where p is certain (possible mode) or possible."""
        rel = self.rels.get(lit.pred)
        q = np.empty((t.n, len(lit.args)), dtype=np.int64)
        for pos, (kind, v) in enumerate(lit.args):
            q[:, pos] = v if kind == "c" else t.cols[v]  # type: ignore[assignment]
        idx = rel.find(q) if rel is not None else np.full(t.n, -1, dtype=np.int64)
        if certain_mode:
            t.filter(idx < 0)
            return
        if rel is not None:
            cert = self.certain[lit.pred]
            blocked = np.zeros(t.n, dtype=np.bool_)
            hit = idx >= 0
            blocked[hit] = cert[idx[hit]]
            if t.keep_prov:
                t.prov.append(idx)
            t.filter(~blocked)
        elif t.keep_prov:
            t.prov.append(idx)

    # ------------------------------------------------------------------ builtins
    def expr(self, t: _Table, e: Term, slots: dict[str, int]) -> tuple[FloatArray, BoolArray]:
        n = t.n
        if isinstance(e, bool):
            raise GroundingError(f"not a number: {e!r}")
        if isinstance(e, int):
            return np.full(n, float(e)), np.ones(n, dtype=np.bool_)
        if isinstance(e, float):
            return np.full(n, e), np.zeros(n, dtype=np.bool_)
        if isinstance(e, Var):
            col = t.cols[slots[e.name]]
            assert col is not None
            val = self.interner.num[col]
            if np.isnan(val).any():
                bad = self.interner.terms[int(col[np.isnan(val)][0])]
                raise GroundingError(
                    f"arithmetic on a non-number: {bad}",
                    hint="only numbers can appear in is/2 and comparisons",
                )
            return val, self.interner.isint[col]
        if isinstance(e, Struct) and len(e.args) == 2:
            a, ai = self.expr(t, e.args[0], slots)
            b, bi = self.expr(t, e.args[1], slots)
            both = ai & bi
            op = e.functor
            with np.errstate(divide="ignore", invalid="ignore"):
                if op == "+":
                    return a + b, both
                if op == "-":
                    return a - b, both
                if op == "*":
                    return a * b, both
                if op in ("/", "//", "mod", "rem") and (b == 0).any():
                    raise GroundingError("division by zero in arithmetic")
                if op == "/":
                    q = a / b
                    return q, both & (np.mod(a, b) == 0)
                if op == "//":
                    return np.trunc(a / b), both
                if op == "mod":
                    return a - b * np.floor(a / b), both
                if op == "rem":
                    return a - b * np.trunc(a / b), both
                if op == "min":
                    return np.minimum(a, b), np.where(a <= b, ai, bi)
                if op == "max":
                    return np.maximum(a, b), np.where(a >= b, ai, bi)
                if op in ("**", "^"):
                    return np.power(a, b), both & (b >= 0)
        if isinstance(e, Struct) and len(e.args) == 1:
            a, ai = self.expr(t, e.args[0], slots)
            if e.functor == "-":
                return -a, ai
            if e.functor == "+":
                return a, ai
            if e.functor == "abs":
                return np.abs(a), ai
        raise GroundingError(f"cannot evaluate {e!r} arithmetically")

    def builtin(self, t: _Table, lit: _BLit, slots: dict[str, int]) -> None:
        name = lit.name
        if name == "true":
            if lit.negated:
                t.filter(np.zeros(t.n, dtype=np.bool_))
            return
        if name in ("fail", "false"):
            if not lit.negated:
                t.filter(np.zeros(t.n, dtype=np.bool_))
            return
        if name in _CMP:
            a, _ = self.expr(t, lit.args[0], slots)
            b, _ = self.expr(t, lit.args[1], slots)
            m = {"<": np.less, ">": np.greater, "=<": np.less_equal, ">=": np.greater_equal,
                 "=:=": np.equal, "=\\=": np.not_equal}[name](a, b)
            t.filter(~m if lit.negated else m)
            return
        if name == "is":
            val, isint = self.expr(t, lit.args[1], slots)
            target = lit.args[0]
            if isinstance(target, Var) and t.cols[slots[target.name]] is None:
                t.cols[slots[target.name]] = self.interner.intern_values(val, isint)
                self.codec_grow()
                return
            if isinstance(target, Var):
                col = t.cols[slots[target.name]]
                assert col is not None
                tv, ti = self.interner.num[col], self.interner.isint[col]
            elif isinstance(target, (int, float)):
                tv = np.full(t.n, float(target))
                ti = np.full(t.n, isinstance(target, int))
            else:
                tv, ti = np.full(t.n, np.nan), np.zeros(t.n, dtype=np.bool_)
            m = (tv == val) & (ti == isint)
            t.filter(~m if lit.negated else m)
            return
        # =, ==, \=, \== over constants and variables
        cols: list[IntArray | None] = []
        for arg in lit.args:
            if isinstance(arg, Var):
                cols.append(t.cols[slots[arg.name]])
            else:
                cols.append(np.full(t.n, self.interner.intern(arg), dtype=np.int64))
        if name == "=" and not lit.negated and (cols[0] is None or cols[1] is None):
            src = cols[1] if cols[0] is None else cols[0]
            dst = lit.args[0] if cols[0] is None else lit.args[1]
            assert isinstance(dst, Var) and src is not None
            t.cols[slots[dst.name]] = src
            return
        assert cols[0] is not None and cols[1] is not None
        eq = cols[0] == cols[1]
        want_eq = name in ("=", "==")
        if lit.negated:
            want_eq = not want_eq
        t.filter(eq if want_eq else ~eq)

    def codec_grow(self) -> None:
        if self.codec.grow(len(self.interner)):
            self.cache.clear()

    # ------------------------------------------------------------------ rule bodies
    def eval_body(self, cr: _CRule, views: list[_View], certain_mode: bool,
                  keep_prov: bool = True) -> _Table:
        t = _Table(len(cr.slots), keep_prov and not certain_mode)
        k = 0
        for lit in cr.body:
            if t.n == 0:
                break
            if isinstance(lit, _ChoiceLit):
                if certain_mode:
                    t.filter(np.zeros(t.n, dtype=np.bool_))
                    break
                rel = self.choice_rels.get(lit.cid)
                if rel is None:
                    rel = Relation("$choice", len(lit.slots), self.codec)
                    self.choice_rels[lit.cid] = rel
                vrows = np.empty((t.n, len(lit.slots)), dtype=np.int64)
                for j, sl in enumerate(lit.slots):
                    vrows[:, j] = t.cols[sl]  # type: ignore[assignment]
                idx, _ = rel.add(vrows)
                if t.keep_prov:
                    t.prov.append(idx)
                continue
            if isinstance(lit, _PosLit):
                if lit.negated:
                    self.negative(t, lit, certain_mode)
                else:
                    self.join(t, lit, views[k])
                    k += 1
            else:
                self.builtin(t, lit, cr.slots)
        if t.n == 0:
            t.take(np.zeros(0, dtype=np.int64))
        elif cr.prov_perm is not None and t.keep_prov:
            t.prov = [t.prov[i] for i in cr.prov_perm]  # back to the rule as written
        return t

    def head_rows(self, cr: _CRule, t: _Table) -> IntArray:
        rows = np.empty((t.n, len(cr.head_args)), dtype=np.int64)
        for pos, (kind, v) in enumerate(cr.head_args):
            rows[:, pos] = v if kind == "c" else t.cols[v]  # type: ignore[assignment]
        return rows

    # ------------------------------------------------------------------ one SCC
    def fixpoint(self, rules: list[_CRule], scc: set[PredKey], scc_rels: dict[PredKey, Relation],
                 certain_mode: bool, keep_prov: bool = True
                 ) -> list[tuple[_CRule, IntArray, list[IntArray]]]:
        """Semi-naive evaluation of one SCC; returns the rule instances (possible mode).

        ``keep_prov=False`` (an SCC known certain before it runs) keeps no rule
        instances: the simplified program drops every rule of a certain atom.
        """
        out: list[tuple[_CRule, IntArray, list[IntArray]]] = []
        old_n = {p: 0 for p in scc}
        cur_n = {p: scc_rels[p].n for p in scc}
        first = True
        while True:
            self.rounds += 1
            results: list[tuple[_CRule, _Table]] = []
            for cr in rules:
                if certain_mode and cr.head_pred[0].startswith("$magic_"):
                    continue
                plits = cr.pos_lits
                # in certain mode a magic (demand) literal is a filter on the possible rows
                static = [lit.pred not in scc or (certain_mode and not lit.record)
                          for lit in plits]
                rec = [i for i in range(len(plits)) if not static[i]]
                if not rec:
                    if first:
                        views = [self.static_view(lit, certain_mode) for lit in plits]
                        results.append((cr, self.eval_body(cr, views, certain_mode, keep_prov)))
                    continue
                for j in rec:
                    pj = plits[j].pred
                    if cur_n[pj] == old_n[pj]:
                        continue
                    var = self.variant(cr, j)
                    views = []
                    for lit in var.pos_lits:
                        i = lit.orig
                        if static[i]:
                            views.append(self.static_view(lit, certain_mode))
                            continue
                        rows = scc_rels[lit.pred].rows
                        if i < j and i in rec:
                            views.append(_View(rows[: old_n[lit.pred]], None, 0, None))
                        elif i == j:
                            lo = old_n[pj]
                            views.append(_View(rows[lo : cur_n[pj]], None, lo, None))
                        else:
                            views.append(_View(rows[: cur_n[lit.pred]], None, 0, None))
                    results.append((cr, self.eval_body(var, views, certain_mode, keep_prov)))
            first = False
            for cr, t in results:
                if t.n == 0:
                    continue
                hidx, _ = scc_rels[cr.head_pred].add(self.head_rows(cr, t))
                if certain_mode:
                    continue
                self.num_instances += t.n
                if keep_prov:
                    out.append((cr, hidx, t.prov))
                else:
                    self.unrecorded += t.n
            self.check_limits(scc_rels, certain_mode)
            old_n = cur_n
            cur_n = {p: scc_rels[p].n for p in scc}
            if all(cur_n[p] == old_n[p] for p in scc):
                return out

    def check_limits(self, scc_rels: dict[PredKey, Relation], certain_mode: bool) -> None:
        if certain_mode:
            return
        grow = max(scc_rels.values(), key=lambda r: r.n)
        what = f"'{grow.name}/{grow.arity}' grows most ({grow.n} atoms)"
        if self.max_atoms is not None:
            total = sum(r.n for r in self.rels.values())
            if total > self.max_atoms:
                raise GroundingLimitError(
                    f"grounding did not terminate: over {self.max_atoms} ground atoms; {what}",
                    None,
                    "add a bound such as N < 100 to the recursive rule, or raise the limit "
                    "with --max-atoms",
                )
        if self.max_answers is not None and grow.n > self.max_answers:
            raise GroundingLimitError(
                f"grounding did not terminate: over {self.max_answers} answers of one "
                f"predicate; {what}",
                None,
                "bound the recursion, or raise GroundingLimits.max_answers_per_predicate",
            )
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise GroundingLimitError(
                f"grounding did not finish within the time limit; {what}",
                None,
                "add bounds to recursive rules, or raise the time limit",
            )

    def run_scc(self, scc: set[PredKey], rules: list[_CRule]) -> None:
        scc_rels: dict[PredKey, Relation] = {}
        for p in scc:
            if p not in self.rels:
                self.rels[p] = Relation(p[0], p[1], self.codec)
                self.certain[p] = np.zeros(0, dtype=np.bool_)
            scc_rels[p] = self.rels[p]
        for cr in rules:
            if cr.head_pred in self.leaf_rows:
                # the top-down contract gives such atoms a separate '$leaf' atom
                raise _Ineligible("probabilistic facts of a predicate that also has rules")
        # Certain before it runs when it reads nothing uncertain: then every atom it
        # derives is certain, and no rule instance survives simplification.
        reads_uncertain = any(isinstance(b, _ChoiceLit) for cr in rules for b in cr.body)
        for cr in rules:
            for lit in cr.pred_lits:
                if lit.pred in scc or not lit.record:
                    continue
                if not self.certain.get(lit.pred, np.ones(0, dtype=np.bool_)).all():
                    reads_uncertain = True
        if any(not self.certain[p].all() and p in self.leaf_rows for p in scc):
            reads_uncertain = True
        self.records.extend(self.fixpoint(rules, scc, scc_rels, certain_mode=False,
                                          keep_prov=reads_uncertain))
        self.lap("fixpoint")
        for p in scc:
            if p[0].startswith("$magic_"):
                self.certain[p] = np.ones(scc_rels[p].n, dtype=np.bool_)
        if not reads_uncertain:
            for p in scc:
                self.certain[p] = np.ones(scc_rels[p].n, dtype=np.bool_)
            return
        tmp: dict[PredKey, Relation] = {}
        for p in scc:
            r = Relation(p[0], p[1], self.codec)
            base = self.certain[p]
            r.add(scc_rels[p].rows[: len(base)][base])
            tmp[p] = r
        self.fixpoint(rules, scc, tmp, certain_mode=True)
        for p in scc:
            cert = np.zeros(scc_rels[p].n, dtype=np.bool_)
            idx = scc_rels[p].find(tmp[p].rows)
            cert[idx[idx >= 0]] = True
            self.certain[p] = cert
        self.lap("certainty")


def _limit(limits: Any, name: str) -> int | None:
    if limits is None:
        return None
    v = getattr(limits, name, None)
    return int(v) if v is not None else None


def _vars_of(terms: Sequence[Term]) -> list[str]:
    out: list[str] = []
    stack = list(terms)
    while stack:
        t = stack.pop()
        if isinstance(t, Var):
            if t.name not in out:
                out.append(t.name)
        elif isinstance(t, Struct):
            stack.extend(t.args)
    return out


def _check_expr(e: Term) -> None:
    if isinstance(e, Var) or (isinstance(e, (int, float)) and not isinstance(e, bool)):
        return
    if isinstance(e, Struct):
        if (len(e.args) == 2 and e.functor in _ARITH2) or (
            len(e.args) == 1 and e.functor in _ARITH1
        ):
            for a in e.args:
                _check_expr(a)
            return
    raise _Ineligible(f"arithmetic expression {e!r}")


# --------------------------------------------------------------------------- relevance
def _deps(rules: Sequence[Rule]) -> dict[PredKey, set[PredKey]]:
    deps: dict[PredKey, set[PredKey]] = {}
    for r in rules:
        d = deps.setdefault(r.head.indicator, set())
        for lit in r.body:
            if isinstance(lit, PredLiteral):
                d.add(lit.atom.indicator)
            elif isinstance(lit, AggregateLiteral):
                d.add(lit.goal.indicator)
    return deps


def _reachable(roots: Sequence[PredKey], deps: dict[PredKey, set[PredKey]]) -> set[PredKey]:
    seen = set(roots)
    stack = list(roots)
    while stack:
        p = stack.pop()
        for q in deps.get(p, ()):
            if q not in seen:
                seen.add(q)
                stack.append(q)
    return seen


# --------------------------------------------------------------------------- magic sets
def _magic_rewrite(
    rules: list[Rule], queries: Sequence[Struct], idb: set[PredKey]
) -> tuple[list[Rule], dict[int, dict[int, bool]], list[Fact], dict[PredKey, PredKey]] | None:
    """Demand transformation for queries with bound arguments (left-to-right SIPS).

    Adorned predicates ``p__bf`` are computed only for demanded bindings, which
    ``'$magic_p__bf'`` relations collect.  Negated literals and literals after
    builtins keep their bindings; a predicate reached with an all-free
    adornment is the original (computed in full).  Returns the rewritten rules,
    which body positions are magic filters, the seed facts, and the map from
    adorned predicate back to the original.  ``None`` when no query binds anything.
    """
    def adorn_of(atom: Struct, bound: set[str]) -> str:
        return "".join(
            "b" if (not isinstance(a, Var) or a.name in bound) else "f" for a in atom.args
        )

    seeds: list[Fact] = []
    todo: list[tuple[PredKey, str]] = []
    for q in queries:
        if q.indicator not in idb:
            continue
        ad = adorn_of(q, set())
        todo.append((q.indicator, ad))
        if "b" in ad:
            seeds.append(Fact(Struct(f"$magic_{q.functor}__{ad}",
                                     [a for a in q.args if not isinstance(a, Var)])))
    by_head: dict[PredKey, list[Rule]] = {}
    for r in rules:
        by_head.setdefault(r.head.indicator, []).append(r)
    done: set[tuple[PredKey, str]] = set()
    out: list[Rule] = []
    flags: dict[int, dict[int, bool]] = {}
    back: dict[PredKey, PredKey] = {}

    def name(p: PredKey, ad: str) -> str:
        return p[0] if "b" not in ad else f"{p[0]}__{ad}"

    while todo:
        p, ad = todo.pop()
        if (p, ad) in done:
            continue
        done.add((p, ad))
        if "b" in ad:
            back[(name(p, ad), p[1])] = p
        for r in by_head.get(p, []):
            head = Struct(name(p, ad), r.head.args)
            bound_args = [a for a, c in zip(r.head.args, ad) if c == "b"]
            bound = set(_vars_of(bound_args))
            body: list[Any] = []
            if "b" in ad:
                body.append(PredLiteral(Struct(f"$magic_{p[0]}__{ad}", bound_args)))
            for lit in r.body:
                if isinstance(lit, PredLiteral) and not lit.negated and lit.atom.indicator in idb:
                    sub = adorn_of(lit.atom, bound)
                    qk = lit.atom.indicator
                    if "b" in sub:
                        # demand: magic_q(bound args) :- magic_p, preceding body
                        margs = [a for a, c in zip(lit.atom.args, sub) if c == "b"]
                        out.append(Rule(Struct(f"$magic_{qk[0]}__{sub}", margs), tuple(body)))
                    todo.append((qk, sub))
                    body.append(PredLiteral(Struct(name(qk, sub), lit.atom.args), False, lit.span))
                    bound.update(_vars_of(lit.atom.args))
                else:
                    if isinstance(lit, PredLiteral) and lit.negated and lit.atom.indicator in idb:
                        todo.append((lit.atom.indicator, "f" * len(lit.atom.args)))
                    body.append(lit)
                    if isinstance(lit, (PredLiteral, BuiltinLiteral)) and not lit.negated:
                        bound.update(_vars_of(lit.atom.args))
            if "b" in ad:
                flags[len(out)] = {0: True}
            out.append(Rule(head, tuple(body), r.span))
    if not back:
        return None
    # magic atoms never become ground atoms: every literal of a magic rule is a filter
    for i, r in enumerate(out):
        if r.head.functor.startswith("$magic_"):
            flags[i] = {k: True for k in range(len(r.body))}
    ads: dict[PredKey, set[str]] = {}
    for p, ad in done:
        ads.setdefault(p, set()).add(ad)
    if any(len(a) > 1 for a in ads.values()):
        return None  # one predicate demanded two ways: its atoms would be computed twice
    return out, flags, seeds, back


# --------------------------------------------------------------------------- entry point
def ground_columnar(
    ir: IRProgram, queries: Sequence[Struct] | None = None,
    limits: GroundingLimits | None = None,
) -> Grounding | None:
    """Ground ``ir`` for ``queries`` bottom-up; ``None`` when the program is not eligible.

    Eligible: the predicates reachable from the queries are function-free
    Datalog -- constants and variables as arguments, positive and stratified
    negated literals, comparisons, ``is/2`` over numbers, ``=``/``==``/``\\=``
    over constants, probabilistic facts (not probabilistic rules, aggregates,
    lists or other builtins).  Returns a ``Grounding`` (program, answers, stats).
    """
    t0 = time.perf_counter()
    limits = limits if limits is not None else GroundingLimits()
    qs = list(ir.queries if queries is None else queries)
    try:
        eng, answers_rows = _run(ir, qs, limits)
    except _Ineligible:
        return None
    gp, answers, raw_rules = _assemble(eng, ir, qs, answers_rows)
    t2 = time.perf_counter()
    stats = GroundingStats(
        engine="columnar",
        num_atoms=gp.num_atoms,
        num_rules=gp.num_rules,
        num_leaves=len(gp.leaves),
        num_tables=0,
        raw_atoms=sum(r.n for r in eng.rels.values()),
        raw_rules=raw_rules + eng.unrecorded,
        seconds=t2 - t0,
        extra={k: round(v, 6) for k, v in eng.phases.items()},
    )
    return Grounding(program=gp, answers=answers, stats=stats)


def _run(ir: IRProgram, qs: list[Struct], limits: Any
         ) -> tuple[_Engine, list[tuple[Struct, PredKey, IntArray]]]:
    eng = _Engine(ir, limits)
    for q in qs:
        for a in q.args:
            if not (isinstance(a, Var) or is_constant(a)):
                raise _Ineligible("query with a compound argument")
    roots = [q.indicator for q in qs] + [a.indicator for a, _ in ir.evidence]
    deps = _deps(ir.rules)
    relevant = _reachable(roots, deps)
    rules = [r for r in ir.rules if r.head.indicator in relevant]
    idb = {r.head.indicator for r in rules}
    for p in relevant:
        if p in ir.library:
            raise _Ineligible("library predicate")
    # demand transformation for bound queries (only when no evidence asks for more)
    flags: dict[int, dict[int, bool]] = {}
    back: dict[PredKey, PredKey] = {}
    seeds: list[Fact] = []
    rewritten = _magic_rewrite(rules, qs, idb) if not ir.evidence else None
    if rewritten is not None and not any(
        f.weight is not None for p in rewritten[3].values() for f in ir.facts.get(p, [])
    ):
        rules, flags, seeds, back = rewritten
    # facts of the EDB the (rewritten) rules read
    used = {q.indicator for q in qs} | {a.indicator for a, _ in ir.evidence}
    for r in rules:
        used.add(r.head.indicator)
        used.update(lit.atom.indicator for lit in r.body if isinstance(lit, PredLiteral))
    for p in sorted(used):
        facts = ir.facts.get(p)
        if facts and p not in back.values():
            eng.load_facts(p, facts)
    for f in seeds:
        p = f.atom.indicator
        rel = eng.rels.get(p)
        if rel is None:
            eng.load_facts(p, [f])
        else:
            rel.add(eng._fact_rows([f], p[1]))
            eng.certain[p] = np.ones(rel.n, dtype=np.bool_)
    # adorned predicates share the facts of their original
    for ap, p in back.items():
        if p in eng.rels and ap not in eng.rels:
            if p in eng.leaf_rows:
                raise _Ineligible("bound query over a predicate with probabilistic facts")
            eng.load_facts(ap, ir.facts.get(p, []))
    eng.lap("facts")
    compiled = [eng.compile_rule(i, r, flags.get(i)) for i, r in enumerate(rules)]
    eng.codec_grow()
    eng.lap("compile")
    by_head: dict[PredKey, list[_CRule]] = {}
    cdeps: dict[PredKey, set[PredKey]] = {}
    for cr in compiled:
        by_head.setdefault(cr.head_pred, []).append(cr)
        cdeps.setdefault(cr.head_pred, set()).update(lit.pred for lit in cr.pred_lits)
    nodes = sorted(set(cdeps) | {q for d in cdeps.values() for q in d})
    node_set = set(nodes)
    for comp in strongly_connected_components(
        nodes, lambda p: (q for q in sorted(cdeps.get(p, ())) if q in node_set)
    ):
        scc = set(comp)
        crs = [cr for p in comp for cr in by_head.get(p, [])]
        if not crs:
            continue
        for cr in crs:
            for lit in cr.pred_lits:
                if lit.negated and lit.pred in scc:
                    raise _Ineligible("negation through recursion")
        eng.run_scc(scc, crs)
    # answers: rows of the (adorned) query predicate matching the pattern
    answers: list[tuple[Struct, PredKey, IntArray]] = []
    for q in qs:
        p = q.indicator
        ad = "".join("f" if isinstance(a, Var) else "b" for a in q.args)
        ap = (f"{q.functor}__{ad}", p[1]) if (f"{q.functor}__{ad}", p[1]) in back else p
        rel = eng.rels.get(ap)
        if rel is None:
            answers.append((q, p, np.zeros(0, dtype=np.int64)))
            continue
        rows = rel.rows
        mask = np.ones(rel.n, dtype=np.bool_)
        seen: dict[str, int] = {}
        for pos, a in enumerate(q.args):
            if isinstance(a, Var):
                if a.name != "_" and a.name in seen:
                    mask &= rows[:, pos] == rows[:, seen[a.name]]
                seen.setdefault(a.name, pos)
            else:
                cid = eng.interner.lookup(a)
                mask &= rows[:, pos] == (cid if cid is not None else -1)
        answers.append((q, ap, np.nonzero(mask)[0].astype(np.int64)))
    return eng, answers


def _assemble(
    eng: _Engine, ir: IRProgram, qs: list[Struct],
    answers_rows: list[tuple[Struct, PredKey, IntArray]],
) -> tuple[GroundProgram, dict[Struct, list[Struct]], int]:
    from einlog.ground.strata import compute_strata

    eng.lap("answers")
    pred_strata, _ = compute_strata(ir)
    preds = [p for p in eng.rels if not p[0].startswith("$magic_")]
    start: dict[PredKey, int] = {}
    total = 0
    for p in preds:
        start[p] = total
        total += eng.rels[p].n
    n_rel_atoms = total
    cbase: dict[int, int] = {}
    nalt: dict[int, int] = {}
    for cid, crel in eng.choice_rels.items():
        cbase[cid] = total
        nalt[cid] = len(ir.choices[cid].alternatives)
        total += crel.n * nalt[cid]
    certain = np.zeros(total, dtype=np.bool_)
    for p in preds:
        certain[start[p] : start[p] + eng.rels[p].n] = eng.certain[p][: eng.rels[p].n]

    # ---- simplified rule instances: literal codes 2 * atom + negated, -1 = dropped
    chunks: list[IntArray] = []
    width = 0
    raw_rules = 0
    for cr, hidx, prov in eng.records:
        if cr.head_pred not in start:
            continue
        raw_rules += len(hidx)
        h = hidx + start[cr.head_pred]
        keep = ~certain[h]
        if not keep.any():
            continue
        h = h[keep]
        cols: list[IntArray] = []
        alive = np.ones(len(h), dtype=np.bool_)
        for lit, ids in zip(cr.prov_lits, prov):
            ids = ids[keep]
            if isinstance(lit, _ChoiceLit):
                cols.append(2 * (cbase[lit.cid] + ids * nalt[lit.cid] + lit.k))
            elif lit.negated:
                g = ids + start.get(lit.pred, 0)
                cols.append(np.where(ids >= 0, 2 * g + 1, -1))
            else:
                g = ids + start[lit.pred]
                alive &= g != h  # a rule using its own head is useless
                cols.append(np.where(certain[g], -1, 2 * g))
        if not cols:
            continue
        mat = np.stack(cols, axis=1)[alive]
        h = h[alive]
        for a in range(mat.shape[1]):  # repeated literals: keep the first
            for b in range(a + 1, mat.shape[1]):
                mat[:, b] = np.where(mat[:, b] == mat[:, a], -1, mat[:, b])
        chunks.append(np.concatenate([h[:, None], mat], axis=1))
        width = max(width, mat.shape[1])
    if chunks:
        padded = [np.pad(c, ((0, 0), (0, width + 1 - c.shape[1])), constant_values=-1)
                  for c in chunks]
        allm = np.concatenate(padded, axis=0)
        body = allm[:, 1:]
        # compact kept literals to the left (stable), then deduplicate whole rules
        order = np.argsort(body < 0, axis=1, kind="stable")
        body = np.take_along_axis(body, order, axis=1)
        allm = np.unique(np.concatenate([allm[:, :1], body], axis=1), axis=0)
        rule_head, body = allm[:, 0], allm[:, 1:]
    else:
        rule_head = np.zeros(0, dtype=np.int64)
        body = np.zeros((0, 0), dtype=np.int64)
    valid = body >= 0
    rlen = valid.sum(axis=1).astype(np.int64)
    codes = body[valid]
    body_atom, body_neg = codes >> 1, (codes & 1).astype(np.bool_)
    eng.lap("assemble_rules")

    # ---- leaves and groups (fact leaves are relation rows; choice leaves follow them)
    singles: list[Struct] = []
    single_stratum: list[int] = []
    leaf_global = np.zeros(total, dtype=np.bool_)
    fact_leaf: dict[int, Fact] = {}
    ad_ids: dict[int, list[int]] = {}
    for p, (ridx, facts) in eng.leaf_rows.items():
        if p not in start:
            continue
        g = ridx + start[p]
        leaf_global[g] = True
        for gi, f in zip(g.tolist(), facts):
            fact_leaf[gi] = f
            if f.ad_group is not None:
                ad_ids.setdefault(f.ad_group, []).append(gi)
    if ad_ids:  # members of a reached AD living in predicates not loaded here
        loaded = {id(f) for f in fact_leaf.values()}
        for fs in ir.facts.values():
            for f in fs:
                if f.ad_group in ad_ids and f.weight is not None and id(f) not in loaded:
                    gid = total + len(singles)
                    singles.append(f.atom)
                    single_stratum.append(0)
                    fact_leaf[gid] = f
                    ad_ids[f.ad_group].append(gid)
    for cid, cb in cbase.items():
        leaf_global[cb : cb + eng.choice_rels[cid].n * nalt[cid]] = True

    # ---- roots: answers, ground queries, evidence
    single_index: dict[Struct, int] = {}

    def single(atom: Struct) -> int:
        found = single_index.get(atom)
        if found is None:
            found = total + len(singles)
            singles.append(atom)
            single_stratum.append(pred_strata.get(atom.indicator, 0))
            single_index[atom] = found
        return found

    ans_ids = [start[ap] + rows if ap in start else rows for _, ap, rows in answers_rows]
    query_ids: list[IntArray] = []
    for (q, _, _), ids in zip(answers_rows, ans_ids):
        if all(not isinstance(a, Var) for a in q.args):
            query_ids.append(ids if len(ids) else np.asarray([single(q)], dtype=np.int64))
        else:
            query_ids.append(ids)
    ev_ids: list[int] = []
    for ev_atom, _ in ir.evidence:
        rel = eng.rels.get(ev_atom.indicator)
        i = -1
        if rel is not None and all(is_constant(x) for x in ev_atom.args):
            cids = [eng.interner.lookup(x) for x in ev_atom.args]
            if None not in cids:
                i = int(rel.find(np.asarray([cids], dtype=np.int64).reshape(1, -1))[0])
        ev_ids.append(start[ev_atom.indicator] + i if i >= 0 else single(ev_atom))
    n_all = total + len(singles)
    roots = np.concatenate([*query_ids, np.asarray(ev_ids, dtype=np.int64)]).astype(
        np.int64, copy=False)

    # ---- backward reachability, one vectorized step per BFS level
    order = np.argsort(rule_head, kind="stable")
    rptr = np.concatenate([[0], np.cumsum(rlen)]).astype(np.int64)
    sorted_heads = rule_head[order]
    reach = np.zeros(n_all, dtype=np.bool_)
    frontier = _uniq(roots)
    reach[frontier] = True
    has_rule = np.zeros(n_all, dtype=np.bool_)
    has_rule[rule_head] = True
    while len(frontier):
        frontier = frontier[has_rule[frontier]]  # (certain answers have no rules left)
        lo = np.searchsorted(sorted_heads, frontier, side="left")
        hi = np.searchsorted(sorted_heads, frontier, side="right")
        _, pos = _ranges(lo, hi)
        if len(pos) == 0:
            break
        r = order[pos]
        _, bpos = _ranges(rptr[r], rptr[r + 1])
        nxt = body_atom[bpos]
        nxt = _uniq(nxt[~reach[nxt]])
        reach[nxt] = True
        frontier = nxt
    # a reached leaf brings its group (AD facts, alternatives of a choice instance)
    for members in ad_ids.values():
        if reach[members].any():
            reach[members] = True
    for cid, cb in cbase.items():
        k = nalt[cid]
        if k > 1:
            seg = reach[cb : cb + eng.choice_rels[cid].n * k].reshape(-1, k)
            seg[seg.any(axis=1)] = True
    newid = np.cumsum(reach) - 1
    eng.lap("assemble_reach")

    # ---- atoms
    gp = GroundProgram()
    terms = eng.interner.terms
    strata_parts: list[IntArray] = []
    for p in preds:
        rel = eng.rels[p]
        m = reach[start[p] : start[p] + rel.n]
        if m.any():
            name = back_name(p)
            whole = bool(m.all())
            gp.atoms.add_block(name, rel.rows if whole else rel.rows[m], terms)
            st = np.full(int(m.sum()), pred_strata.get((name, p[1]), 0), dtype=np.int64)
            if p in eng.leaf_rows:
                st[leaf_global[start[p] : start[p] + rel.n][m]] = 0
            strata_parts.append(st)
    leaves: list[int] = []
    group_lists: list[list[int]] = []
    for gi in np.nonzero(reach[:n_rel_atoms] & leaf_global[:n_rel_atoms])[0].tolist():
        f = fact_leaf[gi]
        leaves.append(int(newid[gi]))
        assert f.weight is not None
        gp.leaf_weight.append(_ground_weight(f.weight, {}, f.atom))
        gp.leaf_label.append(f.atom)
    for cid, cb in cbase.items():
        choice = ir.choices[cid]
        k = nalt[cid]
        crel = eng.choice_rels[cid]
        seg = reach[cb : cb + crel.n * k].reshape(-1, k)
        for inst in np.nonzero(seg.any(axis=1))[0].tolist():
            vals = [terms[c] for c in crel.rows[inst].tolist()]
            vs = Struct("vars", vals)
            env = {v.name: val for v, val in zip(choice.variables, vals) if isinstance(v, Var)}
            members = []
            for alt, (w, head) in enumerate(choice.alternatives):
                if not seg[inst, alt]:
                    continue
                aid = gp.atoms.intern(Struct(CHOICE_FUNCTOR, (cid, alt, vs)))
                assert aid == newid[cb + inst * k + alt]
                label = _subst_flat(head, env)
                members.append(len(leaves))
                leaves.append(aid)
                gp.leaf_weight.append(_ground_weight(w, env, label))
                gp.leaf_label.append(label)
            if len(members) > 1:
                group_lists.append(members)
        strata_parts.append(np.zeros(int(seg.sum()), dtype=np.int64))
    single_leaf: dict[int, int] = {}
    for j, atom in enumerate(singles):
        gid = total + j
        if reach[gid]:
            aid = gp.atoms.intern(atom)
            assert aid == newid[gid]
            if gid in fact_leaf:
                f = fact_leaf[gid]
                assert f.weight is not None
                single_leaf[gid] = len(leaves)
                leaves.append(aid)
                gp.leaf_weight.append(_ground_weight(f.weight, {}, f.atom))
                gp.leaf_label.append(f.atom)
    strata_parts.append(np.asarray(
        [s for j, s in enumerate(single_stratum) if reach[total + j]], dtype=np.int64))
    gp.stratum = np.concatenate(strata_parts).astype(np.int64, copy=False)
    leaf_pos = {a: i for i, a in enumerate(leaves)}
    for members in ad_ids.values():
        kept = [leaf_pos[int(newid[g])] for g in members if reach[g]]
        if len(kept) > 1:
            group_lists.append(kept)
    gp.leaves = np.asarray(leaves, dtype=np.int64)
    gp.groups = group_lists

    # ---- rules: reached heads; a reached certain atom that is no leaf gets one empty rule
    keep_r = reach[rule_head]
    bmask = np.repeat(keep_r, rlen)
    empty_heads = np.nonzero(reach[:total] & certain & ~leaf_global)[0]
    gp.rule_head = np.concatenate([newid[rule_head[keep_r]], newid[empty_heads]])
    ptr = np.cumsum(rlen[keep_r])
    nbody = int(ptr[-1]) if len(ptr) else 0
    gp.rule_ptr = np.concatenate([np.zeros(1, dtype=np.int64), ptr,
                                  np.full(len(empty_heads), nbody, dtype=np.int64)])
    gp.body_atom = newid[body_atom[bmask]].astype(np.int64, copy=False)
    gp.body_neg = body_neg[bmask].astype(np.bool_, copy=False)
    eng.lap("assemble_atoms")

    # ---- answers (standard order of terms), queries, evidence
    rank = _const_rank(terms)
    answers: dict[Struct, list[Struct]] = {}
    for (q, ap, rows), ids in zip(answers_rows, ans_ids):
        if q in answers:
            continue
        if len(rows) > 1:
            rel_rows = eng.rels[ap].rows
            if len(rows) != len(rel_rows):
                rel_rows = rel_rows[rows]
            srt = argsort_small([rank[rel_rows[:, j]] for j in range(rel_rows.shape[1])],
                                len(terms))
            ids = ids[srt]
        answers[q] = AnswerList(gp.atoms, newid[ids].astype(np.int64, copy=False))
    qall = np.concatenate(query_ids) if query_ids else np.zeros(0, dtype=np.int64)
    qnew = newid[qall]
    if len(query_ids) > 1 and len(qnew):
        _, first = np.unique(qnew, return_index=True)
        qnew = qnew[np.sort(first)]
    gp.queries = qnew.tolist()
    gp.evidence = list(dict.fromkeys(
        (int(newid[e]), v) for e, (_, v) in zip(ev_ids, ir.evidence)))
    eng.lap("assemble_answers")
    return gp, answers, raw_rules


def _uniq(a: IntArray) -> IntArray:
    """Sorted distinct values (sort based: faster than hashing for big id arrays)."""
    if len(a) == 0:
        return a.astype(np.int64)
    if len(a) == 1 or bool((a[1:] > a[:-1]).all()):
        return a.astype(np.int64)  # already sorted and distinct (one query's answers)
    srt = np.sort(a)
    keep = np.empty(len(srt), dtype=np.bool_)
    keep[0] = True
    np.not_equal(srt[1:], srt[:-1], out=keep[1:])
    return srt[keep].astype(np.int64)


def _ranges(lo: IntArray, hi: IntArray) -> tuple[IntArray, IntArray]:
    """For ranges ``[lo[i], hi[i])``: (i per element, the elements), vectorized."""
    cnt = hi - lo
    w = np.repeat(np.arange(len(lo), dtype=np.int64), cnt)
    pos = np.arange(len(w), dtype=np.int64) - (np.cumsum(cnt) - cnt)[w] + lo[w]
    return w, pos.astype(np.int64)


def _const_rank(terms: Sequence[Term]) -> IntArray:
    """Rank of every constant id in Prolog's standard order of terms.

    Numbers < atoms < strings; atoms (almost all constants) are sorted by
    name as plain strings, which is much faster than a sort by ``order_key``
    tuples and gives the same order.
    """
    from einlog.ground.builtins import order_key

    atoms: list[tuple[str, int]] = []
    rest: list[int] = []
    for i, t in enumerate(terms):
        if t.__class__ is Struct:
            atoms.append((t.functor, i))
        else:
            rest.append(i)
    atoms.sort()
    nums = sorted((i for i in rest if not isinstance(terms[i], Str)),
                  key=lambda i: order_key(terms[i]))
    strs = sorted((i for i in rest if isinstance(terms[i], Str)),
                  key=lambda i: order_key(terms[i]))
    order = nums + [i for _, i in atoms] + strs
    rank = np.empty(len(terms), dtype=np.int64)
    rank[np.asarray(order, dtype=np.int64)] = np.arange(len(terms), dtype=np.int64)
    return rank


def _subst_flat(head: Struct, env: dict[str, Term]) -> Struct:
    return Struct(head.functor, [env[a.name] if isinstance(a, Var) else a for a in head.args])


def back_name(p: PredKey) -> str:
    """Original functor of an adorned predicate ``p__bf`` (the adornment is b/f only)."""
    name = p[0]
    if "__" in name:
        base, _, ad = name.rpartition("__")
        if ad and set(ad) <= {"b", "f"} and len(ad) == p[1]:
            return base
    return name


def _ground_weight(w: Weight, env: dict[str, Term], label: Struct) -> GroundWeight:
    if w.kind == "const":
        return GroundWeight("const", value=float(w.value if w.value is not None else 0.0))
    if w.kind == "param":
        return GroundWeight("param", param=w.param)
    if w.kind == "neural":
        assert w.neural is not None
        inputs = tuple(env[x.name] if isinstance(x, Var) else x for x in w.neural.inputs)
        return GroundWeight("neural", network=w.neural.network, inputs=inputs,
                            index=w.neural.index, domain_size=w.neural.domain_size)
    from einlog.ground.builtins import eval_arith

    assert w.expr is not None
    v = eval_arith(w.expr, env, Struct("::", (w.expr, label)), None)
    if not 0.0 <= v <= 1.0:
        raise GroundingError(
            f"probability {v:g} of '{label}' is {'below 0' if v < 0 else 'above 1'}",
            None, "a probability must lie in [0, 1]")
    return GroundWeight("const", value=float(v))
