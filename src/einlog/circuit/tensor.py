"""Layered tensor circuits: an SDD turned into a few torch ops per layer.

Why it is built this way:

* **One buffer, one loop iteration per layer.**  Node values live in one
  ``[batch, N]`` tensor laid out as ``[false, true, pos literals, neg
  literals, decision nodes by depth]``.  A decision node is an OR of
  elements ``prime AND sub``; all decision nodes of one depth are evaluated
  by two ``index_select`` (primes, subs), one elementwise product (a sum in
  log space) and one segment reduction (``index_add`` for sums, a
  max-shifted ``index_add`` of exponentials for log-sum-exp,
  ``scatter_reduce(amax)`` for max-product), whose result is written into a
  contiguous slice of the buffer.  Sum-product (probability and log space) has a
  hand-written backward (``_LayeredSum``): the forward records no graph, the
  backward walks the layers top-down through one gradient buffer, about five
  ops per layer.  Max-product stays on autograd: ``index_select`` does not save
  its input for backward, so the in-place slice writes keep it intact.  Index
  arrays are flat buffers (``register_buffer``) with per-layer offsets kept
  as Python ints, so ``.to(device)`` moves everything and nothing is
  created off the input's device.

* **Literal weights from leaf probabilities, inside the module.**  Inputs
  are leaf probabilities ``[batch, L]``; independent leaves give ``p`` and
  ``1-p``; annotated-disjunction leaves give the sequential-encoding
  conditionals ``q_i = p_i / (p_i + tail_i)`` and ``1 - q_i = tail_i /
  (p_i + tail_i)`` with ``tail_i = sum_{j>i} p_j + none`` computed by an
  ``index_add`` over (i, j) pairs: no cumulative-sum cancellation, so
  small probabilities keep their relative precision, and gradients reach
  every ``p_j``.  Log space uses ``log p`` and ``log1p(-p)`` directly.

* **Smoothing only where it matters.**  With sequential AD encoding every
  variable has ``w(x) + w(~x) = 1``, so sum-product needs no smoothing.
  Max-product does: a variable missing below an element contributes
  ``max(w(x), w(~x))``.  The missing variables of an element are the vtree
  siblings on the path from the vtree node the element should cover to the
  one its child actually covers; their max-weights are summed (log space)
  once per call by a CSR gather, before the layer loop.

* **MPE decoding without Python per node.**  Max-product records, per
  layer, the first maximising element of every node; decoding walks the
  layers top-down marking active nodes with one ``scatter_`` per layer.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np
import torch
from pysdd.sdd import SddManager, SddNode

from einlog._gc import bulk_build

from .bdd import BddManager, sdd_view
from .flat import FlatLogCircuit
from .logspace import NEG_INF as _NEG_INF
from .logspace import safe_log as _safe_log
from .logspace import safe_log1p_neg as _safe_log1p_neg

__all__ = ["TensorCircuit", "CircuitCache", "LiteralEncoding", "build_tensor_circuit"]



@dataclass(frozen=True)
class LiteralEncoding:
    """How leaves map to SDD variables: ``num_leaves`` leaves, then one *none* var per group."""

    num_leaves: int
    groups: tuple[tuple[int, ...], ...]

    @property
    def num_vars(self) -> int:
        return self.num_leaves + len(self.groups)


def _vtree_tables(manager: SddManager) -> tuple[dict[int, int], list[int], list[int], list[int],
                                                list[list[int]]]:
    """Vtree as tables by in-order position: parent, left, right, vars below."""
    root = manager.vtree()
    nodes: dict[int, object] = {}
    stack = [root]
    while stack:
        v = stack.pop()
        nodes[v.position()] = v
        if not v.is_leaf():
            stack.append(v.left())
            stack.append(v.right())
    n = max(nodes) + 1
    parent = [-1] * n
    left = [-1] * n
    right = [-1] * n
    var_pos: dict[int, int] = {}
    for pos, v in nodes.items():
        if v.is_leaf():  # type: ignore[attr-defined]
            var_pos[int(v.var())] = pos  # type: ignore[attr-defined]
        else:
            lp = v.left().position()  # type: ignore[attr-defined]
            rp = v.right().position()  # type: ignore[attr-defined]
            left[pos], right[pos] = lp, rp
            parent[lp] = parent[rp] = pos
    # vars below each vtree node (in-order positions: leaves of v are a contiguous range)
    below: list[list[int]] = [[] for _ in range(n)]
    leaf_var = {pos: var for var, pos in var_pos.items()}
    for pos in range(n):
        if pos in leaf_var:
            p = pos
            while p != -1:
                below[p].append(leaf_var[pos])
                p = parent[p]
    return var_pos, parent, left, right, below


class TensorCircuit(torch.nn.Module):
    """A multi-rooted arithmetic circuit over leaf probabilities.

    ``forward(leaf_probs)`` maps ``[L]`` or ``[batch, L]`` probabilities to
    root values ``[R]`` or ``[batch, R]`` (probability space; ``log=True``
    for log space).  :meth:`max_product` and :meth:`mpe` evaluate the same
    structure in the max-product semiring (needs ``smooth=True`` at build).
    """

    prime: torch.Tensor
    dense_children: torch.Tensor
    sub: torch.Tensor
    seg: torch.Tensor
    roots: torch.Tensor
    tail_i: torch.Tensor
    tail_j: torch.Tensor
    member_leaf: torch.Tensor
    member_group: torch.Tensor
    leaf_group: torch.Tensor
    grouped: torch.Tensor
    elem_smooth_ptr: torch.Tensor
    elem_smooth_vnode: torch.Tensor
    elem_smooth_seg: torch.Tensor
    vnode_var: torch.Tensor
    vnode_seg: torch.Tensor

    def __init__(
        self,
        encoding: LiteralEncoding,
        prime: np.ndarray,
        sub: np.ndarray,
        seg: np.ndarray,
        layers: list[tuple[int, int, int, int]],
        roots: np.ndarray,
        num_nodes: int,
        smoothing: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int] | None = None,
        sdd_size: int = 0,
    ) -> None:
        super().__init__()
        self.encoding = encoding
        self.num_leaves = encoding.num_leaves
        self.num_vars = encoding.num_vars
        self.num_nodes = num_nodes
        self.layers = layers
        self._widest = max((max(nhi - nlo, ehi - elo) for nlo, nhi, elo, ehi in layers),
                           default=1)
        self.num_roots = len(roots)
        self.sdd_size = sdd_size
        self.register_buffer("prime", torch.as_tensor(prime, dtype=torch.long))
        self.register_buffer("sub", torch.as_tensor(sub, dtype=torch.long))
        self.register_buffer("seg", torch.as_tensor(seg, dtype=torch.long))
        self.register_buffer("roots", torch.as_tensor(roots, dtype=torch.long))
        self._build_dense(seg, layers)
        # annotated disjunctions (sequential encoding)
        groups = encoding.groups
        ti: list[int] = []
        tj: list[int] = []
        ml: list[int] = []
        mg: list[int] = []
        leaf_group = np.full(max(encoding.num_leaves, 0), -1, dtype=np.int64)
        for g, members in enumerate(groups):
            for k, leaf in enumerate(members):
                ml.append(leaf)
                mg.append(g)
                leaf_group[leaf] = g
                for later in members[k + 1 :]:
                    ti.append(leaf)
                    tj.append(later)
        self.num_groups = len(groups)
        self.register_buffer("tail_i", torch.as_tensor(ti, dtype=torch.long))
        self.register_buffer("tail_j", torch.as_tensor(tj, dtype=torch.long))
        self.register_buffer("member_leaf", torch.as_tensor(ml, dtype=torch.long))
        self.register_buffer("member_group", torch.as_tensor(mg, dtype=torch.long))
        self.register_buffer("leaf_group", torch.as_tensor(np.maximum(leaf_group, 0)))
        self.register_buffer("grouped", torch.as_tensor(leaf_group >= 0))
        # every leaf in an annotated disjunction (MNIST digits): no independent-leaf weights
        self.all_grouped = bool(len(groups)) and bool((leaf_group >= 0).all())
        self.smooth = smoothing is not None
        if smoothing is not None:
            e_vnode, e_seg, v_var, v_seg, n_vnodes = smoothing
            self.num_vnodes = n_vnodes
            self.register_buffer("elem_smooth_vnode", torch.as_tensor(e_vnode, dtype=torch.long))
            self.register_buffer("elem_smooth_seg", torch.as_tensor(e_seg, dtype=torch.long))
            self.register_buffer("vnode_var", torch.as_tensor(v_var, dtype=torch.long))
            self.register_buffer("vnode_seg", torch.as_tensor(v_seg, dtype=torch.long))
        # small circuits evaluate log space as a flat sum of products (see flat.py)
        self.flat = FlatLogCircuit.try_build(self)

    def _build_dense(self, seg: np.ndarray, layers: list[tuple[int, int, int, int]]) -> None:
        """Padded ``[n, K]`` child tables for layers whose nodes have similar fan-in.

        Log space evaluates such a layer with one gather and one ``logsumexp`` over
        ``K`` (instead of the max-shifted segment sum's ten-odd ops); padding slots point
        at the false constant (log 0), so they add nothing.  Only layers whose padding
        at most doubles the elements use it, so a skewed layer keeps the segment path.
        """
        flat: list[np.ndarray] = []
        self._dense: list[tuple[int, int]] = []  # per layer: (offset, K); K = 0: segment
        offset = 0
        for nlo, nhi, elo, ehi in layers:
            n, e = nhi - nlo, ehi - elo
            counts = np.bincount(np.asarray(seg[elo:ehi], dtype=np.int64), minlength=n)
            k = int(counts.max()) if n else 0
            if n == 0 or n * k > 2 * e + 256:
                self._dense.append((0, 0))
                continue
            starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
            local = np.asarray(seg[elo:ehi], dtype=np.int64)
            cell = local * k + (np.arange(e) - starts[local])
            both = np.zeros(2 * n * k, dtype=np.int64)  # slot 0: false
            both[cell] = np.asarray(self.prime[elo:ehi])
            both[n * k + cell] = np.asarray(self.sub[elo:ehi])
            flat.append(both)
            self._dense.append((offset, k))
            offset += 2 * n * k
        table = np.concatenate(flat) if flat else np.zeros(0, dtype=np.int64)
        self.register_buffer("dense_children", torch.as_tensor(table), persistent=False)

    def _dense_views(self) -> tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor]]:
        """Per dense layer: its prime+sub table, prime half, sub half (views of
        ``dense_children``, sliced once per buffer rather than on every call)."""
        key = (self.dense_children.device, self.dense_children.data_ptr())
        cached = getattr(self, "_views", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        both, prime, sub = [], [], []
        for (nlo, nhi, _, _), (off, k) in zip(self.layers, self._dense):
            nk = (nhi - nlo) * k
            t = self.dense_children[off : off + 2 * nk]
            both.append(t)
            prime.append(t[:nk])
            sub.append(t[nk:])
        views = (both, prime, sub)
        self._views = (key, views)
        return views

    # ------------------------------------------------------------ size
    @property
    def num_elements(self) -> int:
        return int(self.prime.shape[0])

    def size(self) -> dict[str, int]:
        """Circuit size: decision nodes, elements, edges (2 per element + 1 per element to its
        node), layers, and the SDD size (elements) of the compiled roots."""
        n_dec = self.num_nodes - 2 - 2 * self.num_vars
        return {
            "nodes": n_dec + 2 * self.num_vars,
            "decision_nodes": n_dec,
            "elements": self.num_elements,
            "edges": 3 * self.num_elements,
            "layers": len(self.layers),
            "sdd_size": self.sdd_size,
            "roots": self.num_roots,
        }

    # ------------------------------------------------------------ literal weights
    def _group_terms(self, p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Mass per group ``[B, G]``, ``none`` mass per group ``[B, G]`` and ``tail`` per
        leaf ``[B, L]``."""
        b = p.shape[0]
        gsum = p.new_zeros(b, self.num_groups).index_add_(
            1, self.member_group, p.index_select(1, self.member_leaf)
        )
        none = torch.clamp(1.0 - gsum, min=0.0)
        tail = p.new_zeros(b, self.num_leaves).index_add_(
            1, self.tail_i, p.index_select(1, self.tail_j)
        )
        tail = tail + none.index_select(1, self.leaf_group)
        return gsum, none, tail

    def _log_literal_backward(
        self, p: torch.Tensor, gpos: torch.Tensor, gneg: torch.Tensor,
        terms: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Gradient ``[B, L]`` with respect to ``p`` of ``<gpos, pos> + <gneg, neg>`` for the
        leaf columns of ``literal_weights(p, log=True, mode="sum")`` (the *none* columns are
        constants).  It is that code's autograd gradient written out, ``where`` guards
        included: a guarded branch (``p = 0``, ``p = 1``, zero tail) passes no gradient."""
        pos_ok = p > 0
        independent = not self.all_grouped  # some leaf has the log1p(-p) weight
        if self.num_groups:
            gsum, _, tail = terms if terms is not None else self._group_terms(p)
            g = self.grouped
            denom = p + tail
            ok = denom > 0
            live = g & ok if independent else ok
            a = torch.where(live, gpos, 0.0)  # grouped: reaches log p and log denom
            c = torch.where(live, gneg, 0.0)  # grouped: reaches log tail and log denom
            g_denom = -(a + c) / torch.where(ok, denom, 1.0)
            tail_ok = tail > 0
            g_tail = torch.where(tail_ok, c / torch.where(tail_ok, tail, 1.0), 0.0) + g_denom
            if independent:
                a = torch.where(g, a, gpos)
                gneg = torch.where(g, 0.0, gneg)
        else:
            a = gpos
        gp = torch.where(pos_ok, a / torch.where(pos_ok, p, 1.0), 0.0)
        if independent:
            neg_ok = p < 1
            gp -= torch.where(neg_ok, gneg / (1 - torch.where(neg_ok, p, 0.0)), 0.0)
        if self.num_groups:
            gp += g_denom
            gp.index_add_(1, self.tail_j, g_tail.index_select(1, self.tail_i))
            # independent leaves have g_tail = 0, so they add nothing to group 0
            g_none = p.new_zeros(p.shape[0], self.num_groups).index_add_(
                1, self.leaf_group, g_tail
            )
            g_gsum = torch.where(1.0 - gsum >= 0, -g_none, 0.0)
            gp.index_add_(1, self.member_leaf, g_gsum.index_select(1, self.member_group))
        return gp

    def literal_weights(
        self, p: torch.Tensor, *, log: bool = False, mode: str = "sum",
        terms: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Positive and negative weights ``[B, V]`` of every SDD variable.

        ``mode="sum"``: sequential AD encoding (``q_i``, ``1-q_i``);
        ``mode="max"``: indicator encoding for MPE (``p_i``/1, ``none``/1).
        ``terms``: :meth:`_group_terms` of ``p`` when the caller already has them.
        """
        all_g = self.all_grouped
        if log:
            pos_leaf = _safe_log(p)
            # when every leaf is in a group, the independent-leaf weight is never read
            neg_leaf = pos_leaf if all_g else _safe_log1p_neg(p)
        else:
            pos_leaf = p
            neg_leaf = 1.0 - p
        b = p.shape[0]
        if self.num_groups == 0:
            return pos_leaf, neg_leaf
        _, none, tail = terms if terms is not None else self._group_terms(p)
        g = self.grouped
        if mode == "sum":
            denom = p + tail
            ok = denom > 0
            dsafe = torch.where(ok, denom, 1.0)
            if log:
                ld = torch.log(dsafe)
                qpos = torch.where(ok, pos_leaf - ld, _NEG_INF)
                qneg = torch.where(ok, _safe_log(tail) - ld, 0.0)
                npos = torch.full((b, self.num_groups), _NEG_INF, dtype=p.dtype, device=p.device)
                nneg = torch.zeros((b, self.num_groups), dtype=p.dtype, device=p.device)
            else:
                qpos = torch.where(ok, p / dsafe, torch.zeros_like(p))
                qneg = torch.where(ok, tail / dsafe, torch.ones_like(p))
                npos = p.new_zeros(b, self.num_groups)
                nneg = p.new_ones(b, self.num_groups)
            if all_g:
                pos, neg = qpos, qneg
            else:
                pos = torch.where(g, qpos, pos_leaf)
                neg = torch.where(g, qneg, neg_leaf)
        elif mode == "max":
            one = torch.zeros_like(p) if log else torch.ones_like(p)
            pos = pos_leaf
            neg = one if all_g else torch.where(g, one, neg_leaf)
            npos = _safe_log(none) if log else none
            nneg = torch.zeros_like(none) if log else torch.ones_like(none)
        else:
            raise ValueError(f"unknown literal mode {mode!r}")
        return torch.cat([pos, npos], dim=1), torch.cat([neg, nneg], dim=1)

    # ------------------------------------------------------------ evaluation
    @staticmethod
    def _as_batch(leaf_probs: torch.Tensor) -> tuple[torch.Tensor, bool]:
        if leaf_probs.dim() == 1:
            return leaf_probs.unsqueeze(0), True
        if leaf_probs.dim() != 2:
            raise ValueError("leaf probabilities must be [L] or [batch, L]")
        return leaf_probs, False

    def _init_buffer(self, pos: torch.Tensor, neg: torch.Tensor, log: bool) -> torch.Tensor:
        """Node-major value buffer ``[N, B]``: gathers copy contiguous rows of B values."""
        b = pos.shape[0]
        v = self.num_vars
        # uninitialised: every decision slot is written by its layer before any later
        # layer reads it (no zero-fill pass over the largest tensor of the evaluation)
        val = pos.new_empty(self.num_nodes, b)
        val[0] = _NEG_INF if log else 0.0
        val[1] = 0.0 if log else 1.0
        val[2 : 2 + v] = pos.t()
        val[2 + v : 2 + 2 * v] = neg.t()
        return val

    #: largest ``batch x elements`` of one layer evaluated at once; bigger batches are
    #: split into chunks so temporaries stay around 256 MiB (float64)
    max_chunk_elements: int = 1 << 25

    def _chunk(self) -> int:
        width = max(self._widest, self.num_nodes, 1)
        if self.flat is not None:  # the flat form's term table is [M * K * R, B]
            r, m, k = self.flat.shape
            width = max(width, r * m * k)
        return max(1, self.max_chunk_elements // width)

    def forward(self, leaf_probs: torch.Tensor, log: bool = False) -> torch.Tensor:
        """Root values (probabilities, or log-probabilities when ``log``)."""
        p, squeeze = self._as_batch(leaf_probs)
        if p.shape[1] != self.num_leaves:
            raise ValueError(f"expected {self.num_leaves} leaf probabilities, got {p.shape[1]}")
        chunk = self._chunk()
        if p.shape[0] > chunk:
            res = torch.cat([self._forward(part, log) for part in p.split(chunk)], dim=0)
        else:
            res = self._forward(p, log)
        return res.squeeze(0) if squeeze else res

    def _forward(self, p: torch.Tensor, log: bool) -> torch.Tensor:
        if log and self.flat is not None:
            flat_out: torch.Tensor = self.flat(p)
            return flat_out
        if log and torch.is_grad_enabled() and p.requires_grad:
            fused: torch.Tensor = _LeafLogSum.apply(p, self)
            return fused
        pos, neg = self.literal_weights(p, log=log, mode="sum")
        if torch.is_grad_enabled() and (pos.requires_grad or neg.requires_grad):
            out: torch.Tensor = _LayeredSum.apply(pos, neg, self, log)
            return out
        return self._layers_forward(pos, neg, log).index_select(0, self.roots).t()

    def _layers_forward(
        self, pos: torch.Tensor, neg: torch.Tensor, log: bool,
        saved: list[tuple[torch.Tensor, torch.Tensor]] | None = None,
    ) -> torch.Tensor:
        """The value buffer ``[N, B]`` with every node evaluated (no autograd graph).

        Log space: ``node = m + log sum_k exp(e_k - m)`` with ``m`` the node's largest
        element.  With ``saved``, each layer's ``exp(e_k - m)`` ``[E, B]`` and sums
        ``[n, B]`` are appended there: the backward's softmax weights are their ratio.
        """
        with torch.no_grad():
            val = self._init_buffer(pos.detach(), neg.detach(), log)
            b = val.shape[1]
            dense = self._dense_views()
            for layer, ((nlo, nhi, elo, ehi), (_, k)) in enumerate(
                zip(self.layers, self._dense)
            ):
                n = nhi - nlo
                if log and k:  # dense layer: one gather, one logsumexp
                    x = val.index_select(0, dense[0][layer])
                    x = x.view(2, n, k, b)
                    e = x[0] + x[1]
                    lse = torch.logsumexp(e, dim=1)
                    val[nlo:nhi] = lse
                    if saved is not None:
                        saved.append((e, lse))
                    continue
                seg = self.seg[elo:ehi]
                e = val.index_select(0, self.prime[elo:ehi])
                su = val.index_select(0, self.sub[elo:ehi])
                if log:
                    e += su
                    m = torch.full((n, b), _NEG_INF, dtype=e.dtype, device=e.device)
                    m.scatter_reduce_(0, seg.unsqueeze(1).expand(-1, b), e, "amax")
                    m.nan_to_num_(neginf=0.0)  # all-(-inf) nodes: any finite shift
                    e -= m.index_select(0, seg)
                    e.exp_()
                    s_ = e.new_zeros(n, b).index_add_(0, seg, e)
                    val[nlo:nhi] = torch.log(s_).add_(m)  # log 0 = -inf
                    if saved is not None:
                        saved.append((e, s_))
                else:
                    val[nlo:nhi] = e.new_zeros(n, b).index_add_(0, seg, e.mul_(su))
        return val

    def _layers_backward(
        self, val: torch.Tensor, g_roots: torch.Tensor,
        saved: list[tuple[torch.Tensor, torch.Tensor]] | None,
    ) -> torch.Tensor:
        """Gradient of ``<g_roots, roots>`` with respect to every node: ``[N, B]``.

        Layers top-down; a node's gradient is complete before it is pushed to its
        children, since all its parents live in later layers.  Per element,
        ``d node / d (prime, sub)`` is ``(sub, prime)`` in probability space; in log
        space (``saved`` given) the element's share of its node, ``exp(e_k - m) / sum``,
        for both.
        """
        grad = torch.zeros_like(val)
        grad.index_add_(0, self.roots, g_roots.t().to(val.dtype))
        views = self._dense_views()
        for k in range(len(self.layers) - 1, -1, -1):
            nlo, nhi, elo, ehi = self.layers[k]
            width = self._dense[k][1]
            if saved is not None and width:  # dense layer: softmax weights exp(e - lse)
                e, lse = saved[k]
                n = nhi - nlo
                shift = torch.where(lse > _NEG_INF, lse, 0.0).unsqueeze(1)
                g = torch.exp(e - shift).mul_(grad[nlo:nhi].unsqueeze(1)).view(n * width, -1)
                grad.index_add_(0, views[1][k], g)
                grad.index_add_(0, views[2][k], g)
                continue
            seg = self.seg[elo:ehi]
            prime = self.prime[elo:ehi]
            sub = self.sub[elo:ehi]
            if saved is not None:
                ex, s_ = saved[k]
                ok = s_ > 0
                gs = torch.where(ok, grad[nlo:nhi] / torch.where(ok, s_, 1.0), 0.0)
                g = gs.index_select(0, seg).mul_(ex)
                grad.index_add_(0, prime, g)
                grad.index_add_(0, sub, g)
            else:
                g = grad[nlo:nhi].index_select(0, seg)
                grad.index_add_(0, prime, g * val.index_select(0, sub))
                grad.index_add_(0, sub, g.mul_(val.index_select(0, prime)))
        return grad

    def log_forward(self, leaf_probs: torch.Tensor) -> torch.Tensor:
        """Root log-probabilities (exact for values near 0)."""
        return self.forward(leaf_probs, log=True)

    def evaluate(self, leaf_probs: torch.Tensor, semiring: str = "prob") -> torch.Tensor:
        """Root values in ``prob``, ``log`` (log-probability) or ``max`` (log max-product)."""
        if semiring in ("prob", "probability"):
            return self.forward(leaf_probs)
        if semiring in ("log", "logprob", "log-probability"):
            return self.forward(leaf_probs, log=True)
        if semiring in ("max", "max-product", "mpe"):
            return self.max_product(leaf_probs)[0]
        raise ValueError(f"semiring {semiring!r} is not supported by tensor circuits")

    def _smoothing(self, pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
        """Log max-weight of missing variables per element, then per root: ``[E+R, B]``."""
        b = pos.shape[0]
        best = torch.maximum(pos, neg).t()  # [V, B] (log)
        vfree = best.new_zeros(self.num_vnodes, b).index_add_(
            0, self.vnode_seg, best.index_select(0, self.vnode_var)
        )
        n_entries = self.num_elements + self.num_roots
        return best.new_zeros(n_entries, b).index_add_(
            0, self.elem_smooth_seg, vfree.index_select(0, self.elem_smooth_vnode)
        )

    def max_product(
        self, leaf_probs: torch.Tensor
    ) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor, torch.Tensor]:
        """Log max-product root values ``[B, R]``, per-layer chosen elements ``[n, B]``, and
        the literal weights."""
        if not self.smooth:
            raise ValueError("this circuit was built without smoothing; max-product needs it")
        p, _ = self._as_batch(leaf_probs)
        pos, neg = self.literal_weights(p, log=True, mode="max")
        sm = self._smoothing(pos, neg)
        val = self._init_buffer(pos, neg, True)
        b = p.shape[0]
        chosen: list[torch.Tensor] = []
        for nlo, nhi, elo, ehi in self.layers:
            seg = self.seg[elo:ehi]
            segb = seg.unsqueeze(1).expand(-1, b)
            n = nhi - nlo
            e = (
                val.index_select(0, self.prime[elo:ehi])
                + val.index_select(0, self.sub[elo:ehi])
                + sm[elo:ehi]
            )
            out = torch.full((n, b), _NEG_INF, dtype=e.dtype, device=e.device)
            out = out.scatter_reduce(0, segb, e, "amax", include_self=True)
            is_max = e >= out.index_select(0, seg)
            ids = torch.arange(elo, ehi, device=e.device).unsqueeze(1).expand(-1, b)
            cand = torch.where(is_max, ids, torch.full_like(ids, ehi))
            pick = torch.full((n, b), ehi, dtype=torch.long, device=e.device)
            pick = pick.scatter_reduce(0, segb, cand, "amin", include_self=True)
            chosen.append(torch.clamp(pick, max=ehi - 1))
            val[nlo:nhi] = out
        res = (val.index_select(0, self.roots) + sm[self.num_elements :]).t()
        return res, chosen, pos, neg

    def mpe(self, leaf_probs: torch.Tensor, root: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """Most probable assignment of the SDD variables under root ``root``.

        Returns ``(assignment [B, V] bool, log max-product value [B])`` (unbatched
        input: ``[V]`` and a scalar).
        """
        p, squeeze = self._as_batch(leaf_probs)
        with torch.no_grad():
            res, chosen, pos, neg = self.max_product(p)
            b = p.shape[0]
            active = torch.zeros(self.num_nodes, b, dtype=torch.bool, device=p.device)
            active[int(self.roots[root])] = True
            for (nlo, nhi, _, _), pick in zip(reversed(self.layers), reversed(chosen)):
                act = active[nlo:nhi]
                for child in (self.prime, self.sub):
                    # inactive nodes write into slot 0 (the false constant), which is unused
                    target = torch.where(act, child[pick], torch.zeros_like(pick))
                    active.scatter_(0, target, act | active.gather(0, target))
            v = self.num_vars
            pos_act = active[2 : 2 + v].t()
            neg_act = active[2 + v : 2 + 2 * v].t()
            assign = pos_act | (~neg_act & (pos >= neg))
            value = res[:, root]
        if squeeze:
            return assign.squeeze(0), value.squeeze(0)
        return assign, value


class _LayeredSum(torch.autograd.Function):
    """Literal weights ``[B, V]`` (positive, negative) -> root values ``[B, R]``.

    Why a hand-written backward: under autograd every layer records about a dozen
    ops (gathers, max shift, exp, segment sum, log, the in-place write into the
    value buffer), and each gather's backward zero-fills a gradient as large as the
    whole buffer.  Here the forward runs without a graph and keeps the value buffer
    (and, in log space, each layer's shifted exponentials); the backward walks the
    layers once top-down through one gradient buffer, about five ops per layer.
    """

    @staticmethod
    def forward(
        ctx: Any, pos: torch.Tensor, neg: torch.Tensor, circuit: TensorCircuit, log: bool
    ) -> torch.Tensor:
        saved: list[tuple[torch.Tensor, torch.Tensor]] | None = [] if log else None
        val = circuit._layers_forward(pos, neg, log, saved)
        ctx.save_for_backward(val)
        ctx.circuit = circuit
        ctx.layer_saved = saved
        return val.index_select(0, circuit.roots).t()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, g_out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, None, None]:
        (val,) = ctx.saved_tensors
        circuit: TensorCircuit = ctx.circuit
        grad = circuit._layers_backward(val, g_out, ctx.layer_saved)
        v = circuit.num_vars
        return grad[2 : 2 + v].t(), grad[2 + v : 2 + 2 * v].t(), None, None


class _LeafLogSum(torch.autograd.Function):
    """Leaf probabilities ``[B, L]`` -> root log-probabilities ``[B, R]``, in one node.

    Why: the log-space literal weights (``log p``, ``log1p(-p)``, the sequential AD
    conditionals) are some forty small ops; under autograd each records a node and
    its backward, which for a small circuit (MNIST addition: five layers) cost more
    than the layers themselves.  Here they run without a graph, and the backward is
    :meth:`TensorCircuit._layers_backward` followed by
    :meth:`TensorCircuit._log_literal_backward` -- the same gradient, written out.
    """

    @staticmethod
    def forward(ctx: Any, p: torch.Tensor, circuit: TensorCircuit) -> torch.Tensor:
        with torch.no_grad():
            terms = circuit._group_terms(p) if circuit.num_groups else None
            pos, neg = circuit.literal_weights(p, log=True, mode="sum", terms=terms)
        saved: list[tuple[torch.Tensor, torch.Tensor]] = []
        val = circuit._layers_forward(pos, neg, True, saved)
        ctx.save_for_backward(p, val)
        ctx.terms = terms  # reused by the backward (saved no-grad values of p)
        ctx.circuit = circuit
        ctx.layer_saved = saved
        return val.index_select(0, circuit.roots).t()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, g_out: torch.Tensor) -> tuple[torch.Tensor, None]:
        p, val = ctx.saved_tensors
        circuit: TensorCircuit = ctx.circuit
        grad = circuit._layers_backward(val, g_out, ctx.layer_saved)
        v, n = circuit.num_vars, circuit.num_leaves
        gpos = grad[2 : 2 + n].t()
        gneg = grad[2 + v : 2 + v + n].t()
        return circuit._log_literal_backward(p, gpos, gneg, ctx.terms).to(p.dtype), None


def build_tensor_circuit(
    manager: SddManager,
    roots: Sequence[SddNode],
    encoding: LiteralEncoding,
    *,
    smooth: bool = False,
) -> TensorCircuit:
    """Convert the (shared) SDD under ``roots`` into a :class:`TensorCircuit`, with the
    cyclic GC paused (a full collection landing in a build cost 70 ms on a 2-ms circuit
    in a process that imported torch; the build creates no cyclic garbage)."""
    if isinstance(manager, BddManager):  # an SDD-shaped view of the BDD (see bdd.py)
        view, nodes = sdd_view(manager, roots)
        return bulk_build(lambda: _build_tensor_circuit(view, nodes, encoding, smooth=smooth))
    return bulk_build(lambda: _build_tensor_circuit(manager, roots, encoding, smooth=smooth))


def _build_tensor_circuit(
    manager: SddManager,
    roots: Sequence[SddNode],
    encoding: LiteralEncoding,
    *,
    smooth: bool = False,
) -> TensorCircuit:
    """Convert the (shared) SDD under ``roots`` into a :class:`TensorCircuit`.

    One pre-order walk touches every SDD node once (``elements()`` is the only
    call per decision node); the rest is numpy.  SDD node ids are handed out
    by a counter as nodes are created and a decision node is created after
    its elements, so sorting decision nodes by id is a topological order.
    """
    v = encoding.num_vars
    base = 2 + 2 * v
    term_slot: dict[int, int] = {}  # sdd id -> slot of a terminal
    term_vtree: dict[int, int] = {}  # sdd id -> vtree position of a literal (smooth only)
    dec_elems: dict[int, list[int]] = {}  # sdd id -> [p0, s0, p1, s1, ...] (sub false dropped)
    dec_vtree: dict[int, int] = {}
    var_pos: dict[int, int] = {}
    if smooth:
        var_pos, parent, left, right, below = _vtree_tables(manager)

    def visit_terminal(node: SddNode) -> None:
        if node.is_false():
            term_slot[node.id] = 0
        elif node.is_true():
            term_slot[node.id] = 1
        else:
            lit = int(node.literal)
            if abs(lit) > v:  # a defined atom's variable: weight 1 either way (see compile)
                term_slot[node.id] = 1
            else:
                term_slot[node.id] = 2 + (lit - 1) if lit > 0 else 2 + v + (-lit - 1)
            if smooth:
                term_vtree[node.id] = var_pos[abs(lit)]

    stack = list(roots)
    while stack:
        node = stack.pop()
        nid = node.id
        if nid in dec_elems or nid in term_slot:
            continue
        if not node.is_decision():
            visit_terminal(node)
            continue
        flat: list[int] = []
        for p, s_ in node.elements():
            if s_.is_false():
                continue
            pid, sid = p.id, s_.id
            flat.append(pid)
            flat.append(sid)
            if pid not in dec_elems and pid not in term_slot:
                stack.append(p)
            if sid not in dec_elems and sid not in term_slot:
                stack.append(s_)
        dec_elems[nid] = flat
        if smooth:
            dec_vtree[nid] = node.vtree().position()

    dec_ids = sorted(dec_elems)
    n_dec = len(dec_ids)
    # depth: 1 + max depth of decision children, in id (= topological) order
    depth: dict[int, int] = {}
    in_order = True
    for nid in dec_ids:
        d = 0
        for c in dec_elems[nid]:
            dc = depth.get(c)
            if dc is None:
                if c in dec_elems:  # a child created later: vtree search rewrote nodes
                    in_order = False
                    break
            elif dc > d:
                d = dc
        if not in_order:
            break
        depth[nid] = d + 1
    if not in_order:
        depth = _depths_by_dfs(dec_elems)
    depths = np.fromiter((depth[i] for i in dec_ids), dtype=np.int64, count=n_dec)
    order = np.argsort(depths, kind="stable")
    slot_of: dict[int, int] = dict(term_slot)
    ordered_ids = [dec_ids[t] for t in order.tolist()]
    for k, nid in enumerate(ordered_ids):
        slot_of[nid] = base + k
    # elements in slot order
    counts = np.fromiter((len(dec_elems[i]) // 2 for i in ordered_ids), dtype=np.int64,
                         count=n_dec)
    flat_children = np.fromiter(
        (slot_of[c] for nid in ordered_ids for c in dec_elems[nid]), dtype=np.int64,
        count=int(2 * counts.sum()),
    )
    primes = flat_children[0::2]
    subs = flat_children[1::2]
    elem_node = np.repeat(np.arange(n_dec, dtype=np.int64), counts)  # rank of its node
    # layers: contiguous runs of equal depth
    sorted_depths = depths[order]
    layers: list[tuple[int, int, int, int]] = []
    node_start = np.concatenate([[0], np.cumsum(counts)])
    if n_dec:
        cuts = np.flatnonzero(np.diff(sorted_depths)) + 1
        bounds = np.concatenate([[0], cuts, [n_dec]]).tolist()
        for lo, hi in itertools.pairwise(bounds):
            layers.append((base + lo, base + hi, int(node_start[lo]), int(node_start[hi])))
    layer_lo = np.repeat(
        np.asarray([lo - base for lo, _, _, _ in layers], dtype=np.int64),
        np.asarray([ehi - elo for _, _, elo, ehi in layers], dtype=np.int64),
    )
    segs = elem_node - layer_lo
    # every child must live in an earlier layer (guards the id-order assumption)
    start_of_elem_layer = layer_lo + base
    if n_dec and (
        np.any(primes >= start_of_elem_layer) or np.any(subs >= start_of_elem_layer)
    ):  # pragma: no cover - the depths above make this impossible
        raise AssertionError("tensor circuit layering is not topological")
    root_slots = np.asarray([slot_of[r.id] for r in roots], dtype=np.int64)
    smoothing = None
    if smooth:
        tabs = (parent, left, right)

        def vt_of(nid: int) -> int | None:
            if nid in dec_vtree:
                return dec_vtree[nid]
            if nid in term_vtree:
                return term_vtree[nid]
            return None  # true (false subs were dropped)

        true_ids = {i for i, sl in term_slot.items() if sl == 1}
        rows: list[list[int]] = []
        for nid in ordered_ids:
            vt = dec_vtree[nid]
            fl = dec_elems[nid]
            for k in range(0, len(fl), 2):
                rows.append(
                    _missing(vt_of(fl[k]), fl[k] in true_ids, left[vt], *tabs)
                    + _missing(vt_of(fl[k + 1]), fl[k + 1] in true_ids, right[vt], *tabs)
                )
        top = manager.vtree().position()
        for r in roots:
            rows.append([] if r.is_false() else _missing(vt_of(r.id), r.is_true(), top, *tabs))
        e_seg = np.repeat(np.arange(len(rows)), [len(r) for r in rows])
        e_vnode = np.asarray([x for r in rows for x in r], dtype=np.int64)
        # below holds 1-based SDD vars; weights are indexed 0-based; defined atoms'
        # variables (above v) have weight 1 both ways: max(1, 1) adds nothing
        below = [[x for x in b if x <= v] for b in below]
        v_seg = np.repeat(np.arange(len(below)), [len(b) for b in below])
        v_var = np.asarray([x - 1 for b in below for x in b], dtype=np.int64)
        smoothing = (e_vnode, e_seg.astype(np.int64), v_var, v_seg.astype(np.int64), len(below))
    return TensorCircuit(
        encoding,
        primes,
        subs,
        segs,
        layers,
        root_slots,
        base + n_dec,
        smoothing,
        int(counts.sum()),
    )


def _depths_by_dfs(dec_elems: dict[int, list[int]]) -> dict[int, int]:
    """Depth of every decision node by an iterative post-order walk (any id order)."""
    depth: dict[int, int] = {}
    for start in dec_elems:
        if start in depth:
            continue
        stack = [start]
        while stack:
            nid = stack[-1]
            if nid in depth:
                stack.pop()
                continue
            pending = [c for c in dec_elems[nid] if c in dec_elems and c not in depth]
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            depth[nid] = 1 + max((depth[c] for c in dec_elems[nid] if c in depth), default=0)
    return depth


def _missing(
    actual: int | None,
    is_true: bool,
    expected: int,
    parent: list[int],
    left: list[int],
    right: list[int],
) -> list[int]:
    """Vtree nodes under ``expected`` whose variables a child at vtree ``actual`` leaves free."""
    if is_true or actual is None:
        return [expected]
    out: list[int] = []
    a = actual
    while a != expected:
        par = parent[a]
        if par == -1:  # pragma: no cover - the SDD invariants rule this out
            raise AssertionError("SDD node outside its expected vtree")
        out.append(right[par] if left[par] == a else left[par])
        a = par
    return out


V = TypeVar("V")


class CircuitCache(Generic[V]):
    """An LRU cache of compiled circuits keyed by a caller-supplied key.

    The key should identify the structure of what was compiled (e.g.
    :func:`einlog.circuit.exact.structure_key` of a ground program plus the
    roots); weights are inputs, not part of the key.
    """

    def __init__(self, maxsize: int = 64) -> None:
        self.maxsize = maxsize
        self._items: OrderedDict[Hashable, V] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> V | None:
        item = self._items.get(key)
        if item is not None:
            self._items.move_to_end(key)
            self.hits += 1
        return item

    def put(self, key: Hashable, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.maxsize:
            self._items.popitem(last=False)

    def get_or_build(self, key: Hashable, build: Callable[[], V]) -> V:
        item = self.get(key)
        if item is None:
            self.misses += 1
            item = build()
            self.put(key, item)
        return item

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def clear(self) -> None:
        self._items.clear()
