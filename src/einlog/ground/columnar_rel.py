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
  (exact, slower).
* Keys are found through a vectorized :class:`HashIndex` (open addressing,
  or direct addressing for small key spaces): deduplication of derived rows,
  membership, and the groups a join probes (:class:`GroupIndex`).  Hashing
  beat sorting here: a semi-naive round then costs what its new rows cost,
  not a sort of the relation's keys or of the probe keys.
* A :class:`Relation` is append-only, so a row's index never changes; that
  index is the atom id (plus the relation's block start) in the ground
  program, and joins carry it along as provenance.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Protocol, cast

import numpy as np
import numpy.typing as npt

from einlog.terms import Str, Struct, Term

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]

__all__ = [
    "Interner", "Relation", "KeyCodec", "HashIndex", "GroupIndex", "join_index", "lookup_rows",
    "argsort_small", "NotConstant",
]


class NotConstant(Exception):
    """A term that is not a constant (compound term or variable) met while interning."""


def is_constant(t: object) -> bool:
    if isinstance(t, Struct):
        return not t.args
    return isinstance(t, (int, float, Str)) and not isinstance(t, bool)


def _key(t: object) -> object:
    """Dictionary key of a constant: atoms by name (a C-speed str compare, no
    ``Struct.__eq__`` call per lookup), strings and floats tagged (``1.0`` is
    not the integer ``1``, though Python hashes them alike), integers as such."""
    if t.__class__ is Struct:
        if t.args:
            raise NotConstant(t)
        return t.functor
    if t.__class__ is int:
        return t
    if t.__class__ is float:
        return ("$float", t)
    if isinstance(t, Str):
        return ("$str", t.value)
    if is_constant(t):
        return ("$num", t)
    raise NotConstant(t)


class HasAtom(Protocol):
    """Anything holding a ground atom (an IR ``Fact``)."""

    @property
    def atom(self) -> Struct: ...


def _term_of_key(k: object) -> Term:
    """The constant a :func:`_key` stands for (a fresh term, without a span)."""
    if isinstance(k, str):
        return Struct(k)
    if isinstance(k, tuple):
        tag, value = k
        return Str(value) if tag == "$str" else cast(Term, value)
    return cast(Term, k)


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
        self._add_many([key], [t])
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
        """Ids of ``flat`` (constants)."""
        keys = [a.functor if a.__class__ is Struct and not a.args else _key(a)
                for a in flat]
        return self._ids_of_keys(keys)

    def intern_args(self, facts: Iterable[HasAtom]) -> IntArray:
        """Ids of the arguments of the facts' atoms (all constants), flattened row by row.

        One pass touches each term once: parsed terms lie scattered in memory,
        so a second pass over them (even a C-speed one) costs more than it saves.
        """
        keys = [a.functor if a.__class__ is Struct and not a.args else _key(a)
                for f in facts for a in f.atom.args]
        return self._ids_of_keys(keys)

    def _ids_of_keys(self, keys: list[object]) -> IntArray:
        index = self.index
        new = [k for k in dict.fromkeys(keys) if k not in index]  # first-occurrence order
        if new:
            self._add_many(new, [_term_of_key(k) for k in new])
        return np.fromiter(map(index.__getitem__, keys), dtype=np.int64, count=len(keys))

    def _add_many(self, keys: list[object], terms: list[Term]) -> None:
        n0 = len(self.terms)
        self.index.update(zip(keys, range(n0, n0 + len(keys))))
        self.terms.extend(terms)
        for t in terms:
            if isinstance(t, (int, float)):
                self._num.append(float(t))
                self._isint.append(isinstance(t, int))
            else:
                self._num.append(math.nan)
                self._isint.append(False)
        self._num_arr = None
        self._isint_arr = None

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


_HASH_MUL = np.uint64(0x9E3779B97F4A7C15)  # 2^64 / golden ratio: Fibonacci hashing
_EMPTY = -1  # keys are non-negative packed ids
_TAIL = 32  # probe rounds stop being vectorized below this many unresolved keys


#: Largest key space given a direct-address table (one int64 per possible key).
DENSE_MAX_KEYS = 1 << 22


