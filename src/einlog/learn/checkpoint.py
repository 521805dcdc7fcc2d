"""Checkpoints that restore training exactly and never execute code on load.

Why it is built this way: ``torch.save`` of a whole module pickles classes, and loading
such a file runs arbitrary code.  A checkpoint here holds only plain data -- network
``state_dict``s, the program's learnable parameters as one tensor, optimizer state,
RNG states, counters and the loss history -- and is read back with
``torch.load(weights_only=True)``, which refuses anything else.  A fingerprint of the
program (a SHA-256 of its text) and the network names travel with it, so loading a
checkpoint into a different program fails with :class:`~einlog.errors.CheckpointError`
instead of silently mixing weights.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path
from typing import Any

import torch

from einlog.errors import CheckpointError, ProgramFileNotFoundError

__all__ = ["FORMAT", "program_fingerprint", "save_checkpoint", "load_checkpoint",
           "read_checkpoint"]

FORMAT = "einlog-checkpoint"
VERSION = 1


def program_fingerprint(program: Any) -> str:
    """SHA-256 of the program text (its IR when it has no source), first 16 hex digits."""
    text: str | None = None
    ast = getattr(program, "ast", None)
    source = getattr(ast, "source", None)
    if source is not None:
        text = source.text
    if text is None:
        text = repr(getattr(program, "ir", program))
    normalized = "\n".join(line.rstrip() for line in text.strip().splitlines())
    return hashlib.sha256(normalized.encode()).hexdigest()[:16]


def _program_params(program: Any) -> torch.Tensor:
    params = list(getattr(program, "parameters", []) or [])
    if not params:
        return torch.zeros(0, dtype=torch.float64)
    return torch.stack([p.detach().reshape(()) for p in params]).cpu().clone()


def save_checkpoint(
    path: str | os.PathLike[str],
    program: Any,
    *,
    optimizer: torch.optim.Optimizer | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write network weights, program parameters and (optionally) optimizer state to ``path``."""
    networks = {}
    for name, net in sorted(getattr(program, "networks", {}).items()):
        if isinstance(net, torch.nn.Module):
            networks[name] = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
    payload: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "fingerprint": program_fingerprint(program),
        "network_names": sorted(getattr(program, "networks", {})),
        "networks": networks,
        "parameters": _program_params(program),
        "rng": {"torch": torch.get_rng_state()},
    }
    if optimizer is not None:
        payload["optimizer"] = optimizer.state_dict()
    if extra:
        payload["extra"] = extra
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, p)
    return p


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a checkpoint file as plain data (``weights_only``: no code runs)."""
    p = Path(path)
    if not p.exists():
        raise ProgramFileNotFoundError(f"checkpoint not found: {p}")
    try:
        data = torch.load(p, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError) as e:
        raise CheckpointError(
            f"{p} is not a loadable einlog checkpoint: {str(e).splitlines()[0]}",
            hint="checkpoints hold only tensors and plain data; this file is something else "
            "or is damaged",
        ) from e
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{p} is not an einlog checkpoint",
                              hint="save checkpoints with Trainer.save_checkpoint")
    return data


def load_checkpoint(
    path: str | os.PathLike[str],
    program: Any,
    *,
    optimizer: torch.optim.Optimizer | None = None,
    strict_program: bool = True,
) -> dict[str, Any]:
    """Restore ``program``'s networks and parameters (and ``optimizer``) from ``path``.

    Raises :class:`CheckpointError` when the checkpoint comes from a different program
    (fingerprint or network names differ) or its tensors do not fit.  Returns the
    checkpoint's ``extra`` dict.
    """
    data = read_checkpoint(path)
    fp = program_fingerprint(program)
    if strict_program and data.get("fingerprint") != fp:
        raise CheckpointError(
            f"checkpoint {path} was saved from a different program (program fingerprint "
            f"{data.get('fingerprint')}, this program is {fp})",
            hint="load it into the program it was trained with, or pass "
            "strict_program=False to load matching network weights anyway",
        )
    nets = getattr(program, "networks", {})
    if sorted(nets) != list(data.get("network_names", [])):
        raise CheckpointError(
            f"checkpoint {path} has networks {data.get('network_names')} but the program "
            f"binds {sorted(nets)}",
            hint="bind the same networks under the same names",
        )
    for name, state in data["networks"].items():
        net = nets[name]
        try:
            net.load_state_dict(state)
        except RuntimeError as e:
            raise CheckpointError(
                f"checkpoint {path}: the weights of network {name!r} do not fit the bound "
                f"module: {str(e).splitlines()[0]}",
                hint="bind a network of the same architecture",
            ) from e
    saved = data["parameters"]
    params = list(getattr(program, "parameters", []) or [])
    if int(saved.numel()) != len(params):
        raise CheckpointError(
            f"checkpoint {path} has {int(saved.numel())} learnable parameters, the program "
            f"{len(params)}"
        )
    with torch.no_grad():
        for p, v in zip(params, saved):
            p.copy_(v.to(dtype=p.dtype, device=p.device).reshape(p.shape))
    if optimizer is not None and "optimizer" in data:
        try:
            optimizer.load_state_dict(data["optimizer"])
        except (ValueError, KeyError) as e:
            raise CheckpointError(f"checkpoint {path}: optimizer state does not fit: {e}") from e
    rng = data.get("rng", {}).get("torch")
    if isinstance(rng, torch.Tensor):
        torch.set_rng_state(rng)
    extra = data.get("extra", {})
    return extra if isinstance(extra, dict) else {}
