"""What grounding returns, and the knobs that stop runaway grounding.

Why a module of its own: both engines (top-down in :mod:`.topdown`, the
columnar bottom-up engine in :mod:`.columnar`) build these objects, and the
dispatcher in :mod:`einlog.ground` imports the engines lazily; keeping the
data classes here avoids import cycles between them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from einlog.ground.program import GroundProgram
from einlog.terms import Struct

__all__ = ["GroundingLimits", "GroundingStats", "Grounding"]


@dataclass
class GroundingLimits:
    """Bounds that turn non-terminating grounding into a :class:`GroundingLimitError`.

    ``max_atoms``: ground atoms interned in total; ``max_term_depth``: nesting
    depth of a call or answer (``s(s(s(...)))``; the spine of a list does not
    count, so long lists are fine -- growing lists hit the per-predicate limits);
    ``max_answers_per_predicate``: distinct ground atoms of one predicate (the
    default stops ``nat(N) :- nat(M), N is M+1`` within seconds);
    ``max_tables_per_predicate``: distinct call patterns of one predicate;
    ``time_limit``: seconds of wall-clock time (``None``: no limit).
    """

    max_atoms: int = 2_000_000
    max_term_depth: int = 1_000
    max_answers_per_predicate: int = 500_000
    max_tables_per_predicate: int = 200_000
    time_limit: float | None = None


@dataclass
class GroundingStats:
    """Sizes and time of one grounding (``raw_*`` count before simplification)."""

    engine: str = "topdown"
    num_atoms: int = 0
    num_rules: int = 0
    num_leaves: int = 0
    num_tables: int = 0
    raw_atoms: int = 0
    raw_rules: int = 0
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)  # engine-specific numbers


@dataclass
class Grounding:
    """A ground program restricted to the queries and evidence, plus the query answers.

    ``answers`` maps each query pattern (as given, e.g. ``path(a, X)``) to its
    ground instances that are derivable in at least one possible world,
    sorted in Prolog's standard order of terms (so ``n(2)`` precedes
    ``n(10)``).  A ground query with no derivation has no answers, but its
    atom is still in ``program.queries`` (an atom without rules: false).
    """

    program: GroundProgram
    answers: dict[Struct, list[Struct]]
    stats: GroundingStats = field(default_factory=GroundingStats)
