"""The fast path also reads bare atoms (``0.3::x0.``), CPT rows and ``query``/``evidence``
facts; each must come out exactly as the full parser builds it (spans included), and
the forms it leaves to the full parser must keep their errors."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from einlog.errors import ParseError
from einlog.syntax import parse_program
from einlog.syntax import parser as parser_mod
from einlog.syntax.ast import Evidence, ProbabilisticClause, Query
from einlog.terms import Str, Struct, Var


def _spans(statement: Any) -> list[Any]:
    """Every term of ``statement`` with its span, in a fixed order."""
    out: list[Any] = [type(statement).__name__, statement.span]
    stack: list[Any] = [getattr(statement, f.name) for f in dataclasses.fields(statement)
                        if f.name != "span"]
    while stack:
        t = stack.pop()
        if isinstance(t, (list, tuple)):
            stack.extend(t)
        elif isinstance(t, (Var, Str)):
            out.append((type(t).__name__, t.span))
        elif isinstance(t, Struct):
            out.append((t.functor, len(t.args), t.span))
            stack.extend(t.args)
        else:
            out.append((type(t).__name__, t))
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


@pytest.mark.parametrize(
    "text",
    [
        "0.352::x0.\nx1.\n1::x2 .\nx3. % c\n",
        "is.\n",
        "0.5::mod.\n",
        "query.\nevidence.\n0.5::query(a).\n0.5::evidence(a).\n",
        "query(x0).\nquery( 'a b' ).\nquery(p(a)).\nquery(X).\n",
        "query(1).\n",
        "query(a, b).\n",
        "evidence(x39, true).\nevidence(x1,false).\nevidence(x2).\nevidence(x3, 'true').\n",
        "evidence(x1, maybe).\n",
        "evidence(1, true).\n",
        "evidence(a, true, b).\n",
        "evidence(\\+a, true).\n",
        "0.4::x1 :- \\+x0.\n0.6::x1 :- x0.\nx2 :- x0, \\+ x1 , x0.\n",
        "0.4::x1 :- \\+x0, is.\n",
        "0.4::query :- x0.\n",
        "0.3::x3 :- x1, \\+x2, a(b, 'c)d', -1).\n",
        "0.3::h(a, 'x)', 2.5) :- \\+  p( 'q,' ).\n",
        "p(X).\n0.5::e(X, Y) :- n(X), \\+ m(Y, a).\np(X_1, Yb) :- q(Yb, X_1).\n",
        "p(_).\np(_X).\np(X) :- q(X, _).\n_G3(a).\np(A) :- q(_G3).\n",
        "query(X).\nquery(p(X)).\nevidence(X, true).\nevidence(p(X), false).\n",
        "query(p(a)).\nquery( path(0, 15) ) .\nquery(p(a), true).\nquery(is(a)).\n",
        "evidence(p(a)).\nevidence(p(a, 'b c'), true).\nevidence(p(1),false). % c\n",
        "evidence(p(a), maybe).\nevidence(p(a), 'true').\nevidence(p(a), true, x).\n",
        "query(p(mod)).\nevidence(q(a), tru).\n",
    ],
)
def test_fast_statements_match_full_parser(text: str) -> None:
    _same(text)


def test_query_and_evidence_come_from_the_fast_path() -> None:
    ast = parse_program("0.3::x0.\nquery(x0).\nevidence(x0, false).\n", "q.pl")
    prob, query, evidence = ast.statements
    assert isinstance(prob, ProbabilisticClause) and prob.heads[0][0] == 0.3
    assert isinstance(query, Query) and query.atom.functor == "x0"
    assert query.atom.span is not None and (query.atom.span.line, query.atom.span.col) == (2, 7)
    assert query.span is not None and (query.span.col, query.span.end_col) == (1, 11)
    assert isinstance(evidence, Evidence) and evidence.value is False


_names = st.sampled_from(["x0", "a", "is", "mod", "query", "evidence", "true", "false"])
_args = st.sampled_from(["", "(a)", "(b, 1)", "('c d')", "(1)", "(true)", "(a, false)",
                         "(a, true)", "(a, b, c)", "(X)", "(\\+a)", "(-2.5)", "(X, Y_2)",
                         "(_)", "(_A, b)", "(p(a))", "(p(X), true)", "(q(1, Z), false)",
                         "(p(a), maybe)", "( r(a) ,true )"])


@st.composite
def _line(draw: Any) -> str:
    prob = draw(st.sampled_from(["", "", "0.5::", "1::", "0.25 :: "]))
    head = draw(_names) + draw(_args)
    if draw(st.booleans()):
        return f"{prob}{head}{draw(st.sampled_from(['.', ' .', '.%c']))}"
    lits = [draw(st.sampled_from(["", "\\+", "\\+ "])) + draw(_names) + draw(_args)
            for _ in range(draw(st.integers(1, 3)))]
    return f"{prob}{head} :- {', '.join(lits)}."


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_line(), max_size=8))
def test_random_statements_match_full_parser(lines: list[str]) -> None:
    _same("\n".join(lines) + "\n")


def test_common_programs_never_reach_the_tokenizer(monkeypatch: pytest.MonkeyPatch) -> None:
    class _NoTokens:
        def match(self, *args: Any) -> None:
            raise AssertionError("the tokenizer was used")

    text = (
        "person(p0).\nfriend(p0,p1).\n0.3::stress(X) :- person(X).\n"
        "smokes(X) :- friend(X,Y), \\+ stress(Y), smokes(Y).\n0.352::x0.\n"
        "0.4::x1 :- \\+x0.\nquery(smokes(p0)).\nquery(x1).\nevidence(x0, true).\n"
        "evidence(stress(p1), false).\n"
    )
    expected = _parse(text, False)
    monkeypatch.setattr(parser_mod, "_TOKEN_RE", _NoTokens())
    assert _parse(text, True) == expected
