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
  batches with a copy of the network (so the trained model is untouched).  Compilation
  is counted on both sides: DeepProbLog compiles one circuit per distinct query inside
  its training loop (cached per sum), einlog one circuit per query shape before it.
  Each run reports the total (``epoch_s``, compilation included) and the compilation
  alone (``compile_s``), so a *steady* per-example overhead without compilation is
  available for both systems; on a subset, DeepProbLog's total is dominated by
  compiling the sums it has not seen yet, so the steady figure is the fair one there.
* **Subsets per system**: DeepProbLog needs about a second per example at N = 2 and far
  more at N = 3, so ``--dpl-train-size 2=100 3=10`` trains it on the first examples
  only (same order) and ``--dpl-test-size`` bounds its test set; einlog can run the
  same subset (``--subset-einlog``) for a like-for-like row beside its full epoch.
  ``--merge`` adds a run's results to the JSON file of earlier runs, so the long
  measurements can be made one at a time and tabled together.
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


def _network_time(net: Any, train: Any, batch_size: int, max_batches: int | None,
                  optimizer: Any = None) -> tuple[float, float]:
    """Seconds per example (wall, CPU) of the network alone: forward, backward, Adam step
    (on a copy), with the optimizer factory the system itself trains with (default:
    ``torch.optim.Adam``, as DeepProbLog)."""
    import torch

    net = copy.deepcopy(net)
    opt = (optimizer or torch.optim.Adam)(list(net.parameters()), lr=1e-3)
    imgs = train.images.images
    n = len(train)
    seen = 0
    t0, c0 = time.perf_counter(), time.process_time()
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
    return ((time.perf_counter() - t0) / max(seen, 1),
            (time.process_time() - c0) / max(seen, 1))


def worker_einlog(cfg: dict[str, Any]) -> dict[str, Any]:
    import torch

    import einlog
    from einlog.learn import Trainer
    from einlog.learn.trainer import default_optimizer
    from einlog.neural import MNISTNet, compiled_query

    torch.manual_seed(cfg["seed"])
    net = MNISTNet()
    train, test = _data(cfg)
    prog = einlog.Program.from_file(einlog_program(cfg["digits"]), networks={"mnist_net": net})
    query = train.query_pattern()
    t0, c0 = time.perf_counter(), time.process_time()
    names = list(train.batch(torch.arange(1)))
    compiled_query(prog, query, names)
    compile_s, compile_cpu = time.perf_counter() - t0, time.process_time() - c0
    trainer = Trainer(prog, query, lr=1e-3, seed=cfg["seed"], progress=False)
    bs = cfg["batch_size"]
    t0, c0 = time.perf_counter(), time.process_time()
    trainer.fit(train, epochs=cfg["epochs"], batch_size=bs, shuffle=False)
    train_s, train_cpu = time.perf_counter() - t0, time.process_time() - c0
    acc, n_test = None, 0
    if len(test):
        ev = trainer.evaluate(test, batch_size=256, record=False)
        acc, n_test = ev["accuracy"], int(ev["examples"])
    net_t = _network_time(net, train, bs, None, optimizer=default_optimizer)
    return _result("einlog", cfg, bs, len(train), (train_s + compile_s, compile_s),
                   (train_cpu + compile_cpu, compile_cpu), net_t, acc, n_test)


