"""``python -m einlog.bench [suite ...] [--quick]``: run benchmark suites side by side.

Why suites are discovered, not listed: each suite is a module of this
package (``grounding``, later ``exact``, ``mnist`` ...) that exposes
``DESCRIPTION`` and ``run(args) -> int``; dropping a new module in adds a
suite without touching this file.  Helpers start with ``_`` and are skipped.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from types import ModuleType

import einlog.bench as pkg


def suites() -> dict[str, ModuleType]:
    found: dict[str, ModuleType] = {}
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"einlog.bench.{info.name}")
        if callable(getattr(mod, "run", None)):
            found[info.name] = mod
    return found


def main(argv: list[str] | None = None) -> int:
    available = suites()
    ap = argparse.ArgumentParser(
        prog="python -m einlog.bench",
        description="Benchmarks of einlog against its peers (SWI-Prolog, ProbLog, ...).",
    )
    ap.add_argument("suites", nargs="*", metavar="SUITE",
                    help=f"suites to run (default: all): {', '.join(available)}")
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    ap.add_argument("--timeout", type=float, default=60.0,
                    help="seconds per peer measurement before it counts as a timeout")
    ap.add_argument("--markdown", metavar="FILE", help="also write the results as markdown")
    args = ap.parse_args(argv)
    names = args.suites or list(available)
    unknown = [n for n in names if n not in available]
    if unknown:
        ap.error(f"unknown suite(s) {', '.join(unknown)}; choose from {', '.join(available)}")
    rc = 0
    for name in names:
        mod = available[name]
        print(f"== {name}: {getattr(mod, 'DESCRIPTION', '')}", flush=True)
        rc |= int(mod.run(args) or 0)
    return rc


if __name__ == "__main__":
    sys.exit(main())
