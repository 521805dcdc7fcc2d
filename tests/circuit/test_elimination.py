"""Variable elimination (one unbatched count of an acyclic program) against the oracle."""

from __future__ import annotations

import math
import random

import pytest
import torch

from einlog.circuit import CompileLimits, ExactEngine
from einlog.circuit.elimination import MAX_SCOPE, EliminationPlan
from einlog.errors import InferenceError

from .builder import Builder, oracle
from .test_exact_oracle import _close, cyclic_program, random_program


def random_network(seed: int) -> Builder:
    """Random acyclic programs without annotated disjunctions: shared and private
    leaves, negation, several rules per head, empty bodies, queries on leaves (at most
    10 leaves: the oracle enumerates their worlds)."""
    rng = random.Random(seed)
    b = Builder()
    names = []
    for i in range(rng.randint(2, 5)):
        b.fact(round(rng.uniform(0, 1), 3), f"f{i}")
        names.append(f"f{i}")
    private = 0
    for layer in range(rng.randint(1, 3)):
        heads = [f"d{layer}_{i}" for i in range(rng.randint(1, 3))]
        for h in heads:
            for _ in range(rng.randint(1, 4)):
                body = []
                for _ in range(rng.randint(0, 3)):
                    if rng.random() < 0.4 and private < 6:  # a leaf only this rule reads
                        b.fact(round(rng.uniform(0, 1), 3), f"p{private}")
                        x = f"p{private}"
                        private += 1
                    else:
                        x = rng.choice(names)
                    body.append("\\+" + x if rng.random() < 0.3 else x)
                b.rule(h, *body)
        names.extend(heads)
    b.query(*rng.sample(names, min(len(names), 4)))
    if rng.random() < 0.5:
        b.evidence(rng.choice(names), rng.random() < 0.5)
    return b


@pytest.mark.parametrize("seed", range(120))
def test_elimination_matches_the_oracle(seed):
    b = random_network(seed)
    gp = b.build()
    eng = ExactEngine(gp)
    want = oracle(gp, b.leaf_probs)
    if any(math.isnan(x) for x in want):  # evidence impossible: the circuit path says so
        with pytest.raises(InferenceError, match="inconsistent"):
            eng.probabilities()
        return
    got = eng.probabilities().tolist()
    assert eng._plan(eng._evidence(None)) is not None  # really eliminated
    assert eng._compiler is None  # and compiled nothing
    _close(got, want, 1e-12)
    # batched and differentiable calls use the circuit; same numbers
    p = eng.inputs().to(torch.float64)
    _close(eng.probabilities(p.unsqueeze(0))[0].tolist(), want, 1e-12)


@pytest.mark.parametrize("seed", range(80))
def test_random_acyclic_programs_with_annotated_disjunctions(seed):
    """ADs (some summing to exactly 1), negation, evidence: eliminated, oracle-exact."""
    b = random_program(seed, acyclic=True)
    gp = b.build()
    eng = ExactEngine(gp)
    want = oracle(gp, b.leaf_probs)
    if any(math.isnan(x) for x in want):
        with pytest.raises(InferenceError, match="inconsistent"):
            eng.probabilities()
        return
    _close(eng.probabilities().tolist(), want, 1e-12)
    assert eng._plan(eng._evidence(None)) is not None and eng._compiler is None


def test_out_of_scope_programs_are_compiled():
    gp = cyclic_program().build()  # recursion
    assert EliminationPlan.build(gp, [int(q) for q in gp.queries], ()) is None
    b = Builder()
    n = MAX_SCOPE + 1
    for i in range(n):
        b.fact(0.5, f"s{i}")
    for i in range(n):  # one head reading more shared leaves than a table may
        b.rule("h", f"s{i}")
        b.rule(f"o{i}", f"s{i}")
    b.query("h", *[f"o{i}" for i in range(n)])
    gp = b.build()
    assert EliminationPlan.build(gp, [int(q) for q in gp.queries], ()) is None
    assert float(ExactEngine(gp).probabilities()[0]) == pytest.approx(1 - 0.5 ** n)


def test_explicit_options_compile():
    b = random_network(3)
    gp = b.build()
    for options in ({"backend": "sdd"}, {"encoding": "lineage"}, {"vtree_type": "right"}):
        eng = ExactEngine(gp, **options)
        eng.compile()
        assert eng._plan(eng._evidence(None)) is None and eng._compiler is not None


