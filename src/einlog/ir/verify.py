"""``verify(ir)``: check the written invariants of the IR (``ir/README.md``).

Why a separate checker: the front end is one of several producers of IR
(tests build IR by hand, later passes may rewrite it), and grounding trusts
these invariants blindly.  ``verify`` re-derives every invariant from the IR
alone, independently of how the front end established it, so a front-end
bug shows up as an :class:`IRInvariantError` in tests instead of a wrong
probability.  It never raises for a valid program and is cheap (linear).
"""

from __future__ import annotations

from einlog.errors import EinlogError
from einlog.ir.builtins import BUILTINS, builtin_ready
from einlog.ir.nodes import (
    CHOICE_FUNCTOR,
    AggregateLiteral,
    BodyLiteral,
    BuiltinLiteral,
    Choice,
    IRProgram,
    PredKey,
    PredLiteral,
    Rule,
    Weight,
)
from einlog.syntax import format_term
from einlog.terms import Struct, Term, Var, is_ground, variables

__all__ = ["IRInvariantError", "verify", "call_bound_positions", "AD_TOLERANCE"]

AD_TOLERANCE = 1e-9
CONTROL_FUNCTORS = {(",", 2), (";", 2), ("->", 2), ("*->", 2), ("\\+", 1), ("not", 1)}


class IRInvariantError(EinlogError, AssertionError):
    """The IR breaks one of its invariants (a bug in whoever produced it)."""

    kind = "IR invariant violated"


def _fail(msg: str, rule: Rule | None = None) -> IRInvariantError:
    where = ""
    if rule is not None:
        where = f" (in rule for {format_term(rule.head)})"
    return IRInvariantError(msg + where, rule.span if rule is not None else None)


def _names(terms: list[Term]) -> set[str]:
    return {v.name for v in variables(terms)}


def _is_aux(name: str, kind: str) -> bool:
    prefix = f"${kind}_"
    return name.startswith(prefix) and name[len(prefix):].isdigit()


def call_bound_positions(ir: IRProgram) -> dict[PredKey, set[int]]:
    """Argument positions of auxiliary predicates that every call binds.

    ``$not_N``: all positions; ``$agg_N``: the positions holding group-by variables;
    user predicates: ``ir.call_bound`` (head arguments read only by builtins or negation).
    """
    out: dict[PredKey, set[int]] = {k: set(v) for k, v in ir.call_bound.items()}
    for rule in ir.rules:
        for lit in rule.body:
            if isinstance(lit, PredLiteral) and _is_aux(lit.atom.functor, "not"):
                out[lit.atom.indicator] = set(range(lit.atom.arity))
            elif isinstance(lit, AggregateLiteral):
                group = _names(list(lit.group_by))
                out[lit.goal.indicator] = {
                    i for i, a in enumerate(lit.goal.args)
                    if isinstance(a, Var) and a.name in group
                }
    return out


def _check_weight(w: Weight, ir: IRProgram, what: str) -> None:
    if w.kind == "const":
        if w.value is None or not 0.0 <= w.value <= 1.0:
            raise _fail(f"{what}: constant weight {w.value!r} outside [0, 1]")
    elif w.kind == "param":
        if w.param is None or not 0 <= w.param < len(ir.params):
            raise _fail(f"{what}: parameter index {w.param!r} out of range")
    elif w.kind == "expr":
        if w.expr is None:
            raise _fail(f"{what}: expression weight without an expression")
    elif w.kind == "neural":
        n = w.neural
        if n is None or n.network not in ir.networks:
            raise _fail(f"{what}: neural weight of an undeclared network")
        if (n.index is None) != (n.domain_size is None):
            raise _fail(f"{what}: neural index and domain size must both be set or both unset")
        if n.index is not None and n.domain_size is not None and not 0 <= n.index < n.domain_size:
            raise _fail(f"{what}: neural index {n.index} outside its domain")
    else:
        raise _fail(f"{what}: unknown weight kind {w.kind!r}")


