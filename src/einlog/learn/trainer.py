"""End-to-end training of neural predicates through a program: ``Trainer.fit``/``evaluate``.

Why it is built this way: a training step is one batched query (see
:mod:`einlog.neural.query`): the networks run once on the batch, the compiled circuit
turns their outputs into the probability of every answer, and the loss is the negative
log-likelihood of the observed answer (``-log p``, computed in log space and clamped so
an impossible label gives a large finite loss, not ``inf``).  Anything torch offers
plugs in: any optimizer (default Adam, lr 1e-3, as DeepProbLog), any device.  The
trainer keeps plain-data history records, which feed the progress bar, the PNG curve and
the checkpoints.

Data is an object with ``batches(batch_size, shuffle=..., generator=...)`` yielding
``{variable: tensor}`` dicts (e.g. :class:`einlog.data.AdditionDataset`), a dict of
whole tensors (sliced into batches here), or :class:`QueryData` -- DeepProbLog-style
ground queries with ``tensor(train(i))`` terms.  A batch may also be a
``(query, inputs)`` pair to use a query other than the trainer's.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from einlog.errors import ConfigError
from einlog.learn.checkpoint import load_checkpoint, save_checkpoint
from einlog.learn.plot import plot_history
from einlog.learn.seed import seed_everything
from einlog.neural.query import NeuralQuery, compiled_query, deepproblog_batch, group_by_shape
from einlog.terms import Struct

__all__ = ["Trainer", "QueryData", "TensorData", "nll_loss", "LOG_EPS"]

#: log-probabilities are clamped at this value in the loss (p = 1e-12)
LOG_EPS = math.log(1e-12)

Batch = Mapping[str, Any] | tuple[str | Struct, Mapping[str, Any]]


def nll_loss(log_p: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood of per-example log-probabilities, clamped at 1e-12."""
    return -(log_p.clamp_min(LOG_EPS)).mean()


@dataclass
class TensorData:
    """Whole-dataset tensors ``{variable: tensor [n, ...]}`` served in batches."""

    tensors: Mapping[str, torch.Tensor]

    def __len__(self) -> int:
        return int(next(iter(self.tensors.values())).shape[0])

    def batches(
        self, batch_size: int, *, shuffle: bool = True, generator: torch.Generator | None = None
    ) -> Iterator[dict[str, torch.Tensor]]:
        n = len(self)
        order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
        for start in range(0, n, batch_size):
            rows = order[start : start + batch_size]
            yield {k: v[rows.to(v.device)] for k, v in self.tensors.items()}


class QueryData:
    """DeepProbLog-style data: ground queries such as ``addition(tensor(train(0)),
    tensor(train(1)), 1)`` plus ``sources`` mapping ``train`` to a dataset (indexable:
    ``sources['train'][0]`` is an image or an ``(image, label)`` pair).

    Queries are grouped by shape and each batch holds queries of one shape, so every
    batch is one compiled-circuit evaluation.
    """

    def __init__(self, queries: Sequence[str | Struct], sources: Mapping[str, Any]) -> None:
        self.queries = list(queries)
        self.sources = sources
        self.groups = list(group_by_shape(self.queries).values())

    def __len__(self) -> int:
        return len(self.queries)

    def batches(
        self, batch_size: int, *, shuffle: bool = True, generator: torch.Generator | None = None
    ) -> Iterator[tuple[Struct, dict[str, torch.Tensor]]]:
        chunks: list[list[int]] = []
        for group in self.groups:
            g = torch.tensor(group)
            if shuffle:
                g = g[torch.randperm(len(group), generator=generator)]
            chunks += [g[i : i + batch_size].tolist() for i in range(0, len(group), batch_size)]
        if shuffle:
            perm = torch.randperm(len(chunks), generator=generator).tolist()
            chunks = [chunks[i] for i in perm]
        for chunk in chunks:
            yield deepproblog_batch([self.queries[i] for i in chunk], self.sources)


def _batches(data: Any, batch_size: int, shuffle: bool,
             generator: torch.Generator | None) -> Iterable[Batch]:
    if isinstance(data, Mapping):
        data = TensorData(data)
    if hasattr(data, "batches"):
        batches: Iterable[Batch] = data.batches(batch_size, shuffle=shuffle,
                                                generator=generator)
        return batches
    if isinstance(data, Iterable):
        return data
    raise ConfigError(
        f"cannot iterate training data of type {type(data).__name__}",
        hint="pass an object with batches(batch_size, shuffle, generator), a dict of "
        "tensors, QueryData, or an iterable of {variable: tensor} batches",
    )


def _len(data: Any, batch_size: int) -> int | None:
    try:
        return math.ceil(len(data) / batch_size)
    except TypeError:
        return None


def default_optimizer(params: list[torch.nn.Parameter], lr: float) -> torch.optim.Optimizer:
    """Adam, with the fused kernel where this torch has one for the parameters' device:
    the same update in one op instead of ~10 per parameter tensor (a small network's
    step is otherwise dominated by them)."""
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(params, lr=lr)


