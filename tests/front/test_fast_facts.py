"""Plain facts take a short path through the front end; it must conclude what the long one does.

Also covers :func:`einlog._gc.bulk_build`, which parse and compile run under.
"""

from __future__ import annotations

import gc

import pytest
from front_helpers import compile_text

from einlog._gc import bulk_build
from einlog.errors import ProbabilityError, ProgramError
from einlog.front import compile_program
from einlog.ir.nodes import Fact, Weight
from einlog.syntax.ast import Clause, ProbabilisticClause, ProgramAST
from einlog.terms import Struct, Var


def test_plain_and_probabilistic_facts() -> None:
    ir = compile_text(
        "e(a, 1). e(b, -2.5). e('x y', c). 0.5::w(a). 1::w(b). 0::w(c). 1/4::w(d).\n"
        "t(0.3)::w(e). p(f(a)). p(_). q(X) :- e(X, _)."
    )
    assert [f.atom for f in ir.facts[("e", 2)]] == [
        Struct("e", (Struct("a"), 1)),
        Struct("e", (Struct("b"), -2.5)),
        Struct("e", (Struct("x y"), Struct("c"))),
    ]
    weights = [f.weight for f in ir.facts[("w", 1)]]
    assert weights[:4] == [Weight("const", value=0.5), Weight("const", value=1.0),
                           Weight("const", value=0.0), Weight("const", value=0.25)]
    assert weights[4] == Weight("param", param=0)
    assert all(f.ad_group is None for f in ir.facts[("w", 1)])
    assert [f.atom for f in ir.facts[("p", 1)]] == [Struct("p", (Struct("f", (Struct("a"),)),))]
    assert any(r.head.functor == "p" for r in ir.rules)  # p(_) is a non-ground fact: a rule


def test_fact_spans_are_the_statement_spans() -> None:
    ir = compile_text("% x\ne(a, b).\n  0.5::w(a).\n")
    e, w = ir.facts[("e", 2)][0], ir.facts[("w", 1)][0]
    assert e.span is not None and (e.span.line, e.span.col, e.span.end_col) == (2, 1, 9)
    assert w.span is not None and (w.span.line, w.span.col, w.span.end_col) == (3, 3, 13)


def test_hand_built_facts_take_the_same_path() -> None:
    """A hand-built AST (no spans, Var('_')) compiles like parsed text."""
    ast = ProgramAST([
        Clause(Struct("e", (Struct("a"), 3))),
        ProbabilisticClause([(0.25, Struct("w", (Struct("a"),)))]),
        Clause(Struct("e", (Var("_"), 4))),
    ])
    ir = compile_program(ast)
    assert ir.facts[("e", 2)] == [Fact(Struct("e", (Struct("a"), 3)))]
    assert ir.facts[("w", 1)] == [Fact(Struct("w", (Struct("a"),)), Weight("const", value=0.25))]
    assert len(ir.rules) == 1 and ir.rules[0].head.args[0] == Var("_1$")


@pytest.mark.parametrize("text,col", [("e(a).\n1.5::w(a).\n", 1), ("e(a).\n  -0.5::w(a).\n", 3)])
def test_probability_errors_still_point_at_the_number(text: str, col: int) -> None:
    with pytest.raises(ProbabilityError) as info:
        compile_text(text)
    span = info.value.span
    assert span is not None and (span.line, span.col) == (2, col)


def test_builtin_redefinition_is_still_found_after_other_facts() -> None:
    with pytest.raises(ProgramError, match="cannot redefine builtin"):
        compile_text("e(a). e(b). is(a, b).")


def test_bulk_build_pauses_and_restores_the_collector() -> None:
    assert gc.isenabled()
    seen: list[bool] = []
    out = bulk_build(lambda: seen.append(gc.isenabled()) or [[i] for i in range(60_000)])
    assert seen == [False] and len(out) == 60_000 and gc.isenabled()
    gc.disable()
    try:
        bulk_build(lambda: None)
        assert not gc.isenabled()
    finally:
        gc.enable()
    with pytest.raises(ZeroDivisionError):
        bulk_build(lambda: 1 // 0)
    assert gc.isenabled()
