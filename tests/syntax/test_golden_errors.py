"""Golden syntax errors: each tests/lang/syntax_errors/<case>.pl has <case>.err with ``str(err)``.

The program is parsed under its repository-relative name, so the expected text
does not depend on where pytest runs.  ``UPDATE_GOLDEN=1`` rewrites the
``.err`` files (review the diff before committing).  Random bytes and very deep
terms are generated at test time, not committed.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from einlog.errors import ParseError
from einlog.syntax import parse_program, read_source

ROOT = Path(__file__).resolve().parents[2]
CASES_DIR = ROOT / "tests" / "lang" / "syntax_errors"
CASES = sorted(p.stem for p in CASES_DIR.glob("*.pl"))
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def _error_text(case: str) -> str:
    rel = f"tests/lang/syntax_errors/{case}.pl"
    source = read_source(CASES_DIR / f"{case}.pl", name=rel)
    with pytest.raises(ParseError) as err:
        parse_program(source.text, source.name)
    return str(err.value)


def test_cases_exist() -> None:
    for required in (
        "unclosed_paren",
        "missing_period",
        "bad_operator",
        "unterminated_quote",
        "unexpected_char",
    ):
        assert required in CASES


@pytest.mark.parametrize("case", CASES)
def test_golden_error(case: str) -> None:
    text = _error_text(case)
    expected_path = CASES_DIR / f"{case}.err"
    if UPDATE:
        expected_path.write_text(text + "\n", encoding="utf-8")
        return
    assert expected_path.exists(), f"missing {expected_path}; run with UPDATE_GOLDEN=1"
    assert text == expected_path.read_text(encoding="utf-8").rstrip("\n")
    for internal in ("__ANON", "LPAR", "RPAR", "$END", "FUNCTOR", "Token("):
        assert internal not in text


def test_random_bytes(tmp_path: Path) -> None:
    path = tmp_path / "random_bytes.pl"
    path.write_bytes(random.Random(1).randbytes(1 << 20))
    with pytest.raises(ParseError) as err:
        read_source(path)
    assert "file is not UTF-8 text" in str(err.value)
    with pytest.raises(ParseError):
        parse_program(path.read_bytes().decode("latin-1"), str(path))


def test_deep_nesting(tmp_path: Path) -> None:
    path = tmp_path / "deep_nesting.pl"
    path.write_text("p(" + "f(" * 10_000 + "x" + ")" * 10_000 + ").\n", encoding="utf-8")
    source = read_source(path, name="deep_nesting.pl")
    with pytest.raises(ParseError) as err:
        parse_program(source.text, source.name)
    text = str(err.value)
    assert text.startswith("deep_nesting.pl:1:")
    assert "term nested 5001 levels deep; the limit is 5000" in text
