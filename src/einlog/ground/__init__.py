"""Grounding: from the IR and a set of queries to a :class:`GroundProgram` with provenance.

Two engines share one entry point, :func:`ground`:

* ``topdown`` (:mod:`einlog.ground.topdown`): SLD resolution with variant
  tabling; handles everything (function symbols, lists, builtins,
  aggregates, choices, neural predicates) and grounds only what the queries
  need.
* ``columnar`` (:mod:`einlog.ground.columnar`, written separately): a
  vectorized bottom-up engine for function-free Datalog parts; it returns
  ``None`` when the program (or the part the queries need) is not eligible.

``engine="auto"`` (the default) asks the columnar engine first when it is
installed and falls back to top-down when it declines; ``"topdown"`` and
``"columnar"`` force one engine (differential tests compare the two).

Except for small programs asked only ground goals (:func:`_small_and_ground`):
there top-down goes straight to the few atoms the goals reach, while the
columnar engine pays tens of microseconds of numpy set-up per rule and join
(measured on the exact-inference benchmark programs: reachability on 8-32
nodes, smokers, grids, Bayesian networks with up to 3 000 rules, top-down
grounded them 2-8x faster; ground goals on 100-3 000 fact graphs and joins
were no slower top-down).  Open goals such as ``path(X,Y)`` over even 50
facts are 2-16x faster bottom-up, so they keep the columnar engine.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Sequence
from typing import Any, Literal

from einlog._gc import bulk_build
from einlog.errors import ConfigError, UnsupportedError
from einlog.ground.program import AtomTable, GroundProgram, GroundWeight
from einlog.ground.result import Grounding, GroundingLimits, GroundingStats
from einlog.ir.nodes import IRProgram
from einlog.terms import Struct, is_ground

__all__ = [
    "ground",
    "ground_topdown",
    "Grounding",
    "GroundingLimits",
    "GroundingStats",
    "GroundProgram",
    "GroundWeight",
    "AtomTable",
    "ENGINES",
    "SMALL_FACTS",
]

Engine = Literal["auto", "topdown", "columnar"]
ENGINES = ("auto", "topdown", "columnar")
#: ``engine="auto"`` grounds top-down when every goal is ground and the program has at
#: most this many facts (see the module docstring)
SMALL_FACTS = 2000


def _small_and_ground(ir: IRProgram, queries: Sequence[Struct] | None) -> bool:
    """True when ``ir`` has at most :data:`SMALL_FACTS` facts and every query and
    evidence atom is ground (and there is at least one)."""
    goals = list(ir.queries if queries is None else queries)
    goals += [a for a, _ in ir.evidence]
    if not goals or not all(is_ground(g) for g in goals):
        return False
    budget = SMALL_FACTS
    for facts in ir.facts.values():
        budget -= len(facts)
        if budget < 0:
            return False
    return True


def _columnar() -> Any | None:
    try:
        return importlib.import_module("einlog.ground.columnar")
    except ImportError:
        return None


def ground(
    ir: IRProgram,
    queries: Sequence[Struct] | None = None,
    limits: GroundingLimits | None = None,
    *,
    engine: Engine = "auto",
) -> Grounding:
    """Ground ``ir`` for ``queries`` (default: the program's queries) and its evidence.

    Queries may contain variables; their answers are the ground instances
    derivable in at least one possible world (see :class:`Grounding`).
    Raises :class:`~einlog.errors.GroundingError` (bad builtin arguments,
    probabilities out of range), :class:`~einlog.errors.GroundingLimitError`
    (grounding does not terminate within ``limits``) or
    :class:`~einlog.errors.UnsupportedError`.
    """
    if engine not in ENGINES:
        raise ConfigError(
            f"unknown grounding engine {engine!r}",
            None,
            f"choose one of {', '.join(ENGINES)}",
        )
    limits = limits if limits is not None else GroundingLimits()
    # Grounding builds many long-lived objects (atoms, tables): with the cyclic GC
    # running, a full collection in a process that imported torch scans every
    # imported object too (~0.1 s measured inside a 5 ms grounding).
    return bulk_build(lambda: _dispatch(ir, queries, limits, engine))


def _dispatch(ir: IRProgram, queries: Sequence[Struct] | None, limits: GroundingLimits,
              engine: Engine) -> Grounding:
    if engine == "auto" and _small_and_ground(ir, queries):
        engine = "topdown"
    # bottom-up cannot bind head arguments from the call (IRProgram.call_bound)
    if engine in ("auto", "columnar") and not ir.call_bound:
        mod = _columnar()
        fn = getattr(mod, "ground_columnar", None) if mod is not None else None
        if fn is not None:
            result = fn(ir, queries, limits)
            if result is not None:
                return _normalize(result)
        if engine == "columnar":
            raise UnsupportedError(
                "the columnar grounding engine cannot ground this program",
                None,
                "use engine='topdown' (or 'auto') for programs with function symbols, "
                "builtins that build terms, or aggregates",
            )
    return ground_topdown(ir, queries, limits)


def _normalize(result: Any) -> Grounding:
    """Give an engine's result the dispatcher's shape (stats as :class:`GroundingStats`)."""
    stats = result.stats
    if isinstance(stats, dict):
        seconds = float(stats.get("fixpoint_s", 0.0)) + float(stats.get("assemble_s", 0.0))
        gp = result.program
        stats = GroundingStats(
            engine=str(stats.get("engine", "columnar")),
            num_atoms=gp.num_atoms,
            num_rules=gp.num_rules,
            num_leaves=int(gp.leaves.shape[0]),
            seconds=float(stats.get("seconds", seconds)),
            extra=dict(stats),
        )
    if isinstance(result, Grounding):
        result.stats = stats
        return result
    return Grounding(result.program, dict(result.answers), stats)


def ground_topdown(
    ir: IRProgram,
    queries: Sequence[Struct] | None = None,
    limits: GroundingLimits | None = None,
) -> Grounding:
    """Ground with the tabled top-down engine (see :mod:`einlog.ground.topdown`)."""
    from einlog.ground.topdown import run_grounding

    return run_grounding(_ground_topdown, ir, queries, limits or GroundingLimits())


def _ground_topdown(
    ir: IRProgram, queries: Sequence[Struct] | None, limits: GroundingLimits
) -> Grounding:
    from einlog.ground.build import build_program
    from einlog.ground.builtins import order_key
    from einlog.ground.topdown import TopDownGrounder

    t0 = time.perf_counter()
    g = TopDownGrounder(ir, limits)
    qs = list(ir.queries if queries is None else queries)
    evidence = list(ir.evidence)  # conditioning applies to explicit queries too
    raw, per_query = g.ground_queries(qs, evidence)
    # the front end's strata when they cover every predicate, else our own
    table = ir.strata if g.ir_strata_complete else g.strata

    def pred_stratum(key: tuple[str, int]) -> int:
        return table.get(key, 0)

    gp, possible, raw_rules = build_program(raw, pred_stratum)
    answers: dict[Struct, list[Struct]] = {}
    for q, _, ans in per_query:
        found = [a for a, aid in ans if possible[aid]]
        found.sort(key=order_key)
        prev = answers.get(q)
        if prev is not None:
            continue
        answers[q] = found  # type: ignore[assignment]
    stats = GroundingStats(
        engine="topdown",
        num_atoms=gp.num_atoms,
        num_rules=gp.num_rules,
        num_leaves=int(gp.leaves.shape[0]),
        num_tables=len(g.tables),
        raw_atoms=len(raw.atoms),
        raw_rules=raw_rules,
        seconds=time.perf_counter() - t0,
    )
    return Grounding(gp, answers, stats)
