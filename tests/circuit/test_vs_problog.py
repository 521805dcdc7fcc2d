"""Differential tests: random ProbLog programs, einlog exact vs the real ``problog``.

Programs are drawn from a menu of rule templates over a tiny domain so that
both systems ground them quickly, yet they mix everything exact inference
must get right: probabilistic facts (some certain), annotated disjunctions
(ground and with bodies, some summing to 1), probabilistic rules, positive
cycles (left and right recursive reachability), stratified negation, and
evidence (sometimes inconsistent: then both must refuse).  ``EINLOG_LONG=1``
runs many more programs.
"""

from __future__ import annotations

import os
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from einlog.circuit import compile as compile_module

from .problog_ref import compare

LONG = bool(os.environ.get("EINLOG_LONG"))
N_PROGRAMS = 5000 if LONG else 500

NODES = [1, 2, 3]

TEMPLATES = [
    "path(X,Y) :- e(X,Y).",
    "path(X,Y) :- e(X,Z), path(Z,Y).",
    "path(X,Y) :- path(X,Z), e(Z,Y).",
    "{p}::g(X) :- f(X).",
    "g(X) :- path(X,Y), f(Y).",
    "h(X) :- f(X), \\+ g(X).",
    "h(X) :- c(X,r), \\+ path(X,X).",
    "{p}::d(X,a); {q}::d(X,b) :- f(X).",
    "k :- d(X,a), h(X).",
    "k :- \\+ h({n}).",
    "m(X) :- c(X,g), g(X).",
    "m(X) :- m(Y), e(Y,X).",
    "m(X) :- f(X), \\+ k.",
    "{p}::s :- m({n}); path({n},{n2}).",
    "t(X) :- d(X,b), \\+ m(X).",
]
HEADS = ["path", "path", "path", "g", "g", "h", "h", "d", "k", "k", "m", "m", "m", "s", "t"]
QUERIES = {"path": "path(_,_)", "g": "g(_)", "h": "h(_)", "k": "k", "m": "m(_)",
           "d": "d(_,_)", "s": "s", "t": "t(_)", "c": "c(_,_)"}
EVIDENCE = {"path": "path({n},{n2})", "g": "g({n})", "h": "h({n})", "k": "k", "m": "m({n})",
            "s": "s", "f": "f({n})", "d": "d({n},a)", "t": "t({n})", "c": "c({n},g)"}

prob = st.sampled_from([0.1, 0.2, 0.25, 0.3, 0.5, 0.6, 0.7, 0.9, 1.0])
node = st.sampled_from(NODES)


@st.composite
def programs(draw: st.DrawFn) -> str:
    lines: list[str] = []
    for n in NODES:
        if draw(st.booleans()):
            p = draw(prob)
            lines.append(f"{p}::f({n})." if p < 1 else f"f({n}).")
    for a in NODES:
        for b in NODES:
            if draw(st.integers(0, 9)) < 4:
                p = draw(prob)
                lines.append(f"{p}::e({a},{b})." if p < 1 else f"e({a},{b}).")
    for n in NODES:
        if draw(st.booleans()):
            ws = [draw(st.sampled_from([0.1, 0.2, 0.3, 0.5])) for _ in range(3)]
            if sum(ws) > 1:
                ws = [0.2, 0.3, 0.5]  # sums to exactly 1
            alts = "; ".join(f"{w}::c({n},{col})" for w, col in zip(ws, "rgb"))
            lines.append(alts + ".")
    chosen = draw(st.lists(st.sampled_from(range(len(TEMPLATES))), min_size=2, max_size=8,
                           unique=True))
    if draw(st.integers(0, 4)) > 0:
        chosen.append(0)  # reachability's base case, most of the time
    chosen = list(set(chosen))
    defined = sorted({HEADS[t] for t in chosen} | {"c"})
    for t in sorted(chosen):
        p = draw(prob)
        q = round(min(draw(prob), 1 - p), 2) if p < 1 else 0.0
        lines.append(TEMPLATES[t].format(p=p if p < 1 else 0.8, q=q, n=draw(node),
                                         n2=draw(node)))
    # every predicate a template may call must exist (ProbLog rejects unknown ones)
    lines.append("f(0) :- fail. e(0,0) :- fail. c(0,r) :- fail.")
    lines.append("g(0) :- fail. h(0) :- fail. d(0,a) :- fail. m(0) :- fail. k :- fail.")
    lines.append("path(0,0) :- fail. s :- fail. t(0) :- fail.")
    for pred in draw(st.lists(st.sampled_from(defined), min_size=1, max_size=3, unique=True)):
        lines.append(f"query({QUERIES[pred]}).")
    if draw(st.integers(0, 2)) == 0:
        pred = draw(st.sampled_from([*defined, "f"]))
        ev = EVIDENCE[pred].format(n=draw(node), n2=draw(node))
        lines.append(f"evidence({ev}, {draw(st.sampled_from(['true', 'false']))}).")
    return "\n".join(lines) + "\n"


@settings(
    max_examples=N_PROGRAMS,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(programs())
def test_random_programs_match_problog(src: str) -> None:
    compare(src)


# each cycle-handling method on a fifth of the programs
_SUBSET = settings(
    max_examples=N_PROGRAMS // 5,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.mark.parametrize("cycles", ["fixpoint", "eliminate", "proof"])
@_SUBSET
@given(programs())
def test_random_programs_match_problog_other_cycle_methods(cycles: str, src: str) -> None:
    compare(src, cycles=cycles)


@_SUBSET
@given(programs())
def test_random_programs_match_problog_proof_then_elimination(src: str) -> None:
    # a tiny budget: cycle breaking starts, runs over, and elimination takes over
    with mock.patch.object(compile_module, "PROOF_BUDGET", 2):
        compare(src)


CLASSICS = {
    "cyclic_graph": """
        0.6::edge(1,2). 0.1::edge(1,3). 0.4::edge(2,5). 0.3::edge(2,6).
        0.3::edge(3,4). 0.8::edge(4,5). 0.2::edge(5,6). 0.7::edge(6,1). 0.5::edge(5,3).
        path(X,Y) :- edge(X,Y).
        path(X,Y) :- edge(X,Z), path(Z,Y).
        query(path(1,_)). query(path(5,1)).
    """,
    "alarm_evidence": """
        0.7::burglary. 0.2::earthquake. 0.9::p_alarm1. 0.8::p_alarm2. 0.1::p_alarm3.
        alarm :- burglary, earthquake, p_alarm1.
        alarm :- burglary, \\+earthquake, p_alarm2.
        alarm :- \\+burglary, earthquake, p_alarm3.
        person(mary). person(john).
        0.8::calls(X) :- alarm, person(X).
        0.1::calls(X) :- \\+alarm, person(X).
        evidence(calls(john), true). evidence(calls(mary), true).
        query(burglary). query(earthquake).
    """,
}


@pytest.mark.parametrize("name", sorted(CLASSICS))
def test_classics(name: str) -> None:
    compare(CLASSICS[name])