class HashIndex:
    """A map from non-negative ``int64`` keys to ``int64`` values, vectorized.

    Every operation works on a whole batch of keys with numpy.  Two layouts:

    * open addressing with linear probing at load factor <= 1/2 (Fibonacci
      hashing); a probe round looks at one slot per unresolved key, and
      almost all keys resolve in one or two rounds;
    * a direct-address table when the keys are known to lie in a small
      range (``key_space`` <= :data:`DENSE_MAX_KEYS`) that the table fills
      well (at least 1/16): a lookup is then a single gather.

    This replaced a sorted key index (a sort of the needles and a binary
    search each, plus a sorted insert per round).
    """

    def __init__(self, expected: int = 0, key_space: int | None = None) -> None:
        self.n = 0
        self.key_space = key_space
        self._alloc(expected)

    def _alloc(self, expected: int, at_least: int = 16) -> None:
        ks = self.key_space
        self.dense = ks is not None and ks <= DENSE_MAX_KEYS and ks <= 16 * max(expected, 1)
        if self.dense:
            assert ks is not None
            self.keys: IntArray = np.zeros(0, dtype=np.int64)
            self.vals: IntArray = np.full(ks, -1, dtype=np.int64)
            return
        cap = at_least
        while cap < 2 * expected:
            cap *= 2
        self.mask = cap - 1
        self.shift = np.uint64(64 - (cap.bit_length() - 1))
        self.keys = np.full(cap, _EMPTY, dtype=np.int64)
        self.vals = np.empty(cap, dtype=np.int64)  # read only where a key is

    def _slots(self, keys: IntArray) -> IntArray:
        return ((keys.astype(np.uint64) * _HASH_MUL) >> self.shift).astype(np.int64)

    def reserve(self, total: int) -> None:
        """Make room for ``total`` keys (rehash into a larger table when needed)."""
        if self.dense or 2 * total <= len(self.keys):
            return
        used = np.nonzero(self.keys != _EMPTY)[0]
        keys, vals = self.keys[used], self.vals[used]
        self.n = 0
        self._alloc(total, 4 * len(self.keys))  # grow 4x: fewer rehashes of a growing relation
        self._place(keys, vals)

    def get(self, keys: IntArray) -> IntArray:
        """Value of each key, -1 where absent."""
        if self.dense:
            return self.vals[keys]
        out = np.full(len(keys), -1, dtype=np.int64)
        if self.n == 0 or len(keys) == 0:
            return out
        table, mask = self.keys, self.mask
        slot = self._slots(keys)
        act: IntArray | None = None  # positions still probing (None: all)
        k = keys
        while True:
            tk = table[slot]
            hit = tk == k
            if act is None:
                out[hit] = self.vals[slot[hit]]
            else:
                out[act[hit]] = self.vals[slot[hit]]
            go = (tk != _EMPTY) & ~hit
            if not go.any():
                return out
            idx = np.nonzero(go)[0]
            act = idx if act is None else act[idx]
            k = k[idx]
            slot = (slot[idx] + 1) & mask
            if len(act) <= _TAIL:  # a few keys in long clusters: probe them one by one
                tab, val = table.data, self.vals.data
                for i, key, sl in zip(act.tolist(), k.tolist(), slot.tolist()):
                    while True:
                        t = tab[sl]
                        if t == key:
                            out[i] = val[sl]
                            break
                        if t == _EMPTY:
                            break
                        sl = (sl + 1) & mask
                return out

    def _place(self, keys: IntArray, vals: IntArray) -> None:
        """Insert distinct keys that are not in the table yet."""
        self.n += len(keys)
        if self.dense:
            self.vals[keys] = vals
            return
        table, mask = self.keys, self.mask
        slot = self._slots(keys)
        while len(keys) > _TAIL:
            free = table[slot] == _EMPTY
            fs, fk = slot[free], keys[free]
            table[fs] = fk  # contested slots: one key wins
            won = table[fs] == fk
            self.vals[fs[won]] = vals[free][won]
            rest = np.ones(len(keys), dtype=np.bool_)
            rest[np.nonzero(free)[0][won]] = False
            keys, vals, slot = keys[rest], vals[rest], (slot[rest] + 1) & mask
        tab, val = table.data, self.vals.data
        for key, v, sl in zip(keys.tolist(), vals.tolist(), slot.tolist()):
            while tab[sl] != _EMPTY:
                sl = (sl + 1) & mask
            tab[sl] = key
            val[sl] = v

    def insert_distinct(self, keys: IntArray, vals: IntArray) -> None:
        """Insert distinct keys that are not in the table yet."""
        self.reserve(self.n + len(keys))
        self._place(keys, vals)

    def get_or_add(self, keys: IntArray, first_value: int) -> tuple[IntArray, IntArray]:
        """Values of ``keys``; absent keys get ``first_value``, ``first_value + 1``, ...

        Returns the values and the positions in ``keys`` of the keys added (one
        per distinct new key, in increasing position, so value order follows
        them).  Duplicates within the batch are resolved in the table itself:
        the first copy to claim a slot represents the others, no sort needed.
        """
        out = self.get(keys)
        miss = np.nonzero(out < 0)[0]
        if len(miss) == 0:
            return out, miss
        mk = keys[miss]
        m = len(mk)
        self.reserve(self.n + m)
        vals = self.vals
        pos = np.arange(m, dtype=np.int64)
        if self.dense:
            vals[mk[::-1]] = pos[::-1]  # repeated keys keep the last write: the first copy
            rep = vals[mk]
            rep_slot = mk
        else:
            rep, rep_slot = self._claim(mk, pos)
        is_rep = np.zeros(m, dtype=np.bool_)
        is_rep[rep] = True
        reps = np.nonzero(is_rep)[0]
        rank = np.cumsum(is_rep) - 1
        vals[rep_slot[reps]] = first_value + np.arange(len(reps), dtype=np.int64)
        self.n += len(reps)
        out[miss] = first_value + rank[rep]
        return out, miss[reps]

    def _claim(self, mk: IntArray, pos: IntArray) -> tuple[IntArray, IntArray]:
        """Insert absent keys ``mk`` (with repeats) holding their batch position.

        Returns, per key, the position of its representative (first copy) and,
        for representatives, the slot it took.
        """
        m = len(mk)
        table, vals, mask = self.keys, self.vals, self.mask
        rep = np.empty(m, dtype=np.int64)
        rep_slot = np.empty(m, dtype=np.int64)
        slot = self._slots(mk)
        act = pos
        k = mk
        while len(act) > _TAIL:
            tk = table[slot]
            same = tk == k  # placed earlier in this batch: vals holds its representative
            rep[act[same]] = vals[slot[same]]
            free = tk == _EMPTY
            fa, fs = act[free], slot[free]
            # a contested slot keeps the last write: written backwards, the first claimant
            table[fs[::-1]] = k[free][::-1]
            vals[fs[::-1]] = fa[::-1]
            won = vals[fs] == fa
            w = fa[won]
            rep[w] = w
            rep_slot[w] = fs[won]
            # losers of a contested free slot retry it (same key: a copy; else: probe on)
            lost = free.copy()
            lost[np.nonzero(free)[0][won]] = False
            other = ~same & ~free
            slot = np.where(other, (slot + 1) & mask, slot)
            nxt = lost | other
            act, k, slot = act[nxt], k[nxt], slot[nxt]
        # the few left, one by one in position order (so the first copy still wins)
        tab, val = table.data, vals.data
        for i, key, sl in zip(act.tolist(), k.tolist(), slot.tolist()):
            while True:
                t = tab[sl]
                if t == key:
                    rep[i] = val[sl]
                    break
                if t == _EMPTY:
                    tab[sl] = key
                    val[sl] = i
                    rep[i] = i
                    rep_slot[i] = sl
                    break
                sl = (sl + 1) & mask
        return rep, rep_slot


