"""Exact inference against possible-world enumeration on hand-built ground programs."""

from __future__ import annotations

import random

import pytest
import torch

from einlog.circuit import CircuitCache, CompileLimits, ExactEngine, compile_circuit, leaf_tensor
from einlog.errors import InferenceError, NeuralError, StratificationError
from einlog.ground.program import GroundWeight

from .builder import Builder, oracle, oracle_mpe


def _close(a, b, tol=1e-12):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert abs(float(x) - float(y)) <= tol, (a, b)


def cyclic_program() -> Builder:
    b = Builder()
    b.fact(0.3, "e1")
    b.fact(0.6, "e2")
    b.fact(0.2, "e3")
    b.ad([(0.2, "c1"), (0.5, "c2"), (0.3, "c3")])
    b.rule("p1", "e1")
    b.rule("p2", "p1", "e2")
    b.rule("p1", "p2", "e3")
    b.rule("q", "p2", "\\+c2")
    b.rule("q", "c3")
    b.rule("r", "\\+q", "c1")
    b.query("p1", "p2", "q", "r")
    return b


def graph_program(n: int, edges: list[tuple[int, int, float]], src: int = 0) -> Builder:
    """Reachability from ``src`` in a directed probabilistic graph (cycles allowed)."""
    b = Builder()
    for i, j, p in edges:
        b.fact(p, f"e{i}_{j}")
    b.rule(f"r{src}")
    for i, j, _ in edges:
        b.rule(f"r{j}", f"r{i}", f"e{i}_{j}")
    b.query(*[f"r{k}" for k in range(n) if k != src])
    return b


def test_cycle_negation_ad_against_oracle():
    b = cyclic_program()
    gp = b.build()
    eng = ExactEngine(gp)
    got = eng.probabilities(torch.tensor(b.leaf_probs, dtype=torch.float64))
    _close(got.tolist(), oracle(gp, b.leaf_probs))


def test_conditional_against_oracle():
    b = cyclic_program()
    gp = b.build()
    eng = ExactEngine(gp)
    p = torch.tensor(b.leaf_probs, dtype=torch.float64)
    for ev in ([(b.atom("q"), True)], [(b.atom("r"), False), (b.atom("p2"), False)]):
        _close(eng.probabilities(p, evidence=ev).tolist(), oracle(gp, b.leaf_probs, ev))


def test_program_evidence_is_the_default():
    b = cyclic_program()
    b.evidence("q", False)
    gp = b.build()
    eng = ExactEngine(gp)
    _close(eng.probabilities().tolist(), oracle(gp, b.leaf_probs))


@pytest.mark.parametrize("cycles", ["auto", "proof", "eliminate", "fixpoint"])
@pytest.mark.parametrize("seed", range(12))
def test_random_cyclic_graphs(seed, cycles):
    rng = random.Random(seed)
    n = rng.randint(3, 5)
    edges = []
    for i in range(n):
        for j in range(n):
            if i != j and rng.random() < 0.45:
                edges.append((i, j, round(rng.uniform(0.05, 0.95), 3)))
    if len(edges) > 11:
        edges = edges[:11]
    b = graph_program(n, edges)
    gp = b.build()
    eng = ExactEngine(gp, cycles=cycles)
    got = eng.probabilities(torch.tensor(b.leaf_probs, dtype=torch.float64))
    _close(got.tolist(), oracle(gp, b.leaf_probs))


