"""Exact ground programs from the top-down grounder on small programs."""

from __future__ import annotations

import pytest
from ground_helpers import (
    add_trusted_rules,
    answers_of,
    atom,
    compile_text,
    ground_text,
    groups_of,
    leaf_atoms,
    leaves_of,
    rules_of,
)

from einlog.errors import GroundingError, GroundingLimitError, UnsupportedError
from einlog.ground import GroundingLimits, ground
from einlog.ir.nodes import BuiltinLiteral, Fact, PredLiteral, Rule
from einlog.terms import Struct, Var, make_list


def test_transitive_closure_on_a_3_cycle_left_recursion() -> None:
    g = ground_text(
        """
        0.5::edge(a,b). 0.6::edge(b,c). edge(c,a).
        path(X,Y) :- edge(X,Y).
        path(X,Y) :- path(X,Z), edge(Z,Y).
        query(path(a,_)).
        """
    )
    assert answers_of(g) == ["path(a,a)", "path(a,b)", "path(a,c)"]
    assert rules_of(g) == {
        "path(a,b) :- edge(a,b)",
        "path(a,b) :- path(a,a), edge(a,b)",
        "path(a,c) :- path(a,b), edge(b,c)",
        "path(a,a) :- path(a,c)",
    }
    assert leaves_of(g) == {"edge(a,b)": "0.5", "edge(b,c)": "0.6"}
    assert g.stats.num_tables == 1  # one variant path(a,_) serves the recursion


def test_transitive_closure_right_recursion_open_query() -> None:
    g = ground_text(
        """
        edge(a,b). edge(b,c). edge(c,a). 0.1::edge(c,d).
        path(X,Y) :- edge(X,Y).
        path(X,Y) :- edge(X,Z), path(Z,Y).
        query(path(X,Y)).
        """
    )
    ans = answers_of(g)
    assert len(ans) == 12  # {a,b,c} x {a,b,c,d}
    assert "path(a,d) :- path(b,d)" in rules_of(g)
    assert "path(a,a)." in rules_of(g)  # certain atoms keep one empty-body rule


def test_negation_and_simplification() -> None:
    g = ground_text(
        """
        0.3::rain. sun. 0.2::sprinkler.
        wet :- rain.
        wet :- sprinkler, \\+ rain.
        dry :- \\+ wet.
        nothing :- \\+ sun.
        always :- \\+ nothing.
        query(dry). query(nothing). query(always).
        """
    )
    assert rules_of(g) == {
        "wet :- rain",
        "wet :- sprinkler, \\+rain",
        "dry :- \\+wet",
        "always.",
    }
    assert answers_of(g, "nothing") == []
    gp = g.program
    nothing = gp.atom_id(parse("nothing"))
    assert nothing is not None and nothing in gp.queries
    strata = {str(gp.atoms[i]): int(gp.stratum[i]) for i in range(gp.num_atoms)}
    assert strata["dry"] > strata["wet"] >= strata["rain"] == 0


def parse(text: str):  # type: ignore[no-untyped-def]
    from einlog.syntax import parse_term

    return parse_term(text)


def test_annotated_disjunction_facts_form_a_group() -> None:
    g = ground_text(
        """
        0.2::red; 0.5::green; 0.3::blue.
        bright :- red.
        query(bright).
        """
    )
    assert rules_of(g) == {"bright :- red"}
    # the whole group is kept although only red is used
    assert groups_of(g) == [{"red", "green", "blue"}]


def test_probabilistic_rules_and_choice_groups() -> None:
    g = ground_text(
        """
        coin(c1). coin(c2).
        0.4::heads(C); 0.6::tails(C) :- coin(C).
        0.7::lucky(C) :- coin(C).
        win :- heads(C), lucky(C).
        query(win).
        """
    )
    assert leaves_of(g) == {
        "heads(c1)": "0.4", "tails(c1)": "0.6", "heads(c2)": "0.4", "tails(c2)": "0.6",
        "lucky(c1)": "0.7", "lucky(c2)": "0.7",
    }
    assert sorted(map(sorted, groups_of(g))) == [
        ["heads(c1)", "tails(c1)"], ["heads(c2)", "tails(c2)"]
    ]
    rules = rules_of(g)
    assert "win :- heads(c1), lucky(c1)" in rules
    assert any(r.startswith("heads(c1) :- '$choice'(") for r in rules)


