"""Differential test: random stratified Datalog programs, every possible world.

For each world (a truth assignment to the probabilistic facts) a naive
bottom-up evaluator over the program text computes the perfect model; the
ground program, evaluated stratum by stratum in the same world, must give the
query atoms exactly the same truth values, and every atom true in some world
must be among the answers.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from ground_helpers import ground_text
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from einlog.ground.program import GroundProgram
from einlog.terms import Struct

CONSTS = ["a", "b", "c"]
BASE = [("e0", 2), ("e1", 1)]
DERIVED = [("d0", 2), ("d1", 1), ("d2", 2)]


@dataclass(frozen=True)
class Lit:
    pred: str
    args: tuple[str, ...]
    neg: bool = False


@dataclass(frozen=True)
class RuleT:
    head: Lit
    body: tuple[Lit, ...]


def _arity(p: str) -> int:
    return dict(BASE + DERIVED)[p]


@st.composite
def programs(draw: st.DrawFn) -> tuple[list[tuple[Lit, float | None]], list[RuleT]]:
    facts: list[tuple[Lit, float | None]] = []
    seen: set[Lit] = set()
    n_facts = draw(st.integers(1, 7))
    n_prob = 0
    for _ in range(n_facts):
        p, k = draw(st.sampled_from(BASE))
        args = tuple(draw(st.sampled_from(CONSTS)) for _ in range(k))
        lit = Lit(p, args)
        if lit in seen:
            continue
        seen.add(lit)
        prob = draw(st.sampled_from([None, 0.5])) if n_prob < 5 else None
        n_prob += prob is not None
        facts.append((lit, prob))
    rules: list[RuleT] = []
    variables = ["X", "Y", "Z"]
    for level, (hp, hk) in enumerate(DERIVED):
        for _ in range(draw(st.integers(1, 3))):
            body: list[Lit] = []
            for _ in range(draw(st.integers(1, 2))):
                cands = BASE + DERIVED[: level + 1]  # recursion within a level, or downwards
                p, k = draw(st.sampled_from(cands))
                body.append(Lit(p, tuple(draw(st.sampled_from(variables)) for _ in range(k))))
            bound = {v for lit in body for v in lit.args}
            if draw(st.booleans()):
                lower = BASE + DERIVED[:level]
                p, k = draw(st.sampled_from(lower))
                args = tuple(draw(st.sampled_from(sorted(bound))) for _ in range(k))
                body.append(Lit(p, args, neg=True))
            head_args = tuple(draw(st.sampled_from(sorted(bound))) for _ in range(hk))
            rules.append(RuleT(Lit(hp, head_args), tuple(body)))
    return facts, rules


def _text(facts: list[tuple[Lit, float | None]], rules: list[RuleT]) -> str:
    def show(lit: Lit) -> str:
        s = f"{lit.pred}({','.join(lit.args)})"
        return ("\\+ " + s) if lit.neg else s

    lines = [(f"{p}::" if p is not None else "") + show(f) + "." for f, p in facts]
    lines += [f"{show(r.head)} :- {', '.join(show(b) for b in r.body)}." for r in rules]
    # make every predicate defined so that the front end accepts any call
    lines += [f"{p}({','.join(['zz'] * k)})." for p, k in BASE + DERIVED]
    lines += [f"query({p}({','.join('_' for _ in range(k))}))." for p, k in DERIVED]
    return "\n".join(lines)


def _naive_model(true_facts: set[Lit], rules: list[RuleT]) -> set[Lit]:
    model = set(true_facts) | {Lit(p, tuple(["zz"] * k)) for p, k in BASE + DERIVED}
    for level in range(len(DERIVED)):  # strata: d0, d1, d2 (negation only downwards)
        stratum_rules = [r for r in rules if r.head.pred == DERIVED[level][0]]
        changed = True
        while changed:
            changed = False
            for r in stratum_rules:
                for env in _solutions(r.body, model):
                    h = Lit(r.head.pred, tuple(env[v] for v in r.head.args))
                    if h not in model:
                        model.add(h)
                        changed = True
    return model


def _solutions(body: tuple[Lit, ...], model: set[Lit]) -> list[dict[str, str]]:
    envs: list[dict[str, str]] = [{}]
    consts = [*CONSTS, "zz"]
    for lit in body:
        new: list[dict[str, str]] = []
        for env in envs:
            free = sorted({v for v in lit.args if v not in env})
            for vals in itertools.product(consts, repeat=len(free)):
                e2 = {**env, **dict(zip(free, vals))}
                g = Lit(lit.pred, tuple(e2[v] for v in lit.args))
                if (g in model) != lit.neg:
                    new.append(e2)
        envs = new
    return envs


def _eval_ground(gp: GroundProgram, true_labels: set[str]) -> set[int]:
    """Perfect model of the ground program in one world (stratum by stratum)."""
    true: set[int] = set()
    for i, a in enumerate(gp.leaves):
        if str(gp.leaf_label[i]) in true_labels:
            true.add(int(a))
    strata = sorted(set(gp.stratum.tolist()))
    for s in strata:
        rules = [r for r in range(gp.num_rules) if int(gp.stratum[int(gp.rule_head[r])]) == s]
        changed = True
        while changed:
            changed = False
            for r in rules:
                h = int(gp.rule_head[r])
                if h in true:
                    continue
                if all((a in true) != neg for a, neg in gp.rule_body(r)):
                    true.add(h)
                    changed = True
    return true


def _lit_of(atom: Struct) -> Lit:
    return Lit(atom.functor, tuple(str(a) for a in atom.args))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_ground_program_agrees_with_naive_evaluation_in_every_world(
    prog: tuple[list[tuple[Lit, float | None]], list[RuleT]],
) -> None:
    facts, rules = prog
    g = ground_text(_text(facts, rules))
    gp = g.program
    answers = {_lit_of(a) for ans in g.answers.values() for a in ans}
    det = {f for f, p in facts if p is None}
    prob = [f for f, p in facts if p is not None]
    derived_preds = {p for p, _ in DERIVED}
    possible: set[Lit] = set()
    for bits in itertools.product([False, True], repeat=len(prob)):
        world = det | {f for f, on in zip(prob, bits) if on}
        model = _naive_model(world, rules)
        want = {lit for lit in model if lit.pred in derived_preds}
        possible |= want
        labels = {f"{f.pred}({','.join(f.args)})" for f, on in zip(prob, bits) if on}
        true = _eval_ground(gp, labels)
        got = {_lit_of(gp.atoms[a]) for a in gp.queries if a in true}
        assert got == want, (_text(facts, rules), bits)
    assert possible <= answers
