"""Golden tests for program errors: ``program_errors/<case>.pl`` must fail with ``<case>.err``.

The expected text is the exact ``str(err)`` (location, caret, hint).  Each
program is parsed under the stable relative name
``tests/lang/program_errors/<case>.pl`` so the files do not depend on where
the repository lives.  Run with ``UPDATE_GOLDEN=1`` to (re)write the ``.err``
files after an intended change, then review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from einlog.errors import ProgramError

HERE = Path(__file__).parent / "program_errors"
CASES = sorted(p.stem for p in HERE.glob("*.pl"))


def _parse_and_compile(case: str) -> None:
    syntax = pytest.importorskip("einlog.syntax")
    if not hasattr(syntax, "parse_program"):
        pytest.skip("parser not yet available")
    from einlog.front import compile_program

    text = (HERE / f"{case}.pl").read_text(encoding="utf-8")
    compile_program(syntax.parse_program(text, f"tests/lang/program_errors/{case}.pl"))


@pytest.mark.parametrize("case", CASES)
def test_program_error(case: str) -> None:
    with pytest.raises(ProgramError) as info:
        _parse_and_compile(case)
    got = str(info.value) + "\n"
    golden = HERE / f"{case}.err"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(got, encoding="utf-8")
    assert golden.exists(), f"missing {golden.name}; run with UPDATE_GOLDEN=1"
    assert got == golden.read_text(encoding="utf-8")
