"""The exact-inference benchmark's children: same probabilities, best-of-N timings."""

from __future__ import annotations

import json

import pytest

from einlog.bench import exact


def _lines(capsys: pytest.CaptureFixture[str]) -> list[dict]:
    return [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.strip()]


def test_children_agree_on_a_small_case(tmp_path, capsys):
    case = exact.smokers_case(6)
    path = tmp_path / f"{case.name}.pl"
    path.write_text(case.text)
    exact.child_einlog(str(path))
    mine = _lines(capsys)
    exact.child_problog(str(path))
    theirs = _lines(capsys)
    assert set(mine[0]) >= {"probs", "ground", "compile", "evaluate", "total"}
    assert mine[0]["total"] >= mine[0]["ground"] + mine[0]["compile"] - 1e-12
    assert mine[1]["edges"] > 0 and mine[2]["qps"] > 0
    assert exact._agree(mine[0]["probs"], theirs[0]["probs"])
    assert len(mine[0]["probs"]) == 2