def test_choice_shared_between_alternatives_of_one_instance() -> None:
    g = ground_text(
        """
        1/3::die(X, 1); 1/3::die(X, 2); 1/3::die(X, 3) :- throw(X).
        throw(t1).
        odd :- die(t1, 1).
        odd :- die(t1, 3).
        query(odd).
        """
    )
    la = leaf_atoms(g)
    assert set(la) == {"die(t1,1)", "die(t1,2)", "die(t1,3)"}
    assert len(set(la.values())) == 3
    assert groups_of(g) == [{"die(t1,1)", "die(t1,2)", "die(t1,3)"}]
    assert all(abs((w.value or 0) - 1 / 3) < 1e-12 for w in g.program.leaf_weight)


def test_probabilistic_fact_with_rules_gets_a_separate_leaf() -> None:
    g = ground_text(
        """
        0.3::a. a :- b. 0.5::b.
        query(a).
        """
    )
    assert rules_of(g) == {"a :- '$leaf'(a)", "a :- b"}
    assert leaf_atoms(g) == {"a": "'$leaf'(a)", "b": "b"}


def test_expression_weights_are_evaluated_and_checked() -> None:
    g = ground_text(
        """
        val(x, 0.25). val(y, 0.5).
        P::w(X) :- val(X, P).
        query(w(_)).
        """
    )
    assert leaves_of(g) == {"w(x)": "0.25", "w(y)": "0.5"}
    with pytest.raises(GroundingError, match="above 1"):
        ground_text("val(x, 2). P::w(X) :- val(X, P). query(w(x)).")


def test_neural_predicate_leaves() -> None:
    g = ground_text(
        """
        nn(mnist, [X], Y, [0, 1, 2]) :: digit(X, Y).
        two(X, Y, S) :- digit(X, A), digit(Y, B), S is A + B.
        query(two(i1, i2, 4)).
        """
    )
    leaves = leaves_of(g)
    assert leaves["digit(i1,2)"] == "neural mnist[2/3] on (i1)"
    assert len(leaves) == 6
    assert rules_of(g) == {"two(i1,i2,4) :- digit(i1,2), digit(i2,2)"} | {
        r for r in rules_of(g) if r.startswith("digit(")
    }
    assert len(groups_of(g)) == 2


def test_non_ground_query_answers_sorted_in_standard_order() -> None:
    g = ground_text(
        """
        nat(N) :- between(0, 12, N), N mod 3 =:= 0.
        query(nat(_)).
        """
    )
    assert answers_of(g) == ["nat(0)", "nat(3)", "nat(6)", "nat(9)", "nat(12)"]


def test_lists_function_symbols_member_append() -> None:
    g = ground_text(
        """
        0.5::ok(a). ok(b). 0.4::ok(c).
        all_ok([]).
        all_ok([H|T]) :- ok(H), all_ok(T).
        pick(X) :- member(X, [a, b, c]), ok(X).
        split(A, B) :- append(A, B, [1, 2]).
        query(all_ok([a, b, c])). query(pick(_)). query(split(_, _)).
        """
    )
    assert answers_of(g, "pick(_)") == ["pick(a)", "pick(b)", "pick(c)"]
    assert answers_of(g, "split(_, _)") == [
        "split([],[1,2])", "split([1],[2])", "split([1,2],[])"
    ]
    rules = rules_of(g)
    assert "all_ok([a,b,c]) :- ok(a), all_ok([b,c])" in rules
    assert "all_ok([b,c]) :- all_ok([c])" in rules  # ok(b) is certain
    assert "all_ok([c]) :- ok(c)" in rules


def test_deepproblog_multi_digit_number_hand_built_ir() -> None:
    # the front end rejects this accumulator style (Acc is bound by the caller), so
    # build the IR directly: the grounder evaluates it top-down with the call's bindings
    from einlog.ir.nodes import BuiltinLiteral, IRProgram, PredLiteral, Rule
    from einlog.terms import Struct, Var, make_list

    ir = compile_text("nn(mnist, [X], Y, [0, 1, 2]) :: digit(X, Y).")
    H, T, A, A1, N, D = (Var(v) for v in ["H", "T", "Acc", "Acc1", "N", "D"])
    nil = Struct("[]")
    ir.rules += [
        Rule(Struct("number", (nil, A, A)), ()),
        Rule(
            Struct("number", (Struct(".", (H, T)), A, N)),
            (
                PredLiteral(Struct("digit", (H, D))),
                BuiltinLiteral(Struct("is", (A1, Struct("+", (Struct("*", (A, 10)), D))))),
                PredLiteral(Struct("number", (T, A1, N))),
            ),
        ),
    ]
    q = Struct("number", (make_list([Struct("i1"), Struct("i2")]), 0, Var("N")))
    g = ground(ir, [q], engine="topdown")
    assert answers_of(g) == [f"number([i1,i2],0,{n})" for n in [0, 1, 2, 10, 11, 12, 20, 21, 22]]
    rules = rules_of(g)
    assert "number([i1,i2],0,21) :- digit(i1,2), number([i2],2,21)" in rules
    assert "number([i2],2,21) :- digit(i2,1)" in rules
    assert isinstance(ir, IRProgram)


