"""Shared test helpers: compile program text and verify the IR after every compile."""

from __future__ import annotations

import pytest

from einlog.front import compile_program
from einlog.ir.nodes import IRProgram
from einlog.ir.verify import verify


def parser_available() -> bool:
    try:
        from einlog.syntax import parse_program  # noqa: F401
    except ImportError:
        return False
    return True


needs_parser = pytest.mark.skipif(not parser_available(), reason="parser not yet available")


def compile_text(text: str, name: str = "test.pl") -> IRProgram:
    from einlog.syntax import parse_program

    ir = compile_program(parse_program(text, name))
    verify(ir)
    return ir


def rules_of(ir: IRProgram, name: str) -> list[str]:
    from einlog.ir.printer import fmt_term, format_literal

    out = []
    for r in ir.rules:
        if r.head.functor == name:
            body = ", ".join(format_literal(lit) for lit in r.body)
            out.append(f"{fmt_term(r.head)} :- {body}" if body else fmt_term(r.head))
    return out
