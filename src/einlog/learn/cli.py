"""``einlog train CONFIG_OR_SCRIPT``: run an experiment from the command line.

Why it is built this way: an experiment is either a Python script (run with
``runpy`` as ``__main__``, with the remaining command-line arguments as its
``sys.argv``, so ``examples/mnist_addition/train.py --digits 2`` works the same way
through ``einlog train``) or a small TOML file for the common case -- program file,
networks as importable ``module:Class``, a dataset name, epochs, batch size, learning
rate -- read with :mod:`tomllib`, no code in the config itself.

A TOML config::

    program = "addition.pl"            # relative to the config file
    query = "addition(A, B, S)"         # optional: derived from the dataset
    [networks.mnist_net]
    class = "einlog.neural:MNISTNet"    # module:Class, constructed with kwargs
    kwargs = {}
    [data]
    dataset = "mnist"                   # "mnist" (IDX files) or "digits" (sklearn 8x8)
    digits = 1                          # N-digit numbers
    dir = "../shared/data/mnist"        # optional, MNIST only
    train_size = 30000                  # optional: first examples only
    [training]
    epochs = 1
    batch_size = 32
    lr = 1e-3
    seed = 0
    optimizer = "Adam"                  # any torch.optim class name
    output = "runs/mnist_addition"      # checkpoint.pt and training.png go here
    device = "cpu"
"""

from __future__ import annotations

import argparse
import importlib
import runpy
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from einlog.errors import ConfigError, EinlogError, ProgramFileNotFoundError

__all__ = ["train_command", "run_config", "load_class"]


def load_class(spec: str) -> Any:
    """Import ``module:Name`` (or ``module.Name``)."""
    if ":" in spec:
        module, _, name = spec.partition(":")
    else:
        module, _, name = spec.rpartition(".")
    if not module or not name:
        raise ConfigError(f"network class {spec!r} is not 'module:Class'",
                          hint="e.g. class = \"einlog.neural:MNISTNet\"")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as e:
        raise ConfigError(f"cannot import {spec!r}: {e}",
                          hint="the module must be importable (on PYTHONPATH)") from e


def _section(cfg: dict[str, Any], name: str) -> dict[str, Any]:
    value = cfg.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"[{name}] must be a table in the training config")
    return value


def run_config(path: Path, overrides: Sequence[str] = ()) -> int:
    """Run the TOML experiment at ``path``; ``overrides`` like ``--epochs 2``."""
    import einlog
    from einlog.data import addition_dataset, load_digits_8x8, load_mnist
    from einlog.learn.trainer import Trainer

    try:
        cfg = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML: {e}") from e
    training = _section(cfg, "training")
    data_cfg = _section(cfg, "data")
    parser = argparse.ArgumentParser(prog=f"einlog train {path}")
    parser.add_argument("--epochs", type=int, default=training.get("epochs", 1))
    parser.add_argument("--batch-size", type=int, default=training.get("batch_size", 32))
    parser.add_argument("--lr", type=float, default=training.get("lr", 1e-3))
    parser.add_argument("--seed", type=int, default=training.get("seed", 0))
    parser.add_argument("--output", default=training.get("output", f"runs/{path.stem}"))
    parser.add_argument("--device", default=training.get("device", "cpu"))
    parser.add_argument("--train-size", type=int, default=data_cfg.get("train_size"))
    parser.add_argument("--test-size", type=int, default=data_cfg.get("test_size"))
    args = parser.parse_args(list(overrides))

    if "program" not in cfg:
        raise ConfigError(f"{path}: the config needs program = \"file.pl\"")
    program_path = (path.parent / str(cfg["program"])).resolve()
    if not program_path.exists():
        raise ProgramFileNotFoundError(f"program file not found: {program_path}")
    torch.manual_seed(args.seed)
    networks = {}
    for name, spec in _section(cfg, "networks").items():
        if isinstance(spec, str):
            spec = {"class": spec}
        cls = load_class(str(spec.get("class", "")))
        networks[name] = cls(**dict(spec.get("kwargs", {})))
    program = einlog.Program.from_file(program_path, networks=networks)

    dataset = str(data_cfg.get("dataset", "mnist"))
    digits = int(data_cfg.get("digits", 1))
    if dataset == "mnist":
        root = data_cfg.get("dir")
        train_imgs = load_mnist("train", root)
        test_imgs = load_mnist("test", root)
    elif dataset == "digits":
        train_imgs, test_imgs = load_digits_8x8("train"), load_digits_8x8("test")
    else:
        raise ConfigError(f"unknown dataset {dataset!r}", hint="use 'mnist' or 'digits'")
    train = addition_dataset(train_imgs, digits, seed=args.seed, size=args.train_size)
    test = addition_dataset(test_imgs, digits, seed=args.seed + 1, size=args.test_size)
    query = str(cfg.get("query", train.query_pattern()))

    opt_name = str(training.get("optimizer", "Adam"))
    opt_cls = getattr(torch.optim, opt_name, None)
    if opt_cls is None:
        raise ConfigError(f"unknown optimizer {opt_name!r}",
                          hint="use a class name of torch.optim, e.g. Adam or SGD")
    trainer = Trainer(program, query, optimizer=opt_cls, lr=args.lr, seed=args.seed,
                      device=args.device)
    out = Path(args.output)
    trainer.fit(train, epochs=args.epochs, batch_size=args.batch_size, eval_data=test,
                checkpoint_dir=out)
    final = [r for r in trainer.history if r["kind"] == "eval"][-1]
    print(f"test accuracy {final['accuracy']:.4f} on {int(final['examples'])} examples; "
          f"checkpoint {out / 'last.pt'}, curve {out / 'training.png'}")
    return 0


def train_command(path: str, args: Sequence[str] | argparse.Namespace | None = None) -> int:
    """Run a ``.py`` experiment script or a ``.toml`` config; returns an exit status.

    ``args``: the remaining command-line arguments (the script's ``sys.argv[1:]``, or
    overrides such as ``--epochs 2`` for a config).
    """
    if isinstance(args, argparse.Namespace):
        rest = list(getattr(args, "rest", []) or [])
    else:
        rest = list(args or [])
    if rest and rest[0] == "--":
        rest = rest[1:]
    p = Path(path)
    if not p.exists():
        raise ProgramFileNotFoundError(f"training config or script not found: {p}")
    if p.suffix == ".py":
        old_argv, old_path = sys.argv, list(sys.path)
        sys.argv = [str(p), *rest]
        sys.path.insert(0, str(p.parent.resolve()))
        try:
            runpy.run_path(str(p), run_name="__main__")
        except SystemExit as e:
            code = e.code
            return code if isinstance(code, int) else (0 if code is None else 1)
        finally:
            sys.argv, sys.path[:] = old_argv, old_path
        return 0
    if p.suffix == ".toml":
        return run_config(p, rest)
    raise ConfigError(f"{p}: expected a .py experiment script or a .toml config",
                      hint="see einlog.learn.cli for the config format")


def main(argv: Sequence[str] | None = None) -> int:  # pragma: no cover - thin wrapper
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        print("usage: python -m einlog.learn.cli CONFIG_OR_SCRIPT [args...]", file=sys.stderr)
        return 2
    try:
        return train_command(argv[0], argv[1:])
    except EinlogError as e:
        print(str(e), file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
