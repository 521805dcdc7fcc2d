"""Print terms and programs so that they read back as the same terms.

Why this shape:

* **Iterative.**  Terms may be thousands of levels deep (long lists, long
  conjunctions); the printer keeps an explicit work stack instead of
  recursing, so it never hits Python's recursion limit.
* **Minimal parentheses from the same operator table as the grammar.**  Each
  operator has a priority and the maximum priority of its operands (xfx, xfy,
  yfx); a subterm is parenthesised only when its priority is above what its
  position allows.
* **Token gluing is checked where pieces meet.**  Two symbol-char pieces
  (``=`` then ``-1``) get a space between them, a prefix operator gets a space
  before ``(`` or a digit, and a prefix minus applied to a number prints as
  ``-(1)`` -- so the tokenizer never reads two tokens as one.
* **ProbLog's look for ground atoms.**  Arguments are separated by ``,``
  without spaces and atoms are quoted as ProbLog quotes them, so
  ``format_term`` of a query atom matches ``problog``'s output (``path(a,c)``,
  ``'A'``, ``'hello world'``) -- lists included, which ProbLog prints as
  ``[1, 2, 3]`` and ``[a | T]`` (``compact_lists=True`` drops the spaces).
"""

from __future__ import annotations

import re
from typing import cast

from einlog.syntax.ast import (
    Clause,
    Directive,
    Evidence,
    NeuralDeclaration,
    ProbabilisticClause,
    ProgramAST,
    Query,
    Statement,
)
from einlog.terms import LIST_FUNCTOR, NIL, Str, Struct, Term, Var, list_items, make_list

__all__ = ["format_term", "format_program", "format_statement", "quote_atom"]

# name -> (priority, max priority of left operand, max priority of right operand)
INFIX_OPS: dict[str, tuple[int, int, int]] = {
    ":-": (1200, 1199, 1199),
    ";": (1100, 1099, 1100),
    "::": (1080, 999, 999),
    "->": (1050, 1049, 1050),
    ",": (1000, 999, 1000),
    **{
        op: (700, 699, 699)
        for op in (
            "=",
            "\\=",
            "==",
            "\\==",
            "is",
            "<",
            ">",
            "=<",
            ">=",
            "=:=",
            "=\\=",
            "@<",
            "@>",
            "@=<",
            "@>=",
            "=..",
        )
    },
    **{op: (500, 500, 499) for op in ("+", "-", "/\\", "\\/")},
    **{op: (400, 400, 399) for op in ("*", "/", "//", "mod", "rem", "<<", ">>")},
    "**": (200, 199, 199),
    "^": (200, 199, 200),
}
# name -> (priority, max priority of operand)
PREFIX_OPS: dict[str, tuple[int, int]] = {
    ":-": (1200, 1199),
    "?-": (1200, 1199),
    "\\+": (900, 900),
    "-": (200, 200),
    "+": (200, 200),
    "\\": (200, 200),
}
_INFIX_TEXT = {
    ",": ", ",
    ";": "; ",
    "->": " -> ",
    ":-": " :- ",
    "is": " is ",
    "mod": " mod ",
    "rem": " rem ",
}
_PREFIX_TEXT = {"\\+": "\\+ ", ":-": ":- ", "?-": "?- "}
_WORD_OPS = frozenset({"is", "mod", "rem"})
_PLAIN_ATOM = re.compile(r"[a-z]\w*\Z")
_SYMBOL_CHARS = frozenset("+-*/\\^<>=~:.?@#&$")
_SOLO_ATOMS = frozenset({"[]", "!", "{}"})
_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _escape(text: str, quote: str) -> str:
    out = []
    for ch in text:
        if ch == quote:
            out.append("\\" + ch)
        elif ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif not ch.isprintable():
            out.append(f"\\x{ord(ch):x}\\")
        else:
            out.append(ch)
    return "".join(out)


def quote_atom(name: str) -> str:
    """``name`` as it must be written as an atom: bare when possible, else quoted."""
    if (_PLAIN_ATOM.match(name) and name not in _WORD_OPS) or name in _SOLO_ATOMS:
        return name
    return "'" + _escape(name, "'") + "'"


def _functor_text(name: str) -> str:
    if _PLAIN_ATOM.match(name) and name not in _WORD_OPS:
        return name
    if name and all(ch in _SYMBOL_CHARS for ch in name) and "/*" not in name:
        return name  # '-(1)': a symbol-char name touching '(' always reads as a functor
    return "'" + _escape(name, "'") + "'"


def _number_text(value: int | float) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


class _Writer:
    """Collects output pieces and inserts a space where two pieces would glue."""

    __slots__ = ("parts", "last", "after_prefix")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.last = ""
        self.after_prefix = False

    def emit(self, s: str) -> None:
        if not s:
            return
        first = s[0]
        last = self.last
        if last and last != " ":
            if (last in _SYMBOL_CHARS and first in _SYMBOL_CHARS) or (
                self.after_prefix and (first == "(" or first.isdigit())
            ):
                self.parts.append(" ")
            elif (last.isalnum() or last == "_") and (first.isalnum() or first == "_"):
                self.parts.append(" ")
        self.after_prefix = False
        self.parts.append(s)
        self.last = s[-1]


