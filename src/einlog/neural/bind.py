"""Binding network names of a program to torch modules, and checking what they return.

Why it is built this way: a program names its networks (``nn(mnist_net, ...)``); Python
binds them by name when the program is loaded, so a missing or misspelt name fails at
load time with the list of bound names, not deep inside training.  Network outputs are
checked at run time, per call, with a few vectorized reductions (shape, NaN, negative
values, rows summing to one for the annotated-disjunction form), because a network that
forgets its softmax otherwise trains silently to nonsense.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from einlog.errors import NeuralError
from einlog.ir.nodes import IRProgram

__all__ = ["bind_networks", "check_output", "network_specs", "ROW_SUM_TOLERANCE"]

#: how far a softmax row may sum away from 1 (float32 softmax rows sum to 1 +- 1e-6)
ROW_SUM_TOLERANCE = 1e-3


def network_specs(ir: IRProgram) -> dict[str, int | None]:
    """Each network of ``ir`` -> its declared domain size (``None``: the sigmoid form)."""
    specs: dict[str, int | None] = {}
    for choice in ir.choices:
        for weight, _ in choice.alternatives:
            if weight.kind == "neural" and weight.neural is not None:
                specs[weight.neural.network] = weight.neural.domain_size
    for facts in ir.facts.values():
        for fact in facts:
            w = fact.weight
            if w is not None and w.kind == "neural" and w.neural is not None:
                specs[w.neural.network] = w.neural.domain_size
    for name in ir.networks:
        specs.setdefault(name, None)
    return specs


def bind_networks(ir: IRProgram, networks: Mapping[str, Any]) -> dict[str, Any]:
    """Check that every network of ``ir`` is bound to a torch module (or callable).

    Returns the bound networks of the program, in a new dict.  Raises
    :class:`~einlog.errors.NeuralError` naming the missing network and the bound names.
    """
    bound = sorted(networks)
    for name, net in networks.items():
        if not isinstance(name, str):
            raise NeuralError(f"network names must be strings, not {name!r}")
        if not (isinstance(net, torch.nn.Module) or callable(net)):
            raise NeuralError(
                f"network {name!r} is a {type(net).__name__}, not a torch.nn.Module or callable",
                hint="bind a module instance, e.g. networks={'mnist_net': MNISTNet()}",
            )
    for name in sorted(ir.networks):
        if name not in networks:
            shown = ", ".join(bound) if bound else "none"
            raise NeuralError(
                f"the program uses network {name!r} but it is not bound (bound networks: "
                f"{shown})",
                hint=f"pass networks={{{name!r}: module}} when loading the program",
            )
    return dict(networks)


def _domain_text(size: int) -> str:
    if size <= 3:
        return "[" + ",".join(str(i) for i in range(size)) + "]"
    return f"[0,...,{size - 1}]"


def check_output(
    name: str,
    out: Any,
    batch: int,
    domain_size: int | None,
    *,
    check_values: bool = True,
) -> torch.Tensor:
    """Validate network ``name``'s output for a batch of ``batch`` and return it as
    ``[batch, domain_size]`` (annotated-disjunction form) or ``[batch, 1]`` (sigmoid form)."""
    if not isinstance(out, torch.Tensor):
        raise NeuralError(
            f"network {name!r} returned a {type(out).__name__}, not a torch.Tensor",
            hint="the network's forward must return a tensor of probabilities",
        )
    if domain_size is None:
        if out.dim() == 1 and out.shape[0] == batch:
            out = out.unsqueeze(-1)
        if out.dim() != 2 or out.shape[0] != batch or out.shape[1] != 1:
            raise NeuralError(
                f"network {name!r} returned shape {list(out.shape)}; expected [batch, 1] or "
                f"[batch] (batch = {batch}) for a probabilistic fact nn({name}, [X]) :: p(X)",
                hint="end the network with a sigmoid producing one probability per example",
            )
    else:
        domain = _domain_text(domain_size)
        expected = f"[batch, {domain_size}] (batch = {batch}) for domain {domain}"
        if out.dim() != 2 or out.shape[0] != batch or out.shape[1] != domain_size:
            hint = "the network's last layer must have one output per domain element"
            if out.dim() == 2 and out.shape[0] == batch:
                hint = (
                    f"the domain has {domain_size} elements but the network has "
                    f"{out.shape[1]} outputs; make them agree"
                )
            raise NeuralError(
                f"network {name!r} returned shape {list(out.shape)}; expected {expected}",
                hint=hint,
            )
    if not check_values:
        return out
    det = out.detach()
    # fast path, one reduction pass and one sync per check: NaN fails every comparison,
    # so min >= 0 (and max <= 1, or row sums within tolerance) also rules NaN out; only
    # a failing output runs the per-condition diagnosis below for its message
    if not det.numel():
        pass
    elif domain_size is None:
        lo, hi = (float(v) for v in torch.stack(torch.aminmax(det)).tolist())  # one sync
        if 0 <= lo and hi <= 1:
            return out
    else:
        s_lo, s_hi = torch.aminmax(det.sum(-1))
        lo, row_lo, row_hi = torch.stack([det.min(), s_lo, s_hi]).tolist()  # one sync
        if 0 <= lo and 1 - ROW_SUM_TOLERANCE <= row_lo and row_hi <= 1 + ROW_SUM_TOLERANCE:
            return out
    if bool(torch.isnan(det).any()):
        raise NeuralError(
            f"network {name!r} returned NaN",
            hint="the network diverged or got NaN inputs; lower the learning rate",
        )
    if bool((det < 0).any()):
        raise NeuralError(
            f"network {name!r} returned negative values (min {float(det.min()):.4g}); "
            "probabilities must lie in [0, 1]",
            hint="end the network with a softmax (domain form) or a sigmoid (fact form)",
        )
    if domain_size is None:
        if bool((det > 1).any()):
            raise NeuralError(
                f"network {name!r} returned values above 1 (max {float(det.max()):.4g})",
                hint="end the network with a sigmoid",
            )
    else:
        sums = det.sum(-1)
        bad = (sums - 1).abs() > ROW_SUM_TOLERANCE
        if bool(bad.any()):
            row = int(bad.nonzero()[0, 0])
            raise NeuralError(
                f"network {name!r} returned rows that do not sum to 1 (row {row} sums to "
                f"{float(sums[row]):.6g})",
                hint="end the network with a softmax over its outputs",
            )
    return out
