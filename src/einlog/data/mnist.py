"""MNIST from the standard IDX files, and scikit-learn's 8x8 digits as the offline fallback.

Why it is built this way:

* MNIST is read the way torchvision reads its ``raw/`` folder -- the four official
  gzip'd IDX files -- but with numpy and gzip only, so the loader has no torchvision
  dependency (installing torchvision would replace a CPU torch with a CUDA build).
* The directory is configurable: argument, then ``$EINLOG_DATA`` (a folder holding
  ``mnist/`` or the IDX files themselves), then ``../shared/data/mnist`` relative to the
  working directory (this repository's tests and benchmarks), then
  ``~/.cache/einlog/mnist``.  :func:`download_mnist` fetches the official files with
  urllib for users who have a network; nothing calls it implicitly.
* Images are normalised with MNIST's mean/std (0.1307, 0.3081) exactly as DeepProbLog's
  MNIST example does, so networks and accuracies are comparable.
* scikit-learn ships 1797 real 8x8 handwritten digits inside the package, so ``make demo``
  and the tests can train on real data without any download.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from einlog.errors import ConfigError, ProgramFileNotFoundError

__all__ = [
    "MNIST_FILES",
    "DigitImages",
    "default_mnist_dir",
    "download_mnist",
    "load_digits_8x8",
    "load_mnist",
    "read_idx",
]

#: split -> (images file, labels file)
MNIST_FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
_IDX_DTYPES: dict[int, Any] = {
    0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"
}


@dataclass
class DigitImages:
    """One split of a digit dataset: ``images [n, 1, H, W]`` float32 and ``labels [n]`` int64."""

    images: torch.Tensor
    labels: torch.Tensor
    name: str = "digits"

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.images[i], int(self.labels[i])

    def to(self, device: torch.device | str) -> DigitImages:
        return DigitImages(self.images.to(device), self.labels.to(device), self.name)


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (optionally gzip'd) into a numpy array of its declared shape."""
    p = Path(path)
    opener = gzip.open if p.suffix == ".gz" else open
    try:
        with opener(p, "rb") as f:
            data = f.read()
    except FileNotFoundError as e:
        raise ProgramFileNotFoundError(f"IDX file not found: {p}") from e
    except (OSError, EOFError) as e:
        raise ConfigError(f"cannot read IDX file {p}: {e}",
                          hint="the file may be truncated; download it again") from e
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise ConfigError(f"{p} is not an IDX file (bad magic number)",
                          hint="MNIST files are the official *-idx?-ubyte(.gz) files")
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = struct.unpack(">" + "I" * ndim, data[4:header])
    count = int(np.prod(shape)) if shape else 1
    if len(data) - header < count * dtype.itemsize:
        raise ConfigError(f"{p} is truncated: expected {count} items of shape {shape}",
                          hint="download the file again")
    arr = np.frombuffer(data, dtype=dtype, count=count, offset=header)
    return arr.reshape(shape)


def default_mnist_dir() -> Path:
    """Where MNIST is looked for when no directory is given (see the module docstring)."""
    candidates: list[Path] = []
    env = os.environ.get("EINLOG_DATA")
    if env:
        candidates += [Path(env) / "mnist", Path(env)]
    here = Path.cwd()
    candidates += [here.parent / "shared" / "data" / "mnist", here / "shared" / "data" / "mnist"]
    # the repository checkout itself: src/einlog/data -> repo root -> ../shared
    repo = Path(__file__).resolve().parents[3]
    candidates.append(repo.parent / "shared" / "data" / "mnist")
    candidates.append(Path.home() / ".cache" / "einlog" / "mnist")
    for c in candidates:
        if (c / MNIST_FILES["train"][0]).exists():
            return c
    return candidates[-1]


def load_mnist(
    split: str = "train",
    root: str | os.PathLike[str] | None = None,
    *,
    normalize: bool = True,
) -> DigitImages:
    """Load an MNIST split (``train``: 60 000, ``test``: 10 000) from the IDX files in ``root``."""
    if split not in MNIST_FILES:
        raise ConfigError(f"unknown MNIST split {split!r}", hint="use 'train' or 'test'")
    directory = Path(root) if root is not None else default_mnist_dir()
    img_name, lab_name = MNIST_FILES[split]
    img_path, lab_path = directory / img_name, directory / lab_name
    for path in (img_path, lab_path):
        if not path.exists() and not path.with_suffix("").exists():
            raise ProgramFileNotFoundError(
                f"MNIST file not found: {path}",
                hint="set $EINLOG_DATA to a folder with the MNIST IDX files, pass the folder, "
                "or call einlog.data.download_mnist() once (needs a network)",
            )
    if not img_path.exists():
        img_path = img_path.with_suffix("")
    if not lab_path.exists():
        lab_path = lab_path.with_suffix("")
    images = read_idx(img_path)
    labels = read_idx(lab_path)
    if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise ConfigError(
            f"MNIST files in {directory} disagree: images {images.shape}, labels {labels.shape}"
        )
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    if normalize:
        x = (x - MNIST_MEAN) / MNIST_STD
    y = torch.from_numpy(labels.astype(np.int64))
    return DigitImages(x, y, f"mnist-{split}")


def download_mnist(root: str | os.PathLike[str] | None = None) -> Path:
    """Download the four official MNIST files into ``root`` (default ``~/.cache/einlog/mnist``).

    Checks each file's md5 against the official sum.  Needs a network; never called by
    the loaders on their own.
    """
    directory = Path(root) if root is not None else Path.home() / ".cache" / "einlog" / "mnist"
    directory.mkdir(parents=True, exist_ok=True)
    for name, md5 in _MD5.items():
        target = directory / name
        if target.exists() and hashlib.md5(target.read_bytes()).hexdigest() == md5:
            continue
        last: Exception | None = None
        for mirror in _MIRRORS:
            try:
                with urllib.request.urlopen(mirror + name, timeout=60) as resp:
                    payload = resp.read()
            except OSError as e:  # URLError is an OSError
                last = e
                continue
            if hashlib.md5(payload).hexdigest() != md5:
                last = ConfigError(f"checksum mismatch for {name} from {mirror}")
                continue
            target.write_bytes(payload)
            break
        else:
            raise ConfigError(f"could not download {name}: {last}",
                              hint="check the network or copy the files by hand")
    return directory


def load_digits_8x8(
    split: str = "train", *, test_fraction: float = 0.25, seed: int = 0
) -> DigitImages:
    """scikit-learn's 1797 real 8x8 handwritten digits, split reproducibly into train/test.

    Pixels (0..16) are scaled to [0, 1]; images are ``[n, 1, 8, 8]``.
    """
    if split not in ("train", "test"):
        raise ConfigError(f"unknown split {split!r}", hint="use 'train' or 'test'")
    try:
        from sklearn.datasets import load_digits
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ConfigError(
            "scikit-learn is needed for the offline digits dataset",
            hint="pip install 'einlog[demo]' (or pip install scikit-learn)",
        ) from e
    bunch = load_digits()
    x = torch.from_numpy(np.asarray(bunch.images, dtype=np.float32) / 16.0).unsqueeze(1)
    y = torch.from_numpy(np.asarray(bunch.target, dtype=np.int64))
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    n_test = round(len(y) * test_fraction)
    idx = perm[n_test:] if split == "train" else perm[:n_test]
    return DigitImages(x[idx].contiguous(), y[idx].contiguous(), f"digits8x8-{split}")
