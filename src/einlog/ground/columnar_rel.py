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
from collections.abc import Sequence

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


def _key(t: object) -> object:
    """Dictionary key of a constant: atoms by name (a C-speed str compare, no
    ``Struct.__eq__`` call per lookup), strings tagged, numbers as themselves."""
    if t.__class__ is Struct:
        if t.args:
            raise NotConstant(t)
        return t.functor
    if t.__class__ is int or t.__class__ is float:
        return t
    if isinstance(t, Str):
        return ("$str", t.value)
    if is_constant(t):
        return ("$num", t)
    raise NotConstant(t)


class Interner:
    """Dense ids for constants, with numeric values as a column."""

    def __init__(self) -> None:
        self.terms: list[Term] = []
        self.index: dict[object, int] = {}
        self._num: list[float] = []
        self._isint: list[bool] = []
        self._num_arr: FloatArray | None = None
        self._isint_arr: BoolArray | None = None

    def __len__(self) -> int:
        return len(self.terms)

    def _add(self, t: Term, key: object) -> int:
        i = len(self.terms)
        self.index[key] = i
        self.terms.append(t)
        if isinstance(t, (int, float)):
            self._num.append(float(t))
            self._isint.append(isinstance(t, int))
        else:
            self._num.append(math.nan)
            self._isint.append(False)
        self._num_arr = None
        self._isint_arr = None
        return i

    def lookup(self, t: Term) -> int | None:
        """Id of constant ``t`` or ``None`` (also for non-constants)."""
        try:
            return self.index.get(_key(t))
        except NotConstant:
            return None

    def intern(self, t: Term) -> int:
        key = _key(t)
        found = self.index.get(key)
        return self._add(t, key) if found is None else found

    def intern_many(self, flat: Sequence[Term]) -> IntArray:
        """Ids of ``flat`` (constants): one key pass, then C-speed dict passes."""
        keys = [a.functor if a.__class__ is Struct and not a.args else _key(a)
                for a in flat]
        index = self.index
        first = dict(zip(keys, flat))  # one representative term per key
        for k, t in first.items():
            if k not in index:
                self._add(t, k)
        return np.fromiter(map(index.__getitem__, keys), dtype=np.int64, count=len(keys))

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
    order = np.argsort(left_keys, kind="stable")  # sorted needles search faster
    sk = left_keys[order]
    lo = np.empty(len(left_keys), dtype=np.int64)
    hi = np.empty(len(left_keys), dtype=np.int64)
    lo[order] = np.searchsorted(right_keys_sorted, sk, side="left")
    hi[order] = np.searchsorted(right_keys_sorted, sk, side="right")
    return _expand(lo, hi)


def lookup_rows(sorted_keys: IntArray, perm: IntArray, keys: IntArray) -> IntArray:
    """Row index of each key in a relation indexed by (sorted_keys, perm), -1 if absent.

    The needles are sorted first: numpy's binary search then walks the
    haystack forward, which is several times faster on big random inputs.
    """
    if len(sorted_keys) == 0 or len(keys) == 0:
        return np.full(len(keys), -1, dtype=np.int64)
    order = np.argsort(keys, kind="stable")
    sk = keys[order]
    pos = np.searchsorted(sorted_keys, sk)
    pos_c = np.minimum(pos, len(sorted_keys) - 1)
    found = sorted_keys[pos_c] == sk
    out = np.empty(len(keys), dtype=np.int64)
    out[order] = np.where(found, perm[pos_c], -1)
    return out


class Relation:
    """An append-only, duplicate-free table of constant-id rows.

    Its key index has two levels, a big sorted *base* and a small sorted
    *recent* run that new keys are inserted into; the recent run is merged
    into the base when it passes a quarter of it, so a fixpoint with many
    small rounds pays O(n) a logarithmic number of times, not every round.
    """

    def __init__(self, name: str, arity: int, codec: KeyCodec) -> None:
        self.name = name
        self.arity = arity
        self.codec = codec
        self._rows = np.zeros((0, arity), dtype=np.int64)
        self.n = 0
        self._bits = -1
        self._sorted: IntArray = np.zeros(0, dtype=np.int64)
        self._perm: IntArray = np.zeros(0, dtype=np.int64)
        self._rsorted: IntArray = np.zeros(0, dtype=np.int64)
        self._rperm: IntArray = np.zeros(0, dtype=np.int64)

    @property
    def rows(self) -> IntArray:
        return self._rows[: self.n]

    def _index(self) -> None:
        if self._bits != self.codec.bits:
            keys = self.codec.pack(self.rows)
            self._perm = np.argsort(keys, kind="stable").astype(np.int64)
            self._sorted = keys[self._perm]
            self._rsorted = np.zeros(0, dtype=np.int64)
            self._rperm = np.zeros(0, dtype=np.int64)
            self._bits = self.codec.bits

    def _find_keys(self, keys: IntArray) -> IntArray:
        idx = lookup_rows(self._sorted, self._perm, keys)
        if len(self._rsorted):
            miss = np.nonzero(idx < 0)[0]
            if len(miss):
                idx[miss] = lookup_rows(self._rsorted, self._rperm, keys[miss])
        return idx

    def find(self, rows: IntArray) -> IntArray:
        """Row index of each of ``rows`` in this relation, -1 when absent."""
        if len(rows) == 0 or self.n == 0:
            return np.full(len(rows), -1, dtype=np.int64)
        if self.codec.fits(self.arity):
            self._index()
            return self._find_keys(self.codec.pack(rows))
        mine, theirs = self.codec.joint(self.rows, rows)
        perm = np.argsort(mine, kind="stable").astype(np.int64)
        return lookup_rows(mine[perm], perm, theirs)

    def add(self, rows: IntArray) -> tuple[IntArray, int]:
        """Add ``rows`` (duplicates allowed); return each row's index and how many were new."""
        rows = np.asarray(rows, dtype=np.int64)
        if rows.ndim != 2:
            rows = rows.reshape(-1, self.arity)
        if len(rows) == 0:
            return np.zeros(0, dtype=np.int64), 0
        fits = self.codec.fits(self.arity)
        if fits:
            self._index()
            keys = self.codec.pack(rows)
            idx = self._find_keys(keys) if self.n else np.full(len(rows), -1, dtype=np.int64)
        else:
            idx = self.find(rows)
        missing = np.nonzero(idx < 0)[0]
        if len(missing) == 0:
            return idx, 0
        cand = rows[missing]
        if fits:
            ckeys = keys[missing]
        else:
            (ckeys,) = self.codec.joint(cand)
        ukeys, first, inv = np.unique(ckeys, return_index=True, return_inverse=True)
        new_rows = cand[first]
        start = self.n
        self._append(new_rows)
        idx[missing] = start + inv.reshape(-1)
        if fits:
            new_perm = np.arange(start, start + len(new_rows), dtype=np.int64)
            at = np.searchsorted(self._rsorted, ukeys)
            self._rsorted = np.insert(self._rsorted, at, ukeys)
            self._rperm = np.insert(self._rperm, at, new_perm)
            if len(self._rsorted) > max(4096, len(self._sorted) // 4):
                at = np.searchsorted(self._sorted, self._rsorted)
                self._sorted = np.insert(self._sorted, at, self._rsorted)
                self._perm = np.insert(self._perm, at, self._rperm)
                self._rsorted = np.zeros(0, dtype=np.int64)
                self._rperm = np.zeros(0, dtype=np.int64)
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
