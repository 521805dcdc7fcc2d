"""Substitutions, unification and matching for the top-down grounder.

Why it is built this way: the grounder spends most of its time matching
ground answers against body literals and building call atoms, and lists of
thousands of elements pass through it.  A naive ``apply substitution`` walks
every bound value again and again, which is quadratic on list recursion.  So
a binding environment (a plain ``dict`` from variable name to value) stores
two kinds of values:

* a *plain* value: a term known to be ground (it came from a ground answer,
  a fact or arithmetic); substitution returns it as is, in O(1);
* an :class:`NG` value: a possibly non-ground *raw* term whose variables are
  looked up in the same environment (structure sharing, as in Prolog's
  triangular substitutions); only these are walked.

Variables are identified by name; every clause instance gets its own dict,
call variants are canonicalized to the reserved names ``%0, %1, ...`` and
non-ground answers are renamed apart to fresh ``%gN`` names, so names never
clash.  There is no occurs check (Prolog default): a cyclic binding makes
substitution recurse until Python's recursion limit, which the engine turns
into a :class:`~einlog.errors.GroundingLimitError` about term depth.

Term operations here are recursive over term structure; the grounder runs
them in a thread with a large stack (see :mod:`einlog.ground.topdown`).
"""

from __future__ import annotations

import itertools
from typing import Any

from einlog.terms import Struct, Term, Var, variables

__all__ = [
    "NG",
    "Bindings",
    "deref",
    "subst",
    "resolve",
    "match",
    "unify",
    "term_eq",
    "canonical",
    "rename_apart",
    "fresh_var",
    "show",
]

Bindings = dict[str, Any]
_UNBOUND: Any = object()
_fresh = itertools.count()


class NG:
    """A binding to a raw (possibly non-ground) term, resolved lazily."""

    __slots__ = ("t",)

    def __init__(self, t: Term) -> None:
        self.t = t

    def __repr__(self) -> str:
        return f"NG({self.t!r})"


def fresh_var() -> Var:
    """A variable with a globally unique name."""
    return Var(f"%g{next(_fresh)}")


def deref(t: Term, b: Bindings) -> tuple[Term, bool]:
    """Follow variable bindings: ``(term, known_ground)``.

    ``known_ground`` is True for plain bindings and atomic terms; a compound
    reached through a raw term may still contain bound variables.
    """
    while type(t) is Var:
        v = b.get(t.name, _UNBOUND)
        if v is _UNBOUND:
            return t, False
        if type(v) is NG:
            t = v.t
            continue
        return v, True
    return t, not (type(t) is Struct and t.args)


def subst(t: Term, b: Bindings) -> tuple[Term, bool]:
    """Apply the bindings: ``(instantiated term, is_ground)``."""
    tt = type(t)
    if tt is Var:
        v = b.get(t.name, _UNBOUND)  # type: ignore[union-attr]
        if v is _UNBOUND:
            return t, False
        if type(v) is NG:
            return subst(v.t, b)
        return v, True
    if tt is Struct:
        args = t.args  # type: ignore[union-attr]
        if not args:
            return t, True
        ground = True
        changed = False
        new: list[Term] = []
        for a in args:
            ta = type(a)
            if ta is Var:  # inline the common case: a bound variable
                v = b.get(a.name, _UNBOUND)  # type: ignore[union-attr]
                if v is _UNBOUND:
                    ground = False
                    new.append(a)
                    continue
                if type(v) is not NG:
                    changed = True
                    new.append(v)
                    continue
            elif ta is not Struct or not a.args:  # type: ignore[union-attr]
                new.append(a)
                continue
            a2, g = subst(a, b)
            if not g:
                ground = False
            if a2 is not a:
                changed = True
            new.append(a2)
        if changed:
            return Struct(t.functor, new, t.span), ground  # type: ignore[union-attr]
        return t, ground
    return t, True


def resolve(t: Term, b: Bindings) -> Term:
    """``t`` with the bindings applied."""
    return subst(t, b)[0]


def term_eq(x: Term, y: Term) -> bool:
    """Structural equality with Prolog's number typing at the top level (1 is not 1.0).

    Inside compound terms :class:`Struct` equality is Python's, which equates
    ``f(1)`` and ``f(1.0)``; that corner is accepted for speed.
    """
    if x is y:
        return True
    tx = type(x)
    if tx is not type(y):
        return False
    if tx is Struct:
        if not x.args:  # type: ignore[union-attr]
            return not y.args and x.functor == y.functor  # type: ignore[union-attr]
        return x == y
    return x == y


