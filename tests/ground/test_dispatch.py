"""The ``engine="auto"`` dispatcher: small programs with ground goals go top-down.

Which engine runs is a speed choice only; the answers are the same (the
differential tests compare the engines), so these tests check the choice and
that top-down numbers leaves in program order (the circuit compiler's
default variable order), whatever order the queries reach them in.
"""

from __future__ import annotations

from ground_helpers import ground_text

from einlog.ground import SMALL_FACTS

GRAPH = """0.5::e(a,b). 0.5::e(b,c). 0.5::e(c,a). 0.5::e(c,d).
p(X,Y) :- e(X,Y).
p(X,Y) :- e(X,Z), p(Z,Y).
"""


def test_ground_goals_on_a_small_program_go_topdown() -> None:
    g = ground_text(GRAPH + "query(p(a,d)).\n", engine="auto")
    assert g.stats.engine == "topdown"


def test_open_goals_keep_the_columnar_engine() -> None:
    g = ground_text(GRAPH + "query(p(X,Y)).\n", engine="auto")
    assert g.stats.engine == "columnar"


def test_many_facts_keep_the_columnar_engine() -> None:
    facts = "".join(f"e(n{i},n{i + 1}).\n" for i in range(SMALL_FACTS + 1))
    g = ground_text(facts + "p(X,Y) :- e(X,Y).\nquery(p(n0,n1)).\n", engine="auto")
    assert g.stats.engine == "columnar"


def test_engines_agree_on_a_small_program() -> None:
    text = GRAPH + "query(p(a,d)).\nevidence(e(c,a), true).\n"
    auto, col = ground_text(text, engine="auto"), ground_text(text, engine="columnar")
    assert auto.stats.engine == "topdown"
    assert {str(q) for q in auto.answers} == {str(q) for q in col.answers}
    assert sorted(map(str, auto.program.leaf_label)) == sorted(map(str, col.program.leaf_label))


def test_topdown_leaves_in_program_order() -> None:
    # the query reaches x2's clauses first; leaves still come in text order
    text = """0.3::x0.
0.6::x1 :- x0.
0.2::x1 :- \\+x0.
0.7::x2 :- x1.
0.1::x2 :- \\+x1.
query(x2).
"""
    gp = ground_text(text).program
    labels = [str(s) for s in gp.leaf_label]
    assert labels == ["x0", "x1", "x1", "x2", "x2"]
    assert [w.value for w in gp.leaf_weight] == [0.3, 0.6, 0.2, 0.7, 0.1]
