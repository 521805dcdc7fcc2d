"""Training curves as PNG files (matplotlib, Agg backend: no display needed).

Why it is built this way: the plot is written from the trainer's plain history
records, so a curve can be redrawn from a checkpoint without rerunning anything.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["plot_history"]


def plot_history(
    history: Sequence[Mapping[str, Any]],
    path: str | os.PathLike[str],
    *,
    title: str = "training",
) -> Path:
    """Plot loss per step (raw and smoothed) and accuracy per evaluation to ``path``.

    ``history`` records carry ``kind`` (``step`` or ``eval``), ``step`` and the metrics.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [r for r in history if r.get("kind") == "step"]
    evals = [r for r in history if r.get("kind") == "eval"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    if steps:
        xs = [r["step"] for r in steps]
        ys = [r["loss"] for r in steps]
        ax1.plot(xs, ys, alpha=0.3, label="loss")
        k = max(1, len(ys) // 50)
        smooth = [sum(ys[max(0, i - k + 1) : i + 1]) / len(ys[max(0, i - k + 1) : i + 1])
                  for i in range(len(ys))]
        ax1.plot(xs, smooth, label=f"loss (mean of {k})")
        ax1.set_yscale("log")
    ax1.set_xlabel("step")
    ax1.set_ylabel("negative log-likelihood")
    ax1.legend()
    if steps and "accuracy" in steps[0]:
        accs = [r["accuracy"] for r in steps]
        k = max(1, len(accs) // 50)
        smooth = [sum(accs[max(0, i - k + 1) : i + 1]) / len(accs[max(0, i - k + 1) : i + 1])
                  for i in range(len(accs))]
        ax2.plot([r["step"] for r in steps], smooth, label="train accuracy (running)")
    for key in sorted({k for r in evals for k in r if k.endswith("accuracy")}):
        pts = [(r["step"], r[key]) for r in evals if key in r]
        ax2.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=f"eval {key}")
    ax2.set_xlabel("step")
    ax2.set_ylabel("accuracy")
    ax2.set_ylim(0, 1.02)
    ax2.legend(loc="lower right")
    fig.suptitle(title)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
