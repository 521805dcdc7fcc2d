"""Every example program in the repository compiles and its IR verifies.

Why: the hand-written front-end tests cover one construct each; the
feature programs under ``tests/lang`` and the DeepProbLog examples combine
them the way users do (prelude predicates, ADs with bodies, neural
declarations), so an invariant broken only in combination shows up here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from einlog.front import compile_program
from einlog.ir.verify import verify
from einlog.syntax import parse_program

ROOT = Path(__file__).resolve().parents[2]
ERROR_DIRS = {"program_errors", "syntax_errors"}
PROGRAMS = sorted(
    [p for p in (ROOT / "tests" / "lang").glob("*/*.pl") if p.parent.name not in ERROR_DIRS]
    + list((ROOT / "examples").glob("*/*.pl"))
)


@pytest.mark.parametrize("path", PROGRAMS, ids=lambda p: str(p.relative_to(ROOT)))
def test_program_compiles_and_verifies(path: Path) -> None:
    ast = parse_program(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    verify(compile_program(ast))


def test_programs_were_found() -> None:
    assert len(PROGRAMS) >= 10
