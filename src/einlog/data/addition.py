"""N-digit MNIST addition datasets, following the literature's protocol.

Why it is built this way: like DeepProbLog and DeepStochLog, the training examples
of one epoch partition a seeded permutation of the digit images into chunks of
``2N`` images (each image used once per epoch); the first ``N`` form the first
number, most significant digit first, the next ``N`` the second.  A dataset is just
an index table ``[n, 2, N]`` into the image tensor plus the sums, so batches are a
single gather and ``reshuffle(epoch)`` rebuilds the pairing per epoch if wanted
(the published protocol fixes the pairs; that is the default).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch

from einlog.data.mnist import DigitImages
from einlog.errors import ConfigError

__all__ = ["AdditionDataset", "addition_dataset"]


@dataclass
class AdditionDataset:
    """Examples ``(number_a, number_b, sum)`` whose digits are images of ``images``.

    ``index[i, 0, k]`` / ``index[i, 1, k]``: image of digit ``k`` (most significant first)
    of the first / second number of example ``i``.
    """

    images: DigitImages
    index: torch.Tensor  # [n, 2, N] int64
    digits: int

    def __len__(self) -> int:
        return int(self.index.shape[0])

    @property
    def digit_labels(self) -> torch.Tensor:
        """``[n, 2, N]`` true digit labels (for evaluation only; training never sees them)."""
        return self.images.labels[self.index]

    @property
    def sums(self) -> torch.Tensor:
        """``[n]`` the sum of the two numbers: the only label training uses."""
        cached = self.__dict__.get("_sums")
        if cached is not None:
            return cached
        lab = self.digit_labels
        powers = 10 ** torch.arange(self.digits - 1, -1, -1, device=lab.device)
        numbers = (lab * powers).sum(-1)
        self.__dict__["_sums"] = numbers.sum(-1)
        return self.__dict__["_sums"]

    def batch(self, rows: torch.Tensor) -> dict[str, torch.Tensor]:
        """Inputs for rows ``rows``: ``A`` / ``B`` (N=1) or ``A0..A{N-1}``, ``B0..``; and ``S``."""
        # index_select, not advanced indexing: same rows, a fraction of the per-call cost
        rows = rows.to(self.index.device)
        idx = self.index.index_select(0, rows)
        imgs = self.images.images
        if idx.device != imgs.device:  # images moved to a GPU: index_select needs one device
            idx = idx.to(imgs.device)
        out: dict[str, torch.Tensor] = {}
        if self.digits == 1:
            out["A"] = imgs.index_select(0, idx[:, 0, 0])
            out["B"] = imgs.index_select(0, idx[:, 1, 0])
        else:
            for k in range(self.digits):
                out[f"A{k}"] = imgs.index_select(0, idx[:, 0, k])
                out[f"B{k}"] = imgs.index_select(0, idx[:, 1, k])
        out["S"] = self.sums.index_select(0, rows)
        return out

    def query_pattern(self, predicate: str | None = None) -> str:
        """The query whose variables :meth:`batch` binds, e.g. ``addition(A, B, S)``."""
        if self.digits == 1:
            return f"{predicate or 'addition'}(A, B, S)"
        a = ", ".join(f"A{k}" for k in range(self.digits))
        b = ", ".join(f"B{k}" for k in range(self.digits))
        return f"{predicate or 'multi_addition'}([{a}], [{b}], S)"

    def batches(
        self, batch_size: int, *, shuffle: bool = True, generator: torch.Generator | None = None
    ) -> Iterator[dict[str, torch.Tensor]]:
        n = len(self)
        order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
        for start in range(0, n, batch_size):
            yield self.batch(order[start : start + batch_size])


def addition_dataset(
    images: DigitImages, digits: int = 1, *, seed: int = 0, size: int | None = None
) -> AdditionDataset:
    """Pair the images of ``images`` into ``len(images) // (2 * digits)`` addition examples.

    ``size`` keeps only the first ``size`` examples (quick runs).
    """
    if digits < 1:
        raise ConfigError(f"digits must be at least 1, not {digits}")
    n = len(images) // (2 * digits)
    if n == 0:
        raise ConfigError(f"{len(images)} images are too few for {digits}-digit addition")
    perm = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    index = perm[: n * 2 * digits].reshape(n, 2, digits)
    if size is not None:
        index = index[:size]
    return AdditionDataset(images, index.contiguous(), digits)
