"""The grounder's shortcuts for ground clauses and its bookkeeping helpers.

Ground literals skip substitution and matching, atoms without arguments are
looked up by name, the predicate strata are computed only when the front
end's do not cover every predicate, and the final program is assembled with
a few bulk operations; these tests pin down that the results stay those of
the general paths.
"""

from __future__ import annotations

import pytest
from ground_helpers import answers_of, compile_text, ground_text, leaves_of, rules_of

from einlog.ground import ground
from einlog.ground.program import AtomTable, GroundWeight, const_weight
from einlog.ir.nodes import PredLiteral, Rule
from einlog.terms import Struct, Var


def test_propositional_program_with_negation_and_repeated_literals() -> None:
    g = ground_text(
        """
        0.3::a. 0.4::b. d.
        c :- a, a, \\+ b.
        c :- b, d.
        e :- c, \\+ f.
        e :- \\+ d.
        f :- c, b.
        0.5::g :- e.
        query(g). query(f).
        """
    )
    assert rules_of(g) == {
        "c :- a, \\+b",  # repeated literal dropped
        "c :- b",  # certain d dropped
        "e :- c, \\+f",  # e :- \+ d is dead
        "f :- c, b",
        "g :- e, '$choice'(0,0,vars)",
    }
    assert leaves_of(g) == {"a": "0.3", "b": "0.4", "g": "0.5"}


def test_ground_and_non_ground_literals_in_one_clause() -> None:
    g = ground_text(
        """
        0.5::s. q(1). q(2). 0.2::r(2).
        p(X) :- s, q(X), \\+ r(X), s.
        query(p(X)).
        """
    )
    assert answers_of(g) == ["p(1)", "p(2)"]
    assert rules_of(g) == {"p(1) :- s", "p(2) :- s, \\+r(2)"}


def test_ground_call_answers_feed_every_consumer() -> None:
    # t is called (ground) from three clauses, before and after its answers exist
    g = ground_text(
        """
        0.5::u. t :- u.
        a :- t. b :- t, a. c :- b, t.
        query(c).
        """
    )
    assert rules_of(g) == {"t :- u", "a :- t", "b :- t, a", "c :- b, t"}


def test_hand_built_anonymous_variables_are_renamed_apart() -> None:
    ir = compile_text("r(1, 2). p :- r(1, 2). query(p).")
    # p :- r(_, _): the two ``_`` are different variables, so r(1, 2) matches
    ir.rules = [Rule(Struct("p", ()), (PredLiteral(Struct("r", (Var("_"), Var("_")))),))]
    g = ground(ir, engine="topdown")
    assert rules_of(g) == {"p."}


@pytest.mark.parametrize("drop", [("b", 0), ("a", 0)])
def test_incomplete_front_end_strata_fall_back_to_computed_ones(drop: tuple[str, int]) -> None:
    text = "0.5::a. b :- \\+ a. c :- \\+ b. query(c)."
    full = ground(compile_text(text), engine="topdown").program
    ir = compile_text(text)
    del ir.strata[drop]
    gp = ground(ir, engine="topdown").program
    strata = {str(gp.atoms[i]): int(gp.stratum[i]) for i in range(gp.num_atoms)}
    assert strata == {str(full.atoms[i]): int(full.stratum[i]) for i in range(full.num_atoms)}
    assert strata["c"] > strata["b"]


def test_atom_table_extend_matches_intern() -> None:
    atoms = [Struct("a"), Struct("f", (1,)), Struct("a"), Struct("g", (Struct("a"),))]
    one, bulk = AtomTable(), AtomTable()
    ids = [one.intern(x) for x in atoms]
    assert bulk.extend(atoms) == ids == [0, 1, 0, 2]
    assert len(bulk) == len(one) == 3
    assert [bulk[i] for i in range(3)] == [one[i] for i in range(3)]
    fresh = AtomTable()
    assert fresh.extend(atoms[:2]) == [0, 1]
    assert fresh.extend([Struct("f", (1,)), Struct("h")]) == [1, 2]
    assert fresh.index(Struct("h")) == 2


def test_const_weight_is_an_ordinary_ground_weight() -> None:
    w = const_weight(0.25)
    ref = GroundWeight("const", value=0.25)
    assert w == ref and hash(w) == hash(ref) and repr(w) == repr(ref)
    with pytest.raises(AttributeError):
        w.value = 0.5  # type: ignore[misc]
