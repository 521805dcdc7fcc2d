"""Exact inference: marginals, conditionals and MPE from one compiled circuit.

Why it is built this way: an :class:`ExactEngine` owns one
:class:`~einlog.circuit.compile.SddCompiler` for its ground program, so
lineages are compiled once and every later request (another evidence set,
MPE) only conjoins roots in the same manager.  Per evidence set it builds
one multi-rooted :class:`~einlog.circuit.tensor.TensorCircuit` with roots
``[e, q1 & e, ..., qn & e]`` and answers ``P(q | e) = WMC(q & e) / WMC(e)``
in log space (a subtraction of logs: exact for tiny evidence
probabilities).  Leaf probabilities are inputs, never compiled in, so one
circuit serves every parameter value, neural output and batch.

The tensor circuit pays off over batches and gradients; building it costs
as much as compiling (measured 0.5-1.5x the SDD compile time on the
benchmark families).  So a single unbatched evaluation that needs no
gradient (``einlog query``, ``Program.query``) skips it: the roots' SDDs
are weighted-model-counted directly by PySDD in log space (one C pass per
root), with the same literal weights the tensor circuit would use.  The
first batched, differentiable or non-CPU call builds the circuit.  On an
acyclic program (every compile option ``auto``) that single evaluation does
not even compile: variable elimination over one small table per derived
atom (:mod:`einlog.circuit.elimination`) counts all queries in one numpy
pass, and the SDD is compiled on the first call that needs a circuit.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from pysdd.sdd import SddNode

from einlog.circuit.bdd import BddManager, log_wmc
from einlog.circuit.compile import (
    CompileLimits,
    Literal,
    RootSpec,
    SddCompiler,
    atom_label,
    check_options,
)
from einlog.circuit.elimination import EliminationPlan
from einlog.circuit.tensor import CircuitCache, LiteralEncoding, TensorCircuit, build_tensor_circuit
from einlog.errors import InferenceError, NeuralError
from einlog.ground.program import GroundProgram
from einlog.terms import Struct

__all__ = [
    "ExactEngine",
    "MPEResult",
    "LeafInputs",
    "leaf_tensor",
    "structure_key",
    "compile_circuit",
    "EvidenceSpec",
]

def tiny(dtype: torch.dtype) -> float:
    """Root values below this are recomputed in log space: 2**60 times the smallest normal
    number, so terms that underflowed to subnormals are below 2**-60 of the root."""
    return float(torch.finfo(dtype).tiny) * 2.0**60


#: Evidence: ``(atom id or ground atom, truth value)`` pairs.
EvidenceSpec = Sequence[tuple[int | Struct, bool]]


def structure_key(gp: GroundProgram) -> str:
    """A hash of everything that shapes the circuit of ``gp`` (not the leaf weights)."""
    h = hashlib.sha256()
    for arr in (gp.leaves, gp.rule_head, gp.rule_ptr, gp.body_atom, gp.body_neg):
        a = np.ascontiguousarray(arr)
        h.update(str(a.dtype).encode())
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    h.update(repr([list(map(int, g)) for g in gp.groups]).encode())
    h.update(repr([int(q) for q in gp.queries]).encode())
    h.update(repr([(int(a), bool(v)) for a, v in gp.evidence]).encode())
    h.update(str(gp.num_atoms).encode())
    return h.hexdigest()


def encoding_of(gp: GroundProgram) -> LiteralEncoding:
    return LiteralEncoding(
        int(gp.leaves.shape[0]), tuple(tuple(int(x) for x in g) for g in gp.groups)
    )


class LeafInputs:
    """Builds the ``[L]`` (or ``[B, L]``) leaf-probability tensor of a ground program.

    Precomputed once per program so the per-call path is a few vectorized ops:
    constants, ``params[param_index]``, and neural values taken from a
    caller-supplied tensor at the neural leaf positions.
    """

    def __init__(self, gp: GroundProgram) -> None:
        n = len(gp.leaf_weight)
        const = np.zeros(n, dtype=np.float64)
        param_idx = np.full(n, -1, dtype=np.int64)
        neural = np.zeros(n, dtype=bool)
        for i, w in enumerate(gp.leaf_weight):
            if w.kind == "const":
                const[i] = float(w.value if w.value is not None else 0.0)
            elif w.kind == "param":
                param_idx[i] = int(w.param if w.param is not None else 0)
            else:
                neural[i] = True
        self.num_leaves = n
        self.const = torch.as_tensor(const)
        self.param_idx = torch.as_tensor(param_idx)
        self.is_param = self.param_idx >= 0
        self.is_neural = torch.as_tensor(neural)
        self.has_params = bool(self.is_param.any())
        self.has_neural = bool(neural.any())
        self.neural_labels = [str(gp.leaf_label[i]) for i in np.flatnonzero(neural)[:3]] if (
            self.has_neural and gp.leaf_label
        ) else []

    def __call__(
        self,
        params: torch.Tensor | Sequence[float] | None = None,
        neural: torch.Tensor | None = None,
        *,
        dtype: torch.dtype = torch.float64,
        device: torch.device | str | None = None,
    ) -> torch.Tensor:
        if neural is not None and not isinstance(neural, torch.Tensor):
            neural = torch.as_tensor(neural)
        if device is None:
            for t in (params, neural):
                if isinstance(t, torch.Tensor):
                    device = t.device
                    break
        out = self.const.to(dtype=dtype, device=device)
        if self.has_params:
            if params is None:
                raise InferenceError(
                    "the program has learnable t(...) parameters but no parameter values were "
                    "given",
                    hint="pass params=... (the program's parameter vector)",
                )
            pt = torch.as_tensor(params, dtype=dtype, device=out.device)
            idx = self.param_idx.to(out.device)
            mask = self.is_param.to(out.device)
            gathered = pt.index_select(-1, torch.clamp(idx, min=0))
            out = torch.where(mask, gathered, out)
        if self.has_neural:
            if neural is None:
                names = ", ".join(self.neural_labels)
                raise NeuralError(
                    f"the ground program has neural leaves ({names}, ...) but no neural outputs "
                    "were supplied",
                    hint="evaluate the networks first and pass their outputs as neural=[L] or "
                    "[batch, L] (values at the neural leaf positions are used)",
                )
            nt = neural.to(dtype=dtype, device=out.device)
            out = torch.where(self.is_neural.to(out.device), nt, out)
        return out


def leaf_tensor(
    gp: GroundProgram,
    params: torch.Tensor | Sequence[float] | None = None,
    neural: torch.Tensor | None = None,
    *,
    dtype: torch.dtype = torch.float64,
) -> torch.Tensor:
    """Leaf probabilities ``[L]`` of ``gp``: constants, ``params[i]`` for ``t(...)`` leaves and
    ``neural[..., leaf]`` for neural leaves (error when neural leaves have no values)."""
    return LeafInputs(gp)(params, neural, dtype=dtype)


def compile_circuit(
    gp: GroundProgram,
    roots: Sequence[RootSpec] | None = None,
    *,
    limits: CompileLimits | None = None,
    smooth: bool = False,
    cycles: str = "proof",
) -> TensorCircuit:
    """Compile ``roots`` (atom ids or conjunctions of ``(atom, bool)``; default: the queries)
    of ``gp`` into one :class:`TensorCircuit`."""
    if roots is None:
        roots = [int(q) for q in gp.queries]
    order = [int(r) if isinstance(r, (int, np.integer)) else int(r[0][0]) for r in roots if
             isinstance(r, (int, np.integer)) or len(r)]
    compiler = SddCompiler(gp, order_roots=order or None, limits=limits, cycles=cycles)
    nodes = compiler.compile_roots(roots)
    return build_tensor_circuit(compiler.manager, nodes, encoding_of(gp), smooth=smooth)


@dataclass
class MPEResult:
    """Most probable explanation: truth of every leaf and the world's probability."""

    assignment: torch.Tensor  # bool [L] or [B, L]
    probability: torch.Tensor  # [] or [B]
    log_probability: torch.Tensor

    def __iter__(self):  # type: ignore[no-untyped-def]
        yield self.assignment
        yield self.probability


