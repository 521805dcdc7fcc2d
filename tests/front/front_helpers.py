"""Shared test helpers: compile program text and verify the IR after every compile."""

from __future__ import annotations

from einlog.front import compile_program
from einlog.ir.nodes import IRProgram
from einlog.ir.printer import format_literal
from einlog.ir.verify import verify
from einlog.syntax import format_term, parse_program


def compile_text(text: str, name: str = "test.pl") -> IRProgram:
    ir = compile_program(parse_program(text, name))
    verify(ir)
    return ir


def rules_of(ir: IRProgram, name: str) -> list[str]:
    """The rules for ``name``, printed ProbLog style (``p(X,Y) :- e(X,Y)``)."""
    out = []
    for r in ir.rules:
        if r.head.functor == name:
            body = ", ".join(format_literal(lit) for lit in r.body)
            out.append(f"{format_term(r.head)} :- {body}" if body else format_term(r.head))
    return out