def _result(system: str, cfg: dict[str, Any], bs: int, n_train: int,
            wall: tuple[float, float], cpu: tuple[float, float], net: tuple[float, float],
            acc: float | None, n_test: int) -> dict[str, Any]:
    """One row.  ``wall``/``cpu``: (training incl. compilation, compilation) seconds;
    ``net``: the network's own (wall, CPU) seconds per example.  Per-example figures
    and overheads are CPU seconds: on a shared machine they do not count the time the
    process waited for a core, so they stay comparable between runs under load."""
    seen = n_train * cfg["epochs"]
    per_ex = cpu[0] / seen
    steady = (cpu[0] - cpu[1]) / seen
    return {"system": system, "digits": cfg["digits"], "batch_size": bs,
            "examples": n_train, "epochs": cfg["epochs"],
            "epoch_s": wall[0] / cfg["epochs"], "compile_s": wall[1],
            "epoch_cpu_s": cpu[0] / cfg["epochs"], "compile_cpu_s": cpu[1],
            "per_example_s": per_ex, "network_per_example_s": net[1],
            "network_per_example_wall_s": net[0],
            "overhead_per_example_s": per_ex - net[1],
            "steady_overhead_per_example_s": steady - net[1],
            "accuracy": acc, "test_examples": n_test}


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
    # time the circuits it grounds and compiles inside the loop (one per distinct query)
    cache = model.solver.cache
    build = cache.func
    spent = [0.0, 0.0]

    def timed_build(q: Any) -> Any:
        t, c = time.perf_counter(), time.process_time()
        try:
            return build(q)
        finally:
            spent[0] += time.perf_counter() - t
            spent[1] += time.process_time() - c

    cache.func = timed_build
    # progress after every training batch, so a run stopped at its timeout still
    # tells how far it got (parsed by measure())
    solve = model.solver.solve
    done = [0]

    def counted_solve(batch: Any) -> Any:
        out = solve(batch)
        done[0] += len(batch)
        print(f"PROGRESS {done[0]} {time.perf_counter() - t0:.3f} "
              f"{time.process_time() - c0:.3f} {spent[0]:.3f} {spent[1]:.3f}", flush=True)
        return out

    model.solver.solve = counted_solve
    t0, c0 = time.perf_counter(), time.process_time()
    train_model(model, loader, cfg["epochs"], log_iter=10**9, profile=0)
    train_s, train_cpu = time.perf_counter() - t0, time.process_time() - c0
    model.solver.solve = solve
    compile_s, compile_cpu = spent
    circuits = len(cache.cache_dict)
    acc, n_test = None, 0
    if len(test):
        test_q = AdditionQueries(test, "test")
        acc = float(get_confusion_matrix(model, test_q, verbose=0).accuracy())
        n_test = len(test_q)
    net_t = _network_time(net, train, 2, None)
    res = _result("DeepProbLog", cfg, 2, len(train), (train_s, compile_s),
                  (train_cpu, compile_cpu), net_t, acc, n_test)
    res["circuits"] = circuits
    return res


