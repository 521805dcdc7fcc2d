"""MNIST addition, einlog side by side with DeepProbLog 2.1.0 (same network, data, examples).

Why it is built this way:

* **One process per measurement** (system x N x batch size), so peak RSS
  (``ru_maxrss``) is the memory of exactly that run, and a DeepProbLog run that
  exceeds its time budget is killed without losing the others.
* **Same everything**: DeepProbLog's ``MNIST_Net`` (``einlog.neural.MNISTNet`` is the
  same architecture), the same normalised MNIST tensors from ``../shared/data/mnist``
  (DeepProbLog's own example loader needs torchvision, which would replace the CPU
  torch, so its core -- ``Model``, ``ExactEngine``, ``train_model`` -- is driven here
  with ``tensor(train(i))`` sources over our tensors), the same training examples in
  the same order, Adam with lr 1e-3, one intra-op thread for both.
* **Reasoning overhead** = time per training example minus the network's own forward,
  backward and optimizer time per example, measured in the same process on the same
  batches with a copy of the network (so the trained model is untouched).
* DeepProbLog gets the program from its repository verbatim; einlog uses
  ``examples/mnist_addition/addition.pl`` (N = 1), ``multi_addition.pl`` (N = 2) and
  the equivalent ripple-carry ``multi_addition_carry.pl`` (N >= 3).

``python -m einlog.bench mnist --quick`` (N = 1, 2 on a subset) runs in minutes;
``python -m einlog.bench.mnist --help`` lists the knobs.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

DESCRIPTION = "MNIST addition (N = 1..4): einlog vs DeepProbLog 2.1.0"

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "mnist_addition"
DPL_PROGRAM = """nn(mnist_net,[X],Y,[0,1,2,3,4,5,6,7,8,9]) :: digit(X,Y).

number([],Result,Result).
number([H|T],Acc,Result) :- digit(H,Nr), Acc2 is Nr+10*Acc,number(T,Acc2,Result).
number(X,Y) :- number(X,0,Y).