def test_findall_and_aggregates() -> None:
    g = ground_text(
        """
        size(a, 3). size(b, 5). size(c, 1).
        n(N) :- aggregate_all(count, size(_, _), N).
        s(S) :- aggregate_all(sum(X), size(_, X), S).
        mx(M) :- aggregate_all(max(X), size(_, X), M).
        mn(M) :- aggregate_all(min(X), size(_, X), M).
        names(L) :- findall(K, size(K, _), L).
        bag(L) :- aggregate_all(bag(X), size(_, X), L).
        set(L) :- aggregate_all(set(X), size(_, X), L).
        query(n(_)). query(s(_)). query(mx(_)). query(mn(_)). query(names(_)).
        query(bag(_)). query(set(_)).
        """
    )
    assert answers_of(g, "n(_)") == ["n(3)"]
    assert answers_of(g, "s(_)") == ["s(9)"]
    assert answers_of(g, "mx(_)") == ["mx(5)"]
    assert answers_of(g, "mn(_)") == ["mn(1)"]
    assert answers_of(g, "names(_)") == ["names([a,b,c])"]
    assert answers_of(g, "bag(_)") == ["bag([3,5,1])"]
    assert answers_of(g, "set(_)") == ["set([1,3,5])"]
    assert all(r.endswith(".") for r in rules_of(g))


def test_aggregate_grouped_by_a_bound_variable() -> None:
    g = ground_text(
        """
        e(a, b). e(a, c). e(b, c).
        node(a). node(b). node(c).
        deg(X, D) :- node(X), aggregate_all(count, e(X, _), D).
        query(deg(_, _)).
        """
    )
    assert answers_of(g) == ["deg(a,2)", "deg(b,1)", "deg(c,0)"]


def test_aggregate_over_probabilistic_goal_is_unsupported() -> None:
    with pytest.raises(UnsupportedError, match="probabilistic"):
        ground_text("0.5::p(1). p(2). c(N) :- aggregate_all(count, p(_), N). query(c(_)).")


def test_between_and_arithmetic() -> None:
    g = ground_text(
        """
        sq(X, Y) :- between(1, 4, X), Y is X ** 2.
        r(A, B, C, D, E) :- A is 7 // -2, B is -7 mod 2, C is -7 rem 2, D is 7 / 2,
                            E is max(3, 4.0) + abs(-2) + sign(-3) + min(2, 1).
        f(X) :- X is floor(2.7) + ceiling(2.1) + round(2.5) + truncate(-2.5) + integer(1.5).
        b(X) :- X is (5 /\\ 3) + (5 \\/ 3) + (1 << 4) + (32 >> 2) + xor(5, 1) + \\ 0.
        m(X) :- X is sqrt(16.0) + exp(0) + log(1) + sin(0) + cos(0) + atan(0) + pi * 0 + e * 0.
        query(sq(_, _)). query(r(_, _, _, _, _)). query(f(_)). query(b(_)). query(m(_)).
        """
    )
    assert answers_of(g, "sq(_, _)") == ["sq(1,1)", "sq(2,4)", "sq(3,9)", "sq(4,16)"]
    assert answers_of(g, "r(_, _, _, _, _)") == ["r(-3,1,-1,3.5,6.0)"]
    assert answers_of(g, "f(_)") == ["f(2+3+3-2+2)".replace("2+3+3-2+2", "8")]
    assert answers_of(g, "b(_)") == ["b(35)"]
    assert answers_of(g, "m(_)") == ["m(6.0)"]