def worker_main(cfg: dict[str, Any]) -> None:
    limit = cfg.get("memory_gb")
    if limit:  # address-space cap: a runaway grounding fails here, not the machine
        cap = int(float(limit) * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
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
    except subprocess.TimeoutExpired as exc:
        res: dict[str, Any] = {"system": cfg["system"], "digits": cfg["digits"],
                               "batch_size": cfg["batch_size"], "timeout": timeout}
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        last = [ln.split() for ln in out.splitlines() if ln.startswith("PROGRESS ")]
        if last:  # how far it got: examples, wall, CPU, compile wall, compile CPU
            k, wall, cpu, cwall, ccpu = last[-1][1:6]
            res["partial"] = {"examples": int(k), "wall_s": float(wall), "cpu_s": float(cpu),
                              "compile_s": float(cwall), "compile_cpu_s": float(ccpu)}
        return res
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            found: dict[str, Any] = json.loads(line[7:])
            found["wall_s"] = time.perf_counter() - t0
            return found
    return {"system": cfg["system"], "digits": cfg["digits"], "batch_size": cfg["batch_size"],
            "examples": cfg.get("train_size"), "memory_gb": cfg.get("memory_gb"),
            "returncode": proc.returncode, "error": (proc.stderr or proc.stdout)[-2000:]}


def _fmt(v: Any, spec: str) -> str:
    return format(v, spec) if isinstance(v, (int, float)) else "-"


def _ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b <= 0:
        return "-"
    return f"{a / b:.0f}x" if a / b >= 10 else f"{a / b:.1f}x"


def table(results: list[dict[str, Any]]) -> str:
    """Markdown table; ratios are against DeepProbLog's row of the same N, per example
    (equal to the epoch ratio when both ran the same examples)."""
    lines = [
        "| N | system | batch | train ex. | compile (s) | epoch wall (s) | epoch CPU (s) "
        "| per ex. vs DPL "
        "| peak RSS (MB) | test acc. % (test ex.) | overhead / ex. (ms) | overhead vs DPL "
        "| steady overhead / ex. (ms) | steady vs DPL | published |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for n in sorted({r["digits"] for r in results}):
        rows = [r for r in results if r["digits"] == n]
        dpl = next((r for r in rows if r["system"] == "DeepProbLog" and "epoch_s" in r), None)
        for r in rows:
            ep = f" x {r['epochs']} epochs" if r.get("epochs", 1) > 1 else ""
            head = f"| {n} | {r['system']} | {r['batch_size']} | {r.get('examples', '')}{ep} |"
            if r.get("skipped"):
                lines.append(f"{head} | not run (above --dpl-max-digits) "
                             "| | | | | | | | | | |")
                continue
            if "timeout" in r:
                part = r.get("partial")
                got = (f": {part['examples']} examples done, {part['cpu_s']:.0f} s CPU "
                       f"({part['compile_cpu_s']:.0f} s compiling)") if part \
                    else " (not one training batch done)"
                lines.append(f"{head} | did not finish in {r['timeout']:.0f} s{got} "
                             "| | | | | | | | | | |")
                continue
            if "error" in r:
                err = r["error"].strip().splitlines()[-1][:80] if r["error"].strip() else "?"
                if any(sign in r["error"] for sign in ("MemoryError", "bad_alloc", "calloc failed",
                                                       "malloc failed")):
                    err = f"out of memory (> {r.get('memory_gb', '?')} GB address space)"
                lines.append(f"{head} | error: {err} | | | | | | | | | | |")
                continue
            speed = ratio = steady = "-"
            if dpl is not None and r is not dpl:
                speed = _ratio(dpl["per_example_s"], r["per_example_s"])
                ratio = _ratio(dpl["overhead_per_example_s"], r["overhead_per_example_s"])
                steady = _ratio(dpl.get("steady_overhead_per_example_s"),
                                r.get("steady_overhead_per_example_s"))
            acc = r.get("accuracy")
            acc_s = f"{100 * acc:.2f} ({r['test_examples']})" if acc is not None else "-"
            lines.append(
                f"{head} {_fmt(r['compile_s'], '.1f')} | {_fmt(r['epoch_s'], '.1f')} | "
                f"{_fmt(r.get('epoch_cpu_s'), '.1f')} | "
                f"{speed} | {_fmt(r.get('peak_rss_mb'), '.0f')} | {acc_s} | "
                f"{_fmt(1000 * r['overhead_per_example_s'], '.3f')} | {ratio} | "
                f"{_fmt(1000 * r.get('steady_overhead_per_example_s', float('nan')), '.3f')} | "
                f"{steady} | {PUBLISHED.get(n, '-') if r['system'] == 'einlog' else ''} |")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Entry point of ``python -m einlog.bench mnist``."""
    quick = bool(getattr(args, "quick", False))
    argv = ["--quick"] if quick else []
    return main(argv)


def _per_n(items: list[str] | None, flag: str) -> dict[int, int]:
    """``["2=100", "3=10"]`` -> ``{2: 100, 3: 10}``."""
    out: dict[int, int] = {}
    for item in items or []:
        n, sep, k = item.partition("=")
        if not sep or not n.strip().isdigit() or not k.strip().isdigit():
            raise SystemExit(f"{flag} takes N=SIZE items such as 2=100, not {item!r}")
        out[int(n)] = int(k)
    return out


def _same_run(a: dict[str, Any], b: dict[str, Any]) -> bool:
    keys = ("system", "digits", "batch_size", "examples", "epochs")
    return all(a.get(k) == b.get(k) for k in keys)


def _order(r: dict[str, Any]) -> tuple[int, bool, int, int, int]:
    return (r["digits"], r["system"] != "DeepProbLog", -(r.get("examples") or 0),
            r.get("epochs", 1), r["batch_size"])


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
    ap.add_argument("--batch-size", type=int, default=16,
                    help="einlog's recommended batch (16: the largest with batch-2 accuracy "
                    "after one epoch at lr 1e-3; see benchmarks/README.md)")
    ap.add_argument("--einlog-batches", type=int, nargs="*",
                    help="einlog batch sizes to run (default: 2 and --batch-size)")
    ap.add_argument("--systems", nargs="*", choices=["einlog", "deepproblog"],
                    default=["einlog", "deepproblog"], help="which systems to run")
    ap.add_argument("--no-deepproblog", action="store_true", help="same as --systems einlog")
    ap.add_argument("--dpl-train-size", nargs="*", metavar="N=SIZE",
                    help="DeepProbLog trains on the first SIZE examples at N (e.g. 2=100 3=10)")
    ap.add_argument("--dpl-test-size", nargs="*", metavar="N=SIZE",
                    help="DeepProbLog test examples at N (0: no test)")
    ap.add_argument("--subset-einlog", action="store_true",
                    help="also run einlog on DeepProbLog's subset, for like-for-like rows")
    ap.add_argument("--dpl-timeout", type=float, default=3600.0,
                    help="seconds before a DeepProbLog run counts as not finished")
    ap.add_argument("--dpl-max-digits", type=int, default=3,
                    help="skip DeepProbLog above this N (it does not finish N = 4)")
    ap.add_argument("--dpl-memory-gb", type=float, default=16.0,
                    help="address-space limit of a DeepProbLog run (its N >= 3 grounding "
                    "grows without bound); 0: none")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads per run")
    ap.add_argument("--data-dir", help="folder with the MNIST IDX files")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default="benchmarks/results/mnist.json")
    ap.add_argument("--merge", action="store_true",
                    help="add to the results already in --json (a rerun replaces its row)")
    ap.add_argument("--table", nargs="*", metavar="FILE",
                    help="only print the table of the results in FILEs (default: --json); "
                    "with FILEs, also write their union to --json")
    args = ap.parse_args(argv)
    if args.worker:
        worker_main(json.loads(args.worker))
        return 0
    out = Path(args.json)
    if args.table is not None:
        merged: list[dict[str, Any]] = []
        for f in args.table or [str(out)]:
            for r in json.loads(Path(f).read_text()):
                merged = [m for m in merged if not _same_run(m, r)] + [r]
        merged.sort(key=_order)
        print(table(merged))
        if args.table:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(merged, indent=2))
        return 0
    systems = set(args.systems)
    if args.no_deepproblog:
        systems.discard("deepproblog")
    digits = args.digits or ([1, 2] if args.quick else [1, 2, 3, 4])
    # DeepProbLog compiles (and keeps) one SDD per distinct N = 2 sum, ~50 MB each, and
    # answers a test query in about a second: 100 pairs (77 sums, ~4 GB) and no N = 2
    # test set keep a quick run to minutes and inside the memory cap
    sizes = {1: 3000, 2: 100} if args.quick else {}
    test_sizes = {1: 1000, 2: 0} if args.quick else {}
    dpl_sizes = _per_n(args.dpl_train_size, "--dpl-train-size")
    dpl_tests = _per_n(args.dpl_test_size, "--dpl-test-size")
    batches = args.einlog_batches if args.einlog_batches is not None \
        else sorted({2, args.batch_size})
    import tempfile

    tmp = tempfile.mkdtemp(prefix="einlog-bench-mnist-")
    results: list[dict[str, Any]] = []
    for n in digits:
        base = {"digits": n, "epochs": args.epochs, "seed": args.seed, "tmp": tmp,
                "train_size": args.train_size or sizes.get(n),
                "test_size": args.test_size if args.test_size is not None
                else test_sizes.get(n),
                "data_dir": args.data_dir, "threads": args.threads}
        runs: list[dict[str, Any]] = []
        dpl = {**base, "system": "DeepProbLog", "batch_size": 2,
               "memory_gb": args.dpl_memory_gb}
        if n in dpl_sizes:
            dpl["train_size"] = dpl_sizes[n]
        if n in dpl_tests:
            dpl["test_size"] = dpl_tests[n]
        if "deepproblog" in systems and n <= args.dpl_max_digits:
            runs.append(dpl)
        if "einlog" in systems:
            for bs in batches:
                runs.append({**base, "system": "einlog", "batch_size": bs})
            if args.subset_einlog and n in dpl_sizes:
                for bs in batches:
                    runs.append({**base, "system": "einlog", "batch_size": bs,
                                 "train_size": dpl_sizes[n], "test_size": dpl["test_size"]})
        for cfg in runs:
            timeout = args.dpl_timeout if cfg["system"] == "DeepProbLog" else 4 * 3600.0
            print(f"-- N={n} {cfg['system']} batch {cfg['batch_size']} "
                  f"train {cfg['train_size'] or 'all'} ...", flush=True)
            res = measure(cfg, timeout)
            if "examples" not in res and cfg["train_size"]:
                res["examples"] = cfg["train_size"]
            print("   " + json.dumps({k: v for k, v in res.items() if k != "error"}), flush=True)
            if "error" in res:
                print(res["error"], file=sys.stderr)
            results.append(res)
        if "deepproblog" in systems and n > args.dpl_max_digits:
            results.append({"system": "DeepProbLog", "digits": n, "batch_size": 2,
                            "timeout": args.dpl_timeout, "skipped": True})
    if args.merge and out.exists():
        old = [r for r in json.loads(out.read_text())
               if not any(_same_run(r, new) for new in results)]
        results = old + results
    results.sort(key=_order)
    print()
    print(table(results))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
