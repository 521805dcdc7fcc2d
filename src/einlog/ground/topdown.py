"""Top-down, query-driven grounding: SLD resolution with variant tabling (SLG style).

Why this design:

* **Tabling by call variant, with consumers.**  Every call of a predicate
  that has rules gets a table keyed by its variant (the call with variables
  renamed to ``%0, %1, ...``).  A caller registers itself as a *consumer*
  (its clause, the literal position, its bindings and the ground body built
  so far) and receives every answer of the table, the ones already there and
  every later one, exactly once.  So left recursion and cyclic graphs
  terminate and no answer is joined twice (semi-naive by construction).
* **Completion without SCC bookkeeping.**  Positive and negated calls never
  need a complete table: a negated literal just becomes a negated body
  literal of the ground rule and is simplified after grounding
  (:mod:`einlog.ground.build`).  Only aggregates need complete goals: they
  wait until the work list is empty, then the waiting aggregates with the
  lowest goal stratum fire.  A goal in stratum ``s`` depends only on
  strata ``<= s`` and every aggregate it could depend on has a goal in a
  stratum ``< s`` and has fired already, so its tables are complete.
* **No recursion in the engine.**  The engine is a loop over an explicit
  work list (LIFO, alternatives pushed in reverse so answers come roughly in
  Prolog order), so deep call chains (``length/2`` on a 5 000 element list
  makes 5 000 nested calls) cost no Python stack.  Term operations
  (:mod:`einlog.ground.unify`) recurse on term depth; :func:`run_grounding`
  runs the whole grounding on one long-lived thread with a 512 MiB stack and a raised
  recursion limit, so terms up to ``GroundingLimits.max_term_depth`` (and far
  beyond) are safe.  The recursion limit is process wide; it is raised for
  the duration of the call only and restored afterwards.
* **Provenance.**  Each successful clause instance yields the ground rule
  ``head :- positive and negated predicate literals``; builtins, aggregates
  and deterministic facts evaluate away at once (a deterministic fact is
  certain), and an atom already known to be certain is not added to a body.
  Probabilistic facts and choice alternatives become leaves.
* **Answers must be ground** unless they are certain: a derived atom with
  variables is only allowed when its derivation used no uncertain literal
  (the prelude's ``length(L, 3)`` builds ``[_, _, _]``); such answers are
  kept in their table (renamed apart on use) but never become atoms.
"""

from __future__ import annotations

import queue
import sys
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from typing import Any

from einlog.errors import (
    EinlogError,
    GroundingError,
    GroundingLimitError,
    SourceSpan,
    UnsupportedError,
)
from einlog.ground.build import RawGround, RawLeaf, analyze, span_pos
from einlog.ground.builtins import eval_arith, order_key, solve_builtin
from einlog.ground.program import GroundWeight, const_weight
from einlog.ground.result import Grounding, GroundingLimits
from einlog.ground.strata import compute_strata
from einlog.ground.unify import (
    Bindings,
    canonical,
    match,
    rename_apart,
    show,
    subst,
    term_eq,
    unify,
)
from einlog.ir.nodes import (
    CHOICE_FUNCTOR,
    AggregateLiteral,
    BodyLiteral,
    BuiltinLiteral,
    Fact,
    IRProgram,
    PredKey,
    PredLiteral,
    Weight,
)
from einlog.terms import Struct, Term, Var, make_list

__all__ = ["TopDownGrounder", "run_grounding", "Grounding"]  # Grounding: for columnar.py

# literal kinds
K_CALL, K_EDB, K_NEG, K_BI, K_NBI, K_CHOICE, K_AGG = range(7)
# work items
_START = 0
_CONT = 1

_STACK_SIZE = 512 * 1024 * 1024
_RECURSION_LIMIT = 200_000
#: callers whose recursion limit is at most this (Python's default is 1 000) ground on
#: their own thread first: the limit keeps them far from the end of an 8 MiB C stack
_DIRECT_LIMIT = 10_000
_limit_lock = threading.Lock()


def _key_str(key: PredKey) -> str:
    return f"{key[0]}/{key[1]}"


