"""The training path's log-space circuit nodes against autograd: the layered circuit's
fused node (``_LeafLogSum``) and the flat sum of products of small circuits
(``_FlatLogSum``).

Why: the fused node replaces autograd through the literal weights with a hand-written
gradient; these tests pin it to the autograd gradient of the unfused code on leaf
probabilities that hit every guard (0, 1, a group summing to exactly 1, values far
below float64's normal range), with annotated disjunctions and independent facts mixed.
"""

from __future__ import annotations

import pytest
import torch

import einlog
from einlog.circuit.tensor import _LayeredSum
from einlog.neural import compiled_query

PROGRAM = """
nn(net, [X], Y, [0, 1, 2]) :: digit(X, Y).
0.4 :: bonus.
0.7 :: malus.
add(A, B, S) :- digit(A, X), digit(B, Y), S is X + Y.
add(A, B, S) :- digit(A, X), digit(B, 2), bonus, \\+ malus, S is X + 10.
"""

#: every leaf in an annotated disjunction (the MNIST-addition shape)
ALL_GROUPED = """
nn(net, [X], Y, [0, 1, 2]) :: digit(X, Y).
add(A, B, S) :- digit(A, X), digit(B, Y), S is X + Y.
"""


def _circuit(text):
    prog = einlog.Program.from_string(text, networks={"net": lambda x: x})
    nq = compiled_query(prog, "add(A, B, S)", ["A", "B", "S"])
    return nq.engine.circuit()


def _reference(circ, p):
    pos, neg = circ.literal_weights(p, log=True, mode="sum")
    return _LayeredSum.apply(pos, neg, circ, True)


def _leaf_rows(circ, gen):
    groups = circ.encoding.groups
    n = circ.num_leaves
    rows = []
    for case in range(8):
        p = torch.rand(n, generator=gen, dtype=torch.float64)
        for members in groups:
            m = list(members)
            p[m] = p[m] / p[m].sum() * (0.6 if case % 2 else 1.0)
        grouped = {i for g in groups for i in g}
        free = [i for i in range(n) if i not in grouped]
        if case == 2:
            p[groups[0][0]] = 0.0
        if case == 3:
            p[list(groups[0])] = torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)
        if case == 4 and free:
            p[free[0]] = 0.0
            p[free[-1]] = 1.0
        if case == 5:
            p[list(groups[1])] = torch.tensor([1e-310, 1e-300, 1 - 1e-300],
                                              dtype=torch.float64)
        if case == 6:
            p[groups[1][-1]] = 0.0
        rows.append(p)
    return torch.stack(rows)


@pytest.mark.parametrize("path", ["fused", "flat"])
@pytest.mark.parametrize("text", [PROGRAM, ALL_GROUPED], ids=["mixed", "all-grouped"])
@pytest.mark.parametrize("seed", range(3))
def test_fused_log_values_and_gradients_match_autograd(seed, text, path):
    circ = _circuit(text)
    grouped = sum(map(len, circ.encoding.groups))
    assert circ.num_groups >= 2
    assert circ.all_grouped == (text is ALL_GROUPED) == (circ.num_leaves == grouped)
    assert circ.flat is not None  # small enough for the flat sum of products
    assert (circ.flat.blocks is not None) == (text is ALL_GROUPED)  # both flat paths
    if path == "fused":
        circ.flat = None  # the layered circuit's fused leaf+layer node
    gen = torch.Generator().manual_seed(seed)
    p = _leaf_rows(circ, gen)
    w = torch.rand(p.shape[0], circ.num_roots, generator=gen, dtype=torch.float64)
    a = p.clone().requires_grad_(True)
    out = circ(a, log=True)
    node = "LeafLogSum" if path == "fused" else "FlatLogSum"
    assert out.grad_fn is not None and node in type(out.grad_fn).__name__
    b = p.clone().requires_grad_(True)
    ref = _reference(circ, b)
    # the fused node runs the same ops as the reference; the flat one other ops
    tol = 0.0 if path == "fused" else 1e-12
    torch.testing.assert_close(out.detach(), ref.detach(), rtol=tol, atol=tol)
    keep = torch.isfinite(ref.detach())
    (ga,) = torch.autograd.grad((out * w)[keep].sum(), a)
    (gb,) = torch.autograd.grad((ref * w)[keep].sum(), b)
    # d log p / dp overflows to inf at p = 1e-310 on both sides: compared as equal
    torch.testing.assert_close(ga, gb, rtol=1e-12, atol=1e-300, equal_nan=True)
