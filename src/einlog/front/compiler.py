"""The front end: a parsed :class:`ProgramAST` becomes a flat, checked :class:`IRProgram`.

Why it is built this way:

* Bodies are expanded into disjunctive normal form (DNF) by distributing
  ``;`` over ``,``: each conjunction becomes its own rule.  Splitting keeps
  every IR rule range restricted *on its own*, which a bottom-up grounder
  needs; auxiliary predicates for nested disjunctions would leave their
  arguments to the caller.  Real programs nest few disjunctions; a body that
  would expand past :data:`MAX_CONJUNCTIONS` is rejected with a hint.
* If-then-else ``(C -> T ; E)`` is read logically, as ProbLog does:
  ``(C, T) ; (\\+ C, E)``.  There is no cut; ``C -> T`` alone is ``C, T``.
* What cannot be a flat literal gets an auxiliary predicate whose name
  starts with ``$`` (never a user name): ``$not_N`` for a negated
  conjunction (or a negated goal with variables local to it), ``$agg_N`` for
  an aggregate's goal, ``$body_N`` for the disjunctive body of a
  probabilistic clause (so that all alternatives share one choice).  Spans
  of auxiliary rules point at the original source.
* Literal order: predicate literals keep their written order; builtins,
  negations and aggregates move right until the variables they need are
  bound (``p(X) :- X > 3, q(X).`` is fine).  Safety errors come from that
  same pass, so "what is bound where" is decided in one place.
* Predicate names are resolved while literals are classified, so errors
  come out in source order, each with a span, a caret and a hint.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal as TypingLiteral

from einlog._gc import bulk_build
from einlog.errors import (
    ArityError,
    ProbabilityError,
    ProgramError,
    Source,
    SourceSpan,
    UnknownPredicateError,
    UnsafeVariableError,
)
from einlog.front.prelude import LIBRARY_MODULES, load_prelude
from einlog.front.stratify import stratify
from einlog.ir.builtins import BUILTINS, BuiltinSpec, builtin_ready
from einlog.ir.nodes import (
    CHOICE_FUNCTOR,
    AggregateLiteral,
    BodyLiteral,
    BuiltinLiteral,
    Choice,
    Fact,
    IRProgram,
    NeuralSpec,
    Param,
    PredKey,
    PredLiteral,
    Rule,
    Weight,
)
from einlog.syntax import format_term
from einlog.syntax.ast import (
    Clause,
    Directive,
    Evidence,
    NeuralDeclaration,
    ProbabilisticClause,
    ProgramAST,
    Query,
    Statement,
)
from einlog.terms import Str, Struct, Term, Var, has_anonymous, is_ground, variables

__all__ = ["compile_program", "MAX_CONJUNCTIONS", "AD_TOLERANCE"]

MAX_CONJUNCTIONS = 4096
AD_TOLERANCE = 1e-9
CONTROL: frozenset[PredKey] = frozenset(
    {(",", 2), (";", 2), ("->", 2), ("*->", 2), ("\\+", 1), ("not", 1), ("call", 1)}
)
AGGREGATES: frozenset[PredKey] = frozenset({("aggregate_all", 3), ("findall", 3)})
#: body goals :meth:`_Compiler._dnf` expands rather than calls
_NOT_PLAIN: frozenset[PredKey] = CONTROL | AGGREGATES | {("true", 0), ("fail", 0), ("false", 0)}
#: ground rules with plain conjunction bodies skip the general clause path (tests compare)
_FAST_GROUND_RULES = True
#: one literal of a ground rule's body: ``(atom, negated, span)``
_Part = tuple[Struct, bool, SourceSpan | None]
#: the empty variable list of a ground choice's marker (terms are never mutated)
_NO_VARS = Struct("vars", ())
_new = object.__new__


@dataclass
class _Unit:
    """One element of a DNF conjunction before classification."""

    kind: TypingLiteral["atom", "neg", "agg"]
    term: Struct
    span: SourceSpan | None


@dataclass
class _Ctx:
    """Where a conjunction comes from: for error messages and binding analysis."""

    display: str  # 'path/2' as the user wrote it
    span: SourceSpan | None
    trusted: bool = False  # library code: no reordering, no safety errors
    call_bound: set[str] = field(default_factory=set)


def _span_of(term: object, default: SourceSpan | None) -> SourceSpan | None:
    span = getattr(term, "span", None)
    return span if span is not None else default


def _key_str(key: PredKey) -> str:
    return f"{key[0]}/{key[1]}"


def _var_names(terms: Iterable[Term]) -> list[str]:
    return [v.name for v in variables(list(terms))]


def _var_occurrence(term: Term, name: str) -> Var | None:
    stack: list[Term] = [term]
    while stack:
        t = stack.pop()
        if isinstance(t, Var) and t.name == name:
            return t
        if isinstance(t, Struct):
            stack.extend(reversed(t.args))
    return None


def _is_anonymous(v: Var) -> bool:
    """Whether ``v`` was written ``_`` (the parser names those ``_G<n>``)."""
    span = v.span
    if span is None or span.source is None or span.line != span.end_line:
        return v.name == "_" or v.name.endswith("$")
    return span.source.line_text(span.line)[span.col - 1 : span.end_col - 1] == "_"


def _var_label(name: str, occ: Var | None) -> str:
    """How a message names a variable: ``'X'``, or ``'_'`` for an anonymous one."""
    return "_" if occ is not None and _is_anonymous(occ) else name


def _show(term: Term) -> str:
    """A term for a message: the project's printer, anonymous variables shown as ``_``."""
    anon: dict[str, Term] = {v.name: Var("_") for v in variables([term]) if _is_anonymous(v)}
    return format_term(_subst(term, anon) if anon else term)


def _subst(term: Term, mapping: dict[str, Term]) -> Term:
    if isinstance(term, Var):
        return mapping.get(term.name, term)
    if isinstance(term, Struct) and term.args:
        return Struct(term.functor, [_subst(a, mapping) for a in term.args], term.span)
    return term


