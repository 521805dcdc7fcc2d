"""Dataset loaders: IDX parsing, the real MNIST files, sklearn digits, addition protocol."""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from einlog.data import addition_dataset, load_digits_8x8, load_mnist, read_idx
from einlog.data.mnist import default_mnist_dir
from einlog.errors import ConfigError, ProgramFileNotFoundError


def _write_idx(path: Path, arr: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, arr.ndim]) + struct.pack(">" + "I" * arr.ndim, *arr.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + arr.astype(np.uint8).tobytes())


def test_read_idx_roundtrip_and_errors(tmp_path: Path) -> None:
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    _write_idx(tmp_path / "x.gz", arr)
    assert np.array_equal(read_idx(tmp_path / "x.gz"), arr)
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ConfigError, match="not an IDX file"):
        read_idx(tmp_path / "bad")
    with pytest.raises(ProgramFileNotFoundError):
        read_idx(tmp_path / "missing.gz")


def test_load_mnist_from_a_folder(tmp_path: Path) -> None:
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", np.full((3, 28, 28), 255, np.uint8))
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.array([1, 2, 3], np.uint8))
    split = load_mnist("test", tmp_path, normalize=False)
    assert split.images.shape == (3, 1, 28, 28) and float(split.images.max()) == 1.0
    assert split.labels.tolist() == [1, 2, 3]
    with pytest.raises(ProgramFileNotFoundError, match="EINLOG_DATA"):
        load_mnist("train", tmp_path)


MNIST_DIR = Path(os.environ.get("EINLOG_DATA", "")) / "mnist" if os.environ.get(
    "EINLOG_DATA") else default_mnist_dir()


@pytest.mark.skipif(not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").exists(),
                    reason="MNIST files not present")
def test_real_mnist_files() -> None:
    test = load_mnist("test", MNIST_DIR)
    assert test.images.shape == (10000, 1, 28, 28)
    assert test.labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert torch.bincount(test.labels).tolist()[0] == 980


def test_digits_split_is_reproducible_and_disjoint() -> None:
    tr, te = load_digits_8x8("train"), load_digits_8x8("test")
    assert len(tr) + len(te) == 1797 and tr.images.shape[1:] == (1, 8, 8)
    assert torch.equal(load_digits_8x8("train").labels, tr.labels)


def test_addition_protocol_uses_each_image_once() -> None:
    digits = load_digits_8x8("train")
    for n in (1, 2, 3):
        ds = addition_dataset(digits, n, seed=0)
        assert len(ds) == len(digits) // (2 * n)
        flat = ds.index.reshape(-1)
        assert flat.unique().numel() == flat.numel()
        lab = ds.digit_labels
        num = [sum(int(d) * 10 ** (n - 1 - k) for k, d in enumerate(row)) for row in lab[0]]
        assert int(ds.sums[0]) == sum(num)
        batch = ds.batch(torch.arange(4))
        assert set(batch) == ({"A", "B", "S"} if n == 1 else
                              {*(f"A{k}" for k in range(n)), *(f"B{k}" for k in range(n)), "S"})
    assert addition_dataset(digits, 2).query_pattern() == "multi_addition([A0, A1], [B0, B1], S)"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_addition_batches_with_images_on_the_gpu() -> None:
    train = load_digits_8x8("train")
    ds = addition_dataset(train, 1, seed=0)
    want = ds.batch(torch.arange(5))
    ds.images.images = ds.images.images.cuda()
    got = ds.batch(torch.arange(5))
    assert got["A"].is_cuda and torch.equal(got["A"].cpu(), want["A"])
    assert torch.equal(got["S"], want["S"])
