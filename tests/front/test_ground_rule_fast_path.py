"""Ground probabilistic rules with plain conjunction bodies skip the general clause
path; the IR must be exactly what the general path builds (spans included)."""

from __future__ import annotations

from typing import Any

import pytest

from einlog.front import compile_program
from einlog.front import compiler as front_mod
from einlog.syntax import parse_program

PROGRAMS = [
    # CPT rows, as the Bayesian-network benchmark writes them
    "0.3::x0.\n0.6::x1.\n0.2::x2 :- x0, \\+x1.\n0.7::x2 :- \\+x0, x1.\n"
    "evidence(x2, true).\nquery(x0).\n",
    # constants as arguments, a quoted atom, a learnable probability, an integer
    "0.5::e(a, b).\n0.5::e(b, 'c d').\nt(0.4)::p(a) :- e(a, b), \\+ e(b, 'c d').\n"
    "1::q :- p(a).\nquery(q).\n",
    # mixed with what must stay on the general path: variables, builtins, control,
    # negation of a conjunction, ';', an expression probability
    "0.5::f(1).\n0.5::f(2).\n0.3::g(X) :- f(X).\n0.2::h :- f(1), 1 < 2.\n"
    "0.4::k :- \\+ (f(1), f(2)).\n0.6::m :- f(1) ; f(2).\n0.1::n :- true, f(1).\n"
    "1/3::o :- f(2).\nquery(g(1)).\nquery(h).\nquery(k).\nquery(m).\nquery(n).\nquery(o).\n",
]


def _compile(text: str, fast: bool) -> Any:
    old = front_mod._FAST_GROUND_RULES
    front_mod._FAST_GROUND_RULES = fast
    try:
        return compile_program(parse_program(text, "t.pl"))
    finally:
        front_mod._FAST_GROUND_RULES = old


def _spans(ir: Any) -> list[Any]:
    out = []
    for rule in ir.rules:
        out.append(rule.span)
        out.extend(lit.span for lit in rule.body)
    out.extend(c.span for c in ir.choices)
    return out


@pytest.mark.parametrize("text", PROGRAMS)
def test_same_ir_as_the_general_path(text: str) -> None:
    fast, slow = _compile(text, True), _compile(text, False)
    assert fast.rules == slow.rules
    assert fast.choices == slow.choices
    assert fast.facts == slow.facts
    assert fast.params == slow.params
    assert _spans(fast) == _spans(slow)


def test_fast_path_is_taken_for_cpt_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    orig = front_mod._Compiler._ground_choice

    def spy(self: Any, *args: Any) -> None:
        calls.append(1)
        orig(self, *args)

    monkeypatch.setattr(front_mod._Compiler, "_ground_choice", spy)
    _compile(PROGRAMS[0], True)
    assert len(calls) == 2