class Trainer:
    """Trains the networks (and ``t(...)`` parameters) of ``program`` on ``query``.

    ``program``: an :class:`einlog.Program` (anything with ``ir``, ``networks`` and
    ``parameters``).  ``query``: the pattern each batch binds, e.g.
    ``"addition(A, B, S)"``; tensor variables are network inputs, the others (``S``)
    the observed answers.  ``optimizer``: an optimizer instance, or a class / factory
    called with the parameters and ``lr`` (default :func:`default_optimizer`: Adam,
    fused where torch has the kernel).
    """

    def __init__(
        self,
        program: Any,
        query: str | Struct | None = None,
        *,
        optimizer: torch.optim.Optimizer | Callable[..., torch.optim.Optimizer] | None = None,
        lr: float = 1e-3,
        seed: int | None = None,
        device: torch.device | str | None = None,
        progress: bool | None = None,
        dtype: torch.dtype = torch.float64,
        validate: bool = True,
    ) -> None:
        self.program = program
        self.query = query
        self.dtype = dtype
        self.validate = validate
        self.generator = seed_everything(seed) if seed is not None else torch.Generator()
        self.seed = seed
        self.device = torch.device(device) if device is not None else None
        if self.device is not None:
            self.to(self.device)
        params = self.trainable_parameters()
        if isinstance(optimizer, torch.optim.Optimizer):
            self.optimizer = optimizer
        else:
            factory = optimizer if optimizer is not None else default_optimizer
            self.optimizer = factory(params, lr=lr)
        self.lr = lr
        self.progress = progress
        self.history: list[dict[str, Any]] = []
        self.step = 0
        self.epoch = 0
        # seconds spent inside fit() steps, for benchmarks
        self.train_seconds = 0.0

    # ---------------------------------------------------------------- parameters
    def modules(self) -> list[torch.nn.Module]:
        return [n for n in self.program.networks.values() if isinstance(n, torch.nn.Module)]

    def trainable_parameters(self) -> list[torch.nn.Parameter]:
        params: list[torch.nn.Parameter] = []
        seen: set[int] = set()
        for m in self.modules():
            for p in m.parameters():
                if p.requires_grad and id(p) not in seen:
                    seen.add(id(p))
                    params.append(p)
        for p in getattr(self.program, "parameters", []) or []:
            if id(p) not in seen:
                seen.add(id(p))
                params.append(p)
        if not params:
            raise ConfigError("the program has no networks and no t(...) parameters to train")
        return params

    def to(self, device: torch.device | str) -> Trainer:
        """Move networks and program parameters to ``device``."""
        dev = torch.device(device)
        mover = getattr(self.program, "to", None)
        if callable(mover):
            mover(dev)
        else:
            for m in self.modules():
                m.to(dev)
            for p in getattr(self.program, "parameters", []) or []:
                p.data = p.data.to(dev)
        self.device = dev
        return self

    def _compiled(self, query: str | Struct | None, names: Sequence[str]) -> NeuralQuery:
        q = query if query is not None else self.query
        if q is None:
            raise ConfigError("no query: pass Trainer(program, query='addition(A, B, S)')")
        return compiled_query(self.program, q, names, dtype=self.dtype, validate=self.validate)

    def _prepare(self, batch: Batch) -> tuple[NeuralQuery, dict[str, Any], dict[str, Any]]:
        if isinstance(batch, tuple):
            query, inputs = batch
        else:
            query, inputs = None, batch
        nq = self._compiled(query, list(inputs))
        dev = self.device
        tensors = {k: (v.to(dev) if dev is not None and isinstance(v, torch.Tensor) else v)
                   for k, v in inputs.items() if k in nq.tensor_vars}
        values = {k: v for k, v in inputs.items() if k not in nq.tensor_vars}
        if not values:
            raise ConfigError(
                f"a training batch for {nq.pattern} gives no observed answer",
                hint=f"include the answer variable(s) {', '.join(nq.free_vars)} in each batch",
            )
        return nq, tensors, values

    def _forward(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor, int]:
        """(NLL loss, number correct, batch size) of one batch."""
        nq, tensors, values = self._prepare(batch)
        log_p, all_lp, cols = nq.answer_log_likelihood(tensors, values)
        correct = (all_lp.argmax(1) == cols).sum() if all_lp.shape[1] else torch.zeros(())
        return nll_loss(log_p), correct, int(log_p.shape[0])

    # ---------------------------------------------------------------- training
    def train_step(self, batch: Batch) -> dict[str, Any]:
        """One optimizer step on ``batch``; returns ``{'loss', 'accuracy', 'size'}``."""
        t0 = time.perf_counter()
        for m in self.modules():
            if not m.training:  # train() walks every submodule: only when needed
                m.train()
        self.optimizer.zero_grad(set_to_none=True)
        loss, correct, n = self._forward(batch)
        loss.backward()
        self.optimizer.step()
        self._clamp_params()
        self.step += 1
        rec: dict[str, Any] = {"kind": "step", "step": self.step, "epoch": self.epoch,
               "loss": loss.item(), "accuracy": correct.item() / max(n, 1), "size": n}
        self.history.append(rec)
        self.train_seconds += time.perf_counter() - t0
        return rec

    def _clamp_params(self) -> None:
        params = getattr(self.program, "parameters", None)
        if not params:
            return
        with torch.no_grad():
            for p in params:
                p.clamp_(1e-6, 1 - 1e-6)

    def fit(
        self,
        train_data: Any,
        epochs: int = 1,
        batch_size: int = 32,
        *,
        eval_data: Any = None,
        eval_every: int | None = None,
        max_steps: int | None = None,
        shuffle: bool = True,
        checkpoint_dir: str | os.PathLike[str] | None = None,
        plot_path: str | os.PathLike[str] | None = None,
        callback: Callable[[Trainer, dict[str, Any]], None] | None = None,
    ) -> list[dict[str, Any]]:
        """Train for ``epochs`` epochs (or ``max_steps`` steps); evaluate on ``eval_data``
        after each epoch (and every ``eval_every`` steps); save ``last.pt`` (and the plot)
        under ``checkpoint_dir``.  Returns the history records."""
        show = self.progress if self.progress is not None else sys.stderr.isatty()
        done = False
        for _ in range(epochs):
            total = _len(train_data, batch_size)
            it: Iterable[Batch] = _batches(train_data, batch_size, shuffle, self.generator)
            bar = None
            if show:
                from tqdm import tqdm

                bar = tqdm(it, total=total, desc=f"epoch {self.epoch + 1}/{epochs}",
                           leave=True, dynamic_ncols=True)
                it = bar
            run_loss, run_acc, run_n = 0.0, 0.0, 0
            for batch in it:
                rec = self.train_step(batch)
                run_loss += rec["loss"] * rec["size"]
                run_acc += rec["accuracy"] * rec["size"]
                run_n += int(rec["size"])
                if bar is not None and (self.step % 10 == 0):
                    bar.set_postfix(loss=f"{run_loss / run_n:.4f}", acc=f"{run_acc / run_n:.3f}")
                if callback is not None:
                    callback(self, rec)
                if eval_data is not None and eval_every and self.step % eval_every == 0:
                    self.evaluate(eval_data, batch_size=max(batch_size, 256))
                if max_steps is not None and self.step >= max_steps:
                    done = True
                    break
            if bar is not None:
                bar.close()
            self.epoch += 1
            if eval_data is not None:
                self.evaluate(eval_data, batch_size=max(batch_size, 256))
            if checkpoint_dir is not None:
                self.save_checkpoint(Path(checkpoint_dir) / "last.pt")
            if done:
                break
        if plot_path is not None:
            self.plot(plot_path)
        elif checkpoint_dir is not None:
            self.plot(Path(checkpoint_dir) / "training.png")
        return self.history

    @torch.no_grad()
    def evaluate(self, data: Any, batch_size: int = 256, *, record: bool = True
                 ) -> dict[str, float]:
        """Mean NLL and accuracy (most probable answer == observed answer) on ``data``."""
        modes = [(m, m.training) for m in self.modules()]
        for m, _ in modes:
            m.eval()
        total_loss, total_correct, total = 0.0, 0.0, 0
        try:
            for batch in _batches(data, batch_size, False, None):
                loss, correct, n = self._forward(batch)
                total_loss += float(loss) * n
                total_correct += float(correct)
                total += n
        finally:
            for m, was in modes:
                m.train(was)
        result = {"loss": total_loss / max(total, 1), "accuracy": total_correct / max(total, 1),
                  "examples": float(total)}
        if record:
            self.history.append({"kind": "eval", "step": self.step, "epoch": self.epoch,
                                 **result})
        return result

    # ---------------------------------------------------------------- persistence
    def save_checkpoint(self, path: str | os.PathLike[str]) -> Path:
        """Save networks, program parameters, optimizer, counters and history."""
        extra = {"step": self.step, "epoch": self.epoch, "history": self.history,
                 "generator": self.generator.get_state()}
        return save_checkpoint(path, self.program, optimizer=self.optimizer, extra=extra)

    def load_checkpoint(self, path: str | os.PathLike[str]) -> None:
        """Restore a checkpoint saved by :meth:`save_checkpoint` (same program only)."""
        extra = load_checkpoint(path, self.program, optimizer=self.optimizer)
        self.step = int(extra.get("step", 0))
        self.epoch = int(extra.get("epoch", 0))
        self.history = list(extra.get("history", []))
        gen = extra.get("generator")
        if isinstance(gen, torch.Tensor):
            self.generator.set_state(gen)
        if self.device is not None:
            self.to(self.device)

    def plot(self, path: str | os.PathLike[str], title: str | None = None) -> Path:
        """Save the training curve (loss per step, accuracies) as a PNG."""
        return plot_history(self.history, path, title=title or str(self.query or "training"))
