"""The ``einlog`` command line: query, check, explain, learn, train, bench.

argparse keeps the dependency list short and is enough for a handful of
subcommands.  Every user error arrives here as an :class:`EinlogError` and is
printed as its message (file:line:col, source line, caret, hint) with exit
code 1; a traceback is printed only for genuine bugs (or with ``--debug``).
Query output copies the ``problog`` CLI's format (``atom:\\tvalue``, keys
right-aligned and sorted) so the two outputs can be diffed.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from typing import TextIO

from einlog.errors import EinlogError, EinlogWarning

__all__ = ["main", "format_results"]

EXIT_OK = 0
EXIT_USER_ERROR = 1
EXIT_USAGE = 2


def format_value(value: float, precision: int = 8) -> str:
    """ProbLog's value format: ``%.8g`` left-aligned in ``precision + 2`` columns."""
    text = f"{value:.{precision}g}"
    return f"{text:<{precision + 2}}"


def format_results(pairs: Sequence[tuple[str, float]], precision: int = 8) -> str:
    """Format ``(atom, value)`` pairs exactly as ``problog`` prints query results."""
    if not pairs:
        return ""
    width = max(len(name) for name, _ in pairs)
    lines = [
        f"{name:>{width}}:\t{format_value(float(value), precision)}"
        for name, value in sorted(pairs, key=lambda p: p[0])
    ]
    return "\n".join(lines)


def _build_parser() -> argparse.ArgumentParser:
    from einlog.semirings import names as semantics_names

    semantics_help = "semantics: " + ", ".join(semantics_names())
    parser = argparse.ArgumentParser(
        prog="einlog",
        description="Run ProbLog / DeepProbLog programs under many semantics.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    q = sub.add_parser("query", help="print the value of every query (ProbLog's output format)")
    q.add_argument("file")
    q.add_argument("--semantics", "-s", default="exact", help=semantics_help)
    q.add_argument("--query", "-q", action="append", help="query atom (repeatable); "
                   "default: the program's query/1 facts")
    q.add_argument("--k", type=int, default=3, help="number of proofs for --semantics topk")
    q.add_argument("--precision", type=int, default=8)
    q.add_argument("--max-atoms", type=int, default=None, help="grounding limit on atoms")
    q.add_argument("--max-size", type=int, default=None,
                   help="exact: stop when the compiled circuit exceeds this many SDD elements")
    q.add_argument("--time-limit", type=float, default=None,
                   help="exact: stop compiling after this many seconds")

    c = sub.add_parser("check", help="parse and check a program; print diagnostics only")
    c.add_argument("file")

    e = sub.add_parser("explain", help="print the top-k proofs (and the most probable "
                       "explanation) of each query")
    e.add_argument("file")
    e.add_argument("--query", "-q", action="append")
    e.add_argument("--k", type=int, default=3)
    e.add_argument("--mpe", action="store_true", help="also print the most probable world")

    g = sub.add_parser("ground", help="print the ground program (for debugging)")
    g.add_argument("file")
    g.add_argument("--query", "-q", action="append")

    learn = sub.add_parser("learn", help="learn t(_) parameters from evidence (LFI)")
    learn.add_argument("file")
    learn.add_argument("--evidence", "-e", required=True, help="evidence file: examples of "
                       "evidence(atom, true|false). separated by lines of ----")
    learn.add_argument("--epochs", type=int, default=200)
    learn.add_argument("--lr", type=float, default=0.05)

    t = sub.add_parser("train", help="run a training experiment (TOML config or Python script)")
    t.add_argument("config")
    t.add_argument("rest", nargs=argparse.REMAINDER)

    b = sub.add_parser("bench", help="run the benchmarks side by side with peer systems")
    b.add_argument("rest", nargs=argparse.REMAINDER)
    return parser


def _print_einlog_warnings_plainly() -> None:
    """``warning: ...`` on stderr for einlog's own warnings; others keep Python's format."""
    default = warnings.showwarning

    def show(message: Warning | str, category: type[Warning], filename: str, lineno: int,
             file: TextIO | None = None, line: str | None = None) -> None:
        if issubclass(category, EinlogWarning):
            print(f"warning: {message}", file=sys.stderr)
        else:
            default(message, category, filename, lineno, file, line)

    warnings.showwarning = show


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = _build_parser()
    args = parser.parse_args(args_list)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    _print_einlog_warnings_plainly()
    try:
        from einlog.cli import commands

        return commands.run(args)
    except EinlogError as err:
        if args.debug:
            raise
        print(str(err), file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
