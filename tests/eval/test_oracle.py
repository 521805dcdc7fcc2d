"""The brute-force oracle: worlds, least models, exact and conditional probabilities."""

from __future__ import annotations

import pytest

from einlog.errors import InferenceError, ProbabilityError
from einlog.eval import (
    atom_ids,
    exact_probabilities,
    least_model,
    make_program,
    possible_atoms,
    world_probabilities,
)


def test_worlds_of_independent_leaves_and_a_group() -> None:
    gp = make_program(
        leaves=[("a", 0.3), ("x", 0.2), ("y", 0.5)],
        groups=[["x", "y"]],
    )
    worlds = world_probabilities(gp)
    assert sum(worlds.values()) == pytest.approx(1.0)
    assert worlds == pytest.approx(
        {
            0b000: 0.7 * 0.3,
            0b001: 0.3 * 0.3,
            0b010: 0.7 * 0.2,
            0b011: 0.3 * 0.2,
            0b100: 0.7 * 0.5,
            0b101: 0.3 * 0.5,
        }
    )
    assert 0b110 not in worlds  # x and y are mutually exclusive


def test_least_model_with_negation_and_recursion() -> None:
    gp = make_program(
        rules=[
            ("p", ["q"]),
            ("q", ["p"]),
            ("q", ["b"]),
            ("n", ["~p", "c"]),
            ("t", []),
        ],
        leaves=[("b", 0.5), ("c", 0.5)],
    )
    b, c, p, q, n, t = atom_ids(gp, "b", "c", "p", "q", "n", "t")
    assert least_model(gp, {b}) == {b, p, q, t}
    assert least_model(gp, {c}) == {c, n, t}
    assert least_model(gp, set()) == {t}
    with pytest.raises(InferenceError):
        least_model(gp, {p})


def test_exact_probabilities_and_evidence() -> None:
    gp = make_program(
        rules=[("a", ["b"]), ("a", ["c"]), ("d", ["b", "c"]), ("e", ["~a"])],
        leaves=[("b", 0.3), ("c", 0.6)],
    )
    a, b, c, d, e = atom_ids(gp, "a", "b", "c", "d", "e")
    probs = exact_probabilities(gp)
    assert probs[a] == pytest.approx(1 - 0.7 * 0.4)
    assert probs[d] == pytest.approx(0.18)
    assert probs[e] == pytest.approx(0.28)
    cond = exact_probabilities(gp, evidence=[(a, True)])
    assert cond[b] == pytest.approx(0.3 / 0.72)
    assert cond[e] == 0.0
    cond = exact_probabilities(gp, [0.5, 0.5], evidence=[(c, False)])
    assert cond[a] == pytest.approx(0.5)
    gp.evidence = [(d, True)]
    assert exact_probabilities(gp)[b] == pytest.approx(1.0)  # default: gp.evidence
    assert exact_probabilities(gp, evidence=())[b] == pytest.approx(0.3)
    with pytest.raises(InferenceError, match="evidence"):
        exact_probabilities(gp, evidence=[(a, False), (d, True)])


def test_groups_are_exclusive() -> None:
    gp = make_program(
        rules=[("both", ["x", "y"]), ("any", ["x"]), ("any", ["y"])],
        leaves=[("x", 0.2), ("y", 0.5)],
        groups=[["x", "y"]],
    )
    both, any_ = atom_ids(gp, "both", "any")
    probs = exact_probabilities(gp)
    assert probs[both] == 0.0
    assert probs[any_] == pytest.approx(0.7)
    assert both not in possible_atoms(gp)


def test_refusals() -> None:
    big = make_program(leaves=[(f"l{i}", 0.5) for i in range(21)])
    with pytest.raises(InferenceError, match="refusing"):
        exact_probabilities(big)
    bad = make_program(leaves=[("x", 0.7), ("y", 0.5)], groups=[["x", "y"]])
    with pytest.raises(ProbabilityError):
        world_probabilities(bad)
    with pytest.raises(InferenceError):
        world_probabilities(bad, [0.5])