def test_comparison_and_term_builtins() -> None:
    g = ground_text(
        """
        t(1). t(a). t(f(x)). t("s"). t(2.0).
        num(X) :- t(X), number(X).
        atm(X) :- t(X), atom(X).
        cmp(X) :- t(X), compound(X).
        ord(X, Y) :- t(X), t(Y), X @< Y.
        eq :- X = f(Y), Y = 1, X == f(1).
        neq :- f(1) \\= f(2), a \\== b, 1 =\\= 2, 2 >= 2, 1 =< 1, 1.0 =:= 1.
        s(Y) :- succ(3, Y).
        p(X) :- plus(2, X, 5).
        u(L) :- f(a, b) =.. L.
        query(num(_)). query(atm(_)). query(cmp(_)). query(ord(1, _)). query(eq). query(neq).
        query(s(_)). query(p(_)). query(u(_)).
        """
    )
    assert answers_of(g, "num(_)") == ["num(1)", "num(2.0)"]
    assert answers_of(g, "atm(_)") == ["atm(a)"]
    assert answers_of(g, "cmp(_)") == ["cmp(f(x))"]
    assert answers_of(g, "ord(1, _)") == [
        "ord(1,2.0)", "ord(1,a)", 'ord(1,"s")', "ord(1,f(x))"
    ]
    assert answers_of(g, "eq") == ["eq"]
    assert answers_of(g, "neq") == ["neq"]
    assert answers_of(g, "s(_)") == ["s(4)"]
    assert answers_of(g, "p(_)") == ["p(3)"]
    assert answers_of(g, "u(_)") == ["u([f,a,b])"]


@pytest.mark.parametrize(
    ("program", "pattern"),
    [
        ("p(X) :- X is 1 // 0. query(p(_)).", "division by zero"),
        ("p(X) :- X is foo + 1. query(p(_)).", "not an arithmetic function"),
        ("p(X) :- X is 1 mod 2.5. query(p(_)).", "expects integers"),
        ("p(X) :- X is log(0). query(p(_)).", "undefined"),
    ],
)
def test_builtin_errors_carry_messages_and_spans(program: str, pattern: str) -> None:
    try:
        g = ground_text(program)
    except GroundingError as err:
        assert pattern in str(err)
        assert err.span is not None
        assert "p(X)" in str(err) or "is" in str(err)
    else:  # pragma: no cover - the front end may reject the first program already
        raise AssertionError(f"no error, answers {g.answers}")


def test_evidence_atoms_are_grounded_false_when_underivable() -> None:
    g = ground_text(
        """
        0.5::a. b :- a.
        query(b).
        evidence(a, true). evidence(c_never, false).
        c_never :- fail.
        """
    )
    gp = g.program
    ev = {str(gp.atoms[a]): v for a, v in gp.evidence}
    assert ev == {"a": True, "c_never": False}
    cid = gp.atom_id(parse("c_never"))
    assert cid is not None and cid not in set(gp.rule_head.tolist())


def test_restriction_to_relevant_atoms() -> None:
    g = ground_text(
        """
        0.5::a. 0.5::b. x :- a. y :- b.
        query(x).
        """
    )
    names = {str(a) for a in g.program.atoms}
    assert names == {"x", "a"}


def test_deep_list_does_not_crash() -> None:
    n = 5000  # the parser stops at 5 000 levels of nesting: put the list in as a fact
    ir = compile_text("big([a]).")
    ir.queries.append(atom("q(_, _)"))
    add_trusted_rules(
        ir,
        """
        q(N, X) :- big(L), len(L, N), last(L, X).
        len([], 0).
        len([_|T], N) :- len(T, M), N is M + 1.
        last([X], X).
        last([_|T], X) :- last(T, X).
        """,
    )
    ir.facts[("big", 1)] = [Fact(Struct("big", (make_list(list(range(n))),)))]
    g = ground(ir, engine="topdown")
    assert answers_of(g) == [f"q({n},{n - 1})"]
    assert rules_of(g) == {f"q({n},{n - 1})."}


def test_instantiation_error_names_the_unbound_variable() -> None:
    ir = compile_text("r(1). query(p(_)). p(X) :- r(X).")
    ir.rules.append(
        Rule(Struct("p", (Var("X"),)),
             (BuiltinLiteral(Struct("is", (Var("X"), Struct("+", (Var("Y"), 1))))),))
    )
    with pytest.raises(GroundingError) as info:
        ground(ir, engine="topdown")
    assert "is/2: arguments are not sufficiently instantiated: X is Y+1 with Y unbound" in str(
        info.value
    )


