"""Printer tests: exact output for common shapes, and print -> parse round trips."""

from __future__ import annotations

import glob
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from einlog.errors import ParseError
from einlog.syntax import format_program, format_term, parse_program, parse_term
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
from einlog.terms import NIL, Str, Struct, Term, Var, make_list

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("text", "printed"),
    [
        ("path(a, c)", "path(a,c)"),
        ("f('A', 'hello world', aBc, [])", "f('A','hello world',aBc,[])"),
        ("label('New York', \"city\")", "label('New York',\"city\")"),
        ("split([1,2,3], [])", "split([1, 2, 3],[])"),
        ("[a, b | T]", "[a, b | T]"),
        ("temp(paris, -3)", "temp(paris,-3)"),
        ("f(4.5, 1.0e10, 0.001)", "f(4.5,10000000000.0,0.001)"),
        ("X is 1 + 2 * 3", "X is 1+2*3"),
        ("(1 + 2) * 3", "(1+2)*3"),
        ("1 - (2 - 3)", "1-(2-3)"),
        ("(1 - 2) - 3", "1-2-3"),
        ("2 ^ 3 ^ 4", "2^3^4"),
        ("(2 ^ 3) ^ 4", "(2^3)^4"),
        ("1 - -1", "1- -1"),
        ("-(1)", "-(1)"),
        ("-(-(1))", "- -(1)"),
        ("- a", "-a"),
        ("- (1 ^ 2)", "- 1^2"),
        ("- (a, b)", "- (a, b)"),
        ("a = (\\+ b)", "a=(\\+ b)"),
        ("X = -1", "X= -1"),
        ("a :- b, c ; d", "a :- b, c; d"),
        ("(a :- b)", "a :- b"),
        ("f((a :- b), (c, d))", "f((a :- b),(c, d))"),
        ("(a -> b ; c)", "a -> b; c"),
        ("'+'", "'+'"),
        ("f('+', '-')", "f('+','-')"),
        ("'it''s'", "'it\\'s'"),
        ("'a\\nb'", "'a\\nb'"),
        ("'is'", "'is'"),
        ("X mod Y", "X mod Y"),
        ("{a, b}", "{a, b}"),
        ("'hello'(x)", "hello(x)"),
        ("'hello world'(x)", "'hello world'(x)"),
        ("'[]'(x)", "'[]'(x)"),
        ("f(';')", "f(';')"),
        ("\\+ a", "\\+ a"),
        ("0.3::a", "0.3::a"),
    ],
)
def test_format_term(text: str, printed: str) -> None:
    term = parse_term(text)
    assert format_term(term) == printed
    assert parse_term(printed) == term


def test_compact_lists() -> None:
    assert format_term(parse_term("[a, b | T]"), compact_lists=True) == "[a,b|T]"


def test_str_of_terms_uses_printer() -> None:
    assert str(parse_term("path(a, 'B')")) == "path(a,'B')"


def test_deep_term_prints_without_recursion() -> None:
    t: Term = Struct("a")
    for _ in range(20_000):
        t = Struct("f", (t,))
    out = format_term(t)
    assert out.startswith("f(f(") and out.count("(") == 20_000
    long_list = make_list(range(20_000))
    assert format_term(long_list).count(",") == 19_999


HAND_WRITTEN = """\
nn(mnist_net, [X], Y, [0,1,2,3,4,5,6,7,8,9]) :: digit(X,Y).
nn(net2, [A,B]) :: rel(A,B) :- dom(A), dom(B).
t(0.5)::heads(C).
t(_)::f.
0.3::rain.
-0.0::never.
addition(X,Y,Z) :- digit(X,X2), digit(Y,Y2), Z is X2+Y2.
evidence(a, false).
evidence(b).
query(path(a,_)).
P::p(X) :- q(X, P).
1/3::die(1); 1/3::die(2); 1/3::die(3).
0.3::a; 0.5::b :- body, \\+ other.
:- use_module(library(lists)).
r(X) :- \\+ s(X), not(t(X)), (X > 1 -> true ; fail), X \\== 2, X =.. L.
s(X) :- findall(Y, p(Y), Ys), aggregate_all(count, p(_), N), length(Ys, N).
l([a, b | T], [], [[1], "str"], 'Quoted Atom', {curly}).
m(X) :- X is -1 + 2 ** -3 - (- 4) * 5 mod 3 // 2 / 1, Y is 2 ^ 3 ^ 4, Z = - (Y).
n :- a ; b ; c -> d ; e.
o(X) :- X = f(_, _, _G1).
query(X) :- candidate(X).
"""


def test_round_trip_hand_written() -> None:
    ast = parse_program(HAND_WRITTEN, "hand.pl")
    assert len(ast.statements) == 21
    text = format_program(ast)
    again = parse_program(text)
    assert again == ast
    assert format_program(again) == text


