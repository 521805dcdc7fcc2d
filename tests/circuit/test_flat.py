"""Flat (sum-of-products) evaluation of small circuits against the layered one."""

from __future__ import annotations

import copy

import pytest
import torch

from einlog.circuit.flat import FlatLogCircuit

from .builder import Builder
from .test_exact_oracle import random_program
from .test_tensor_circuit import _circuit_and_probs


def _layered(circ):
    lay = copy.deepcopy(circ)
    lay.flat = None
    return lay


def _check_against_layered(seed, gp, circ, p):
    lay = _layered(circ)
    gen = torch.Generator().manual_seed(seed)
    batch = torch.rand(5, p.shape[0], generator=gen, dtype=torch.float64)
    # groups summing below 1 (a none mass) and, on odd seeds, above 1 (normalised)
    for g in gp.groups:
        batch[:, g] = batch[:, g] / (batch[:, g].sum(dim=1, keepdim=True)
                                     + (-0.2 if seed % 2 else 0.3))
    batch = batch.clamp(0, 1)
    x1 = batch.clone().requires_grad_()
    x2 = batch.clone().requires_grad_()
    o1, o2 = circ(x1, log=True), lay(x2, log=True)
    assert torch.equal(torch.isinf(o1), torch.isinf(o2))
    fin = torch.isfinite(o2)
    assert torch.allclose(o1[fin], o2[fin], rtol=0, atol=1e-12)
    with torch.no_grad():  # the no-grad path computes the same values
        assert torch.allclose(circ(batch, log=True)[fin], o2[fin], rtol=0, atol=1e-12)
    gw = torch.randn(o1.shape, generator=gen, dtype=torch.float64)
    (torch.where(fin, o1, 0.0) * gw).sum().backward()
    (torch.where(fin, o2, 0.0) * gw).sum().backward()
    assert torch.allclose(x1.grad, x2.grad, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("block", range(4))
def test_flat_equals_layered_values_and_gradients(block):
    flat = 0
    for seed in range(20 * block, 20 * block + 20):
        gp, circ, p = _circuit_and_probs(random_program(seed))
        if circ.flat is not None:
            flat += 1
            _check_against_layered(seed, gp, circ, p)
    assert flat >= 10  # most small random programs take the flat form


def test_flat_gradcheck_with_independent_leaves_and_a_none_mass():
    b = Builder()
    b.ad([(0.2, "a"), (0.3, "b"), (0.1, "c")])  # none = 0.4
    b.fact(0.4, "f")
    b.rule("q", "b", "f")
    b.rule("q", "c", "\\+f")
    b.rule("r", "\\+a", "\\+b", "\\+c")  # the AD's none
    b.query("q", "r")
    _gp, circ, p = _circuit_and_probs(b)
    assert circ.flat is not None
    out = torch.exp(circ(p, log=True))
    assert abs(float(out[0]) - (0.3 * 0.4 + 0.1 * 0.6)) < 1e-15
    assert abs(float(out[1]) - 0.4) < 1e-15
    p.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: circ(x, log=True), (p,), eps=1e-6, atol=1e-7)


def test_a_tail_pattern_keeps_the_layered_form():
    b = Builder()
    b.ad([(0.2, "a"), (0.3, "b"), (0.5, "c")])
    b.rule("r", "\\+a")  # "not a" is b-or-c-or-none: a tail, no single factor
    b.query("r")
    _gp, circ, p = _circuit_and_probs(b)
    assert circ.flat is None
    assert abs(float(torch.exp(circ(p, log=True))[0]) - 0.8) < 1e-15


