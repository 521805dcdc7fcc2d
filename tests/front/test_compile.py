"""Front-end tests on parsed program text; ``verify`` runs after every compile."""

from __future__ import annotations

import pytest
from front_helpers import compile_text, rules_of

from einlog.errors import ArityError, ProbabilityError, UnknownPredicateError
from einlog.ir.nodes import AggregateLiteral


def test_facts_rules_and_query() -> None:
    ir = compile_text("e(a,b). e(b,c). p(X,Y) :- e(X,Y). query(p(a,_)).")
    assert len(ir.facts[("e", 2)]) == 2
    assert rules_of(ir, "p") == ["p(X,Y) :- e(X,Y)"]
    assert ir.queries[0].functor == "p"


def test_non_ground_fact_is_allowed_like_problog() -> None:
    ir = compile_text("p(X). query(p(a)).")
    assert ir.rules[0].body == ()


def test_constant_expressions_and_ad_group() -> None:
    ir = compile_text("1/3::a. 0.5*0.4::b. 0.2::c; 0.5::d.")
    a, b = ir.facts[("a", 0)][0], ir.facts[("b", 0)][0]
    assert a.weight is not None and a.weight.value == pytest.approx(1 / 3)
    assert b.weight is not None and b.weight.value == pytest.approx(0.2)
    c, d = ir.facts[("c", 0)][0], ir.facts[("d", 0)][0]
    assert c.ad_group is not None and c.ad_group == d.ad_group
    assert a.ad_group is None


def test_learnable_parameters() -> None:
    ir = compile_text("t(0.5)::a. t(_)::b; t(_)::c.")
    assert [p.initial for p in ir.params] == [0.5, None, None]
    assert ir.params[0].label == "a"
    f = ir.facts[("b", 0)][0]
    assert f.weight is not None and f.weight.kind == "param" and f.weight.param == 1


def test_probabilistic_rule_and_variable_probability() -> None:
    ir = compile_text("q(1,0.3). 0.5::p(X) :- q(X,_). P::r(X) :- q(X,P).")
    assert len(ir.choices) == 2
    assert ir.choices[1].alternatives[0][0].kind == "expr"
    assert rules_of(ir, "r")[0].endswith("'$choice'(1,0,vars(X,P))")


def test_ad_with_body() -> None:
    ir = compile_text("q(1). 0.3::a(X); 0.6::b(X) :- q(X).")
    assert len(ir.choices) == 1 and len(ir.choices[0].alternatives) == 2
    assert len(rules_of(ir, "a")) == 1 and len(rules_of(ir, "b")) == 1


def test_neural_declarations() -> None:
    ir = compile_text(
        "nn(mnist, [X], Y, [0,1,2]) :: digit(X, Y).\n"
        "nn(coin, [X]) :: heads(X).\n"
        "add(X, Y, Z) :- digit(X, A), digit(Y, B), Z is A + B.\n"
        "query(add(i1, i2, 2)).\n"
    )
    assert ir.networks == {"mnist", "coin"}
    digit = ir.choices[0]
    assert [h.args[1] for _, h in digit.alternatives] == [0, 1, 2]
    spec = digit.alternatives[2][0].neural
    assert spec is not None and spec.index == 2 and spec.domain_size == 3
    heads = ir.choices[1].alternatives[0][0].neural
    assert heads is not None and heads.index is None


def test_neural_with_body() -> None:
    ir = compile_text("ok(i1). nn(net, [X], Y, [a,b]) :: lab(X, Y) :- ok(X).")
    assert rules_of(ir, "lab")[0].startswith("lab(X,a) :- ok(X)")


def test_disjunction_if_then_else_and_negation() -> None:
    ir = compile_text(
        "a. b. c(1).\n"
        "p :- a ; b.\n"
        "q(X) :- c(X), (X > 0 -> a ; b).\n"
        "r(X) :- c(X), \\+ (a, b).\n"
        "s(X) :- c(X), \\+ c(_).\n"
    )
    assert len(rules_of(ir, "p")) == 2
    assert len(rules_of(ir, "q")) == 2
    assert "\\+ #X>0" in rules_of(ir, "q")[1]
    assert any(r.head.functor.startswith("$not_") for r in ir.rules)


