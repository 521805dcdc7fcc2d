"""Semiring evaluation of a ground program by vectorized least-fixpoint iteration.

Why it is built this way:

* **Compile once, evaluate many times.**  :class:`FixpointEvaluator` turns the
  CSR rules of a :class:`GroundProgram` into a short list of *levels*, each a
  handful of index tensors.  A call then runs a few torch ops per level
  (``index_select`` of body values, ``segment_mul`` per rule, ``segment_add``
  per head, ``index_copy_`` into the atom vector) and no Python per rule.
* **Levels refine strata.**  Atoms are grouped into strongly connected
  components of the dependency graph (negative edges included) and the
  components are ordered topologically; a level is a set of components of
  equal depth.  A level without a cycle needs exactly one pass; a cyclic
  level is iterated from zero to its least fixpoint.  Because every negative
  edge is a dependency edge and stratification forbids negation inside a
  component, a negated atom is always final before it is read: this is
  stratum-by-stratum evaluation (``gp.stratum``) with each stratum further
  split so that acyclic chains do not cost one iteration per link.
* **Convergence.**  Idempotent semirings (boolean, godel, possibilistic,
  viterbi, log-viterbi) reach their fixpoint exactly after at most as many
  iterations as the level has atoms, so they iterate until nothing changes.
  The others (product, addmult, lukasiewicz, log-*) are monotone and bounded
  on cycles; they iterate until the largest change is at most ``tol`` and
  raise :class:`InferenceError` after ``max_iterations``.
* **Gradients** flow through every iteration by plain autograd by default
  (``grad_mode="unroll"``; the updates are in-place ``index_copy_`` on a
  non-leaf tensor, which autograd supports; ``index_select`` saves no
  values), so memory grows with the number of iterations of cyclic levels.
  ``grad_mode="implicit"`` runs cyclic levels without recording and
  differentiates the fixpoint equation instead (memory of one step).
* Annotated-disjunction groups (``gp.groups``) are ignored: for these
  approximate semirings a leaf is just its weight.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import torch

from einlog.errors import ConfigError, InferenceError
from einlog.ground.program import GroundProgram
from einlog.semirings.base import Semiring
from einlog.semirings.registry import get_tensor_semiring

__all__ = ["FixpointEvaluator", "evaluate", "DEFAULT_MAX_ITERATIONS"]

DEFAULT_MAX_ITERATIONS = 10_000
IntArray = npt.NDArray[np.int64]
GradMode = Literal["unroll", "implicit"]


@dataclass(frozen=True)
class _Level:
    """Index tensors of one level (see the module docstring)."""

    heads: torch.Tensor  # [H] atom ids defined here
    pos_atoms: torch.Tensor  # [P] atom ids read positively
    pos_rule: torch.Tensor  # [P] local rule index of each positive read
    neg_atoms: torch.Tensor  # [Q] atom ids read negated (always from earlier levels)
    neg_rule: torch.Tensor  # [Q]
    rule_head: torch.Tensor  # [R] local head index of each rule
    num_rules: int
    cyclic: bool

    def to(self, device: torch.device) -> _Level:
        return _Level(
            heads=self.heads.to(device),
            pos_atoms=self.pos_atoms.to(device),
            pos_rule=self.pos_rule.to(device),
            neg_atoms=self.neg_atoms.to(device),
            neg_rule=self.neg_rule.to(device),
            rule_head=self.rule_head.to(device),
            num_rules=self.num_rules,
            cyclic=self.cyclic,
        )


def _components(num_nodes: int, src: IntArray, dst: IntArray) -> IntArray:
    """Strongly connected component label per node (iterative Tarjan; compile time only)."""
    order = np.argsort(src, kind="stable")
    succ = dst[order].tolist()
    ptr = np.zeros(num_nodes + 1, dtype=np.int64)
    np.add.at(ptr, src + 1, 1)
    starts = np.cumsum(ptr).tolist()
    index = [-1] * num_nodes
    low = [0] * num_nodes
    on_stack = [False] * num_nodes
    label = [-1] * num_nodes
    stack: list[int] = []
    counter = 0
    n_comp = 0
    for root in range(num_nodes):
        if index[root] != -1:
            continue
        work: list[tuple[int, int]] = [(root, starts[root])]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack[root] = True
        while work:
            v, i = work[-1]
            if i < starts[v + 1]:
                work[-1] = (v, i + 1)
                w = succ[i]
                if index[w] == -1:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack[w] = True
                    work.append((w, starts[w]))
                elif on_stack[w] and index[w] < low[v]:
                    low[v] = index[w]
                continue
            work.pop()
            if work:
                u = work[-1][0]
                if low[v] < low[u]:
                    low[u] = low[v]
            if low[v] == index[v]:
                while True:
                    w = stack.pop()
                    on_stack[w] = False
                    label[w] = n_comp
                    if w == v:
                        break
                n_comp += 1
    return np.asarray(label, dtype=np.int64)


def _levels(gp: GroundProgram) -> list[_Level]:
    n = gp.num_atoms
    rule_head = np.asarray(gp.rule_head, dtype=np.int64)
    rule_ptr = np.asarray(gp.rule_ptr, dtype=np.int64)
    body_atom = np.asarray(gp.body_atom, dtype=np.int64)
    body_neg = np.asarray(gp.body_neg, dtype=np.bool_)
    num_rules = rule_head.shape[0]
    if num_rules == 0:
        return []
    if rule_ptr.shape[0] != num_rules + 1 or rule_ptr[-1] != body_atom.shape[0]:
        raise InferenceError(
            "malformed ground program: rule_ptr does not match rule_head/body_atom",
            hint="this is a grounder bug; rule_ptr must have num_rules + 1 entries",
        )
    leaf_heads = np.isin(rule_head, np.asarray(gp.leaves, dtype=np.int64))
    if leaf_heads.any():
        a = int(rule_head[np.flatnonzero(leaf_heads)[0]])
        raise InferenceError(
            f"malformed ground program: leaf {gp.atoms[a]!r} is the head of a rule",
            hint="this is a grounder bug; leaves (random choices) must not have rules",
        )
    body_rule = np.repeat(np.arange(num_rules, dtype=np.int64), np.diff(rule_ptr))
    src, dst = body_atom, rule_head[body_rule]
    label = _components(n, src, dst)
    self_loop = np.zeros(n, dtype=np.bool_)
    self_loop[src[(src == dst)]] = True
    same = label[src] == label[dst]
    if np.any(same & body_neg):
        e = int(np.flatnonzero(same & body_neg)[0])
        raise InferenceError(
            f"negation through recursion: atom {gp.atoms[int(dst[e])]!r} depends negatively "
            f"on {gp.atoms[int(src[e])]!r}, which depends on it",
            hint="the program is not stratified; the grounder should have rejected it",
        )
    n_comp = int(label.max()) + 1 if n else 0
    comp_size = np.bincount(label, minlength=n_comp)
    comp_cyclic = comp_size > 1
    comp_cyclic[label[self_loop]] = True
    # longest-path depth of every component in the condensation (Kahn, vectorized per round)
    csrc, cdst = label[src[~same]], label[dst[~same]]
    if csrc.size:
        key = np.unique(csrc * n_comp + cdst)
        csrc, cdst = key // n_comp, key % n_comp
    indeg = np.bincount(cdst, minlength=n_comp)
    order = np.argsort(csrc, kind="stable")
    csrc, cdst = csrc[order], cdst[order]
    cptr = np.concatenate([[0], np.cumsum(np.bincount(csrc, minlength=n_comp))])
    depth = np.zeros(n_comp, dtype=np.int64)
    frontier = np.flatnonzero(indeg == 0)
    while frontier.size:
        counts = cptr[frontier + 1] - cptr[frontier]
        if counts.sum() == 0:
            break
        edge = np.repeat(cptr[frontier] - np.cumsum(np.r_[0, counts[:-1]]), counts) + np.arange(
            counts.sum()
        )
        targets = cdst[edge]
        np.maximum.at(depth, targets, depth[csrc[edge]] + 1)
        np.subtract.at(indeg, targets, 1)
        touched = np.unique(targets)
        frontier = touched[indeg[touched] == 0]
    rule_level = depth[label[rule_head]]
    levels: list[_Level] = []
    order_rules = np.argsort(rule_level, kind="stable")
    bounds = np.flatnonzero(np.diff(rule_level[order_rules])) + 1
    for rules in np.split(order_rules, bounds):
        heads, local_head = np.unique(rule_head[rules], return_inverse=True)
        lens = rule_ptr[rules + 1] - rule_ptr[rules]
        entries = np.repeat(rule_ptr[rules] - np.cumsum(np.r_[0, lens[:-1]]), lens) + np.arange(
            lens.sum()
        )
        local_rule = np.repeat(np.arange(rules.shape[0], dtype=np.int64), lens)
        neg = body_neg[entries]
        atoms = body_atom[entries]

        def t(a: npt.NDArray[np.int64]) -> torch.Tensor:
            return torch.as_tensor(np.ascontiguousarray(a, dtype=np.int64))

        levels.append(
            _Level(
                heads=t(heads),
                pos_atoms=t(atoms[~neg]),
                pos_rule=t(local_rule[~neg]),
                neg_atoms=t(atoms[neg]),
                neg_rule=t(local_rule[neg]),
                rule_head=t(local_head.reshape(-1)),
                num_rules=int(rules.shape[0]),
                cyclic=bool(comp_cyclic[label[heads]].any()),
            )
        )
    return levels


class FixpointEvaluator:
    """A ground program compiled for repeated evaluation under one tensor semiring.

    ``evaluator(leaf_values)`` returns the value of every atom: leaf values of
    shape ``[num_leaves]`` give ``[num_atoms]``, ``[batch, num_leaves]`` give
    ``[batch, num_atoms]``.  By default ``leaf_values`` are probabilities in
    [0, 1] (entered with ``semiring.from_probability``) and the result is
    ``semiring.to_output`` of the atom values (probabilities, or a bool tensor
    for ``boolean``); with ``raw=True`` both are in the semiring's own domain
    (e.g. log-probabilities for ``log-*``), which is what a learner wants when
    its network already produces log-probabilities.
    """

    def __init__(
        self,
        gp: GroundProgram,
        semiring: Semiring | str,
        *,
        max_iterations: int = DEFAULT_MAX_ITERATIONS,
        tol: float | None = None,
        grad_mode: GradMode = "unroll",
    ) -> None:
        if grad_mode not in ("unroll", "implicit"):
            raise ConfigError(
                f"grad_mode must be 'unroll' or 'implicit', got {grad_mode!r}",
                hint="'implicit' saves memory on long cycles",
            )
        self.grad_mode = grad_mode
        self.semiring = get_tensor_semiring(semiring)
        self.num_atoms = gp.num_atoms
        self.num_leaves = int(gp.leaves.shape[0])
        self.max_iterations = max_iterations
        self.tol = tol
        self._leaves = torch.as_tensor(np.asarray(gp.leaves, dtype=np.int64))
        self._levels = _levels(gp)
        self._has_negation = any(lv.neg_atoms.numel() for lv in self._levels)
        if self._has_negation and not self.semiring.has_negation:
            self.semiring.negate(torch.zeros(0))  # raises UnsupportedError
        self.last_iterations = 0  # fixpoint iterations of the last call (diagnostics)
        self._by_device: dict[torch.device, tuple[torch.Tensor, list[_Level]]] = {
            torch.device("cpu"): (self._leaves, self._levels)
        }

    @property
    def num_levels(self) -> int:
        return len(self._levels)

    def _indices(self, device: torch.device) -> tuple[torch.Tensor, list[_Level]]:
        found = self._by_device.get(device)
        if found is None:
            found = (self._leaves.to(device), [lv.to(device) for lv in self._levels])
            self._by_device[device] = found
        return found

    def _tolerance(self, dtype: torch.dtype) -> float:
        if self.tol is not None:
            return self.tol
        if self.semiring.idempotent:
            return 0.0
        return 1e-12 if dtype == torch.float64 else 1e-6

    def __call__(self, leaf_values: torch.Tensor, *, raw: bool = False) -> torch.Tensor:
        sr = self.semiring
        values = torch.as_tensor(leaf_values)
        if not values.is_floating_point():
            values = values.to(torch.get_default_dtype())
        if values.dim() not in (1, 2) or values.shape[-1] != self.num_leaves:
            raise InferenceError(
                f"leaf values must have shape [num_leaves] or [batch, num_leaves] with "
                f"num_leaves = {self.num_leaves}, got {tuple(values.shape)}",
                hint="pass one weight per leaf of the ground program, in gp.leaves order",
            )
        squeeze = values.dim() == 1
        if squeeze:
            values = values.unsqueeze(0)
        if not raw:
            values = sr.from_probability(values)
        leaves, levels = self._indices(values.device)
        batch = values.shape[0]
        x = sr.zero((batch, self.num_atoms), dtype=values.dtype, device=values.device)
        x = x.index_copy(-1, leaves, values)
        tol = self._tolerance(values.dtype)
        self.last_iterations = 0
        for level in levels:
            neg_vals = sr.negate(x.index_select(-1, level.neg_atoms))
            body_rule = torch.cat([level.pos_rule, level.neg_rule])

            def step(
                xs: torch.Tensor,
                neg: torch.Tensor = neg_vals,
                level: _Level = level,
                body_rule: torch.Tensor = body_rule,
            ) -> torch.Tensor:
                body_vals = torch.cat([xs.index_select(-1, level.pos_atoms), neg], dim=-1)
                rule_vals = sr.segment_mul(body_vals, body_rule, level.num_rules)
                return sr.segment_add(rule_vals, level.rule_head, level.heads.numel())

            if not level.cyclic:
                x = _write(x, level.heads, step(x))
            elif self.grad_mode == "implicit" and x.requires_grad and torch.is_grad_enabled():
                x = self._implicit_level(x, level, step, neg_vals, tol)
            else:
                x = self._iterate(x, level, step, tol)
        out = x.squeeze(0) if squeeze else x
        return out if raw else sr.to_output(out)

    def _iterate(
        self,
        x: torch.Tensor,
        level: _Level,
        step: Callable[[torch.Tensor], torch.Tensor],
        tol: float,
    ) -> torch.Tensor:
        """Iterate one cyclic level from zero to its least fixpoint (autograd records it all)."""
        iterations = 0
        while True:
            new = step(x)
            old = x.index_select(-1, level.heads)
            x = _write(x, level.heads, new)
            iterations += 1
            self.last_iterations += 1
            if float(self.semiring.distance(new.detach(), old.detach())) <= tol:
                return x
            if iterations >= self.max_iterations:
                raise InferenceError(
                    f"semantics {self.semiring.name!r}: fixpoint did not converge within "
                    f"{self.max_iterations} iterations (tolerance {tol:g})",
                    hint="raise max_iterations or tol, or choose an idempotent semantics "
                    "(godel, viterbi, boolean) for long cycles",
                )

    def _implicit_level(
        self,
        x: torch.Tensor,
        level: _Level,
        step: Callable[..., torch.Tensor],
        neg_vals: torch.Tensor,
        tol: float,
    ) -> torch.Tensor:
        """Fixpoint without recording the iterations; gradient by the implicit function theorem.

        At the fixpoint ``z = F(z, inputs)``, ``dL/dinputs = (dF/dinputs)^T g`` with
        ``g = dL/dz + (dF/dz)^T g``, solved by iterating vector-Jacobian products of
        one recorded step (memory of one step instead of one per iteration).
        """
        with torch.no_grad():
            xd = self._iterate(x.detach().clone(), level, step, tol)
            z_star = xd.index_select(-1, level.heads)
        x = _write(x, level.heads, z_star)  # inputs keep their graph, heads are constants
        z = step(x)  # == z_star; differentiable in the inputs only
        z0 = z_star.clone().requires_grad_(True)
        f0 = step(x.detach().index_copy(-1, level.heads, z0), neg_vals.detach())
        max_iterations = self.max_iterations
        grad_tol = max(tol, 1e-12 if z.dtype == torch.float64 else 1e-6)

        def solve(grad: torch.Tensor) -> torch.Tensor:
            g = grad
            for _ in range(max_iterations):
                (vjp,) = torch.autograd.grad(f0, z0, g, retain_graph=True)
                g_next = grad + torch.nan_to_num(vjp)
                if float((g_next - g).abs().max()) <= grad_tol:
                    return g_next
                g = g_next
            raise InferenceError(
                f"semantics {self.semiring.name!r}: implicit gradient did not converge",
                hint="use grad_mode='unroll'",
            )

        if z.requires_grad:
            z.register_hook(solve)
        return _write(x, level.heads, z)


def _write(x: torch.Tensor, index: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
    """``x[..., index] = new`` in place when autograd allows it, else out of place."""
    if x.requires_grad and x.is_leaf:
        return x.index_copy(-1, index, new)
    return x.index_copy_(-1, index, new)


def evaluate(
    gp: GroundProgram,
    semiring: Semiring | str,
    leaf_values: torch.Tensor,
    *,
    max_iterations: int = DEFAULT_MAX_ITERATIONS,
    tol: float | None = None,
    raw: bool = False,
    grad_mode: GradMode = "unroll",
) -> torch.Tensor:
    """Value of every atom of ``gp`` under ``semiring`` (see :class:`FixpointEvaluator`).

    Compile a :class:`FixpointEvaluator` instead when evaluating the same program
    more than once.
    """
    evaluator = FixpointEvaluator(
        gp, semiring, max_iterations=max_iterations, tol=tol, grad_mode=grad_mode
    )
    return evaluator(leaf_values, raw=raw)
