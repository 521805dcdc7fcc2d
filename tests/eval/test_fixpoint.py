"""The vectorized fixpoint evaluator on hand-built ground programs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from einlog.errors import ConfigError, InferenceError, UnsupportedError
from einlog.eval import FixpointEvaluator, atom_ids, evaluate, exact_probabilities, make_program
from einlog.ground.program import GroundProgram
from einlog.semirings import GodelSemiring

F64 = torch.float64


def _small() -> GroundProgram:
    return make_program(
        rules=[
            ("a", ["b", "~c"]),
            ("c", ["d"]),
            ("e", []),
            ("f", ["b"]),
            ("f", ["d"]),
        ],
        leaves=[("b", 0.3), ("d", 0.6)],
    )


def _values(gp: GroundProgram, semiring: str, w: list[float]) -> dict[str, float]:
    out = evaluate(gp, semiring, torch.tensor(w, dtype=F64))
    return {repr(gp.atoms[i]): float(out[i]) for i in range(gp.num_atoms)}


def test_values_under_each_semiring() -> None:
    gp = _small()
    a, c, e, f = atom_ids(gp, "a", "c", "e", "f")
    expected = {
        "godel": (min(0.3, 0.4), 0.6, 1.0, 0.6),
        "possibilistic": (0.3, 0.6, 1.0, 0.6),
        "product": (0.3 * 0.4, 0.6, 1.0, 0.3 + 0.6 - 0.18),
        "viterbi": (0.12, 0.6, 1.0, 0.6),
        "addmult": (0.12, 0.6, 1.0, 0.9),
        "lukasiewicz": (0.0, 0.6, 1.0, 0.9),
        "log-viterbi": (0.12, 0.6, 1.0, 0.6),
        "log-addmult": (0.12, 0.6, 1.0, 0.9),
        "log-product": (0.12, 0.6, 1.0, 0.72),
    }
    w = torch.tensor([0.3, 0.6], dtype=F64)
    for name, want in expected.items():
        out = evaluate(gp, name, w)
        got = tuple(float(out[i]) for i in (a, c, e, f))
        assert got == pytest.approx(want), name
    boolean = evaluate(gp, "boolean", w)
    assert boolean.dtype == torch.bool
    assert [bool(boolean[i]) for i in (a, c, e, f)] == [False, True, True, True]


def test_product_equals_exact_probability_on_this_tree() -> None:
    gp = _small()
    got = evaluate(gp, "product", torch.tensor([0.3, 0.6], dtype=F64))
    assert got.tolist() == pytest.approx(exact_probabilities(gp))


def test_batched_and_unbatched_shapes() -> None:
    gp = _small()
    ev = FixpointEvaluator(gp, "product")
    w = torch.tensor([[0.3, 0.6], [0.9, 0.1], [0.0, 1.0]], dtype=F64)
    out = ev(w)
    assert out.shape == (3, gp.num_atoms)
    for row in range(3):
        assert torch.allclose(out[row], ev(w[row]))
    with pytest.raises(InferenceError):
        ev(torch.zeros(3))
    with pytest.raises(InferenceError):
        ev(torch.zeros(1, 1, 2))


def test_undefined_atoms_are_false_and_empty_bodies_true() -> None:
    gp = make_program(rules=[("a", ["missing"]), ("t", []), ("u", ["t", "~missing"])])
    out = evaluate(gp, "godel", torch.zeros(0))
    a, t, u, m = atom_ids(gp, "a", "t", "u", "missing")
    assert out[[a, m]].tolist() == [0.0, 0.0]
    assert out[[t, u]].tolist() == [1.0, 1.0]


def test_raw_mode_takes_and_returns_domain_values() -> None:
    gp = _small()
    logw = torch.log(torch.tensor([0.3, 0.6], dtype=F64))
    raw = evaluate(gp, "log-viterbi", logw, raw=True)
    (a,) = atom_ids(gp, "a")
    assert raw[a].item() == pytest.approx(math.log(0.12))


def test_cycles_reach_the_least_fixpoint() -> None:
    # p :- b.  p :- q, c.  q :- p, d.   (and an unsupported cycle r :- s. s :- r.)
    gp = make_program(
        rules=[("p", ["b"]), ("p", ["q", "c"]), ("q", ["p", "d"]), ("r", ["s"]), ("s", ["r"])],
        leaves=[("b", 0.3), ("c", 0.8), ("d", 0.5)],
    )
    b, c, d = 0.3, 0.8, 0.5
    p, q, r, s = atom_ids(gp, "p", "q", "r", "s")
    w = torch.tensor([b, c, d], dtype=F64)
    prod = evaluate(gp, "product", w)
    want_p = b / (1 - c * d * (1 - b))  # p = 1 - (1 - b)(1 - p c d)
    assert prod[p].item() == pytest.approx(want_p, abs=1e-10)
    assert prod[q].item() == pytest.approx(want_p * d, abs=1e-10)
    for name in ["godel", "viterbi", "boolean", "product", "addmult", "lukasiewicz"]:
        out = evaluate(gp, name, w)
        assert float(out[r]) == 0.0 and float(out[s]) == 0.0, name
    assert evaluate(gp, "viterbi", w)[q].item() == pytest.approx(0.15)
    assert evaluate(gp, "godel", w)[q].item() == pytest.approx(0.3)


def test_cyclic_gradient_matches_analytic_and_finite_differences() -> None:
    gp = make_program(
        rules=[("p", ["b"]), ("p", ["q", "c"]), ("q", ["p", "d"])],
        leaves=[("b", 0.3), ("c", 0.8), ("d", 0.5)],
    )
    (p,) = atom_ids(gp, "p")
    ev = FixpointEvaluator(gp, "product")
    w = torch.tensor([0.3, 0.8, 0.5], dtype=F64, requires_grad=True)
    ev(w)[p].backward()
    assert w.grad is not None
    b, c, d = 0.3, 0.8, 0.5
    denom = 1 - c * d * (1 - b)
    analytic = [
        (denom - b * c * d) / denom**2,
        b * d * (1 - b) / denom**2,
        b * c * (1 - b) / denom**2,
    ]
    assert w.grad.tolist() == pytest.approx(analytic, abs=1e-8)
    eps = 1e-6
    for i in range(3):
        hi = w.detach().clone()
        lo = w.detach().clone()
        hi[i] += eps
        lo[i] -= eps
        fd = (ev(hi)[p] - ev(lo)[p]).item() / (2 * eps)
        assert w.grad[i].item() == pytest.approx(fd, abs=1e-6)


@pytest.mark.parametrize("name", ["product", "log-product", "addmult", "viterbi", "godel"])
def test_gradcheck_acyclic(name: str) -> None:
    gp = make_program(
        rules=[
            ("a", ["x", "y"]),
            ("a", ["z", "~w"]),
            ("b", ["a", "w"]),
            ("b", ["x"]),
            ("c", ["b", "~a"]),
        ],
        leaves=[("x", 0.3), ("y", 0.7), ("z", 0.45), ("w", 0.2)],
    )
    ev = FixpointEvaluator(gp, name)
    w = torch.tensor([[0.3, 0.7, 0.45, 0.2], [0.61, 0.33, 0.52, 0.87]], dtype=F64)
    w.requires_grad_(True)
    assert torch.autograd.gradcheck(ev, (w,), eps=1e-6, atol=1e-5)


def test_unstratified_negation_is_rejected() -> None:
    gp = make_program(rules=[("a", ["b"])], leaves=[("b", 0.5)])
    # hand-edit into a :- \+ a (make_program itself refuses unstratified programs)
    gp.body_atom = np.asarray([atom_ids(gp, "a")[0]], dtype=np.int64)
    gp.body_neg = np.asarray([True])
    with pytest.raises(InferenceError, match="negation"):
        FixpointEvaluator(gp, "godel")


def test_non_convergence_names_the_semantics() -> None:
    gp = make_program(rules=[("p", ["b"]), ("p", ["p"])], leaves=[("b", 1e-4)])
    w = torch.tensor([1e-4], dtype=F64)
    with pytest.raises(InferenceError, match="lukasiewicz"):
        evaluate(gp, "lukasiewicz", w, max_iterations=50)
    (p,) = atom_ids(gp, "p")
    w = torch.tensor([1e-2], dtype=F64)
    assert evaluate(gp, "lukasiewicz", w)[p].item() == pytest.approx(1.0)


def test_semiring_without_negation_refuses_negated_programs() -> None:
    class NoNeg(GodelSemiring):
        name = "test-noneg-godel"
        has_negation = False

        def negate(self, a: torch.Tensor) -> torch.Tensor:
            raise UnsupportedError("no negation here")

    with pytest.raises(UnsupportedError):
        FixpointEvaluator(_small(), NoNeg())
    FixpointEvaluator(make_program(rules=[("a", ["b"])], leaves=[("b", 0.5)]), NoNeg())


def test_log_space_survives_long_conjunctions() -> None:
    n = 1200
    leaves = [(f"l{i}", 0.5) for i in range(n)]
    gp = make_program(rules=[("all", [f"l{i}" for i in range(n)])], leaves=leaves)
    (a,) = atom_ids(gp, "all")
    w = torch.full((n,), 0.5, dtype=torch.float32)
    assert evaluate(gp, "viterbi", w)[a].item() == 0.0  # underflows
    raw = evaluate(gp, "log-viterbi", torch.log(w), raw=True)
    assert raw[a].item() == pytest.approx(n * math.log(0.5), rel=1e-4)
    raw = evaluate(gp, "log-addmult", torch.log(w), raw=True)
    assert raw[a].item() == pytest.approx(n * math.log(0.5), rel=1e-4)


def test_deep_chain_and_large_program() -> None:
    # chain of 300 atoms (one pass per level, no iteration) plus a 20k-rule grid-ish graph
    n = 300
    rules = [("c0", ["l0"])] + [(f"c{i}", [f"c{i - 1}", "l1"]) for i in range(1, n)]
    gp = make_program(rules=rules, leaves=[("l0", 0.9), ("l1", 0.99)])
    ev = FixpointEvaluator(gp, "viterbi")
    out = ev(torch.tensor([0.9, 0.99], dtype=F64))
    (last,) = atom_ids(gp, f"c{n - 1}")
    assert out[last].item() == pytest.approx(0.9 * 0.99 ** (n - 1))
    # big cyclic reachability: node i -> (i+1) % m and (i*7) % m, each edge a leaf
    m = 2000
    edges = [(i, (i + 1) % m) for i in range(m)] + [(i, (i * 7) % m) for i in range(m)]
    leaves = [(f"e{k}", 0.9) for k in range(len(edges))] + [("start", 1.0)]
    rules = [("r0", ["start"])]
    rules += [(f"r{j}", [f"r{i}", f"e{k}"]) for k, (i, j) in enumerate(edges)]
    gp = make_program(rules=rules, leaves=leaves)
    ev = FixpointEvaluator(gp, "boolean")
    out = ev(torch.ones(len(leaves)).unsqueeze(0).repeat(2, 1))
    assert out.shape == (2, gp.num_atoms)
    assert bool(out.all())


def test_leaf_with_rules_is_rejected() -> None:
    gp = make_program(rules=[("a", ["b"])], leaves=[("b", 0.5)])
    gp.rule_head = np.asarray(atom_ids(gp, "b"), dtype=np.int64)
    with pytest.raises(InferenceError, match="leaf"):
        FixpointEvaluator(gp, "godel")


def test_iteration_count_is_reported() -> None:
    gp = make_program(rules=[("p", ["q"]), ("q", ["p"]), ("p", ["b"])], leaves=[("b", 0.5)])
    ev = FixpointEvaluator(gp, "godel")
    ev(torch.tensor([0.5]))
    assert 1 <= ev.last_iterations <= gp.num_atoms + 1


@pytest.mark.parametrize("name", ["product", "log-product", "addmult", "viterbi", "godel"])
def test_implicit_gradient_matches_unrolled(name: str) -> None:
    gp = make_program(
        rules=[
            ("p", ["b"]),
            ("p", ["q", "c"]),
            ("q", ["p", "d"]),
            ("q", ["r", "~e"]),
            ("r", ["q", "c", "d"]),
            ("s", ["p", "r"]),
            ("s", ["~q"]),
        ],
        leaves=[("b", 0.3), ("c", 0.8), ("d", 0.5), ("e", 0.35)],
    )
    w = torch.tensor([[0.3, 0.8, 0.5, 0.35], [0.45, 0.6, 0.9, 0.15]], dtype=F64)
    grads = []
    values = []
    for mode in ("unroll", "implicit"):
        ev = FixpointEvaluator(gp, name, grad_mode=mode)
        leaf = w.clone().requires_grad_(True)
        out = ev(leaf)
        (out * torch.arange(1.0, gp.num_atoms + 1, dtype=F64)).sum().backward()
        grads.append(leaf.grad)
        values.append(out.detach())
    assert torch.allclose(values[0], values[1], atol=1e-9)
    assert grads[0] is not None and grads[1] is not None
    assert torch.allclose(grads[0], grads[1], atol=1e-6), (grads[0], grads[1])


def test_implicit_gradient_passes_gradcheck() -> None:
    gp = make_program(
        rules=[("p", ["b"]), ("p", ["q", "c"]), ("q", ["p", "d"]), ("t", ["q", "~p"])],
        leaves=[("b", 0.3), ("c", 0.8), ("d", 0.5)],
    )
    ev = FixpointEvaluator(gp, "product", grad_mode="implicit")
    w = torch.tensor([0.3, 0.8, 0.5], dtype=F64, requires_grad=True)
    # the fixpoint's backward hook needs a defined output gradient (always true in training)
    assert torch.autograd.gradcheck(ev, (w,), eps=1e-6, atol=1e-5, check_undefined_grad=False)


def test_bad_grad_mode() -> None:
    with pytest.raises(ConfigError):
        FixpointEvaluator(_small(), "product", grad_mode="magic")  # type: ignore[arg-type]