class _Clause:
    __slots__ = ("head", "body", "kinds", "span", "pred", "preds", "lkeys")

    def __init__(
        self,
        head: Struct,
        body: tuple[BodyLiteral, ...],
        span: SourceSpan | None,
        has_rules: set[PredKey],
    ) -> None:
        # one scan per term: variables (for the ground fast paths) and bare ``_``
        state = _var_state(head) if head.args else 0
        kinds: list[int] = []
        preds: list[PredKey | None] = []  # called predicate (None: builtin, choice)
        lkeys: list[Hashable | None] = []
        for lit in body:
            tl = type(lit)
            if tl is PredLiteral:
                atom = lit.atom  # type: ignore[union-attr]
                args = atom.args
                functor = atom.functor
                if functor == CHOICE_FUNCTOR:  # '$choice'(id, alternative, variables)
                    vs = args[2] if len(args) == 3 else atom
                    if type(vs) is not Struct or vs.args:
                        state |= _var_state(vs)
                    lkeys.append(None)
                    preds.append(None)
                    kinds.append(K_CHOICE)
                    continue
                if args:
                    s = _var_state(atom)
                    state |= s
                    lkeys.append(None if s else atom)
                else:
                    lkeys.append(functor)
                key = (functor, len(args))
                preds.append(key)
                if lit.negated:  # type: ignore[union-attr]
                    kinds.append(K_NEG)
                elif key in has_rules:
                    kinds.append(K_CALL)
                else:
                    kinds.append(K_EDB)
            elif tl is BuiltinLiteral:
                state |= _var_state(lit.atom)  # type: ignore[union-attr]
                lkeys.append(None)
                preds.append(None)
                kinds.append(K_NBI if lit.negated else K_BI)  # type: ignore[union-attr]
            else:
                lkeys.append(None)
                preds.append(lit.goal.indicator)  # type: ignore[union-attr]
                kinds.append(K_AGG)
        if state & 2:
            head, body = _fix_anonymous(head, body)
        self.head = head
        self.body = body
        self.span = span
        self.pred = (head.functor, len(head.args))
        self.kinds = tuple(kinds)
        self.preds = tuple(preds)
        # per literal: ``_lookup_key`` of its atom when that is ground, else None
        self.lkeys = tuple(lkeys)


def _lookup_key(atom: Struct) -> Hashable:
    """Dictionary key of a ground atom: the name of an atom without arguments (string
    comparison is much cheaper than :meth:`Struct.__eq__`), else the atom itself."""
    return atom if atom.args else atom.functor


def _var_state(t: Term) -> int:
    """Bit 1: ``t`` has a variable; bit 2: it has a bare anonymous ``_`` (0: ground)."""
    tt = type(t)
    if tt is Struct:
        if not t.args:  # type: ignore[union-attr]
            return 0
    elif tt is Var:
        return 3 if t.name == "_" else 1  # type: ignore[union-attr]
    else:
        return 0
    state = 0
    stack = list(t.args)  # type: ignore[union-attr]
    while stack:
        a = stack.pop()
        ta = type(a)
        if ta is Var:
            if a.name == "_":
                return 3
            state = 1
        elif ta is Struct and a.args:
            stack.extend(a.args)
    return state


def _fix_anonymous(
    head: Struct, body: tuple[BodyLiteral, ...]
) -> tuple[Struct, tuple[BodyLiteral, ...]]:
    """Give every ``_`` variable its own name (the front end may leave them shared)."""
    counter = [0]

    def fix(t: Term) -> Term:
        if isinstance(t, Var):
            if t.name == "_":
                counter[0] += 1
                return Var(f"_%a{counter[0]}", t.span)
            return t
        if isinstance(t, Struct) and t.args:
            return Struct(t.functor, [fix(a) for a in t.args], t.span)
        return t

    def fix_lit(lit: BodyLiteral) -> BodyLiteral:
        if isinstance(lit, PredLiteral):
            return PredLiteral(fix(lit.atom), lit.negated, lit.span)  # type: ignore[arg-type]
        if isinstance(lit, BuiltinLiteral):
            return BuiltinLiteral(fix(lit.atom), lit.negated, lit.span)  # type: ignore[arg-type]
        return lit

    return fix(head), tuple(fix_lit(lit) for lit in body)  # type: ignore[return-value]


class _Table:
    __slots__ = ("key", "pred", "flags", "answers", "answer_set", "consumers", "complete")

    def __init__(self, key: Struct, pred: PredKey, flags: tuple[bool, ...]) -> None:
        self.key = key
        self.pred = pred
        self.flags = flags  # per argument: ground
        self.answers: list[tuple[Term, int]] = []  # (answer, atom id or -1 if non-ground)
        self.answer_set: set[Any] = set()
        self.consumers: list[tuple[_Clause, int, Bindings, tuple[int, ...], _Table]] = []
        self.complete = False


