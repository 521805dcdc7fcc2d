"""Batched neural queries: values against brute force, gradients, batching, errors."""

from __future__ import annotations

import pytest
import torch

import einlog
from einlog.errors import NeuralError
from einlog.eval.oracle import exact_probabilities
from einlog.neural import compiled_query, deepproblog_batch, input_positions
from einlog.terms import Struct

ADDITION = """
nn(mnist_net, [X], Y, [0,1,2,3,4,5,6,7,8,9]) :: digit(X, Y).
addition(X, Y, Z) :- digit(X, X2), digit(Y, Y2), Z is X2 + Y2.
"""

MIXED = """
nn(net, [X], Y, [a, b, c]) :: kind(X, Y).
0.3::noise.
t(0.6)::flip.
good(X) :- kind(X, a), \\+ noise.
good(X) :- kind(X, b), flip.
pair(X, Y) :- good(X), good(Y).
pair(X, Y) :- kind(X, c), kind(Y, c).
"""


class Lookup(torch.nn.Module):
    """A 'network' whose input is an example id: softmax of a learnable logit row."""

    def __init__(self, n: int, k: int, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.logits = torch.nn.Parameter(torch.randn(n, k, generator=g, dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.logits[x], dim=-1)


def conv_sum(pa: torch.Tensor, pb: torch.Tensor) -> torch.Tensor:
    cols = []
    for s in range(19):
        terms = [pa[:, i] * pb[:, s - i] for i in range(10) if 0 <= s - i < 10]
        cols.append(torch.stack(terms).sum(0))
    return torch.stack(cols, 1)


def test_addition_equals_convolution_of_digit_distributions() -> None:
    net = Lookup(8, 10)
    prog = einlog.Program.from_string(ADDITION, networks={"mnist_net": net})
    a, b = torch.tensor([0, 1, 2, 3]), torch.tensor([4, 5, 6, 7])
    res = prog.query("addition(A, B, S)", A=a, B=b)
    assert [int(x.args[2]) for x in res.atoms] == list(range(19))  # type: ignore[arg-type]
    assert res.values.shape == (4, 19)
    expected = conv_sum(net(a), net(b))
    torch.testing.assert_close(res.values, expected, atol=1e-12, rtol=1e-9)


def test_given_answer_picks_its_column_and_unknown_answers_have_probability_zero() -> None:
    net = Lookup(8, 10)
    prog = einlog.Program.from_string(ADDITION, networks={"mnist_net": net})
    a, b = torch.tensor([0, 1, 2, 3]), torch.tensor([4, 5, 6, 7])
    s = torch.tensor([0, 9, 18, 25])
    res = prog.query("addition(A, B, S)", A=a, B=b, S=s)
    full = conv_sum(net(a), net(b))
    expected = torch.stack([full[0, 0], full[1, 9], full[2, 18], torch.zeros((), dtype=full.dtype)])
    torch.testing.assert_close(res.values, expected)


def test_values_match_brute_force_world_enumeration() -> None:
    net = Lookup(6, 3, seed=1)
    prog = einlog.Program.from_string(MIXED, networks={"net": net})
    nq = compiled_query(prog, "pair(A, B)", ["A", "B"])
    inputs = {"A": torch.tensor([0, 1, 2]), "B": torch.tensor([3, 4, 2])}
    got = nq.probabilities(inputs)[:, 0]
    leaves = nq.leaf_probabilities(inputs).detach()
    ans = nq.gp.atom_id(nq._raw(nq.answers[0]))
    assert ans is not None
    for b in range(3):
        oracle = exact_probabilities(nq.gp, leaves[b].tolist(), evidence=())
        assert abs(float(got[b].detach()) - oracle[ans]) < 1e-12


def test_gradients_match_finite_differences() -> None:
    prog_holder: dict[str, torch.Tensor] = {}

    def net(x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(prog_holder["L"][x], dim=-1)

    prog = einlog.Program.from_string(MIXED, networks={"net": net})
    nq = compiled_query(prog, "pair(A, B)", ["A", "B"])
    inputs = {"A": torch.tensor([0, 1, 1]), "B": torch.tensor([2, 0, 1])}

    def f(logits: torch.Tensor, flip: torch.Tensor) -> torch.Tensor:
        prog_holder["L"] = logits
        with torch.no_grad():
            prog.parameters[0].copy_(flip)
        leaves = nq.leaf_probabilities(inputs)
        return nq.engine.log_probabilities(leaves).exp()

    logits = torch.randn(3, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda L: f(L, torch.tensor(0.6, dtype=torch.float64)),
                                    (logits,))
    # and through the learnable t(0.6) parameter
    prog_holder["L"] = logits.detach()
    p = prog.parameters[0]
    p.grad = None
    lp, _ = nq.log_likelihood(inputs, {})
    lp.sum().backward()
    analytic = float(p.grad)  # type: ignore[arg-type]
    eps = 1e-6
    with torch.no_grad():
        vals = []
        for d in (eps, -eps):
            p.copy_(torch.tensor(0.6 + d, dtype=torch.float64))
            vals.append(float(nq.log_likelihood(inputs, {})[0].sum()))
        p.copy_(torch.tensor(0.6, dtype=torch.float64))
    assert abs(analytic - (vals[0] - vals[1]) / (2 * eps)) < 1e-6


def test_batched_equals_one_at_a_time() -> None:
    net = Lookup(10, 3, seed=2)
    prog = einlog.Program.from_string(MIXED, networks={"net": net})
    a, b = torch.arange(5), torch.arange(5, 10)
    batched = prog.query("pair(A, B)", A=a, B=b).values
    single = torch.cat([prog.query("pair(A, B)", A=a[i : i + 1], B=b[i : i + 1]).values
                        for i in range(5)])
    torch.testing.assert_close(batched, single, atol=1e-15, rtol=0)


def test_one_grounding_per_query_shape() -> None:
    prog = einlog.Program.from_string(ADDITION, networks={"mnist_net": Lookup(8, 10)})
    q1 = compiled_query(prog, "addition(A, B, S)", ["A", "B"])
    q2 = compiled_query(prog, "addition(A, B, S)", ["A", "B", "S"])
    assert q1 is q2
    assert q1.tensor_vars == ("A", "B")
    assert len(q1.calls) == 2 and len(q1._by_network) == 1  # one network call per batch


def test_sigmoid_form() -> None:
    prog = einlog.Program.from_string(
        "nn(net, [X]) :: heads(X).\nwin(X, Y) :- heads(X), heads(Y).\n",
        networks={"net": lambda x: torch.sigmoid(x.sum(-1))},
    )
    x, y = torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64)
    got = prog.query("win(X, Y)", X=x, Y=y).values[:, 0]
    expected = torch.sigmoid(x.sum(-1)) * torch.sigmoid(y.sum(-1))
    torch.testing.assert_close(got, expected)


def test_n_digit_program_input_positions_and_values() -> None:
    text = ADDITION + """
digits_value([], 0, 1).
digits_value([H|T], V, P) :- digits_value(T, V0, P0), digit(H, D), V is V0 + D * P0, P is P0 * 10.
number(X, Y) :- digits_value(X, Y, _).
multi_addition(X, Y, Z) :- number(X, X2), number(Y, Y2), Z is X2 + Y2.
"""
    net = Lookup(8, 10, seed=3)
    prog = einlog.Program.from_string(text, networks={"mnist_net": net})
    pos = input_positions(prog.ir)
    assert pos[("multi_addition", 3)] == {0, 1}
    ids = [torch.tensor([i]) for i in range(4)]
    res = prog.query("multi_addition([A0, A1], [B0, B1], S)", A0=ids[0], A1=ids[1],
                     B0=ids[2], B1=ids[3])
    assert res.values.shape == (1, 199)
    p = [net(i)[0] for i in ids]
    # P(S = 0) = all four digits 0; P(S = 198) = all four digits 9
    torch.testing.assert_close(res.values[0, 0], p[0][0] * p[1][0] * p[2][0] * p[3][0])
    torch.testing.assert_close(res.values[0, 198], p[0][9] * p[1][9] * p[2][9] * p[3][9])
    torch.testing.assert_close(res.values.sum(), torch.tensor(1.0, dtype=torch.float64))


def test_deepproblog_style_tensor_terms() -> None:
    net = Lookup(8, 10)
    prog = einlog.Program.from_string(ADDITION, networks={"mnist_net": net})
    train = [torch.tensor(i) for i in range(8)]
    pattern, inputs = deepproblog_batch(
        ["addition(tensor(train(0)), tensor(train(1)), 1)",
         "addition(tensor(train(2)), tensor(train(3)), 7)"], {"train": train})
    assert str(pattern) in ("addition(T0,T1,V0)", "addition(T0, T1, V0)")
    got = prog.query(pattern, **inputs).values
    full = conv_sum(net(torch.tensor([0, 2])), net(torch.tensor([1, 3])))
    torch.testing.assert_close(got, torch.stack([full[0, 1], full[1, 7]]))


# ------------------------------------------------------------------------- errors
def _prog(net: object) -> einlog.Program:
    return einlog.Program.from_string(ADDITION, networks={"mnist_net": net})


def test_unbound_network_lists_bound_names() -> None:
    with pytest.raises(NeuralError, match=r"'mnist_net'.*not bound.*bound networks: other"):
        einlog.Program.from_string(ADDITION, networks={"other": Lookup(2, 10)})


def test_wrong_shape_names_network_and_expected_shape() -> None:
    prog = _prog(lambda x: torch.softmax(torch.zeros(x.shape[0], 9), -1))
    with pytest.raises(NeuralError, match=r"'mnist_net'.*\[4, 9\].*\[batch, 10\].*\[0,\.\.\.,9\]"):
        prog.query("addition(A, B, S)", A=torch.zeros(2), B=torch.zeros(2))


def test_nan_and_negative_outputs() -> None:
    prog = _prog(lambda x: torch.full((x.shape[0], 10), float("nan")))
    with pytest.raises(NeuralError, match="'mnist_net' returned NaN"):
        prog.query("addition(A, B, S)", A=torch.zeros(2), B=torch.zeros(2))
    neg = torch.full((4, 10), 0.2)
    neg[:, 0] = -0.8
    prog = _prog(lambda x: neg[: x.shape[0]])
    with pytest.raises(NeuralError, match="negative values"):
        prog.query("addition(A, B, S)", A=torch.zeros(2), B=torch.zeros(2))


def test_rows_must_sum_to_one() -> None:
    prog = _prog(lambda x: torch.full((x.shape[0], 10), 0.5))
    with pytest.raises(NeuralError, match=r"do not sum to 1 \(row 0 sums to 5\)"):
        prog.query("addition(A, B, S)", A=torch.zeros(2), B=torch.zeros(2))


def test_batch_sizes_must_agree() -> None:
    prog = _prog(Lookup(8, 10))
    with pytest.raises(NeuralError, match=r"disagree in batch size \(A: 2, B: 3\)"):
        prog.query("addition(A, B, S)", A=torch.zeros(2, dtype=torch.long),
                   B=torch.zeros(3, dtype=torch.long))


def test_input_for_unknown_variable() -> None:
    prog = _prog(Lookup(8, 10))
    with pytest.raises(NeuralError, match="C is not a variable of the query"):
        prog.query("addition(A, B, S)", A=torch.zeros(2, dtype=torch.long),
                   C=torch.zeros(2, dtype=torch.long))


def test_not_a_module() -> None:
    with pytest.raises(NeuralError, match=r"not a torch\.nn\.Module or callable"):
        einlog.Program.from_string(ADDITION, networks={"mnist_net": 3})


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu() -> None:
    net = Lookup(16, 10, seed=4)
    prog = _prog(net)
    a, b, s = torch.arange(8), torch.arange(8, 16), torch.arange(0, 16, 2)
    cpu = prog.query("addition(A, B, S)", A=a, B=b).values
    lp_cpu = prog.query("addition(A, B, S)", A=a, B=b, S=s).values
    net.to("cuda")
    gpu = prog.query("addition(A, B, S)", A=a.cuda(), B=b.cuda()).values
    lp_gpu = prog.query("addition(A, B, S)", A=a.cuda(), B=b.cuda(), S=s.cuda()).values
    assert gpu.device.type == "cuda"
    torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-6, rtol=0)
    torch.testing.assert_close(lp_gpu.cpu(), lp_cpu, atol=1e-6, rtol=0)


def test_placeholder_atoms_print_as_variables() -> None:
    prog = _prog(Lookup(8, 10))
    res = prog.query("addition(A, B, S)", A=torch.tensor([0]), B=torch.tensor([1]))
    assert isinstance(res.atoms[3], Struct)
    assert "$input" not in str(res.atoms[3])


def test_log_likelihood_gradient_with_tiny_digit_probabilities() -> None:
    """The circuit's hand-written log-space backward against the closed form: for
    P(S = s) = sum_i p_i q_(s-i), d log P / d p_i = q_(s-i) / P, also when every term is
    far below float64's smallest normal number in probability space."""

    class Fixed(torch.nn.Module):
        def __init__(self, rows: torch.Tensor) -> None:
            super().__init__()
            self.rows = rows

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.rows[x]

    g = torch.Generator().manual_seed(3)
    rows = torch.softmax(torch.randn(4, 10, generator=g, dtype=torch.float64) * 3, dim=-1)
    rows[2] = rows[2] * 1e-170  # not normalised on purpose: tiny but positive
    rows[3] = rows[3] * 1e-170
    rows.requires_grad_(True)
    prog = einlog.Program.from_string(ADDITION, networks={"mnist_net": Fixed(rows)})
    nq = compiled_query(prog, "addition(A, B, S)", ["A", "B", "S"], validate=False)
    a, b, s = torch.tensor([0, 2]), torch.tensor([1, 3]), torch.tensor([9, 9])
    lp, _ = nq.log_likelihood({"A": a, "B": b}, {"S": s})
    (grad,) = torch.autograd.grad(lp.sum(), rows)
    pa, pb = rows.detach()[a], rows.detach()[b]
    total = conv_sum(pa, pb)[:, 9]
    # example 1: P ~ 1e-340 underflows in probability space; compare in log space
    logs = [torch.logsumexp(torch.stack([torch.log(pa[k, i]) + torch.log(pb[k, 9 - i])
                                          for i in range(10)]), 0) for k in range(2)]
    torch.testing.assert_close(lp, torch.stack(logs), rtol=1e-12, atol=0.0)
    assert torch.isfinite(grad).all()
    expected_a0 = pb[0, 9 - torch.arange(10)] / total[0]
    torch.testing.assert_close(grad[0], expected_a0, rtol=1e-10, atol=0.0)
    # d log P / d p_i for example 1: q_(9-i) / P, evaluated as exp(log q - log P)
    expected_a2 = torch.exp(torch.log(pb[1, 9 - torch.arange(10)]) - logs[1])
    torch.testing.assert_close(grad[2], expected_a2, rtol=1e-10, atol=0.0)
