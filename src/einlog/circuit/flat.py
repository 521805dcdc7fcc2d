"""Small circuits as flat sums of products: a handful of torch ops per evaluation.

Why it is built this way:

* **Op count, not arithmetic, is the cost of a small circuit.**  A layered
  circuit spends about ten torch ops per layer forward and five backward, plus
  some forty for the sequential-encoding literal weights; for MNIST addition
  (20 leaves, 19 sums, 148 elements in 5 layers) that is ~1 ms per training
  step at batch 16, while the arithmetic is a few hundred multiply-adds.  A
  d-DNNF expands into a sum of disjoint products of literal weights; when that
  expansion is small, every root is ``logsumexp`` over its terms of the sum of
  the terms' log factors: one gather, one sum, one ``logsumexp`` forward and a
  gather-shaped ``index_add`` backward (:class:`_FlatLogSum`).

* **Factors in leaf probabilities, not literal weights.**  Under the
  sequential AD encoding, a term that sets member ``k`` of a group true and
  members ``0..k-1`` false multiplies to ``p_k / max(sum_g, 1)`` (the
  conditionals telescope), and all members false to ``none_g / max(sum_g,
  1)``.  Such a circuit needs neither the tails nor the conditionals: one
  column per leaf (``log p``, normalised per group), one ``log(1 - p)`` per
  independent leaf, one ``log none`` per group.  A term with any other group
  pattern (e.g. "not member 0", a tail) has no single-column factor; then the
  circuit keeps its layered evaluation.  The same function is computed, so
  values and gradients agree with the layered path to rounding (tested).

* **Bounded expansion.**  The expansion is built bottom-up from the layered
  tables with a budget on the number of term entries, so circuits whose
  expansion would outgrow the layered form (N-digit addition for N >= 2) stay
  layered; the padded ``[R, M, K]`` table (roots x most terms x longest term)
  is used only when it is at most a few times the circuit's element count.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from .logspace import NEG_INF as _NEG_INF
from .logspace import safe_log, safe_log1p_neg

if TYPE_CHECKING:
    from .tensor import TensorCircuit

__all__ = ["FlatLogCircuit"]



class FlatLogCircuit(torch.nn.Module):
    """Root log-probabilities of a small circuit as ``logsumexp`` over product terms.

    Columns of the factor table ``[B, C]``: leaves ``0..L-1`` (``log p``, grouped leaves
    divided by ``max(group sum, 1)``), then ``log(1 - p)`` of the independent leaves that
    occur negated (``neg_leaf``), then ``log none`` of the groups whose *none* occurs
    (``none_group``), then the constants ``0`` (padding of short terms) and ``-inf``
    (padding of roots with fewer terms).
    """

    index: torch.Tensor
    neg_leaf: torch.Tensor
    none_group: torch.Tensor
    member_leaf: torch.Tensor
    member_group: torch.Tensor
    leaf_group: torch.Tensor
    grouped: torch.Tensor
    block_index: torch.Tensor
    block_mask: torch.Tensor

    #: largest padded table ``R x M x K`` built; also bounded by a multiple of the elements
    max_entries: int = 8192
    #: circuits with more elements are not expanded at all (the expansion is a Python walk)
    max_elements: int = 2048

    def __init__(self, circuit: TensorCircuit, index: np.ndarray, shape: tuple[int, int, int],
                 neg_leaf: list[int], none_group: list[int],
                 blocks: tuple[int, int] | None = None) -> None:
        super().__init__()
        # (groups, size) when the leaves are equal-size groups in order and every term
        # has K leaf factors: the block path (fewer ops, see _block_terms)
        self.blocks = blocks
        r, m, k = shape
        if blocks is not None:  # missing terms read column 0 and are masked to -inf
            missing = index.reshape(m, k, r)[:, 0, :] >= circuit.num_leaves
            block_index = np.where(index >= circuit.num_leaves, 0, index)
            self.register_buffer("block_index", torch.as_tensor(block_index, dtype=torch.long))
            mask = np.where(missing, -np.inf, 0.0).reshape(m, r, 1)
            self.register_buffer("block_mask", torch.as_tensor(mask, dtype=torch.float64))
        self.num_leaves = circuit.num_leaves
        self.num_groups = circuit.num_groups
        self.all_grouped = circuit.all_grouped
        self.shape = shape
        self.num_columns = self.num_leaves + len(neg_leaf) + len(none_group) + 2
        self.register_buffer("index", torch.as_tensor(index, dtype=torch.long))
        self.register_buffer("neg_leaf", torch.as_tensor(neg_leaf, dtype=torch.long))
        self.register_buffer("none_group", torch.as_tensor(none_group, dtype=torch.long))
        for name in ("member_leaf", "member_group", "leaf_group", "grouped"):
            self.register_buffer(name, getattr(circuit, name).clone())

    # ------------------------------------------------------------ construction
    @classmethod
    def try_build(cls, circuit: TensorCircuit) -> FlatLogCircuit | None:
        """The flat form of ``circuit``, or ``None`` when it is too large or a term has a
        group pattern without a single-column factor."""
        n_elem = circuit.num_elements
        limit = min(cls.max_entries, 4 * n_elem + 512)
        if circuit.num_roots == 0 or n_elem > cls.max_elements:
            return None
        terms = _expand(circuit, budget=2 * limit)
        if terms is None:
            return None
        cols = _factor_columns(circuit, terms)
        if cols is None:
            return None
        per_root, neg_leaf, none_group = cols
        r = len(per_root)
        m = max((len(ts) for ts in per_root), default=0)
        k = max((len(t) for ts in per_root for t in ts), default=0)
        m, k = max(m, 1), max(k, 1)
        if r * m * k > limit:
            return None
        n_cols = circuit.num_leaves + len(neg_leaf) + len(none_group)
        one, zero = n_cols, n_cols + 1  # log 1 (short terms), log 0 (missing terms)
        index = np.full((m, k, r), one, dtype=np.int64)
        for i, ts in enumerate(per_root):
            index[len(ts):, :, i] = zero
            for j, t in enumerate(ts):
                index[j, : len(t), i] = t
        return cls(circuit, index.reshape(-1), (r, m, k), neg_leaf, none_group,
                   _blocks(circuit, per_root, neg_leaf, none_group, k))

    # ------------------------------------------------------------ evaluation
    # Layout: column-major ``[C, B]`` tables and ``[M, K, R, B]`` term entries, so every
    # gather and scatter moves contiguous rows of B values and every reduction runs over
    # a leading dimension (elementwise over rows) -- several times faster on CPU than
    # gathering columns of ``[B, C]``.
    def _table(self, p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Factor table ``[C, B]`` and the group sums ``[G, B]`` (``None`` without groups)."""
        pt = p.t()
        b = pt.shape[1]
        lp = safe_log(pt)
        parts = [lp]
        gsum = None
        if self.num_groups:
            gsum = pt.new_zeros(self.num_groups, b).index_add_(
                0, self.member_group, pt.index_select(0, self.member_leaf))
            log_den = torch.log(gsum.clamp_min(1.0))
            shift = log_den.index_select(0, self.leaf_group)
            parts[0] = lp - shift if self.all_grouped else torch.where(
                self.grouped.unsqueeze(1), lp - shift, lp)
        if self.neg_leaf.numel():
            parts.append(safe_log1p_neg(pt.index_select(0, self.neg_leaf)))
        if self.none_group.numel():
            assert gsum is not None
            parts.append(safe_log(1.0 - gsum.index_select(0, self.none_group)))
        parts.append(pt.new_zeros(1, b))
        parts.append(pt.new_full((1, b), _NEG_INF))
        return torch.cat(parts, dim=0), gsum

    def _terms(self, table: torch.Tensor) -> torch.Tensor:
        """Log weight of every term ``[M, R, B]``."""
        r, m, k = self.shape
        x = table.index_select(0, self.index).view(m, k, r, -1)
        return x.sum(1) if k > 1 else x.squeeze(1)

    def forward(self, p: torch.Tensor) -> torch.Tensor:
        """Root log-probabilities ``[B, R]`` of leaf probabilities ``[B, L]``."""
        if torch.is_grad_enabled() and p.requires_grad:
            out: torch.Tensor = _FlatLogSum.apply(p, self)
            return out
        with torch.no_grad():
            return torch.logsumexp(self.terms_of(p)[0], dim=0).t()

    def terms_of(self, p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Log weight of every term ``[M, R, B]`` and the group sums ``[G, B]``."""
        if self.blocks is not None:
            return self._block_terms(p)
        table, gsum = self._table(p)
        return self._terms(table), gsum

    def gradient(self, p: torch.Tensor, gsum: torch.Tensor | None, x: torch.Tensor,
                 out: torch.Tensor, g_out: torch.Tensor) -> torch.Tensor:
        """Gradient ``[B, L]`` of ``<g_out, out>`` with respect to ``p``."""
        if self.blocks is not None:
            assert gsum is not None
            return self._block_backward(p, gsum, x, out, g_out)
        return self._general_backward(p, gsum, x, out, g_out)

    def _entry_weights(self, x: torch.Tensor, out: torch.Tensor,
                       g_out: torch.Tensor) -> torch.Tensor:
        """``d <g_out, out> / d`` every entry of the term table, ``[M * K * R, B]``: a term's
        softmax weight within its root times the root's gradient, once per factor."""
        r, m, k = self.shape
        shift = torch.where(out > _NEG_INF, out, 0.0)
        w = torch.exp(x - shift).mul_(g_out.t().to(x.dtype))  # [M, R, B]
        b = w.shape[-1]
        if k > 1:
            w = w.unsqueeze(1).expand(m, k, r, b)
        return w.reshape(-1, b)

    # Block path: every leaf is in one of G groups of S consecutive leaves and every
    # term has exactly K leaf factors (MNIST addition: 2 digits x 10, terms of 2), so
    # group sums are a view-sum and the table is just ``log(p / max(sum, 1))``.
    def _block_terms(self, p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        assert self.blocks is not None
        g, size = self.blocks
        r, m, k = self.shape
        pt = p.t().contiguous()
        b = pt.shape[1]
        g3 = pt.view(g, size, b)
        gsum = g3.sum(1)
        table = torch.log(g3 / gsum.clamp_min(1.0).unsqueeze(1)).view(g * size, b)
        x = table.index_select(0, self.block_index).view(m, k, r, b)
        x = x.sum(1) if k > 1 else x.squeeze(1)
        return x + self.block_mask.to(x.dtype), gsum

    def _block_backward(self, p: torch.Tensor, gsum: torch.Tensor, x: torch.Tensor,
                        out: torch.Tensor, g_out: torch.Tensor) -> torch.Tensor:
        assert self.blocks is not None
        g, size = self.blocks
        pt = p.t()
        b = pt.shape[1]
        w = self._entry_weights(x, out, g_out)  # masked terms: 0
        g_lp = pt.new_zeros(g * size, b).index_add_(0, self.block_index, w)
        gp = torch.where(g_lp != 0, g_lp / pt, 0.0)  # p = 0 reads -inf: its weight is 0
        if bool((gsum > 1).any()):  # d log max(s, 1) / ds = 1/s above 1
            g_s = torch.where(gsum > 1, g_lp.view(g, size, b).sum(1) / gsum, 0.0)
            gp = (gp.view(g, size, b) - g_s.unsqueeze(1)).view(g * size, b)
        return gp.t()

    def _general_backward(self, p: torch.Tensor, gsum: torch.Tensor | None, x: torch.Tensor,
                       out: torch.Tensor, g_out: torch.Tensor) -> torch.Tensor:
        """Gradient ``[B, L]`` of ``<g_out, out>`` with respect to ``p`` (``x``: the terms
        ``[M, R, B]``, ``out``: the roots ``[R, B]``)."""
        pt = p.t()
        b = pt.shape[1]
        w = self._entry_weights(x, out, g_out)
        g_tab = pt.new_zeros(self.num_columns, b).index_add_(0, self.index, w)
        n = self.num_leaves
        g_lp = g_tab[:n]
        ok = pt > 0
        gp = torch.where(ok, g_lp / torch.where(ok, pt, 1.0), 0.0)
        col = n
        if self.neg_leaf.numel():
            c = self.neg_leaf.numel()
            q = pt.index_select(0, self.neg_leaf)
            q_ok = q < 1
            gq = torch.where(q_ok, g_tab[col : col + c] / (1 - torch.where(q_ok, q, 0.0)), 0.0)
            gp.index_add_(0, self.neg_leaf, -gq)
            col += c
        if self.num_groups:
            assert gsum is not None
            # d log max(s, 1) / ds = 1/s above 1; every grouped column subtracts it
            g_grouped = g_lp if self.all_grouped else torch.where(
                self.grouped.unsqueeze(1), g_lp, 0.0)
            g_den = pt.new_zeros(self.num_groups, b).index_add_(0, self.leaf_group, g_grouped)
            g_s = torch.where(gsum > 1, -g_den / gsum.clamp_min(1.0), 0.0)
            if self.none_group.numel():
                c = self.none_group.numel()
                g_none = pt.new_zeros(self.num_groups, b).index_add_(
                    0, self.none_group, g_tab[col : col + c])
                none = 1.0 - gsum
                n_ok = none > 0
                # log none = log(1 - s) below 1, -inf (no gradient) at or above
                g_s = g_s + torch.where(n_ok, -g_none / torch.where(n_ok, none, 1.0), 0.0)
            gp.index_add_(0, self.member_leaf, g_s.index_select(0, self.member_group))
        return gp.t()


class _FlatLogSum(torch.autograd.Function):
    """Leaf probabilities ``[B, L]`` -> root log-probabilities ``[B, R]`` of a flat circuit,
    with the gradient written out (the forward records no graph)."""

    @staticmethod
    def forward(ctx: Any, p: torch.Tensor, flat: FlatLogCircuit) -> torch.Tensor:
        with torch.no_grad():
            x, gsum = flat.terms_of(p)
            out = torch.logsumexp(x, dim=0)
        ctx.save_for_backward(p, x, out)
        ctx.gsum = gsum
        ctx.flat = flat
        return out.t()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, g_out: torch.Tensor) -> tuple[torch.Tensor, None]:
        p, x, out = ctx.saved_tensors
        flat: FlatLogCircuit = ctx.flat
        return flat.gradient(p, ctx.gsum, x, out, g_out).to(p.dtype), None


def _blocks(circuit: TensorCircuit, per_root: list[list[list[int]]], neg_leaf: list[int],
            none_group: list[int], k: int) -> tuple[int, int] | None:
    """``(groups, size)`` when the block path applies: every leaf in a group, groups of
    equal size in leaf order, no negated-leaf or *none* column, every term K factors."""
    groups = circuit.encoding.groups
    if not groups or neg_leaf or none_group or not circuit.all_grouped:
        return None
    size = len(groups[0])
    flat_members = [leaf for members in groups for leaf in members]
    if flat_members != list(range(circuit.num_leaves)) or any(
            len(members) != size for members in groups):
        return None
    if any(len(t) != k for ts in per_root for t in ts):
        return None
    return len(groups), size


def _expand(circuit: TensorCircuit, budget: int) -> list[list[tuple[int, ...]]] | None:
    """Every root's terms (tuples of literal slots), or ``None`` past ``budget`` entries."""
    v = circuit.num_vars
    terms: dict[int, list[tuple[int, ...]]] = {0: [], 1: [()]}
    for s in range(2, 2 + 2 * v):
        terms[s] = [(s,)]
    prime = circuit.prime.tolist()
    sub = circuit.sub.tolist()
    seg = circuit.seg.tolist()
    used = 0
    for nlo, _nhi, elo, ehi in circuit.layers:
        for e in range(elo, ehi):
            out = terms.setdefault(nlo + seg[e], [])
            ps, ss = terms[prime[e]], terms[sub[e]]
            used += len(ps) * len(ss)
            if used > budget:
                return None
            out.extend(a + b for a in ps for b in ss)
    return [terms[int(r)] for r in circuit.roots.tolist()]


def _factor_columns(
    circuit: TensorCircuit, roots: list[list[tuple[int, ...]]]
) -> tuple[list[list[list[int]]], list[int], list[int]] | None:
    """Per root, per term, the factor columns; plus the negated independent leaves and the
    groups with a *none* column.  ``None`` when some term has no single-column factor."""
    v, n = circuit.num_vars, circuit.num_leaves
    groups = circuit.encoding.groups
    group_of = {leaf: (g, k) for g, mem in enumerate(groups) for k, leaf in enumerate(mem)}
    neg_col: dict[int, int] = {}
    none_col: dict[int, int] = {}
    raw: list[list[list[tuple[str, int]]]] = []
    for ts in roots:
        out_ts: list[list[tuple[str, int]]] = []
        for t in ts:
            factors: list[tuple[str, int]] = []
            seen: dict[int, tuple[list[int], list[int]]] = {}
            dead = False
            for slot in t:
                positive = slot < 2 + v
                var = slot - 2 if positive else slot - 2 - v
                if var >= n:  # a group's none variable: weight 0 (true) or 1 (false)
                    if positive:
                        dead = True
                    continue
                if var in group_of:
                    g, k = group_of[var]
                    pos, neg = seen.setdefault(g, ([], []))
                    (pos if positive else neg).append(k)
                else:
                    factors.append(("p", var) if positive else ("q", var))
            if dead:
                continue  # a zero-weight term adds nothing
            for g, (pos, neg) in seen.items():
                size = len(groups[g])
                if len(pos) == 1 and sorted(neg) == list(range(pos[0])):
                    factors.append(("p", groups[g][pos[0]]))
                elif not pos and len(neg) == size:
                    factors.append(("n", g))
                else:
                    return None
            out_ts.append(factors)
        raw.append(out_ts)
    for root_terms in raw:
        for factors in root_terms:
            for kind, x in factors:
                if kind == "q":
                    neg_col.setdefault(x, len(neg_col))
                elif kind == "n":
                    none_col.setdefault(x, len(none_col))
    base_none = n + len(neg_col)

    def column(kind: str, x: int) -> int:
        if kind == "p":
            return x
        if kind == "q":
            return n + neg_col[x]
        return base_none + none_col[x]

    per_root = [[[column(kind, x) for kind, x in factors] for factors in root_terms]
                for root_terms in raw]
    return per_root, list(neg_col), list(none_col)