class TopDownGrounder:
    """One grounding run over an IR program (single use)."""

    def __init__(self, ir: IRProgram, limits: GroundingLimits) -> None:
        self.ir = ir
        self.limits = limits
        self._strata: dict[PredKey, int] | None = None
        has_rules = {(r.head.functor, len(r.head.args)) for r in ir.rules}
        self.has_rules = has_rules
        self.clauses: dict[PredKey, list[_Clause]] = {}
        clauses = self.clauses
        called: set[PredKey | None] = set()
        for r in ir.rules:
            c = _Clause(r.head, r.body, r.span, has_rules)
            called.update(c.preds)
            lst = clauses.get(c.pred)
            if lst is None:
                clauses[c.pred] = [c]
            else:
                lst.append(c)
        called.discard(None)
        known = ir.strata
        # whether ``ir.strata`` numbers every predicate that compute_strata numbers
        self.ir_strata_complete = bool(known) and all(
            k in known for keys in (has_rules, ir.facts, called) for k in keys
        )
        self.facts: dict[PredKey, list[Fact]] = ir.facts  # read only
        self.fact_index: dict[tuple[PredKey, tuple[int, ...]], dict[tuple[Any, ...], list[Fact]]]
        self.fact_index = {}
        self.ad_members: dict[int, list[Fact]] = {}
        for fs in ir.facts.values():
            for f in fs:
                if f.ad_group is not None and f.weight is not None:
                    self.ad_members.setdefault(f.ad_group, []).append(f)
        self.tables: dict[Term, _Table] = {}
        self.ground_tables: dict[Hashable, _Table] = {}  # ground calls, by _lookup_key
        self.work: list[tuple[Any, ...]] = []
        self.atoms: list[Struct] = []
        self.atom_ids: dict[Hashable, int] = {}  # by _lookup_key
        self.rules: dict[int, list[tuple[int, ...]]] = {}
        self.rule_sets: dict[int, set[tuple[int, ...]]] = {}
        self.certain: set[int] = set()
        self.leaves: list[RawLeaf] = []
        self.fact_leaf_done: set[int] = set()  # id(fact)
        self.fact_leaf_atoms: set[int] = set()
        self.choice_done: dict[tuple[int, Term], list[int]] = {}
        self.waiters: list[tuple[int, int, _Table, tuple[Any, ...]]] = []
        self.pred_answers: dict[PredKey, int] = {}
        self.pred_tables: dict[PredKey, int] = {}
        self.last_answer: dict[PredKey, Term] = {}
        self.depth_memo: dict[int, tuple[Term, int]] = {}
        self.deadline = (
            time.monotonic() + limits.time_limit if limits.time_limit is not None else None
        )
        self.steps = 0
        self.final_certain: dict[int, bool] = {}

    @property
    def strata(self) -> dict[PredKey, int]:
        """Stratum per predicate from the rules, computed on first use (by aggregates, or
        when the front end's strata miss a predicate)."""
        if self._strata is None:
            self._strata, _ = compute_strata(self.ir)
        return self._strata

    # ------------------------------------------------------------ atoms and rules

    def intern(self, atom: Struct) -> int:
        lk = atom if atom.args else atom.functor
        aid = self.atom_ids.get(lk)
        if aid is None:
            aid = len(self.atoms)
            if aid >= self.limits.max_atoms:
                self._atoms_exceeded(atom)
            self.atoms.append(atom)
            self.atom_ids[lk] = aid
            pred = (atom.functor, len(atom.args))
            n = self.pred_answers.get(pred, 0) + 1
            self.pred_answers[pred] = n
            self.last_answer[pred] = atom
            if n > self.limits.max_answers_per_predicate:
                raise GroundingLimitError(
                    f"grounding of '{_key_str(pred)}' did not terminate: over "
                    f"{self.limits.max_answers_per_predicate} answers ({_short(atom)})",
                    None,
                    "add a bound such as N < 100 to the recursive rule, or raise the limit "
                    "with --max-atoms",
                )
        return aid

    def add_rule(self, head: int, body: tuple[int, ...]) -> None:
        if head in self.certain:
            return
        if not body:
            self.certain.add(head)
            self.rules[head] = [()]
            self.rule_sets.pop(head, None)
            return
        lst = self.rules.get(head)
        if lst is None:
            self.rules[head] = [body]
            return
        if len(lst) < 8:
            if body in lst:
                return
            lst.append(body)
            if len(lst) == 8:
                self.rule_sets[head] = set(lst)
            return
        s = self.rule_sets[head]
        if body not in s:
            s.add(body)
            lst.append(body)

    # ------------------------------------------------------------ limits

    def _atoms_exceeded(self, atom: Struct) -> None:
        pred = max(self.pred_answers, key=lambda k: self.pred_answers[k], default=atom.indicator)
        example = self.last_answer.get(pred, atom)
        raise GroundingLimitError(
            f"grounding did not terminate: over {self.limits.max_atoms} ground atoms; "
            f"'{_key_str(pred)}' grows most ({self.pred_answers.get(pred, 0)} answers, "
            f"e.g. {show(example)})",
            None,
            "add a bound such as N < 100 to the recursive rule, or raise the limit with "
            "--max-atoms",
        )

    def _depth(self, t: Term) -> int:
        if not (type(t) is Struct and t.args):
            return 1
        memo = self.depth_memo.get(id(t))
        if memo is not None and memo[0] is t:
            return memo[1]
        args = t.args
        if t.functor == "." and len(args) == 2:
            # a list's spine does not count: long lists are data, not runaway nesting
            d = max(1 + self._depth(args[0]), self._depth(args[1]))
        else:
            d = 1 + max(self._depth(a) for a in args)
        self.depth_memo[id(t)] = (t, d)
        return d

    def _check_depth(self, atom: Struct, what: str, span: SourceSpan | None) -> None:
        limit = self.limits.max_term_depth
        for a in atom.args:
            if type(a) is Struct and a.args and self._depth(a) >= limit:
                raise GroundingLimitError(
                    f"grounding of '{_key_str(atom.indicator)}' did not terminate: {what} "
                    f"with a term nested over {limit} deep ({_short(atom)})",
                    span,
                    "a recursive rule builds ever larger terms; bound the recursion, or "
                    "raise the limit with --max-term-depth",
                )

    def _tick(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            pred = max(
                self.pred_answers, key=lambda k: self.pred_answers[k], default=("?", 0)
            )
            example = self.last_answer.get(pred)
            ex = f" ('{_key_str(pred)}' grows most, e.g. {_short(example)})" if example else ""
            raise GroundingLimitError(
                f"grounding did not finish within {self.limits.time_limit} s{ex}",
                None,
                "add bounds to recursive rules, or raise the time limit",
            )

    # ------------------------------------------------------------ tables

    def get_table(
        self, atom: Struct, b: Bindings, span: SourceSpan | None
    ) -> _Table:
        """The table of the call ``atom`` under ``b`` (created and scheduled when new)."""
        args: list[Term] = []
        flags: list[bool] = []
        all_ground = True
        changed = False
        for a in atom.args:
            a2, g = subst(a, b)
            args.append(a2)
            flags.append(g)
            if not g:
                all_ground = False
            if a2 is not a:
                changed = True
        lk: Hashable = None
        if all_ground:
            key: Struct = Struct(atom.functor, args) if changed else atom
            lk = _lookup_key(key)
            t = self.ground_tables.get(lk)
        else:
            names: dict[str, Var] = {}
            key = Struct(
                atom.functor,
                [a if g else canonical(a, names) for a, g in zip(args, flags)],
            )
            t = self.tables.get(key)
        if t is None:
            pred = key.indicator
            self._check_depth(key, "a call", span)
            n = self.pred_tables.get(pred, 0) + 1
            self.pred_tables[pred] = n
            if n > self.limits.max_tables_per_predicate:
                raise GroundingLimitError(
                    f"grounding of '{_key_str(pred)}' did not terminate: over "
                    f"{self.limits.max_tables_per_predicate} distinct calls ({_short(key)})",
                    span,
                    "a recursive rule calls the predicate with ever new arguments; bound the "
                    "recursion, or raise the limit with --max-atoms",
                )
            t = _Table(key, pred, tuple(flags))
            self.tables[key] = t
            if all_ground:
                self.ground_tables[lk] = t
            self.work.append((_START, t))
        return t

    def add_answer(self, t: _Table, ans: Term, aid: int) -> None:
        k: Any = aid if aid >= 0 else ans
        if k in t.answer_set:
            return
        t.answer_set.add(k)
        t.answers.append((ans, aid))
        if aid < 0:  # non-ground answers are not atoms; bound them per table
            if len(t.answers) > self.limits.max_answers_per_predicate:
                raise GroundingLimitError(
                    f"grounding of '{_key_str(t.pred)}' did not terminate: over "
                    f"{self.limits.max_answers_per_predicate} answers ({_short(ans)})",
                    None,
                    "add a bound to the recursive rule, or raise the limit with --max-atoms",
                )
        if aid >= 0 and type(ans) is Struct and ans.args:
            self._check_depth(ans, "an answer", None)
        for c in t.consumers:
            self.feed(c, ans, aid)

    def feed(
        self,
        consumer: tuple[_Clause, int, Bindings, tuple[int, ...], _Table],
        ans: Term,
        aid: int,
    ) -> None:
        clause, i, b, body, owner = consumer
        atom = clause.body[i].atom  # type: ignore[union-attr]
        if aid >= 0:
            if clause.lkeys[i] is not None:
                # a ground call's table holds only answers equal to it: match binds nothing
                nb: Bindings | None = b
            else:
                nb = match(atom, ans, b)
            if nb is not None:
                if aid not in self.certain:
                    body = (*body, 2 * aid)
                self.work.append((_CONT, clause, i + 1, nb, body, owner))
        else:
            nb = unify(atom, rename_apart(ans), b)
            if nb is not None:
                self.work.append((_CONT, clause, i + 1, nb, body, owner))

    def start(self, t: _Table) -> None:
        key = t.key
        pred = t.pred
        facts = self.facts.get(pred)
        if facts:
            for f in self.lookup(pred, key, {}):
                if match(key, f.atom, {}) is None:
                    continue
                aid = self.intern(f.atom)
                if f.weight is None:
                    self.add_rule(aid, ())
                else:
                    self.fact_leaf(f, aid)
                self.add_answer(t, f.atom, aid)
        items = []
        flags = t.flags
        for clause in self.clauses.get(pred, ()):
            b: Bindings = {}
            ok = True
            for ha, ka, g in zip(clause.head.args, key.args, flags):
                r = match(ha, ka, b) if g else unify(ha, ka, b)
                if r is None:
                    ok = False
                    break
                b = r
            if ok:
                items.append((_CONT, clause, 0, b, (), t))
        items.reverse()
        self.work.extend(items)

    # ------------------------------------------------------------ facts and leaves

    def lookup(self, pred: PredKey, atom: Struct, b: Bindings) -> list[Fact]:
        """Facts of ``pred`` that may match ``atom`` (indexed on its bound arguments)."""
        facts = self.facts.get(pred)
        if not facts:
            return []
        positions: list[int] = []
        values: list[Term] = []
        for j, a in enumerate(atom.args):
            v, g = subst(a, b)
            if g:
                positions.append(j)
                values.append(v)
        if not positions:
            return facts
        ikey = (pred, tuple(positions))
        index = self.fact_index.get(ikey)
        if index is None:
            index = {}
            for f in facts:
                index.setdefault(tuple(f.atom.args[j] for j in positions), []).append(f)
            self.fact_index[ikey] = index
        return index.get(tuple(values), [])

    def fact_leaf(self, f: Fact, aid: int) -> None:
        if id(f) in self.fact_leaf_done:
            return
        group: Hashable | None = None
        members = [f]
        if f.ad_group is not None:
            group = ("ad", f.ad_group)
            members = self.ad_members.get(f.ad_group, [f])
        for m in members:
            if id(m) in self.fact_leaf_done:
                continue
            self.fact_leaf_done.add(id(m))
            maid = aid if m is f else self.intern(m.atom)
            assert m.weight is not None
            w = self.ground_weight(m.weight, {}, m.span, m.atom)
            self.leaves.append(RawLeaf(maid, w, m.atom, group, False, span_pos(m.span)))
            self.fact_leaf_atoms.add(maid)

    def ground_weight(
        self, w: Weight, b: Bindings, span: SourceSpan | None, label: Struct
    ) -> GroundWeight:
        if w.kind == "const":
            return const_weight(float(w.value if w.value is not None else 0.0))
        if w.kind == "param":
            return GroundWeight("param", param=w.param)
        if w.kind == "expr":
            assert w.expr is not None
            lit = Struct("::", (w.expr, label))
            v = eval_arith(w.expr, b, lit, span)
            if not 0.0 <= v <= 1.0:
                raise GroundingError(
                    f"probability {show(subst(w.expr, b)[0])} = {v:g} of '{show(label)}' is "
                    f"{'below 0' if v < 0 else 'above 1'}",
                    span,
                    "a probability must lie in [0, 1]",
                )
            return GroundWeight("const", value=float(v))
        spec = w.neural
        assert spec is not None
        inputs = []
        for x in spec.inputs:
            x2, g = subst(x, b)
            if not g:
                raise GroundingError(
                    f"the input {show(x2)} of network '{spec.network}' is not ground "
                    f"when '{show(label)}' is used",
                    span,
                    "call the neural predicate with its input arguments bound",
                )
            inputs.append(x2)
        return GroundWeight(
            "neural",
            network=spec.network,
            inputs=tuple(inputs),
            index=spec.index,
            domain_size=spec.domain_size,
        )

    def choice_leaves(self, marker: Struct, b: Bindings, span: SourceSpan | None) -> list[int]:
        cid = marker.args[0]
        vs, g = subst(marker.args[2], b)
        assert isinstance(cid, int)
        choice = self.ir.choices[cid]
        if not g:
            head = choice.alternatives[0][1]
            raise GroundingError(
                f"the probabilistic clause for '{show(subst(head, b)[0])}' is reached with "
                "unbound variables; its probability cannot be attached to a ground atom",
                span or choice.span,
                "call it with its arguments bound, or bind them in the body",
            )
        key = (cid, vs)
        found = self.choice_done.get(key)
        if found is not None:
            return found
        assert isinstance(vs, Struct)
        env: Bindings = {}
        for v, val in zip(choice.variables, vs.args):
            if isinstance(v, Var):
                env[v.name] = val
        group: Hashable | None = ("choice", cid, vs) if len(choice.alternatives) > 1 else None
        aids = []
        pos = span_pos(choice.span)
        wspan = choice.span or span
        for k, (w, head) in enumerate(choice.alternatives):
            label = subst(head, env)[0] if env else head
            leaf = Struct(CHOICE_FUNCTOR, (cid, k, vs))
            aid = self.intern(leaf)
            assert isinstance(label, Struct)
            gw = self.ground_weight(w, env, wspan, label)
            self.leaves.append(RawLeaf(aid, gw, label, group, True, pos))
            aids.append(aid)
        self.choice_done[key] = aids
        return aids

    # ------------------------------------------------------------ resolution

    def run_clause(
        self, clause: _Clause, i: int, b: Bindings, body: tuple[int, ...], owner: _Table
    ) -> None:
        lits = clause.body
        kinds = clause.kinds
        lkeys = clause.lkeys
        tables = self.ground_tables
        n = len(lits)
        while i < n:
            k = kinds[i]
            lit = lits[i]
            if k == K_CALL:
                atom = lit.atom  # type: ignore[union-attr]
                lk = lkeys[i]
                t = tables.get(lk) if lk is not None else None
                if t is None:
                    t = self.get_table(atom, b, lit.span)
                consumer = (clause, i, b, body, owner)
                t.consumers.append(consumer)
                for ans, aid in list(t.answers):
                    self.feed(consumer, ans, aid)
                return
            if k == K_EDB:
                atom = lit.atom  # type: ignore[union-attr]
                results: list[tuple[Bindings, tuple[int, ...]]] = []
                for f in self.lookup(clause.preds[i], atom, b):  # type: ignore[arg-type]
                    nb = match(atom, f.atom, b)
                    if nb is None:
                        continue
                    if f.weight is None:
                        results.append((nb, body))
                    else:
                        aid = self.intern(f.atom)
                        self.fact_leaf(f, aid)
                        results.append((nb, (*body, 2 * aid)))
                if len(results) == 1:
                    b, body = results[0]
                    i += 1
                    continue
                for nb, nbody in reversed(results):
                    self.work.append((_CONT, clause, i + 1, nb, nbody, owner))
                return
            if k == K_BI:
                sols = solve_builtin(lit.atom, b, lit.span, self.limits.max_atoms)  # type: ignore[union-attr]
                if len(sols) == 1:
                    b = sols[0]
                    i += 1
                    continue
                for nb in reversed(sols):
                    self.work.append((_CONT, clause, i + 1, nb, body, owner))
                return
            if k == K_NBI:
                if solve_builtin(lit.atom, b, lit.span, self.limits.max_atoms):  # type: ignore[union-attr]
                    return
                i += 1
                continue
            if k == K_NEG:
                lk = lkeys[i]
                if lk is not None:
                    atom, g = lit.atom, True  # type: ignore[union-attr]
                else:
                    atom, g = subst(lit.atom, b)  # type: ignore[union-attr]
                if not g:
                    raise GroundingError(
                        f"\\+ {show(atom)}: arguments are not sufficiently instantiated",
                        lit.span,
                        "bind the variables of a negated literal with positive literals "
                        "before it",
                    )
                assert isinstance(atom, Struct)
                pred = clause.preds[i]
                if pred in self.has_rules:
                    if (lk if lk is not None else _lookup_key(atom)) not in tables:
                        self.get_table(atom, {}, lit.span)
                    aid = self.intern(atom)
                    if aid in self.certain:
                        return
                    body = (*body, 2 * aid + 1)
                else:
                    prob: list[Fact] = []
                    for f in self.lookup(pred, atom, {}):  # type: ignore[arg-type]
                        if term_eq(f.atom, atom):
                            if f.weight is None:
                                return  # \+ of a certain fact: the rule is dead
                            prob.append(f)
                    if prob:
                        aid = self.intern(atom)
                        for f in prob:
                            self.fact_leaf(f, aid)
                        body = (*body, 2 * aid + 1)
                i += 1
                continue
            if k == K_CHOICE:
                marker = lit.atom  # type: ignore[union-attr]
                aids = self.choice_leaves(marker, b, lit.span)
                kk = marker.args[1]
                assert isinstance(kk, int)
                body = (*body, 2 * aids[kk])
                i += 1
                continue
            # aggregate
            assert isinstance(lit, AggregateLiteral)
            t = self.get_table(lit.goal, b, lit.span)
            if not t.complete:
                stratum = self.strata.get(t.pred, 0)
                self.waiters.append((stratum, len(self.waiters), t,
                                     (clause, i, b, body, owner)))
                return
            nb2 = self.aggregate(lit, t, b)
            if nb2 is None:
                return
            b = nb2
            i += 1
        self.emit(clause, b, body, owner)

    def emit(self, clause: _Clause, b: Bindings, body: tuple[int, ...], owner: _Table) -> None:
        head, g = subst(clause.head, b)
        assert isinstance(head, Struct)
        if not g:
            if body:
                raise GroundingError(
                    f"the rule for '{_key_str(clause.pred)}' derived the non-ground atom "
                    f"{show(head)} from uncertain facts; a probabilistic atom must be ground",
                    clause.span,
                    "make every head variable occur in a positive body literal",
                )
            self.add_answer(owner, canonical(head), -1)
            return
        aid = self.intern(head)
        self.add_rule(aid, body)
        self.add_answer(owner, head, aid)

    # ------------------------------------------------------------ aggregates

    def _is_certain_final(self, roots: list[int]) -> dict[int, bool]:
        """Certainty of complete atoms (memoized; see :func:`einlog.ground.build.analyze`)."""
        todo: list[int] = []
        seen: set[int] = set()
        stack = [a for a in roots if a not in self.final_certain]
        while stack:
            a = stack.pop()
            if a in seen or a in self.final_certain:
                continue
            seen.add(a)
            todo.append(a)
            for body in self.rules.get(a, ()):
                for lit in body:
                    stack.append(lit >> 1)
        if todo:
            local = {a: j for j, a in enumerate(todo)}
            n = len(todo)
            rules: dict[int, list[tuple[int, ...]]] = {}
            for a in todo:
                bodies = []
                for body in self.rules.get(a, ()):
                    nbody: list[int] | None = []
                    for lit in body:
                        c = lit >> 1
                        j = local.get(c)
                        if j is None:
                            if self.final_certain[c]:
                                if lit & 1:
                                    nbody = None
                                    break
                                continue
                            if lit & 1 and not self.rules.get(c) and not self._is_leaf(c):
                                continue  # negation of an atom without derivation
                            nbody = None
                            break
                        assert nbody is not None
                        nbody.append(2 * j + (lit & 1))
                    if nbody is not None:
                        bodies.append(tuple(nbody))
                if bodies:
                    rules[local[a]] = bodies
            leaves = [local[a] for a in todo if self._is_leaf(a)]
            certain, _ = analyze(n, rules, leaves)
            for a in todo:
                self.final_certain[a] = bool(certain[local[a]])
        return {a: self.final_certain[a] for a in roots}

    def _is_leaf(self, a: int) -> bool:
        return a in self.fact_leaf_atoms or self.atoms[a].functor == CHOICE_FUNCTOR

    def aggregate(self, lit: AggregateLiteral, t: _Table, b: Bindings) -> Bindings | None:
        ground_ids = [aid for _, aid in t.answers if aid >= 0]
        cert = self._is_certain_final(ground_ids)
        for ans, aid in t.answers:
            if aid >= 0 and not cert[aid]:
                raise UnsupportedError(
                    f"aggregate {lit.op} over a probabilistic goal is not supported; the goal "
                    f"depends on probabilistic facts (its answer {show(ans)} is uncertain)",
                    lit.span,
                    "aggregate only over deterministic facts and rules, or express the "
                    "computation with rules",
                )
        values: list[Term] = []
        for ans, aid in t.answers:
            if aid >= 0:
                env = match(lit.goal, ans, b)
            else:
                env = unify(lit.goal, rename_apart(ans), b)
            if env is None:
                continue
            if lit.template is not None:
                values.append(subst(lit.template, env)[0])
            else:
                values.append(0)
        op = lit.op
        result: Term
        if op == "count":
            result = len(values)
        elif op == "sum":
            total: int | float = 0
            for v in values:
                total = total + eval_arith(v, {}, Struct("sum", (v,)), lit.span)
            result = total
        elif op in ("max", "min"):
            if not values:
                return None
            if all(type(v) in (int, float) for v in values):
                result = max(values) if op == "max" else min(values)  # type: ignore[type-var]
            else:
                keyed = sorted(values, key=order_key)
                result = keyed[-1] if op == "max" else keyed[0]
        elif op == "bag":
            result = make_list(values)
        elif op == "set":
            uniq: list[Term] = []
            for v in sorted(values, key=order_key):
                if not uniq or not term_eq(uniq[-1], v):
                    uniq.append(v)
            result = make_list(uniq)
        else:
            raise GroundingError(f"unknown aggregate operation {op!r}", lit.span)
        return unify(lit.result, result, b)

    # ------------------------------------------------------------ main loop

    def run(self) -> None:
        work = self.work
        while True:
            steps = 0
            while work:
                item = work.pop()
                if item[0] == _CONT:
                    self.run_clause(item[1], item[2], item[3], item[4], item[5])
                else:
                    self.start(item[1])
                steps += 1
                if steps & 4095 == 0:
                    self._tick()
            if not self.waiters:
                return
            low = min(w[0] for w in self.waiters)
            ready = sorted(w for w in self.waiters if w[0] == low)
            self.waiters = [w for w in self.waiters if w[0] != low]
            for _, _, t, _ in ready:
                t.complete = True
            for _, _, t, (clause, i, b, body, owner) in ready:
                lit = clause.body[i]
                assert isinstance(lit, AggregateLiteral)
                nb = self.aggregate(lit, t, b)
                if nb is not None:
                    work.append((_CONT, clause, i + 1, nb, body, owner))

    # ------------------------------------------------------------ entry

    def ground_queries(
        self, queries: Sequence[Struct], evidence: Sequence[tuple[Struct, bool]]
    ) -> tuple[RawGround, list[tuple[Struct, _Table | None, list[tuple[Term, int]]]]]:
        """Ground ``queries`` and ``evidence``; return the raw program and per-query tables."""
        q_tables: list[tuple[Struct, _Table]] = []
        for q in queries:
            if not isinstance(q, Struct):
                raise GroundingError(f"a query must be an atom, not {show(q)}", None)
            q_tables.append((q, self._goal_table(q)))
        ev: list[tuple[Struct, bool]] = []
        for atom, value in evidence:
            _, g = subst(atom, {})
            if not g:
                raise GroundingError(
                    f"evidence must be ground: {show(atom)}",
                    atom.span,
                    "give evidence on a ground atom such as p(a)",
                )
            self._goal_table(atom)
            ev.append((atom, value))
        self.run()
        for t in self.tables.values():
            t.complete = True
        query_ids: list[int] = []
        per_query = []
        for q, t in q_tables:
            answers = [(a, aid) for a, aid in t.answers if aid >= 0]
            if subst(q, {})[1]:
                query_ids.append(self.intern(q))
            query_ids.extend(aid for _, aid in answers)
            per_query.append((q, t, answers))
        ev_ids = [(self.intern(a), v) for a, v in ev]
        raw = RawGround(self.atoms, self.rules, self.leaves, query_ids, ev_ids)
        return raw, per_query  # type: ignore[return-value]

    def _goal_table(self, goal: Struct) -> _Table:
        key = goal.indicator
        if key not in self.has_rules and key not in self.facts and goal.functor != CHOICE_FUNCTOR:
            from einlog.ir.builtins import BUILTINS

            if key in BUILTINS:
                raise GroundingError(
                    f"cannot query the builtin {_key_str(key)}", goal.span,
                    "query a predicate defined by the program",
                )
        return self.get_table(goal, {}, goal.span)


def _short(t: Term | None) -> str:
    if t is None:
        return "?"
    text = show(t)
    return text if len(text) <= 200 else text[:200] + "..."


class _BigStackWorker:
    """One long-lived daemon thread with a large stack that runs grounding calls.

    Why one thread for the process, not one per call: starting a thread with a 512 MiB
    stack costs 0.1-4 ms (the stack is mapped and unmapped each time, and the caller
    waits to be scheduled), which was most of the grounding time of small programs.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self.thread: threading.Thread | None = None

    def _loop(self) -> None:
        while True:
            job = self._jobs.get()
            job()

    def submit(self, job: Callable[[], None]) -> None:
        with self._lock:
            if self.thread is None or not self.thread.is_alive():
                old_stack = threading.stack_size()
                try:
                    threading.stack_size(_STACK_SIZE)
                    self.thread = threading.Thread(target=self._loop, name="einlog-ground",
                                                   daemon=True)
                    self.thread.start()
                finally:
                    threading.stack_size(old_stack)
        self._jobs.put(job)


_worker = _BigStackWorker()


def run_grounding(fn: Any, *args: Any) -> Any:
    """Run ``fn(*args)`` here, or where it recurses too deeply, on the big-stack worker."""
    # the main thread has the process's full stack; other threads may have small ones
    here = threading.current_thread() is threading.main_thread()
    if here and sys.getrecursionlimit() <= _DIRECT_LIMIT:
        # most programs never recurse deeply: run here (no thread hand-off, ~0.1 ms) under
        # the caller's own, safe recursion limit; on a RecursionError run again on the
        # big-stack worker, from scratch (grounding does not modify its inputs)
        try:
            return fn(*args)
        except RecursionError:
            pass
    return run_grounding_on_worker(fn, *args)


def run_grounding_on_worker(fn: Any, *args: Any) -> Any:
    """Run ``fn(*args)`` on a thread with a large stack and a high recursion limit.

    Term operations recurse on term depth; the default 8 MiB stack and
    1 000-frame limit would crash on lists of a few thousand elements.  A
    ``RecursionError`` that still happens (a cyclic term made by unification
    without occurs check) becomes a :class:`GroundingLimitError`.  Calls from the
    worker thread itself (nested grounding) run directly.
    """
    result: list[Any] = []
    error: list[BaseException] = []
    done = threading.Event()

    def target() -> None:
        try:
            result.append(fn(*args))
        except RecursionError:
            error.append(
                GroundingLimitError(
                    "grounding built a term nested too deep to process (a cyclic term from "
                    "X = f(X), or unbounded recursion on term structure)",
                    None,
                    "check unifications that bind a variable to a term containing it",
                )
            )
        except BaseException as exc:  # re-raised in the caller's thread
            error.append(exc)
        finally:
            done.set()

    if threading.current_thread() is _worker.thread:
        target()
    else:
        with _limit_lock:
            old_limit = sys.getrecursionlimit()
            try:
                sys.setrecursionlimit(max(old_limit, _RECURSION_LIMIT))
                _worker.submit(target)
                while not done.wait(0.05):  # a timed wait keeps Ctrl-C responsive
                    pass
            finally:
                sys.setrecursionlimit(old_limit)
    if error:
        exc = error[0]
        if isinstance(exc, EinlogError):
            raise exc.with_traceback(None)
        raise exc
    return result[0]
