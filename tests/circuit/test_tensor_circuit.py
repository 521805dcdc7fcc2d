"""Tensor circuits: gradients, batching, log space, numerics near 0 and 1, devices."""

from __future__ import annotations

import math
import random

import pytest
import torch

from einlog.circuit import ExactEngine, compile_circuit

from .builder import Builder, oracle
from .test_exact_oracle import cyclic_program, graph_program, random_program


def _circuit_and_probs(b: Builder):
    gp = b.build()
    roots = list(gp.queries)
    if gp.evidence:
        roots = [list(gp.evidence)] + [[(q, True), *gp.evidence] for q in gp.queries]
    return gp, compile_circuit(gp, roots), torch.tensor(b.leaf_probs, dtype=torch.float64)


@pytest.mark.parametrize("seed", range(6))
def test_gradcheck_prob_and_log(seed):
    b = random_program(seed)
    gp, circ, p = _circuit_and_probs(b)
    # keep away from 0/1 so finite differences stay inside the domain
    p = p.clamp(0.05, 0.95)
    if gp.groups:  # renormalise groups that the clamp pushed above 1
        for g in gp.groups:
            s = float(p[g].sum())
            if s > 0.95:
                p[g] = p[g] / s * 0.9
    p.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: circ(x), (p,), eps=1e-6, atol=1e-7)
    finite = torch.isfinite(circ(p.detach(), log=True))  # impossible roots sit at -inf
    assert torch.autograd.gradcheck(
        lambda x: circ(x, log=True)[finite], (p,), eps=1e-6, atol=1e-6
    )


