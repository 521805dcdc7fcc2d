"""The AST: one node per top-level statement of a program, each with its span.

The parser reads Prolog-style operator terms first and then classifies each
clause into one of the statement nodes below.  Clause bodies stay terms
(``','``, ``';'``, ``'\\+'``, builtins): the front end owns their meaning.
Keeping bodies as terms lets the pretty-printer print any program back so
that it re-parses to an equal AST (spans never take part in equality).
Nodes have ``__slots__``: a fact base of 100 000 facts is 100 000 of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from einlog.errors import Source, SourceSpan
from einlog.terms import Struct, Term

__all__ = [
    "Clause",
    "ProbabilisticClause",
    "NeuralDeclaration",
    "Query",
    "Evidence",
    "Directive",
    "Statement",
    "ProgramAST",
]


@dataclass(slots=True)
class Clause:
    """``head.`` or ``head :- body.``"""

    head: Struct
    body: Term | None = None
    span: SourceSpan | None = field(default=None, compare=False, repr=False)


@dataclass(slots=True)
class ProbabilisticClause:
    """``p::h.``, ``p::h :- body.`` or an annotated disjunction ``p1::h1; p2::h2 :- body.``

    Each head is ``(probability, atom)``; the probability is the term as
    written: a number, an arithmetic expression (``1/3``), a variable bound
    by the body, or a learnable ``t(0.5)`` / ``t(_)``.
    """

    heads: list[tuple[Term, Struct]]
    body: Term | None = None
    span: SourceSpan | None = field(default=None, compare=False, repr=False)


@dataclass(slots=True)
class NeuralDeclaration:
    """DeepProbLog's ``nn(Net, Inputs, Output, Domain) :: head [:- body].``

    ``output`` and ``domain`` are ``None`` for the two-argument form
    ``nn(net, [X]) :: p(X).`` (a probabilistic fact whose weight is the
    network's sigmoid output).
    """

    network: str
    inputs: list[Term]
    output: Term | None
    domain: list[Term] | None
    head: Struct
    body: Term | None = None
    span: SourceSpan | None = field(default=None, compare=False, repr=False)


@dataclass(slots=True)
class Query:
    """``query(atom).``"""

    atom: Struct
    span: SourceSpan | None = field(default=None, compare=False, repr=False)


@dataclass(slots=True)
class Evidence:
    """``evidence(atom).`` (value true) or ``evidence(atom, true|false).``"""

    atom: Struct
    value: bool = True
    span: SourceSpan | None = field(default=None, compare=False, repr=False)


@dataclass(slots=True)
class Directive:
    """``:- goal.`` (e.g. ``:- use_module(library(lists)).``)."""

    goal: Term
    span: SourceSpan | None = field(default=None, compare=False, repr=False)


Statement = Clause | ProbabilisticClause | NeuralDeclaration | Query | Evidence | Directive


@dataclass(slots=True)
class ProgramAST:
    """A parsed program: its statements in source order and the source it came from."""

    statements: list[Statement]
    source: Source | None = field(default=None, compare=False, repr=False)
