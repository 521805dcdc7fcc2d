"""Terms: the one value representation shared by the AST, the IR and grounding.

Prolog terms are variables, atoms, numbers, strings and compound terms.  We
use plain Python values where they fit (``int`` and ``float`` for numbers) and
three small slotted classes for the rest.  An atom is a :class:`Struct` with
no arguments, so ``functor/arity`` code never special-cases it.

Terms parsed from text carry a :class:`~einlog.errors.SourceSpan`; spans take
no part in equality or hashing, so a term re-parsed from its printed form
compares equal to the original.  Structs cache their hash because ground
atoms are dictionary keys everywhere in grounding.

Lists are ``'.'(Head, Tail)`` chains ended by the atom ``[]``, as in ProbLog.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from einlog.errors import SourceSpan

__all__ = [
    "Var",
    "Struct",
    "Str",
    "Term",
    "Number",
    "NIL",
    "LIST_FUNCTOR",
    "atom",
    "is_ground",
    "has_anonymous",
    "variables",
    "indicator",
    "make_list",
    "list_items",
    "term_depth",
    "is_callable",
]


class Var:
    """A logic variable, identified by its name within one clause."""

    __slots__ = ("name", "span")

    def __init__(self, name: str, span: SourceSpan | None = None) -> None:
        self.name = name
        self.span = span

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Var) and other.name == self.name

    def __hash__(self) -> int:
        return hash(("$var", self.name))

    def __repr__(self) -> str:
        return f"Var({self.name!r})"

    def __str__(self) -> str:
        return self.name


class Str:
    """A double-quoted string constant (distinct from an atom of the same text)."""

    __slots__ = ("value", "span")

    def __init__(self, value: str, span: SourceSpan | None = None) -> None:
        self.value = value
        self.span = span

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Str) and other.value == self.value

    def __hash__(self) -> int:
        return hash(("$str", self.value))

    def __repr__(self) -> str:
        return f"Str({self.value!r})"

    def __str__(self) -> str:
        from einlog.syntax.printer import format_term

        return format_term(self)


class Struct:
    """A compound term ``functor(args...)``; an atom when ``args`` is empty."""

    __slots__ = ("functor", "args", "span", "_hash")

    def __init__(
        self, functor: str, args: Sequence[Term] = (), span: SourceSpan | None = None
    ) -> None:
        self.functor = functor
        self.args: tuple[Term, ...] = tuple(args)
        self.span = span
        self._hash = hash((functor, self.args))

    @property
    def arity(self) -> int:
        return len(self.args)

    @property
    def indicator(self) -> tuple[str, int]:
        return (self.functor, len(self.args))

    def __eq__(self, other: object) -> bool:
        # Iterative: long lists and deep terms must not hit the recursion limit.
        if self is other:
            return True
        if not isinstance(other, Struct) or not _same_node(self, other):
            return False
        stack = list(zip(self.args, other.args))
        while stack:
            a, b = stack.pop()
            if a is b:
                continue
            if isinstance(a, Struct):
                if not isinstance(b, Struct) or not _same_node(a, b):
                    return False
                stack.extend(zip(a.args, b.args))
            elif isinstance(b, Struct) or type(a) is not type(b) or a != b:
                return False
        return True

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        if not self.args:
            return f"Struct({self.functor!r})"
        return f"Struct({self.functor!r}, {self.args!r})"

    def __str__(self) -> str:
        from einlog.syntax.printer import format_term

        return format_term(self)

    def with_args(self, args: Sequence[Term]) -> Struct:
        return Struct(self.functor, args, self.span)


def _same_node(a: Struct, b: Struct) -> bool:
    return a._hash == b._hash and a.functor == b.functor and len(a.args) == len(b.args)


Number = int | float
Term = Var | Struct | Str | int | float

LIST_FUNCTOR = "."
NIL = Struct("[]")


def atom(name: str) -> Struct:
    """The atom ``name``."""
    return Struct(name)


def is_callable(term: Term) -> bool:
    return isinstance(term, Struct)


def is_ground(term: Term) -> bool:
    """True when ``term`` contains no variables (iterative: deep terms are fine)."""
    stack: list[Term] = [term]
    while stack:
        t = stack.pop()
        if isinstance(t, Var):
            return False
        if isinstance(t, Struct) and t.args:
            stack.extend(t.args)
    return True


def has_anonymous(terms: Iterable[Term | None]) -> bool:
    """Whether a bare anonymous variable ``_`` occurs in ``terms`` (``None`` entries skipped).

    The parser names every ``_`` apart; hand-built terms may still hold ``Var("_")``,
    which the front end and the grounder rename -- after this cheap check, not always.
    """
    stack = [t for t in terms if t is not None]
    while stack:
        t = stack.pop()
        if isinstance(t, Var):
            if t.name == "_":
                return True
        elif isinstance(t, Struct) and t.args:
            stack.extend(t.args)
    return False


def variables(term: Term | Iterable[Term]) -> list[Var]:
    """The distinct variables of ``term`` (or of several terms) in first-occurrence order."""
    seen: dict[str, Var] = {}
    if isinstance(term, (Var, Struct, Str, int, float)):
        stack: list[Term] = [term]
    else:
        stack = list(term)[::-1]
    while stack:
        t = stack.pop()
        if isinstance(t, Var):
            if t.name not in seen:
                seen[t.name] = t
        elif isinstance(t, Struct) and t.args:
            stack.extend(reversed(t.args))
    return list(seen.values())


def indicator(term: Term) -> tuple[str, int]:
    """``(name, arity)`` of a callable term."""
    if isinstance(term, Struct):
        return (term.functor, len(term.args))
    raise TypeError(f"not a callable term: {term!r}")


def make_list(items: Iterable[Term], tail: Term = NIL) -> Term:
    """Build the Prolog list ``[items... | tail]``."""
    result = tail
    for item in reversed(list(items)):
        result = Struct(LIST_FUNCTOR, (item, result))
    return result


def list_items(term: Term) -> tuple[list[Term], Term]:
    """Split a list into its items and its tail (``[]`` for a proper list)."""
    items: list[Term] = []
    while isinstance(term, Struct) and term.functor == LIST_FUNCTOR and len(term.args) == 2:
        items.append(term.args[0])
        term = term.args[1]
    return items, term


def iter_subterms(term: Term) -> Iterator[Term]:
    """All subterms, pre-order, iteratively."""
    stack: list[Term] = [term]
    while stack:
        t = stack.pop()
        yield t
        if isinstance(t, Struct) and t.args:
            stack.extend(reversed(t.args))


def term_depth(term: Term) -> int:
    """Nesting depth of ``term`` (an atom or number has depth 1), computed iteratively."""
    best = 0
    stack: list[tuple[Term, int]] = [(term, 1)]
    while stack:
        t, d = stack.pop()
        if d > best:
            best = d
        if isinstance(t, Struct):
            for a in t.args:
                stack.append((a, d + 1))
    return best
