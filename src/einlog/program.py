"""The Python API: ``Program`` and ``QueryResult``.

A :class:`Program` is parsed and checked once (syntax -> front end -> IR).
Each query grounds the relevant part of the program and evaluates it under
the chosen semantics:

* ``exact`` (alias ``probability``, the default) compiles the lineage to a
  tensor circuit (:mod:`einlog.circuit`);
* ``topk`` collects the k best proofs per answer (:mod:`einlog.eval.proofs`);
* every other name is a semiring from :mod:`einlog.semirings`, evaluated as a
  vectorized fixpoint on the ground program (:mod:`einlog.eval`).

Groundings are cached per query, so asking the same query under several
semantics grounds once.  Values are torch tensors: leaf weights are built as
tensors (learnable ``t(...)`` parameters are ``nn.Parameter``s), so gradients
flow from any answer back to fact weights and parameters.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from einlog.errors import ConfigError, EinlogWarning, NeuralError
from einlog.front import compile_program
from einlog.ground import Grounding, GroundingLimits, ground
from einlog.ground.program import GroundProgram
from einlog.ir.nodes import IRProgram
from einlog.semirings.base import Semantics
from einlog.syntax import format_term, parse_program, parse_query, read_source
from einlog.syntax.ast import ProgramAST
from einlog.terms import Struct, Term, is_ground

__all__ = ["Program", "QueryResult"]



@dataclass
class QueryResult:
    """Answers of one query evaluation: ground atoms and their values.

    Iterating yields ``(atom, value)`` pairs; ``to_dict()`` maps printed atoms
    to floats; ``tensor()`` stacks the values (keeping gradients);
    ``explain(atom)`` returns proofs where the semantics has them.
    """

    atoms: list[Struct]
    values: torch.Tensor
    semantics: str
    leaf_weights: torch.Tensor | None = None
    leaf_labels: list[Struct] = field(default_factory=list)
    _explain: Any = field(default=None, repr=False)

    def __iter__(self) -> Iterator[tuple[Struct, torch.Tensor]]:
        return iter(zip(self.atoms, self.values.unbind(-1)))

    def __len__(self) -> int:
        return len(self.atoms)

    def _index(self, atom: str | Struct) -> int:
        key = parse_query(atom) if isinstance(atom, str) else atom
        for i, a in enumerate(self.atoms):
            if a == key:
                return i
        known = ", ".join(str(a) for a in self.atoms[:10])
        raise KeyError(f"{key} is not an answer of this query (answers: {known})")

    def __getitem__(self, atom: str | Struct) -> torch.Tensor:
        return self.values[..., self._index(atom)]

    def to_dict(self) -> dict[str, float]:
        if self.values.dim() != 1:
            raise ConfigError("to_dict() needs an unbatched result; use tensor() for batches")
        return {str(a): float(v) for a, v in zip(self.atoms, self.values.detach().tolist())}

    def tensor(self) -> torch.Tensor:
        return self.values

    def explain(self, atom: str | Struct, k: int | None = None) -> list[Any]:
        """The proofs of ``atom`` (best first) under a semantics that has proofs."""
        if self._explain is None:
            raise ConfigError(
                f"semantics {self.semantics!r} keeps no proofs",
                hint="use semantics='topk' (or Program.explain) to get proofs",
            )
        key = parse_query(atom) if isinstance(atom, str) else atom
        proofs = self._explain(key)
        return list(proofs if k is None else proofs[:k])

    def weight_grad(self, label: str | Struct) -> torch.Tensor | None:
        """Gradient accumulated on the weight of the fact ``label`` after ``backward()``."""
        if self.leaf_weights is None or self.leaf_weights.grad is None:
            return None
        key = parse_query(label) if isinstance(label, str) else label
        for i, lab in enumerate(self.leaf_labels):
            if lab == key:
                return self.leaf_weights.grad[..., i]
        raise KeyError(f"{key} is not a probabilistic fact of this grounding")


class Program:
    """A parsed, checked einlog program, ready to be queried."""

    def __init__(
        self,
        ast: ProgramAST,
        *,
        networks: Mapping[str, Any] | None = None,
        limits: GroundingLimits | None = None,
        tensor_sources: Mapping[str, Any] | None = None,
    ) -> None:
        self.ast = ast
        # DeepProbLog's tensor(train(i)) constants: name -> dataset, tensor or callable
        self.tensor_sources: dict[str, Any] = dict(tensor_sources or {})
        self.ir: IRProgram = compile_program(ast)
        self.limits = limits
        self.parameters = torch.nn.ParameterList(
            [torch.nn.Parameter(torch.tensor(self._initial_param(i), dtype=torch.float64))
             for i in range(len(self.ir.params))]
        )
        self.networks: dict[str, Any] = {}
        if self.ir.networks or networks:
            from einlog.neural import bind_networks

            self.networks = bind_networks(self.ir, dict(networks or {}))
        self._groundings: dict[tuple[str, ...], Grounding] = {}
        self._engines: dict[int, Any] = {}

    def _initial_param(self, i: int) -> float:
        initial = self.ir.params[i].initial
        if initial is not None:
            return float(initial)
        # t(_) starts from a reproducible pseudo-random value, as ProbLog's LFI does
        gen = torch.Generator().manual_seed(1000 + i)
        return float(torch.rand((), generator=gen, dtype=torch.float64) * 0.8 + 0.1)

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_string(
        cls, text: str, name: str = "<string>", *, networks: Mapping[str, Any] | None = None,
        limits: GroundingLimits | None = None, tensor_sources: Mapping[str, Any] | None = None,
    ) -> Program:
        return cls(parse_program(text, name=name), networks=networks, limits=limits,
                   tensor_sources=tensor_sources)

    @classmethod
    def from_file(
        cls, path: str | os.PathLike[str], *, networks: Mapping[str, Any] | None = None,
        limits: GroundingLimits | None = None, tensor_sources: Mapping[str, Any] | None = None,
    ) -> Program:
        source = read_source(os.fspath(path))
        return cls(parse_program(source.text, name=source.name), networks=networks,
                   limits=limits, tensor_sources=tensor_sources)

    # ----------------------------------------------------------------- grounding
    def _query_atoms(self, query: str | Struct | Sequence[str | Struct] | None) -> list[Struct]:
        if query is None:
            atoms = list(self.ir.queries)
            if not atoms:
                raise ConfigError(
                    "the program has no query/1 facts and no query was given",
                    hint="add query(atom). to the program or pass a query, e.g. "
                    "--query 'path(a, X)'",
                )
            return atoms
        if isinstance(query, (str, Struct)):
            return [parse_query(query)]
        return [parse_query(q) for q in query]

    def ground(self, query: str | Struct | Sequence[str | Struct] | None = None) -> Grounding:
        """Ground the program for ``query`` (default: its own queries); cached."""
        atoms = self._query_atoms(query)
        key = tuple(str(a) for a in atoms)
        cached = self._groundings.get(key)
        if cached is None:
            cached = ground(self.ir, atoms, self.limits)
            self._groundings[key] = cached
        return cached

    def parameter_tensor(self) -> torch.Tensor | None:
        """The learnable ``t(...)`` parameters as one tensor (``None`` when there are none)."""
        return torch.stack(list(self.parameters)) if len(self.parameters) else None

    def leaf_weights(self, gp: GroundProgram) -> torch.Tensor:
        """Weights of the ground program's leaves as a differentiable tensor."""
        from einlog.circuit import leaf_tensor

        neural = self._neural_leaf_values(gp)
        return leaf_tensor(gp, self.parameter_tensor(), neural)

    def _neural_leaf_values(self, gp: GroundProgram) -> torch.Tensor | None:
        """``[L]`` values for neural leaves whose inputs are ground terms in the program.

        DeepProbLog programs name their inputs ``tensor(train(3))``; those are looked
        up in :attr:`tensor_sources` and each distinct (network, inputs) call runs once.
        Batched tensor inputs go through ``query(..., X=tensor)`` instead.
        """
        calls: dict[tuple[str, tuple[Term, ...]], list[int]] = {}
        for i, w in enumerate(gp.leaf_weight):
            if w.kind == "neural" and w.network is not None:
                calls.setdefault((w.network, w.inputs), []).append(i)
        if not calls:
            return None
        from einlog.neural.bind import check_output
        from einlog.neural.query import resolve_tensor_term

        values: list[torch.Tensor | None] = [None] * len(gp.leaf_weight)
        for (name, inputs), leaves in calls.items():
            args = []
            for term in inputs:
                if not (isinstance(term, Struct) and term.functor == "tensor"
                        and len(term.args) == 1):
                    raise NeuralError(
                        f"the neural fact {gp.leaf_label[leaves[0]]} has input "
                        f"{format_term(term)}, which is not a tensor",
                        hint="bind the input variable to a batch (query(..., X=tensor)) or "
                        "write tensor(source(i)) and pass tensor_sources={'source': data}",
                    )
                args.append(resolve_tensor_term(term, self.tensor_sources).unsqueeze(0))
            first = gp.leaf_weight[leaves[0]]
            out = check_output(name, self.networks[name](*args), 1, first.domain_size)[0]
            for i in leaves:
                index = gp.leaf_weight[i].index
                values[i] = out[index if index is not None else 0].to(torch.float64)
        zero = out.new_zeros((), dtype=torch.float64)  # on the networks' device
        return torch.stack([zero if v is None else v for v in values])

    # ----------------------------------------------------------------- querying
    def query(
        self,
        query: str | Struct | Sequence[str | Struct] | None = None,
        semantics: str | Semantics = "exact",
        *,
        k: int = 3,
        requires_grad: bool = False,
        **inputs: torch.Tensor,
    ) -> QueryResult:
        """Evaluate ``query`` (default: the program's queries) under ``semantics``.

        Values are probabilities (or degrees of truth) as a tensor over the
        answers; with evidence in the program, exact semantics gives
        ``P(answer | evidence)``.  ``requires_grad=True`` makes every leaf weight
        a gradient target (read with :meth:`QueryResult.weight_grad`).
        Keyword tensors bind query variables to batched neural inputs, e.g.
        ``model.query("addition(A, B, S)", A=images_a, B=images_b)``.
        ``semantics`` is a name or a configured entry, e.g.
        ``get_semiring("exact", max_size=10**6, time_limit=30)``.
        """
        from einlog.semirings import get_semiring

        if not isinstance(semantics, str):
            chosen = semantics
        elif _kind(semantics) == "proofs":
            chosen = get_semiring(semantics, k=k)
        else:
            chosen = get_semiring(semantics)
        if inputs:
            from einlog.neural import neural_query

            result: QueryResult = neural_query(self, query, inputs, semantics=chosen.name)
            return result
        grounding = self.ground(query)
        gp = grounding.program
        atoms = self._answers(grounding, query)
        ids = [gp.atom_id(a) for a in atoms]
        weights = self.leaf_weights(gp)
        if requires_grad and not weights.requires_grad:
            weights = weights.detach().clone().requires_grad_(True)
        if weights.requires_grad:
            weights.retain_grad()
        if gp.evidence and chosen.kind != "exact":
            warnings.warn(
                f"evidence is ignored under '{chosen.name}' semantics: only 'exact' "
                "conditions on it (P(q | e)); the values are unconditioned",
                EinlogWarning,
                stacklevel=2,
            )
        values, explain = self._evaluate(gp, ids, weights, chosen)
        return QueryResult(atoms, values, chosen.name, weights, list(gp.leaf_label), explain)

    def _answers(self, grounding: Grounding, query: Any) -> list[Struct]:
        atoms: list[Struct] = []
        seen: set[Struct] = set()
        for pattern in self._query_atoms(query):
            answers = grounding.answers.get(pattern, [])
            if not answers and is_ground(pattern):
                answers = [pattern]  # a ground query that cannot hold still gets its 0
            for answer in answers:
                if answer not in seen:
                    seen.add(answer)
                    atoms.append(answer)
        return atoms

    def _evaluate(
        self, gp: GroundProgram, ids: list[int | None], weights: torch.Tensor, semantics: Any
    ) -> tuple[torch.Tensor, Any]:
        present = [i for i in ids if i is not None]
        if semantics.kind == "exact":
            # the semantics' own engine: its budgets (max_size, time_limit) apply
            engine = self._engines.get(id(gp))
            if engine is None or engine.queries != present or engine.limits != semantics.limits:
                engine = semantics.engine(gp, roots=present)
                self._engines[id(gp)] = engine
            probs = engine.probabilities(weights)
            return _scatter_present(ids, probs), None
        if semantics.kind == "proofs":
            proofs = semantics.run(gp, weights.detach())
            values = torch.tensor([proofs.lower_bound(i) for i in present], dtype=weights.dtype)

            def explain(atom: Struct) -> list[Any]:
                aid = gp.atom_id(atom)
                return [] if aid is None else list(proofs.proofs(aid))

            return _scatter_present(ids, values), explain
        from einlog.eval import FixpointEvaluator

        evaluator = FixpointEvaluator(gp, semantics)
        all_values = evaluator(weights).to(weights.dtype)
        index = torch.tensor(present, dtype=torch.long)
        return _scatter_present(ids, all_values.index_select(-1, index)), None

    def mpe(
        self, query: str | Struct | Sequence[str | Struct] | None = None
    ) -> tuple[list[tuple[Struct, bool]], float]:
        """The most probable explanation: the likeliest assignment of the probabilistic
        facts relevant to ``query`` (given the program's evidence) and its probability."""
        from einlog.circuit import ExactEngine

        gp = self.ground(query).program
        result = ExactEngine(gp).mpe(self.leaf_weights(gp))
        assignment = result.assignment.tolist()
        world = [(gp.leaf_label[i], bool(v)) for i, v in enumerate(assignment)]
        return world, float(result.probability)

    def explain(self, query: str | Struct, k: int = 3) -> dict[Struct, list[Any]]:
        """Top-k proofs for every answer of ``query``."""
        result = self.query(query, semantics="topk", k=k)
        return {atom: result.explain(atom) for atom in result.atoms}

    def to(self, device: str | torch.device) -> Program:
        """Move the bound networks and learnable parameters to ``device`` (in place)."""
        for net in self.networks.values():
            if isinstance(net, torch.nn.Module):
                net.to(device)
        self.parameters.to(device)
        return self

    def __repr__(self) -> str:
        name = self.ast.source.name if self.ast.source is not None else "<string>"
        return f"Program({name!r}, {len(self.ast.statements)} statements)"


def _kind(semantics: str) -> str:
    from einlog.semirings import get_semiring

    return str(get_semiring(semantics).kind)


def _scatter_present(ids: list[int | None], values: torch.Tensor) -> torch.Tensor:
    """Put values of the present answers back in answer order (absent answers are 0)."""
    if all(i is not None for i in ids):
        return values
    out = torch.zeros((*values.shape[:-1], len(ids)), dtype=values.dtype)
    cols = [j for j, i in enumerate(ids) if i is not None]
    if not cols:
        return out
    return out.index_copy(-1, torch.tensor(cols, dtype=torch.long), values)