class ExactEngine:
    """Exact (ProbLog) inference for the queries of one ground program.

    ``roots``: atom ids to answer (default ``gp.queries``).  ``cache`` and
    ``cache_key`` (e.g. :func:`structure_key`) let callers share compiled
    circuits across engines of structurally identical programs.
    Compilation options (see :class:`~einlog.circuit.compile.SddCompiler`):
    ``vtree_type`` (``auto``/``right``/``balanced``), ``var_order`` (``auto``/``natural``/``dfs``),
    ``cycles`` (``auto``/``proof``/``eliminate``/``fixpoint``), ``minimize`` (dynamic vtree
    search: smaller circuits for heavy batched use, slower compilation), ``encoding``
    (``auto``/``lineage``/``defined``: whether derived atoms get SDD variables of their own),
    ``backend`` (``auto``/``sdd``/``bdd``: ``auto`` compiles recursive programs to ordered
    BDDs with CUDD, see :mod:`einlog.circuit.bdd`).
    """

    def __init__(
        self,
        gp: GroundProgram,
        roots: Sequence[int] | None = None,
        *,
        limits: CompileLimits | None = None,
        cache: CircuitCache[TensorCircuit] | None = None,
        cache_key: Hashable | None = None,
        vtree_type: str = "auto",
        var_order: str = "auto",
        cycles: str = "auto",
        minimize: bool = False,
        encoding: str = "auto",
        backend: str = "auto",
    ) -> None:
        check_options(vtree_type=vtree_type, var_order=var_order, cycles=cycles,
                      encoding=encoding, backend=backend)
        self.gp = gp
        self.backend = backend
        self.sdd_encoding = encoding
        self.cycles = cycles
        self.var_order = var_order
        self.minimize = minimize
        self.queries = [int(q) for q in (gp.queries if roots is None else roots)]
        self.limits = limits or CompileLimits()
        self.cache = cache
        self.cache_key = cache_key
        self.vtree_type = vtree_type
        self.inputs = LeafInputs(gp)
        self.encoding = encoding_of(gp)
        self._compiler: SddCompiler | None = None
        self._circuits: dict[tuple[Literal, ...], TensorCircuit] = {}
        self._roots: dict[tuple[Literal, ...], list[SddNode]] = {}
        self._ev_roots: dict[tuple[Literal, ...], SddNode] = {}
        self._query_var_list: list[int] | None = None
        self._weights: TensorCircuit | None = None  # root-less circuit: literal weights only
        self._mpe_circuits: dict[tuple[Literal, ...], TensorCircuit] = {}
        self._sdd_twin: ExactEngine | None = None  # see _circuit_source
        self._bdd_counted: set[tuple[Literal, ...]] = set()  # see _direct
        self._plans: dict[tuple[Literal, ...], EliminationPlan | None] = {}  # see _plan
        self._placed_copies: dict[tuple[int, torch.device], TensorCircuit] = {}

    # ------------------------------------------------------------ compilation
    @property
    def compiler(self) -> SddCompiler:
        if self._compiler is None:
            order = self.queries + [int(a) for a, _ in self.gp.evidence]
            self._compiler = SddCompiler(
                self.gp,
                order_roots=order,
                limits=self.limits,
                vtree_type=self.vtree_type,
                var_order=self.var_order,
                cycles=self.cycles,
                minimize=self.minimize,
                encoding=self.sdd_encoding,
                backend=self.backend,
            )
        return self._compiler

    def _evidence(self, evidence: EvidenceSpec | None) -> tuple[Literal, ...]:
        ev = self.gp.evidence if evidence is None else evidence
        out: list[Literal] = []
        for a, v in ev:
            if isinstance(a, Struct):
                aid = self.gp.atom_id(a)
                out.append((-1 if aid is None else aid, bool(v)))
            else:
                out.append((int(a), bool(v)))
        return tuple(out)

    def _label(self, atom: int) -> str:
        return atom_label(self.gp, atom)

    def _format_evidence(self, ev: Sequence[Literal]) -> str:
        return ", ".join(f"{self._label(a)}={'true' if v else 'false'}" for a, v in ev)

    def _placed(self, circ: TensorCircuit, device: torch.device) -> TensorCircuit:
        """``circ`` on ``device``, as one copy per device: moving the cached circuit in
        place would pull it from under a graph on the other device awaiting backward."""
        here = next(iter(circ.buffers()), None)
        if here is None or here.device == device:
            return circ
        key = (id(circ), device)
        found = self._placed_copies.get(key)
        if found is None:
            found = copy.deepcopy(circ).to(device)
            self._placed_copies[key] = found
        return found

    def circuit(self, evidence: EvidenceSpec | None = None) -> TensorCircuit:
        """The circuit with roots ``[e, q1 & e, ...]`` (just ``[q1, ...]`` without evidence)."""
        ev = self._evidence(evidence)
        found = self._circuits.get(ev)
        if found is not None:
            return found

        def build() -> TensorCircuit:
            src = self._circuit_source()
            return build_tensor_circuit(src.compiler.manager, src._root_nodes(ev),
                                        self.encoding)

        if self.cache is not None and self.cache_key is not None:
            key = ("exact", self.cache_key, tuple(self.queries), ev)
            circ = self.cache.get_or_build(key, build)
        else:
            circ = build()
        self._circuits[ev] = circ
        return circ

    def _circuit_source(self) -> ExactEngine:
        """The engine whose compiled roots become tensor circuits: this one, or, where
        ``auto`` counted on a BDD over a dtree's order (smokers), a twin compiling the
        dtree SDD -- its circuits are 3-10x smaller (smokers-40: 3.4k vs 35k nodes),
        and batches and gradients evaluate them many times."""
        comp = self.compiler
        if not (self.backend == "auto" and comp.backend == "bdd" and comp.var_order == "dtree"):
            return self
        if self._sdd_twin is None:
            self._sdd_twin = ExactEngine(
                self.gp, self.queries, limits=self.limits, vtree_type=self.vtree_type,
                var_order=self.var_order, cycles=self.cycles, minimize=self.minimize,
                encoding=self.sdd_encoding, backend="sdd",
            )
        return self._sdd_twin

    def _root_nodes(self, ev: tuple[Literal, ...]) -> list[SddNode]:
        """The SDDs of ``[e, q1 & e, ...]`` (just ``[q1, ...]`` without evidence), compiled once."""
        found = self._roots.get(ev)
        if found is not None:
            return found
        comp = self.compiler
        comp.restart_clock()
        roots: list[RootSpec] = []
        if ev:
            roots.append(list(ev))
        for q in self.queries:
            roots.append([(q, True), *ev])

        def label(k: int) -> str:
            if ev and k == 0:
                return "the evidence " + self._format_evidence(ev)
            return f"query {self._label(self.queries[k - (1 if ev else 0)])}"

        nodes = comp.compile_roots(roots, label=label)
        self._roots[ev] = nodes
        return nodes

    def compile(self, evidence: EvidenceSpec | None = None) -> None:
        """Compile now what :meth:`probabilities` needs, without the tensor circuit: the
        SDDs of the queries (and evidence), or only the evidence's SDD where every query
        is one SDD variable (see :meth:`_query_vars`), or just the elimination plan
        where variable elimination counts (see :meth:`_plan`)."""
        ev = self._evidence(evidence)
        if self._plan(ev) is not None:
            return  # counted by variable elimination; circuits compile on first use
        if self._query_vars() is not None:
            self._evidence_root(ev)
        else:
            self._root_nodes(ev)

    def _plan(self, ev: tuple[Literal, ...]) -> EliminationPlan | None:
        """How a single unbatched count of an acyclic program runs without compiling
        (:mod:`einlog.circuit.elimination`), with every compile option left to
        ``auto``; ``None`` where the program is out of its scope."""
        if ev in self._plans:
            return self._plans[ev]
        plan = None
        if (self.backend == self.sdd_encoding == self.vtree_type == self.var_order == "auto"
                and not self.minimize and self.cache is None):
            plan = EliminationPlan.build(self.gp, self.queries, ev)
            if plan is not None and plan.size > self.limits.max_size:
                plan = None  # the circuit path reports the budget, naming the query
        self._plans[ev] = plan
        return plan

    def _query_vars(self) -> list[int] | None:
        """The SDD variable of every query when each is one (a defined atom or a leaf
        outside any AD), else ``None``.  Then one model count of the evidence's SDD,
        with its literal marginals (PySDD's derivatives), answers all queries at once:
        ``P(q | e) = WMC(delta & e & x_q) / WMC(delta & e)``."""
        if self._query_var_list is not None:
            return self._query_var_list or None
        comp = self.compiler
        if comp.backend == "bdd":  # literal marginals are PySDD's; a BDD counts each root
            self._query_var_list = []
            return None
        leaf_of = comp._leaf_of_atom
        out: list[int] = []
        for q in self.queries:
            var = comp._aux_var.get(q)
            if var is None:
                leaf = leaf_of.get(q)
                if leaf is None or leaf in comp._group_of_leaf or comp.encoding != "defined":
                    self._query_var_list = []
                    return None
                var = leaf + 1
            out.append(var)
        self._query_var_list = out
        return out or None

    def _evidence_root(self, ev: tuple[Literal, ...]) -> SddNode:
        """The SDD of the evidence alone (``delta`` without evidence), compiled once; the
        first of :meth:`_root_nodes` when those exist (without evidence they start with
        the first query)."""
        found = self._ev_roots.get(ev)
        if found is None and ev and ev in self._roots:
            found = self._roots[ev][0]
        if found is None:
            comp = self.compiler
            comp.restart_clock()
            found = comp.compile_roots(
                [list(ev)], label=lambda k: "the evidence " + self._format_evidence(ev)
            )[0]
        self._ev_roots[ev] = found
        return found

    def _direct(self, ev: tuple[Literal, ...], p: torch.Tensor) -> bool:
        """Whether to count models on the SDD instead of building the tensor circuit:
        one unbatched CPU evaluation without gradients, and no circuit built or shared.
        A BDD is counted by a Python pass over its nodes: once per evidence set, later
        evaluations go through the (vectorized) tensor circuit."""
        return (
            p.dim() == 1
            and not p.requires_grad
            and p.device.type == "cpu"
            and ev not in self._circuits
            and (self.cache is None or self.cache_key is None)
            and ev not in self._bdd_counted
        )

    def _log_wmc(self, ev: tuple[Literal, ...], p: torch.Tensor) -> torch.Tensor:
        """``log WMC`` of every root ``[R]``: by variable elimination where it applies, else
        by the SDD's (PySDD, log space) or the BDD's weighted model counter."""
        plan = self._plan(ev)
        if plan is not None:
            ve_counts = plan.counts(p.detach().to(torch.float64).numpy())
            if ve_counts is not None:
                with np.errstate(divide="ignore"):  # exact zeros: log 0 = -inf
                    return torch.as_tensor(np.log(ve_counts), dtype=p.dtype)
        qvars = self._query_vars()
        nodes = [self._evidence_root(ev)] if qvars is not None else self._root_nodes(ev)
        manager = self.compiler.manager
        if self.encoding.groups:  # sequential AD weights: the tensor circuit's own code
            if self._weights is None:
                self._weights = build_tensor_circuit(manager, [], self.encoding)
            with torch.no_grad():
                w_pos, w_neg = self._weights.literal_weights(
                    p.to(torch.float64).unsqueeze(0), log=True
                )
            pos, neg = w_pos[0].numpy(), w_neg[0].numpy()
        else:  # independent leaves: log p and log(1 - p)
            q = p.detach().to(torch.float64).numpy()
            with np.errstate(divide="ignore"):
                pos, neg = np.log(q), np.log1p(-q)
        if isinstance(manager, BddManager):
            self._bdd_counted.add(ev)
            pad = [0.0] * (manager.var_count() - len(pos))
            counts = log_wmc(manager, nodes, [*pos.tolist(), *pad], [*neg.tolist(), *pad])
            return torch.as_tensor(counts, dtype=p.dtype)
        # PySDD's layout: weights of literals -V..-1, then 1..V; defined atoms'
        # variables (after the leaves' and groups') weigh 1 (log 0) both ways
        aux = np.zeros(int(manager.var_count()) - len(pos))
        pos, neg = np.concatenate([pos, aux]), np.concatenate([neg, aux])
        arr = np.ascontiguousarray(np.concatenate([neg[::-1], pos]), dtype=np.float64)
        if qvars is not None and nodes[0].is_decision():
            # one count of delta & e, then every query's log P(q | e) as a marginal
            wmc = nodes[0].wmc(log_mode=True)
            wmc.set_literal_weights_from_array(arr)
            z = wmc.propagate()
            if z == -np.inf:
                out = np.full(len(qvars) + 1, -np.inf)
            else:
                out = np.asarray([z] + [wmc.literal_pr(manager.literal(v)) for v in qvars])
                out[1:] += z if ev else 0.0  # with evidence the caller divides by WMC(e)
            del wmc
            manager.set_prevent_transformation(prevent=False)
            return torch.as_tensor(out if ev else out[1:], dtype=p.dtype)
        if qvars is not None:  # delta & e is a terminal: count the roots themselves
            nodes = self._root_nodes(ev)
        out = np.empty(len(nodes), dtype=np.float64)
        for k, node in enumerate(nodes):
            if node.is_false():
                out[k] = -np.inf
            elif node.is_true():
                out[k] = 0.0
            else:
                wmc = node.wmc(log_mode=True)
                wmc.set_literal_weights_from_array(arr)
                out[k] = wmc.propagate()
                del wmc
        manager.set_prevent_transformation(prevent=False)
        return torch.as_tensor(out, dtype=p.dtype)

    @property
    def circuit_size(self) -> dict[str, int]:
        """Size of the circuit for the program's own evidence (nodes, edges, SDD size...)."""
        return self.circuit().size()

    # ------------------------------------------------------------ inference
    def _leaves(self, leaf_probs: torch.Tensor | None, params: torch.Tensor | None
                ) -> torch.Tensor:
        if leaf_probs is not None:
            if not isinstance(leaf_probs, torch.Tensor):
                leaf_probs = torch.as_tensor(leaf_probs, dtype=torch.float64)
            return leaf_probs
        return self.inputs(params)

    def log_probabilities(
        self,
        leaf_probs: torch.Tensor | None = None,
        evidence: EvidenceSpec | None = None,
        *,
        params: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``log P(q | e)`` for every query: ``[Q]`` or ``[B, Q]``."""
        ev = self._evidence(evidence)
        p = self._leaves(leaf_probs, params)
        if self._direct(ev, p):
            out = self._log_wmc(ev, p)
        else:
            out = self._placed(self.circuit(ev), p.device).forward(p, log=True)
        if not ev:
            return out
        log_e = out[..., :1]
        if bool((log_e == -torch.inf).any()):
            raise InferenceError(
                "evidence is inconsistent (probability 0): " + self._format_evidence(ev),
                hint="check the evidence atoms: they cannot all hold in any possible world",
            )
        return out[..., 1:] - log_e

    def probabilities(
        self,
        leaf_probs: torch.Tensor | None = None,
        evidence: EvidenceSpec | None = None,
        *,
        params: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``P(q)`` or ``P(q | e)`` for every query.

        Evaluated in probability space (a third of the torch ops of log space);
        when any root value is 0 or below :func:`tiny` (near float underflow)
        the log-space circuit answers instead, so small probabilities keep full
        relative precision.
        """
        ev = self._evidence(evidence)
        p = self._leaves(leaf_probs, params)
        if self._direct(ev, p):
            return torch.exp(self.log_probabilities(p, ev))
        circ = self._placed(self.circuit(ev), p.device)
        out = circ.forward(p)
        if bool((out < tiny(out.dtype)).any()):
            return torch.exp(self.log_probabilities(p, ev))
        if not ev:
            return out
        return out[..., 1:] / out[..., :1]

    def evidence_probability(
        self,
        leaf_probs: torch.Tensor | None = None,
        evidence: EvidenceSpec | None = None,
        *,
        params: torch.Tensor | None = None,
        log: bool = False,
    ) -> torch.Tensor:
        """``P(e)`` (1 without evidence)."""
        ev = self._evidence(evidence)
        p = self._leaves(leaf_probs, params)
        if not ev:
            shape = p.shape[:-1]
            return torch.zeros(shape, dtype=p.dtype) if log else torch.ones(shape, dtype=p.dtype)
        if self._direct(ev, p):
            out = self._log_wmc(ev, p)[0]
        else:
            out = self._placed(self.circuit(ev), p.device).forward(p, log=True)[..., 0]
        return out if log else torch.exp(out)

    def mpe(
        self,
        leaf_probs: torch.Tensor | None = None,
        evidence: EvidenceSpec | None = None,
        *,
        params: torch.Tensor | None = None,
    ) -> MPEResult:
        """The most probable world consistent with the evidence: leaf truth values and P(world, e).

        Leaves the evidence does not constrain take their more probable value.
        """
        ev = self._evidence(evidence)
        p = self._leaves(leaf_probs, params)
        circ = self._mpe_circuits.get(ev)
        if circ is None:
            src = self._circuit_source()
            comp = src.compiler
            node = src._evidence_root(ev)
            constraint = comp.mpe_constraint()
            root = comp._ref(node & constraint)
            circ = build_tensor_circuit(comp.manager, [root], self.encoding, smooth=True)
            self._mpe_circuits[ev] = circ
        circ = self._placed(circ, p.device)
        assign, logv = circ.mpe(p)
        if bool((logv == -torch.inf).any()):
            raise InferenceError(
                "evidence is inconsistent (probability 0): " + self._format_evidence(ev),
                hint="check the evidence atoms: they cannot all hold in any possible world",
            )
        leaves = assign[..., : self.encoding.num_leaves]
        return MPEResult(leaves, torch.exp(logv), logv)
