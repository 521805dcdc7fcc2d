"""Learning: end-to-end training of neural predicates (``Trainer``), checkpoints, plots,
seeding, the ``einlog train`` command; and exact parameter learning (``learn.exact``).

Names are loaded lazily so ``import einlog.learn.exact`` does not pull in matplotlib.
"""

from typing import Any

_LAZY = {
    "Trainer": "einlog.learn.trainer",
    "QueryData": "einlog.learn.trainer",
    "TensorData": "einlog.learn.trainer",
    "nll_loss": "einlog.learn.trainer",
    "seed_everything": "einlog.learn.seed",
    "save_checkpoint": "einlog.learn.checkpoint",
    "load_checkpoint": "einlog.learn.checkpoint",
    "program_fingerprint": "einlog.learn.checkpoint",
    "plot_history": "einlog.learn.plot",
    "train_command": "einlog.learn.cli",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'einlog.learn' has no attribute {name!r}")


__all__ = sorted(_LAZY)
