"""The Python API (``einlog.Program``) end to end: semantics flag, results, gradients, warnings."""

from __future__ import annotations

import pytest
import torch

import einlog
from einlog.errors import EinlogWarning, UnknownSemanticsError

GRAPH = """
0.6::edge(a, b). 0.5::edge(b, c). 0.3::edge(a, c).
path(X, Y) :- edge(X, Y).
path(X, Y) :- edge(X, Z), path(Z, Y).
query(path(a, _)).
"""


def test_query_under_several_semantics() -> None:
    prog = einlog.Program.from_string(GRAPH)
    exact = prog.query().to_dict()
    assert {str(a) for a in exact} == {"path(a,b)", "path(a,c)"}
    by_name = {str(a): float(v) for a, v in exact.items()}
    assert by_name["path(a,c)"] == pytest.approx(1 - (1 - 0.3) * (1 - 0.6 * 0.5))
    godel = {str(a): float(v) for a, v in prog.query(semantics="godel").to_dict().items()}
    assert godel["path(a,c)"] == pytest.approx(0.5)
    viterbi = {str(a): float(v) for a, v in prog.query(semantics="viterbi").to_dict().items()}
    assert viterbi["path(a,c)"] == pytest.approx(0.3)


def test_gradients_reach_fact_weights() -> None:
    prog = einlog.Program.from_string(GRAPH)
    res = prog.query("path(a, c)", requires_grad=True)
    res.values.sum().backward()
    # P(path(a,c)) = 1 - (1 - e_ac)(1 - e_ab e_bc): d/d e_ac = 1 - e_ab e_bc
    g = res.weight_grad("edge(a, c)")
    assert g is not None and float(g) == pytest.approx(1 - 0.6 * 0.5)
    assert float(res.weight_grad("edge(a, b)")) == pytest.approx(0.7 * 0.5)


def test_evidence_under_a_non_exact_semantics_warns() -> None:
    prog = einlog.Program.from_string(GRAPH + "evidence(edge(a, b), false).\n")
    with pytest.warns(EinlogWarning, match="evidence is ignored under 'godel'"):
        prog.query(semantics="godel")


def test_unknown_semantics_lists_the_valid_names() -> None:
    prog = einlog.Program.from_string(GRAPH)
    with pytest.raises(UnknownSemanticsError, match="godel"):
        prog.query(semantics="fuzzy")


def test_result_as_tensor_keeps_answer_order() -> None:
    prog = einlog.Program.from_string(GRAPH)
    res = prog.query()
    t = res.tensor()
    assert isinstance(t, torch.Tensor) and t.shape == (len(res.atoms),)


def test_tensor_constants_in_the_program_resolve_through_tensor_sources() -> None:
    net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Softmax(-1))
    text = (
        "nn(net, [X], Y, [a, b]) :: kind(X, Y).\n"
        "first(Y) :- kind(tensor(train(0)), Y).\n"
    )
    data = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    prog = einlog.Program.from_string(text, networks={"net": net},
                                      tensor_sources={"train": data})
    res = {str(a): float(v) for a, v in prog.query("first(Y)").to_dict().items()}
    expected = net(data[:1])[0].detach().double()
    assert res["first(a)"] == pytest.approx(float(expected[0]))
    assert res["first(b)"] == pytest.approx(float(expected[1]))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_program_with_tensor_sources_on_cuda_matches_cpu() -> None:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Softmax(-1))
    text = (
        "t(0.4)::bias.\n"
        "nn(net, [X], Y, [a, b]) :: kind(X, Y).\n"
        "first(Y) :- kind(tensor(train(0)), Y), bias.\n"
    )
    data = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    prog = einlog.Program.from_string(text, networks={"net": net},
                                      tensor_sources={"train": data})
    cpu = prog.query("first(Y)").values.detach()
    prog.to("cuda")
    prog.tensor_sources["train"] = data.cuda()
    gpu = prog.query("first(Y)").values
    assert gpu.device.type == "cuda"
    torch.testing.assert_close(gpu.detach().cpu(), cpu, atol=1e-6, rtol=0)


def test_a_configured_semantics_object_is_accepted() -> None:
    from einlog.errors import InferenceError
    from einlog.semirings import get_semiring

    prog = einlog.Program.from_string(GRAPH)
    with pytest.raises(InferenceError, match="memory budget"):
        prog.query(semantics=get_semiring("exact", max_size=2))
    roomy = prog.query(semantics=get_semiring("exact", max_size=10**6)).to_dict()
    assert len(roomy) == 2
