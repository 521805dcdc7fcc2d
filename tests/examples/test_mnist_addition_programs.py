"""The example programs in examples/mnist_addition agree with each other.

``multi_addition.pl`` is DeepProbLog's program verbatim (caller-bound accumulator);
``multi_addition_carry.pl`` is the ripple-carry rewrite used for N >= 3.  Both must
give the same distribution over sums, and single-digit addition must match the
closed-form convolution of the digit distributions.
"""

from __future__ import annotations

from pathlib import Path

import torch

import einlog

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "mnist_addition"


class Lookup(torch.nn.Module):
    """A 'network' over example ids: softmax of a fixed random logit row per id."""

    def __init__(self, n: int, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.logits = torch.nn.Parameter(torch.randn(n, 10, generator=g, dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.logits[x], dim=-1)


def _sums(program: str, net: Lookup, ids: list[torch.Tensor]) -> torch.Tensor:
    prog = einlog.Program.from_file(EXAMPLES / program, networks={"mnist_net": net})
    res = prog.query("multi_addition([A0, A1], [B0, B1], S)",
                     A0=ids[0], A1=ids[1], B0=ids[2], B1=ids[3])
    order = sorted(range(len(res.atoms)), key=lambda j: int(res.atoms[j].args[2]))
    return res.values[:, order]


def test_verbatim_and_carry_programs_agree_for_two_digits() -> None:
    net = Lookup(12, seed=7)
    ids = [torch.tensor([0, 4, 8]) + k for k in range(4)]
    verbatim = _sums("multi_addition.pl", net, ids)
    carry = _sums("multi_addition_carry.pl", net, ids)
    assert verbatim.shape == carry.shape == (3, 199)
    torch.testing.assert_close(verbatim, carry, atol=1e-12, rtol=0)
    torch.testing.assert_close(verbatim.sum(1), torch.ones(3, dtype=torch.float64))


def test_single_digit_addition_is_the_convolution() -> None:
    net = Lookup(4, seed=1)
    prog = einlog.Program.from_file(EXAMPLES / "addition.pl", networks={"mnist_net": net})
    a, b = torch.tensor([0, 1]), torch.tensor([2, 3])
    res = prog.query("addition(A, B, S)", A=a, B=b)
    pa, pb = net(a), net(b)
    for j, atom in enumerate(res.atoms):
        s = int(atom.args[2])
        want = sum(pa[:, i] * pb[:, s - i] for i in range(10) if 0 <= s - i < 10)
        torch.testing.assert_close(res.values[:, j], want)