def test_round_trip_language_tests() -> None:
    files = sorted(glob.glob(str(ROOT / "tests/lang/**/*.pl"), recursive=True))
    checked = 0
    for f in files:
        if "syntax_errors" in f:
            continue
        ast = parse_program(Path(f).read_text(encoding="utf-8"), f)
        assert parse_program(format_program(ast)) == ast, f
        checked += 1
    assert checked > 0


# ----------------------------------------------------------------------------- hypothesis
OPERATOR_NAMES = [
    ":-",
    ";",
    "::",
    "->",
    ",",
    "=",
    "\\=",
    "==",
    "is",
    "<",
    "=<",
    "=..",
    "+",
    "-",
    "/\\",
    "*",
    "/",
    "//",
    "mod",
    "rem",
    "<<",
    "**",
    "^",
    "\\+",
    "\\",
    "?-",
    ".",
    "[]",
    "{}",
    "!",
]
atom_names = st.one_of(
    st.sampled_from(["a", "b", "foo", "x_1", "aB", "[]", "{}", "!", "A", "_x", "hello world", "'"]),
    st.sampled_from(OPERATOR_NAMES),
    st.text(max_size=6),
)
var_names = st.from_regex(r"[A-Z_][A-Za-z0-9_]{0,4}", fullmatch=True).filter(lambda n: n != "_")
numbers = st.one_of(
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=False, allow_infinity=False),
)
leaves = st.one_of(
    var_names.map(Var),
    atom_names.map(Struct),
    numbers,
    st.text(max_size=5).map(Str),
)


def _compound(children: st.SearchStrategy[Term]) -> st.SearchStrategy[Term]:
    return st.one_of(
        st.builds(
            lambda f, args: Struct(f, args),
            st.one_of(atom_names, st.sampled_from(OPERATOR_NAMES)),
            st.lists(children, min_size=1, max_size=3),
        ),
        st.builds(
            lambda items, tail: make_list(items, tail),
            st.lists(children, max_size=3),
            st.one_of(st.just(NIL), children),
        ),
    )


terms = st.recursive(leaves, _compound, max_leaves=12)
plain_names = st.sampled_from(["p", "q", "edge", "path", "r2", "hello_world"])
heads = st.builds(lambda f, args: Struct(f, args), plain_names, st.lists(terms, max_size=3))
bodies = st.one_of(st.none(), terms)


def _statement() -> st.SearchStrategy[Statement]:
    return st.one_of(
        st.builds(Clause, heads, bodies),
        st.builds(
            ProbabilisticClause,
            st.lists(
                st.tuples(
                    terms.filter(lambda t: not (isinstance(t, Struct) and t.functor == "nn")),
                    heads,
                ),
                min_size=1,
                max_size=3,
            ),
            bodies,
        ),
        st.builds(
            NeuralDeclaration,
            st.sampled_from(["net", "mnist_net"]),
            st.lists(terms, max_size=2),
            terms,
            st.lists(terms, max_size=3),
            heads,
            bodies,
        ),
        st.builds(Query, heads),
        st.builds(Evidence, heads, st.booleans()),
        st.builds(Directive, terms),
    )


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(terms)
def test_round_trip_terms(term: Term) -> None:
    printed = format_term(term)
    assert parse_term(printed) == term, printed


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_statement(), max_size=4))
def test_round_trip_programs(statements: list[Statement]) -> None:
    ast = ProgramAST(statements)
    printed = format_program(ast)
    assert parse_program(printed) == ast, printed


PROLOG_PIECES = [
    "a",
    "X",
    "_",
    "f(",
    "(",
    ")",
    "[",
    "]",
    "|",
    ",",
    ".",
    ". ",
    ".\n",
    ":-",
    "::",
    ";",
    "->",
    "\\+",
    "=",
    "is",
    "+",
    "-",
    "*",
    "**",
    "^",
    "1",
    "-1",
    "0.5",
    "'q",
    "'q'",
    '"s"',
    "%c\n",
    "/*",
    "*/",
    "{",
    "}",
    "===",
    " ",
    "\n",
    "nn(",
    "query(",
    "evidence(",
    "t(",
    "!",
    "\t",
    "é",
]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_fuzz_arbitrary_text(text: str) -> None:
    try:
        parse_program(text)
    except ParseError as e:
        assert str(e)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(PROLOG_PIECES), max_size=40))
def test_fuzz_token_soup(pieces: list[str]) -> None:
    text = "".join(pieces)
    try:
        ast = parse_program(text)
    except ParseError as e:
        message = str(e)
        assert message and "__ANON" not in message and "RPAR" not in message
        assert "LPAR" not in message and "$END" not in message
    else:
        assert parse_program(format_program(ast)) == ast
