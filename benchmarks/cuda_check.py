"""One prepared CUDA check for a lent GPU: correctness first, then speed.

Why a single script: GPU time is scarce (minutes per session), so everything
that needs the device runs in one process with a wall-clock budget, writing
its results as it goes (``--out``), so that a run cut short still reports.

Stage 1 (correctness, the issue's "CUDA gives the same values as CPU to
1e-6"): exact circuits of the classic programs (``tests/lang/exact``) and of
the benchmark families, batched over random weight vectors, values and
gradients on CPU and CUDA in float64 and float32; neural MNIST-addition
queries (N = 1, 2) with the same network on both devices, values and the
network's gradients.

Stage 2 (speed): MNIST addition trained for one epoch on the GPU for each N,
with test accuracy and the network's own time per example (same batches, a
copy of the network), so the reasoning overhead on the GPU is visible; the
N = 1 epoch also on CPU in the same run for a same-machine ratio.

Usage: ``python benchmarks/cuda_check.py --data DIR --out DIR [--budget S]``;
``--device cpu --quick`` is a dry run on a machine without a GPU.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import einlog  # noqa: E402
from einlog.bench.exact import FAMILIES  # noqa: E402
from einlog.bench.mnist import einlog_program  # noqa: E402
from einlog.circuit.exact import ExactEngine, leaf_tensor  # noqa: E402
from einlog.data import addition_dataset, load_mnist  # noqa: E402
from einlog.learn import Trainer  # noqa: E402
from einlog.neural import MNISTNet, compiled_query  # noqa: E402

RESULTS: dict[str, Any] = {"stages": {}}
START = time.perf_counter()


def log(msg: str) -> None:
    print(f"[{time.perf_counter() - START:7.1f}s] {msg}", flush=True)


def save(out: Path) -> None:
    (out / "cuda_check.json").write_text(json.dumps(RESULTS, indent=1, default=str))


# ----------------------------------------------------------------- correctness
def exact_programs(quick: bool) -> list[tuple[str, str]]:
    progs = [(p.stem, p.read_text()) for p in sorted((ROOT / "tests/lang/exact").glob("*.pl"))]
    wanted = {"graph": 14, "grid": 3, "smokers": 10, "bn": 40}
    for family, (make, _quick_sizes, _sizes) in FAMILIES.items():
        size = wanted.get(family)
        if size is not None and not quick:
            progs.append((f"{family}-{size}", make(size).text))
    return progs


def check_exact(dev: torch.device, quick: bool) -> list[dict[str, Any]]:
    rows = []
    gen = torch.Generator().manual_seed(0)
    for name, text in exact_programs(quick):
        prog = einlog.Program.from_string(text, name=f"{name}.pl")
        gp = prog.ground().program
        eng = ExactEngine(gp)
        base = leaf_tensor(gp)
        batch = 256
        scale = 0.5 + 0.5 * torch.rand(batch, base.shape[0], generator=gen, dtype=torch.float64)
        p = base * scale  # scaling down keeps every AD group's sum <= 1
        row: dict[str, Any] = {"program": name, "leaves": int(base.shape[0]),
                               "edges": eng.circuit_size.get("edges")}
        for dtype, tol in ((torch.float64, 1e-12), (torch.float32, 1e-6)):
            pc = p.to(dtype).clone().requires_grad_(True)
            pg = p.to(dtype).to(dev).clone().requires_grad_(True)
            vc = eng.probabilities(pc)
            vg = eng.probabilities(pg)
            vc.sum().backward()
            vg.sum().backward()
            assert pc.grad is not None and pg.grad is not None
            dv = float((vg.detach().cpu() - vc.detach()).abs().max())
            dgrad = float((pg.grad.cpu() - pc.grad).abs().max())
            # log space: the training path (flat sum of products for small circuits)
            lc_in = p.to(dtype).clone().requires_grad_(True)
            lg_in = p.to(dtype).to(dev).clone().requires_grad_(True)
            lc = eng.log_probabilities(lc_in)
            lg = eng.log_probabilities(lg_in)
            fin = torch.isfinite(lc.detach())
            lc[fin].sum().backward()
            lg[fin.to(dev)].sum().backward()
            assert lc_in.grad is not None and lg_in.grad is not None
            dlv = float((lg.detach().cpu()[fin] - lc.detach()[fin]).abs().max())
            dlg = float((lg_in.grad.cpu() - lc_in.grad).abs().max())
            key = "f64" if dtype == torch.float64 else "f32"
            row[f"{key}_value_maxdiff"] = dv
            row[f"{key}_grad_maxdiff"] = dgrad
            row[f"{key}_log_value_maxdiff"] = dlv
            row[f"{key}_log_grad_maxdiff"] = dlg
            row["flat"] = eng.circuit().flat is not None
            row[f"{key}_ok"] = (
                dv <= tol and dgrad <= tol * max(1.0, float(pc.grad.abs().max()))
                and dlv <= tol * max(1.0, float(lc.detach()[fin].abs().max()))
                and dlg <= tol * max(1.0, float(lc_in.grad.abs().max()))
            )
        rows.append(row)
        log(f"exact {name}: {row}")
    return rows


def check_neural(dev: torch.device, data: Path, digits_list: list[int]) -> list[dict[str, Any]]:
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    test_imgs = load_mnist("test", data)
    rows = []
    for n in digits_list:
        torch.manual_seed(0)
        net_cpu = MNISTNet().double()
        net_gpu = copy.deepcopy(net_cpu).to(dev)
        ds = addition_dataset(test_imgs, n, seed=0, size=256)
        batch = ds.batch(torch.arange(len(ds)))
        out: dict[str, Any] = {"digits": n, "examples": len(ds)}
        grads = []
        values = []
        for net, device in ((net_cpu, torch.device("cpu")), (net_gpu, dev)):
            prog = einlog.Program.from_file(einlog_program(n), networks={"mnist_net": net})
            nq = compiled_query(prog, ds.query_pattern(), list(batch))
            tensors = {k: v.double().to(device) for k, v in batch.items() if k in nq.tensor_vars}
            answers = {k: v for k, v in batch.items() if k not in nq.tensor_vars}
            log_p, _ = nq.log_likelihood(tensors, answers)
            (-log_p.sum()).backward()
            values.append(log_p.detach().cpu())
            grads.append(torch.cat([q.grad.reshape(-1).cpu() for q in net.parameters()
                                    if q.grad is not None]))
        out["logp_maxdiff"] = float((values[0] - values[1]).abs().max())
        out["grad_maxdiff"] = float((grads[0] - grads[1]).abs().max())
        out["grad_maxabs"] = float(grads[0].abs().max())
        out["ok"] = out["logp_maxdiff"] <= 1e-6 and out["grad_maxdiff"] <= 1e-6 * max(
            1.0, out["grad_maxabs"])
        rows.append(out)
        log(f"neural N={n}: {out}")
    return rows


# ----------------------------------------------------------------------- speed
def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize()


def network_seconds(net: torch.nn.Module, train: Any, bs: int, dev: torch.device) -> float:
    net = copy.deepcopy(net)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    imgs = train.images.images.to(dev)
    _sync(dev)
    t0 = time.perf_counter()
    for start in range(0, len(train), bs):
        idx = train.index[start : start + bs].reshape(-1).to(dev)
        opt.zero_grad()
        out = net(imgs[idx])
        (-torch.log(out.clamp_min(1e-12)).mean()).backward()
        opt.step()
    _sync(dev)
    return time.perf_counter() - t0


def train_run(n: int, bs: int, dev: torch.device, data: Path, size: int | None,
              deadline: float, epochs: int = 1) -> dict[str, Any]:
    torch.manual_seed(0)
    net = MNISTNet()
    train = addition_dataset(load_mnist("train", data), n, seed=0, size=size)
    test = addition_dataset(load_mnist("test", data), n, seed=1, size=size)
    train.images.images = train.images.images.to(dev)
    test.images.images = test.images.images.to(dev)
    prog = einlog.Program.from_file(einlog_program(n), networks={"mnist_net": net})
    t0 = time.perf_counter()
    compiled_query(prog, train.query_pattern(), list(train.batch(torch.arange(1))))
    compile_s = time.perf_counter() - t0
    if time.perf_counter() > deadline:
        return {"digits": n, "batch_size": bs, "compile_s": compile_s, "skipped": "budget"}
    trainer = Trainer(prog, train.query_pattern(), lr=1e-3, seed=0, progress=False, device=dev)
    curve = []
    epoch_s = 0.0
    for epoch in range(epochs):
        _sync(dev)
        t0 = time.perf_counter()
        trainer.fit(train, epochs=1, batch_size=bs, shuffle=epoch > 0)
        _sync(dev)
        epoch_s += time.perf_counter() - t0
        ev = trainer.evaluate(test, batch_size=1024, record=False)
        curve.append(round(float(ev["accuracy"]), 4))
        if time.perf_counter() > deadline:
            break
    epoch_s /= len(curve)
    net_s = network_seconds(net, train, bs, dev)
    per_ex = epoch_s / len(train)
    return {"digits": n, "device": str(dev), "batch_size": bs, "train_examples": len(train),
            "compile_s": compile_s, "epoch_s": epoch_s, "network_s": net_s,
            "overhead_per_example_ms": 1e3 * (per_ex - net_s / len(train)),
            "test_examples": int(ev["examples"]), "test_accuracy": ev["accuracy"],
            "epochs": len(curve), "accuracy_per_epoch": curve}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True, help="folder with the MNIST IDX files")
    ap.add_argument("--out", type=Path, default=Path("."))
    ap.add_argument("--budget", type=float, default=420.0, help="seconds for the whole run")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--quick", action="store_true", help="tiny sizes (dry run)")
    ap.add_argument("--digits", type=int, nargs="*", default=[1, 2, 3, 4])
    ap.add_argument("--train-only", action="store_true",
                    help="skip the correctness stages; train each N with --batch, --epochs")
    ap.add_argument("--check-only", action="store_true", help="only the correctness stages")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--epochs", type=int, default=1)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    dev = torch.device(args.device)
    deadline = START + args.budget
    torch.set_num_threads(1)
    RESULTS["env"] = {"torch": torch.__version__, "python": sys.version.split()[0],
                      "device": torch.cuda.get_device_name(0) if dev.type == "cuda" else "cpu"}
    log(f"env {RESULTS['env']}")
    if not args.train_only:
        RESULTS["stages"]["exact"] = check_exact(dev, args.quick)
        save(args.out)
        RESULTS["stages"]["neural"] = check_neural(dev, args.data, [1, 2])
        save(args.out)
    size = 600 if args.quick else None
    runs: list[dict[str, Any]] = []
    RESULTS["stages"]["train"] = runs
    if args.check_only:
        plan = []
    elif args.train_only:
        plan = [(n, args.batch, dev) for n in args.digits]
    else:
        plan = [(1, 32, dev), (1, 256, dev), (1, 32, torch.device("cpu"))]
        plan += [(n, 256, dev) for n in args.digits if n > 1]
    for n, bs, d in plan:
        if time.perf_counter() > deadline:
            runs.append({"digits": n, "batch_size": bs, "device": str(d), "skipped": "budget"})
            continue
        try:
            r = train_run(n, bs, d, args.data, size, deadline,
                          args.epochs if args.train_only else 1)
        except Exception as e:  # report and go on: the other stages still count
            r = {"digits": n, "batch_size": bs, "device": str(d), "error": repr(e)}
        runs.append(r)
        log(f"train {r}")
        save(args.out)
    ok = all(r.get("f64_ok") and r.get("f32_ok") for r in RESULTS["stages"].get("exact", []))
    ok = ok and all(r["ok"] for r in RESULTS["stages"].get("neural", []))
    RESULTS["all_equal"] = ok
    save(args.out)
    log(f"all values equal within tolerance: {ok}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