def random_program(seed: int, acyclic: bool = False) -> Builder:
    """Small random stratified programs: facts, ADs, rules with negation on lower layers
    (and positive cycles within a layer unless ``acyclic``)."""
    rng = random.Random(seed)
    b = Builder()
    names = []
    for i in range(rng.randint(2, 5)):
        b.fact(round(rng.uniform(0, 1), 2), f"f{i}")
        names.append(f"f{i}")
    for g in range(rng.randint(0, 2)):
        k = rng.randint(2, 3)
        ps = [rng.random() for _ in range(k + 1)]
        tot = sum(ps) if rng.random() < 0.7 else sum(ps[:k])  # sometimes sums to exactly 1
        alts = [(ps[i] / tot, f"a{g}_{i}") for i in range(k)]
        b.ad(alts)
        names.extend(n for _, n in alts)
    layers = [names]
    for layer in range(rng.randint(1, 3)):
        heads = [f"d{layer}_{i}" for i in range(rng.randint(1, 3))]
        lower = [n for ly in layers for n in ly]
        for h in heads:
            for _ in range(rng.randint(1, 3)):
                body = []
                for _ in range(rng.randint(1, 3)):
                    x = rng.choice(lower if acyclic else lower + heads)  # same layer: cycles
                    if x not in heads and rng.random() < 0.3:
                        x = "\\+" + x
                    body.append(x)
                b.rule(h, *body)
        layers.append(heads)
    b.query(*[n for ly in layers[1:] for n in ly])
    if rng.random() < 0.5:
        cand = [n for ly in layers[1:] for n in ly]
        b.evidence(rng.choice(cand), rng.random() < 0.5)
    return b


@pytest.mark.parametrize("cycles", ["auto", "proof", "eliminate", "fixpoint"])
@pytest.mark.parametrize("seed", range(60))
def test_random_programs_against_oracle(seed, cycles):
    b = random_program(seed)
    gp = b.build()
    want = oracle(gp, b.leaf_probs)
    eng = ExactEngine(gp, cycles=cycles)
    p = torch.tensor(b.leaf_probs, dtype=torch.float64)
    if not counts_match_oracle(eng, want, p):
        return
    mpe_matches_oracle(eng, b, p)


def counts_match_oracle(eng, want, p) -> bool:
    """The engine's probabilities are the oracle's; ``False`` (after checking the error)
    when the oracle found the evidence inconsistent."""
    if want and want[0] != want[0]:  # nan: inconsistent evidence
        with pytest.raises(InferenceError, match="inconsistent"):
            eng.probabilities(p)
        return False
    _close(eng.probabilities(p).tolist(), want, 1e-10)
    return True


def mpe_matches_oracle(eng, b, p) -> None:
    gp = eng.gp
    r = eng.mpe(p)
    assert abs(float(r.probability) - oracle_mpe(gp, b.leaf_probs)) <= 1e-12
    # the returned world really has that probability and satisfies the evidence
    assert abs(float(r.probability) - _world_prob(gp, b.leaf_probs, r.assignment)) <= 1e-12


def _world_prob(gp, probs, assign):
    from .builder import least_model

    assign = assign.numpy()
    grouped = {leaf for g in gp.groups for leaf in g}
    p = 1.0
    for i, q in enumerate(probs):
        if i not in grouped:
            p *= q if assign[i] else 1 - q
    for g in gp.groups:
        on = [leaf for leaf in g if assign[leaf]]
        assert len(on) <= 1
        p *= probs[on[0]] if on else 1 - sum(probs[leaf] for leaf in g)
    val = least_model(gp, assign)
    assert all(val[a] == v for a, v in gp.evidence)
    return p


def test_inconsistent_evidence_names_atoms():
    b = Builder()
    b.fact(0.5, "a")
    b.rule("b", "a")
    b.atom("never")
    b.query("b")
    gp = b.build()
    eng = ExactEngine(gp)
    with pytest.raises(InferenceError, match=r"inconsistent.*never=true"):
        eng.probabilities(evidence=[(b.atom("never"), True)])


@pytest.mark.parametrize("cycles", ["auto", "proof", "eliminate", "fixpoint"])
def test_negation_through_recursion_is_rejected(cycles):
    b = Builder()
    b.fact(0.5, "a")
    b.rule("p", "a", "\\+q")
    b.rule("q", "p")
    b.query("p")
    gp = b.build()
    with pytest.raises(StratificationError):
        ExactEngine(gp, cycles=cycles).probabilities()


def test_budget_names_the_query():
    b = graph_program(8, [(i, j, 0.5) for i in range(8) for j in range(8) if i != j])
    gp = b.build()
    eng = ExactEngine(gp, limits=CompileLimits(max_size=50))
    with pytest.raises(InferenceError) as info:
        eng.probabilities()
    msg = str(info.value)
    assert "query r" in msg and "memory budget" in msg and "--semantics topk" in msg


