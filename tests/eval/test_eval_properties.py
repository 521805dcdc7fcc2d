"""Property tests: the fixpoint evaluator and top-k proofs against brute force on random programs.

Random programs have up to 8 derived atoms over 4 leaves, cycles allowed,
negation only towards lower levels (so they are stratified), and sometimes a
mutually exclusive group.  References are brute force over worlds or over
sets of facts, written without the evaluators' machinery.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from einlog.errors import InferenceError
from einlog.eval import (
    compute_strata,
    evaluate,
    exact_probabilities,
    least_model,
    make_program,
    possible_atoms,
    top_k_proofs,
)
from einlog.ground.program import GroundProgram

F64 = torch.float64
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
WEIGHTS = st.sampled_from([0.0, 0.1, 0.25, 0.3, 0.5, 0.65, 0.8, 0.95, 1.0])

Spec = tuple[list[tuple[str, list[str]]], list[tuple[str, float]], list[list[str]]]


@st.composite
def random_programs(draw: st.DrawFn, negation: bool = True) -> Spec:
    n_derived = draw(st.integers(2, 8))
    derived = [f"a{i}" for i in range(n_derived)]
    level = {a: (draw(st.integers(0, 2)) if negation else 0) for a in derived}
    leaf_names = [f"l{i}" for i in range(4)]
    weights = [draw(WEIGHTS) for _ in leaf_names]
    groups: list[list[str]] = []
    if draw(st.booleans()):
        total = weights[2] + weights[3]
        if total > 1:
            weights[2], weights[3] = weights[2] / total, weights[3] / total
        groups = [["l2", "l3"]]
    rules: list[tuple[str, list[str]]] = []
    for _ in range(draw(st.integers(1, 14))):
        head = draw(st.sampled_from(derived))
        body: list[str] = []
        for _ in range(draw(st.integers(0, 3))):
            pos_ok = leaf_names + [a for a in derived if level[a] <= level[head]]
            neg_ok = leaf_names + [a for a in derived if level[a] < level[head]]
            if negation and draw(st.integers(0, 3)) == 0:
                body.append("~" + draw(st.sampled_from(neg_ok)))
            else:
                body.append(draw(st.sampled_from(pos_ok)))
        rules.append((head, body))
    return rules, list(zip(leaf_names, weights)), groups


def _build(spec: Spec) -> tuple[GroundProgram, list[float]]:
    rules, leaves, groups = spec
    gp = make_program(rules=rules, leaves=leaves, groups=groups)
    return gp, [w for _, w in leaves]


def _viterbi_reference(gp: GroundProgram, w: Sequence[float]) -> list[float]:
    """Scalar Bellman-Ford: max over derivations of the product of (negated) values."""
    value = [0.0] * gp.num_atoms
    for i, a in enumerate(gp.leaves.tolist()):
        value[a] = w[i]
    strata = compute_strata(gp)
    for s in sorted(set(strata)):
        rules = [r for r in range(gp.num_rules) if strata[int(gp.rule_head[r])] == s]
        for _ in range(gp.num_atoms + 2):
            changed = False
            for r in rules:
                v = math.prod((1 - value[a]) if neg else value[a] for a, neg in gp.rule_body(r))
                h = int(gp.rule_head[r])
                if v > value[h]:
                    value[h] = v
                    changed = True
            if not changed:
                break
    return value


def _godel_reference(gp: GroundProgram, w: Sequence[float]) -> list[float]:
    """max over fact sets S deriving the atom of min over S, with \\+b as a fact of value 1 - v(b).

    Strata are processed bottom up; a fact set is a subset of the leaves plus
    the pseudo-facts of negated atoms of lower strata, and derivability is the
    negation-free closure in which ``\\+ b`` holds iff its pseudo-fact is in S.
    """
    strata = compute_strata(gp)
    value = [0.0] * gp.num_atoms
    leaves = gp.leaves.tolist()
    for i, a in enumerate(leaves):
        value[a] = w[i]
    negated = sorted({a for r in range(gp.num_rules) for a, n in gp.rule_body(r) if n})
    rules = [(int(gp.rule_head[r]), gp.rule_body(r)) for r in range(gp.num_rules)]
    for s in sorted(set(strata)):
        facts = [("leaf", a) for a in leaves] + [("neg", b) for b in negated if strata[b] < s]
        fact_value = {f: (value[f[1]] if f[0] == "leaf" else 1 - value[f[1]]) for f in facts}
        best = dict.fromkeys(range(gp.num_atoms), 0.0)
        for r in range(len(facts) + 1):
            for subset in itertools.combinations(facts, r):
                true = {a for kind, a in subset if kind == "leaf"}
                neg_true = {b for kind, b in subset if kind == "neg"}
                changed = True
                while changed:
                    changed = False
                    for head, body in rules:
                        if head in true or strata[head] > s:
                            continue
                        if all((a in neg_true) if n else (a in true) for a, n in body):
                            true.add(head)
                            changed = True
                v = min((fact_value[f] for f in subset), default=1.0)
                for a in true:
                    if strata[a] == s and a not in leaves:
                        best[a] = max(best[a], v)
        for a in range(gp.num_atoms):
            if strata[a] == s and a not in leaves:
                value[a] = best[a]
    return value


def _best_proof_sets(gp: GroundProgram, w: Sequence[float]) -> list[float]:
    """Negation-free: max over consistent leaf sets S with atom in least_model(S) of prod w."""
    leaves = gp.leaves.tolist()
    group_of = {i: g for g, grp in enumerate(gp.groups) for i in grp}
    best = [0.0] * gp.num_atoms
    for r in range(len(leaves) + 1):
        for subset in itertools.combinations(range(len(leaves)), r):
            gs = [group_of[i] for i in subset if i in group_of]
            if len(gs) != len(set(gs)):
                continue
            p = math.prod(w[i] for i in subset)
            for a in least_model(gp, {leaves[i] for i in subset}):
                best[a] = max(best[a], p)
    return best


@SETTINGS
@given(random_programs())
def test_boolean_is_the_model_of_the_all_possible_world(spec: Spec) -> None:
    gp, w = _build(spec)
    got = evaluate(gp, "boolean", torch.tensor(w, dtype=F64))
    possible_leaves = {a for a, wi in zip(gp.leaves.tolist(), w) if wi > 0}
    model = least_model(gp, possible_leaves)
    assert {i for i in range(gp.num_atoms) if bool(got[i])} == model


@SETTINGS
@given(random_programs(negation=False))
def test_boolean_is_possible_in_some_world_without_negation(spec: Spec) -> None:
    rules, leaves, _ = spec
    gp = make_program(rules=rules, leaves=leaves)  # groups would make some worlds impossible
    w = [wi for _, wi in leaves]
    got = evaluate(gp, "boolean", torch.tensor(w, dtype=F64))
    assert {i for i in range(gp.num_atoms) if bool(got[i])} == possible_atoms(gp, w)


@SETTINGS
@given(random_programs())
def test_godel_and_possibilistic_match_brute_force_over_fact_sets(spec: Spec) -> None:
    gp, w = _build(spec)
    t = torch.tensor(w, dtype=F64)
    want = _godel_reference(gp, w)
    assert evaluate(gp, "godel", t).tolist() == pytest.approx(want)
    assert evaluate(gp, "possibilistic", t).tolist() == pytest.approx(want)


@SETTINGS
@given(random_programs())
def test_viterbi_matches_scalar_reference_and_log_variants_agree(spec: Spec) -> None:
    gp, w = _build(spec)
    t = torch.tensor(w, dtype=F64)
    vit = evaluate(gp, "viterbi", t)
    assert vit.tolist() == pytest.approx(_viterbi_reference(gp, w), abs=1e-12)
    assert evaluate(gp, "log-viterbi", t).tolist() == pytest.approx(vit.tolist(), abs=1e-9)
    for plain, log in [("product", "log-product"), ("addmult", "log-addmult")]:
        try:
            a = evaluate(gp, plain, t, max_iterations=2000)
            b = evaluate(gp, log, t, max_iterations=2000)
        except InferenceError:
            # a cycle through a tiny weight converges geometrically at rate ~ 1 - weight
            assume(False)
            raise
        assert b.tolist() == pytest.approx(a.tolist(), abs=1e-6), plain
        assert bool(((a >= -1e-12) & (a <= 1 + 1e-12)).all())


@SETTINGS
@given(random_programs(negation=False))
def test_topk_against_fact_set_brute_force_and_oracle(spec: Spec) -> None:
    gp, w = _build(spec)
    exact = exact_probabilities(gp, w, evidence=())
    best = _best_proof_sets(gp, w)
    complete = top_k_proofs(gp, w, 64)
    one = top_k_proofs(gp, w, 1)
    leaves = gp.leaves.tolist()
    for atom in range(gp.num_atoms):
        assert complete.lower_bound(atom) == pytest.approx(exact[atom], abs=1e-9)
        proofs = complete.proofs(atom)
        assert (proofs[0].probability if proofs else 0.0) == pytest.approx(best[atom])
        top = one.proofs(atom)
        assert (top[0].probability if top else 0.0) <= best[atom] + 1e-12
        for proof in top + proofs:
            assert proof.probability == pytest.approx(math.prod(w[i] for i in proof.leaves))
            assert atom in least_model(gp, {leaves[i] for i in proof.leaves})


@st.composite
def tree_programs(draw: st.DrawFn) -> Spec:
    """Every atom occurs in at most one body: disjuncts and conjuncts are independent."""
    rules: list[tuple[str, list[str]]] = []
    leaves: list[tuple[str, float]] = []

    def node(depth: int) -> str:
        if depth == 0 or len(leaves) >= 10 or draw(st.integers(0, 2)) == 0:
            name = f"l{len(leaves)}"
            leaves.append((name, draw(WEIGHTS)))
            return name
        name = f"d{depth}_{len(rules)}_{len(leaves)}"
        for _ in range(draw(st.integers(1, 2))):
            body = []
            for _ in range(draw(st.integers(1, 2))):
                child = node(depth - 1)
                body.append(("~" + child) if draw(st.integers(0, 3)) == 0 else child)
            rules.append((name, body))
        return name

    node(3)
    return rules, leaves, []


@SETTINGS
@given(tree_programs())
def test_product_is_exact_on_trees(spec: Spec) -> None:
    gp, w = _build(spec)
    got = evaluate(gp, "product", torch.tensor(w, dtype=F64))
    assert got.tolist() == pytest.approx(exact_probabilities(gp, w, evidence=()), abs=1e-12)


@st.composite
def linear_programs(draw: st.DrawFn) -> Spec:
    """Bodies: at most one derived atom plus fresh leaves (each leaf in one rule); cyclic."""
    derived = [f"a{i}" for i in range(draw(st.integers(1, 6)))]
    rules: list[tuple[str, list[str]]] = []
    leaves: list[tuple[str, float]] = []
    for _ in range(draw(st.integers(1, 12))):
        body: list[str] = []
        if draw(st.booleans()):
            body.append(draw(st.sampled_from(derived)))
        for _ in range(draw(st.integers(0, 2))):
            name = f"l{len(leaves)}"
            leaves.append((name, draw(WEIGHTS)))
            body.append(name)
        rules.append((draw(st.sampled_from(derived)), body))
    return rules, leaves, []


@SETTINGS
@given(linear_programs())
def test_top1_proof_equals_viterbi_on_linear_programs(spec: Spec) -> None:
    gp, w = _build(spec)
    vit = evaluate(gp, "viterbi", torch.tensor(w, dtype=F64))
    one = top_k_proofs(gp, w, 1)
    for atom in range(gp.num_atoms):
        top = one.proofs(atom)
        assert (top[0].probability if top else 0.0) == pytest.approx(vit[atom].item(), abs=1e-12)
        if top:
            assert top[0].probability == pytest.approx(math.prod(w[i] for i in top[0].leaves))
