"""Building blocks of the columnar engine against plain-Python references.

The hash index (both layouts), the grouped join index and the radix
argsort are checked on random batches with many repeats and collisions.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from einlog.ground.columnar_rel import (
    GroupIndex,
    HashIndex,
    KeyCodec,
    Relation,
    argsort_small,
)

_batches = st.lists(st.lists(st.integers(0, 3000), max_size=300), min_size=1, max_size=6)


@pytest.mark.parametrize("key_space", [None, 4096])
@given(batches=_batches, probes=st.lists(st.integers(0, 4095), max_size=60))
@settings(max_examples=60, deadline=None)
def test_hash_index_get_or_add_matches_a_dict(
    key_space: int | None, batches: list[list[int]], probes: list[int]
) -> None:
    h = HashIndex(0, key_space)
    ref: dict[int, int] = {}
    for batch in batches:
        keys = np.asarray(batch, dtype=np.int64)
        before = len(ref)
        vals, added = h.get_or_add(keys, before)
        for k in batch:
            ref.setdefault(k, len(ref))
        assert vals.tolist() == [ref[k] for k in batch]
        # one position per new key, first occurrence first
        assert [batch[p] for p in added.tolist()] == list(ref)[before:]
    q = np.asarray(probes, dtype=np.int64)
    assert h.get(q).tolist() == [ref.get(k, -1) for k in probes]


def test_hash_index_switches_to_direct_addressing_when_dense() -> None:
    h = HashIndex(0, 1 << 12)
    assert not h.dense
    vals, _ = h.get_or_add(np.arange(1000, dtype=np.int64) * 3 % 4096, 0)
    assert h.dense
    assert h.get(np.asarray([0, 3, 1], dtype=np.int64)).tolist() == [0, 1, -1]
    assert vals.tolist() == list(range(1000))


@given(keys=st.lists(st.integers(0, 40), max_size=120), needles=st.lists(st.integers(0, 63)),
       key_space=st.sampled_from([None, 64]))
@settings(max_examples=60, deadline=None)
def test_group_index_probe_is_an_equi_join(
    keys: list[int], needles: list[int], key_space: int | None
) -> None:
    rows = np.arange(len(keys), dtype=np.int64) * 7
    gi = GroupIndex(np.asarray(keys, dtype=np.int64), rows, key_space)
    li, ri = gi.probe(np.asarray(needles, dtype=np.int64))
    got = sorted(zip(li.tolist(), ri.tolist()))
    want = sorted((i, j * 7) for i, n in enumerate(needles) for j, k in enumerate(keys) if k == n)
    assert got == want


@given(limit=st.sampled_from([3, 300, 70_000, 2**40]), n=st.integers(0, 300),
       ncols=st.integers(1, 3), seed=st.integers(0, 10**6))
@settings(max_examples=60, deadline=None)
def test_argsort_small_is_a_stable_lexsort(limit: int, n: int, ncols: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    cols = [rng.integers(0, limit, n) for _ in range(ncols)]
    assert argsort_small(cols, limit).tolist() == np.lexsort(cols[::-1]).tolist()


def test_relation_add_keeps_first_occurrence_order_and_survives_codec_growth() -> None:
    codec = KeyCodec(10)
    rel = Relation("r", 2, codec)
    idx, new = rel.add(np.asarray([[3, 4], [1, 2], [3, 4], [5, 6]], dtype=np.int64))
    assert (idx.tolist(), new) == ([0, 1, 0, 2], 3)
    assert rel.rows.tolist() == [[3, 4], [1, 2], [5, 6]]
    codec.grow(5000)  # wider keys: the index is rebuilt on next use
    idx, new = rel.add(np.asarray([[1, 2], [4000, 7]], dtype=np.int64))
    assert (idx.tolist(), new) == ([1, 3], 1)
    assert rel.find(np.asarray([[5, 6], [9, 9]], dtype=np.int64)).tolist() == [2, -1]


def test_interner_keeps_int_and_float_apart() -> None:
    from einlog.ground.columnar_rel import Interner
    from einlog.ir.nodes import Fact
    from einlog.terms import Str, Struct

    it = Interner()
    ids = it.intern_many([1, 1.0, Struct("a"), Str("a"), 1, Struct("a")]).tolist()
    assert ids == [0, 1, 2, 3, 0, 2]
    assert it.terms == [1, 1.0, Struct("a"), Str("a")]
    assert type(it.terms[1]) is float
    assert it.intern_args([Fact(Struct("p", (2, Str("a"))))]).tolist() == [4, 3]


@pytest.mark.parametrize("seed", range(5))
def test_hash_index_large_batches_take_the_vectorized_rounds(seed: int) -> None:
    rng = np.random.default_rng(seed)
    h = HashIndex()
    ref: dict[int, int] = {}
    for _ in range(6):
        keys = rng.integers(0, 200_000, rng.integers(1000, 20_000)).astype(np.int64)
        before = len(ref)
        vals, added = h.get_or_add(keys, before)
        for k in keys.tolist():
            ref.setdefault(k, len(ref))
        assert vals.tolist() == [ref[k] for k in keys.tolist()]
        assert keys[added].tolist() == list(ref)[before:]
    q = rng.integers(0, 200_000, 5000).astype(np.int64)
    assert h.get(q).tolist() == [ref.get(k, -1) for k in q.tolist()]