def test_time_limit():
    b = graph_program(8, [(i, j, 0.5) for i in range(8) for j in range(8) if i != j])
    gp = b.build()
    eng = ExactEngine(gp, limits=CompileLimits(time_limit=1e-9))
    with pytest.raises(InferenceError, match="time limit"):
        eng.probabilities()


def test_params_and_neural_leaves():
    b = Builder()
    b.fact(0.5, "a")
    b.fact(0.5, "b")
    b.fact(0.5, "c")
    b.gp.leaf_weight[1] = GroundWeight("param", param=1)
    b.gp.leaf_weight[2] = GroundWeight("neural", network="net", index=0, domain_size=2)
    b.rule("q", "a", "b")
    b.rule("q", "c")
    b.query("q")
    gp = b.build()
    with pytest.raises(InferenceError, match="parameter"):
        leaf_tensor(gp)
    with pytest.raises(NeuralError, match="neural"):
        leaf_tensor(gp, torch.tensor([0.0, 0.25]))
    lt = leaf_tensor(gp, torch.tensor([0.0, 0.25], dtype=torch.float64),
                     neural=torch.tensor([0.0, 0.0, 0.1], dtype=torch.float64))
    assert lt.tolist() == [0.5, 0.25, 0.1]
    got = ExactEngine(gp).probabilities(lt)
    assert abs(float(got[0]) - (1 - (1 - 0.125) * 0.9)) < 1e-12


def test_cache_and_compile_circuit():
    b = cyclic_program()
    gp = b.build()
    cache: CircuitCache = CircuitCache(maxsize=2)
    e1 = ExactEngine(gp, cache=cache, cache_key="k")
    e2 = ExactEngine(gp, cache=cache, cache_key="k")
    p = torch.tensor(b.leaf_probs, dtype=torch.float64)
    assert torch.equal(e1.probabilities(p), e2.probabilities(p))
    assert cache.hits == 1 and cache.misses == 1
    circ = compile_circuit(gp)
    _close(circ(p).tolist(), oracle(gp, b.leaf_probs))
    size = circ.size()
    assert size["nodes"] > 0 and size["edges"] > 0


def test_constant_roots():
    b = Builder()
    b.fact(0.5, "a")
    b.rule("t")
    b.rule("u", "a", "\\+a")
    b.query("t", "u", "a")
    gp = b.build()
    eng = ExactEngine(gp)
    _close(eng.probabilities().tolist(), [1.0, 0.0, 0.5])
    r = eng.mpe()
    assert abs(float(r.probability) - 0.5) < 1e-15


@pytest.mark.parametrize("seed", range(0, 60, 6))
@pytest.mark.parametrize("vtree_type", ["right", "balanced"])
def test_defined_encoding_with_a_fixed_vtree(seed, vtree_type):
    """Without a dtree the definitions are conjoined one after the other."""
    b = random_program(seed, acyclic=True)
    gp = b.build()
    want = oracle(gp, b.leaf_probs)
    if want and want[0] != want[0]:
        return
    eng = ExactEngine(gp, encoding="defined", vtree_type=vtree_type)
    _close(eng.probabilities().tolist(), want, 1e-10)
    assert abs(float(eng.mpe().probability) - oracle_mpe(gp, b.leaf_probs)) <= 1e-12


@pytest.mark.parametrize(
    "options",
    [
        {"minimize": True},
        {"vtree_type": "balanced", "var_order": "dfs"},
        {"vtree_type": "right", "var_order": "natural"},
    ],
)
@pytest.mark.parametrize("seed", range(0, 60, 6))
def test_compile_options_agree(seed, options):
    b = random_program(seed)
    gp = b.build()
    want = oracle(gp, b.leaf_probs)
    if want and want[0] != want[0]:
        return
    eng = ExactEngine(gp, **options)
    _close(eng.probabilities().tolist(), want, 1e-10)
    assert abs(float(eng.mpe().probability) - oracle_mpe(gp, b.leaf_probs)) <= 1e-12


