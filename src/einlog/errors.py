"""One error hierarchy for everything a user can get wrong.

Every error a user can cause is an :class:`EinlogError`.  Each subclass also
inherits the builtin exception that fits (``ParseError`` is a ``SyntaxError``,
``ConfigError`` a ``ValueError``), so callers who catch builtins keep working.

Errors that point into a program carry a :class:`SourceSpan`; ``str(err)``
then renders ``file:line:col``, the offending source line and a caret under
the spot, the way Soufflé and Lark report errors.  A ``hint`` says how to fix
the problem.  The CLI prints ``str(err)`` and never a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "Source",
    "SourceSpan",
    "EinlogError",
    "ParseError",
    "ProgramError",
    "UnknownPredicateError",
    "ArityError",
    "UnsafeVariableError",
    "StratificationError",
    "ProbabilityError",
    "GroundingError",
    "GroundingLimitError",
    "ConfigError",
    "UnknownSemanticsError",
    "ProgramFileNotFoundError",
    "InferenceError",
    "UnsupportedError",
    "NeuralError",
    "CheckpointError",
    "EinlogWarning",
]


@dataclass(frozen=True)
class Source:
    """A program text and the name it is reported under (a path or ``<string>``)."""

    name: str
    text: str = field(repr=False)

    def line_text(self, line: int) -> str:
        """Return source line ``line`` (1-based) without its newline."""
        lines = self.text.splitlines()
        if 1 <= line <= len(lines):
            return lines[line - 1]
        return ""


@dataclass(frozen=True, slots=True)  # slots: parsers make millions (72 bytes, fast to fill)
class SourceSpan:
    """A region of a source: 1-based line and column of start and end (end exclusive)."""

    source: Source | None
    line: int
    col: int
    end_line: int
    end_col: int

    @property
    def name(self) -> str:
        return self.source.name if self.source is not None else "<unknown>"

    def location(self) -> str:
        return f"{self.name}:{self.line}:{self.col}"

    def excerpt(self) -> str:
        """The source line followed by a caret line under the span."""
        if self.source is None:
            return ""
        text = self.source.line_text(self.line)
        if not text and self.line > len(self.source.text.splitlines()):
            return ""
        shown = text.expandtabs(1)
        if len(shown) > 200:  # keep one-line dumps (random bytes) readable
            start = max(0, self.col - 80)
            shown = shown[start : start + 160]
            caret_col = self.col - start
        else:
            caret_col = self.col
        width = 1
        if self.end_line == self.line and self.end_col > self.col:
            width = min(self.end_col - self.col, max(1, len(shown) - caret_col + 1))
        shown = "".join(ch if ch.isprintable() else "?" for ch in shown)
        return f"    {shown}\n    {' ' * (caret_col - 1)}{'^' * width}"

    @staticmethod
    def merge(first: SourceSpan | None, last: SourceSpan | None) -> SourceSpan | None:
        """The span from the start of ``first`` to the end of ``last``."""
        if first is None:
            return last
        if last is None:
            return first
        return SourceSpan(first.source, first.line, first.col, last.end_line, last.end_col)


class EinlogError(Exception):
    """Root of all errors einlog raises for bad input or impossible requests."""

    kind = "error"

    def __init__(self, message: str, span: SourceSpan | None = None, hint: str | None = None):
        self.message = message
        self.span = span
        self.hint = hint
        Exception.__init__(self, message)

    def __str__(self) -> str:
        parts = []
        if self.span is not None:
            parts.append(f"{self.span.location()}: {self.kind}: {self.message}")
            excerpt = self.span.excerpt()
            if excerpt:
                parts.append(excerpt)
        else:
            parts.append(f"{self.kind}: {self.message}")
        if self.hint:
            parts.append(f"hint: {self.hint}")
        return "\n".join(parts)


class ParseError(EinlogError, SyntaxError):
    """The program text does not follow the grammar."""

    kind = "syntax error"

    def __init__(self, message: str, span: SourceSpan | None = None, hint: str | None = None):
        EinlogError.__init__(self, message, span, hint)
        self.msg = message
        if span is not None:
            self.filename = span.name
            self.lineno = span.line
            self.offset = span.col

    def __str__(self) -> str:
        return EinlogError.__str__(self)


class ProgramError(EinlogError, ValueError):
    """The program parses but is not a valid einlog program."""


class UnknownPredicateError(ProgramError):
    """A body literal calls a predicate that no clause defines."""


class ArityError(ProgramError):
    """A predicate or builtin is used with the wrong number of arguments."""


class UnsafeVariableError(ProgramError):
    """A variable is not range restricted (bound by a positive body literal)."""


class StratificationError(ProgramError):
    """Negation or aggregation goes through recursion."""


class ProbabilityError(ProgramError):
    """A probability lies outside [0, 1] or an annotated disjunction sums above 1."""


class GroundingError(EinlogError, RuntimeError):
    """Grounding failed: a builtin got bad arguments, a goal could not be evaluated."""


class GroundingLimitError(GroundingError):
    """Grounding passed its configured limit; the program probably does not terminate."""


class ConfigError(EinlogError, ValueError):
    """An option or argument has a value outside the allowed set."""


class UnknownSemanticsError(ConfigError):
    """A semantics name that is not registered."""


class ProgramFileNotFoundError(EinlogError, FileNotFoundError):
    """A program, evidence or data file does not exist."""


class InferenceError(EinlogError, RuntimeError):
    """Inference cannot answer: inconsistent evidence, budget exceeded, non-ground query."""


class UnsupportedError(EinlogError, NotImplementedError):
    """A construct is valid einlog but not supported under the chosen semantics."""


class NeuralError(EinlogError, ValueError):
    """A neural predicate's network is missing or returned something unusable."""


class CheckpointError(EinlogError, ValueError):
    """A checkpoint cannot be loaded into this program."""


class EinlogWarning(UserWarning):
    """Something einlog did that the user may not expect (the CLI prints ``warning: ...``)."""
