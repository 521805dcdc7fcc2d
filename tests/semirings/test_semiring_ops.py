"""Semiring operations: identities, vectorized folds agree with binary folds, gradients."""

from __future__ import annotations

import math

import pytest
import torch

from einlog.errors import UnsupportedError
from einlog.semirings import Semiring, get_tensor_semiring, log1mexp

TENSOR = [
    "addmult",
    "boolean",
    "godel",
    "log-addmult",
    "log-product",
    "log-viterbi",
    "lukasiewicz",
    "possibilistic",
    "product",
    "viterbi",
]


def _domain(sr: Semiring, p: torch.Tensor) -> torch.Tensor:
    return sr.from_probability(p)


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return bool(torch.allclose(a, b, atol=1e-9, rtol=1e-9, equal_nan=False)) or bool(
        ((a == b) | torch.isclose(a, b, atol=1e-9)).all()
    )


@pytest.mark.parametrize("name", TENSOR)
def test_identities(name: str) -> None:
    sr = get_tensor_semiring(name)
    g = torch.Generator().manual_seed(0)
    x = _domain(sr, torch.rand(5, generator=g, dtype=torch.float64))
    zero = sr.zero((5,), torch.float64)
    one = sr.one((5,), torch.float64)
    assert _close(sr.add(zero, x), x)
    assert _close(sr.mul(one, x), x)
    assert _close(sr.mul(zero, x), zero)
    assert _close(sr.add(x, sr.add(x, x)), sr.add(sr.add(x, x), x))
    if sr.idempotent:
        assert _close(sr.add(x, x), x)


@pytest.mark.parametrize("name", TENSOR)
def test_segment_folds_match_binary_folds(name: str) -> None:
    sr = get_tensor_semiring(name)
    g = torch.Generator().manual_seed(1)
    values = _domain(sr, torch.rand(3, 9, generator=g, dtype=torch.float64))
    ids = torch.tensor([0, 0, 2, 2, 2, 4, 0, 5, 5])
    num = 7  # segments 1, 3, 6 are empty
    got_add = sr.segment_add(values, ids, num)
    got_mul = sr.segment_mul(values, ids, num)
    assert got_add.shape == (3, num) and got_mul.shape == (3, num)
    for s in range(num):
        members = values[:, ids == s]
        want_add = sr.zero((3,), torch.float64)
        want_mul = sr.one((3,), torch.float64)
        for j in range(members.shape[1]):
            want_add = sr.add(want_add, members[:, j])
            want_mul = sr.mul(want_mul, members[:, j])
        assert _close(got_add[:, s], want_add), (s, got_add[:, s], want_add)
        assert _close(got_mul[:, s], want_mul), (s, got_mul[:, s], want_mul)
        assert _close(sr.sum_reduce(members, -1), want_add)
        assert _close(sr.prod_reduce(members, -1), want_mul)
    # 1-d input, and empty input
    assert _close(sr.segment_add(values[0], ids, num), got_add[0])
    empty = sr.segment_mul(values[:, :0], ids[:0], 2)
    assert _close(empty, sr.one((3, 2), torch.float64))


@pytest.mark.parametrize("name", TENSOR)
def test_negation_and_output(name: str) -> None:
    sr = get_tensor_semiring(name)
    p = torch.tensor([0.0, 0.25, 1.0], dtype=torch.float64)
    x = sr.from_probability(p)
    out = sr.to_output(sr.negate(x))
    if name == "boolean":
        assert out.tolist() == [True, False, False]
    else:
        assert torch.allclose(out, 1 - p)
        assert torch.allclose(sr.to_output(x), p)


def test_boolean_leaf_is_true_iff_weight_positive() -> None:
    sr = get_tensor_semiring("boolean")
    x = sr.from_probability(torch.tensor([0.0, 1e-9, 1.0]))
    assert sr.to_output(x).tolist() == [False, True, True]


def test_lukasiewicz_and_addmult_clip() -> None:
    luk = get_tensor_semiring("lukasiewicz")
    a, b = torch.tensor([0.7]), torch.tensor([0.6])
    assert luk.add(a, b).item() == pytest.approx(1.0)
    assert luk.mul(a, b).item() == pytest.approx(0.3)
    assert luk.mul(torch.tensor([0.2]), torch.tensor([0.3])).item() == 0.0
    am = get_tensor_semiring("addmult")
    assert am.add(a, b).item() == pytest.approx(1.0)
    assert am.mul(a, b).item() == pytest.approx(0.42)


@pytest.mark.parametrize("name", ["log-addmult", "log-product", "log-viterbi"])
def test_log_space_gradients_are_finite_at_zero_probability(name: str) -> None:
    sr = get_tensor_semiring(name)
    v = torch.tensor([[-math.inf, -math.inf, math.log(0.3), -math.inf]], dtype=torch.float64)
    v.requires_grad_(True)
    ids = torch.tensor([0, 0, 1, 1])
    out = sr.segment_add(v, ids, 3)
    assert out[0, 0].item() == -math.inf and out[0, 2].item() == -math.inf
    assert out[0, 1].exp().item() == pytest.approx(0.3)
    out[:, 1].sum().backward()
    assert v.grad is not None and torch.isfinite(v.grad).all()


def test_log1mexp_accuracy() -> None:
    x = torch.tensor([-1e-10, -0.1, -1.0, -50.0, -math.inf], dtype=torch.float64)
    want = torch.log(-torch.expm1(x))
    assert torch.allclose(log1mexp(x), want)


def test_semiring_without_negation_raises() -> None:
    class NoNeg(Semiring):
        name = "test-noneg"
        has_negation = False

    with pytest.raises(UnsupportedError):
        NoNeg().negate(torch.zeros(1))
