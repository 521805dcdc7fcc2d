"""Golden tests per language feature, run through the real CLI.

Each ``tests/lang/<feature>/<case>.pl`` has expected outputs
``<case>.<semantics>.out`` in ProbLog's ``atom:\\tvalue`` format.  The
``.exact.out`` files were produced by the real ``problog`` CLI (except for
constructs ProbLog lacks, e.g. ``->`` and ``aggregate_all``, which were
computed by hand), so they double as a ProbLog oracle.  Other semantics'
files are einlog's own outputs, each reviewed when written.
``UPDATE_GOLDEN=1`` rewrites the non-exact expectations.
"""

from __future__ import annotations

import io
import os
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from einlog.cli.main import main

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
SKIP = {"syntax_errors", "program_errors"}


def _cases() -> list[tuple[Path, str, Path]]:
    cases = []
    for out in sorted(HERE.glob("*/*.out")):
        if out.parent.name in SKIP:
            continue
        case, semantics = out.name[: -len(".out")].rsplit(".", 1)
        cases.append((out.parent / f"{case}.pl", semantics, out))
    return cases


def _run(program: Path, semantics: str) -> tuple[int, str]:
    buf = io.StringIO()
    with redirect_stdout(buf):
        code = main(["query", str(program.relative_to(ROOT)), "--semantics", semantics])
    return code, buf.getvalue()


@pytest.mark.parametrize(
    ("program", "semantics", "expected"),
    _cases(),
    ids=[f"{p.parent.name}/{p.stem}[{s}]" for p, s, _ in _cases()],
)
def test_feature(
    program: Path, semantics: str, expected: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    code, out = _run(program, semantics)
    assert code == 0
    if os.environ.get("UPDATE_GOLDEN") and semantics != "exact":
        expected.write_text(out)
    assert out == expected.read_text()


def test_every_program_has_an_exact_expectation() -> None:
    for program in HERE.glob("*/*.pl"):
        if program.parent.name in SKIP:
            continue
        assert (program.parent / f"{program.stem}.exact.out").exists(), program