@pytest.mark.parametrize("encoding", ["lineage", "defined"])
@pytest.mark.parametrize("acyclic", [True, False])
@pytest.mark.parametrize("seed", range(30))
def test_encodings_against_oracle(seed, acyclic, encoding):
    """Both SDD encodings give the oracle's probabilities and MPE, by PySDD's model
    counter and by the batched tensor circuit, with the same gradients."""
    b = random_program(seed, acyclic=acyclic)
    gp = b.build()
    want = oracle(gp, b.leaf_probs)
    if want and want[0] != want[0]:
        return
    eng = ExactEngine(gp, encoding=encoding)
    p = torch.tensor(b.leaf_probs, dtype=torch.float64)
    _close(eng.probabilities(p).tolist(), want, 1e-10)  # model counting on the SDD
    assert eng.compiler.encoding == encoding
    batch = p.expand(3, -1).clone().requires_grad_(True)
    got = eng.log_probabilities(batch)  # the tensor circuit
    for row in got.exp().tolist():
        _close(row, want, 1e-10)
    got.sum().backward()
    ref = ExactEngine(gp, encoding="lineage")
    batch_ref = p.expand(3, -1).clone().requires_grad_(True)
    ref.log_probabilities(batch_ref).sum().backward()
    assert batch.grad is not None and batch_ref.grad is not None
    # an AD whose probabilities sum to exactly 1 sits on the kink of none = 1 - sum:
    # there circuits of the same function may pick different one-sided derivatives
    # (likewise a leaf with p = 0 or 1)
    full = {leaf for g in gp.groups if abs(sum(b.leaf_probs[x] for x in g) - 1) < 1e-12
            for leaf in g} | {i for i, q in enumerate(b.leaf_probs) if q in (0.0, 1.0)}
    keep = [i for i in range(p.shape[0]) if i not in full]
    assert torch.allclose(batch.grad[:, keep], batch_ref.grad[:, keep], atol=1e-9, rtol=1e-9)
    r = eng.mpe(p)
    assert abs(float(r.probability) - oracle_mpe(gp, b.leaf_probs)) <= 1e-12
    assert abs(float(r.probability) - _world_prob(gp, b.leaf_probs, r.assignment)) <= 1e-12


def test_auto_encoding_defines_acyclic_programs():
    """Acyclic programs whose derived atoms feed other rules get a variable per such atom
    and a dtree vtree; cyclic ones keep the lineage encoding (with a dtree vtree when
    depth-first order beat program order)."""
    from einlog.circuit.compile import DEFINED_MAX_WIDTH

    defined = 0
    for seed in range(20):
        for acyclic in (True, False):
            gp = random_program(seed, acyclic=acyclic).build()
            comp = ExactEngine(gp).compiler
            if comp._has_cycles(comp._default_roots()):
                assert comp.encoding == "lineage"
                # a BDD (right-linear order) over program order, or over the dtree's
                # variables left to right where depth-first order won
                assert comp.vtree_type == "right" and comp.backend == "bdd"
                assert comp.var_order in ("natural", "dtree")
            elif comp.encoding == "defined":
                defined += 1
                assert comp.vtree_type == "dtree" and comp.num_sdd_vars > comp.num_vars
                assert comp._dtree is not None and comp._dtree.width <= DEFINED_MAX_WIDTH
    assert defined >= 5