def test_gradcheck_ad_sums_to_one():
    b = Builder()
    b.ad([(0.2, "a"), (0.3, "b"), (0.5, "c")])
    b.fact(0.4, "f")
    b.rule("q", "b", "f")
    b.rule("q", "c")
    b.rule("r", "\\+a")
    b.query("q", "r")
    _gp, circ, p = _circuit_and_probs(b)
    p.requires_grad_(True)
    out = circ(p)
    assert abs(float(out[0].detach()) - (0.3 * 0.4 + 0.5)) < 1e-15
    assert abs(float(out[1].detach()) - 0.8) < 1e-15
    # gradient of P(q) = p_b * p_f + p_c
    (g,) = torch.autograd.grad(out[0], p)
    assert torch.allclose(g, torch.tensor([0.0, 0.4, 1.0, 0.3], dtype=torch.float64), atol=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_batched_equals_one_at_a_time(seed):
    b = random_program(seed + 100)
    gp, circ, _ = _circuit_and_probs(b)
    gen = torch.Generator().manual_seed(seed)
    L = len(b.leaf_probs)
    batch = torch.rand(7, L, generator=gen, dtype=torch.float64)
    for g in gp.groups:
        batch[:, g] = batch[:, g] / (batch[:, g].sum(dim=1, keepdim=True) + 0.3)
    out = circ(batch)
    logout = circ(batch, log=True)
    for i in range(7):
        assert torch.allclose(out[i], circ(batch[i]), rtol=0, atol=1e-15)
        assert torch.allclose(logout[i], circ(batch[i], log=True), rtol=0, atol=1e-13)
    # log space equals probability space
    assert torch.allclose(torch.exp(logout), out, rtol=1e-12, atol=1e-15)


def test_batched_against_oracle():
    b = cyclic_program()
    gp, circ, _ = _circuit_and_probs(b)
    rng = random.Random(0)
    rows = []
    for _ in range(5):
        ps = [rng.random() for _ in range(3)]
        ad = [rng.random() for _ in range(3)]
        s = sum(ad) + rng.random()
        rows.append(ps + [x / s for x in ad])
    out = circ(torch.tensor(rows, dtype=torch.float64))
    for i, row in enumerate(rows):
        want = oracle(gp, row)
        assert max(abs(float(x) - y) for x, y in zip(out[i], want)) < 1e-12


def test_near_zero_exact_in_log_space():
    # a chain of 40 conjoined facts with p = 1e-9: P = 1e-360 underflows in float64
    b = Builder()
    for i in range(40):
        b.fact(1e-9, f"f{i}")
    b.rule("q", *[f"f{i}" for i in range(40)])
    b.rule("q2", *[f"f{i}" for i in range(20)])
    b.query("q", "q2")
    _gp, circ, p = _circuit_and_probs(b)
    logq = circ(p, log=True)
    want = 40 * math.log(1e-9)
    assert abs(float(logq[0]) - want) <= 1e-12 * abs(want)
    assert abs(float(logq[1]) - 20 * math.log(1e-9)) <= 1e-12 * abs(20 * math.log(1e-9))
    assert float(circ(p)[0]) == 0.0  # probability space underflows, as expected


def test_near_one_exact_in_log_space():
    # P(not q) where q = f1 or f2, P(fi) = 1 - 1e-12: P(not q) = 1e-24
    b = Builder()
    b.fact(1 - 1e-12, "f1")
    b.fact(1 - 1e-12, "f2")
    b.rule("q", "f1")
    b.rule("q", "f2")
    b.rule("nq", "\\+q")
    b.query("nq", "q")
    _gp, circ, p = _circuit_and_probs(b)
    lq = circ(p, log=True)
    e = 1 - (1 - 1e-12)  # the representable complement
    want = 2 * math.log(e)
    assert abs(float(lq[0]) - want) <= 1e-12 * abs(want)
    assert abs(math.exp(float(lq[0])) - e * e) <= 1e-12 * e * e


def test_small_conditional_via_engine():
    b = Builder()
    for i in range(30):
        b.fact(1e-11, f"f{i}")
    b.fact(0.25, "g")
    b.rule("e", *[f"f{i}" for i in range(30)])
    b.rule("q", "e", "g")
    b.query("q")
    b.evidence("e", True)
    gp = b.build()
    got = ExactEngine(gp).probabilities()
    assert abs(float(got[0]) - 0.25) < 1e-12


def test_module_moves_buffers():
    b = graph_program(4, [(0, 1, 0.5), (1, 2, 0.5), (2, 0, 0.5), (2, 3, 0.4)])
    _gp, circ, p = _circuit_and_probs(b)
    names = {n for n, _ in circ.named_buffers()}
    assert {"prime", "sub", "seg", "roots"} <= names
    c2 = circ.to(torch.float32)  # buffers are integer: dtype move leaves them alone
    assert c2.prime.dtype == torch.long
    if torch.cuda.is_available():
        want, want_log = circ(p), circ(p, log=True)
        cc = circ.to("cuda")  # nn.Module.to moves in place
        assert torch.allclose(cc(p.cuda()).cpu(), want, atol=1e-12)
        assert torch.allclose(cc(p.cuda(), log=True).cpu(), want_log, atol=1e-12)


def test_float32_inputs():
    b = cyclic_program()
    _gp, circ, p = _circuit_and_probs(b)
    out32 = circ(p.float())
    assert out32.dtype == torch.float32
    assert torch.allclose(out32.double(), circ(p), atol=1e-6)


def test_chunked_batches_equal_whole():
    b = cyclic_program()
    _gp, circ, _ = _circuit_and_probs(b)
    gen = torch.Generator().manual_seed(1)
    batch = torch.rand(50, len(b.leaf_probs), dtype=torch.float64, generator=gen) * 0.5
    whole = circ(batch, log=True)
    circ.max_chunk_elements = 8  # forces chunks of one or two rows
    assert circ._chunk() < 50
    assert torch.equal(circ(batch, log=True), whole)


def test_engine_serves_two_devices_without_moving_a_graph_under_backward():
    """A CPU forward awaiting backward keeps its circuit when another device is used."""
    from einlog.circuit.exact import leaf_tensor

    b = random_program(3)
    gp = b.build()
    eng = ExactEngine(gp)
    p = leaf_tensor(gp)
    pc = p.clone().requires_grad_(True)
    out = eng.probabilities(pc)
    circ = eng.circuit()
    if torch.cuda.is_available():
        eng.probabilities(p.to("cuda"))
    moved = eng._placed(circ, torch.device("meta"))  # any other device: a copy
    assert moved is not circ and next(moved.buffers()).device.type == "meta"
    assert next(circ.buffers()).device.type == "cpu"
    assert eng._placed(circ, torch.device("cpu")) is circ
    out.sum().backward()
    assert pc.grad is not None and torch.isfinite(pc.grad).all()
