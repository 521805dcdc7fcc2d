"""Helpers for grounding tests: the full pipeline text -> parse -> IR -> ground.

Imported by module name (`from ground_helpers import ...`); conftest.py exposes
the main helper as the `ground_program` fixture.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from einlog.front import compile_program
from einlog.ground import Grounding, GroundingLimits, ground
from einlog.ground.program import GroundProgram
from einlog.ir.nodes import IRProgram
from einlog.syntax import format_term as _format_term
from einlog.syntax import parse_program, parse_term
from einlog.terms import Struct


def format_term(t: object) -> str:
    """Printed term, compact (no space after commas in lists)."""
    return _format_term(t).replace(", ", ",")  # type: ignore[arg-type]


def compile_text(text: str) -> IRProgram:
    return compile_program(parse_program(text))


def ground_text(
    text: str,
    queries: Sequence[str] | None = None,
    limits: GroundingLimits | None = None,
    engine: str = "topdown",
) -> Grounding:
    """Parse, compile and ground ``text`` (queries as strings, default: the program's)."""
    ir = compile_text(text)
    qs = None if queries is None else [q for q in (parse_term(s) for s in queries)]
    return ground(ir, qs, limits, engine=engine)  # type: ignore[arg-type]


def show_lit(gp: GroundProgram, atom: int, neg: bool) -> str:
    return ("\\+" if neg else "") + format_term(gp.atoms[atom])


def rules_of(g: Grounding | GroundProgram) -> set[str]:
    """The ground rules as ``head :- b1, \\+b2`` strings (``head.`` for empty bodies)."""
    gp = g.program if isinstance(g, Grounding) else g
    out: set[str] = set()
    for r in range(gp.num_rules):
        head = format_term(gp.atoms[int(gp.rule_head[r])])
        body = [show_lit(gp, a, n) for a, n in gp.rule_body(r)]
        out.add(f"{head} :- {', '.join(body)}" if body else f"{head}.")
    return out


def leaves_of(g: Grounding) -> dict[str, str]:
    """Leaf label -> weight description (``0.3``, ``param 0``, ``neural net[2] on (i1,)``)."""
    gp = g.program
    out: dict[str, str] = {}
    for i in range(len(gp.leaves)):
        w = gp.leaf_weight[i]
        if w.kind == "const":
            desc = f"{w.value:g}"
        elif w.kind == "param":
            desc = f"param {w.param}"
        else:
            ins = ",".join(format_term(t) for t in w.inputs)
            desc = f"neural {w.network}[{w.index}/{w.domain_size}] on ({ins})"
        out[format_term(gp.leaf_label[i])] = desc
    return out


def leaf_atoms(g: Grounding) -> dict[str, str]:
    """Leaf label -> printed leaf atom."""
    gp = g.program
    return {
        format_term(gp.leaf_label[i]): format_term(gp.atoms[int(a)])
        for i, a in enumerate(gp.leaves)
    }


def groups_of(g: Grounding) -> list[set[str]]:
    gp = g.program
    return [{format_term(gp.leaf_label[i]) for i in grp} for grp in gp.groups]


def answers_of(g: Grounding, query: str | None = None) -> list[str]:
    """Printed answers of one query (the only one when ``query`` is None)."""
    if query is None:
        assert len(g.answers) == 1, g.answers
        (ans,) = g.answers.values()
    else:
        want = _norm(format_term(parse_term(query)))
        found = [v for k, v in g.answers.items() if _norm(format_term(k)) == want]
        assert len(found) == 1, (query, list(g.answers))
        ans = found[0]
    return [format_term(a) for a in ans]


def _norm(text: str) -> str:
    """Printed term with every variable shown as ``_``."""
    return re.sub(r"(?<![\w'])[_A-Z]\w*", "_", text)


def atom(text: str) -> Struct:
    t = parse_term(text)
    assert isinstance(t, Struct)
    return t


def add_trusted_rules(ir: IRProgram, text: str) -> IRProgram:
    """Append clauses of ``text`` to ``ir`` as rules, bypassing the front end's safety checks.

    Bodies must be conjunctions of predicate calls, ``\\+ call`` and builtins.  This is
    how tests feed the grounder Prolog the front end rejects as not range restricted
    (accumulators bound by the caller, ``len([_|T], N)``), which top-down grounding
    evaluates with the caller's bindings.
    """
    from einlog.ir.builtins import BUILTINS
    from einlog.ir.nodes import BodyLiteral, BuiltinLiteral, PredLiteral, Rule
    from einlog.syntax.ast import Clause
    from einlog.terms import Term

    def conj(t: Term | None) -> list[Term]:
        if t is None:
            return []
        if isinstance(t, Struct) and t.functor == "," and len(t.args) == 2:
            return conj(t.args[0]) + conj(t.args[1])
        return [t]

    for st in parse_program(text).statements:
        assert isinstance(st, Clause), st
        body: list[BodyLiteral] = []
        for lit in conj(st.body):
            assert isinstance(lit, Struct)
            neg = lit.functor == "\\+" and len(lit.args) == 1
            if neg:
                lit = lit.args[0]  # type: ignore[assignment]
                assert isinstance(lit, Struct)
            if lit.indicator in BUILTINS:
                body.append(BuiltinLiteral(lit, neg, lit.span))
            else:
                body.append(PredLiteral(lit, neg, lit.span))
        ir.rules.append(Rule(st.head, tuple(body), st.span))
    return ir
