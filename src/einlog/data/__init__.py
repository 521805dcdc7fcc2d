"""Datasets for neurosymbolic examples: MNIST (IDX files), sklearn digits, N-digit addition.

Why it is built this way: the loaders return plain tensors (images ``[n, 1, H, W]``
float in [0, 1] normalised like torchvision's MNIST transform, labels ``[n]`` int64)
instead of torchvision ``Dataset`` objects, so nothing here needs torchvision and a
whole split moves to a device in one call.  The addition datasets are index tables
into those tensors, built with a seeded permutation the way the literature does it.
"""

from einlog.data.addition import AdditionDataset, addition_dataset
from einlog.data.mnist import (
    MNIST_FILES,
    DigitImages,
    default_mnist_dir,
    download_mnist,
    load_digits_8x8,
    load_mnist,
    read_idx,
)

__all__ = [
    "MNIST_FILES",
    "AdditionDataset",
    "DigitImages",
    "addition_dataset",
    "default_mnist_dir",
    "download_mnist",
    "load_digits_8x8",
    "load_mnist",
    "read_idx",
]