class _Anon:
    """Renames each anonymous ``_`` to a fresh variable.

    The parser already names each ``_`` apart (``_G<n>``); hand-built ASTs
    (tests, other producers) may still contain ``Var("_")``.
    """

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, term: Term) -> Term:
        if isinstance(term, Var):
            if term.name == "_":
                self.count += 1
                return Var(f"_{self.count}$", term.span)
            return term
        if isinstance(term, Struct) and term.args:
            return Struct(term.functor, [self(a) for a in term.args], term.span)
        return term

    def struct(self, term: Struct) -> Struct:
        out = self(term)
        assert isinstance(out, Struct)
        return out

    def opt(self, term: Term | None) -> Term | None:
        return None if term is None else self(term)


def _flat_ground(head: Struct) -> bool:
    """Whether every argument of ``head`` is a constant (the common fact: nothing to rename)."""
    for a in head.args:
        if isinstance(a, Var) or (isinstance(a, Struct) and a.args):
            return False
    return True


def _rename_anonymous(st: Statement) -> Statement:
    if isinstance(st, Clause) and st.body is None and _flat_ground(st.head):
        return st  # a plain fact: rebuilding it would cost ~15 us per fact for nothing
    if isinstance(st, (Clause, ProbabilisticClause)):
        # rebuilding a rule costs a copy of every term; parsed programs never need it
        terms: list[Term] = (
            [st.head] if isinstance(st, Clause) else [t for pair in st.heads for t in pair])
        if not has_anonymous([*terms, st.body]):
            return st
    anon = _Anon()
    if isinstance(st, Clause):
        return Clause(anon.struct(st.head), anon.opt(st.body), st.span)
    if isinstance(st, ProbabilisticClause):
        if st.body is None and len(st.heads) == 1 and _flat_ground(st.heads[0][1]):
            prob = st.heads[0][0]
            if isinstance(prob, (int, float)) or (isinstance(prob, Struct) and not prob.args):
                return st
        heads = [(anon(p), anon.struct(h)) for p, h in st.heads]
        return ProbabilisticClause(heads, anon.opt(st.body), st.span)
    if isinstance(st, NeuralDeclaration):
        return NeuralDeclaration(
            st.network, [anon(i) for i in st.inputs], anon.opt(st.output),
            None if st.domain is None else [anon(d) for d in st.domain],
            anon.struct(st.head), anon.opt(st.body), st.span,
        )
    return st


def _closest(key: PredKey, candidates: Iterable[PredKey]) -> PredKey | None:
    """The predicate a misspelt ``key`` most likely meant (by name; same arity wins ties).

    Names are compared without the arity: ``'pth/2'`` against ``'a/2'`` shares
    ``/2`` and would look similar to ``difflib`` for no good reason.
    """
    best: tuple[float, bool, str] | None = None
    found: PredKey | None = None
    for cand in candidates:
        ratio = difflib.SequenceMatcher(None, key[0], cand[0]).ratio()
        if ratio < 0.6:
            continue
        rank = (ratio, cand[1] == key[1], cand[0])
        if best is None or rank[:2] > best[:2] or (rank[:2] == best[:2] and rank[2] < best[2]):
            best, found = rank, cand
    return found


def eval_number(term: Term) -> float | None:
    """Evaluate a ground arithmetic term to a float (``None`` when it is not one)."""
    if isinstance(term, bool):
        return None
    if isinstance(term, (int, float)):
        return float(term)
    if not isinstance(term, Struct):
        return None
    name, args = term.functor, term.args
    if not args:
        return {"pi": math.pi, "e": math.e, "inf": math.inf}.get(name)
    vals = [eval_number(a) for a in args]
    if any(v is None for v in vals):
        return None
    xs: list[float] = [v for v in vals if v is not None]
    try:
        if len(xs) == 1:
            unary = {
                "-": lambda x: -x, "+": lambda x: x, "abs": abs, "exp": math.exp,
                "log": math.log, "sqrt": math.sqrt, "sin": math.sin, "cos": math.cos,
                "float": float,
            }
            f1 = unary.get(name)
            return float(f1(xs[0])) if f1 is not None else None
        if len(xs) == 2:
            a, b = xs
            binary = {
                "+": a + b, "-": a - b, "*": a * b,
                "/": a / b if b != 0 else None, "**": None, "^": None,
                "min": min(a, b), "max": max(a, b),
            }
            if name in ("**", "^"):
                return float(a**b)
            if name == "log":
                return math.log(b) / math.log(a)
            r = binary.get(name)
            return float(r) if r is not None else None
    except (ValueError, OverflowError, ZeroDivisionError):
        return None
    return None


