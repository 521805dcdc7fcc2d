"""Parser tests: terms, operators and priorities, ProbLog/DeepProbLog statements, limits."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from einlog.errors import ParseError, ProgramFileNotFoundError
from einlog.syntax import parse_program, parse_term, read_source
from einlog.syntax.ast import (
    Clause,
    Directive,
    Evidence,
    NeuralDeclaration,
    ProbabilisticClause,
    Query,
)
from einlog.terms import NIL, Str, Struct, Var, make_list


def s(f: str, *args: object) -> Struct:
    return Struct(f, args)  # type: ignore[arg-type]


a, b, c, d = (Struct(x) for x in "abcd")
X, Y, T = Var("X"), Var("Y"), Var("T")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("X", X),
        ("_Foo", Var("_Foo")),
        ("abc", Struct("abc")),
        ("'hello world'", Struct("hello world")),
        ("'it''s'", Struct("it's")),
        ("'a\\nb\\\\c\\'d'", Struct("a\nb\\c'd")),
        ("'\\x41\\'", Struct("A")),
        ("[]", NIL),
        ("'[]'", NIL),
        ("'+'", Struct("+")),
        ("!", Struct("!")),
        ("{}", Struct("{}")),
        ("42", 42),
        ("-3", -3),
        ("0x1F", 31),
        ("0.5", 0.5),
        ("1e-3", 1e-3),
        ("1.0e10", 1.0e10),
        ("-2.5", -2.5),
        ('"a string"', Str("a string")),
        ('"say \\"hi\\""', Str('say "hi"')),
        ("f(a, X)", s("f", a, X)),
        ("'hello world'(x)", s("hello world", Struct("x"))),
        ("[a, b | T]", make_list([a, b], T)),
        ("[1,2,3]", make_list([1, 2, 3])),
        ("[[]]", make_list([NIL])),
        ("{a, b}", s("{}", s(",", a, b))),
        ("f((a, b))", s("f", s(",", a, b))),
        ("f((a :- b))", s("f", s(":-", a, b))),
        ("'-'(1)", s("-", 1)),
        ("-(1)", s("-", 1)),
        ("- 1", s("-", 1)),
        ("-(-(1))", s("-", s("-", 1))),
        ("- a", s("-", a)),
        ("-a", s("-", a)),
        ("1 - 1", s("-", 1, 1)),
        ("1-1", s("-", 1, 1)),
        ("1 - -1", s("-", 1, -1)),
        ("a- -1", s("-", a, -1)),
        ("f(-1)", s("f", -1)),
        ("[-1]", make_list([-1])),
        ("X=(Y)", s("=", X, Y)),
        ("=(X, Y)", s("=", X, Y)),
        ("is(X, Y)", s("is", X, Y)),
        ("\\+(a)", s("\\+", a)),
        ("a =.. L", s("=..", a, Var("L"))),
        ("X = a % comment\n", s("=", X, a)),
        ("X /* inline */ = a", s("=", X, a)),
    ],
)
def test_terms(text: str, expected: object) -> None:
    assert parse_term(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("X is 1+2*3", s("is", X, s("+", 1, s("*", 2, 3)))),
        ("1-2-3", s("-", s("-", 1, 2), 3)),
        ("2**3", s("**", 2, 3)),
        ("2^3^4", s("^", 2, s("^", 3, 4))),
        ("-a*b", s("*", s("-", a), b)),
        ("- 2^2", s("-", s("^", 2, 2))),
        ("-2^2", s("^", -2, 2)),
        ("2 ** -1", s("**", 2, -1)),
        ("a mod b * c", s("*", s("mod", a, b), c)),
        ("a rem b", s("rem", a, b)),
        ("1 << 2 + 3", s("+", s("<<", 1, 2), 3)),
        ("a /\\ b \\/ c", s("\\/", s("/\\", a, b), c)),
        ("\\ a", s("\\", a)),
        ("a :- b, c ; d", s(":-", a, s(";", s(",", b, c), d))),
        ("a :- b ; c, d", s(":-", a, s(";", b, s(",", c, d)))),
        ("\\+ a, b", s(",", s("\\+", a), b)),
        ("\\+ \\+ a", s("\\+", s("\\+", a))),
        ("(a -> b ; c)", s(";", s("->", a, b), c)),
        ("a -> b , c", s("->", a, s(",", b, c))),
        ("0.2::a ; 0.5::b :- c", s(":-", s(";", s("::", 0.2, a), s("::", 0.5, b)), c)),
        ("X = Y", s("=", X, Y)),
        ("X \\== Y", s("\\==", X, Y)),
        ("X =:= 1 + 2", s("=:=", X, s("+", 1, 2))),
        ("X @=< Y", s("@=<", X, Y)),
        (":- a", s(":-", a)),
    ],
)
def test_operator_priorities(text: str, expected: object) -> None:
    assert parse_term(text) == expected


def test_anonymous_variables_are_distinct() -> None:
    t = parse_term("f(_, _, X, X)")
    assert isinstance(t, Struct)
    v1, v2, v3, v4 = t.args
    assert isinstance(v1, Var) and isinstance(v2, Var)
    assert v1 != v2 and v1.name.startswith("_G") and v3 == v4


def test_fresh_names_avoid_user_names() -> None:
    t = parse_term("f(_G1, _)")
    assert isinstance(t, Struct)
    assert t.args[0] != t.args[1]


def test_spans_on_terms() -> None:
    t = parse_term("foo(X,\n  bar)", name="t.pl")
    assert isinstance(t, Struct) and t.span is not None
    assert (t.span.line, t.span.col, t.span.end_line, t.span.end_col) == (1, 1, 2, 7)
    bar = t.args[1]
    assert isinstance(bar, Struct) and bar.span is not None
    assert (bar.span.line, bar.span.col) == (2, 3)
    assert bar.span.name == "t.pl"


PROGRAM = """\
% ProbLog / DeepProbLog constructs
nn(mnist_net, [X], Y, [0,1,2,3,4,5,6,7,8,9]) :: digit(X,Y).
nn(edge_net, [A, B]) :: edge(A, B).
t(0.5)::heads(C).
t(_)::f.
0.3::rain.
addition(X,Y,Z) :- digit(X,X2), digit(Y,Y2), Z is X2+Y2.
evidence(a, false).
evidence(b).
evidence(\\+ c).
query(path(a,_)).
P::p(X) :- q(X, P).
1/3::die(1); 1/3::die(2); 1/3::die(3).
0.3::a; 0.5::b :- body.
:- use_module(library(lists)).
r(X) :- \\+ s(X), not(t(X)), (X > 1 -> true ; fail).
query(X) :- candidate(X).
"""


def test_statements() -> None:
    ast = parse_program(PROGRAM, "prog.pl")
    st = ast.statements
    assert len(st) == 16
    nn = st[0]
    assert isinstance(nn, NeuralDeclaration)
    assert nn.network == "mnist_net" and nn.inputs == [X] and nn.output == Y
    assert nn.domain == list(range(10)) and nn.head == s("digit", X, Y) and nn.body is None
    nn2 = st[1]
    assert isinstance(nn2, NeuralDeclaration) and nn2.output is None and nn2.domain is None
    assert st[2] == ProbabilisticClause([(s("t", 0.5), s("heads", Var("C")))])
    t_anon = st[3]
    assert isinstance(t_anon, ProbabilisticClause)
    prob = t_anon.heads[0][0]
    assert isinstance(prob, Struct) and prob.functor == "t" and isinstance(prob.args[0], Var)
    assert st[4] == ProbabilisticClause([(0.3, Struct("rain"))])
    assert isinstance(st[5], Clause) and st[5].head == s("addition", X, Y, Var("Z"))
    assert st[6] == Evidence(a, False)
    assert st[7] == Evidence(b, True)
    assert st[8] == Evidence(c, False)
    q = st[9]
    assert isinstance(q, Query) and q.atom.functor == "path"
    assert st[10] == ProbabilisticClause([(Var("P"), s("p", X))], s("q", X, Var("P")))
    third = s("/", 1, 3)
    assert st[11] == ProbabilisticClause(
        [(third, s("die", 1)), (third, s("die", 2)), (third, s("die", 3))]
    )
    assert st[12] == ProbabilisticClause([(0.3, a), (0.5, b)], Struct("body"))
    assert st[13] == Directive(s("use_module", s("library", Struct("lists"))))
    body = st[14]
    assert isinstance(body, Clause) and isinstance(body.body, Struct)
    assert body.body.functor == ","
    assert isinstance(st[15], Clause) and st[15].head == s("query", X)
    # spans cover whole statements
    span = st[11].span
    assert span is not None and (span.line, span.col) == (13, 1)
    assert span.end_col == len("1/3::die(1); 1/3::die(2); 1/3::die(3).") + 1


def test_empty_program() -> None:
    assert parse_program("").statements == []
    assert parse_program("% only a comment\n/* and this */\n").statements == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("3 :- x.", "clause head is the number 3"),
        ("X :- y.", "clause head is the variable X"),
        ('"s" :- y.', "clause head is a string"),
        ("(a, b) :- c.", "clause head is a conjunction"),
        ("a ; b.", "clause head is a disjunction"),
        ("0.3::a ; b.", "needs a probability"),
        ("0.3::X.", "must be an atom, not X"),
        ("0.3::3.", "must be an atom, not 3"),
        ("nn(X, [A], B, [1]) :: d(A, B).", "network name"),
        ("nn(n, A, B, [1]) :: d(A, B).", "inputs of nn"),
        ("nn(n, [A], B, c) :: d(A, B).", "domain of nn"),
        ("query(X).", "query(...) needs an atom"),
        ("evidence(a, maybe).", "true or false"),
        ("?- a.", "'?-' queries"),
        ("a('\\q').", "unknown escape"),
    ],
)
def test_statement_errors(text: str, message: str) -> None:
    with pytest.raises(ParseError, match=message.replace("(", r"\(").replace(")", r"\)")) as err:
        parse_program(text, "p.pl")
    assert err.value.span is not None
    assert str(err.value).startswith("p.pl:1:")


def test_parse_error_is_syntax_error() -> None:
    with pytest.raises(SyntaxError):
        parse_program("a :- .")


def test_depth_limit_nested_compound() -> None:
    text = "p(" + "f(" * 10_000 + "a" + ")" * 10_000 + ")."
    with pytest.raises(ParseError, match="nested 5001 levels deep; the limit is 5000"):
        parse_program(text)


@pytest.mark.parametrize(
    "inner",
    [
        "[" * 10_000 + "]" * 10_000,
        "- " * 10_000 + "a",
        "\\+ " * 10_000 + "a",
        "a^" * 10_000 + "a",
        "[" + ",".join(["1"] * 10_000) + "]",
    ],
)
def test_depth_limit_other_shapes(inner: str) -> None:
    with pytest.raises(ParseError, match="levels deep"):
        parse_program(f"p :- {inner}.")


def test_prefix_operator_priority_clash() -> None:
    with pytest.raises(ParseError, match="needs parentheses"):
        parse_program("p :- X = \\+ a.")


def test_deep_parentheses_do_not_count() -> None:
    t = parse_term("(" * 10_000 + "a" + ")" * 10_000)
    assert t == a


def test_depth_limit_is_configurable() -> None:
    assert parse_term("f(f(f(a)))", max_depth=4) == s("f", s("f", s("f", a)))
    with pytest.raises(ParseError):
        parse_term("f(f(f(a)))", max_depth=3)


def test_unclosed_deep_parentheses() -> None:
    with pytest.raises(ParseError, match="expected '\\)' to close"):
        parse_program("p :- " + "(" * 10_000)


def test_large_program() -> None:
    text = "".join(f"edge(n{i}, n{i + 1}).\n" for i in range(5000))
    ast = parse_program(text)
    assert len(ast.statements) == 5000
    last = ast.statements[-1]
    assert isinstance(last, Clause) and last.span is not None and last.span.line == 5000


def test_random_text_raises_parse_error() -> None:
    rng = random.Random(1234)
    text = "".join(chr(rng.randrange(0, 0x2FF)) for _ in range(200_000))
    with pytest.raises(ParseError):
        parse_program(text)


def test_read_source(tmp_path: Path) -> None:
    p = tmp_path / "prog.pl"
    p.write_text("a.\n", encoding="utf-8")
    src = read_source(p)
    assert src.text == "a.\n" and src.name == str(p)
    assert read_source(p, name="x.pl").name == "x.pl"


def test_read_source_missing(tmp_path: Path) -> None:
    with pytest.raises(ProgramFileNotFoundError) as err:
        read_source(tmp_path / "nope.pl")
    assert "program file not found" in str(err.value)
    assert err.value.hint
    assert isinstance(err.value, FileNotFoundError)


def test_read_source_not_utf8(tmp_path: Path) -> None:
    p = tmp_path / "bad.pl"
    p.write_bytes(b"a.\nb(\xff).\n")
    with pytest.raises(ParseError) as err:
        read_source(p)
    assert "file is not UTF-8 text: invalid byte 0xff at 2:3" in str(err.value)


def test_random_bytes_file(tmp_path: Path) -> None:
    rng = random.Random(20240601)
    p = tmp_path / "random.pl"
    data = rng.randbytes(1 << 20)
    p.write_bytes(data)
    with pytest.raises(ParseError):
        read_source(p)
    # The same bytes as text (every byte a character) also fail cleanly.
    with pytest.raises(ParseError):
        parse_program(data.decode("latin-1"), "random.pl")


def test_bytes_input_is_decoded() -> None:
    assert parse_program(b"a.").statements == [Clause(a)]  # type: ignore[arg-type]
    with pytest.raises(ParseError, match="not UTF-8"):
        parse_program(b"a(\xff).")  # type: ignore[arg-type]


def test_unterminated_quote_with_many_escapes() -> None:
    # Overlapping escape alternatives once made this backtrack exponentially.
    for quote in "'\"":
        with pytest.raises(ParseError, match="unterminated"):
            parse_program("p(" + quote + "\\x41" * 200 + "\n")
    assert parse_term("'\\x41\\\\x42\\'") == Struct("AB")
