"""A readable dump of an IR program, for debugging and golden tests.

Why a separate printer: the IR is not source syntax (choice markers, aux
predicates, weights of several kinds), so it gets its own, stable, line per
item format.  Terms inside it are printed by :func:`einlog.syntax.format_term`
(one term printer for the whole project), so IR dumps, error messages and
ProbLog's output all spell a term the same way (``p(X,Y)``).
"""

from __future__ import annotations

from einlog.ir.nodes import (
    AggregateLiteral,
    BodyLiteral,
    BuiltinLiteral,
    IRProgram,
    PredLiteral,
    Weight,
)
from einlog.syntax import format_term

__all__ = ["format_ir", "format_literal", "format_weight"]


def format_weight(w: Weight) -> str:
    if w.kind == "const":
        return f"{w.value:.10g}"
    if w.kind == "param":
        return f"param#{w.param}"
    if w.kind == "expr":
        return f"expr({format_term(w.expr)})" if w.expr is not None else "expr(?)"
    n = w.neural
    if n is None:
        return "neural(?)"
    ins = ", ".join(format_term(i) for i in n.inputs)
    if n.index is None:
        return f"nn({n.network}, [{ins}])"
    return f"nn({n.network}, [{ins}], {n.index}/{n.domain_size})"


def format_literal(lit: BodyLiteral) -> str:
    if isinstance(lit, AggregateLiteral):
        tmpl = "" if lit.template is None else f"{format_term(lit.template)}, "
        group = ", ".join(format_term(g) for g in lit.group_by)
        return (f"aggregate({lit.op}, {tmpl}{format_term(lit.goal)}, {format_term(lit.result)}, "
                f"by=[{group}])")
    neg = "\\+ " if lit.negated else ""
    tag = "#" if isinstance(lit, BuiltinLiteral) else ""
    assert isinstance(lit, (PredLiteral, BuiltinLiteral))
    return f"{neg}{tag}{format_term(lit.atom)}"


def format_ir(ir: IRProgram) -> str:
    """One line per item, in sections; builtins are marked with ``#``."""
    lines: list[str] = []
    if ir.networks:
        lines.append("networks: " + ", ".join(sorted(ir.networks)))
    for i, p in enumerate(ir.params):
        init = "random" if p.initial is None else f"{p.initial:.10g}"
        lines.append(f"param {i}: {p.label} init={init}")
    for key in sorted(ir.facts):
        for f in ir.facts[key]:
            w = "" if f.weight is None else format_weight(f.weight) + "::"
            g = "" if f.ad_group is None else f"  [ad {f.ad_group}]"
            lines.append(f"fact {w}{format_term(f.atom)}.{g}")
    for c in ir.choices:
        alts = "; ".join(f"{format_weight(w)}::{format_term(h)}" for w, h in c.alternatives)
        vs = ", ".join(format_term(v) for v in c.variables)
        lines.append(f"choice {c.id}: {alts}  vars=[{vs}]")
    for r in ir.rules:
        if r.body:
            body = ", ".join(format_literal(lit) for lit in r.body)
            lines.append(f"rule {format_term(r.head)} :- {body}.")
        else:
            lines.append(f"rule {format_term(r.head)}.")
    for q in ir.queries:
        lines.append(f"query {format_term(q)}.")
    for ev, value in ir.evidence:
        lines.append(f"evidence {format_term(ev)} = {'true' if value else 'false'}.")
    if ir.library:
        lines.append("library: " + ", ".join(f"{n}/{a}" for n, a in sorted(ir.library)))
    if ir.strata:
        by: dict[int, list[str]] = {}
        for (name, arity), level in sorted(ir.strata.items()):
            by.setdefault(level, []).append(f"{name}/{arity}")
        for s in sorted(by):
            lines.append(f"stratum {s}: " + ", ".join(by[s]))
    return "\n".join(lines) + ("\n" if lines else "")
