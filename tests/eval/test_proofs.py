"""Top-k proofs on hand-built programs."""

from __future__ import annotations

import pytest
import torch

from einlog.eval import (
    NEGATION_FUNCTOR,
    Proof,
    atom_ids,
    evaluate,
    exact_probabilities,
    make_program,
    most_probable_proof,
    top_k_proofs,
)
from einlog.ground.program import GroundProgram
from einlog.semirings import get_semiring
from einlog.terms import Struct


def _gp() -> GroundProgram:
    return make_program(
        rules=[
            ("r", ["x"]),
            ("r", ["y"]),
            ("r", ["b", "d"]),
            ("s", ["x", "y"]),
            ("a", ["b", "~c"]),
            ("c", ["d"]),
            ("t", []),
            ("u", ["t", "b"]),
        ],
        leaves=[("b", 0.3), ("d", 0.6), ("x", 0.2), ("y", 0.5)],
        groups=[["x", "y"]],
    )


def test_proofs_best_first_with_labels() -> None:
    gp = _gp()
    tk = top_k_proofs(gp, None, 3)
    got = tk.explain(Struct("r"))
    assert [p.probability for p in got] == pytest.approx([0.5, 0.2, 0.18])
    assert got[0].facts == (Struct("y"),)
    assert got[2].facts == (Struct("b"), Struct("d"))
    assert got[2].leaves == (0, 1)
    assert tk.lower_bound(Struct("r")) == pytest.approx(
        exact_probabilities(gp)[atom_ids(gp, "r")[0]]
    )
    assert top_k_proofs(gp, None, 2).proofs(Struct("r")) == got[:2]


def test_inconsistent_proofs_are_dropped() -> None:
    tk = top_k_proofs(_gp(), None, 5)
    assert tk.proofs(Struct("s")) == []
    assert tk.lower_bound(Struct("s")) == 0.0


def test_negation_pseudo_fact() -> None:
    gp = _gp()
    (c,) = atom_ids(gp, "c")
    (proof,) = top_k_proofs(gp, None, 3).proofs(Struct("a"))
    assert proof.facts == (Struct("b"), Struct(NEGATION_FUNCTOR, (Struct("c"),)))
    assert proof.negated == (c,)
    assert proof.probability == pytest.approx(0.3 * 0.4)


def test_negation_of_unprovable_atom_is_free() -> None:
    gp = make_program(rules=[("a", ["b", "~nothing"])], leaves=[("b", 0.3)])
    (proof,) = top_k_proofs(gp, [0.3], 1).proofs(Struct("a"))
    assert proof == Proof((Struct("b"),), 0.3, (0,), ())


def test_deterministic_facts_add_no_leaves() -> None:
    tk = top_k_proofs(_gp(), None, 2)
    assert tk.proofs(Struct("t")) == [Proof((), 1.0)]
    assert tk.proofs(Struct("u"))[0].facts == (Struct("b"),)


def test_ties_are_deterministic_and_supersets_dropped() -> None:
    gp = make_program(
        rules=[("g", ["p2"]), ("g", ["p1"]), ("g", ["p1", "p2"]), ("g", ["p3"])],
        leaves=[("p1", 0.5), ("p2", 0.5), ("p3", 0.5)],
    )
    first = top_k_proofs(gp, None, 3).proofs(Struct("g"))
    assert [p.facts for p in first] == [(Struct("p1"),), (Struct("p2"),), (Struct("p3"),)]


def test_cycles_terminate() -> None:
    gp = make_program(
        rules=[("p", ["q"]), ("q", ["p"]), ("p", ["b"]), ("q", ["d"])],
        leaves=[("b", 0.3), ("d", 0.6)],
    )
    tk = top_k_proofs(gp, torch.tensor([0.3, 0.6]), 4)
    assert [p.probability for p in tk.proofs(Struct("p"))] == pytest.approx([0.6, 0.3])
    assert tk.lower_bound(Struct("q")) == pytest.approx(0.72)


def test_k1_is_viterbi_and_most_probable_proof() -> None:
    gp = _gp()
    w = torch.tensor([0.3, 0.6, 0.2, 0.5], dtype=torch.float64)
    vit = evaluate(gp, "viterbi", w)
    tk = top_k_proofs(gp, w, 1)
    (s,) = atom_ids(gp, "s")  # needs x and y together: viterbi ignores groups, proofs do not
    assert vit[s].item() == pytest.approx(0.1)
    for atom in range(gp.num_atoms):
        if atom == s:
            continue
        best = tk.proofs(atom)
        assert (best[0].probability if best else 0.0) == pytest.approx(vit[atom].item())
    proof = most_probable_proof(gp, w, Struct("r"))
    assert proof is not None and proof.facts == (Struct("y"),)
    assert most_probable_proof(gp, w, Struct("s")) is None


def test_topk_semantics_runs_through_registry() -> None:
    sem = get_semiring("topk", k=2)
    result = sem.run(_gp(), [0.3, 0.6, 0.2, 0.5])  # type: ignore[attr-defined]
    assert len(result.proofs(Struct("r"))) == 2
    assert len(result.probabilities()) == _gp().num_atoms
