"""Train MNIST addition with einlog: ``python examples/mnist_addition/train.py --digits 1``.

Also runs as ``einlog train examples/mnist_addition/train.py --digits 2``.  Reads the
MNIST IDX files from ``--data-dir`` (default: ``$EINLOG_DATA`` or ../shared/data/mnist;
``--download`` fetches the official files once into ~/.cache/einlog/mnist).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

import einlog
from einlog.data import addition_dataset, download_mnist, load_mnist
from einlog.learn import Trainer
from einlog.neural import MNISTNet

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--digits", type=int, default=1, help="N: digits per number (1..4)")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=16,
                    help="16 keeps batch-2 accuracy after one epoch at lr 1e-3")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--download", action="store_true")
    ap.add_argument("--train-size", type=int, default=None)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()

    root = download_mnist() if args.download else args.data_dir
    train = addition_dataset(load_mnist("train", root), args.digits, seed=args.seed,
                             size=args.train_size)
    test = addition_dataset(load_mnist("test", root), args.digits, seed=args.seed + 1)
    if args.digits == 1:
        program_file = HERE / "addition.pl"
    elif args.digits == 2:
        program_file = HERE / "multi_addition.pl"
    else:  # the ripple-carry formulation grounds in seconds for N = 3, 4
        program_file = HERE / "multi_addition_carry.pl"

    torch.manual_seed(args.seed)
    net = MNISTNet()
    program = einlog.Program.from_file(program_file, networks={"mnist_net": net})
    query = train.query_pattern()  # addition(A, B, S) or multi_addition([A0, ...], [B0, ...], S)
    trainer = Trainer(program, query, lr=args.lr, seed=args.seed, device=args.device,
                      progress=True)
    out = Path(args.out or f"runs/mnist_addition_{args.digits}")
    t0 = time.perf_counter()
    trainer.fit(train, epochs=args.epochs, batch_size=args.batch_size, eval_data=test,
                checkpoint_dir=out)
    ev = [r for r in trainer.history if r["kind"] == "eval"][-1]
    print(f"N={args.digits}: test accuracy {100 * ev['accuracy']:.2f}% on "
          f"{int(ev['examples'])} pairs after {args.epochs} epoch(s), "
          f"{time.perf_counter() - t0:.0f}s; checkpoint and curve in {out}/")


if __name__ == "__main__":
    main()
