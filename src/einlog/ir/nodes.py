"""The flat IR: what the front end hands to grounding.

Every rule is ``head :- literal, ..., literal`` with no disjunction, no
nested negation and no syntactic sugar left.  Probability lives in two
places only:

* ground probabilistic facts sit in :attr:`IRProgram.facts` with a
  :class:`Weight` (and an ``ad_group`` when they come from a bodiless,
  ground annotated disjunction);
* everything else that is uncertain (probabilistic rules, annotated
  disjunctions with a body or variables, neural declarations) is a
  :class:`Choice`.  Each alternative ``k`` of choice ``c`` is made true by a
  rule ``head_k :- body, '$choice'(c, k, Vars)``; grounding turns every
  distinct ground instance of ``'$choice'(c, _, Vars)`` into one group of
  mutually exclusive leaves (one leaf for a plain probabilistic rule).

The invariants are written in ``ir/README.md`` and checked by
:func:`einlog.ir.verify.verify`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal as TypingLiteral

from einlog.errors import Source, SourceSpan
from einlog.terms import Struct, Term

__all__ = [
    "PredKey",
    "Weight",
    "Param",
    "PredLiteral",
    "BuiltinLiteral",
    "AggregateLiteral",
    "BodyLiteral",
    "Rule",
    "Fact",
    "Choice",
    "NeuralSpec",
    "IRProgram",
    "CHOICE_FUNCTOR",
]

PredKey = tuple[str, int]
CHOICE_FUNCTOR = "$choice"


@dataclass(frozen=True)
class NeuralSpec:
    """Where a neural weight comes from: ``network`` applied to ``inputs``.

    ``index`` is the position of this alternative in the declared domain
    (softmax output) or ``None`` for the two-argument form (sigmoid output).
    ``domain_size`` is the declared domain length (``None`` for the sigmoid form).
    """

    network: str
    inputs: tuple[Term, ...]
    index: int | None
    domain_size: int | None


@dataclass(frozen=True)
class Weight:
    """The weight of a probabilistic fact or choice alternative.

    kind:
      ``const``  -- ``value`` is a float in [0, 1];
      ``param``  -- learnable ``t(...)``: ``param`` indexes :attr:`IRProgram.params`;
      ``expr``   -- an arithmetic term (``P`` bound by the body, ``1/3``) evaluated
                    per ground instance during grounding;
      ``neural`` -- a neural output described by ``neural``.
    """

    kind: TypingLiteral["const", "param", "expr", "neural"]
    value: float | None = None
    param: int | None = None
    expr: Term | None = None
    neural: NeuralSpec | None = None


@dataclass
class Param:
    """A learnable parameter from ``t(0.5)::...`` (``initial``) or ``t(_)::...`` (``None``)."""

    initial: float | None
    label: str
    span: SourceSpan | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class PredLiteral:
    """A call to a user (or library) predicate, possibly negated (``\\+``)."""

    atom: Struct
    negated: bool = False
    span: SourceSpan | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class BuiltinLiteral:
    """A builtin evaluated during grounding: ``is/2``, comparisons, ``=``, ``between/3`` ...

    A negated builtin (``\\+ X = Y``) has ``negated`` set; it is evaluated as
    a test once its arguments are bound.
    """

    atom: Struct
    negated: bool = False
    span: SourceSpan | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class AggregateLiteral:
    """``aggregate_all(op, goal, result)`` or ``findall(template, goal, result)``.

    ``op`` is one of ``count``, ``sum``, ``min``, ``max``, ``bag``, ``set``
    (``findall`` is ``bag``).  ``template`` is the aggregated term (``None``
    for count).  ``goal`` is an atom of a desugared auxiliary predicate whose
    arguments are the goal's variables; ``group_by`` are the variables shared
    with the rest of the rule, bound before the aggregate runs.
    """

    op: str
    template: Term | None
    goal: Struct
    result: Term
    group_by: tuple[Term, ...] = ()
    span: SourceSpan | None = field(default=None, compare=False, repr=False)


BodyLiteral = PredLiteral | BuiltinLiteral | AggregateLiteral


@dataclass
class Rule:
    """``head :- body`` with a flat conjunction of literals."""

    head: Struct
    body: tuple[BodyLiteral, ...]
    span: SourceSpan | None = field(default=None, compare=False, repr=False)


@dataclass
class Fact:
    """A ground fact; ``weight`` is ``None`` for a certain fact."""

    atom: Struct
    weight: Weight | None = None
    ad_group: int | None = None
    span: SourceSpan | None = field(default=None, compare=False, repr=False)


@dataclass
class Choice:
    """One probabilistic statement with a body or variables (see module docstring).

    ``alternatives`` are ``(weight, head)`` pairs; a probabilistic rule has one.
    ``variables`` are the terms whose ground values identify an independent
    instance of the choice (all variables of the heads and the body).
    """

    id: int
    alternatives: list[tuple[Weight, Struct]]
    body: tuple[BodyLiteral, ...]
    variables: tuple[Term, ...]
    span: SourceSpan | None = field(default=None, compare=False, repr=False)


@dataclass
class IRProgram:
    """A whole program after the front end."""

    rules: list[Rule] = field(default_factory=list)
    facts: dict[PredKey, list[Fact]] = field(default_factory=dict)
    choices: list[Choice] = field(default_factory=list)
    params: list[Param] = field(default_factory=list)
    queries: list[Struct] = field(default_factory=list)
    evidence: list[tuple[Struct, bool]] = field(default_factory=list)
    networks: set[str] = field(default_factory=set)
    # predicate -> stratum (0-based); negated and aggregated calls go to lower strata
    strata: dict[PredKey, int] = field(default_factory=dict)
    # predicates that come from the prelude (``front/prelude.pl``); their rules are
    # trusted Prolog evaluated top-down with the caller's bindings (not range restricted)
    library: set[PredKey] = field(default_factory=set)
    # user predicates whose rules read head arguments the caller must bind (e.g. an
    # accumulator used only in ``is/2``): argument positions per predicate
    call_bound: dict[PredKey, set[int]] = field(default_factory=dict)
    source: Source | None = field(default=None, compare=False, repr=False)

    def is_empty(self) -> bool:
        """True when the program states nothing (no rules, facts, choices, queries, evidence)."""
        return not (self.rules or self.facts or self.choices or self.queries or self.evidence)

    def defined_predicates(self) -> set[PredKey]:
        keys = set(self.facts)
        keys.update(r.head.indicator for r in self.rules)
        return keys