def test_complements_near_one_keep_relative_precision():
    """``P(not (a and b))`` with ``a``, ``b`` near certain is ~2e-13; a table computed as
    ``1 - P(a and b)`` would carry a relative error of ~1e-4."""
    b = Builder()
    b.fact(1 - 1e-13, "a")
    b.fact(1 - 1e-13, "b")
    b.rule("r", "a", "b")
    b.rule("q", "\\+r")
    b.query("q")
    gp = b.build()
    eng = ExactEngine(gp)
    p = torch.tensor([1 - 1e-13] * 2, dtype=torch.float64)
    pa = float(p[0])
    want = (1 - pa) + pa * (1 - pa)  # 1 - pa is exact in float64 (Sterbenz)
    got = float(eng.probabilities(p)[0])
    assert eng._plan(()) is not None
    assert got == pytest.approx(want, rel=1e-12)


def test_underflow_goes_to_the_log_space_circuit():
    """A count below float64's range is left to the circuit, which counts in log space."""
    b = Builder()
    for i in range(4):
        b.fact(1e-100, f"x{i}")
    b.rule("q", *[f"x{i}" for i in range(4)])
    b.query("q")
    gp = b.build()
    eng = ExactEngine(gp)
    plan = eng._plan(())
    assert plan is not None
    p = eng.inputs().to(torch.float64)
    assert plan.counts(p.numpy()) is None
    logp = float(eng.log_probabilities()[0])
    assert logp == pytest.approx(4 * math.log(1e-100), rel=1e-12)


def test_inconsistent_evidence_is_still_named():
    b = Builder()
    b.fact(0.5, "a")
    b.rule("b", "a")
    b.rule("c", "a")
    b.query("b")
    b.evidence("c", True)
    b.evidence("a", False)
    gp = b.build()
    with pytest.raises(InferenceError, match=r"inconsistent.*c=true"):
        ExactEngine(gp).probabilities()


def test_a_memory_budget_below_the_tables_uses_the_circuit_budget():
    b = random_network(5)
    gp = b.build()
    eng = ExactEngine(gp, limits=CompileLimits(max_size=1))
    with pytest.raises(InferenceError, match="memory budget"):
        eng.probabilities()


def test_one_pass_answers_queries_on_leaves_and_derived_atoms():
    b = Builder()
    b.fact(0.3, "burglary")
    b.fact(0.2, "earthquake")
    b.fact(0.9, "alarm_b")
    b.fact(0.8, "alarm_e")
    b.rule("alarm", "burglary", "alarm_b")
    b.rule("alarm", "earthquake", "alarm_e")
    b.query("burglary", "earthquake", "alarm")
    b.evidence("alarm", True)
    gp = b.build()
    eng = ExactEngine(gp)
    plan = eng._plan(eng._evidence(None))
    assert plan is not None and plan.batch == 4  # [e, q1 & e, q2 & e, q3 & e]
    _close(eng.probabilities().tolist(), oracle(gp, b.leaf_probs), 1e-14)


def test_ad_alternatives_nothing_reads_count_as_none():
    """Only two of an AD's three alternatives are read; the third's mass belongs with
    *none* in the group's table.  Evidence on an alternative, a query on another."""
    b = Builder()
    b.ad([(0.2, "red"), (0.5, "green"), (0.25, "blue")])  # none: 0.05
    b.fact(0.6, "bright")
    b.rule("warm", "red")
    b.rule("warm", "bright", "\\+green")
    b.rule("go", "green", "bright")
    b.query("warm", "go", "red")
    b.evidence("blue", False)
    gp = b.build()
    eng = ExactEngine(gp)
    plan = eng._plan(eng._evidence(None))
    assert plan is not None and len(plan.groups) == 1
    _close(eng.probabilities().tolist(), oracle(gp, b.leaf_probs), 1e-14)


def test_wide_eliminations_are_left_to_the_compiler():
    """Dense layers (every node reads the whole layer below): eliminating one node joins
    two layers into one table wider than MAX_WIDTH, so no plan."""
    b = Builder()
    width = 9
    for i in range(width):
        b.fact(0.5, f"l0_{i}")
    for layer in (1, 2, 3):
        for i in range(width):
            for j in range(width):
                b.rule(f"l{layer}_{i}", f"l{layer - 1}_{j}", f"\\+l{layer - 1}_{(j + i) % width}")
    b.query(*[f"l3_{i}" for i in range(width)])
    gp = b.build()
    assert EliminationPlan.build(gp, [int(q) for q in gp.queries], ()) is None