def _check_group_sum(weights: list[Weight], what: str) -> None:
    total = sum(w.value for w in weights if w.kind == "const" and w.value is not None)
    if total > 1.0 + AD_TOLERANCE:
        raise _fail(f"{what}: probabilities sum to {total} > 1")


def _ready(lit: BodyLiteral, bound: set[str]) -> bool:
    if isinstance(lit, PredLiteral):
        return not lit.negated or _names([lit.atom]) <= bound
    if isinstance(lit, AggregateLiteral):
        return _names(list(lit.group_by)) <= bound
    if lit.negated:
        return _names([lit.atom]) <= bound
    return builtin_ready(BUILTINS[lit.atom.indicator], lit.atom, bound)


def _binds(lit: BodyLiteral) -> set[str]:
    if isinstance(lit, PredLiteral):
        return set() if lit.negated else _names([lit.atom])
    if isinstance(lit, AggregateLiteral):
        return _names([lit.result])
    if lit.negated or not BUILTINS[lit.atom.indicator].binds:
        return set()
    return _names([lit.atom])


def _check_rule(
    rule: Rule, ir: IRProgram, defined: set[PredKey], aux_bound: dict[PredKey, set[int]]
) -> None:
    if not isinstance(rule.head, Struct):
        raise _fail("rule head is not a compound term or atom", rule)
    choice: Choice | None = None
    for i, lit in enumerate(rule.body):
        if isinstance(lit, PredLiteral):
            key = lit.atom.indicator
            if lit.atom.functor == CHOICE_FUNCTOR:
                choice = _check_choice_marker(rule, i, lit, ir)
                continue
            if key in CONTROL_FUNCTORS or key in BUILTINS:
                raise _fail(f"predicate literal calls control/builtin {key}", rule)
            if key not in defined:
                raise _fail(f"call of undefined predicate {key[0]}/{key[1]}", rule)
        elif isinstance(lit, BuiltinLiteral):
            if lit.atom.indicator not in BUILTINS:
                raise _fail(f"unknown builtin {lit.atom.indicator}", rule)
        elif isinstance(lit, AggregateLiteral):
            if lit.op not in ("count", "sum", "min", "max", "bag", "set"):
                raise _fail(f"unknown aggregate {lit.op!r}", rule)
            if (lit.op == "count") != (lit.template is None) and lit.op == "count":
                raise _fail("count aggregate with a template", rule)
            if lit.goal.indicator not in defined:
                raise _fail("aggregate over an undefined goal predicate", rule)
        else:
            raise _fail(f"unknown literal class {type(lit).__name__}", rule)
    if rule.head.indicator in ir.library:
        return
    # safety: left-to-right binding analysis from the call-bound variables
    real = [lit for lit in rule.body
            if not (isinstance(lit, PredLiteral) and lit.atom.functor == CHOICE_FUNCTOR)]
    bound: set[str] = set()
    if not real:
        bound |= _names([rule.head])  # non-ground fact: variables come from the call
    positions = aux_bound.get(rule.head.indicator, set())
    for p in positions:
        bound |= _names([rule.head.args[p]])
    if choice is not None:
        for w, _ in choice.alternatives:
            if w.kind == "neural" and w.neural is not None:
                bound |= _names(list(w.neural.inputs))
    for lit in real:
        if not _ready(lit, bound):
            raise _fail("literal runs before its variables are bound", rule)
        bound |= _binds(lit)
    missing = _names([rule.head]) - bound
    if missing:
        raise _fail(f"head variables {sorted(missing)} are not bound by the body", rule)
    if choice is not None:
        missing = _names(list(choice.variables)) - bound
        if missing:
            raise _fail(f"choice variables {sorted(missing)} are not bound", rule)


