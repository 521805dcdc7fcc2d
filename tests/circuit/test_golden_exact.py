"""Golden classics (tests/lang/exact/*.pl): einlog exact vs ProbLog's recorded output and live.

The ``.exact.out`` files are the real ``problog`` CLI's output (8 significant
digits); the live comparison with the ``problog`` package is to 1e-9.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .problog_ref import compare, run_einlog

GOLDEN = Path(__file__).resolve().parent.parent / "lang" / "exact"
CASES = sorted(GOLDEN.glob("*.pl"))


def _read_out(path: Path) -> dict[str, float]:
    out = {}
    for line in path.read_text().splitlines():
        if line.strip():
            name, _, value = line.rpartition(":")
            out[name.strip()] = float(value)
    return out


@pytest.mark.parametrize("program", CASES, ids=[p.stem for p in CASES])
def test_golden_exact(program: Path) -> None:
    src = program.read_text()
    ours = run_einlog(src)
    assert ours.probs is not None, ours.error
    want = _read_out(program.with_suffix(".exact.out"))
    assert set(ours.probs) == set(want)
    for name, value in want.items():
        assert abs(ours.probs[name] - value) <= 1e-8 * max(1.0, abs(value)) + 5e-9, name
    compare(src)
