"""The builtin predicates the IR may contain, with their binding modes.

Why here (in ``ir``) and not in the front end: the front end needs the modes
to check safety and order literals, :mod:`einlog.ir.verify` needs them to
re-check the IR, and the grounder needs the same table to know what it must
evaluate.  One table keeps the three in agreement.

A *mode* is a set of argument positions that must be bound (contain no
unbound variable) before the builtin can run.  A builtin with several modes
runs once any one of them is satisfied (``X = Y`` runs when either side is
bound).  After a builtin with ``binds=True`` ran, all of its variables are
bound; a builtin with ``binds=False`` binds nothing (``var/1``, ``true``).
A builtin with an empty mode is always ready and is never moved by the
front end's literal reordering (``var/1`` depends on where it stands).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from einlog.terms import Struct, Term, variables

__all__ = ["BuiltinSpec", "BUILTINS", "builtin_ready", "literal_vars"]


@dataclass(frozen=True)
class BuiltinSpec:
    """Binding behaviour of one builtin (see the module docstring)."""

    name: str
    arity: int
    modes: tuple[frozenset[int], ...]
    binds: bool = True


def _all(n: int) -> tuple[frozenset[int], ...]:
    return (frozenset(range(n)),)


def _table() -> dict[tuple[str, int], BuiltinSpec]:
    specs: list[BuiltinSpec] = []
    tests2 = ["<", ">", "=<", ">=", "=:=", "=\\=", "==", "\\==", "\\=", "@<", "@>", "@=<", "@>="]
    for name in tests2:
        specs.append(BuiltinSpec(name, 2, _all(2)))
    for name in ["atom", "number", "integer", "float", "atomic", "compound", "callable",
                 "is_list"]:
        specs.append(BuiltinSpec(name, 1, _all(1)))
    specs.append(BuiltinSpec("is", 2, (frozenset({1}),)))
    specs.append(BuiltinSpec("=", 2, (frozenset({0}), frozenset({1}))))
    specs.append(BuiltinSpec("between", 3, (frozenset({0, 1}),)))
    specs.append(BuiltinSpec("succ", 2, (frozenset({0}), frozenset({1}))))
    specs.append(BuiltinSpec("plus", 3, (frozenset({0, 1}), frozenset({0, 2}),
                                          frozenset({1, 2}))))
    specs.append(BuiltinSpec("functor", 3, (frozenset({0}), frozenset({1, 2}))))
    specs.append(BuiltinSpec("=..", 2, (frozenset({0}), frozenset({1}))))
    for name in ["var", "nonvar", "ground"]:
        specs.append(BuiltinSpec(name, 1, (frozenset(),), binds=False))
    for name in ["true", "fail", "false"]:
        specs.append(BuiltinSpec(name, 0, (frozenset(),), binds=False))
    return {(s.name, s.arity): s for s in specs}


BUILTINS: dict[tuple[str, int], BuiltinSpec] = _table()


def literal_vars(terms: Iterable[Term]) -> set[str]:
    return {v.name for v in variables(list(terms))}


def builtin_ready(spec: BuiltinSpec, atom: Struct, bound: set[str]) -> bool:
    """Whether ``atom`` (a call of ``spec``) can run with the variables in ``bound`` bound."""
    for mode in spec.modes:
        if literal_vars(atom.args[i] for i in mode) <= bound:
            return True
    return False
