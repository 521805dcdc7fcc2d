"""einlog.syntax: program text <-> AST.

``parse_program`` reads the ProbLog/DeepProbLog dialect into statements
(:mod:`einlog.syntax.ast`); ``format_program`` prints them back so that they
re-parse to an equal AST.  Errors are :class:`einlog.errors.ParseError` with
a source span and a hint.
"""

from einlog.syntax.parser import (
    MAX_TERM_DEPTH,
    parse_program,
    parse_query,
    parse_source,
    parse_term,
    read_source,
)
from einlog.syntax.printer import format_program, format_term

__all__ = [
    "MAX_TERM_DEPTH",
    "parse_program",
    "parse_query",
    "parse_source",
    "parse_term",
    "format_term",
    "format_program",
    "read_source",
]