def _match_into(p: Term, g: Term, b: Bindings) -> bool:
    tp = type(p)
    if tp is Var:
        v = b.get(p.name, _UNBOUND)  # type: ignore[union-attr]
        if v is _UNBOUND:
            b[p.name] = g  # type: ignore[union-attr]
            return True
        if type(v) is NG:
            return _match_into(v.t, g, b)
        return v is g or term_eq(v, g)
    if tp is Struct:
        if p is g:
            return True
        if type(g) is not Struct:
            return False
        pargs = p.args  # type: ignore[union-attr]
        gargs = g.args
        if g.functor != p.functor or len(gargs) != len(pargs):  # type: ignore[union-attr]
            return False
        for pa, ga in zip(pargs, gargs):
            if not _match_into(pa, ga, b):
                return False
        return True
    return tp is type(g) and p == g


def match(p: Term, g: Term, b: Bindings) -> Bindings | None:
    """Extend ``b`` so that raw ``p`` equals the ground term ``g``; ``None`` if impossible."""
    nb = dict(b)
    if type(p) is Struct and type(g) is Struct:
        pargs = p.args
        gargs = g.args
        if p.functor != g.functor or len(pargs) != len(gargs):
            return None
        for pa, ga in zip(pargs, gargs):
            if type(pa) is Var:  # inline the common case: an argument variable
                v = nb.get(pa.name, _UNBOUND)
                if v is _UNBOUND:
                    nb[pa.name] = ga
                    continue
                if type(v) is not NG:
                    if v is ga or term_eq(v, ga):
                        continue
                    return None
            if not _match_into(pa, ga, nb):
                return None
        return nb
    return nb if _match_into(p, g, nb) else None


def _bind(name: str, t: Term, ground: bool, b: Bindings) -> None:
    if ground or (not (type(t) is Struct and t.args) and type(t) is not Var):
        b[name] = t
    else:
        b[name] = NG(t)


def _unify_into(x: Term, y: Term, b: Bindings) -> bool:
    x, xg = deref(x, b)
    y, yg = deref(y, b)
    if type(x) is Var:
        if type(y) is Var:
            if y.name != x.name:
                # bind the right (call) variable to the left (clause) one, so clause
                # variables stay direct and later lookups need no NG indirection
                b[y.name] = NG(x)
            return True
        _bind(x.name, y, yg, b)
        return True
    if type(y) is Var:
        _bind(y.name, x, xg, b)
        return True
    if xg and yg:
        return term_eq(x, y)
    if xg:
        return _match_into(y, x, b)
    if yg:
        return _match_into(x, y, b)
    # two raw compounds
    if type(y) is not Struct:
        return False
    xa = x.args  # type: ignore[union-attr]
    ya = y.args
    if x.functor != y.functor or len(xa) != len(ya):  # type: ignore[union-attr]
        return False
    for a, c in zip(xa, ya):
        if not _unify_into(a, c, b):
            return False
    return True


def unify(x: Term, y: Term, b: Bindings) -> Bindings | None:
    """Most general unifier of raw ``x`` and ``y`` extending ``b`` (no occurs check)."""
    nb = dict(b)
    return nb if _unify_into(x, y, nb) else None


def canonical(t: Term, names: dict[str, Var] | None = None) -> Term:
    """Rename the variables of an instantiated term to ``%0, %1, ...`` (variant key)."""
    if names is None:
        names = {}
    tt = type(t)
    if tt is Var:
        v = names.get(t.name)  # type: ignore[union-attr]
        if v is None:
            v = Var(f"%{len(names)}")
            names[t.name] = v  # type: ignore[union-attr]
        return v
    if tt is Struct and t.args:  # type: ignore[union-attr]
        new = [canonical(a, names) for a in t.args]  # type: ignore[union-attr]
        return Struct(t.functor, new, t.span)  # type: ignore[union-attr]
    return t


def rename_apart(t: Term, names: dict[str, Var] | None = None) -> Term:
    """Rename all variables of ``t`` to fresh, globally unique ones."""
    if names is None:
        names = {}
    tt = type(t)
    if tt is Var:
        v = names.get(t.name)  # type: ignore[union-attr]
        if v is None:
            v = fresh_var()
            names[t.name] = v  # type: ignore[union-attr]
        return v
    if tt is Struct and t.args:  # type: ignore[union-attr]
        new = [rename_apart(a, names) for a in t.args]  # type: ignore[union-attr]
        return Struct(t.functor, new, t.span)  # type: ignore[union-attr]
    return t


def show(t: Term) -> str:
    """Printed form of a term for messages: the syntax printer, internal variables as ``_``.

    Call variants and renamed-apart answers use reserved names (``%0``,
    ``%g7``) that mean nothing to users.
    """
    from einlog.syntax import format_term

    hidden: Bindings = {v.name: Var("_") for v in variables(t) if v.name.startswith("%")}
    return format_term(subst(t, hidden)[0] if hidden else t)
