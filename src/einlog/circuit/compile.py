"""Knowledge compilation: the lineage of ground atoms as one shared SDD.

Why it is built this way:

* **PySDD as the compiler.**  SDDs are canonical for a fixed vtree, so two
  formulas are equal iff their node ids are equal.  That makes the fixpoint
  below cheap to test for convergence, and every apply is polytime in the
  operand sizes.  The vtree is built by us, deterministically (AD
  alternatives adjacent).  ``auto`` (the default) picks by program shape:
  an acyclic program gets the *defined encoding* below with a dtree vtree
  (:mod:`einlog.circuit.vtree`), or, without shared derived atoms or when
  the dtree is wide, a balanced vtree over the leaves in program order; a
  recursive one gets a right-linear vtree over program order, or the dtree
  vtree when depth-first first-use order from the queries has the better
  locality score (:meth:`SddCompiler._span_costs`), i.e. when program order
  keeps related leaves apart.  Measured on the benchmark families: for
  recursive lineages right-linear compiled 5-10x faster than balanced into
  smaller SDDs, and program order was 2-3x faster than depth-first on graphs
  and grids; on smokers, where depth-first beat program order 20x, the dtree
  vtree compiled another 2-8x faster (smokers-16..40) into 3-7x smaller SDDs.
  Recursive programs are compiled by ``auto`` to ordered BDDs with CUDD
  (:mod:`einlog.circuit.bdd`, ``backend="bdd"``) -- an SDD over a
  right-linear vtree is one -- with the same cycle breaking below on a
  faster apply: over program order where that is the choice (graphs, grids:
  2-3x less compile time), over the dtree's variables left to right where
  the dtree would have been the vtree (smokers: 1.4-2x; depth-first order
  itself was 1.7-7x slower than the dtree SDD there).
  Every choice stays available as an option.  Dynamic minimization is off by
  default (it costs 10-100x the compile time for 2-15x smaller circuits) so a
  program always compiles to the same circuit quickly.

* **One SDD variable per leaf; annotated disjunctions by the sequential
  encoding.**  Alternative ``i`` of a group is ``c_i & ~c_1 & ... & ~c_{i-1}``
  and variable ``c_i`` gets the conditional weight
  ``q_i = p_i / (p_i + p_{i+1} + ... + p_k + none)`` (computed in torch by
  :mod:`einlog.circuit.tensor`, so gradients reach every ``p_j``).  Every SDD
  variable is then an independent coin with ``w(x) + w(~x) = 1``: weighted
  model counting on the plain, unsmoothed SDD is exact, no exactly-one
  constraint has to be conjoined into each query (which inflates SDDs), and
  no compensating weights are needed.  Max-product (MPE) is the exception:
  there the "don't care" later variables of a group would count
  ``max(q, 1-q)`` instead of 1, so MPE roots instead conjoin an
  exactly-one constraint over the group's variables plus one extra *none*
  variable per group and use indicator weights (``p_i`` / 1, ``none`` / 1).
  Under that constraint ``c_i & ~c_1 .. ~c_{i-1}`` equals ``c_i``, so the
  same lineage SDDs serve both encodings.

* **Defined encoding: a variable per shared derived atom.**  The lineage of
  a node deep in a Bayesian network is a function of all its ancestors'
  leaves, and its SDD grows with them.  With ``encoding="defined"`` each
  relevant non-recursive derived atom ``a`` that other rules build on gets
  an SDD variable ``x_a``; rules refer to ``x_a`` instead of the lineage,
  and every root is conjoined with ``delta = AND_a (x_a <-> body_a)``
  (conjoined once, along the dtree).  ``x_a`` is a function of the leaves,
  so in every model of ``delta`` it has exactly one value: with weight 1 for
  both of its literals, weighted model counts (and max-products) are
  unchanged, and the tensor circuit maps its literals to the constant 1.
  Compilation then costs what the dtree's width allows (bn-160: 0.9 s ->
  0.1 s, 7x smaller SDDs).  ``auto`` uses it for acyclic programs whose
  dtree width is at most :data:`DEFINED_MAX_WIDTH`: the sum atoms of MNIST
  addition are queries nothing builds on (no variable), and two-digit
  addition's number atoms give width 199, where conjoining the definitions
  of all 199 sums is far larger than their separate lineages.

* **Cycles: components, then proof-based breaking or elimination.**
  Relevant atoms are split into strongly connected components of the
  dependency graph (Tarjan, emitted dependencies first).  An acyclic atom is
  computed once: ``OR_rules AND_body``.  A cyclic component is compiled by
  one of (``cycles=``):

  - ``proof``: ProbLog's proof-based cycle breaking on SDDs: a derivation
    may not revisit an atom already on its path, and translations are
    shared when their cut sets allow it; each SDD is built once.  Cheap on
    sparse cycles (random graphs, smokers), but the number of translations
    grows with the number of cycles: a 5x5 grid made 40 000 in 20 s and
    did not finish in 60 s.
  - ``eliminate``: for *linear* components (at most one member per rule
    body, which covers transitive closure, reachability and smokers), the
    component is a linear system over the Boolean algebra of SDDs and is
    solved by Gaussian elimination (:meth:`SddCompiler._eliminate`), which
    never enumerates paths: the 5x5 grid compiles in under a second.  On
    sparse random graphs it built 2-5x more intermediate SDD than proof
    breaking (labels for every pair of neighbours of an eliminated atom).
  - ``auto`` (default): proof breaking, but a linear component that makes
    more than :data:`PROOF_BUDGET` translations is solved by elimination
    instead (deterministic: a count, not a clock).  Non-linear
    components always use proof breaking.
  - ``fixpoint``: the component starts at ``false`` and is re-evaluated
    (Gauss-Seidel) until no node id changes (SDDs are canonical): the
    least fixpoint; 14-17x slower than proof breaking (4x4 grid, 28-node
    random graph), kept as a cross-check in the tests.

  All give exactly ProbLog's semantics for positive cycles (the least
  model in every world).  Negation inside a component is not stratified
  and is rejected; negated atoms of lower components use their finished
  SDD.

* **Budgets.**  SDD size and wall time are checked between applies; when
  exceeded we raise :class:`~einlog.errors.InferenceError` naming the root
  (query or evidence atom) being compiled and suggesting an approximate
  semantics.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from pysdd.sdd import SddManager, SddNode, Vtree

from einlog.errors import InferenceError, StratificationError
from einlog.graphs import strongly_connected_components
from einlog.ground.program import GroundProgram

from . import bdd
from .vtree import Dtree, build_dtree, conjoin_order, dtree_order, dtree_vtree

__all__ = ["CompileLimits", "SddCompiler", "Literal", "RootSpec"]

#: ``(atom id, truth value)``; a conjunction of these is a root.
Literal = tuple[int, bool]
#: A root: one atom id (its lineage) or a conjunction of literals.
RootSpec = int | Sequence[Literal]


@dataclass(frozen=True)
class CompileLimits:
    """Budgets for knowledge compilation.

    ``max_size``: the most SDD elements (sum of decision-node sizes), or BDD
    nodes with the BDD backend, alive in the manager; ``time_limit``: seconds
    of compilation (``None``: no limit).
    """

    max_size: int = 5_000_000
    time_limit: float | None = 600.0


_HINT = (
    "exact inference is #P-hard and this program's circuit is too large; use an "
    "approximate semantics (--semantics topk or --semantics product), or raise the "
    "budget (CompileLimits(max_size=..., time_limit=...))"
)


def atom_label(gp: GroundProgram, atom: int) -> str:
    """How an atom is named in messages (never fails: messages must not hide errors)."""
    if atom < 0 or atom >= gp.num_atoms:
        return "<atom not in the program>"
    try:
        return str(gp.atoms[atom])
    except Exception:
        a = gp.atoms[atom]
        if not a.args:
            return a.functor
        return f"{a.functor}({', '.join(map(repr, a.args))})"


#: How recursive components are compiled (see the module docstring).
CYCLES = ("auto", "proof", "eliminate", "fixpoint")
#: How derived atoms enter the SDD (see the module docstring).
ENCODINGS = ("auto", "lineage", "defined")
BACKENDS = ("auto", "sdd", "bdd")
_NO_RULES: list[int] = []  # shared; never mutated
VTREE_TYPES = ("right", "balanced", "left", "vertical", "random", "dtree")
#: ``encoding="auto"`` defines atoms only when the dtree's induced width (over variables
#: shared by two or more factors) is at most this: random Bayesian networks with up to 3
#: / 5 parents have width 7 / 10 and compile 10x / 5-50x faster defined; single- and
#: two-digit MNIST addition have 19 and 199 (defined, two digits ran out of budget)
DEFINED_MAX_WIDTH = 16


def _max_shared(factors: list[list[int]]) -> int:
    """The most variables any factor shares with another factor."""
    count: dict[int, int] = {}
    for f in factors:
        for v in f:
            count[v] = count.get(v, 0) + 1
    return max(sum(1 for v in f if count[v] > 1) for f in factors)

#: ``cycles="auto"``: cycle-breaking translations a linear recursive component may make
#: before it is solved by elimination instead (see :meth:`SddCompiler._eliminate`).
PROOF_BUDGET = 6000


class _ProofBudget(Exception):
    """Proof-based cycle breaking of ``scc`` ran over :data:`PROOF_BUDGET`."""

    def __init__(self, scc: frozenset[int]) -> None:
        super().__init__()
        self.scc = scc


def check_options(*, vtree_type: str, var_order: str, cycles: str, encoding: str,
                  backend: str) -> None:
    """Reject unknown compile options (:class:`SddCompiler`'s; engines check them up
    front, since a program counted without compiling would never reach the compiler)."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    if backend == "bdd" and not bdd.available():  # pragma: no cover - declared dependency
        raise ValueError("backend='bdd' needs the 'dd' package (pip install dd)")
    if backend == "bdd" and encoding == "defined":
        # conjoining definitions on a linear order blows up inside one CUDD apply,
        # where the time budget cannot stop it (bn-20 did not finish)
        raise ValueError("encoding='defined' needs SDDs: use backend='sdd' or 'auto'")
    if cycles not in CYCLES:
        raise ValueError(f"cycles must be one of {', '.join(CYCLES)}, not {cycles!r}")
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding must be one of {', '.join(ENCODINGS)}, not {encoding!r}")
    if var_order not in ("auto", "natural", "dfs"):
        raise ValueError(f"var_order must be 'auto', 'natural' or 'dfs', not {var_order!r}")
    if vtree_type != "auto" and vtree_type not in VTREE_TYPES:
        raise ValueError(f"unknown vtree type {vtree_type!r}")