def test_marginals_answer_defined_queries_in_one_count():
    """With every query one SDD variable (defined atoms, a plain leaf that delta never
    mentions), probabilities() counts only the evidence's SDD and reads the queries'
    marginals; an AD alternative as a query falls back to one root per query."""
    b = Builder()
    b.fact(0.3, "a")
    b.fact(0.6, "c")
    b.fact(0.25, "lonely")  # queried, occurs in no rule
    b.ad([(0.2, "r1"), (0.5, "r2")])
    b.rule("x", "a", "c")
    b.rule("x", "\\+a", "r2")
    b.rule("y", "x", "\\+c")
    b.rule("y", "\\+x", "r1")
    b.rule("z", "y", "x")
    b.query("x", "y", "lonely")
    b.evidence("z", False)
    gp = b.build()
    p = torch.tensor(b.leaf_probs, dtype=torch.float64)
    want = oracle(gp, b.leaf_probs)
    eng = ExactEngine(gp, encoding="defined")
    _close(eng.probabilities(p).tolist(), want, 1e-12)
    assert eng._query_vars() is not None and not eng._roots  # no per-query roots compiled
    _close(eng.log_probabilities(p.unsqueeze(0))[0].exp().tolist(), want, 1e-12)  # circuit
    no_ev = oracle(gp, b.leaf_probs, evidence=[])
    _close(eng.probabilities(p, evidence=[]).tolist(), no_ev, 1e-12)
    b.query("r2")
    gp2 = b.build()
    eng2 = ExactEngine(gp2, encoding="defined")
    assert eng2._query_vars() is None
    _close(eng2.probabilities(torch.tensor(b.leaf_probs, dtype=torch.float64)).tolist(),
           oracle(gp2, b.leaf_probs), 1e-12)


def test_defined_encoding_with_evidence_outside_the_plan():
    """Evidence given at call time on atoms the compiler did not plan variables for
    (they are not relevant to the program's own queries) uses their lineage over the
    defined variables, conjoined with delta: still exact."""
    b = Builder()
    b.fact(0.3, "a")
    b.fact(0.6, "c")
    b.fact(0.45, "d")
    b.rule("x", "a", "c")
    b.rule("x", "\\+a", "d")
    b.rule("y", "x", "\\+c")
    b.rule("w", "y", "d")  # nothing queries w
    b.rule("w", "\\+x", "c")
    b.query("x", "y")
    gp = b.build()
    w = b.atom("w")
    eng = ExactEngine(gp, encoding="defined")
    assert w not in eng.compiler._aux_var
    for val in (True, False):
        want = oracle(gp, b.leaf_probs, evidence=[(w, val)])
        _close(eng.probabilities(evidence=[(w, val)]).tolist(), want, 1e-12)
        p = torch.tensor(b.leaf_probs, dtype=torch.float64).unsqueeze(0)
        _close(eng.log_probabilities(p, evidence=[(w, val)])[0].exp().tolist(), want, 1e-12)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"encoding": "tseitin"}, "encoding must be one of"),
        ({"var_order": "bogus"}, "var_order must be"),
        ({"var_order": "bogus", "vtree_type": "dtree"}, "var_order must be"),
        ({"vtree_type": "bogus"}, "unknown vtree type"),
        ({"cycles": "bogus"}, "cycles must be one of"),
    ],
)
def test_unknown_compile_options_are_rejected(options, message):
    gp = random_program(3, acyclic=True).build()
    with pytest.raises(ValueError, match=message):
        ExactEngine(gp, **options).compile()


def test_auto_defines_networks_with_large_cpts():
    """A node with 5 parents has a 32-row CPT; its row leaves belong to that CPT only,
    so they do not count towards the width and auto still picks the defined encoding."""
    from einlog.front import compile_program
    from einlog.ground import ground
    from einlog.syntax import parse_program

    rng = random.Random(5)
    lines = []
    for v in range(12):
        parents = sorted(rng.sample(range(max(0, v - 6), v), min(v, 5)))
        if not parents:
            lines.append(f"{rng.uniform(0.1, 0.9):.3f}::x{v}.")
        for mask in range(1 << len(parents)) if parents else ():
            body = ", ".join(f"x{p}" if mask >> k & 1 else f"\\+x{p}"
                             for k, p in enumerate(parents))
            lines.append(f"{rng.uniform(0.05, 0.95):.3f}::x{v} :- {body}.")
    lines += ["evidence(x11, true).", "query(x3).", "query(x7).", "query(x10)."]
    gp = ground(compile_program(parse_program("\n".join(lines)))).program
    auto = ExactEngine(gp)
    assert auto.compiler.encoding == "defined"
    want = ExactEngine(gp, encoding="lineage").probabilities().tolist()
    _close(auto.probabilities().tolist(), want, 1e-12)