class GroupIndex:
    """Rows of a relation grouped by a key, for probing in a hash join.

    ``rows`` holds row indices grouped by key (CSR: group ``g`` is
    ``rows[ptr[g]:ptr[g+1]]``, in increasing row order); ``table`` maps a key
    to its group.  Built once per (relation, bound positions) and cached for
    relations that no longer change.
    """

    def __init__(self, keys: IntArray, rows: IntArray, key_space: int | None = None) -> None:
        order = np.argsort(keys, kind="stable")
        sk = keys[order]
        self.rows: IntArray = rows[order]
        if len(sk):
            starts = np.concatenate([[0], np.nonzero(sk[1:] != sk[:-1])[0] + 1])
        else:
            starts = np.zeros(0, dtype=np.int64)
        self.ptr: IntArray = np.concatenate([starts, [len(sk)]]).astype(np.int64)
        self.table = HashIndex(len(starts), key_space)
        self.table.insert_distinct(sk[starts], np.arange(len(starts), dtype=np.int64))

    def probe(self, keys: IntArray) -> tuple[IntArray, IntArray]:
        """Equi-join: (position in ``keys``, matching row index) for every match."""
        g = self.table.get(keys)
        hit = np.nonzero(g >= 0)[0]
        gh = g[hit]
        left, pos = _expand(self.ptr[gh], self.ptr[gh + 1])
        return hit[left], self.rows[pos]


