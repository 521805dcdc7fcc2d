"""Grounding benchmark: einlog's columnar grounder vs SWI-Prolog tabling vs ProbLog.

Why it is built this way:

* every system runs in its own process, started through
  :mod:`einlog.bench._measure`, so peak memory (``ru_maxrss``) and process
  wall time are measured the same way for all three;
* each program prints its own timings, so interpreter start-up is excluded
  from the "ground" / "query" columns (SWI-Prolog: ``statistics/2`` around
  loading the facts and around the query; einlog: ``perf_counter`` around
  parse, front end and grounding; ProbLog: around ``ground_all``);
* all systems get the same generated facts (fixed seed) and must agree on
  the number of answers, which the table shows;
* einlog and SWI-Prolog run :data:`REPEATS` times each, interleaved, and the
  fastest run of each counts (on a shared machine a single run can be 1.5x
  off either way); ProbLog, minutes per case, runs once.

Cases: transitive closure of random digraphs (nodes = edges), same
generation on a complete binary tree, and a three-way cyclic join
(triangles) over 100 000 facts.  ``--quick`` shrinks every case.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

DESCRIPTION = "grounding: einlog (columnar) vs SWI-Prolog tabling vs ProbLog ground_all"
SEED = 0
#: Runs of einlog and of SWI-Prolog per case (interleaved); the fastest of each is reported.
REPEATS = 3


@dataclass
class Case:
    name: str
    facts: list[str]
    rules: str
    tabled: list[str]
    query: str  # e.g. path(X,Y)
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


# ----------------------------------------------------------------------------- generators
def tc_case(edges: int, seed: int = SEED) -> Case:
    rng = random.Random(seed)
    nodes = edges
    es: set[tuple[int, int]] = set()
    while len(es) < edges:
        es.add((rng.randrange(nodes), rng.randrange(nodes)))
    facts = [f"edge(n{a},n{b})." for a, b in sorted(es)]
    rules = "path(X,Y) :- edge(X,Y).\npath(X,Y) :- edge(X,Z), path(Z,Y).\n"
    return Case(f"tc-{edges}", facts, rules, ["path/2"], "path(X,Y)",
                f"random digraph, {nodes} nodes, {edges} edges")


def sg_case(depth: int, branching: int = 2) -> Case:
    facts: list[str] = []
    level = [0]
    nxt_id = 1
    for _ in range(depth):
        new = []
        for p in level:
            for _ in range(branching):
                facts.append(f"par(t{nxt_id},t{p}).")
                new.append(nxt_id)
                nxt_id += 1
        level = new
    rules = ("sg(X,Y) :- par(X,P), par(Y,P).\n"
             "sg(X,Y) :- par(X,XP), sg(XP,YP), par(Y,YP).\n")
    return Case(f"sg-tree-d{depth}", facts, rules, ["sg/2"], "sg(X,Y)",
                f"same generation, complete {branching}-ary tree of depth {depth} "
                f"({nxt_id} nodes)")


def join_case(total_facts: int, nodes: int, seed: int = SEED) -> Case:
    rng = random.Random(seed)
    per = total_facts // 3
    facts: list[str] = []
    for rel in ("e1", "e2", "e3"):
        es: set[tuple[int, int]] = set()
        while len(es) < per:
            es.add((rng.randrange(nodes), rng.randrange(nodes)))
        facts.extend(f"{rel}(v{a},v{b})." for a, b in sorted(es))
    rules = "tri(X,Y,Z) :- e1(X,Y), e2(Y,Z), e3(Z,X).\n"
    return Case(f"join3-{3 * per}", facts, rules, ["tri/3"], "tri(X,Y,Z)",
                f"triangles e1(X,Y), e2(Y,Z), e3(Z,X); {3 * per} facts over {nodes} nodes")


def cases(quick: bool) -> list[Case]:
    if quick:
        return [tc_case(300), tc_case(1000), sg_case(6), join_case(6000, 300)]
    return [tc_case(1000), tc_case(5000), tc_case(20000), sg_case(10),
            join_case(100_000, 2000)]


# ----------------------------------------------------------------------------- files
def einlog_text(c: Case) -> str:
    return "\n".join(c.facts) + "\n" + c.rules + f"query({c.query}).\n"


def swipl_files(c: Case, d: str) -> str:
    facts = os.path.join(d, f"{c.name}_facts.pl")
    with open(facts, "w") as fh:
        fh.write("\n".join(c.facts) + "\n")
    prog = os.path.join(d, f"{c.name}_swi.pl")
    goal = c.query
    with open(prog, "w") as fh:
        for t in c.tabled:
            fh.write(f":- table {t}.\n")
        fh.write(c.rules)
        fh.write(
            "main :-\n"
            "    statistics(cputime, C0), statistics(walltime, [W0, _]),\n"
            f"    load_files('{facts}', [silent(true)]),\n"
            "    statistics(cputime, C1), statistics(walltime, [W1, _]),\n"
            f"    aggregate_all(count, {goal}, N),\n"
            "    statistics(cputime, C2), statistics(walltime, [W2, _]),\n"
            "    L is C1 - C0, Q is C2 - C1, LW is (W1 - W0) / 1000, QW is (W2 - W1) / 1000,\n"
            "    format('{\"count\": ~w, \"load_cpu\": ~4f, \"query_cpu\": ~4f, "
            "\"load\": ~4f, \"query\": ~4f}~n', [N, L, Q, LW, QW]).\n"
        )
    return prog


# ----------------------------------------------------------------------------- children
def child_einlog(path: str) -> None:
    t0 = time.perf_counter()
    import einlog.ground.builtins
    import einlog.ground.columnar
    import einlog.ground.strata  # noqa: F401  (module imports are start-up, not grounding)
    from einlog.front import compile_program
    from einlog.ground import GroundingLimits, ground
    from einlog.syntax import parse_program

    t1 = time.perf_counter()
    with open(path) as fh:
        text = fh.read()
    ast = parse_program(text, name=path)
    t2 = time.perf_counter()
    ir = compile_program(ast)
    t3 = time.perf_counter()
    limits = GroundingLimits(max_atoms=10**9, max_answers_per_predicate=10**9)
    g = ground(ir, None, limits)
    t4 = time.perf_counter()
    count = sum(len(v) for v in g.answers.values())
    print(json.dumps({"count": count, "import": t1 - t0, "parse": t2 - t1, "front": t3 - t2,
                      "ground": t4 - t3, "total": t4 - t1, "engine": g.stats.engine}))


def child_problog(path: str) -> None:
    from problog.engine import DefaultEngine
    from problog.program import PrologString

    with open(path) as fh:
        text = fh.read()
    t0 = time.perf_counter()
    eng = DefaultEngine()
    db = eng.prepare(PrologString(text))
    t1 = time.perf_counter()
    gp = eng.ground_all(db)
    t2 = time.perf_counter()
    count = sum(1 for _ in gp.queries())
    print(json.dumps({"count": count, "parse": t1 - t0, "ground": t2 - t1, "total": t2 - t0}))


# ----------------------------------------------------------------------------- measuring
def measure(cmd: list[str], timeout: float) -> dict[str, Any]:
    wrapper = [sys.executable, "-m", "einlog.bench._measure", str(timeout), *cmd]
    proc = subprocess.run(wrapper, capture_output=True, text=True)
    try:
        res: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return {"error": proc.stderr[-2000:] or "no output"}
    if res["timeout"]:
        return {"timeout": True, "wall": res["wall"], "rss_mb": res["rss_mb"]}
    if res["rc"] != 0:
        return {"error": res["stderr"][-2000:], "wall": res["wall"]}
    try:
        inner = json.loads(res["stdout"].strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return {"error": "unparsable output: " + res["stdout"][-500:]}
    inner.update(wall=res["wall"], rss_mb=res["rss_mb"])
    return inner


def _best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The fastest complete run (by total time), with the largest peak memory of all runs."""
    done = [r for r in runs if "total" in r]
    if not done:
        return runs[0]
    best = dict(min(done, key=lambda r: r["total"]))
    best["rss_mb"] = max(r["rss_mb"] for r in done)
    best["runs"] = len(done)
    return best


