"""The BDD backend (CUDD through ``dd``) against the oracle and the SDD backend."""

from __future__ import annotations

import math
import random

import pytest
import torch

from einlog.circuit import CompileLimits, ExactEngine, bdd
from einlog.errors import InferenceError

from .builder import Builder, oracle
from .test_exact_oracle import (
    _close,
    counts_match_oracle,
    graph_program,
    mpe_matches_oracle,
    random_program,
)


def _grads(eng: ExactEngine, p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    batch = p.expand(3, -1).clone().requires_grad_(True)
    out = eng.log_probabilities(batch)
    out.sum().backward()
    assert batch.grad is not None
    return out.detach(), batch.grad


@pytest.mark.parametrize("acyclic", [True, False])
@pytest.mark.parametrize("seed", range(40))
def test_bdd_backend_against_oracle(seed, acyclic):
    """Counts on the BDD, the tensor circuit built from it (values and gradients equal to
    the SDD backend's), and MPE."""
    b = random_program(seed, acyclic=acyclic)
    gp = b.build()
    want = oracle(gp, b.leaf_probs)
    eng = ExactEngine(gp, backend="bdd")
    p = torch.tensor(b.leaf_probs, dtype=torch.float64)
    if not counts_match_oracle(eng, want, p):
        return
    assert eng.compiler.backend == "bdd"
    got, grad = _grads(eng, p)
    for row in got.exp().tolist():
        _close(row, want, 1e-10)
    ref_got, ref_grad = _grads(ExactEngine(gp, backend="sdd"), p)
    assert torch.allclose(got, ref_got, atol=1e-10, rtol=0)
    full = {leaf for g in gp.groups if abs(sum(b.leaf_probs[x] for x in g) - 1) < 1e-12
            for leaf in g} | {i for i, q in enumerate(b.leaf_probs) if q in (0.0, 1.0)}
    keep = [i for i in range(p.shape[0]) if i not in full]  # kinks: see test_exact_oracle
    assert torch.allclose(grad[:, keep], ref_grad[:, keep], atol=1e-9, rtol=1e-9)
    mpe_matches_oracle(eng, b, p)


def _random_graph(seed: int, n: int = 6) -> Builder:
    rng = random.Random(seed)
    edges = {(i, i + 1) for i in range(n - 1)}
    while len(edges) < 2 * n:
        i, j = rng.randrange(n), rng.randrange(n)
        if i != j:
            edges.add((i, j))
    return graph_program(n, [(i, j, round(rng.uniform(0.1, 0.9), 3)) for i, j in edges])


@pytest.mark.parametrize("seed", range(6))
def test_auto_compiles_recursive_programs_to_bdds(seed):
    """Recursion with a right-linear order: BDDs; acyclic programs and explicit SDD
    options: SDDs; all agree with the oracle."""
    b = _random_graph(seed)
    gp = b.build()
    want = oracle(gp, b.leaf_probs)
    auto = ExactEngine(gp)
    _close(auto.probabilities().tolist(), want, 1e-10)
    assert auto.compiler.backend == "bdd"  # with program order or the dtree's order
    explicit = ExactEngine(gp, vtree_type="right", var_order="natural")
    _close(explicit.probabilities().tolist(), want, 1e-10)
    assert explicit.compiler.backend == "sdd"
    acyclic = random_program(seed, acyclic=True).build()
    assert ExactEngine(acyclic).compiler.backend == "sdd"


def test_dddmp_reader_and_walk_agree(monkeypatch):
    """The two ways of reading a BDD out of CUDD give the same counts."""
    gp = _random_graph(3, n=14).build()  # too many worlds for the oracle: SDDs check
    want = ExactEngine(gp, backend="sdd").probabilities().tolist()
    monkeypatch.setattr(bdd, "_DDDMP_FROM", 0)
    eng = ExactEngine(gp, backend="bdd")
    via_file = eng.probabilities().tolist()
    root = next(r for r in eng._root_nodes(()) if not (r.is_true() or r.is_false()))
    assert bdd._export_dddmp(eng.compiler.manager, root) is not None  # really read back
    monkeypatch.setattr(bdd, "_DDDMP_FROM", 1 << 30)
    via_walk = ExactEngine(gp, backend="bdd").probabilities().tolist()
    _close(via_file, want, 1e-14)
    _close(via_walk, via_file, 1e-15)


def test_complemented_roots_keep_small_probabilities_exact():
    """``q = not (a or b or c)`` is a complement edge in CUDD; its probability, ~1e-39,
    must not come out as ``1 - P(a or b or c)`` (which is 0 in floating point)."""
    b = Builder()
    for name in ("a", "b", "c"):
        b.fact(1 - 1e-13, name)
    for name in ("a", "b", "c"):
        b.rule("r", name)
    b.rule("q", "\\+r")
    b.query("q")
    gp = b.build()
    exact = (1e-13) ** 3
    p = torch.tensor([1 - 1e-13] * 3, dtype=torch.float64)
    q_true = math.prod(1 - float(x) for x in p)  # the leaves as stored in float64
    for eng in (ExactEngine(gp, backend="bdd"), ExactEngine(gp, backend="sdd")):
        got = float(eng.probabilities(p)[0])
        assert got == pytest.approx(q_true, rel=1e-12)
        assert got == pytest.approx(exact, rel=1e-2)
        logs = eng.log_probabilities(p.unsqueeze(0))  # the tensor circuit, log space
        assert float(logs[0, 0].exp()) == pytest.approx(q_true, rel=1e-12)


def test_bdd_budget_names_the_query():
    b = _random_graph(1, n=12)
    gp = b.build()
    eng = ExactEngine(gp, backend="bdd", limits=CompileLimits(max_size=3))
    with pytest.raises(InferenceError, match=r"BDD nodes"):
        eng.probabilities()


def test_unknown_backend_is_rejected():
    gp = _random_graph(0).build()
    with pytest.raises(ValueError, match="backend must be one of"):
        ExactEngine(gp, backend="obdd").probabilities()
    with pytest.raises(ValueError, match="needs SDDs"):
        ExactEngine(gp, backend="bdd", encoding="defined").probabilities()


def test_dtree_ordered_programs_count_on_bdds_and_batch_on_sdds():
    """Smokers: auto counts on a BDD over the dtree's order, and builds tensor circuits
    (batches, gradients, MPE) from the dtree SDD, which is several times smaller."""
    from einlog.bench.exact import smokers_case
    from einlog.front import compile_program
    from einlog.ground import ground
    from einlog.syntax import parse_program

    gp = ground(compile_program(parse_program(smokers_case(12).text))).program
    auto, sdd = ExactEngine(gp), ExactEngine(gp, backend="sdd")
    want = sdd.probabilities()
    assert auto.compiler.backend == "bdd" and auto.compiler.var_order == "dtree"
    assert torch.allclose(auto.probabilities(), want, atol=1e-12, rtol=0)
    circ = auto.circuit()
    assert circ.size() == sdd.circuit().size()
    p = auto.inputs().to(torch.float64)
    assert torch.allclose(circ(p.unsqueeze(0))[0], want, atol=1e-12, rtol=0)
    assert float(auto.mpe().probability) == pytest.approx(float(sdd.mpe().probability),
                                                          rel=1e-12)
    forced = ExactEngine(gp, backend="bdd")  # asked for: circuits from the BDD itself
    assert torch.allclose(forced.circuit()(p.unsqueeze(0))[0], want, atol=1e-12, rtol=0)