def _check_choice_marker(rule: Rule, i: int, lit: PredLiteral, ir: IRProgram) -> Choice:
    atom = lit.atom
    if i != len(rule.body) - 1:
        raise _fail("'$choice' must be the last literal of its rule", rule)
    if lit.negated or atom.arity != 3:
        raise _fail("malformed '$choice' literal", rule)
    cid, k, vs = atom.args
    if not (isinstance(cid, int) and isinstance(k, int) and isinstance(vs, Struct)
            and vs.functor == "vars"):
        raise _fail("'$choice' must be '$choice'(Id, K, vars(V1, ..., Vn))", rule)
    if not 0 <= cid < len(ir.choices):
        raise _fail(f"'$choice' refers to unknown choice {cid}", rule)
    choice = ir.choices[cid]
    if not 0 <= k < len(choice.alternatives):
        raise _fail(f"'$choice' alternative {k} out of range", rule)
    if choice.alternatives[k][1] != rule.head:
        raise _fail("rule head differs from its choice alternative's head", rule)
    if tuple(vs.args) != tuple(choice.variables):
        raise _fail("'$choice' variables differ from the choice's variables", rule)
    return choice


def verify(ir: IRProgram) -> None:
    """Raise :class:`IRInvariantError` if ``ir`` breaks an invariant of ``ir/README.md``."""
    defined = ir.defined_predicates()
    for key, facts in ir.facts.items():
        for f in facts:
            if f.atom.indicator != key:
                raise _fail(f"fact {f.atom!r} filed under {key}")
            if not is_ground(f.atom):
                raise _fail(f"fact {f.atom!r} is not ground")
            if f.weight is not None:
                if f.weight.kind not in ("const", "param"):
                    raise _fail(f"fact weight of kind {f.weight.kind!r}")
                _check_weight(f.weight, ir, "fact")
            elif f.ad_group is not None:
                raise _fail("a certain fact in an annotated disjunction")
    groups: dict[int, list[Weight]] = {}
    for facts in ir.facts.values():
        for f in facts:
            if f.ad_group is not None and f.weight is not None:
                groups.setdefault(f.ad_group, []).append(f.weight)
    for g, ws in groups.items():
        _check_group_sum(ws, f"annotated disjunction {g}")
    for i, c in enumerate(ir.choices):
        if c.id != i:
            raise _fail(f"choice {c.id} stored at index {i}")
        if not c.alternatives:
            raise _fail(f"choice {i} has no alternatives")
        for w, _ in c.alternatives:
            _check_weight(w, ir, f"choice {i}")
        _check_group_sum([w for w, _ in c.alternatives], f"choice {i}")
        if not all(isinstance(v, Var) for v in c.variables):
            raise _fail(f"choice {i} variables must be variables")
    aux_bound = call_bound_positions(ir)
    for rule in ir.rules:
        _check_rule(rule, ir, defined, aux_bound)
    for q in ir.queries:
        if q.indicator not in defined:
            raise _fail(f"query of undefined predicate {q.indicator}")
    for a, _ in ir.evidence:
        if a.indicator not in defined:
            raise _fail(f"evidence on undefined predicate {a.indicator}")
    _check_strata(ir, defined)


def _check_strata(ir: IRProgram, defined: set[PredKey]) -> None:
    s = ir.strata
    for key in defined:
        if key not in s:
            raise _fail(f"predicate {key[0]}/{key[1]} has no stratum")
    for rule in ir.rules:
        h = s[rule.head.indicator]
        for lit in rule.body:
            if isinstance(lit, PredLiteral) and lit.atom.functor != CHOICE_FUNCTOR:
                d = s[lit.atom.indicator]
                if (lit.negated and d >= h) or (not lit.negated and d > h):
                    raise _fail(f"stratum order broken by {lit.atom.indicator}", rule)
            elif isinstance(lit, AggregateLiteral) and s[lit.goal.indicator] >= h:
                raise _fail("aggregate goal not in a lower stratum", rule)