def _same(node: SddNode) -> SddNode:
    return node


def _ignore(node: SddNode) -> None:
    return None


def _bdd_apply(acc: SddNode, other: SddNode, conjoin: bool) -> SddNode:
    """:meth:`SddCompiler._apply` without reference counting (BDDs)."""
    return acc & other if conjoin else acc | other


class SddCompiler:
    """Compiles lineages of atoms of one ground program into one SDD manager.

    Variables: leaf ``i`` is SDD variable ``i + 1``; the *none* variable of
    group ``g`` (used only by MPE roots) is ``num_leaves + g + 1``.
    """

    def __init__(
        self,
        gp: GroundProgram,
        *,
        order_roots: Iterable[int] | None = None,
        limits: CompileLimits | None = None,
        vtree_type: str = "auto",
        var_order: str = "auto",
        minimize: bool = False,
        cycles: str = "auto",
        encoding: str = "auto",
        backend: str = "auto",
    ) -> None:
        check_options(vtree_type=vtree_type, var_order=var_order, cycles=cycles,
                      encoding=encoding, backend=backend)
        self.gp = gp
        self.cycles = cycles
        self.limits = limits or CompileLimits()
        self.num_leaves = int(gp.leaves.shape[0])
        self.num_groups = len(gp.groups)
        self.num_vars = self.num_leaves + self.num_groups
        self._leaf_of_atom = gp.leaf_of_atom()
        self._group_of_leaf: dict[int, tuple[int, int]] = {}
        for g, members in enumerate(gp.groups):
            for pos, leaf in enumerate(members):
                self._group_of_leaf[int(leaf)] = (g, pos)
        self._rules_cache: dict[int, list[int]] = {}  # head atom -> its rules, in order
        self._setup_comps: tuple[tuple[int, ...], list[list[int]]] | None = None
        self._body_cache: dict[int, tuple[list[int], list[bool]]] = {}
        self._rule_split: dict[int, tuple[SddNode, list[int]]] = {}
        self._splits: dict[int, list[tuple[SddNode, list[int]]]] = {}  # see _break_cycles
        self._flat_body: tuple[list[int], list[int], list[bool]] | None = None
        self._value: dict[int, SddNode] = {}  # atom id -> lineage (referenced)
        # proof-based cycle breaking: atom -> its recursive component's members and the
        # component's translation table (atom -> [(sdd, cycles broken, content)])
        self._scc_of: dict[int, frozenset[int]] = {}
        # entries are (cuts | content, cuts, (sdd, cuts, content)): see _break_cycles
        self._translation: dict[
            frozenset[int], dict[int, list[tuple[int, int, tuple[SddNode, int, int]]]]] = {}
        self._bit: dict[int, int] = {}  # member of a proof-broken component -> its bit
        # cycles="auto": translations a linear component may still make before it is
        # solved by elimination instead, and its members' order
        self._proof_budget: dict[frozenset[int], int] = {}
        self._comp_rank: dict[frozenset[int], dict[int, int]] = {}
        # elimination: atom -> (position, base, {later atom: label}) kept for back-substitution
        self._elim_rows: dict[int, tuple[int, SddNode, dict[int, SddNode]]] = {}
        roots = list(order_roots) if order_roots is not None else self._default_roots()
        # defined encoding: atom -> its SDD variable, and its definition until conjoined
        self._aux_var: dict[int, int] = {}
        self._definition: dict[int, SddNode] = {}
        self._delta: SddNode | None = None
        self._dtree: Dtree | None = None
        self._placeholder_vars = 0
        self.num_sdd_vars = self.num_vars
        cyclic = False
        if vtree_type == "auto" or var_order == "auto" or encoding == "auto":
            cyclic = self._has_cycles(roots)
        if encoding == "auto":
            encoding = "lineage"
            if not cyclic and vtree_type == "auto" and var_order == "auto" and backend != "bdd":
                self._set_up_definitions(roots, shared_only=True)
                factors = self._factors(roots) if self._aux_var else []
                # a factor of k shared variables alone makes the width at least k - 1
                if factors and _max_shared(factors) <= DEFINED_MAX_WIDTH + 1:
                    dtree = build_dtree(self.num_sdd_vars + self._placeholder_vars, factors)
                    if dtree.width <= DEFINED_MAX_WIDTH:
                        encoding, vtree_type, self._dtree = "defined", "dtree", dtree
                if encoding != "defined":  # wide definitions (sums of digit pairs): lineages
                    self._aux_var.clear()
                    self.num_sdd_vars = self.num_vars
        elif encoding == "defined":
            self._set_up_definitions(roots, shared_only=False)
        self.encoding = encoding
        order: list[int] = []
        picked_dfs = False
        if var_order == "auto" and cyclic:
            natural, dfs = self._natural_order(), self._var_order(roots)
            cost_n, cost_d = self._span_costs(roots, [natural, dfs])
            var_order, order = ("dfs", dfs) if cost_d < cost_n else ("natural", natural)
            picked_dfs = var_order == "dfs"
        auto_vtree = vtree_type == "auto"
        if vtree_type == "auto":
            if encoding == "defined" or picked_dfs:
                # program order lacks locality (or atoms are defined): the structure's dtree
                vtree_type = "dtree"
            else:
                vtree_type = "right" if cyclic else "balanced"
        self.backend = "sdd"
        if backend == "bdd" or (
            backend == "auto" and auto_vtree and cyclic and not minimize and bdd.available()
        ):
            # an ordered BDD is the SDD of a right-linear vtree; CUDD builds it faster.
            # Where the dtree would have been the vtree, its left-to-right variables
            # are the order (1.4-2x faster than the dtree SDD on smokers-6..30)
            self.backend = "bdd"
            if vtree_type == "dtree" and auto_vtree:
                self._dtree = self._dtree or self._build_dtree(roots)
                var_order, order = "dtree", dtree_order(self.num_sdd_vars, self._dtree)
            vtree_type = "right"
        if vtree_type == "dtree":
            self.var_order = "dtree"
            self.vtree_type = vtree_type
            if self._dtree is None:
                self._dtree = self._build_dtree(roots)
            self.manager = SddManager.from_vtree(dtree_vtree(self.num_sdd_vars, self._dtree))
            self._finish_manager(minimize)
            return
        if not order:  # not chosen by locality above
            if var_order == "dfs":
                order = self._var_order(roots)
            else:
                var_order, order = "natural", self._natural_order()
        self.var_order = var_order
        self.vtree_type = vtree_type
        if self.num_sdd_vars > len(order):  # defined atoms' variables after the leaves'
            placed = set(order)
            order = order + [v for v in range(1, self.num_sdd_vars + 1) if v not in placed]
        if self.backend == "bdd":  # vtree_type "right": the BDD's order is a right-linear one
            self.manager = bdd.BddManager(order)
            # ``dd`` counts references itself: bind the reference-free versions once
            # (3 000 calls that test is_decision() per 16-node graph compile)
            self._ref = _same  # type: ignore[method-assign]
            self._deref = _ignore  # type: ignore[method-assign]
            self._apply = _bdd_apply  # type: ignore[method-assign]
            self._finish_manager(False)
            return
        vtree = Vtree(var_count=max(self.num_sdd_vars, 1), var_order=order,
                      vtree_type=vtree_type)
        self.manager = SddManager.from_vtree(vtree)
        self._finish_manager(minimize)

    def _finish_manager(self, minimize: bool) -> None:
        if self.backend == "sdd":
            if minimize:
                self.manager.auto_gc_and_minimize_on()
            else:
                self.manager.auto_gc_and_minimize_off()
        self._started = 0.0
        self._current_root: tuple[int, int, Callable[[int], str] | None] = (0, -1, None)
        self._mpe_constraint: SddNode | None = None

    # ------------------------------------------------------------------ setup
    def _set_up_definitions(self, roots: list[int], *, shared_only: bool) -> None:
        """Give relevant non-recursive derived atoms their own SDD variables (defined
        encoding): all of them, or (``shared_only``) the roots and those in the body
        of another relevant atom -- an inner atom nothing else builds on gains nothing
        from a variable.  Atoms of recursive components keep their lineage, built over
        the variables of the atoms below."""
        comps = self._setup_components(roots)
        used: set[int] = set(roots)  # queries are answered as marginals of their variable
        if shared_only:
            for comp in comps:
                for a in comp:
                    for r in self._rules_of(a):
                        used.update(self._body(r)[0])
        nxt = self.num_vars + 1
        for comp in comps:
            a = comp[0]
            if (a not in self._leaf_of_atom and a not in self._aux_var
                    and not self._is_cyclic(comp) and (not shared_only or a in used)):
                self._aux_var[a] = nxt
                nxt += 1
        self.num_sdd_vars = nxt - 1

    def _leaf_vars(self, leaf: int) -> list[int]:
        """SDD variables a leaf's literal is built from (earlier alternatives of its AD)."""
        grp = self._group_of_leaf.get(leaf)
        if grp is None:
            return [leaf + 1]
        return [int(x) + 1 for x in self.gp.groups[grp[0]][: grp[1] + 1]]

    def _factors(self, roots: list[int]) -> list[list[int]]:
        """Variable sets that meet in one constraint, for the dtree vtree.

        One factor per defined atom (its variable and its rules' body variables;
        factor ``k`` is the ``k``-th defined atom), then one per rule of every other
        derived atom over its head and body atoms, where atoms without a variable
        get placeholder variables after the SDD's (eliminated in the dtree, dropped
        from the vtree).  Then one factor per AD group (alternatives and
        *none*), so groups stay together for the MPE constraint.
        """
        leaf_of = self._leaf_of_atom
        extra: dict[int, int] = {}

        def var_of(a: int) -> list[int]:
            leaf = leaf_of.get(a)
            if leaf is not None:
                return self._leaf_vars(leaf)
            v = self._aux_var.get(a)
            if v is None:
                v = extra.get(a)
                if v is None:
                    v = extra[a] = self.num_sdd_vars + 1 + len(extra)
            return [v]

        factors: list[list[int]] = []
        for a in self._aux_var:
            f = var_of(a)
            for r in self._rules_of(a):
                for b in self._body(r)[0]:
                    f.extend(var_of(b))
            factors.append(f)
        for comp in self._setup_components(roots):
            for a in comp:
                if a in leaf_of or a in self._aux_var:
                    continue
                for r in self._rules_of(a):
                    f = var_of(a)
                    for b in self._body(r)[0]:
                        f.extend(var_of(b))
                    factors.append(f)
        for g, members in enumerate(self.gp.groups):
            factors.append([int(x) + 1 for x in members] + [self.num_leaves + g + 1])
        self._placeholder_vars = len(extra)
        return [sorted(set(f)) for f in factors]

    def _build_dtree(self, roots: list[int]) -> Dtree:
        factors = self._factors(roots)  # counts the placeholder variables
        return build_dtree(self.num_sdd_vars + self._placeholder_vars, factors)

    def _default_roots(self) -> list[int]:
        return [int(q) for q in self.gp.queries] + [int(a) for a, _ in self.gp.evidence]

    def _rules_of(self, atom: int) -> list[int]:
        """Rule ids with head ``atom`` (Python lists, built once: the compiler walks
        them many times and numpy scalars would dominate small programs)."""
        cache = self._rules_cache
        if not cache and self.gp.num_rules:  # all at once: a numpy slice per atom costs more
            for rule, head in enumerate(self.gp.rule_head.tolist()):
                found = cache.get(head)
                if found is None:
                    cache[head] = [rule]
                else:
                    found.append(rule)
        return cache.get(atom, _NO_RULES)

    def _body(self, rule: int) -> tuple[list[int], list[bool]]:
        got = self._body_cache.get(rule)
        if got is None:
            if self._flat_body is None:  # one bulk conversion, not numpy scalars per rule
                gp = self.gp
                self._flat_body = (gp.rule_ptr.tolist(), gp.body_atom.tolist(),
                                   gp.body_neg.astype(bool).tolist())
            ptr, atoms, negs = self._flat_body
            lo, hi = ptr[rule], ptr[rule + 1]
            got = (atoms[lo:hi], negs[lo:hi])
            self._body_cache[rule] = got
        return got

    def _span_costs(self, roots: list[int], orders: list[list[int]]) -> list[int]:
        """Locality of each variable order: the sum over relevant rules of the spread
        (last minus first position) of the leaves within two rule steps of the rule's
        body.  A right-linear vtree is an OBDD-like order, whose size grows with how
        far apart the variables of one sub-formula are; this proxy ranked program
        order and depth-first order correctly on every benchmark family."""
        leaf_of = self._leaf_of_atom
        relevant: set[int] = set()
        for comp in self._setup_components(roots):
            relevant.update(comp)
        near: dict[int, set[int]] = {}  # derived atom -> leaves in its rule bodies

        def near1(a: int) -> set[int]:
            got = near.get(a)
            if got is None:
                got = set()
                for r in self._rules_of(a):
                    for b in self._body(r)[0]:
                        leaf = leaf_of.get(b)
                        if leaf is not None:
                            got.add(leaf)
                near[a] = got
            return got

        seg: list[int] = []
        flat: list[int] = []
        k = 0
        for a in relevant:
            if a in leaf_of:
                continue
            for r in self._rules_of(a):
                leaves: set[int] = set()
                for b in self._body(r)[0]:
                    leaf = leaf_of.get(b)
                    if leaf is not None:
                        leaves.add(leaf)
                    else:
                        for c in self._body_atoms_of(b):
                            lc = leaf_of.get(c)
                            leaves.update([lc] if lc is not None else near1(c))
                if len(leaves) > 1:
                    flat.extend(leaves)
                    seg.extend([k] * len(leaves))
                    k += 1
        if not flat:
            return [0 for _ in orders]
        leaf_arr = np.asarray(flat, dtype=np.int64)
        starts = np.flatnonzero(np.diff(np.asarray(seg), prepend=-1))
        costs = []
        for order in orders:
            pos = np.empty(self.num_vars + 1, dtype=np.int64)
            pos[np.asarray(order, dtype=np.int64) - 1] = np.arange(len(order))
            p = pos[leaf_arr]
            spread = np.maximum.reduceat(p, starts) - np.minimum.reduceat(p, starts)
            costs.append(int(spread.sum()))
        return costs

    def _body_atoms_of(self, atom: int) -> list[int]:
        out: list[int] = []
        for r in self._rules_of(atom):
            out.extend(self._body(r)[0])
        return out

    def _has_cycles(self, roots: list[int]) -> bool:
        """Whether any atom relevant to ``roots`` lies on a recursive cycle."""
        return any(self._is_cyclic(comp) for comp in self._setup_components(roots))

    def _setup_components(self, roots: list[int]) -> list[list[int]]:
        """SCCs of everything ``roots`` depend on, by one pass over all roots (the vtree
        set-up reads them three times; a pass per root repeated the shared part: on a
        Bayesian network whose queries share their ancestors, 10 % of compile time)."""
        key = tuple(roots)
        cached = self._setup_comps
        if cached is not None and cached[0] == key:
            return cached[1]
        valid = [int(r) for r in roots if 0 <= int(r) < self.gp.num_atoms]
        comps = strongly_connected_components(valid, self._uncompiled_deps)
        self._setup_comps = (key, comps)
        return comps

    def _natural_order(self) -> list[int]:
        """Leaves in program (grounding) order, each AD group contiguous, its none var after."""
        placed = np.zeros(self.num_vars, dtype=bool)
        order: list[int] = []
        for leaf in range(self.num_leaves):
            if placed[leaf]:
                continue
            grp = self._group_of_leaf.get(leaf)
            if grp is None:
                placed[leaf] = True
                order.append(leaf + 1)
                continue
            g = grp[0]
            for member in self.gp.groups[g]:
                if not placed[member]:
                    placed[member] = True
                    order.append(int(member) + 1)
            placed[self.num_leaves + g] = True
            order.append(self.num_leaves + g + 1)
        for g in range(self.num_groups):
            if not placed[self.num_leaves + g]:
                order.append(self.num_leaves + g + 1)
        return order or [1]

    def _var_order(self, roots: list[int]) -> list[int]:
        """Leaves in depth-first first-use order from ``roots``; AD groups kept adjacent.

        An atom's non-recursive rules (base cases) are followed before its
        recursive ones, whatever order grounding emitted them in: that is the
        order programs are written in (and ProbLog's order), and on recursive
        programs it gave SDDs up to 8x smaller than following the recursion first.
        """
        # each relevant atom -> its component (named by one member)
        comp_key: dict[int, int] = {}
        for comp in self._setup_components(roots):
            first = comp[0]
            for a in comp:
                comp_key.setdefault(a, first)
        seen_atom: set[int] = set()
        placed = np.zeros(self.num_vars, dtype=bool)
        order: list[int] = []

        def place_leaf(leaf: int) -> None:
            if placed[leaf]:
                return
            grp = self._group_of_leaf.get(leaf)
            if grp is None:
                placed[leaf] = True
                order.append(leaf + 1)
                return
            g = grp[0]
            for member in self.gp.groups[g]:
                if not placed[member]:
                    placed[member] = True
                    order.append(int(member) + 1)
            none_var = self.num_leaves + g
            placed[none_var] = True
            order.append(none_var + 1)

        for root in roots:
            stack = [int(root)]
            while stack:
                a = stack.pop()
                if a in seen_atom:
                    continue
                seen_atom.add(a)
                leaf = self._leaf_of_atom.get(a)
                if leaf is not None:
                    place_leaf(leaf)
                    continue
                base: list[int] = []
                recursive: list[int] = []
                me = comp_key.get(a, -1)
                for r in self._rules_of(a):
                    body = self._body(r)[0]
                    rec = me >= 0 and any(comp_key.get(x, -2) == me for x in body)
                    (recursive if rec else base).extend(body)
                stack.extend(reversed(base + recursive))
        for leaf in range(self.num_leaves):
            place_leaf(leaf)
        for g in range(self.num_groups):
            if not placed[self.num_leaves + g]:
                placed[self.num_leaves + g] = True
                order.append(self.num_leaves + g + 1)
        if not order:
            order = [1]
        return order

    # ------------------------------------------------------------- budgets
    def _label(self, atom: int) -> str:
        return atom_label(self.gp, atom)

    @property
    def _current(self) -> str:
        k, a, label = self._current_root
        if label is not None:
            return label(k)
        return self._label(a)

    def _check(self) -> None:
        m = self.manager
        size = m.size()
        if size > self.limits.max_size:
            m.garbage_collect()
            size = m.live_size()
        if size > self.limits.max_size:
            raise InferenceError(
                f"exact inference: the circuit for {self._current} exceeds the memory budget "
                f"({size} > {self.limits.max_size} "
                f"{'SDD elements' if self.backend == 'sdd' else 'BDD nodes'})",
                hint=_HINT,
            )
        limit = self.limits.time_limit
        if limit is not None and time.monotonic() - self._started > limit:
            raise InferenceError(
                f"exact inference: compiling the circuit for {self._current} exceeded the "
                f"time limit of {limit:g} s",
                hint=_HINT,
            )

    # ------------------------------------------------------------ lineage
    def literal(self, var: int) -> SddNode:
        """The SDD literal of 1-based variable ``var`` (negative: negated)."""
        return self.manager.literal(var)

    def _leaf_sdd(self, leaf: int) -> SddNode:
        grp = self._group_of_leaf.get(leaf)
        node = self.manager.literal(leaf + 1)
        if grp is None:
            return node
        g, pos = grp
        node = self._ref(node)
        for earlier in self.gp.groups[g][:pos]:
            node = self._apply(node, self.manager.literal(-(int(earlier) + 1)), True)
        self._deref(node)
        return node

    @staticmethod
    def _ref(node: SddNode) -> SddNode:
        if node.is_decision():
            node.ref()
        return node

    @staticmethod
    def _deref(node: SddNode) -> None:
        if node.is_decision():
            node.deref()

    def _apply(self, acc: SddNode, other: SddNode, conjoin: bool) -> SddNode:
        """``acc & other`` (or ``|``); ``acc``'s reference moves to the result."""
        new = self._ref(acc & other if conjoin else acc | other)
        self._deref(acc)
        return new

    def _rule_sdd(self, rule: int, scc: set[int] | None, cur: dict[int, SddNode]) -> SddNode:
        """Body conjunction of ``rule``, returned referenced."""
        m = self.manager
        atoms, negs = self._body(rule)
        node = m.true()
        for a, neg in zip(atoms, negs):
            if scc is not None and a in scc:
                if neg:
                    raise self._negation_in_component(a)
                val = cur[a]
            else:
                val = self._lookup(a)
            node = self._apply(node, ~val if neg else val, True)
            if node.is_false():
                break
        return node

    def _atom_sdd(self, atom: int, scc: set[int] | None, cur: dict[int, SddNode]) -> SddNode:
        """Lineage of ``atom`` from the current values of its body atoms, referenced."""
        m = self.manager
        leaf = self._leaf_of_atom.get(atom)
        if leaf is not None:
            return self._ref(self._leaf_sdd(leaf))
        if scc is None:
            bodies = []
            for r in self._rules_of(atom):
                atoms, negs = self._body(r)
                bodies.append(frozenset(zip(atoms, negs)))
            return self._factored_or(bodies)
        node = m.false()
        for r in self._rules_of(atom):
            body = self._rule_sdd(r, scc, cur)
            node = self._apply(node, body, False)
            self._deref(body)
            if node.is_true():
                break
            self._check()
        return node

    def _factored_or(self, bodies: list[frozenset[Literal]]) -> SddNode:
        """``OR_b AND_(a, neg) in b`` with shared atoms factored out, referenced.

        ``(x & A) | (~x & B) | C`` instead of one conjunction per body: with
        the atom ``x`` occurring in most bodies taken out first, the large
        lineages of shared atoms (parents in a CPT) are conjoined once per
        branch rather than once per rule, and the inner disjunctions are
        over small functions.
        """
        m = self.manager
        if not bodies:
            return m.false()
        if any(not b for b in bodies):
            return m.true()
        counts: dict[int, int] = {}
        for b in bodies:
            for a, _ in b:
                counts[a] = counts.get(a, 0) + 1
        best = max(counts, key=lambda a: (counts[a], -a))
        if len(bodies) == 1 or counts[best] < 2:
            node = m.false()
            for b in bodies:
                body = self._ref(m.true())
                # leaves first: small conjuncts before the large lineages
                for a, neg in sorted(b, key=lambda lit: (lit[0] not in self._leaf_of_atom, lit)):
                    val = self._lookup(a)
                    body = self._apply(body, ~val if neg else val, True)
                    if body.is_false():
                        break
                node = self._apply(node, body, False)
                self._deref(body)
                if node.is_true():
                    break
                self._check()
            return node
        with_pos = [b - {(best, False)} for b in bodies if (best, False) in b]
        with_neg = [b - {(best, True)} for b in bodies if (best, True) in b]
        rest = [b for b in bodies if (best, False) not in b and (best, True) not in b]
        val = self._lookup(best)
        node = self._ref(m.false())
        for part, lit in ((with_pos, val), (with_neg, ~val)):
            if not part:
                continue
            sub = self._factored_or(part)
            t = self._apply(sub, lit, True)
            node = self._apply(node, t, False)
            self._deref(t)
            self._check()
        if rest:
            sub = self._factored_or(rest)
            node = self._apply(node, sub, False)
            self._deref(sub)
        return node

    def _store(self, atom: int, node: SddNode) -> None:
        """Keep ``node`` (already referenced) as the lineage of ``atom``."""
        old = self._value.get(atom)
        self._value[atom] = node
        if old is not None:
            self._deref(old)

    def _components(self, target: int) -> list[list[int]]:
        """SCCs of the not-yet-compiled atoms ``target`` depends on, dependencies first."""
        if target in self._value or target in self._scc_of:
            return []
        return strongly_connected_components([target], self._uncompiled_deps)

    def _uncompiled_deps(self, a: int) -> list[int]:
        """Body atoms of ``a``'s rules that are not compiled yet (all of them at set-up)."""
        if a in self._leaf_of_atom:
            return []
        res: list[int] = []
        for r in self._rules_of(a):
            atoms, _ = self._body(r)
            res.extend(x for x in atoms if x not in self._value and x not in self._scc_of)
        return res

    def _is_cyclic(self, comp: list[int]) -> bool:
        if len(comp) > 1:
            return True
        a = comp[0]
        for r in self._rules_of(a):
            atoms, _ = self._body(r)
            if a in atoms:
                return True
        return False

    def _lookup(self, atom: int) -> SddNode:
        """The finished lineage of an atom of an already processed component."""
        found = self._value.get(atom)
        if found is not None:
            return found
        if atom in self._elim_rows:
            return self._back_substitute(atom)
        scc = self._scc_of[atom]
        try:
            node = self._break_cycles(atom, scc, 0)[0]
        except _ProofBudget as exc:
            if exc.scc is not scc:
                raise
            # too many cycle-breaking contexts: solve the (linear) component by elimination
            for entries in self._translation.pop(scc).values():
                for _, _, (val, _, _) in entries:
                    self._deref(val)
            for a in scc:
                del self._scc_of[a]
            self._eliminate(sorted(scc, key=self._comp_rank[scc].__getitem__), atom)
            return self._back_substitute(atom)
        self._ref(node)
        self._store(atom, node)
        return node

    def _break_cycles(
        self, atom: int, scc: frozenset[int], ancestors: int
    ) -> tuple[SddNode, int, int]:
        """Lineage of ``atom`` counting only derivations that do not revisit ``ancestors``,
        with the cuts it made and the atoms it contains.

        ProbLog's proof-based cycle breaking (problog.cycles) on SDDs: a body atom
        that is an ancestor is cut (false: a derivation through it is not well
        founded); translations are reused when the cuts they made are still
        ancestors and they contain no current ancestor.  Values are referenced and
        owned by the component's translation table.  Atom sets (ancestors, cuts,
        content) are bitmasks over the component's members (:attr:`_bit`): the
        reuse test runs once per stored translation on every visit (65 000 times
        on a 4x4 grid), and two integer ``&`` beat two set comparisons.  Each
        rule's literals outside the component are conjoined once
        (:meth:`_split_rule`), not once per translation.
        """
        bit = self._bit
        ancestors |= bit[atom]
        table = self._translation[scc]
        entries = table.get(atom)
        if entries is None:
            entries = table[atom] = []
        else:
            # reusable: cuts within the ancestors, content outside them; as cuts and
            # content are disjoint, that is (cuts | content) & ancestors == cuts
            for both, cut, entry in entries:
                if both & ancestors == cut:
                    return entry
        cuts = content = 0
        val: SddNode | None = None
        apply = self._apply
        splits = self._splits.get(atom)
        if splits is None:  # the atom's rules that can hold, split once
            splits = self._splits[atom] = [
                split for r in self._rules_of(atom)
                if not (split := self._split_rule(r, scc))[0].is_false()]
        for ext, inner in splits:
            body = self._ref(ext)
            for b in inner:
                b_bit = bit[b]
                if b_bit & ancestors:  # cut: the body is false (no call, no apply)
                    cuts |= b_bit
                    self._deref(body)
                    body = self.manager.false()
                    break
                v, v_cuts, v_content = self._break_cycles(b, scc, ancestors)
                cuts |= v_cuts
                content |= v_content
                body = apply(body, v, True)
                if body.is_false():
                    break
            if val is None:
                val = body
            else:
                val = apply(val, body, False)
                self._deref(body)
            if val.is_true():
                break
            self._check()
        if val is None:
            val = self.manager.false()
        kept = content & ~cuts
        entries.append((cuts | kept, cuts, (val, cuts, kept)))
        if scc in self._proof_budget:
            self._proof_budget[scc] -= 1
            if self._proof_budget[scc] < 0:
                raise _ProofBudget(scc)
        if not (val.is_true() or val.is_false()):
            content |= bit[atom]
        return val, cuts, content

    def _split_rule(self, rule: int, scc: frozenset[int]) -> tuple[SddNode, list[int]]:
        """A rule of a recursive component: the conjunction of its body literals outside
        the component (referenced, built once) and its body atoms inside it."""
        got = self._rule_split.get(rule)
        if got is not None:
            return got
        atoms, negs = self._body(rule)
        inner: list[int] = []
        ext = self._ref(self.manager.true())
        for b, neg in zip(atoms, negs):
            if b in scc:
                if neg:
                    self._deref(ext)
                    raise self._negation_in_component(b)
                inner.append(b)
            elif not ext.is_false():
                val = self._lookup(b)
                ext = self._apply(ext, ~val if neg else val, True)
        got = (ext, inner)
        self._rule_split[rule] = got
        return got

    # ------------------------------------------------------------ elimination
    def _negation_in_component(self, b: int) -> StratificationError:
        return StratificationError(
            f"negation through recursion: {self._label(b)} is negated in a rule "
            f"of its own recursive component",
            hint="exact inference needs stratified negation",
        )

    def _is_linear(self, comp: list[int]) -> bool:
        """Whether every rule of the component has at most one member in its body."""
        members = set(comp)
        for a in comp:
            for r in self._rules_of(a):
                inner = {b for b in self._body(r)[0] if b in members}
                if len(inner) > 1:
                    return False
        return True

    def _eliminate(self, comp: list[int], target: int) -> bool:
        """Solve a linear recursive component by Gaussian elimination over SDDs.

        Every rule of a member has at most one member in its body, so the
        component is the system ``x_a = base_a | OR_b (L_ab & x_b)`` with
        ``base`` and ``L`` over finished lineages.  Its least solution is, in
        every world, reachability in the graph with edges ``L_ab`` towards the
        ``base`` terms; eliminating ``x_k`` (substitute its equation into every
        row that uses it, dropping self-loops since ``x = e | (c & x)`` has the
        least solution ``e``) preserves that, so this is exactly ProbLog's
        semantics.  Unlike path-based cycle breaking it never enumerates
        paths: each step costs ``in-degree x out-degree`` applies, and the
        order (fewest such products first, ``target`` last) keeps the labels
        local.  Returns False, building nothing, for a non-linear component.
        """
        members = set(comp)
        rule_lists: list[tuple[int, list[tuple[list[Literal], int]]]] = []
        for a in comp:
            rows: list[tuple[list[Literal], int]] = []
            for r in self._rules_of(a):
                atoms, negs = self._body(r)
                inner = -1
                ext: list[Literal] = []
                for b, neg in zip(atoms, negs):
                    if b in members:
                        if neg:
                            raise self._negation_in_component(b)
                        if inner >= 0 and inner != b:
                            return False  # two members in one body: not linear
                        inner = b
                    else:
                        ext.append((b, bool(neg)))
                rows.append((ext, inner))
            rule_lists.append((a, rows))
        m = self.manager
        base: dict[int, SddNode] = {}
        out: dict[int, dict[int, SddNode]] = {a: {} for a in comp}
        into: dict[int, set[int]] = {a: set() for a in comp}
        for a, rows in rule_lists:
            acc = m.false()
            for ext, inner in rows:
                if inner == a:
                    continue  # x = e | (c & x): the self-loop adds nothing to the least solution
                body = m.true()
                for b, neg in ext:
                    v = self._lookup(b)
                    body = self._apply(body, ~v if neg else v, True)
                    if body.is_false():
                        break
                if inner < 0:
                    acc = self._apply(acc, body, False)
                elif not body.is_false():
                    old = out[a].get(inner)
                    if old is None:
                        out[a][inner] = body
                    else:
                        out[a][inner] = self._apply(old, body, False)
                        self._deref(body)
                    into[inner].add(a)
                    continue
                self._deref(body)
                self._check()
            base[a] = acc
        alive = set(comp)
        position = 0

        rank = {a: i for i, a in enumerate(comp)}

        def cost(k: int) -> tuple[int, int]:
            # Markowitz-style: fewest new labels first; ties in component order
            if k == target:
                return (1 << 62, 0)
            return (len(into[k] - {k}) + len(out[k]), rank[k])

        while alive:
            k = min(alive, key=cost)
            alive.discard(k)
            row = out.pop(k)
            bk = base.pop(k)
            for a in list(into.pop(k)):
                if a == k or a not in alive:
                    continue
                lak = out[a].pop(k)
                if not bk.is_false():
                    t = self._ref(lak & bk)
                    base[a] = self._apply(base[a], t, False)
                    self._deref(t)
                for c, lkc in row.items():
                    t = self._ref(lak & lkc)
                    if c == a:
                        self._deref(t)  # self-loop: dropped
                        continue
                    if t.is_false():
                        continue
                    old = out[a].get(c)
                    if old is None:
                        out[a][c] = t
                        into[c].add(a)
                    else:
                        out[a][c] = self._apply(old, t, False)
                        self._deref(t)
                self._deref(lak)
                self._check()
            for c in row:
                into[c].discard(k)
            self._elim_rows[k] = (position, bk, row)
            position += 1
        return True

    def _back_substitute(self, atom: int) -> SddNode:
        """The lineage of an eliminated atom: its saved row with later atoms' values."""
        need: list[int] = []
        stack = [atom]
        seen = {atom}
        while stack:
            a = stack.pop()
            if a in self._value:
                continue
            need.append(a)
            for c in self._elim_rows[a][2]:
                if c not in seen:
                    seen.add(c)
                    stack.append(c)
        need.sort(key=lambda a: -self._elim_rows[a][0])  # later eliminated first
        for a in need:
            _, acc, row = self._elim_rows.pop(a)
            for c, lac in row.items():
                t = self._ref(lac & self._value[c])
                acc = self._apply(acc, t, False)
                self._deref(t)
                self._deref(lac)
                self._check()
            self._store(a, acc)
        return self._value[atom]

    def atom(self, atom: int) -> SddNode:
        """The lineage SDD of ``atom`` (compiling what it depends on, once)."""
        atom = int(atom)
        found = self._value.get(atom)
        if found is not None:
            return found
        if atom < 0 or atom >= self.gp.num_atoms:
            return self.manager.false()
        for comp in self._components(atom):
            if not self._is_cyclic(comp):
                node = self._atom_sdd(comp[0], None, {})
                var = self._aux_var.get(comp[0])
                if var is not None:  # defined: the atom is its variable, constrained in delta
                    self._definition[comp[0]] = node
                    node = self.manager.literal(var)
                self._store(comp[0], node)
                self._check()
                continue
            if self.cycles == "eliminate" and self._is_linear(comp):
                self._eliminate(comp, atom)
                continue
            if self.cycles != "fixpoint":
                members = frozenset(comp)
                if self.cycles == "auto" and self._is_linear(comp):
                    self._proof_budget[members] = PROOF_BUDGET
                    self._comp_rank[members] = {a: i for i, a in enumerate(comp)}
                self._translation[members] = {}
                for i, a in enumerate(comp):
                    self._scc_of[a] = members
                    self._bit[a] = 1 << i
                continue
            # least fixpoint of a recursive component, Gauss-Seidel; SDDs are canonical,
            # so "no node id changed in a full pass" is exact convergence.
            members_set = set(comp)
            cur: dict[int, SddNode] = {a: self.manager.false() for a in comp}
            changed = True
            while changed:
                changed = False
                for a in comp:
                    new = self._atom_sdd(a, members_set, cur)
                    if new.id != cur[a].id:
                        self._deref(cur[a])
                        cur[a] = new
                        changed = True
                    else:
                        self._deref(new)
                    self._check()
            for a in comp:
                self._store(a, cur[a])
        return self._lookup(atom)

    def compile_roots(
        self, roots: Sequence[RootSpec], *, label: Callable[[int], str] | None = None
    ) -> list[SddNode]:
        """SDDs for ``roots`` (each an atom id or a conjunction of literals), referenced."""
        if not self._started:
            self._started = time.monotonic()
        specs: list[list[Literal]] = [
            [(int(root), True)] if isinstance(root, (int, np.integer))
            else sorted({(int(a), bool(v)) for a, v in root})
            for root in roots
        ]
        start = self.manager.true()
        if self._aux_var:
            if specs and specs[0]:
                self._current_root = (0, specs[0][0][0], label)
            start = self._definitions()
        # literals shared by many roots (the evidence) first, each prefix conjoined once
        freq: dict[Literal, int] = {}
        for lits in specs:
            for lit in lits:
                freq[lit] = freq.get(lit, 0) + 1
        prefixes: dict[tuple[Literal, ...], SddNode] = {}
        out: list[SddNode] = []
        for k, lits in enumerate(specs):
            lits.sort(key=lambda lit: (-freq[lit], lit))
            node = self._ref(start)
            for i, (a, v) in enumerate(lits):
                key = tuple(lits[: i + 1])
                done = prefixes.get(key)
                if done is not None:
                    self._deref(node)
                    node = self._ref(done)
                    continue
                self._current_root = (k, a, label)
                val = self.atom(a)
                node = self._apply(node, val if v else ~val, True)
                prefixes[key] = self._ref(node)
                self._check()
            out.append(node)
        for node in prefixes.values():
            self._deref(node)
        return out

    def _definitions(self) -> SddNode:
        """Delta: every defined atom's variable equals its definition, conjoined once
        along the dtree (referenced, kept); every root of the defined encoding is
        ``delta & literals``.  Each defined variable is a function of the leaves, so
        it is never free in a model of delta and counts with weight 1 both ways."""
        if self._delta is not None:
            return self._delta
        m = self.manager
        parts: dict[int, SddNode] = {}
        for a in self._aux_var:
            self.atom(a)
        for k, (a, var) in enumerate(self._aux_var.items()):
            d = self._definition.pop(a)
            x = m.literal(var)
            c = self._ref((~x | d) & (x | ~d))
            self._deref(d)
            parts[k] = c
            self._check()
        joins = conjoin_order(self._dtree) if self._dtree is not None else []
        for node, left, right in joins:
            a, b = parts.pop(left, None), parts.pop(right, None)
            if a is None or b is None:
                got = a if b is None else b
                if got is not None:
                    parts[node] = got
                continue
            parts[node] = self._apply(a, b, True)
            self._deref(b)
            self._check()
        delta = self._ref(m.true())
        for rest in parts.values():  # one part after a dtree; all of them in order without
            delta = self._apply(delta, rest, True)
            self._deref(rest)
        self._delta = delta
        return delta

    def restart_clock(self) -> None:
        """Start the time budget anew (for a later batch of roots)."""
        self._started = time.monotonic()

    def mpe_constraint(self) -> SddNode:
        """Exactly one of (alternatives, none) for every AD group; ``true`` without groups."""
        if self._mpe_constraint is not None:
            return self._mpe_constraint
        m = self.manager
        node = m.true()
        for g, members in enumerate(self.gp.groups):
            vars_ = [int(leaf) + 1 for leaf in members] + [self.num_leaves + g + 1]
            # exactly one: at least one, and no two
            eo = m.false()
            for v in vars_:
                term = self._ref(m.literal(v))
                for w in vars_:
                    if w != v:
                        term = self._apply(term, m.literal(-w), True)
                eo = self._apply(eo, term, False)
                self._deref(term)
            node = self._apply(node, eo, True)
            self._deref(eo)
        self._mpe_constraint = node
        return node