def _fmt_t(r: dict[str, Any], key: str, timeout: float) -> str:
    if r.get("skipped"):
        return "skipped"
    if r.get("timeout"):
        return f"timeout (>{timeout:g} s)"
    if "error" in r:
        return "error"
    return f"{r[key]:.3f}"


def _ratio(peer: dict[str, Any], key: str, mine: float, timeout: float) -> str:
    if peer.get("skipped") or "error" in peer:
        return "-"
    if peer.get("timeout"):
        return f">= {timeout / mine:.0f}x"
    return f"{peer[key] / mine:.1f}x"


def run(args: Any) -> int:
    quick = bool(getattr(args, "quick", False))
    timeout = float(getattr(args, "timeout", 60.0))
    swipl = shutil.which("swipl")
    if swipl is None:
        print("SWI-Prolog (swipl) not found: the SWI-Prolog peer is skipped "
              "(install it with `make bench-setup`).")
    try:
        import problog  # noqa: F401

        have_problog = True
    except ImportError:
        have_problog = False
        print("ProbLog not installed: the ProbLog peer is skipped.")
    rows = []
    bad = 0
    with tempfile.TemporaryDirectory(prefix="einlog-bench-") as d:
        for c in cases(quick):
            path = os.path.join(d, f"{c.name}.pl")
            with open(path, "w") as fh:
                fh.write(einlog_text(c))
            prog = swipl_files(c, d) if swipl is not None else ""
            mine: list[dict[str, Any]] = []
            swis: list[dict[str, Any]] = []
            for _ in range(REPEATS):
                mine.append(measure([sys.executable, "-m", "einlog.bench.grounding",
                                     "--child-einlog", path], timeout=max(600.0, timeout)))
                if swipl is not None:
                    r = measure([swipl, "-g", "main", "-t", "halt", prog],
                                timeout=max(600.0, timeout))
                    if "query" in r:
                        r["total"] = r["load"] + r["query"]
                    swis.append(r)
            me = _best(mine)
            sw: dict[str, Any] = _best(swis) if swis else {"skipped": True}
            pl: dict[str, Any] = {"skipped": True}
            if have_problog:
                pl = measure([sys.executable, "-m", "einlog.bench.grounding", "--child-problog",
                              path], timeout=timeout)
            counts = {k: r["count"] for k, r in (("einlog", me), ("swipl", sw), ("problog", pl))
                      if "count" in r}
            agree = len(set(counts.values())) <= 1
            if not agree or "error" in me:
                bad = 1
            rows.append((c, me, sw, pl, counts, agree))
            _print_row(c, me, sw, pl, counts, agree, timeout)
    table = markdown(rows, timeout)
    print()
    print(table)
    out = getattr(args, "markdown", None)
    if out:
        with open(out, "w") as fh:
            fh.write(table + "\n")
    return bad


