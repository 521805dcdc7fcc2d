"""Both grounding engines produce ground programs that pass verify_ground."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from einlog.front import compile_program
from einlog.ground import ground
from einlog.ground.verify import GroundInvariantError, verify_ground
from einlog.syntax import parse_program

LANG = Path(__file__).parent.parent / "lang"
PROGRAMS = sorted(
    p for p in LANG.glob("*/*.pl") if p.parent.name not in ("syntax_errors", "program_errors")
)


@pytest.mark.parametrize("path", PROGRAMS, ids=[f"{p.parent.name}/{p.stem}" for p in PROGRAMS])
@pytest.mark.parametrize("engine", ["topdown", "auto"])
def test_groundings_verify(path: Path, engine: str) -> None:
    ir = compile_program(parse_program(path.read_text(), name=str(path)))
    grounding = ground(ir, None, engine=engine)  # type: ignore[arg-type]
    verify_ground(grounding.program)


def test_rule_on_a_leaf_is_rejected() -> None:
    ir = compile_program(parse_program("0.5::a. query(a)."))
    gp = ground(ir).program
    gp.rule_head = np.array([int(gp.leaves[0])], dtype=np.int64)
    gp.rule_ptr = np.array([0, 0], dtype=np.int64)
    with pytest.raises(GroundInvariantError, match="also has a rule"):
        verify_ground(gp)


def test_negation_must_go_to_a_lower_stratum() -> None:
    ir = compile_program(parse_program("0.5::a. b :- \\+ a. query(b)."))
    gp = ground(ir, engine="topdown").program
    verify_ground(gp)
    gp.stratum = np.zeros_like(gp.stratum)
    with pytest.raises(GroundInvariantError, match="lower stratum"):
        verify_ground(gp)