def _priority(term: Term) -> int:
    if isinstance(term, Struct):
        n = len(term.args)
        if n == 2 and term.functor in INFIX_OPS and term.functor != LIST_FUNCTOR:
            return INFIX_OPS[term.functor][0]
        if n == 1 and term.functor in PREFIX_OPS and not isinstance(term.args[0], (int, float)):
            return PREFIX_OPS[term.functor][0]
    return 0


_PREFIX_MARK = object()


def format_term(term: Term, max_priority: int = 1200, *, compact_lists: bool = False) -> str:
    """Print ``term`` in Prolog syntax with as few parentheses as reading it back needs.

    Lists print as ProbLog prints them, ``[1, 2, 3]`` and ``[a | T]``, so query
    answers compare equal to ``problog`` output; ``compact_lists=True`` gives
    ``[1,2,3]`` and ``[a|T]``.
    """
    w = _Writer()
    sep, bar = (",", "|") if compact_lists else (", ", " | ")
    stack: list[object] = [(term, max_priority)]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            w.emit(item)
            continue
        if item is _PREFIX_MARK:
            w.after_prefix = True
            continue
        t, maxp = cast(tuple[Term, int], item)
        if isinstance(t, Var):
            w.emit(t.name)
        elif isinstance(t, Struct):
            _push_struct(t, maxp, stack, w, sep, bar)
        elif isinstance(t, Str):
            w.emit('"' + _escape(t.value, '"') + '"')
        elif isinstance(t, (int, float)):
            w.emit(_number_text(t))
        else:
            raise TypeError(f"not a term: {t!r}")
    return "".join(w.parts)


def _push_struct(t: Struct, maxp: int, stack: list[object], w: _Writer, sep: str, bar: str) -> None:
    args = t.args
    n = len(args)
    name = t.functor
    if n == 0:
        w.emit(quote_atom(name))
        return
    if name == LIST_FUNCTOR and n == 2:
        items, tail = list_items(t)
        todo: list[object] = ["["]
        for i, x in enumerate(items):
            if i:
                todo.append(sep)
            todo.append((x, 999))
        if tail != NIL:
            todo.append(bar)
            todo.append((tail, 999))
        todo.append("]")
        stack.extend(reversed(todo))
        return
    if name == "{}" and n == 1:
        stack.extend(["}", (args[0], 1200), "{"])
        return
    if n == 2 and name in INFIX_OPS:
        prio, lmax, rmax = INFIX_OPS[name]
        todo = [(args[0], lmax), _INFIX_TEXT.get(name, name), (args[1], rmax)]
        if prio > maxp:
            todo = ["(", *todo, ")"]
        stack.extend(reversed(todo))
        return
    if n == 1 and name in PREFIX_OPS and not isinstance(args[0], (int, float)):
        prio, amax = PREFIX_OPS[name]
        todo = [_PREFIX_TEXT.get(name, name), _PREFIX_MARK, (args[0], amax)]
        if prio > maxp:
            todo = ["(", *todo, ")"]
        stack.extend(reversed(todo))
        return
    todo = [_functor_text(name) + "("]
    for i, x in enumerate(args):
        if i:
            todo.append(",")
        todo.append((x, 999))
    todo.append(")")
    stack.extend(reversed(todo))


def _clause_text(head: str, body: Term | None) -> str:
    if body is None:
        return head + "."
    return f"{head} :- {format_term(body, 1199)}."


def format_statement(stmt: Statement) -> str:
    """One statement as a line of program text (ending in '.')."""
    if isinstance(stmt, Clause):
        return _clause_text(format_term(stmt.head, 1199), stmt.body)
    if isinstance(stmt, ProbabilisticClause):
        heads = "; ".join(f"{format_term(p, 999)}::{format_term(h, 999)}" for p, h in stmt.heads)
        return _clause_text(heads, stmt.body)
    if isinstance(stmt, NeuralDeclaration):
        nn_args: list[Term] = [Struct(stmt.network), make_list(stmt.inputs)]
        if stmt.output is not None or stmt.domain is not None:
            nn_args.append(stmt.output if stmt.output is not None else Var("_"))
            nn_args.append(make_list(stmt.domain or []))
        nn = format_term(Struct("nn", nn_args), 999)
        return _clause_text(f"{nn} :: {format_term(stmt.head, 999)}", stmt.body)
    if isinstance(stmt, Query):
        return f"query({format_term(stmt.atom, 999)})."
    if isinstance(stmt, Evidence):
        if stmt.value:
            return f"evidence({format_term(stmt.atom, 999)})."
        return f"evidence({format_term(stmt.atom, 999)},false)."
    if isinstance(stmt, Directive):
        return f":- {format_term(stmt.goal, 1199)}."
    raise TypeError(f"not a statement: {stmt!r}")


def format_program(program: ProgramAST) -> str:
    """The whole program, one statement per line; it re-parses to an equal AST."""
    return "".join(format_statement(s) + "\n" for s in program.statements)
