"""Parameter learning through exact circuits: maximum likelihood on hand-built programs."""

from __future__ import annotations

import pytest

from einlog.errors import InferenceError
from einlog.ground.program import GroundWeight
from einlog.learn.exact import learn_parameters, read_lfi_examples
from einlog.terms import Struct

from .builder import Builder


def _learnable_program():
    b = Builder()
    b.fact(0.5, "a")
    b.fact(0.5, "b")
    b.ad([(0.3, "c1"), (0.3, "c2"), (0.4, "c3")])
    for leaf in range(4):
        b.gp.leaf_weight[leaf] = GroundWeight("param", param=leaf)
    b.rule("q", "a", "b")
    b.rule("r", "a")
    return b.build()


def test_maximum_likelihood_closed_form():
    gp = _learnable_program()
    S = Struct
    ex = [[(S("q"), True)]] * 2 + [[(S("q"), False), (S("r"), True)]] * 3
    ex += [[(S("r"), False)]] * 5
    ex += [[(S("c1"), True)]] * 1 + [[(S("c2"), True)]] * 3
    res = learn_parameters(gp, ex, epochs=3000, lr=0.05)
    # closed form: P(a) = 5/10 among examples observing r; P(b | a) = 2/5;
    # c1 : c2 = 1 : 3 of the 0.6 the fixed alternative c3 leaves
    want = [0.5, 0.4, 0.15, 0.45]
    assert all(abs(x - y) < 1e-4 for x, y in zip(res.values, want)), res.values
    assert res.history[-1] >= res.history[0]


def test_impossible_example_is_reported():
    gp = _learnable_program()
    with pytest.raises(InferenceError, match="example 2"):
        learn_parameters(gp, [[(Struct("q"), True)], [(Struct("nothere"), True)]], epochs=5)


def test_read_lfi_examples():
    text = "evidence(a, true).\nevidence(b, false).\n----\nevidence(c).\n---\n\n"
    ex = read_lfi_examples(text)
    assert ex == [[(Struct("a"), True), (Struct("b"), False)], [(Struct("c"), True)]]
