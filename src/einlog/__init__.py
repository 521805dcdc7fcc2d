"""einlog: one logic program, many semantics, compiled to tensors.

ProbLog / DeepProbLog programs (plus Datalog extensions) are parsed, checked,
grounded and evaluated as batched torch tensors under a semantics chosen by
name: exact probability (knowledge compilation to tensor circuits), fuzzy
logics, top-k proofs, boolean, possibilistic and more.

    >>> import einlog
    >>> prog = einlog.Program.from_string("0.3::a. 0.5::b. c :- a; b. query(c).")
    >>> round(prog.query().to_dict()["c"], 4)
    0.65

The public surface is small on purpose: :class:`Program`, :class:`QueryResult`,
the error classes and the semantics registry.
"""

from typing import TYPE_CHECKING, Any

from einlog.errors import (
    ConfigError,
    EinlogError,
    GroundingError,
    GroundingLimitError,
    InferenceError,
    NeuralError,
    ParseError,
    ProgramError,
    UnknownSemanticsError,
    UnsupportedError,
)

if TYPE_CHECKING:
    from einlog.program import Program, QueryResult
    from einlog.semirings import get_semiring
    from einlog.semirings import names as semantics

# Program and the registry import torch; load them on first use so that
# ``import einlog.terms`` (and the CLI's --help) stay fast.
_LAZY = {
    "Program": ("einlog.program", "Program"),
    "QueryResult": ("einlog.program", "QueryResult"),
    "get_semiring": ("einlog.semirings", "get_semiring"),
    "semantics": ("einlog.semirings", "names"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'einlog' has no attribute {name!r}")


__all__ = [
    "ConfigError",
    "EinlogError",
    "GroundingError",
    "GroundingLimitError",
    "InferenceError",
    "NeuralError",
    "ParseError",
    "Program",
    "ProgramError",
    "QueryResult",
    "UnknownSemanticsError",
    "UnsupportedError",
    "__version__",
    "get_semiring",
    "semantics",
]

__version__ = "0.1.0"