multi_addition(X,Y,Z) :- number(X,X2),number(Y,Y2), Z is X2+Y2.
addition(X,Y,Z) :- digit(X,X2), digit(Y,Y2), Z is X2+Y2.
"""
PUBLISHED = {1: "DeepStochLog 97.9, DeepProbLog ~97", 2: "DeepStochLog 96.4",
             3: "-", 4: "DeepStochLog 92.7"}


def einlog_program(n: int) -> Path:
    if n == 1:
        return EXAMPLES / "addition.pl"
    if n == 2:
        return EXAMPLES / "multi_addition.pl"
    return EXAMPLES / "multi_addition_carry.pl"


# ------------------------------------------------------------------------ worker side
def _data(cfg: dict[str, Any]) -> tuple[Any, Any]:
    from einlog.data import addition_dataset, load_mnist

    train_imgs = load_mnist("train", cfg.get("data_dir"))
    test_imgs = load_mnist("test", cfg.get("data_dir"))
    train = addition_dataset(train_imgs, cfg["digits"], seed=cfg["seed"],
                             size=cfg.get("train_size"))
    test = addition_dataset(test_imgs, cfg["digits"], seed=cfg["seed"] + 1,
                            size=cfg.get("test_size"))
    return train, test


def _network_time(net: Any, train: Any, batch_size: int, max_batches: int | None) -> float:
    """Seconds per example of the network alone: forward, backward, Adam step (a copy)."""
    import torch

    net = copy.deepcopy(net)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    imgs = train.images.images
    n = len(train)
    seen = 0
    t0 = time.perf_counter()
    for k, start in enumerate(range(0, n, batch_size)):
        if max_batches is not None and k >= max_batches:
            break
        idx = train.index[start : start + batch_size].reshape(-1)
        opt.zero_grad()
        out = net(imgs[idx])
        loss = -torch.log(out.clamp_min(1e-12)).mean()
        loss.backward()
        opt.step()
        seen += int(train.index[start : start + batch_size].shape[0])
    return (time.perf_counter() - t0) / max(seen, 1)


def worker_einlog(cfg: dict[str, Any]) -> dict[str, Any]:
    import torch

    import einlog
    from einlog.learn import Trainer
    from einlog.neural import MNISTNet, compiled_query

    torch.manual_seed(cfg["seed"])
    net = MNISTNet()
    train, test = _data(cfg)
    prog = einlog.Program.from_file(einlog_program(cfg["digits"]), networks={"mnist_net": net})
    query = train.query_pattern()
    t0 = time.perf_counter()
    names = list(train.batch(torch.arange(1)))
    compiled_query(prog, query, names)
    compile_s = time.perf_counter() - t0
    trainer = Trainer(prog, query, lr=1e-3, seed=cfg["seed"], progress=False)
    bs = cfg["batch_size"]
    t0 = time.perf_counter()
    trainer.fit(train, epochs=cfg["epochs"], batch_size=bs, shuffle=False)
    train_s = time.perf_counter() - t0
    ev = trainer.evaluate(test, batch_size=256, record=False)
    net_s = _network_time(net, train, bs, None)
    per_ex = train_s / (len(train) * cfg["epochs"])
    return {"system": "einlog", "digits": cfg["digits"], "batch_size": bs,
            "examples": len(train), "epochs": cfg["epochs"],
            "epoch_s": train_s / cfg["epochs"], "compile_s": compile_s,
            "per_example_s": per_ex, "network_per_example_s": net_s,
            "overhead_per_example_s": per_ex - net_s, "accuracy": ev["accuracy"],
            "test_examples": int(ev["examples"])}


def worker_deepproblog(cfg: dict[str, Any]) -> dict[str, Any]:
    import torch
    from deepproblog.dataset import DataLoader, Dataset
    from deepproblog.engines import ExactEngine
    from deepproblog.evaluate import get_confusion_matrix
    from deepproblog.model import Model
    from deepproblog.network import Network
    from deepproblog.query import Query
    from deepproblog.train import train_model
    from problog.logic import Constant, Term, list2term

    from einlog.neural import MNISTNet

    torch.manual_seed(cfg["seed"])
    net = MNISTNet()
    train, test = _data(cfg)

    class Images:
        def __init__(self, images: torch.Tensor) -> None:
            self.images = images

        def __getitem__(self, item: Any) -> torch.Tensor:
            return self.images[int(item[0])]

    class AdditionQueries(Dataset):
        def __init__(self, ds: Any, name: str) -> None:
            self.ds, self.name = ds, name
            self.sums = ds.sums.tolist()

        def __len__(self) -> int:
            return len(self.ds)

        def to_query(self, i: int) -> Any:
            idx = self.ds.index[i].tolist()
            subs, args = {}, []
            for a, number in enumerate(idx):
                inner = []
                for j, img in enumerate(number):
                    t = Term(f"p{a}_{j}")
                    subs[t] = Term("tensor", Term(self.name, Constant(img)))
                    inner.append(t)
                args.append(inner[0] if self.ds.digits == 1 else list2term(inner))
            fn = "addition" if self.ds.digits == 1 else "multi_addition"
            return Query(Term(fn, *args, Constant(self.sums[i])), subs)

    network = Network(net, "mnist_net", batching=True)
    network.optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    program_file = Path(cfg["tmp"]) / "dpl_addition.pl"
    program_file.write_text(DPL_PROGRAM)
    model = Model(str(program_file), [network])
    model.set_engine(ExactEngine(model), cache=True)
    model.add_tensor_source("train", Images(train.images.images))
    model.add_tensor_source("test", Images(test.images.images))
    loader = DataLoader(AdditionQueries(train, "train"), 2, False)
    t0 = time.perf_counter()
    train_model(model, loader, cfg["epochs"], log_iter=10**9, profile=0)
    train_s = time.perf_counter() - t0
    test_q = AdditionQueries(test, "test")
    acc = float(get_confusion_matrix(model, test_q, verbose=0).accuracy())
    net_s = _network_time(net, train, 2, None)
    per_ex = train_s / (len(train) * cfg["epochs"])
    return {"system": "DeepProbLog", "digits": cfg["digits"], "batch_size": 2,
            "examples": len(train), "epochs": cfg["epochs"], "epoch_s": train_s / cfg["epochs"],
            "compile_s": 0.0, "per_example_s": per_ex, "network_per_example_s": net_s,
            "overhead_per_example_s": per_ex - net_s, "accuracy": acc,
            "test_examples": len(test_q)}


def worker_main(cfg: dict[str, Any]) -> None:
    import torch

    torch.set_num_threads(int(cfg.get("threads", 1)))
    fn = worker_einlog if cfg["system"] == "einlog" else worker_deepproblog
    result = fn(cfg)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps(result), flush=True)


# ------------------------------------------------------------------------ driver side
def measure(cfg: dict[str, Any], timeout: float) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "einlog.bench.mnist", "--worker", json.dumps(cfg)]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"system": cfg["system"], "digits": cfg["digits"],
                "batch_size": cfg["batch_size"], "timeout": timeout}
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            res: dict[str, Any] = json.loads(line[7:])
            res["wall_s"] = time.perf_counter() - t0
            return res
    return {"system": cfg["system"], "digits": cfg["digits"], "batch_size": cfg["batch_size"],
            "error": (proc.stderr or proc.stdout)[-2000:]}


def _fmt(v: Any, spec: str) -> str:
    return format(v, spec) if isinstance(v, (int, float)) else "-"


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| N | system | batch | train ex. | epoch (s) | vs DPL | peak RSS (MB) | test acc. "
        "| reasoning overhead / ex. (ms) | overhead vs DPL | published |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for n in sorted({r["digits"] for r in results}):
        rows = [r for r in results if r["digits"] == n]
        dpl = next((r for r in rows if r["system"] == "DeepProbLog" and "epoch_s" in r), None)
        for r in rows:
            if "timeout" in r:
                lines.append(f"| {n} | {r['system']} | {r['batch_size']} | | timeout "
                             f"(> {r['timeout']:.0f} s) | | | | | | |")
                continue
            if "error" in r:
                err = r["error"].strip().splitlines()[-1][:80] if r["error"].strip() else "?"
                lines.append(f"| {n} | {r['system']} | {r['batch_size']} | | error: {err} "
                             "| | | | | | |")
                continue
            speed = ratio = "-"
            if dpl is not None and r is not dpl:
                speed = f"{dpl['epoch_s'] / r['epoch_s']:.1f}x faster"
                if r["overhead_per_example_s"] > 0:
                    ratio = f"{dpl['overhead_per_example_s'] / r['overhead_per_example_s']:.0f}x" \
                        " smaller"
            lines.append(
                f"| {n} | {r['system']} | {r['batch_size']} | {r['examples']} | "
                f"{_fmt(r['epoch_s'], '.1f')} | {speed} | {_fmt(r['peak_rss_mb'], '.0f')} | "
                f"{_fmt(100 * r['accuracy'], '.2f')} | "
                f"{_fmt(1000 * r['overhead_per_example_s'], '.3f')} | {ratio} | "
                f"{PUBLISHED.get(n, '-') if r['system'] == 'einlog' else ''} |")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Entry point of ``python -m einlog.bench mnist``."""
    quick = bool(getattr(args, "quick", False))
    argv = ["--quick"] if quick else []
    return main(argv)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m einlog.bench.mnist", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--quick", action="store_true",
                    help="N = 1, 2 on a subset of the examples (minutes)")
    ap.add_argument("--digits", type=int, nargs="*", help="N values (default 1 2 3 4)")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--train-size", type=int, help="training examples per N (default: all)")
    ap.add_argument("--test-size", type=int, help="test examples per N (default: all)")
    ap.add_argument("--batch-size", type=int, default=32, help="einlog's recommended batch")
    ap.add_argument("--no-deepproblog", action="store_true")
    ap.add_argument("--dpl-timeout", type=float, default=3600.0,
                    help="seconds before a DeepProbLog run counts as not finished")
    ap.add_argument("--dpl-max-digits", type=int, default=3,
                    help="skip DeepProbLog above this N (it does not finish N = 4)")
    ap.add_argument("--data-dir", help="folder with the MNIST IDX files")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default="benchmarks/results/mnist.json")
    args = ap.parse_args(argv)
    if args.worker:
        worker_main(json.loads(args.worker))
        return 0
    digits = args.digits or ([1, 2] if args.quick else [1, 2, 3, 4])
    sizes = {1: 3000, 2: 300} if args.quick else {}
    # DeepProbLog answers a test query of N = 2 in about a second: keep quick runs short
    test_sizes = {1: 1000, 2: 200} if args.quick else {}
    import tempfile

    tmp = tempfile.mkdtemp(prefix="einlog-bench-mnist-")
    results: list[dict[str, Any]] = []
    for n in digits:
        base = {"digits": n, "epochs": args.epochs, "seed": args.seed, "tmp": tmp,
                "train_size": args.train_size or sizes.get(n),
                "test_size": args.test_size or test_sizes.get(n),
                "data_dir": args.data_dir}
        runs: list[dict[str, Any]] = []
        if not args.no_deepproblog and n <= args.dpl_max_digits:
            runs.append({**base, "system": "DeepProbLog", "batch_size": 2})
        runs.append({**base, "system": "einlog", "batch_size": 2})
        runs.append({**base, "system": "einlog", "batch_size": args.batch_size})
        for cfg in runs:
            timeout = args.dpl_timeout if cfg["system"] == "DeepProbLog" else 4 * 3600.0
            print(f"-- N={n} {cfg['system']} batch {cfg['batch_size']} ...", flush=True)
            res = measure(cfg, timeout)
            print("   " + json.dumps({k: v for k, v in res.items() if k != "error"}), flush=True)
            if "error" in res:
                print(res["error"], file=sys.stderr)
            results.append(res)
        if not args.no_deepproblog and n > args.dpl_max_digits:
            results.append({"system": "DeepProbLog", "digits": n, "batch_size": 2,
                            "timeout": args.dpl_timeout})
    print()
    print(table(results))
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    os.makedirs(out.parent, exist_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