def test_deep_call_chain() -> None:
    # count(I, N) :- I < N, J is I + 1, count(J, N): 20 000 nested calls (hand-built IR,
    # the front end wants I bound by a body literal)
    ir = compile_text("ok :- count(0, 20000). query(ok). count(N, N).")
    i, n, j = Var("I"), Var("N"), Var("J")
    ir.rules.append(
        Rule(Struct("count", (i, n)), (
            BuiltinLiteral(Struct("<", (i, n))),
            BuiltinLiteral(Struct("is", (j, Struct("+", (i, 1))))),
            PredLiteral(Struct("count", (j, n))),
        ))
    )
    g = ground(ir, engine="topdown")
    assert answers_of(g) == ["ok"]
    assert rules_of(g) == {"ok."}


def test_nontermination_open_query_stops_with_a_clear_error() -> None:
    limits = GroundingLimits(max_answers_per_predicate=5000)
    with pytest.raises(GroundingLimitError) as info:
        ground_text("nat(0). nat(N) :- nat(M), N is M + 1. query(nat(X)).", limits=limits)
    msg = str(info.value)
    assert "'nat/1' did not terminate" in msg and "nat(" in msg
    assert info.value.hint is not None and "bound" in info.value.hint


def test_nontermination_ground_query_also_stops() -> None:
    limits = GroundingLimits(max_answers_per_predicate=5000)
    with pytest.raises(GroundingLimitError, match="nat/1"):
        ground_text("nat(0). nat(N) :- nat(M), N is M + 1. query(nat(5)).", limits=limits)


def test_nontermination_growing_terms_hits_depth_limit() -> None:
    with pytest.raises(GroundingLimitError, match="nested over 100 deep"):
        ground_text(
            "p(z). p(s(X)) :- p(X). query(p(_)).",
            limits=GroundingLimits(max_term_depth=100),
        )
    with pytest.raises(GroundingLimitError, match="did not terminate"):
        ground_text(
            "q(X) :- q(s(X)). query(q(z)).",
            limits=GroundingLimits(max_term_depth=100),
        )


def test_default_limits_stop_nat() -> None:
    with pytest.raises(GroundingLimitError, match="nat/1"):
        ground_text(
            "nat(0). nat(N) :- nat(M), N is M + 1. query(nat(5)).",
            limits=GroundingLimits(max_answers_per_predicate=20000),
        )


def test_engine_switch_and_unknown_engine() -> None:
    from einlog.errors import ConfigError

    ir = compile_text("e(a,b). e(b,c). p(X,Y) :- e(X,Y). p(X,Y) :- e(X,Z), p(Z,Y). query(p(a,_)).")
    td = ground(ir, engine="topdown")
    auto = ground(ir, engine="auto")
    assert answers_of(td) == [str(a) for a in auto.answers[next(iter(auto.answers))]]
    with pytest.raises(ConfigError):
        ground(ir, engine="magic")  # type: ignore[arg-type]


def test_call_bound_accumulator_grounds_top_down() -> None:
    ir = compile_text(
        "0.5::d(a,1); 0.5::d(a,2). number([],R,R).\n"
        "number([H|T],Acc,R) :- d(H,N), Acc2 is N+10*Acc, number(T,Acc2,R).\n"
        "query(number([a,a],0,_))."
    )
    g = ground(ir)  # auto: the columnar engine cannot bind Acc from the call
    assert g.stats.engine == "topdown"
    assert answers_of(g) == [f"number([a,a],0,{v})" for v in (11, 12, 21, 22)]


def test_call_bound_variable_left_unbound_is_an_instantiation_error() -> None:
    ir = compile_text("p(X) :- X > 1. query(p(_)).")
    with pytest.raises(GroundingError, match="not sufficiently instantiated: X>1 with X unbound"):
        ground(ir)


def test_grounding_from_another_thread_runs_on_the_big_stack_worker() -> None:
    import threading

    from einlog.ground import topdown

    text = "0.5::e(1,2). 0.5::e(2,3). p(X,Y) :- e(X,Y). p(X,Y) :- e(X,Z), p(Z,Y). query(p(1,3))."
    want = rules_of(ground_text(text, engine="topdown"))  # main thread: grounds here
    seen: dict[str, object] = {}

    def work() -> None:
        seen["rules"] = rules_of(ground_text(text, engine="topdown"))

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert seen["rules"] == want and "p(1,3) :- e(1,2), p(2,3)" in want
    assert topdown._worker.thread is not None and topdown._worker.thread.is_alive()
