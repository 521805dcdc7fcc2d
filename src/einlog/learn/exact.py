"""Learning ``t(_)`` parameters by maximum likelihood through exact circuits.

Why it is built this way: ProbLog's LFI runs EM, one knowledge compilation
and one evaluation per example per iteration.  Here every distinct
(partial) interpretation is one root of a *single* multi-rooted circuit,
so one log-space forward pass gives ``log P(e_k)`` for all examples and
autograd gives the exact gradient of the log-likelihood
``sum_k log P(e_k)``; Adam follows it.

Parameterisation keeps every iterate a valid distribution: an independent
``t(_)`` fact is ``sigmoid(theta)``; the learnable alternatives of an
annotated disjunction share the mass left by its fixed alternatives through
a softmax (as ProbLog's LFI normalises them: learnable alternatives sum to
``1 - fixed``).  Unset initial values (``t(_)``) start at 0.5 (uniform
within an AD) so results are reproducible.

Evidence files use ProbLog's LFI format: ``evidence(atom, true).`` lines
(also ``evidence(atom).`` / ``evidence(\\+atom).``), examples separated by
lines starting with ``---``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from einlog.circuit.compile import CompileLimits, RootSpec, SddCompiler
from einlog.circuit.exact import encoding_of
from einlog.circuit.tensor import build_tensor_circuit
from einlog.errors import InferenceError, ParseError
from einlog.ground.program import GroundProgram
from einlog.terms import Struct

if TYPE_CHECKING:
    from einlog.ir.nodes import IRProgram
    from einlog.syntax.ast import ProgramAST

__all__ = [
    "Example",
    "LearnResult",
    "learn_parameters",
    "read_lfi_examples",
    "format_learned_program",
]

#: One partial interpretation: ``(ground atom, observed truth value)`` pairs.
Example = Sequence[tuple[Struct, bool]]


@dataclass
class LearnResult:
    """Learned parameter values (indexed like ``IRProgram.params``) and the fit."""

    values: list[float]
    log_likelihood: float
    epochs: int
    history: list[float] = field(default_factory=list)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.values)

    def __len__(self) -> int:
        return len(self.values)

    def __getitem__(self, i: int) -> float:
        return self.values[i]


def read_lfi_examples(text: str, name: str = "<evidence>") -> list[list[tuple[Struct, bool]]]:
    """Parse ProbLog LFI evidence: ``evidence(a, true).`` lines, ``---`` between examples."""
    from einlog.syntax import parse_program
    from einlog.syntax.ast import Evidence

    examples: list[list[tuple[Struct, bool]]] = []
    chunk: list[str] = []
    offset = 0  # keep line numbers of the whole file in error messages
    chunk_start = 0

    def flush() -> None:
        body = "".join(chunk)
        if not body.strip():
            return
        ast = parse_program("\n" * chunk_start + body, name)
        ex: list[tuple[Struct, bool]] = []
        for st in ast.statements:
            if isinstance(st, Evidence):
                ex.append((st.atom, bool(st.value)))
            else:
                raise ParseError(
                    "an evidence file holds only evidence(atom, true/false) facts",
                    getattr(st, "span", None),
                    "separate examples with a line '----'",
                )
        if ex:
            examples.append(ex)

    for line in text.splitlines(keepends=True):
        if line.strip().startswith("---"):
            flush()
            chunk = []
            chunk_start = offset + 1
        else:
            chunk.append(line)
        offset += 1
    flush()
    return examples


class _Parametrisation:
    """Maps unconstrained logits ``theta [P]`` to leaf probabilities ``[L]``."""

    def __init__(self, gp: GroundProgram, num_params: int, init: Sequence[float | None]) -> None:
        n = len(gp.leaf_weight)
        const = np.zeros(n)
        pidx = np.full(n, -1, dtype=np.int64)
        for i, w in enumerate(gp.leaf_weight):
            if w.kind == "const":
                const[i] = float(w.value or 0.0)
            elif w.kind == "param":
                pidx[i] = int(w.param or 0)
            else:
                raise InferenceError(
                    "parameter learning from evidence does not support neural predicates",
                    hint="train neural predicates with the neural training loop instead",
                )
        self.num_leaves = n
        self.num_params = num_params
        # AD groups with learnable members: softmax over their params, scaled by 1 - fixed
        soft_leaf: list[int] = []
        soft_seg: list[int] = []
        scale: list[float] = []
        in_soft = np.zeros(num_params, dtype=bool)
        seg = 0
        for g in gp.groups:
            learn = [int(leaf) for leaf in g if pidx[leaf] >= 0]
            if not learn:
                continue
            fixed = float(sum(const[leaf] for leaf in g if pidx[leaf] < 0))
            for leaf in learn:
                soft_leaf.append(leaf)
                soft_seg.append(seg)
                in_soft[pidx[leaf]] = True
            scale.append(max(0.0, 1.0 - fixed))
            seg += 1
        self.const = torch.as_tensor(const)
        self.pidx = torch.as_tensor(pidx)
        self.sig_mask = torch.as_tensor(pidx >= 0)
        self.soft_leaf = torch.as_tensor(soft_leaf, dtype=torch.long)
        self.soft_seg = torch.as_tensor(soft_seg, dtype=torch.long)
        self.scale = torch.as_tensor(scale, dtype=torch.float64)
        self.num_soft = seg
        self.in_soft = in_soft
        # first (group, leaf) where each soft param appears: its reported value
        self.report_leaf = np.full(num_params, -1, dtype=np.int64)
        for leaf in soft_leaf:
            k = pidx[leaf]
            if self.report_leaf[k] < 0:
                self.report_leaf[k] = leaf
        # initial logits
        theta = np.zeros(num_params)
        for k in range(num_params):
            v = init[k] if k < len(init) else None
            if in_soft[k]:
                theta[k] = math.log(max(v, 1e-6)) if v is not None else 0.0
            else:
                v = 0.5 if v is None else min(max(v, 1e-6), 1 - 1e-6)
                theta[k] = math.log(v) - math.log1p(-v)
        self.theta0 = torch.as_tensor(theta)

    def leaf_probs(self, theta: torch.Tensor) -> torch.Tensor:
        idx = torch.clamp(self.pidx, min=0)
        p = torch.where(self.sig_mask, torch.sigmoid(theta.index_select(0, idx)), self.const)
        if self.num_soft:
            z = theta.index_select(0, self.pidx.index_select(0, self.soft_leaf))
            m = torch.full((self.num_soft,), -math.inf, dtype=z.dtype).scatter_reduce(
                0, self.soft_seg, z.detach(), "amax", include_self=True
            )
            ex = torch.exp(z - m.index_select(0, self.soft_seg))
            tot = torch.zeros(self.num_soft, dtype=z.dtype).index_add(0, self.soft_seg, ex)
            soft = ex / tot.index_select(0, self.soft_seg) * self.scale.index_select(
                0, self.soft_seg
            )
            p = p.index_copy(0, self.soft_leaf, soft)
        return p

    def values(self, theta: torch.Tensor) -> list[float]:
        p = self.leaf_probs(theta).detach()
        out = torch.sigmoid(theta.detach()).tolist()
        for k in range(self.num_params):
            if self.in_soft[k] and self.report_leaf[k] >= 0:
                out[k] = float(p[self.report_leaf[k]])
        return [float(x) for x in out]


def _ground_for(source: Any, atoms: list[Struct]) -> tuple[GroundProgram, list[float | None]]:
    """A ground program containing ``atoms`` and the initial parameter values."""
    from einlog.ground.program import GroundProgram as GP

    if isinstance(source, GP):
        nparams = 1 + max(
            (int(w.param or 0) for w in source.leaf_weight if w.kind == "param"), default=-1
        )
        return source, [None] * nparams
    prog = getattr(source, "program", None)
    if isinstance(prog, GP):  # a Grounding
        return _ground_for(prog, atoms)
    from einlog.ground import ground

    ir: IRProgram = source
    grounding = ground(ir, list(atoms))
    return grounding.program, [p.initial for p in ir.params]


def learn_parameters(
    source: IRProgram | GroundProgram | Any,
    examples: Sequence[Example],
    *,
    epochs: int = 300,
    lr: float = 0.1,
    init: Sequence[float | None] | None = None,
    tol: float = 1e-10,
    limits: CompileLimits | None = None,
    verbose: bool = False,
) -> LearnResult:
    """Fit the program's ``t(...)`` parameters to ``examples`` by maximum likelihood.

    ``source``: an :class:`IRProgram` (grounded here for the evidence atoms), a
    ``Grounding`` or a :class:`GroundProgram` that contains the evidence atoms.
    Returns the learned values indexed like ``IRProgram.params``.
    """
    atoms: list[Struct] = []
    seen: set[Struct] = set()
    for ex in examples:
        for a, _ in ex:
            if a not in seen:
                seen.add(a)
                atoms.append(a)
    gp, initial = _ground_for(source, atoms)
    if init is not None:
        initial = list(init) + initial[len(init) :]
    par = _Parametrisation(gp, len(initial), initial)
    # distinct interpretations become roots of one circuit
    keys: dict[tuple[tuple[int, bool], ...], int] = {}
    counts: list[float] = []
    first_example: list[int] = []
    for k, ex in enumerate(examples):
        lits = []
        for a, v in ex:
            aid = gp.atom_id(a)
            lits.append((-1 if aid is None else int(aid), bool(v)))
        key = tuple(sorted(set(lits)))
        if key not in keys:
            keys[key] = len(counts)
            counts.append(0.0)
            first_example.append(k)
        counts[keys[key]] += 1.0
    roots: list[RootSpec] = []
    for key in keys:
        if any(a < 0 and v for a, v in key):
            k = first_example[len(roots)]
            missing = [str(examples[k][i][0]) for i, (a, v) in enumerate(
                (gp.atom_id(x), y) for x, y in examples[k]) if a is None and v]
            raise InferenceError(
                f"example {k + 1} is impossible: {', '.join(missing)} cannot be true in any "
                "world of the program",
                hint="check the evidence atoms' spelling and arity",
            )
        roots.append([(a, v) for a, v in key if a >= 0])
    order = [a for key in keys for a, _ in key if a >= 0]
    compiler = SddCompiler(gp, order_roots=order, limits=limits)
    nodes = compiler.compile_roots(
        roots, label=lambda k: f"example {first_example[k] + 1}"
    )
    circ = build_tensor_circuit(compiler.manager, nodes, encoding_of(gp))
    weight = torch.as_tensor(counts, dtype=torch.float64)
    theta = par.theta0.clone().requires_grad_(True)
    opt = torch.optim.Adam([theta], lr=lr)
    history: list[float] = []
    ll = -math.inf
    epoch = 0
    for epoch in range(1, epochs + 1):
        opt.zero_grad()
        logp = circ(par.leaf_probs(theta), log=True)
        if epoch == 1 and bool(torch.isinf(logp).any()):
            bad = int(torch.nonzero(torch.isinf(logp))[0, 0])
            ex = examples[first_example[bad]]
            raise InferenceError(
                f"example {first_example[bad] + 1} has probability 0 under the initial "
                "parameters: " + ", ".join(f"{a}={'true' if v else 'false'}" for a, v in ex),
                hint="the evidence is inconsistent with the program",
            )
        loss = -(weight * logp).sum()
        loss.backward()
        opt.step()
        cur = -float(loss.detach())
        history.append(cur)
        if verbose:
            print(f"epoch {epoch}: log-likelihood {cur:.10g}")
        gmax = float(theta.grad.abs().max()) if theta.grad is not None and theta.numel() else 0.0
        if abs(cur - ll) < tol * max(1.0, abs(cur)) and gmax < 1e-6:
            ll = cur
            break
        ll = cur
    with torch.no_grad():
        final = float((weight * circ(par.leaf_probs(theta), log=True)).sum())
    return LearnResult(par.values(theta), final, epoch, history)


def format_learned_program(ast: ProgramAST, values: Sequence[float], digits: int = 6) -> str:
    """``ast`` printed in ProbLog syntax with every ``t(...)`` replaced by its learned value.

    Parameters are numbered in the order their ``t(...)`` annotations appear in
    the program, which is how the front end numbers ``IRProgram.params``.
    """
    from einlog.syntax import format_program
    from einlog.syntax.ast import ProbabilisticClause

    k = 0
    statements: list[Any] = []
    for st in ast.statements:
        if isinstance(st, ProbabilisticClause):
            heads = []
            for prob, head in st.heads:
                if isinstance(prob, Struct) and prob.indicator == ("t", 1):
                    if k < len(values):
                        prob = round(float(values[k]), digits)
                    k += 1
                heads.append((prob, head))
            st = ProbabilisticClause(heads, st.body, st.span)
        statements.append(st)
    out = type(ast)(statements, ast.source)
    return format_program(out)

