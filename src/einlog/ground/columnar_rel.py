"""Columnar building blocks for the bottom-up grounder: interning, row keys, joins.

Why a separate module: :mod:`einlog.ground.columnar` is about *what* to
compute (relevance, strata, semi-naive deltas, provenance); this module is
about *how* a relation of interned constant ids is stored and joined with
numpy, with no Python loop per row.

* Constants (atoms, numbers, strings) are interned once to dense ``int64``
  ids; numbers also get their value in a ``float64`` array indexed by id so
  comparisons and ``is`` run on whole columns.
* A row ``(c0, ..., ck)`` is packed into one ``int64`` key by bit-shifting
  (``bits`` per column) when ``k * bits`` fits in 62 bits; otherwise keys are
  made *jointly* for the arrays being compared with ``np.unique(axis=0)``
  (exact, slower).  Keys are what deduplication, membership and joins sort.
* A :class:`Relation` is append-only, so a row's index never changes; that
  index is the atom id (plus the relation's block start) in the ground
  program, and joins carry it along as provenance.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

from einlog.terms import Str, Struct, Term

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]

__all__ = ["Interner", "Relation", "KeyCodec", "join_index", "lookup_rows", "NotConstant"]


class NotConstant(Exception):
    """A term that is not a constant (compound term or variable) met while interning."""


def is_constant(t: object) -> bool:
    if isinstance(t, Struct):
        return not t.args
    return isinstance(t, (int, float, Str)) and not isinstance(t, bool)


class Interner:
    """Dense ids for constants, with numeric values as a column."""

    def __init__(self) -> None:
        self.terms: list[Term] = []
        self.index: dict[Term, int] = {}
        self._num: list[float] = []
        self._isint: list[bool] = []
        self._num_arr: FloatArray | None = None
        self._isint_arr: BoolArray | None = None

    def __len__(self) -> int:
        return len(self.terms)

    def _add_new(self, new: Iterable[Term]) -> None:
        for t in new:
            if not is_constant(t):
                raise NotConstant(t)
            self.index[t] = len(self.terms)
            self.terms.append(t)
            if isinstance(t, (int, float)):
                self._num.append(float(t))
                self._isint.append(isinstance(t, int))
            else:
                self._num.append(math.nan)
                self._isint.append(False)
        self._num_arr = None
        self._isint_arr = None

    def intern(self, t: Term) -> int:
        found = self.index.get(t)
        if found is None:
            self._add_new([t])
            return len(self.terms) - 1
        return found

    def intern_many(self, flat: Sequence[Term]) -> IntArray:
        """Ids of ``flat`` (constants), one C-speed dict pass plus a pass over new ones."""
        index = self.index
        new = [t for t in dict.fromkeys(flat) if t not in index]
        if new:
            self._add_new(new)
        return np.fromiter(map(index.__getitem__, flat), dtype=np.int64, count=len(flat))

    @property
    def num(self) -> FloatArray:
        if self._num_arr is None or len(self._num_arr) != len(self._num):
            self._num_arr = np.asarray(self._num, dtype=np.float64)
        return self._num_arr

    @property
    def isint(self) -> BoolArray:
        if self._isint_arr is None or len(self._isint_arr) != len(self._isint):
            self._isint_arr = np.asarray(self._isint, dtype=np.bool_)
        return self._isint_arr

    def intern_values(self, val: FloatArray, isint: BoolArray) -> IntArray:
        """Ids of the numbers ``val`` (ints where ``isint``); loops over distinct values only."""
        if len(val) == 0:
            return np.zeros(0, dtype=np.int64)
        # code ints and floats apart: ints as (value, 1), floats as (value, 0)
        pair = np.stack([val, isint.astype(np.float64)], axis=1)
        uniq, inv = np.unique(pair, axis=0, return_inverse=True)
        ids = np.empty(len(uniq), dtype=np.int64)
        for j, (v, i) in enumerate(uniq.tolist()):
            term: Term = int(v) if i else float(v)
            ids[j] = self.intern(term)
        return ids[inv.reshape(-1)]


class KeyCodec:
    """Packs rows of constant ids into ``int64`` keys (``bits`` per column)."""

    def __init__(self, num_constants: int) -> None:
        self.bits = max(1, int(num_constants).bit_length())

    def grow(self, num_constants: int) -> bool:
        """Widen after new constants appeared; True when keys change."""
        need = max(1, int(num_constants).bit_length())
        if need > self.bits:
            self.bits = need
            return True
        return False

    def fits(self, width: int) -> bool:
        return width * self.bits <= 62

    def pack(self, rows: IntArray) -> IntArray:
        """Keys of ``rows`` [n, k]; caller checked :meth:`fits`."""
        n, k = rows.shape
        if k == 0:
            return np.zeros(n, dtype=np.int64)
        key = rows[:, 0].astype(np.int64, copy=True)
        for j in range(1, k):
            key <<= self.bits
            key |= rows[:, j]
        return key

    def joint(self, *arrays: IntArray) -> list[IntArray]:
        """Comparable keys for several row arrays of the same width."""
        width = arrays[0].shape[1]
        if self.fits(width):
            return [self.pack(a) for a in arrays]
        stacked = np.concatenate(arrays, axis=0)
        _, inv = np.unique(stacked, axis=0, return_inverse=True)
        inv = inv.reshape(-1).astype(np.int64)
        out = []
        lo = 0
        for a in arrays:
            out.append(inv[lo : lo + len(a)])
            lo += len(a)
        return out


def _expand(lo: IntArray, hi: IntArray) -> tuple[IntArray, IntArray]:
    """For ranges ``[lo[i], hi[i])``: (i repeated per element, the elements)."""
    cnt = hi - lo
    total = int(cnt.sum())
    left = np.repeat(np.arange(len(lo), dtype=np.int64), cnt)
    if total == 0:
        return left, np.zeros(0, dtype=np.int64)
    starts = np.cumsum(cnt) - cnt
    pos = np.arange(total, dtype=np.int64) - starts[left] + lo[left]
    return left, pos


def join_index(
    left_keys: IntArray, right_keys_sorted: IntArray
) -> tuple[IntArray, IntArray]:
    """Sort-merge equi-join: pairs (left row, position in the sorted right keys)."""
    lo = np.searchsorted(right_keys_sorted, left_keys, side="left").astype(np.int64)
    hi = np.searchsorted(right_keys_sorted, left_keys, side="right").astype(np.int64)
    return _expand(lo, hi)


def lookup_rows(sorted_keys: IntArray, perm: IntArray, keys: IntArray) -> IntArray:
    """Row index of each key in a relation indexed by (sorted_keys, perm), -1 if absent."""
    if len(sorted_keys) == 0:
        return np.full(len(keys), -1, dtype=np.int64)
    pos = np.searchsorted(sorted_keys, keys)
    pos_c = np.minimum(pos, len(sorted_keys) - 1)
    found = sorted_keys[pos_c] == keys
    return np.where(found, perm[pos_c], -1).astype(np.int64)


class Relation:
    """An append-only, duplicate-free table of constant-id rows."""

    def __init__(self, name: str, arity: int, codec: KeyCodec) -> None:
        self.name = name
        self.arity = arity
        self.codec = codec
        self._rows = np.zeros((0, arity), dtype=np.int64)
        self.n = 0
        self._bits = -1
        self._sorted: IntArray = np.zeros(0, dtype=np.int64)
        self._perm: IntArray = np.zeros(0, dtype=np.int64)

    @property
    def rows(self) -> IntArray:
        return self._rows[: self.n]

    def _index(self) -> tuple[IntArray, IntArray]:
        if self._bits != self.codec.bits:
            keys = self.codec.pack(self.rows)
            self._perm = np.argsort(keys, kind="stable").astype(np.int64)
            self._sorted = keys[self._perm]
            self._bits = self.codec.bits
        return self._sorted, self._perm

    def find(self, rows: IntArray) -> IntArray:
        """Row index of each of ``rows`` in this relation, -1 when absent."""
        if len(rows) == 0 or self.n == 0:
            return np.full(len(rows), -1, dtype=np.int64)
        if self.codec.fits(self.arity):
            sk, perm = self._index()
            return lookup_rows(sk, perm, self.codec.pack(rows))
        mine, theirs = self.codec.joint(self.rows, rows)
        perm = np.argsort(mine, kind="stable").astype(np.int64)
        return lookup_rows(mine[perm], perm, theirs)

    def add(self, rows: IntArray) -> tuple[IntArray, int]:
        """Add ``rows`` (duplicates allowed); return each row's index and how many were new."""
        rows = np.asarray(rows, dtype=np.int64).reshape(-1, self.arity)
        if len(rows) == 0:
            return np.zeros(0, dtype=np.int64), 0
        idx = self.find(rows)
        missing = np.nonzero(idx < 0)[0]
        if len(missing) == 0:
            return idx, 0
        cand = rows[missing]
        if self.codec.fits(self.arity):
            ckeys = self.codec.pack(cand)
            ukeys, first, inv = np.unique(ckeys, return_index=True, return_inverse=True)
        else:
            (ckeys,) = self.codec.joint(cand)
            ukeys, first, inv = np.unique(ckeys, return_index=True, return_inverse=True)
        new_rows = cand[first]
        start = self.n
        self._append(new_rows)
        idx[missing] = start + inv.reshape(-1)
        if self.codec.fits(self.arity) and self._bits == self.codec.bits:
            # merge the new (sorted, distinct) keys into the index in O(n)
            new_perm = np.arange(start, start + len(new_rows), dtype=np.int64)
            at = np.searchsorted(self._sorted, ukeys)
            self._sorted = np.insert(self._sorted, at, ukeys)
            self._perm = np.insert(self._perm, at, new_perm)
        else:
            self._bits = -1
        return idx, len(new_rows)

    def _append(self, new_rows: IntArray) -> None:
        need = self.n + len(new_rows)
        if need > len(self._rows):
            cap = max(need, 2 * len(self._rows), 16)
            grown = np.zeros((cap, self.arity), dtype=np.int64)
            grown[: self.n] = self._rows[: self.n]
            self._rows = grown
        self._rows[self.n : need] = new_rows
        self.n = need
