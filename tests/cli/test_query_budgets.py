"""``einlog query --max-size / --time-limit``: exact-inference budgets from the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from einlog.cli.main import main

ALARM = Path(__file__).resolve().parents[1] / "lang" / "exact" / "alarm.pl"


def test_a_tight_circuit_budget_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", str(ALARM), "--max-size", "5"]) == 1
    err = capsys.readouterr().err
    assert "exceeds the memory budget" in err and "approximate semantics" in err


def test_a_roomy_budget_answers(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", str(ALARM), "--max-size", "100000", "--time-limit", "30"]) == 0
    assert "burglary:\t0.98193926" in capsys.readouterr().out


def test_budgets_need_the_exact_semantics(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", str(ALARM), "-s", "godel", "--max-size", "5"]) == 1
    assert "apply to --semantics exact only" in capsys.readouterr().err