def test_aggregates_and_findall() -> None:
    ir = compile_text(
        "e(a,1). e(a,2). n(a).\n"
        "total(X, S) :- n(X), aggregate_all(sum(C), e(X, C), S).\n"
        "all(L) :- findall(C, e(_, C), L).\n"
    )
    aggs = [lit for r in ir.rules for lit in r.body if isinstance(lit, AggregateLiteral)]
    assert [a.op for a in aggs] == ["sum", "bag"]
    assert [str(v) for v in aggs[0].group_by] == ["X"]
    assert aggs[1].group_by == ()


def test_prelude_is_added_on_use() -> None:
    ir = compile_text(":- use_module(library(lists)).\np(X) :- member(X, [1,2,3]).")
    assert ("member", 2) in ir.library
    assert ("append", 3) not in ir.library
    ir2 = compile_text("p(N) :- length([a,b], N).")
    assert ("$lists_len", 3) in ir2.library


def test_user_definition_wins_over_library() -> None:
    ir = compile_text("member(x, y). p(A) :- member(A, y).")
    assert not ir.library


def test_empty_program() -> None:
    assert compile_text("").is_empty()


def test_errors_have_suggestions() -> None:
    with pytest.raises(UnknownPredicateError, match="did you mean 'path/2'"):
        compile_text("path(a,b). q :- pth(a,b).")
    with pytest.raises(ArityError, match="builtin 'between' takes 3 arguments, called with 2"):
        compile_text("p :- between(1, 2).")
    with pytest.raises(ProbabilityError, match=r"sum to 1\.1"):
        compile_text("0.6::a(1); 0.5::a(2) :- true.")


def test_prelude_helpers_with_dollar_names_are_loaded() -> None:
    # '$lists_...' helpers are library predicates, not the front end's own aux predicates
    ir = compile_text("p(L) :- length(L, 2). q(S) :- sum_list([1, 2], S).")
    assert {("$lists_mklist", 2), ("$lists_sum", 3)} <= ir.library


def test_undefined_dollar_predicate_is_an_error() -> None:
    with pytest.raises(UnknownPredicateError, match=r"'\$foo/0'"):
        compile_text("p :- '$foo'.")


def test_anonymous_variables_are_distinct_choice_variables() -> None:
    # ProbLog: 0.5::p(X) :- q(X,_). has one independent choice per ground body instance
    ir = compile_text("q(1,a). q(1,b). 0.5::p(X) :- q(X,_), q(X,_).")
    names = [str(v) for v in ir.choices[0].variables]
    assert len(names) == 3 and names[0] == "X" and len(set(names)) == 3


def test_head_variable_read_only_by_builtins_is_call_bound() -> None:
    ir = compile_text(
        "d(a,1). number([],R,R).\n"
        "number([H|T],Acc,R) :- d(H,N), Acc2 is N+10*Acc, number(T,Acc2,R).\n"
        "query(number([a],0,_))."
    )
    assert ir.call_bound == {("number", 3): {1}}


def test_head_only_and_body_only_variables_stay_unsafe() -> None:
    from einlog.errors import UnsafeVariableError

    with pytest.raises(UnsafeVariableError, match="'Y' in the head"):
        compile_text("e(a). p(X, Y) :- e(X).")
    with pytest.raises(UnsafeVariableError, match="'Y' in 'Y>3'"):
        compile_text("e(a). p(X) :- e(X), Y > 3.")


def test_learnable_non_ground_fact_shares_one_parameter() -> None:
    ir = compile_text("t(_)::heads(C). t(0.3)::tails(C) :- coin(C). coin(c1).")
    assert [p.initial for p in ir.params] == [None, 0.3]
    assert [c.alternatives[0][0].kind for c in ir.choices] == ["param", "param"]
