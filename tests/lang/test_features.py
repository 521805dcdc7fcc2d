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


def _values(path: Path) -> dict[str, float]:
    out = {}
    for line in path.read_text().splitlines():
        atom, _, value = line.rpartition(":")
        out[atom.strip()] = float(value)
    return out


def _monotone_cases() -> list[Path]:
    """Programs where the semirings' values must be ordered (no negation, no evidence)."""
    cases = []
    for program in sorted(HERE.glob("*/*.pl")):
        if program.parent.name in SKIP:
            continue
        text = program.read_text()
        if "\\+" in text or "not(" in text or "evidence" in text:
            continue
        if all((program.parent / f"{program.stem}.{s}.out").exists()
               for s in ("exact", "boolean", "godel", "viterbi")):
            cases.append(program)
    return cases


@pytest.mark.parametrize("program", _monotone_cases(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_semantics_goldens_are_mutually_consistent(program: Path) -> None:
    """The non-exact goldens are einlog's outputs: check them against ProbLog's exact ones.

    In a positive program without evidence: boolean = [P > 0]; the most probable
    proof (Viterbi) cannot beat the probability; a proof's min (Gödel) is at least
    its product (Viterbi).
    """
    exact, boolean, godel, viterbi = (
        _values(program.parent / f"{program.stem}.{s}.out")
        for s in ("exact", "boolean", "godel", "viterbi")
    )
    assert exact.keys() == boolean.keys() == godel.keys() == viterbi.keys()
    for atom, p in exact.items():
        assert boolean[atom] == (1.0 if p > 0 else 0.0), atom
        assert viterbi[atom] <= p + 1e-6, atom
        assert godel[atom] >= viterbi[atom] - 1e-6, atom
        assert (viterbi[atom] > 0) == (p > 0), atom
