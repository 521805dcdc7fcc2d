"""verify() accepts valid IR and rejects each kind of broken IR; the printer dumps it."""

from __future__ import annotations

import pytest

from einlog.ir.nodes import (
    BuiltinLiteral,
    Choice,
    Fact,
    IRProgram,
    PredLiteral,
    Rule,
    Weight,
)
from einlog.ir.printer import format_ir
from einlog.ir.verify import IRInvariantError, verify
from einlog.terms import Struct as S
from einlog.terms import Var as V

X, Y = V("X"), V("Y")


def base() -> IRProgram:
    ir = IRProgram()
    ir.facts[("q", 1)] = [Fact(S("q", (1,)))]
    ir.rules.append(Rule(S("p", (X,)), (PredLiteral(S("q", (X,))),)))
    ir.strata = {("q", 1): 0, ("p", 1): 0}
    return ir


def test_valid_ir_passes_and_prints() -> None:
    ir = base()
    verify(ir)
    assert "rule p(X) :- q(X)." in format_ir(ir)
    assert IRProgram().is_empty()


def test_error_is_assertion_error() -> None:
    assert issubclass(IRInvariantError, AssertionError)


@pytest.mark.parametrize(
    "breakit",
    [
        lambda ir: ir.rules.append(Rule(S("p", (Y,)), (PredLiteral(S("q", (X,))),))),
        lambda ir: ir.rules.append(Rule(S("p", (X,)), (BuiltinLiteral(S(">", (X, 1))),
                                                       PredLiteral(S("q", (X,)))))),
        lambda ir: ir.rules.append(Rule(S("p", (X,)), (PredLiteral(S("r", (X,))),))),
        lambda ir: ir.facts[("q", 1)].append(Fact(S("q", (X,)))),
        lambda ir: ir.facts[("q", 1)].append(Fact(S("q", (2,)), Weight("const", value=1.5))),
        lambda ir: ir.rules.append(Rule(S("p", (X,)), (PredLiteral(S("q", (X,))),
                                                       PredLiteral(S("p", (X,)), True)))),
        lambda ir: ir.rules.append(Rule(S("p", (X,)), (PredLiteral(S(";", (X, X))),))),
    ],
)
def test_broken_ir_is_rejected(breakit) -> None:  # type: ignore[no-untyped-def]
    ir = base()
    breakit(ir)
    with pytest.raises(IRInvariantError):
        verify(ir)


def test_choice_marker_checked() -> None:
    ir = base()
    ir.choices.append(Choice(0, [(Weight("const", value=0.4), S("c", (X,)))],
                             (PredLiteral(S("q", (X,))),), (X,)))
    marker = S("$choice", (0, 0, S("vars", (X,))))
    ir.rules.append(Rule(S("c", (X,)), (PredLiteral(S("q", (X,))), PredLiteral(marker))))
    ir.strata[("c", 1)] = 0
    verify(ir)
    ir.rules[-1] = Rule(S("c", (X,)), (PredLiteral(marker), PredLiteral(S("q", (X,)))))
    with pytest.raises(IRInvariantError, match="last literal"):
        verify(ir)
