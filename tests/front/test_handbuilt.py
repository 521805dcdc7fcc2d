"""Front-end tests on hand-built ASTs (no parser needed)."""

from __future__ import annotations

import pytest

from einlog.errors import StratificationError, UnsafeVariableError
from einlog.front import compile_program
from einlog.ir.nodes import AggregateLiteral, BuiltinLiteral, PredLiteral
from einlog.ir.verify import verify
from einlog.syntax.ast import Clause, NeuralDeclaration, ProbabilisticClause, ProgramAST, Query
from einlog.terms import Struct as S
from einlog.terms import Var as V

X, Y, Z = V("X"), V("Y"), V("Z")


def conj(*goals: S) -> S:
    out = goals[-1]
    for g in reversed(goals[:-1]):
        out = S(",", (g, out))
    return out


def comp(*statements):  # type: ignore[no-untyped-def]
    ir = compile_program(ProgramAST(list(statements)), library=False)
    verify(ir)
    return ir


def test_reorders_comparison_after_binding_literal() -> None:
    ir = comp(Clause(S("q", (1,))), Clause(S("p", (X,)), conj(S(">", (X, 0)), S("q", (X,)))))
    body = ir.rules[0].body
    assert isinstance(body[0], PredLiteral) and isinstance(body[1], BuiltinLiteral)


def test_disjunction_splits_rules() -> None:
    ir = comp(Clause(S("a")), Clause(S("b")), Clause(S("p"), S(";", (S("a"), S("b")))))
    assert [r.body[0].atom for r in ir.rules] == [S("a"), S("b")]


def test_if_then_else_is_logical() -> None:
    ir = comp(Clause(S("a")), Clause(S("b")), Clause(S("c")),
              Clause(S("p"), S(";", (S("->", (S("a"), S("b"))), S("c")))))
    bodies = [[(lit.atom.functor, lit.negated) for lit in r.body] for r in ir.rules]
    assert bodies == [[("a", False), ("b", False)], [("a", True), ("c", False)]]


def test_negated_conjunction_gets_aux() -> None:
    ir = comp(Clause(S("q", (1,))), Clause(S("r", (1,))),
              Clause(S("p", (X,)),
                     conj(S("q", (X,)), S("\\+", (conj(S("q", (X,)), S("r", (X,))),)))))
    names = {r.head.functor for r in ir.rules}
    assert "$not_1" in names
    assert ir.strata[("p", 1)] > ir.strata[("$not_1", 1)]


def test_aggregate_group_by() -> None:
    ir = comp(Clause(S("e", (1, 2))),
              Clause(S("deg", (X, V("N"))),
                     conj(S("e", (X, V("_A"))),
                          S("aggregate_all", (S("count"), S("e", (X, Y)), V("N"))))))
    agg = ir.rules[-1].body[-1]
    assert isinstance(agg, AggregateLiteral)
    assert agg.op == "count" and agg.group_by == (X,) and agg.goal.functor.startswith("$agg_")


def test_prob_rule_and_nn() -> None:
    ir = comp(Clause(S("e", (1, 2))),
              ProbabilisticClause([(0.5, S("c", (X,)))], S("e", (X, Y))),
              NeuralDeclaration("net", [X], Y, [0, 1], S("digit", (X, Y))),
              Query(S("digit", (S("img"), Y))))
    assert ir.networks == {"net"}
    assert len(ir.choices) == 2
    digit = [r for r in ir.rules if r.head.functor == "digit"]
    assert [r.head.args[1] for r in digit] == [0, 1]
    marker = digit[1].body[-1]
    assert isinstance(marker, PredLiteral)
    assert marker.atom == S("$choice", (1, 1, S("vars", (X,))))


def test_unsafe_head_and_recursion_errors() -> None:
    with pytest.raises(UnsafeVariableError):
        comp(Clause(S("q", (1,))), Clause(S("p", (X, Y)), S("q", (X,))))
    with pytest.raises(StratificationError, match=r"(?m)recursion: win/1 -> \\\+ win/1$"):
        comp(Clause(S("move", (1, 2))),
             Clause(S("win", (X,)), conj(S("move", (X, Y)), S("\\+", (S("win", (Y,)),)))))
