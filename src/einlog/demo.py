"""``make demo``: learn single-digit addition from sums only, offline, in about a minute.

Why it is built this way: the demo must run on a fresh clone without a network, so it
trains on scikit-learn's bundled 8x8 handwritten digits (real scans, 1797 images)
instead of MNIST.  The program is DeepProbLog's MNIST-addition program unchanged; the
network never sees a digit label -- only the sum of two images -- and the printed digit
accuracy shows it learned to read digits anyway.  Everything goes through the public API:
``Program.from_string(..., networks=...)``, the batched query and ``Trainer``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import torch

PROGRAM = """\
nn(mnist_net, [X], Y, [0,1,2,3,4,5,6,7,8,9]) :: digit(X, Y).
addition(X, Y, Z) :- digit(X, X2), digit(Y, Y2), Z is X2 + Y2.
"""


def digit_accuracy(net: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    was = net.training
    net.eval()
    with torch.no_grad():
        pred = net(images).argmax(-1)
    net.train(was)
    return float((pred == labels).float().mean())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m einlog.demo", description=__doc__)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/demo")
    args = parser.parse_args(argv)

    import einlog
    from einlog.data import addition_dataset, load_digits_8x8
    from einlog.learn import Trainer
    from einlog.neural import DigitNet8x8

    # one intra-op thread: the batches are small, and extra threads only contend for the cores
    torch.set_num_threads(1)
    t_start = time.perf_counter()
    train_digits = load_digits_8x8("train")
    test_digits = load_digits_8x8("test")
    train = addition_dataset(train_digits, 1, seed=args.seed)
    test = addition_dataset(test_digits, 1, seed=args.seed + 1)
    print(f"einlog demo: single-digit addition on scikit-learn's 8x8 digits "
          f"({len(train)} training pairs, {len(test)} test pairs); the network only sees sums")

    torch.manual_seed(args.seed)
    net = DigitNet8x8()
    program = einlog.Program.from_string(PROGRAM, name="addition.pl",
                                         networks={"mnist_net": net})
    trainer = Trainer(program, "addition(A, B, S)", lr=args.lr, seed=args.seed, progress=False)
    out = Path(args.out)

    def report(epoch_start: float) -> None:
        ev = trainer.history[-1]
        acc = digit_accuracy(net, test_digits.images, test_digits.labels)
        print(f"epoch {trainer.epoch:2d}  train loss {trainer_loss():.4f}  "
              f"test addition accuracy {ev['accuracy']:.3f}  test digit accuracy {acc:.3f}  "
              f"({time.perf_counter() - epoch_start:.1f}s)", flush=True)

    def trainer_loss() -> float:
        steps = [r for r in trainer.history if r["kind"] == "step" and
                 r["epoch"] == trainer.epoch - 1]
        return sum(r["loss"] for r in steps) / max(len(steps), 1)

    for _ in range(args.epochs):
        t0 = time.perf_counter()
        trainer.fit(train, epochs=1, batch_size=args.batch_size, eval_data=test)
        report(t0)
    final = trainer.evaluate(test, record=False)
    dacc = digit_accuracy(net, test_digits.images, test_digits.labels)
    ckpt = trainer.save_checkpoint(out / "checkpoint.pt")
    png = trainer.plot(out / "training.png", title="einlog demo: MNIST-style addition (8x8)")
    total = time.perf_counter() - t_start
    print(f"\ntest accuracy of the addition task: {final['accuracy']:.3f} "
          f"({int(final['examples'])} pairs); digit accuracy {dacc:.3f}")
    print(f"training curve: {png}\ncheckpoint:     {ckpt}\ntotal time: {total:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
