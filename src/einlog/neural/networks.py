"""Reference networks for the digit examples.

Why it is built this way: :class:`MNISTNet` is DeepProbLog's ``MNIST_Net`` layer for
layer (LeNet-style encoder + MLP classifier with a softmax), so accuracies and timings
compare like with like against DeepProbLog.  :class:`DigitNet8x8` is a small CNN for
scikit-learn's 8x8 digits, sized so ``make demo`` trains in well under a minute on two
CPU cores.  Both end in a softmax: a neural annotated disjunction takes probabilities.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["MNISTNet", "DigitNet8x8", "SigmoidNet"]


class MNISTNet(nn.Module):
    """DeepProbLog's MNIST_Net: conv(1->6,k5), pool, relu, conv(6->16,k5), pool, relu,
    then 16*4*4 -> 120 -> 84 -> N with a softmax."""

    def __init__(self, n: int = 10, with_softmax: bool = True, size: int = 16 * 4 * 4) -> None:
        super().__init__()
        self.with_softmax = with_softmax
        self.size = size
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 6, 5),
            nn.MaxPool2d(2, 2),
            nn.ReLU(True),
            nn.Conv2d(6, 16, 5),
            nn.MaxPool2d(2, 2),
            nn.ReLU(True),
        )
        self.classifier = nn.Sequential(
            nn.Linear(size, 120),
            nn.ReLU(),
            nn.Linear(120, 84),
            nn.ReLU(),
            nn.Linear(84, n),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.encoder(x)
        x = x.view(-1, self.size)
        x = self.classifier(x)
        if self.with_softmax:
            x = torch.softmax(x, dim=1)
        return x


class DigitNet8x8(nn.Module):
    """A small CNN for 8x8 digits: conv(1->16,k3,pad1), relu, pool -> 16x4x4 -> 64 -> N softmax."""

    def __init__(self, n: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(32 * 4 * 4, 64), nn.ReLU(), nn.Linear(64, n)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.classifier(self.features(x)), dim=-1)


class SigmoidNet(nn.Module):
    """A linear layer and a sigmoid over flattened inputs: ``nn(net, [X]) :: p(X)`` form."""

    def __init__(self, in_features: int) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.linear(x.flatten(1))).squeeze(-1)