def _print_row(c: Case, me: dict[str, Any], sw: dict[str, Any], pl: dict[str, Any],
               counts: dict[str, int], agree: bool, timeout: float) -> None:
    print(f"-- {c.name}: {c.notes}")
    if "error" in me:
        print(f"   einlog error: {me['error']}")
        return
    print(f"   answers {counts} {'agree' if agree else 'DISAGREE'}; einlog and swipl: "
          f"fastest of {REPEATS} runs")
    print(f"   einlog  parse {me['parse']:.3f} s  front {me['front']:.3f} s  ground "
          f"{me['ground']:.3f} s  total {me['total']:.3f} s  process {me['wall']:.2f} s  "
          f"peak {me['rss_mb']:.0f} MiB  engine {me['engine']}")
    if not sw.get("skipped"):
        if "query" in sw:
            print(f"   swipl   load {sw['load']:.3f} s  query {sw['query']:.3f} s  total "
                  f"{sw['total']:.3f} s  process {sw['wall']:.2f} s  peak {sw['rss_mb']:.0f} MiB")
        else:
            print(f"   swipl   {_fmt_t(sw, 'query', timeout)} {sw.get('error', '')}")
    if not pl.get("skipped"):
        if "total" in pl:
            print(f"   problog ground_all {pl['ground']:.3f} s  total {pl['total']:.3f} s  "
                  f"process {pl['wall']:.2f} s  peak {pl['rss_mb']:.0f} MiB")
        else:
            print(f"   problog {_fmt_t(pl, 'total', timeout)} {pl.get('error', '')[:300]}")
    sys.stdout.flush()


def markdown(rows: list[Any], timeout: float) -> str:
    head = ("| case | answers | einlog ground / total (s) | einlog peak MiB | "
            "SWI query / load+query (s) | SWI peak MiB | ProbLog total (s) | ProbLog peak MiB | "
            "SWI / einlog (total) | SWI query / einlog ground | ProbLog / einlog (total) |")
    lines = [head, "|" + "---|" * 11]
    for c, me, sw, pl, _counts, agree in rows:
        if "error" in me:
            lines.append(f"| {c.name} | einlog error | | | | | | | | | |")
            continue
        ans = str(me["count"]) + ("" if agree else " (DISAGREE)")
        sw_t = (f"{sw['query']:.3f} / {sw['total']:.3f}" if "query" in sw
                else _fmt_t(sw, "query", timeout))
        sw_m = f"{sw['rss_mb']:.0f}" if "query" in sw else "-"
        pl_t = f"{pl['total']:.3f}" if "total" in pl else _fmt_t(pl, "total", timeout)
        pl_m = f"{pl['rss_mb']:.0f}" if "total" in pl else "-"
        r_sw = _ratio(sw, "total", me["total"], timeout) if "query" in sw else "-"
        r_swq = _ratio(sw, "query", me["ground"], timeout) if "query" in sw else "-"
        r_pl = _ratio(pl, "total", me["total"], timeout)
        lines.append(f"| {c.name} | {ans} | {me['ground']:.3f} / {me['total']:.3f} | "
                     f"{me['rss_mb']:.0f} | {sw_t} | {sw_m} | {pl_t} | {pl_m} | {r_sw} | "
                     f"{r_swq} | {r_pl} |")
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child-einlog":
        child_einlog(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "--child-problog":
        child_problog(sys.argv[2])
    else:
        from einlog.bench.__main__ import main

        sys.exit(main(["grounding", *sys.argv[1:]]))