def test_mnist_addition_circuit_is_flat(monkeypatch):
    b = Builder()
    d1 = b.ad([(0.1, f"a{i}") for i in range(10)])
    d2 = b.ad([(0.1, f"b{i}") for i in range(10)])
    for i in range(10):
        for j in range(10):
            b.rule(f"s{i + j}", f"a{i}", f"b{j}")
    b.query(*[f"s{k}" for k in range(19)])
    _gp, circ, _ = _circuit_and_probs(b)
    assert circ.flat is not None and len(d1) == len(d2) == 10
    assert circ.flat.blocks == (2, 10)  # the block path
    probs = torch.softmax(torch.randn(4, 2, 10, dtype=torch.float64), -1).reshape(4, 20)
    want = torch.zeros(4, 19, dtype=torch.float64)
    for i in range(10):
        for j in range(10):
            want[:, i + j] += probs[:, i] * probs[:, 10 + j]
    assert torch.allclose(torch.exp(circ(probs, log=True)), want, rtol=1e-12, atol=0)
    # a budget below the expansion keeps the layered form
    monkeypatch.setattr(FlatLogCircuit, "max_entries", 16)
    assert FlatLogCircuit.try_build(circ) is None


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_flat_on_cuda_equals_cpu():
    for seed in range(12):
        _gp, circ, p = _circuit_and_probs(random_program(seed))
        if circ.flat is None:
            continue
        batch = p.expand(3, -1).clone()
        x_cpu = batch.clone().requires_grad_()
        x_gpu = batch.cuda().requires_grad_()
        gpu_circ = copy.deepcopy(circ).cuda()
        a, b = circ(x_cpu, log=True), gpu_circ(x_gpu, log=True)
        fin = torch.isfinite(a)
        assert torch.allclose(b.detach().cpu()[fin], a.detach()[fin], rtol=0, atol=1e-12)
        a[fin].sum().backward()
        b[fin.cuda()].sum().backward()
        assert torch.allclose(x_gpu.grad.cpu(), x_cpu.grad, rtol=1e-10, atol=1e-12)


def test_block_path_matches_layered_with_unnormalised_groups_and_zeros():
    b = Builder()
    b.ad([(0.2, f"a{i}") for i in range(4)])
    b.ad([(0.2, f"b{i}") for i in range(4)])
    for i in range(4):
        for j in range(4):
            b.rule(f"s{i + j}", f"a{i}", f"b{j}")
    b.query(*[f"s{k}" for k in range(7)])
    gp, circ, _ = _circuit_and_probs(b)
    assert circ.flat is not None and circ.flat.blocks == (2, 4)
    gen = torch.Generator().manual_seed(3)
    p = torch.rand(6, 8, generator=gen, dtype=torch.float64)
    p[0, :4] = p[0, :4] / p[0, :4].sum() * 1.7  # first group sums above 1
    p[1, 4:] = p[1, 4:] / p[1, 4:].sum()  # exactly normalised
    p[2, 1] = 0.0  # a zero leaf
    p[3, :4] = 0.0  # a whole group zero: every root is impossible
    lay = _layered(circ)
    x1, x2 = p.clone().requires_grad_(), p.clone().requires_grad_()
    o1, o2 = circ(x1, log=True), lay(x2, log=True)
    assert torch.equal(torch.isinf(o1), torch.isinf(o2))
    fin = torch.isfinite(o2)
    assert torch.allclose(o1[fin], o2[fin], rtol=0, atol=1e-12)
    gw = torch.randn(o1.shape, generator=gen, dtype=torch.float64)
    (torch.where(fin, o1, 0.0) * gw).sum().backward()
    (torch.where(fin, o2, 0.0) * gw).sum().backward()
    assert torch.allclose(x1.grad, x2.grad, rtol=1e-10, atol=1e-10)
    assert len(gp.groups) == 2


def test_batches_are_chunked_by_the_flat_table_size():
    _gp, circ, p = _circuit_and_probs(random_program(1))
    assert circ.flat is not None
    r, m, k = circ.flat.shape
    circ.max_chunk_elements = 4 * r * m * k
    assert circ._chunk() <= 4
    batch = p.expand(10, -1).clone()
    whole = _layered(circ)(batch, log=True)
    assert torch.allclose(circ(batch, log=True), whole, rtol=0, atol=1e-12)
