"""The prelude: library predicates written in Prolog (``prelude.pl``).

Why Prolog and not Python builtins: list predicates such as ``member/2`` or
``append/3`` are relations (they run in several modes), and a grounder that
handles rules handles them for free.  The file is parsed once per process
(cached) and the front end copies in only the predicates a program calls.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from einlog.syntax.ast import ProgramAST

__all__ = ["LIBRARY_MODULES", "load_prelude", "PRELUDE_NAME"]

PRELUDE_NAME = "<prelude>"

# ProbLog's standard libraries: ``:- use_module(library(Name)).`` is accepted as a no-op.
LIBRARY_MODULES: frozenset[str] = frozenset(
    {"lists", "apply", "aggregate", "assoc", "collect", "cut", "db", "record", "scope",
     "sets", "string", "nnf", "optimization", "util"}
)


def prelude_text() -> str:
    return resources.files("einlog.front").joinpath("prelude.pl").read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def load_prelude() -> ProgramAST:
    """The parsed prelude (parsed once; treat it as read-only)."""
    from einlog.syntax import parse_program

    return parse_program(prelude_text(), PRELUDE_NAME)
