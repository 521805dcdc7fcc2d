"""Dtrees and dtree-shaped vtrees (einlog.circuit.vtree)."""

from __future__ import annotations

import random

import pytest

from einlog.circuit.vtree import build_dtree, conjoin_order, dtree_vtree


def _vtree_vars(vtree) -> list[int]:  # type: ignore[no-untyped-def]
    out: list[int] = []
    stack = [vtree]
    while stack:
        v = stack.pop()
        if v.is_leaf():
            out.append(int(v.var()))
        else:
            stack.extend((v.left(), v.right()))
    return out


def test_chain_has_width_one_and_joins_bottom_up():
    # factors {1,2}, {2,3}, ..., {9,10}: a path, treewidth 1
    factors = [[i, i + 1] for i in range(1, 10)]
    d = build_dtree(10, factors)
    assert d.width == 1
    done = set(range(len(factors)))
    for node, left, right in conjoin_order(d):
        assert left in done and right in done  # children before parents
        done.add(node)
    assert d.root in done
    assert sorted(_vtree_vars(dtree_vtree(10, d))) == list(range(1, 11))


def test_clique_width():
    # every pair of 1..6 meets in a factor: a 6-clique of shared variables
    d = build_dtree(6, [[i, j] for i in range(1, 7) for j in range(i + 1, 7)])
    assert d.width == 5
    assert build_dtree(6, [[1, 2, 3, 4, 5, 6]]).width == 0  # one factor: nothing shared


@pytest.mark.parametrize("seed", range(20))
def test_every_variable_once_placeholders_dropped(seed):
    rng = random.Random(seed)
    n_vars, n_keep = rng.randint(1, 30), 0
    n_keep = rng.randint(1, n_vars)
    factors = [rng.sample(range(1, n_vars + 1), rng.randint(1, min(4, n_vars)))
               for _ in range(rng.randint(0, 12))]
    d = build_dtree(n_vars, factors)
    placed = [v for vs in d.placed for v in vs] + d.unplaced
    assert sorted(placed) == list(range(1, n_vars + 1))
    vt = dtree_vtree(n_keep, d)
    assert sorted(_vtree_vars(vt)) == list(range(1, n_keep + 1))


def test_width_ignores_variables_of_one_factor():
    # a CPT-like factor: head 1, parents 2..4, eight private row leaves 5..12
    cpt = [1, 2, 3, 4, *range(5, 13)]
    d = build_dtree(12, [cpt, [2, 3], [3, 4]])
    assert d.width <= 3