def argsort_small(cols: Sequence[IntArray], limit: int) -> IntArray:
    """Stable lexicographic argsort of rows given as columns of ints in ``[0, limit)``.

    Least significant digit first with 16-bit digits: numpy sorts ``uint16``
    stably by radix sort, linear in the rows, where a comparison sort of
    packed ``int64`` keys takes several times longer on millions of rows.
    """
    n = len(cols[0]) if cols else 0
    order: IntArray | None = None  # None: the identity so far
    digits = max(1, (max(1, limit - 1).bit_length() + 15) // 16)
    for col in reversed(cols):
        for d in range(digits):
            c = col if order is None else col[order]
            part = (c >> (16 * d)).astype(np.uint16) if digits > 1 else c.astype(np.uint16)
            step = np.argsort(part, kind="stable")
            order = step if order is None else order[step]
    return order if order is not None else np.arange(n, dtype=np.int64)


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

    Rows are found by their packed key in a :class:`HashIndex` (rebuilt only
    when the key width changes, i.e. when new constants widen the codec).
    Rows too wide to pack fall back to joint keys (``np.unique``), slower
    but exact.
    """

    def __init__(self, name: str, arity: int, codec: KeyCodec) -> None:
        self.name = name
        self.arity = arity
        self.codec = codec
        self._rows = np.zeros((0, arity), dtype=np.int64)
        self.n = 0
        self._bits = -1
        self._hash: HashIndex | None = None

    @property
    def rows(self) -> IntArray:
        return self._rows[: self.n]

    def _index(self) -> HashIndex:
        if self._hash is None or self._bits != self.codec.bits:
            width = self.codec.bits * self.arity
            h = HashIndex(self.n, 1 << width if width <= 62 else None)
            if self.n:
                h.insert_distinct(self.codec.pack(self.rows), np.arange(self.n, dtype=np.int64))
            self._hash = h
            self._bits = self.codec.bits
        return self._hash

    def find(self, rows: IntArray) -> IntArray:
        """Row index of each of ``rows`` in this relation, -1 when absent."""
        if len(rows) == 0 or self.n == 0:
            return np.full(len(rows), -1, dtype=np.int64)
        if self.codec.fits(self.arity):
            return self._index().get(self.codec.pack(rows))
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
        if self.codec.fits(self.arity):
            idx, fresh = self._index().get_or_add(self.codec.pack(rows), self.n)
            if len(fresh):
                self._append(rows[fresh])
            return idx, len(fresh)
        idx = self.find(rows)
        missing = np.nonzero(idx < 0)[0]
        if len(missing) == 0:
            return idx, 0
        cand = rows[missing]
        (ckeys,) = self.codec.joint(cand)
        _, first, inv = np.unique(ckeys, return_index=True, return_inverse=True)
        order = np.argsort(first, kind="stable")  # new rows in order of first occurrence
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order), dtype=np.int64)
        start = self.n
        self._append(cand[first[order]])
        idx[missing] = start + rank[inv.reshape(-1)]
        self._hash = None
        return idx, len(first)

    def _append(self, new_rows: IntArray) -> None:
        need = self.n + len(new_rows)
        if need > len(self._rows):
            cap = max(need, 2 * len(self._rows), 16)
            grown = np.zeros((cap, self.arity), dtype=np.int64)
            grown[: self.n] = self._rows[: self.n]
            self._rows = grown
        self._rows[self.n : need] = new_rows
        self.n = need