class _Compiler:
    def __init__(
        self,
        ast: ProgramAST,
        builtins: dict[PredKey, BuiltinSpec],
        library: ProgramAST | Callable[[], ProgramAST] | None,
    ) -> None:
        self.ast = ast
        self.source: Source | None = ast.source
        self.builtins = builtins
        self.ir = IRProgram(source=ast.source)
        self.aux_count = 0
        self.aux_keys: set[PredKey] = set()  # the '$not_N', '$agg_N', '$body_N' made here
        self.negated_goal: dict[str, Struct] = {}  # '$not_N' -> the goal as written
        self.ad_count = 0
        self.defined: dict[PredKey, SourceSpan | None] = {}
        # The library is read on the first call of a predicate the program does not
        # define, so programs that use none never parse the prelude.
        self._library = library
        self._library_keys: set[PredKey] | None = None
        self.library_needed: list[PredKey] = []
        self.library_loaded: set[PredKey] = set()
        self.in_library = False

    @property
    def library_ast(self) -> ProgramAST | None:
        if callable(self._library):
            self._library = self._library()
        return self._library

    @property
    def library_keys(self) -> set[PredKey]:
        if self._library_keys is None:
            lib = self.library_ast
            self._library_keys = set() if lib is None else {
                st.head.indicator for st in lib.statements if isinstance(st, Clause)}
        return self._library_keys

    # ------------------------------------------------------------------ driver
    def run(self) -> IRProgram:
        # One pass sorts the statements.  Plain facts (flat ground head, no body) go
        # straight to the fact tables (a fact base is most of a large program); ground
        # CPT rows (see _ground_rule) have no variables to rename and skip the general
        # clause path.  Both are checked once, here.
        ground_rule = self._ground_rule
        kinds: list[int] = []  # per statement: 0 other, 1 plain fact, 2 ground rule
        rows: list[list[_Part]] = []  # the parts of each ground rule, in order
        statements: list[Statement] = []
        for st in self.ast.statements:
            cls = st.__class__
            if cls is Clause:
                if st.body is None and _flat_ground(st.head):  # type: ignore[union-attr]
                    kinds.append(1)
                    statements.append(st)
                    continue
            elif cls is ProbabilisticClause:
                parts = ground_rule(st)  # type: ignore[arg-type]
                if parts is not None:
                    kinds.append(2)
                    rows.append(parts)
                    statements.append(st)
                    continue
            kinds.append(0)
            statements.append(_rename_anonymous(st))
        defined = self.defined
        builtins = self.builtins
        for st, kind in zip(statements, kinds):
            if kind:
                head = st.head if kind == 1 else st.heads[0][1]  # type: ignore[union-attr]
                if (head.functor, len(head.args)) in defined:
                    continue
                heads = [head]
            else:
                heads = self._heads_of(st)
            for head in heads:
                key = (head.functor, len(head.args))
                if key in defined:  # checked already; setdefault keeps the first span
                    continue
                if key in builtins or key in CONTROL or key in AGGREGATES:
                    raise ProgramError(
                        f"cannot redefine builtin '{_key_str(key)}'",
                        _span_of(head, st.span),
                        f"rename your predicate; '{_key_str(key)}' is built in",
                    )
                defined[key] = _span_of(head, st.span)
        facts = self.ir.facts
        next_row = iter(rows).__next__
        for st, kind in zip(statements, kinds):
            if kind == 1:
                head = st.head  # type: ignore[union-attr]
                key = (head.functor, len(head.args))
                table = facts.get(key)
                if table is None:
                    table = facts[key] = []
                table.append(Fact(head, None, None, st.span))
            elif kind == 2:
                prob, head = st.heads[0]  # type: ignore[union-attr]
                # what _weight makes of a number in [0, 1], without the frozen dataclass's
                # __init__ (an object.__setattr__ call per field), at a third of its cost
                weight: Weight = _new(Weight)
                d = weight.__dict__
                d["kind"] = "const"
                d["value"] = float(prob)  # type: ignore[arg-type]
                d["param"] = d["expr"] = d["neural"] = None
                self._ground_choice(weight, head, next_row(), st.span)
            elif isinstance(st, Clause):
                self._clause(st)
            elif isinstance(st, ProbabilisticClause):
                self._prob_clause(st)
            elif isinstance(st, NeuralDeclaration):
                self._neural(st)
            elif isinstance(st, Query):
                self._resolve(st.atom, _span_of(st.atom, st.span), what="query")
                self.ir.queries.append(st.atom)
            elif isinstance(st, Evidence):
                self._resolve(st.atom, _span_of(st.atom, st.span), what="evidence")
                self.ir.evidence.append((st.atom, st.value))
            elif isinstance(st, Directive):
                self._directive(st)
        self._load_library()
        self.ir.strata = stratify(self.ir)
        return self.ir

    def _ground_rule(self, st: ProbabilisticClause) -> list[_Part] | None:
        """The body parts of a ground CPT row ``P::head :- lits.`` (``P`` a number in
        [0, 1]): what :meth:`_prob_clause` would give :meth:`_ground_choice`, else ``None``."""
        if not _FAST_GROUND_RULES or st.body is None or len(st.heads) != 1:
            return None
        prob, head = st.heads[0]
        if (type(prob) is float or type(prob) is int) and 0.0 <= prob <= 1.0:  # not bool
            return self._ground_conjunction(head, st.body)
        return None

    @staticmethod
    def _heads_of(st: object) -> list[Struct]:
        if isinstance(st, Clause):
            return [st.head]
        if isinstance(st, ProbabilisticClause):
            return [h for _, h in st.heads]
        if isinstance(st, NeuralDeclaration):
            return [st.head]
        return []

    def _load_library(self) -> None:
        if not self.library_needed or self.library_ast is None:
            return
        self.in_library = True
        while self.library_needed:
            key = self.library_needed.pop()
            if key in self.library_loaded:
                continue
            self.library_loaded.add(key)
            self.ir.library.add(key)
            for st in self.library_ast.statements:
                if isinstance(st, Clause) and st.head.indicator == key:
                    renamed = _rename_anonymous(st)
                    assert isinstance(renamed, Clause)
                    self._clause(renamed)
        self.in_library = False

    # -------------------------------------------------------------- directives
    def _directive(self, st: Directive) -> None:
        goal = st.goal
        span = _span_of(goal, st.span)
        if isinstance(goal, Struct) and goal.indicator == ("use_module", 1):
            arg = goal.args[0]
            if isinstance(arg, Struct) and arg.indicator == ("library", 1):
                lib = arg.args[0]
                if isinstance(lib, Struct) and not lib.args and lib.functor in LIBRARY_MODULES:
                    return
                raise ProgramError(
                    f"unknown library '{format_term(lib)}'",
                    span,
                    "einlog knows ProbLog's standard libraries: "
                    + ", ".join(sorted(LIBRARY_MODULES)),
                )
            raise ProgramError(
                f"cannot load module '{format_term(arg)}'",
                span,
                "einlog accepts only ':- use_module(library(Name)).' for ProbLog's "
                "standard libraries; put the clauses into the program instead",
            )
        name = _key_str(goal.indicator) if isinstance(goal, Struct) else format_term(goal)
        raise ProgramError(
            f"unknown directive '{name}'",
            span,
            "einlog accepts only ':- use_module(library(Name)).' directives; queries and "
            "evidence are written as facts: 'query(Atom).', 'evidence(Atom, true).'",
        )

    # -------------------------------------------------------- name resolution
    def _candidates(self) -> set[PredKey]:
        keys = {k for k in self.defined if not k[0].startswith("$")}
        keys.update(k for k in self.builtins)
        keys.update(k for k in self.library_keys if not k[0].startswith("$"))
        return keys

    def _resolve(self, atom: Struct, span: SourceSpan | None, what: str = "call") -> None:
        """Make sure ``atom``'s predicate exists (loading it from the library if needed)."""
        key = atom.indicator
        if key in self.defined or key in self.aux_keys:
            return
        if key in self.library_keys:
            if key not in self.library_loaded:
                self.library_needed.append(key)
            return
        if self.in_library:
            raise ProgramError(f"library predicate calls unknown '{_key_str(key)}'", span)
        cands = self._candidates()
        same_name = sorted(k for k in cands if k[0] == key[0])
        if same_name:
            arities = " or ".join(str(k[1]) for k in same_name)
            plural = "s" if arities != "1" else ""
            if any(k in self.builtins for k in same_name):
                raise ArityError(
                    f"wrong number of arguments: builtin '{key[0]}' takes {arities} "
                    f"argument{plural}, called with {key[1]}",
                    span,
                    f"call '{key[0]}' with {arities} argument{plural} "
                    f"('{_key_str(same_name[0])}')",
                )
            shown = " and ".join(f"'{_key_str(k)}'" for k in same_name)
            raise ArityError(
                f"wrong number of arguments: '{key[0]}' is defined with {arities} "
                f"argument{plural} ({shown}), called with {key[1]}",
                span,
                f"call '{key[0]}' with {arities} argument{plural}, or define "
                f"'{_key_str(key)}' if it is a different predicate",
            )
        hint = f"define '{_key_str(key)}' with a fact or a rule, or check the spelling"
        own = sorted(k for k in self.defined if not k[0].startswith("$"))
        if 0 < len(own) <= 8:
            hint += " (the program defines " + ", ".join(_key_str(k) for k in own) + ")"
        close = _closest(key, cands)
        if close is not None:
            hint = f"did you mean '{_key_str(close)}'?"
        label = "unknown predicate" if what == "call" else f"{what} of unknown predicate"
        raise UnknownPredicateError(f"{label} '{_key_str(key)}'", span, hint)

    # ----------------------------------------------------------------- bodies
    def _dnf(self, body: Term, span: SourceSpan | None) -> list[list[_Unit]]:
        """Expand ``body`` into a list of conjunctions (see the module docstring)."""
        span = _span_of(body, span)
        if isinstance(body, Var):
            raise ProgramError(
                f"goal '{body.name}' is a variable",
                span,
                "einlog compiles programs ahead of time; call a known predicate instead",
            )
        if not isinstance(body, Struct):
            raise ProgramError(
                f"'{format_term(body)}' is not callable",
                span,
                "a body literal must be an atom or a compound term",
            )
        key = body.indicator
        if key == (",", 2):
            parts: list[Term] = []
            t: Term = body
            while isinstance(t, Struct) and t.indicator == (",", 2):
                parts.append(t.args[0])
                t = t.args[1]
            parts.append(t)
            result: list[list[_Unit]] = [[]]
            for p in parts:
                sub = self._dnf(p, span)
                result = [a + b for a in result for b in sub]
                if len(result) > MAX_CONJUNCTIONS:
                    raise ProgramError(
                        "clause body has too many alternatives after expanding ';'",
                        span,
                        "move nested disjunctions into helper predicates",
                    )
            return result
        if key == (";", 2):
            out: list[list[_Unit]] = []
            t = body
            while isinstance(t, Struct) and t.indicator == (";", 2):
                left = t.args[0]
                if isinstance(left, Struct) and left.indicator in (("->", 2), ("*->", 2)):
                    cond, then = left.args
                    out += self._dnf(Struct(",", (cond, then), left.span), span)
                    rest = Struct(",", (Struct("\\+", (cond,), left.span), t.args[1]), t.span)
                    out += self._dnf(rest, span)
                    t = None  # type: ignore[assignment]
                    break
                out += self._dnf(left, span)
                t = t.args[1]
            if t is not None:
                out += self._dnf(t, span)
            if len(out) > MAX_CONJUNCTIONS:
                raise ProgramError(
                    "clause body has too many alternatives after expanding ';'",
                    span,
                    "move nested disjunctions into helper predicates",
                )
            return out
        if key in (("->", 2), ("*->", 2)):
            return self._dnf(Struct(",", body.args, body.span), span)
        if key in (("\\+", 1), ("not", 1)):
            inner = body.args[0]
            if not isinstance(inner, Struct):
                self._dnf(inner, span)  # raises the right error
            assert isinstance(inner, Struct)
            return [[_Unit("neg", inner, span)]]
        if key[0] == "call" and key[1] >= 1:
            goal = body.args[0]
            if isinstance(goal, Var):
                raise ProgramError(
                    f"call/{key[1]} with the unknown goal '{goal.name}'",
                    _span_of(goal, span),
                    "einlog compiles programs ahead of time; call/N needs a known goal",
                )
            if not isinstance(goal, Struct):
                return self._dnf(goal, span)
            return self._dnf(Struct(goal.functor, goal.args + body.args[1:], goal.span), span)
        if key == ("true", 0) and key in self.builtins:
            return [[]]
        if key in (("fail", 0), ("false", 0)) and key in self.builtins:
            return []
        if key in AGGREGATES:
            return [[_Unit("agg", body, span)]]
        return [[_Unit("atom", body, span)]]

    def _new_aux(self, kind: str, arity: int) -> str:
        self.aux_count += 1
        name = f"${kind}_{self.aux_count}"
        self.aux_keys.add((name, arity))
        return name

    def _classify(self, atom: Struct, span: SourceSpan | None, negated: bool) -> BodyLiteral:
        key = atom.indicator
        if key in self.builtins:
            return BuiltinLiteral(atom, negated, span)
        if key in CONTROL or key in AGGREGATES:  # nested control inside negation etc.
            raise ProgramError(f"cannot use '{_key_str(key)}' here", span)
        self._resolve(atom, span)
        return PredLiteral(atom, negated, span)

    def _literals(
        self, heads: Sequence[Term], units: list[_Unit], outer: Sequence[Term], ctx: _Ctx
    ) -> list[BodyLiteral]:
        """Classify one DNF conjunction into IR literals, creating aux predicates."""
        lits: list[BodyLiteral] = []
        for i, unit in enumerate(units):
            if unit.kind == "atom":  # needs no variables from outside
                lits.append(self._classify(unit.term, unit.span, False))
                continue
            if unit.kind == "neg" and is_ground(unit.term):  # nothing to share
                lits.append(self._negation(unit, set(), ctx))
                continue
            others: list[Term] = [*heads, *outer]
            others += [u.term for j, u in enumerate(units) if j != i]
            outside = set(_var_names(others)) | ctx.call_bound
            if unit.kind == "neg":
                lits.append(self._negation(unit, outside, ctx))
            else:
                lits.append(self._aggregate(unit, outside, ctx))
        return lits

    def _negation(self, unit: _Unit, outside: set[str], ctx: _Ctx) -> BodyLiteral:
        goal = unit.term
        goal_vars = _var_names([goal])
        shared = [v for v in goal_vars if v in outside]
        simple = goal.indicator not in CONTROL and goal.indicator not in AGGREGATES
        if simple and len(shared) == len(goal_vars):
            return self._classify(goal, unit.span, True)
        name = self._new_aux("not", len(shared))
        self.negated_goal[name] = goal
        head = Struct(name, [_var_occurrence(goal, v) or Var(v) for v in shared], goal.span)
        sub = _Ctx(ctx.display, unit.span, ctx.trusted, set(shared))
        self._emit_rules([head], self._dnf(goal, unit.span), [], sub)
        return PredLiteral(head, True, unit.span)

    def _aggregate(self, unit: _Unit, outside: set[str], ctx: _Ctx) -> BodyLiteral:
        term = unit.term
        span = unit.span
        if term.functor == "findall":
            op, template, goal, result = "bag", term.args[0], term.args[1], term.args[2]
        else:
            spec, goal, result = term.args
            template = None
            if isinstance(spec, Struct) and spec.indicator == ("count", 0):
                op = "count"
            elif isinstance(spec, Struct) and spec.arity == 1 and spec.functor in (
                "sum", "max", "min", "bag", "set", "count"
            ):
                op, template = spec.functor, spec.args[0]
            else:
                raise ProgramError(
                    f"unknown aggregate '{format_term(spec)}'",
                    _span_of(spec, span),
                    "use count, sum(E), max(E), min(E), bag(E) or set(E)",
                )
        if not isinstance(goal, Struct):
            self._dnf(goal, span)  # raises
        assert isinstance(goal, Struct)
        goal_vars = _var_names([goal])
        tmpl_vars = _var_names([template]) if template is not None else []
        group = [v for v in _var_names([goal, *([template] if template is not None else [])])
                 if v in outside]
        for v in tmpl_vars:
            if v not in goal_vars and v not in group:
                occ = _var_occurrence(template, v) if template is not None else None
                raise UnsafeVariableError(
                    f"variable '{v}' in the aggregated term does not occur in the goal",
                    _span_of(occ, span),
                    "the aggregated term may only use variables of the goal",
                )
        name = self._new_aux("agg", len(goal_vars))
        head = Struct(name, [_var_occurrence(goal, v) or Var(v) for v in goal_vars], goal.span)
        sub = _Ctx(ctx.display, span, ctx.trusted, {v for v in group if v in goal_vars})
        self._emit_rules([head], self._dnf(goal, span), [], sub)
        group_terms = tuple(
            _var_occurrence(goal, v) or _var_occurrence(template, v) or Var(v)  # type: ignore[arg-type]
            for v in group
        )
        return AggregateLiteral(op, template, head, result, group_terms, span)

    # ------------------------------------------------------ ordering + safety
    def _needs(self, lit: BodyLiteral) -> list[str]:
        """Variables of ``lit`` that must be bound before it runs (for messages)."""
        if isinstance(lit, AggregateLiteral):
            return _var_names(lit.group_by)
        if isinstance(lit, PredLiteral):
            return _var_names([lit.atom]) if lit.negated else []
        return _var_names([lit.atom])

    def _ready(self, lit: BodyLiteral, bound: set[str]) -> bool:
        if isinstance(lit, PredLiteral):
            return not lit.negated or set(_var_names([lit.atom])) <= bound
        if isinstance(lit, AggregateLiteral):
            return set(_var_names(lit.group_by)) <= bound
        if lit.negated:
            return set(_var_names([lit.atom])) <= bound
        return builtin_ready(self.builtins[lit.atom.indicator], lit.atom, bound)

    def _binds(self, lit: BodyLiteral) -> list[str]:
        if isinstance(lit, PredLiteral):
            return [] if lit.negated else _var_names([lit.atom])
        if isinstance(lit, AggregateLiteral):
            return _var_names([lit.result])
        if lit.negated or not self.builtins[lit.atom.indicator].binds:
            return []
        return _var_names([lit.atom])

    def _order(self, lits: list[BodyLiteral], ctx: _Ctx) -> tuple[list[BodyLiteral], set[str]]:
        bound = set(ctx.call_bound)
        if ctx.trusted:
            for lit in lits:
                bound.update(self._binds(lit))
            return lits, bound
        out: list[BodyLiteral] = []
        pending: list[BodyLiteral] = []

        def emit(lit: BodyLiteral) -> None:
            out.append(lit)
            bound.update(self._binds(lit))

        for lit in lits:
            if self._ready(lit, bound):
                emit(lit)
                progress = True
                while progress:
                    progress = False
                    for p in pending:
                        if self._ready(p, bound):
                            pending.remove(p)
                            emit(p)
                            progress = True
                            break
            else:
                pending.append(lit)
        if pending:
            self._unsafe_literal(pending[0], bound, ctx)
        return out, bound

    def _order_rule(
        self, lits: list[BodyLiteral], heads: Sequence[Struct], ctx: _Ctx
    ) -> tuple[list[BodyLiteral], set[str]]:
        """Order ``lits``; head variables the body only reads become call-bound.

        ProbLog (top-down) accepts ``number([H|T], Acc, R) :- digit(H, N),
        Acc2 is N + 10 * Acc, number(T, Acc2, R).``: ``Acc`` comes from the
        call.  A head variable that no positive literal binds but a builtin or
        a negation reads is therefore call-bound: its argument positions are
        recorded in ``IRProgram.call_bound`` and a call that leaves it unbound
        is an instantiation error at grounding time.  Variables that occur only
        in the body, or only in the head, stay errors here.
        """
        try:
            return self._order(lits, ctx)
        except UnsafeVariableError:
            if ctx.trusted:
                raise
            positive: set[str] = set()
            read: set[str] = set()
            for lit in lits:
                if isinstance(lit, PredLiteral) and not lit.negated:
                    positive.update(_var_names([lit.atom]))
                elif isinstance(lit, AggregateLiteral):
                    positive.update(_var_names([lit.result]))
                    read.update(_var_names(lit.group_by))
                else:
                    read.update(_var_names([lit.atom]))
            extra = (set(_var_names(heads)) & read) - positive - ctx.call_bound
            if not extra:
                raise
        ordered, bound = self._order(lits, replace(ctx, call_bound=ctx.call_bound | extra))
        for head in heads:
            positions = {i for i, a in enumerate(head.args) if extra & set(_var_names([a]))}
            if positions:
                self.ir.call_bound.setdefault(head.indicator, set()).update(positions)
        return ordered, bound

    def _unsafe_literal(self, lit: BodyLiteral, bound: set[str], ctx: _Ctx) -> None:
        needs = [v for v in self._needs(lit) if v not in bound]
        if isinstance(lit, BuiltinLiteral) and not lit.negated:
            spec = self.builtins[lit.atom.indicator]
            best = min(spec.modes, key=lambda m: len(set(_var_names(
                [lit.atom.args[i] for i in m])) - bound))
            needs = [v for v in _var_names([lit.atom.args[i] for i in sorted(best)])
                     if v not in bound] or needs
        v = needs[0] if needs else "_"
        where: Term = lit.atom if not isinstance(lit, AggregateLiteral) else lit.goal
        if isinstance(lit, PredLiteral):
            where = self.negated_goal.get(lit.atom.functor, where)
        occ = _var_occurrence(where, v)
        if occ is None and isinstance(lit, AggregateLiteral) and lit.template is not None:
            occ = _var_occurrence(lit.template, v)
        span = _span_of(occ, lit.span or ctx.span)
        label = _var_label(v, occ)
        if isinstance(lit, AggregateLiteral):
            raise UnsafeVariableError(
                f"variable '{label}' is shared by the aggregate and the rest of the rule, "
                "but no positive body literal binds it",
                span,
                f"bind '{label}' with a positive body literal outside the aggregate, or rename "
                "it inside the aggregate if it is meant to be local to it",
            )
        if lit.negated:
            shown = _show(Struct("\\+", (where,)))
            raise UnsafeVariableError(
                f"variable '{label}' in the negation '{shown}' is not bound by any positive "
                "body literal",
                span,
                f"'\\+' can only test bound goals: add a positive literal that binds '{label}' "
                "anywhere in the body",
            )
        key = _key_str(lit.atom.indicator)
        if label == "_":
            raise UnsafeVariableError(
                f"anonymous variable '_' in '{_show(lit.atom)}' is never bound",
                span,
                f"every '_' is a fresh variable, and '{key}' needs its arguments bound: "
                "use a named variable that a positive body literal binds",
            )
        raise UnsafeVariableError(
            f"variable '{label}' in '{_show(lit.atom)}' is not bound by any positive body "
            "literal",
            span,
            f"'{key}' needs its arguments bound: add a positive literal that binds '{label}' "
            "anywhere in the body",
        )

    def _check_head(self, head: Struct, bound: set[str], ctx: _Ctx) -> None:
        if ctx.trusted:
            return
        for v in _var_names([head]):
            if v not in bound:
                occ = _var_occurrence(head, v)
                label = _var_label(v, occ)
                if label == "_":
                    raise UnsafeVariableError(
                        f"anonymous variable '_' in the head of '{ctx.display}' is not bound "
                        "by any positive body literal",
                        _span_of(occ, ctx.span),
                        "every head variable must occur in a positive body literal; replace "
                        "'_' by a constant, or by a named variable that the body binds",
                    )
                raise UnsafeVariableError(
                    f"variable '{v}' in the head of '{ctx.display}' is not bound by any "
                    "positive body literal",
                    _span_of(occ, ctx.span),
                    f"every head variable must occur in a positive body literal; add a "
                    f"literal that binds '{v}' (e.g. a domain predicate)",
                )

    def _emit_rules(
        self, heads: list[Struct], conjs: list[list[_Unit]], outer: Sequence[Term], ctx: _Ctx
    ) -> list[tuple[list[BodyLiteral], set[str]]]:
        """Compile each conjunction for ``heads`` and add one rule per head and conjunction."""
        done: list[tuple[list[BodyLiteral], set[str]]] = []
        if not conjs:
            fail = BuiltinLiteral(Struct("fail"), False, ctx.span)
            for head in heads:
                self.ir.rules.append(Rule(head, (fail,), ctx.span))
            return done
        for units in conjs:
            lits = self._literals(heads, units, outer, ctx)
            ordered, bound = self._order_rule(lits, heads, ctx)
            for head in heads:
                self._check_head(head, bound, ctx)
                self.ir.rules.append(Rule(head, tuple(ordered), ctx.span))
            done.append((ordered, bound))
        return done

    # ------------------------------------------------------------- statements
    def _clause(self, st: Clause) -> None:
        head = st.head
        if st.body is None:
            if _flat_ground(head) or is_ground(head):
                self.ir.facts.setdefault(head.indicator, []).append(Fact(head, None, None, st.span))
            else:  # a non-ground fact: ProbLog accepts it; its variables come from the call
                self.ir.rules.append(Rule(head, (), st.span))
            return
        display = _key_str(head.indicator)
        ctx = _Ctx(display, st.span, self.in_library)
        self._emit_rules([head], self._dnf(st.body, st.span), [], ctx)

    def _prob_span(self, prob: Term, head: Struct, default: SourceSpan | None) -> SourceSpan | None:
        """The span of a probability as written (numbers carry no span: find it in the text)."""
        span = getattr(prob, "span", None)
        if span is not None:
            return span
        hs = head.span
        if hs is None or hs.source is None:
            return default
        text = hs.source.line_text(hs.line)
        i = hs.col - 2
        while i >= 0 and text[i] in " \t":
            i -= 1
        if i < 1 or text[i - 1 : i + 1] != "::":
            return default
        i -= 2
        while i >= 0 and text[i] in " \t":
            i -= 1
        end = i + 1
        while i >= 0 and (text[i].isalnum() or text[i] in "._"):
            i -= 1
        while i >= 0 and text[i] in "+-" and (i == 0 or text[i - 1] in " \t;(:-"):
            i -= 1
            break
        if end <= i + 1:
            return default
        return SourceSpan(hs.source, hs.line, i + 2, hs.line, end + 1)

    def _weight(self, prob: Term, head: Struct, span: SourceSpan | None) -> Weight:
        if isinstance(prob, Struct) and prob.indicator == ("t", 1):
            arg = prob.args[0]
            initial: float | None = None
            if not isinstance(arg, Var):
                initial = eval_number(arg)
                if initial is None or not 0.0 <= initial <= 1.0:
                    raise ProbabilityError(
                        f"initial value '{format_term(arg)}' of a learnable probability is not "
                        "a number in [0, 1]",
                        self._prob_span(prob, head, span),
                        "write t(P) with 0 <= P <= 1, or t(_) to start from a random value",
                    )
            self.ir.params.append(Param(initial, format_term(head), span))
            return Weight("param", param=len(self.ir.params) - 1)
        if is_ground(prob):
            value = eval_number(prob)
            if value is None or math.isnan(value):
                raise ProbabilityError(
                    f"probability '{format_term(prob)}' of '{format_term(head)}' is not a number",
                    self._prob_span(prob, head, span),
                    "write a number in [0, 1], an arithmetic expression such as 1/3, "
                    "t(_) for a learnable probability, or a variable bound by the body",
                )
            if value < 0.0 or value > 1.0:
                side = "below 0" if value < 0.0 else "above 1"
                raise ProbabilityError(
                    f"probability {format_term(prob)} of '{_show(head)}' is {side}",
                    # found on demand: it reads the source line (slow per fact)
                    self._prob_span(prob, head, span),
                    "a probability must lie in [0, 1]: write a number between 0 and 1, "
                    "an expression such as 1/3, or t(_) to learn it",
                )
            return Weight("const", value=value)
        return Weight("expr", expr=prob)

    def _check_ad_sum(
        self, weights: list[Weight], probs: Sequence[Term], span: SourceSpan | None
    ) -> None:
        consts = [(w.value, p) for w, p in zip(weights, probs)
                  if w.kind == "const" and w.value is not None]
        total = sum(v for v, _ in consts)
        if len(weights) > 1 and total > 1.0 + AD_TOLERANCE:
            terms = " + ".join(format_term(p) for _, p in consts)
            raise ProbabilityError(
                f"the probabilities of the annotated disjunction sum to {total:.10g} "
                f"({terms}), above 1",
                span,
                "at most one of its alternatives is true, so their probabilities must sum "
                "to at most 1 (what is left to 1 is the chance that none is true)",
            )

    def _prob_clause(self, st: ProbabilisticClause) -> None:
        if st.body is None and len(st.heads) == 1:
            prob, head = st.heads[0]
            # The common probabilistic fact 0.3::p(a): what the general path below
            # concludes for it, without its per-statement lists and checks.
            if (
                (type(prob) is float or type(prob) is int)  # not bool
                and 0.0 <= prob <= 1.0
                and _flat_ground(head)
            ):
                weight = Weight("const", value=float(prob))
                self.ir.facts.setdefault(head.indicator, []).append(
                    Fact(head, weight, None, st.span)
                )
                return
        weights = [self._weight(p, h, st.span) for p, h in st.heads]
        self._check_ad_sum(weights, [p for p, _ in st.heads], st.span)
        if _FAST_GROUND_RULES and len(weights) == 1 and weights[0].kind != "expr":
            parts = self._ground_conjunction(st.heads[0][1], st.body)
            if parts is not None:
                self._ground_choice(weights[0], st.heads[0][1], parts, st.span)
                return
        heads = [h for _, h in st.heads]
        if (
            st.body is None
            and all(is_ground(h) for h in heads)
            and all(w.kind != "expr" for w in weights)
        ):
            group = None
            if len(heads) > 1:
                group = self.ad_count
                self.ad_count += 1
            for w, h in zip(weights, heads):
                self.ir.facts.setdefault(h.indicator, []).append(Fact(h, w, group, st.span))
            return
        alternatives = list(zip(weights, heads))
        call_bound = set(_var_names(heads)) if st.body is None else set()
        # only probability expressions read variables; t(_) is a parameter, not an expression
        probs = [p for (p, _), w in zip(st.heads, weights) if w.kind == "expr"]
        self._choice(alternatives, st.body, heads, probs, call_bound, st.span)

    def _ground_conjunction(self, head: Struct, body: Term | None) -> list[_Part] | None:
        """``body`` as ``(atom, negated, span)`` when the rule is ground and its body a plain
        conjunction of user atoms and their negations (a CPT row); else ``None``."""
        if body is None or not _flat_ground(head):
            return None
        builtins = self.builtins
        out: list[_Part] = []
        t: Term = body
        while True:
            if t.__class__ is Struct and t.functor == "," and len(t.args) == 2:
                part = t.args[0]
            else:
                part = t
            if part.__class__ is not Struct:
                return None
            negated = part.functor == "\\+" and len(part.args) == 1
            atom = part.args[0] if negated else part
            if atom.__class__ is not Struct:
                return None
            for a in atom.args:
                if a.__class__ is Var or (a.__class__ is Struct and a.args):
                    return None
            key = (atom.functor, len(atom.args))
            if key in builtins or key in _NOT_PLAIN:
                return None
            out.append((atom, negated, part.span))
            if part is t:
                return out
            t = t.args[1]  # type: ignore[union-attr]

    def _ground_choice(
        self, weight: Weight, head: Struct, parts: list[_Part], span: SourceSpan | None
    ) -> None:
        """What :meth:`_choice` builds for a ground rule with a plain conjunction body: the
        literals in written order (all ground, so nothing to order or bind), no variables."""
        ir = self.ir
        cid = len(ir.choices)
        defined = self.defined
        lits: list[BodyLiteral] = []
        for atom, negated, sp in parts:
            if (atom.functor, len(atom.args)) in defined:
                # _classify's answer for a defined predicate, built without the frozen
                # dataclass's __init__ (three object.__setattr__ calls), at half its cost
                lit: BodyLiteral = _new(PredLiteral)
                d = lit.__dict__
                d["atom"] = atom
                d["negated"] = negated
                d["span"] = sp
            else:
                lit = self._classify(atom, sp, negated)
            lits.append(lit)
        body = tuple(lits)
        ir.choices.append(Choice(cid, [(weight, head)], body, (), span))
        marker: PredLiteral = _new(PredLiteral)
        d = marker.__dict__
        d["atom"] = Struct(CHOICE_FUNCTOR, (cid, 0, _NO_VARS), span)
        d["negated"] = False
        d["span"] = span
        ir.rules.append(Rule(head, (*body, marker), span))

    def _neural(self, st: NeuralDeclaration) -> None:
        self.ir.networks.add(st.network)
        inputs = tuple(st.inputs)
        if st.domain is None or st.output is None:
            alternatives = [(Weight("neural", neural=NeuralSpec(st.network, inputs, None, None)),
                             st.head)]
            shape_heads = [st.head]
        else:
            out = st.output
            if not isinstance(out, Var):
                raise ProgramError(
                    f"the output of network '{st.network}' must be a variable",
                    _span_of(out, st.span),
                    "write nn(net, [X], Y, [d1, ..., dn]) :: p(X, Y).",
                )
            n = len(st.domain)
            alternatives = []
            for k, d in enumerate(st.domain):
                head = _subst(st.head, {out.name: d})
                assert isinstance(head, Struct)
                spec = NeuralSpec(st.network, inputs, k, n)
                alternatives.append((Weight("neural", neural=spec), head))
            shape_heads = [_subst(st.head, {out.name: Struct("[]")})]  # type: ignore[list-item]
        call_bound = set(_var_names(list(inputs)))
        if st.body is None:
            call_bound |= set(_var_names(shape_heads))
        self._choice(alternatives, st.body, shape_heads, list(inputs), call_bound, st.span)

    def _choice(
        self,
        alternatives: list[tuple[Weight, Struct]],
        body: Term | None,
        shape_heads: list[Struct],
        probs: Sequence[Term],
        call_bound: set[str],
        span: SourceSpan | None,
    ) -> None:
        cid = len(self.ir.choices)
        display = _key_str(alternatives[0][1].indicator)
        ctx = _Ctx(display, span, self.in_library, set(call_bound))
        heads = [h for _, h in alternatives]
        conjs = self._dnf(body, span) if body is not None else [[]]
        outer: list[Term] = [*shape_heads, *probs]
        if len(conjs) > 1:  # one aux predicate, so that every branch shares the choice
            every = set.intersection(*[set(_var_names([u.term for u in c])) for c in conjs])
            wanted = set(_var_names(outer)) | every
            body_vars = [v for v in _var_names([body]) if v in wanted]  # type: ignore[list-item]
            aux = Struct(self._new_aux("body", len(body_vars)), [Var(v) for v in body_vars], span)
            self._emit_rules([aux], conjs, [], _Ctx(display, span, ctx.trusted))
            conjs = [[_Unit("atom", aux, span)]]
        if not conjs:
            choice_vars: list[Term] = list(variables(outer))
            body_lits: list[BodyLiteral] = [BuiltinLiteral(Struct("fail"), False, span)]
            bound: set[str] = set()
        else:
            units = conjs[0]
            choice_vars = list(variables([*outer, *[u.term for u in units]]))
            lits = self._literals(heads, units, outer, ctx)
            ordered, bound = self._order_rule(lits, heads, ctx)
            body_lits = ordered
            if not ctx.trusted:
                for p in probs:
                    for v in _var_names([p]):
                        if v not in bound:
                            occ = _var_occurrence(p, v)
                            raise UnsafeVariableError(
                                f"probability variable '{v}' of '{display}' is not bound by "
                                "any positive body literal",
                                _span_of(occ, span),
                                f"bind '{v}' to a number in the body, e.g. with a fact "
                                "that holds the probability",
                            )
        self.ir.choices.append(
            Choice(cid, list(alternatives), tuple(body_lits), tuple(choice_vars), span)
        )
        for k, (_, head) in enumerate(alternatives):
            if conjs:
                self._check_head(head, bound, ctx)
            marker = Struct(CHOICE_FUNCTOR, (cid, k, Struct("vars", choice_vars)), span)
            self.ir.rules.append(Rule(head, (*body_lits, PredLiteral(marker, False, span)), span))


def compile_program(
    ast: ProgramAST,
    *,
    builtins: dict[PredKey, BuiltinSpec] | None = None,
    library: ProgramAST | bool = True,
) -> IRProgram:
    """Compile a parsed program into checked IR.

    ``builtins`` replaces the builtin table (default :data:`einlog.ir.builtins.BUILTINS`).
    ``library`` is the prelude to take library predicates from: ``True`` for
    ``front/prelude.pl`` (ProbLog's lists library), ``False`` for none, or a
    parsed program of your own.  Raises a :class:`~einlog.errors.ProgramError`
    subclass, with span and hint, for the first problem found.
    """
    lib: ProgramAST | Callable[[], ProgramAST] | None
    if library is True:
        lib = load_prelude  # parsed only if the program calls a library predicate
    elif library is False:
        lib = None
    else:
        lib = library
    table = dict(BUILTINS) if builtins is None else dict(builtins)
    # Bulk IR building: pause the cyclic GC, promote a large IR to the old generation.
    return bulk_build(_Compiler(ast, table, lib).run)


_ = Str  # re-exported term classes stay importable for type checkers
