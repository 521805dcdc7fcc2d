"""The plain-fact and ground-rule fast paths must be invisible: same statements, same
spans, same errors.

Random programs mix plain facts with everything that could fool a line-based
reader (multi-line clauses, block comments and quoted atoms spanning lines,
near-miss facts, CRLF line ends, garbage); each is parsed with the fast path
on and off and the results are compared, spans included.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from einlog.errors import ParseError
from einlog.syntax import parse_program
from einlog.syntax import parser as parser_mod
from einlog.terms import Str, Struct, Var

# ----------------------------------------------------------------------------- comparison


def _term_spans(term: Any, out: list[Any]) -> None:
    stack = [term]
    while stack:
        t = stack.pop()
        if isinstance(t, (Var, Str)):
            out.append((type(t).__name__, t.span))
        elif isinstance(t, Struct):
            out.append((t.functor, len(t.args), t.span))
            stack.extend(t.args)
        else:
            out.append((type(t).__name__, t))


def _spans(statement: Any) -> list[Any]:
    out: list[Any] = [type(statement).__name__, statement.span]
    for f in dataclasses.fields(statement):
        if f.name == "span":
            continue
        value = getattr(statement, f.name)
        items = value if isinstance(value, list) else [value]
        for item in items:
            for part in item if isinstance(item, tuple) else (item,):
                _term_spans(part, out)
    return out


def _parse(text: str, fast: bool) -> Any:
    old = parser_mod._FAST_FACTS
    parser_mod._FAST_FACTS = fast
    try:
        ast = parse_program(text, "t.pl")
    except ParseError as e:
        return ("error", str(e))
    finally:
        parser_mod._FAST_FACTS = old
    return ("ok", ast.statements, [_spans(s) for s in ast.statements])


def _same(text: str) -> None:
    fast, slow = _parse(text, True), _parse(text, False)
    assert fast == slow, text


# ----------------------------------------------------------------------------- strategies
_names = st.sampled_from(["a", "edge", "p_1", "bZ9", "is", "mod", "query", "evidence", "nn", "t"])
_consts = st.one_of(
    st.sampled_from(["a", "n5", "x_Y", "is", "rem", "'q'", "'a b'", "''", "'a.b%c'", "'[]'",
                     "0", "-7", "007", "1.5", "-0.25", "2e3", "1.5E-2", "-1e+2"]),
    st.integers(-10**20, 10**20).map(str),
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6).map(repr),
)
_sp = st.sampled_from(["", "", "", " ", "\t", "  "])


@st.composite
def _fact(draw: Any) -> str:
    args = draw(st.lists(_consts, min_size=1, max_size=4))
    sep = draw(_sp)
    body = ("," + sep).join(f"{draw(_sp)}{a}" for a in args) + draw(_sp)
    prob = draw(st.sampled_from(["", "", "0.5::", "1 :: ", "0.3e-1::", "1::"]))
    tail = draw(st.sampled_from(["", "", " ", " % note", "%c", "\r"]))
    return f"{draw(_sp)}{prob}{draw(_names)}({body}){draw(_sp)}.{tail}"


@st.composite
def _atom(draw: Any) -> str:
    name = draw(_names)
    if draw(st.booleans()):
        return name
    args = draw(st.lists(_consts, min_size=1, max_size=3))
    return f"{name}(" + ("," + draw(_sp)).join(f"{draw(_sp)}{a}" for a in args) + draw(_sp) + ")"


@st.composite
def _rule(draw: Any) -> str:
    """Ground rules, with what could fool the rule fast path: ``:-\\+`` (one symbol
    token), ``\\+(``, operator names, line breaks inside the body."""
    lits = []
    for _ in range(draw(st.integers(1, 4))):
        neg = draw(st.sampled_from(["", "", "\\+", "\\+ ", "\\+  ", "\\+("]))
        atom = draw(_atom())
        lits.append(f"{neg}{atom})" if neg == "\\+(" else f"{neg}{atom}")
    sep = draw(st.sampled_from([", ", ",", " , ", ",\n  ", ",\t"]))
    prob = draw(st.sampled_from(["", "", "0.5::", "1 :: ", "0.3e-1::", "t(0.5)::"]))
    neck = draw(st.sampled_from([" :- ", ":-", " :-", ":- ", " :-\t"]))
    tail = draw(st.sampled_from(["", "", " ", " % note", "%c", "\r"]))
    end = draw(st.sampled_from([".", ".", " .", ""]))
    return f"{draw(_sp)}{prob}{draw(_atom())}{neck}{sep.join(lits)}{end}{tail}"


_other = st.sampled_from([
    "p(X) :- edge(X, _).",
    "p(X) :-\n  edge(X, Y),\n  q(Y).",
    "foo :-\nedge(a,b).",
    "/*\nedge(a,b).\n*/",
    "/* edge(a,b). */ edge(c,d).",
    "q('x\\\nedge(a,b).\n').",
    "s(\"a.\n\").",
    "edge(a,b) .",
    "edge(0x1F, 0b1, 0o7).",
    "edge(1.5e, a).",
    "edge('a,b').",
    "edge('it''s').",
    "edge('a\\nb').",
    "edge(f(a)).",
    "edge([a]).",
    "edge(é).",
    "edge(a)..",
    "edge(a).edge(b).",
    "0.5::a(b); 0.5::a(c).",
    "-0.5::a(b).",
    "t(0.5)::a(b).",
    "query(edge(a,X)).",
    "evidence(a(b), false).",
    ":- use_module(library(lists)).",
    "a. b(c).",
    "% comment edge(a,b).",
    "",
    "   ",
    "_G7(a).",
    "x(_G12, _).",
    "edge(a,b)",
    ")",
    "edge(a",
    "'unterminated",
    "/* open",
    "a :- b",
    "?- a.",
    "f(X) :- X = -1.",
])


@st.composite
def _program(draw: Any) -> str:
    lines = draw(st.lists(st.one_of(_fact(), _fact(), _rule(), _rule(), _other), max_size=12))
    nl = draw(st.sampled_from(["\n", "\n", "\r\n", "\n\n"]))
    end = draw(st.sampled_from(["", "\n", " ", "%"]))
    return nl.join(lines) + end


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_program())
def test_fast_path_matches_full_parser(text: str) -> None:
    _same(text)


@pytest.mark.parametrize(
    "text",
    [
        "edge(a,b).\nedge(b, c).\n0.5::p(1, -2.5).\n",
        "edge(a,b).\nquery(edge(a,b)) .\n",
        "p(X) :- q(X).\nedge(a,b).\n",
        "query(X).\nedge(a,b).\n)",  # classification error before the next clause's error
        "a :- b.  edge(a,b). % c\n   edge( 'x y' ,\t-3 ).\n",
        "edge(a,b).\n)\n",
        "edge(a,b).\n+ x.\n",
        "edge(a,b).\nedge(c",
        "/*\nedge(a,b).\n*/ edge(c,d).\n",
        "edge(a,b).\r\nedge(c,d).\r\n",
    ],
)
def test_fast_path_examples(text: str) -> None:
    _same(text)


def test_rule_fast_path_is_used() -> None:
    from einlog.syntax.parser import _FAST_RULE_RE

    line = "0.3::x3 :- x1, \\+x2, a(b, 'c d', -1).\n"
    assert _FAST_RULE_RE.match(line) is not None
    _same(line * 3)
    assert _FAST_RULE_RE.match("x3:-\\+x1.\n") is None  # ':-\\+' is one token


def test_fast_path_is_used_and_spans_point_at_the_text() -> None:
    ast = parse_program("% facts\nedge(a, 'b c').\n  0.25::w(x, 3).\n", "f.pl")
    first, second = ast.statements
    assert first.span is not None and (first.span.line, first.span.col) == (2, 1)
    arg = first.head.args[1]  # type: ignore[union-attr]
    assert isinstance(arg, Struct) and arg.functor == "b c"
    assert arg.span is not None and (arg.span.line, arg.span.col, arg.span.end_col) == (2, 9, 14)
    assert second.span is not None and (second.span.line, second.span.col) == (3, 3)
    assert second.span.end_col == 17


def test_depth_limit_still_applies() -> None:
    for fast in (True, False):
        assert _parse("0.5::a(b).\n", fast)[0] == "ok"
    with pytest.raises(ParseError):
        parse_program("a(b).\n", max_depth=1)
    assert _parse("a(b).\n", True) == _parse("a(b).\n", False)
