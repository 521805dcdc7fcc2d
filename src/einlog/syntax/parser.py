"""Parse einlog programs: a hand-written tokenizer feeding Lark's LALR(1) tables.

Why this shape:

* **LALR, driven token by token.**  Lark builds the LALR(1) tables from
  ``grammar.lark`` (shipped pre-built, see :mod:`einlog.syntax.lalr`, so no
  process pays for building them); a 30-line driver loop here runs them (re-keyed by ints,
  chain rules ``tN: tM`` reduced without a call), about 2x faster than Lark's
  own loop.  The stack is a list, so a term nested 10 000 levels deep costs
  memory, never Python recursion, and the reduce callbacks build terms
  bottom-up (no parse tree).
* **Our own tokenizer.**  Prolog lexing depends on context that a plain
  regex lexer does not see: ``-1`` is a negative number only where a term may
  start (``a - 1`` is a subtraction), ``f(`` is a functor only when the name
  touches the parenthesis and we are not after an operand (``X =(Y)``), and
  symbol-char tokens are read maximally (``===`` is one unknown operator, not
  ``==`` followed by ``=``).  Owning the tokenizer also lets unterminated
  quotes and comments, bad escapes and stray characters get precise messages.
* **Depth is computed incrementally.**  Every node carries ``1 + max(child
  depths)``; crossing the limit raises a :class:`ParseError` at once, so
  pathological input is rejected without ever walking a deep term.
* **Plain facts and rules skip the automaton.**  Wherever the parser stands
  between clauses, the tokenizer first tries one anchored regex for whole
  lines of the form ``[P::]head [:- lit, ..., lit].``: atoms whose arguments
  are plain constants (ASCII names, numbers, quoted atoms without escapes or
  commas) or named variables, a literal perhaps negated with ``\\+``.  Each
  such line becomes its :class:`Clause` / :class:`ProbabilisticClause` (or,
  for ``query(a).`` and ``evidence(p(a), true).``, its :class:`Query` /
  :class:`Evidence`) directly, with the same terms and spans as the automaton
  would build (about 6x faster: fact bases, CPTs and the usual rules were
  dominated by per-token work).  Anything else -- ``_``, nested terms,
  operators, comments between tokens, multi-line clauses -- goes through the
  tokenizer as before; the regex only runs after an accepted '.', so text
  inside block comments, quotes or unfinished clauses never reaches it.
  Before the statements are added, the automaton reduces on a stand-in
  lookahead (a token that starts a clause), so the previous clause is
  classified exactly when it would have been and errors come out in the same
  order.  The names read there are shared (one string object per distinct
  name): each is hashed once, and the grounder's interning of 100 000 facts
  compares them by identity (half its time).  Spans are filled through
  ``SourceSpan``'s slots, not its frozen ``__init__``.
* **Errors speak Prolog.**  A token with no action in the table is explained in
  messages about the source text (unclosed brackets and where they opened,
  missing periods, operator clashes); grammar terminal names never leak.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

from einlog._gc import bulk_build
from einlog.errors import ParseError, ProgramFileNotFoundError, Source, SourceSpan
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
from einlog.syntax.lalr import tables as _tables
from einlog.terms import LIST_FUNCTOR, NIL, Str, Struct, Term, Var, list_items

__all__ = ["MAX_TERM_DEPTH", "parse_program", "parse_query", "parse_source", "parse_term",
           "read_source"]

#: Terms nested deeper than this are rejected (downstream code may recurse on terms).
MAX_TERM_DEPTH = 5000

# --------------------------------------------------------------------------- operators
# Token type of each operator spelled with symbol characters or letters.
SYMBOL_OPERATORS: dict[str, str] = {
    ":-": "NECK",
    "?-": "QUERY",
    "::": "DCOLON",
    "->": "ARROW",
    "\\+": "NOT",
    "=": "OP700",
    "\\=": "OP700",
    "==": "OP700",
    "\\==": "OP700",
    "<": "OP700",
    ">": "OP700",
    "=<": "OP700",
    ">=": "OP700",
    "=:=": "OP700",
    "=\\=": "OP700",
    "@<": "OP700",
    "@>": "OP700",
    "@=<": "OP700",
    "@>=": "OP700",
    "=..": "OP700",
    "+": "PLUS",
    "-": "MINUS",
    "/\\": "OP500",
    "\\/": "OP500",
    "*": "OP400",
    "/": "OP400",
    "//": "OP400",
    "<<": "OP400",
    ">>": "OP400",
    "**": "POW",
    "^": "CARET",
    "\\": "BSLASH",
}
WORD_OPERATORS: dict[str, str] = {"is": "OP700", "mod": "OP400", "rem": "OP400"}

# Token types that can stand between two operands (used to read ``X =(Y)`` as infix).
_INFIX_TYPES = frozenset(
    {"NECK", "DCOLON", "ARROW", "OP700", "PLUS", "MINUS", "OP500", "OP400", "POW", "CARET"}
)
# Token types after which a term is complete (so ``-`` is subtraction, not a sign).
_OPERAND_END = frozenset(
    {"VAR", "NAME", "QATOM", "SYMATOM", "CUT", "INT", "FLOAT", "STRING", "RPAR", "RBRACK", "RBRACE"}
)
_OPENERS = frozenset({"LPAR", "FUNCTOR", "LBRACK", "LBRACE"})
_CLOSERS = frozenset({"RPAR", "RBRACK", "RBRACE"})
_CLOSER_OF = {"LPAR": ")", "FUNCTOR": ")", "LBRACK": "]", "LBRACE": "}"}
_CLOSER_TYPE = {"LPAR": "RPAR", "FUNCTOR": "RPAR", "LBRACK": "RBRACK", "LBRACE": "RBRACE"}
_PUNCT = {
    "(": "LPAR",
    ")": "RPAR",
    "[": "LBRACK",
    "]": "RBRACK",
    "{": "LBRACE",
    "}": "RBRACE",
    ",": "COMMA",
    "|": "BAR",
    "!": "CUT",
    ";": "SEMI",
}
# Operators whose priority is above the 999 allowed in arguments.
_HIGH_OPS = frozenset({"NECK", "QUERY", "SEMI", "DCOLON", "ARROW"})
_OP_PRIORITY = {
    "NECK": 1200,
    "QUERY": 1200,
    "SEMI": 1100,
    "DCOLON": 1080,
    "ARROW": 1050,
    "COMMA": 1000,
    "NOT": 900,
    "OP700": 700,
    "PLUS": 500,
    "MINUS": 500,
    "OP500": 500,
    "OP400": 400,
    "POW": 200,
    "CARET": 200,
    "BSLASH": 200,
}

# Quoted items use a possessive loop (``*+``): the escape alternatives overlap
# (``\x41`` is also ``\x`` then ``41``), and an unterminated quote would
# otherwise backtrack exponentially in the number of escapes.
_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<lc>%[^\n]*)
  | (?P<bc>/\*(?s:.*?)\*/)
  | (?P<float>\d+\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+)
  | (?P<int>0x[0-9a-fA-F]+|0o[0-7]+|0b[01]+|\d+)
  | (?P<name>[a-z]\w*)
  | (?P<var>[A-Z_]\w*)
  | (?P<qatom>'(?:[^'\\\n]|\\x[0-9a-fA-F]+\\?|\\[0-7]+\\?|\\(?s:.)|'')*+')
  | (?P<str>"(?:[^"\\\n]|\\x[0-9a-fA-F]+\\?|\\[0-7]+\\?|\\(?s:.)|"")*+")
  | (?P<punct>[()\[\]{},|!;])
  | (?P<sym>(?:[+\-*\\^<>=~:.?@\#&$]|/(?!\*))+)
    """,
    re.VERBOSE,
)
_NUMBER_RE = re.compile(r"\d+\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+|\d+")
_ESCAPE_RE = re.compile(r"\\(x[0-9a-fA-F]+\\?|[0-7]+\\?|\n|.)|''|\"\"", re.DOTALL)
_SIMPLE_ESCAPES = {
    "n": "\n",
    "t": "\t",
    "r": "\r",
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "v": "\v",
    "0": "\0",
    "e": "\x1b",
    "s": " ",
    "\\": "\\",
    "'": "'",
    '"': '"',
    "`": "`",
    "\n": "",
}


# One line the fast path reads from a clause boundary: a plain fact or rule
# ``[P::]head [:- lit, ..., lit].``, or nothing but blanks and a line comment.  The head
# and every literal are atoms whose arguments (if any) are constants or named variables;
# a literal may have ``\+`` before it.  Numbers, names and variables are ASCII only
# (``_`` is left to the tokenizer, which names each apart), quoted atoms have no escapes,
# doubled quotes or commas (so arguments split at ','), and every item must end where the
# tokenizer would end it (the next character is '(' , ',' , ')' , a blank, or the end of
# the line).  ``:-`` must be followed by a blank or a name (``:-\+`` is one symbol token),
# ``\+`` by a blank or a name (``\+(`` is a call).  Groups: probability, head name, head
# arguments (without the parentheses), a fact's '.', or else the body and a rule's '.'.
# One regex for facts and rules: a CPT row is told from a fact after its head is read.
_FAST_NUM = r"[0-9]++(?:\.[0-9]++)?(?:[eE][+-]?[0-9]++)?"  # possessive: fail fast
_FAST_NAME = r"[a-z][A-Za-z0-9_]*+"
_FAST_ARG = r"(?:" + _FAST_NAME + r"|[A-Z][A-Za-z0-9_]*+|-?" + _FAST_NUM + r"|'[^'\\\n,]*')"
_FAST_ARGS = r"[ \t]*" + _FAST_ARG + r"[ \t]*(?:,[ \t]*" + _FAST_ARG + r"[ \t]*)*"
_FAST_LIT = r"(?:\\\+[ \t]*)?" + _FAST_NAME + r"(?:\(" + _FAST_ARGS + r"\))?"
_FAST_RULE_RE = re.compile(
    r"[ \t]*(?:(?:(" + _FAST_NUM + r")[ \t]*::[ \t]*)?(" + _FAST_NAME + r")(?:\((" + _FAST_ARGS
    + r")\))?[ \t]*(?:(\.)|:-(?:[ \t]+|(?=[a-z]))(" + _FAST_LIT + r"(?:[ \t]*,[ \t]*" + _FAST_LIT
    + r")*)[ \t]*(\.)))?[ \t\r]*(?:%[^\n]*)?(?:\n|\Z)"
)
# ``query(...)`` and ``evidence(...)`` of an atom with arguments (as above), perhaps
# with a flag: name, the atom's name, its arguments, the flag, the final '.'.
_FAST_QUERY_RE = re.compile(
    r"[ \t]*(query|evidence)\([ \t]*(" + _FAST_NAME + r")\((" + _FAST_ARGS
    + r")\)[ \t]*(?:,[ \t]*(true|false)[ \t]*)?\)[ \t]*(\.)[ \t\r]*(?:%[^\n]*)?(?:\n|\Z)"
)
# The literals of a body that regex accepted, each with the separator after it: negation,
# name, arguments (without the parentheses; '' for none), separator.
_FAST_LITS_RE = re.compile(
    r"(\\\+[ \t]*)?([a-z][A-Za-z0-9_]*)(?:\(((?:[^)']|'[^']*')*)\))?([ \t]*,[ \t]*)?"
)
# Heads the classifier treats specially, and names the tokenizer reads as operators.
_FAST_SPECIAL_HEADS = frozenset({"query", "evidence"})
_new_object = object.__new__
# SourceSpan has __slots__: filling them through their descriptors skips the frozen
# dataclass's __init__ (one object.__setattr__ call per field) at a third of its cost.
_SPAN_SET = tuple(SourceSpan.__dict__[f].__set__
                  for f in ("source", "line", "col", "end_line", "end_col"))


def _number(text: str) -> int | float:
    """A fast-path number (the regexes admit only plain decimal ints and floats)."""
    if "." in text or "e" in text or "E" in text:
        return float(text)
    return int(text)


def _span_fast(source: Source, line: int, col: int, end_col: int) -> SourceSpan:
    """A one-line :class:`SourceSpan`, built without the frozen dataclass's ``__init__``."""
    sp: SourceSpan = _new_object(SourceSpan)
    s_source, s_line, s_col, s_end_line, s_end_col = _SPAN_SET
    s_source(sp, source)
    s_line(sp, line)
    s_col(sp, col)
    s_end_line(sp, line)
    s_end_col(sp, end_col)
    return sp


def _fast_special(head: Struct, span: SourceSpan) -> Statement | None:
    """The :class:`Query` or :class:`Evidence` a fast-path ``query(...)`` /
    ``evidence(...)`` fact stands for, as ``classify`` makes it; ``None`` for the forms
    left to the full parser (other arities, numbers, a flag other than true/false)."""
    args = head.args
    if not args or not isinstance(args[0], Struct):
        return None
    atom = args[0]
    if head.functor == "query":
        return Query(atom, span) if len(args) == 1 else None
    if len(args) == 1:
        return Evidence(atom, True, span)
    flag = args[1]
    if len(args) == 2 and isinstance(flag, Struct) and flag.functor in ("true", "false"):
        return Evidence(atom, flag.functor == "true", span)
    return None


class _Tok:
    """A token: type (grammar terminal), source text, value, and 1-based position."""

    __slots__ = ("type", "text", "value", "line", "col", "end_line", "end_col")

    def __init__(
        self, type_: str, text: str, value: Any, line: int, col: int, end_line: int, end_col: int
    ) -> None:
        self.type = type_
        self.text = text
        self.value = value
        self.line = line
        self.col = col
        self.end_line = end_line
        self.end_col = end_col

    def __repr__(self) -> str:
        return f"_Tok({self.type}, {self.text!r}, {self.line}:{self.col})"


# A node on the parser's value stack: (term, depth, line, col, end_line, end_col).
_Node = tuple[Term, int, int, int, int, int]


# --------------------------------------------------------------------------- escapes
def _unescape(body: str, quote: str, tok_line: int, tok_col: int, source: Source) -> str:
    """Resolve backslash escapes and doubled quotes in the body of a quoted item."""
    if "\\" not in body and quote * 2 not in body:
        return body

    def repl(m: re.Match[str]) -> str:
        whole = m.group(0)
        if whole == "''" or whole == '""':
            return whole[0]
        esc = m.group(1)
        if esc in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[esc]
        try:
            if esc[0] == "x":
                return chr(int(esc[1:].rstrip("\\"), 16))
            if esc[0] in "01234567":
                return chr(int(esc.rstrip("\\"), 8))
        except (ValueError, OverflowError):
            pass
        col = tok_col + 1 + m.start()
        span = SourceSpan(source, tok_line, col, tok_line, col + len(whole))
        raise ParseError(
            f"unknown escape sequence '{_show(whole)}'",
            span,
            "write a backslash as '\\\\'; known escapes are \\n \\t \\\\ \\' \\\" \\xHH\\",
        )

    return _ESCAPE_RE.sub(repl, body)


def open_text_of(tok: _Tok) -> str:
    return "(" if tok.type == "FUNCTOR" else tok.text


def _show(text: str, limit: int = 40) -> str:
    """Text of a token for a message: printable, single line, not too long."""
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)


# --------------------------------------------------------------------------- one parse
class _Parse:
    """State of one parse: tokenizer, reduce callbacks, classification, error messages."""

    def __init__(self, text: str, name: str, max_depth: int, fast: bool = False) -> None:
        self.text = text
        self.source = Source(name, text)
        self.max_depth = max_depth
        # Plain-fact fast path: whole programs only; ``0.5::f(a)`` is 3 levels deep.
        self.fast = fast and max_depth >= 3
        self.brackets: list[_Tok] = []
        self.names: dict[str, str] = {}
        self.atom_values: dict[str, str] = {}
        self.fresh = 0
        if "_G" in text:
            used = [int(n) for n in re.findall(r"(?<![\w])_G(\d+)(?!\w)", text) if len(n) < 12]
            self.fresh = max(used, default=0)

    # ------------------------------------------------------------------ tokenizer
    def tokens(self) -> Iterator[_Tok]:
        text = self.text
        source = self.source
        match = _TOKEN_RE.match
        n = len(text)
        pos = 0
        line = 1
        line_start = 0
        after_operand = False
        brackets = self.brackets
        at_boundary = self.fast  # between clauses: the last token was an accepted '.'
        while pos < n:
            if at_boundary:
                facts, pos, line, line_start, last = self._fast_facts(pos, line, line_start)
                if facts:
                    # ``last`` stands for the final fact's '.' (the previous token).
                    yield _Tok("$FACTS", "", (facts, last), last.line, last.col, 0, 0)
                if pos >= n:
                    break
            m = match(text, pos)
            if m is None:
                self._bad_char(pos, line, line_start)
            kind = m.lastgroup
            end = m.end()
            col = pos - line_start + 1
            if kind == "ws" or kind == "bc":
                nl = text.count("\n", pos, end)
                if nl:
                    line += nl
                    line_start = text.rfind("\n", pos, end) + 1
                pos = end
                continue
            if kind == "lc":
                pos = end
                continue
            tok_text = m.group()
            start_line = line
            typ: str
            value: Any = tok_text
            end_line = line
            end_col = col + (end - pos)
            if kind == "name":
                typ = WORD_OPERATORS.get(tok_text, "NAME")
                if end < n and text[end] == "(":
                    if typ == "NAME" or not after_operand:
                        typ = "FUNCTOR"
                        end += 1
                        end_col += 1
            elif kind == "var":
                typ = "VAR"
                if tok_text == "_":
                    self.fresh += 1
                    value = f"_G{self.fresh}"
            elif kind == "int":
                typ = "INT"
                value = int(tok_text, 0) if tok_text[:2] in ("0x", "0o", "0b") else int(tok_text)
            elif kind == "float":
                typ = "FLOAT"
                value = float(tok_text)
            elif kind == "punct":
                typ = _PUNCT[tok_text]
            elif kind == "sym":
                if tok_text == "." and (end == n or text[end].isspace() or text[end] == "%"):
                    typ = "END"
                elif tok_text == "-" and not after_operand and end < n and text[end].isdigit():
                    num = _NUMBER_RE.match(text, end)
                    assert num is not None
                    end = num.end()
                    tok_text = text[pos:end]
                    end_col = col + (end - pos)
                    if "." in tok_text or "e" in tok_text or "E" in tok_text:
                        typ, value = "FLOAT", float(tok_text)
                    else:
                        typ, value = "INT", int(tok_text)
                else:
                    op = SYMBOL_OPERATORS.get(tok_text)
                    typ = op if op is not None else "SYMATOM"
                    if end < n and text[end] == "(" and not (after_operand and op in _INFIX_TYPES):
                        typ = "FUNCTOR"
                        end += 1
                        end_col += 1
            elif kind == "qatom" or kind == "str":
                quote = tok_text[0]
                value = _unescape(tok_text[1:-1], quote, line, col, source)
                nl = tok_text.count("\n")
                if nl:
                    end_line = line + nl
                    line += nl
                    line_start = text.rfind("\n", pos, end) + 1
                    end_col = end - line_start + 1
                if kind == "str":
                    typ = "STRING"
                elif end < n and text[end] == "(":
                    typ = "FUNCTOR"
                    end += 1
                    end_col += 1
                else:
                    typ = "QATOM"
            else:  # pragma: no cover - every group is handled above
                raise AssertionError(kind)
            tok = _Tok(typ, text[pos:end], value, start_line, col, end_line, end_col)
            pos = end
            after_operand = typ in _OPERAND_END
            at_boundary = typ == "END" and self.fast
            yield tok
            # Update the bracket stack only once the parser accepted the token, so
            # that an error on ``tok`` sees the brackets open before it.
            if typ in _OPENERS:
                brackets.append(tok)
            elif typ in _CLOSERS and brackets and _CLOSER_TYPE[brackets[-1].type] == typ:
                brackets.pop()

    def _fast_facts(
        self, pos: int, line: int, line_start: int
    ) -> tuple[list[Statement], int, int, int, _Tok]:
        """Read the plain fact, rule, query and evidence lines that start at ``pos`` (a
        clause boundary).

        Returns the statements, the position, line and line start after them,
        and a stand-in END token for the last statement's '.'.  Stops, without
        consuming it, at the first line that is none of these (or blank), so
        the tokenizer reads that line exactly as it would have.
        """
        text = self.text
        source = self.source
        match = _FAST_RULE_RE.match
        new = _new_object
        span_cls = SourceSpan
        s_source, s_line, s_col, s_end_line, s_end_col = _SPAN_SET
        word_ops = WORD_OPERATORS
        special = _FAST_SPECIAL_HEADS
        # one string object per distinct name: hashed once, compared by identity later
        names = self.names.setdefault
        # argument text -> atom name, for texts already seen to be plain atoms
        atom_values = self.atom_values
        atom_value = atom_values.get
        out: list[Statement] = []
        append = out.append
        dot = 0
        dot_line = line
        while True:
            m = match(text, pos)
            if m is None:
                m = _FAST_QUERY_RE.match(text, pos)
                query = self._fast_query(m, line, line_start) if m is not None else None
                if query is None:
                    break
                append(query)
                dot, dot_line = m.start(5) - line_start + 1, line  # type: ignore[union-attr]
                pos = m.end()  # type: ignore[union-attr]
                if text[pos - 1] == "\n":
                    line += 1
                    line_start = pos
                continue
            end = m.end()
            if end == pos:
                break
            prob_text, name, args_text, _, body_text, _ = m.groups()
            if body_text is not None:
                rule = self._fast_rule(m, line, line_start)
                if rule is None:
                    break
                append(rule)
                dot, dot_line = m.start(6) - line_start + 1, line
            elif name is not None:
                args: list[Term] = []
                if args_text is None:  # a bare atom
                    if name in word_ops:
                        break
                    head_end = m.end(2) - line_start + 1
                else:
                    # the arguments as _fast_args reads them, inlined with the number
                    # parse: this loop reads 100 000-fact files, where a call per fact
                    # or argument cost 5-10 % of the parse
                    head_end = m.end(3) - line_start + 2
                    c = m.start(3) - line_start + 1
                    spaced = " " in args_text or "\t" in args_text
                    operator_arg = False
                    for part in args_text.split(","):
                        width = len(part) + 1
                        if spaced:
                            item = part.lstrip(" \t")
                            col = c + len(part) - len(item)
                            item = item.rstrip(" \t")
                        else:
                            item = part
                            col = c
                        c += width
                        value = atom_value(item)
                        if value is None:  # first sight of this text: classify it once
                            ch = item[0]
                            if "a" <= ch <= "z":
                                if item in word_ops:  # the tokenizer reads an operator
                                    operator_arg = True
                                    break
                                value = atom_values[item] = names(item, item)
                            elif ch == "'":
                                value = atom_values[item] = names(item[1:-1], item[1:-1])
                            elif "A" <= ch <= "Z":
                                args.append(Var(item, _span_fast(source, line, col,
                                                                 col + len(item))))
                                continue
                            elif "." in item or "e" in item or "E" in item:
                                args.append(float(item))
                                continue
                            else:
                                args.append(int(item))
                                continue
                        sp = new(span_cls)
                        s_source(sp, source)
                        s_line(sp, line)
                        s_col(sp, col)
                        s_end_line(sp, line)
                        s_end_col(sp, col + len(item))
                        args.append(Struct(value, (), sp))
                    if operator_arg:
                        break
                head_col = m.start(2) - line_start + 1
                sp = new(span_cls)
                s_source(sp, source)
                s_line(sp, line)
                s_col(sp, head_col)
                s_end_line(sp, line)
                s_end_col(sp, head_end)
                head = Struct(names(name, name), args, sp)
                dot_col = m.start(4) - line_start + 1
                sp = new(span_cls)
                s_source(sp, source)
                s_line(sp, line)
                s_end_line(sp, line)
                s_end_col(sp, dot_col + 1)
                if prob_text is None:
                    s_col(sp, head_col)
                    if name in special:
                        got_special = _fast_special(head, sp)
                        if got_special is None:
                            break
                        append(got_special)
                    else:
                        append(Clause(head, None, sp))
                else:
                    if name in special:
                        break
                    if "." in prob_text or "e" in prob_text or "E" in prob_text:
                        prob: Term = float(prob_text)
                    else:
                        prob = int(prob_text)
                    s_col(sp, m.start(1) - line_start + 1)
                    append(ProbabilisticClause([(prob, head)], None, sp))
                dot, dot_line = dot_col, line
            pos = end
            if text[end - 1] == "\n":
                line += 1
                line_start = end
        last = _Tok("END", ".", ".", dot_line, dot, dot_line, dot + 1)
        return out, pos, line, line_start, last

    def _fast_rule(self, m: re.Match[str], line: int, line_start: int) -> Statement | None:
        """The statement of a :data:`_FAST_RULE_RE` match with a body, built as the full
        parser builds it (same terms, same spans); ``None``: let the full parser read it."""
        prob_text, name, args_text, _, body_text, _ = m.groups()
        word_ops = WORD_OPERATORS
        if name in word_ops or name in _FAST_SPECIAL_HEADS:
            return None
        lits = _FAST_LITS_RE.findall(body_text)
        if len(lits) + 5 > self.max_depth:
            return None  # the full parser reports the depth
        regs = m.regs  # (start, end) of every group, in one attribute read
        source = self.source
        names = self.names.setdefault
        new = _new_object
        span_cls = SourceSpan
        s_source, s_line, s_col, s_end_line, s_end_col = _SPAN_SET
        head_col = regs[2][0] - line_start + 1
        args: list[Term] | None
        if args_text is None:
            args = []
            c = regs[2][1] - line_start + 1
        else:
            args = self._fast_args(args_text, regs[3][0] - line_start + 1, line)
            if args is None:
                return None
            c = regs[3][1] - line_start + 2
        sp = new(span_cls)
        s_source(sp, source)
        s_line(sp, line)
        s_col(sp, head_col)
        s_end_line(sp, line)
        s_end_col(sp, c)
        head = Struct(names(name, name), args, sp)
        # The literals, columns counted along the validated text; spans are inlined
        # (a CPT row makes about seven, most of its parse).
        terms: list[tuple[int, Struct]] = []
        c = regs[5][0] - line_start + 1
        for neg, name, args_text, sep in lits:
            col = c
            if neg:
                c += len(neg)
            name_col = c
            c += len(name)
            if name in word_ops:
                return None
            sp = new(span_cls)
            s_source(sp, source)
            s_line(sp, line)
            s_col(sp, name_col)
            s_end_line(sp, line)
            if args_text:
                args = self._fast_args(args_text, c + 1, line)
                if args is None:
                    return None
                c += len(args_text) + 2
                s_end_col(sp, c)
                atom = Struct(names(name, name), args, sp)
            else:
                s_end_col(sp, c)
                atom = Struct(names(name, name), (), sp)
            if neg:
                sp = new(span_cls)
                s_source(sp, source)
                s_line(sp, line)
                s_col(sp, col)
                s_end_line(sp, line)
                s_end_col(sp, c)
                atom = Struct("\\+", (atom,), sp)
            terms.append((col, atom))
            c += len(sep)
        if c != regs[5][1] - line_start + 1:  # pragma: no cover - the regexes agree
            return None
        body = terms.pop()[1]
        for col, atom in reversed(terms):
            sp = new(span_cls)
            s_source(sp, source)
            s_line(sp, line)
            s_col(sp, col)
            s_end_line(sp, line)
            s_end_col(sp, c)
            body = Struct(",", (atom, body), sp)
        sp = new(span_cls)
        s_source(sp, source)
        s_line(sp, line)
        s_end_line(sp, line)
        s_end_col(sp, regs[6][0] - line_start + 2)
        if prob_text is None:
            s_col(sp, head_col)
            return Clause(head, body, sp)
        s_col(sp, regs[1][0] - line_start + 1)
        return ProbabilisticClause([(_number(prob_text), head)], body, sp)

    def _fast_query(self, m: re.Match[str], line: int, line_start: int) -> Statement | None:
        """The :class:`Query` or :class:`Evidence` of a :data:`_FAST_QUERY_RE` match, as
        ``classify`` makes it; ``None``: let the full parser read it."""
        what, name, args_text, flag, _ = m.groups()
        if name in WORD_OPERATORS or (what == "query" and flag is not None):
            return None
        args = self._fast_args(args_text, m.start(3) - line_start + 1, line)
        if args is None:
            return None
        source = self.source
        atom = Struct(self.names.setdefault(name, name), args, _span_fast(
            source, line, m.start(2) - line_start + 1, m.end(3) - line_start + 2))
        span = _span_fast(source, line, m.start(1) - line_start + 1, m.start(5) - line_start + 2)
        if what == "query":
            return Query(atom, span)
        return Evidence(atom, flag != "false", span)

    def _fast_args(self, args_text: str, c: int, line: int) -> list[Term] | None:
        """The arguments of a fast-path atom (text between its parentheses, starting at
        column ``c``); ``None`` when one is a name the tokenizer reads as an operator."""
        source = self.source
        new = _new_object
        s_source, s_line, s_col, s_end_line, s_end_col = _SPAN_SET
        # one string object per distinct name: hashed once, compared by identity later
        names = self.names.setdefault
        # argument text -> atom name, for texts already seen to be plain atoms
        atom_values = self.atom_values
        args: list[Term] = []
        spaced = " " in args_text or "\t" in args_text
        for part in args_text.split(","):
            width = len(part) + 1
            if spaced:
                item = part.lstrip(" \t")
                col = c + len(part) - len(item)
                item = item.rstrip(" \t")
            else:
                item = part
                col = c
            c += width
            value = atom_values.get(item)
            if value is None:  # first sight of this text: classify it once
                ch = item[0]
                if "a" <= ch <= "z":
                    if item in WORD_OPERATORS:
                        return None
                    value = atom_values[item] = names(item, item)
                elif ch == "'":
                    value = atom_values[item] = names(item[1:-1], item[1:-1])
                elif "A" <= ch <= "Z":
                    args.append(Var(item, _span_fast(source, line, col, col + len(item))))
                    continue
                else:
                    args.append(_number(item))
                    continue
            sp = new(SourceSpan)  # _span_fast inlined: this runs once per fact argument
            s_source(sp, source)
            s_line(sp, line)
            s_col(sp, col)
            s_end_line(sp, line)
            s_end_col(sp, col + len(item))
            args.append(Struct(value, (), sp))
        return args

    def _bad_char(self, pos: int, line: int, line_start: int) -> NoReturn:
        text = self.text
        ch = text[pos]
        col = pos - line_start + 1
        if ch == "'" or ch == '"':
            what = "quoted atom" if ch == "'" else "string"
            eol = text.find("\n", pos)
            eol = len(text) if eol < 0 else eol
            span = SourceSpan(self.source, line, col, line, col + max(1, eol - pos))
            raise ParseError(
                f"unterminated {what}: no closing {ch} on this line",
                span,
                f"add the closing {ch}; to put a line break inside, write \\n",
            )
        if text.startswith("/*", pos):
            span = SourceSpan(self.source, line, col, line, col + 2)
            raise ParseError(
                "unterminated block comment: '/*' has no matching '*/'",
                span,
                "close the comment with '*/'",
            )
        span = SourceSpan(self.source, line, col, line, col + 1)
        if ch.isprintable() and not ch.isspace():
            shown = f"'{ch}' (U+{ord(ch):04X})" if ord(ch) > 127 else f"'{ch}'"
        else:
            shown = f"U+{ord(ch):04X}"
        hint = None
        if ord(ch) < 32 or 0xFFFD == ord(ch) or 0x7F <= ord(ch) < 0xA0:
            hint = "this does not look like program text; is it a binary file?"
        elif ch.isalpha():
            hint = "names must start with an ASCII letter; quote other text: 'like this'"
        else:
            hint = "remove it, or put it inside a quoted atom: 'like this'"
        raise ParseError(f"unexpected character {shown}", span, hint)

    # ------------------------------------------------------------------ driving
    def run(self, start: str) -> Any:
        """Drive the LALR automaton over the tokens; reductions build terms bottom-up."""
        tables = _tables()
        actions = tables.actions
        # Per rule: (size, lhs, callback or None for the chain rules 'tN: tM').
        rules = [
            (size, lhs, None if name == "unit" else getattr(self, "r_" + name))
            for size, lhs, name in tables.rules
        ]
        end_state = tables.end[start]
        states = [tables.start[start]]
        values: list[Any] = []
        prev: _Tok | None = None
        for tok in self.tokens():
            typ = tok.type
            if typ == "$FACTS":
                # Plain facts read by the fast path.  Reduce as the automaton would on
                # their first token (which starts a clause), then add them to the program.
                while True:
                    act = actions[states[-1]].get("FUNCTOR")
                    if act is None:  # pragma: no cover - only offered between clauses
                        self._syntax_error(tok, prev, actions[states[-1]])
                    if act[0] == 0:
                        break
                    size, lhs, callback = rules[act[1]]
                    if callback is None:
                        states.pop()
                    else:
                        children = values[-size:] if size else []
                        if size:
                            del values[-size:]
                            del states[-size:]
                        values.append(callback(children))
                    states.append(actions[states[-1]][lhs][1])
                facts, prev = tok.value
                values[-1].extend(facts)
                continue
            while True:
                act = actions[states[-1]].get(typ)
                if act is None:
                    self._syntax_error(tok, prev, actions[states[-1]])
                if act[0] == 0:
                    states.append(act[1])
                    values.append(tok)
                    break
                size, lhs, callback = rules[act[1]]
                if callback is None:  # unit rule: the value passes through unchanged
                    states.pop()
                else:
                    children = values[-size:] if size else []
                    if size:
                        del values[-size:]
                        del states[-size:]
                    values.append(callback(children))
                states.append(actions[states[-1]][lhs][1])
            prev = tok
        end = self._eof_token(prev)
        while True:
            if states[-1] == end_state:
                return values[-1]
            act = actions[states[-1]].get("$END")
            if act is None or act[0] == 0:
                self._syntax_error(end, prev, actions[states[-1]])
            size, lhs, callback = rules[act[1]]
            if callback is None:
                states.pop()
            else:
                children = values[-size:] if size else []
                if size:
                    del values[-size:]
                    del states[-size:]
                values.append(callback(children))
            states.append(actions[states[-1]][lhs][1])

    def _eof_token(self, prev: _Tok | None) -> _Tok:
        if prev is None:
            return _Tok("$END", "", None, 1, 1, 1, 2)
        return _Tok("$END", "", None, prev.end_line, prev.end_col, prev.end_line, prev.end_col + 1)

    # ------------------------------------------------------------------ spans
    def span(self, line: int, col: int, end_line: int, end_col: int) -> SourceSpan:
        return SourceSpan(self.source, line, col, end_line, end_col)

    def too_deep(self, depth: int, n: _Node) -> NoReturn:
        raise ParseError(
            f"term nested {depth} levels deep; the limit is {self.max_depth}",
            self.span(n[2], n[3], n[4], n[5]),
            "deeply nested terms are almost always generated by mistake; "
            "flatten the data (e.g. into several facts)",
        )

    # ------------------------------------------------------------------ reduce callbacks
    # Each gets the list of reduced symbols (tokens or nodes) and returns a node.
    def r_unit(self, c: list[Any]) -> Any:
        return c[0]

    def r_var(self, c: list[Any]) -> _Node:
        t = c[0]
        sp = SourceSpan(self.source, t.line, t.col, t.end_line, t.end_col)
        return (Var(t.value, sp), 1, t.line, t.col, t.end_line, t.end_col)

    def r_atom(self, c: list[Any]) -> _Node:
        t = c[0]
        sp = SourceSpan(self.source, t.line, t.col, t.end_line, t.end_col)
        return (Struct(t.value, (), sp), 1, t.line, t.col, t.end_line, t.end_col)

    def r_number(self, c: list[Any]) -> _Node:
        t = c[0]
        return (t.value, 1, t.line, t.col, t.end_line, t.end_col)

    def r_string(self, c: list[Any]) -> _Node:
        t = c[0]
        sp = SourceSpan(self.source, t.line, t.col, t.end_line, t.end_col)
        return (Str(t.value, sp), 1, t.line, t.col, t.end_line, t.end_col)

    def r_compound(self, c: list[Any]) -> _Node:
        f, args, r = c
        depth = max([a[1] for a in args]) + 1
        node = (
            Struct(
                f.value,
                tuple([a[0] for a in args]),
                SourceSpan(self.source, f.line, f.col, r.end_line, r.end_col),
            ),
            depth,
            f.line,
            f.col,
            r.end_line,
            r.end_col,
        )
        if depth > self.max_depth:
            self.too_deep(depth, node)
        return node

    def r_first_arg(self, c: list[Any]) -> list[_Node]:
        return [c[0]]

    def r_more_args(self, c: list[Any]) -> list[_Node]:
        c[0].append(c[2])
        return c[0]

    def r_infix(self, c: list[Any]) -> _Node:
        left, op, right = c
        depth = (left[1] if left[1] > right[1] else right[1]) + 1
        sp = SourceSpan(self.source, left[2], left[3], right[4], right[5])
        node = (
            Struct(op.value, (left[0], right[0]), sp),
            depth,
            left[2],
            left[3],
            right[4],
            right[5],
        )
        if depth > self.max_depth:
            self.too_deep(depth, node)
        return node

    def r_prefix(self, c: list[Any]) -> _Node:
        op, arg = c
        depth = arg[1] + 1
        sp = SourceSpan(self.source, op.line, op.col, arg[4], arg[5])
        node = (Struct(op.value, (arg[0],), sp), depth, op.line, op.col, arg[4], arg[5])
        if depth > self.max_depth:
            self.too_deep(depth, node)
        return node

    def r_paren(self, c: list[Any]) -> _Node:
        lp, inner, rp = c
        return (inner[0], inner[1], lp.line, lp.col, rp.end_line, rp.end_col)

    def r_nil(self, c: list[Any]) -> _Node:
        lb, rb = c
        return (NIL, 1, lb.line, lb.col, rb.end_line, rb.end_col)

    def r_curly_atom(self, c: list[Any]) -> _Node:
        lb, rb = c
        sp = SourceSpan(self.source, lb.line, lb.col, rb.end_line, rb.end_col)
        return (Struct("{}", (), sp), 1, lb.line, lb.col, rb.end_line, rb.end_col)

    def r_curly(self, c: list[Any]) -> _Node:
        lb, inner, rb = c
        depth = inner[1] + 1
        sp = SourceSpan(self.source, lb.line, lb.col, rb.end_line, rb.end_col)
        node = (Struct("{}", (inner[0],), sp), depth, lb.line, lb.col, rb.end_line, rb.end_col)
        if depth > self.max_depth:
            self.too_deep(depth, node)
        return node

    def r_list(self, c: list[Any]) -> _Node:
        lb, items, rb = c
        return self._make_list(lb, items, NIL, 1, rb)

    def r_list_tail(self, c: list[Any]) -> _Node:
        lb, items, _bar, tail, rb = c
        return self._make_list(lb, items, tail[0], tail[1], rb)

    def _make_list(self, lb: _Tok, items: list[_Node], tail: Term, depth: int, rb: _Tok) -> _Node:
        term = tail
        el, ec = rb.end_line, rb.end_col
        source = self.source
        for item in reversed(items):
            depth = (item[1] if item[1] > depth else depth) + 1
            sp = SourceSpan(source, item[2], item[3], el, ec)
            term = Struct(LIST_FUNCTOR, (item[0], term), sp)
            if depth > self.max_depth:
                self.too_deep(depth, (term, depth, item[2], item[3], el, ec))
        return (term, depth, lb.line, lb.col, el, ec)

    def r_single_term(self, c: list[Any]) -> _Node:
        return c[0]

    def r_term_end(self, c: list[Any]) -> _Node:
        return c[0]

    def r_empty_program(self, c: list[Any]) -> list[Statement]:
        return []

    def r_add_clause(self, c: list[Any]) -> list[Statement]:
        c[0].append(c[1])
        return c[0]

    def r_clause(self, c: list[Any]) -> Statement:
        node, end = c
        span = SourceSpan(self.source, node[2], node[3], end.end_line, end.end_col)
        return self.classify(node, span)

    # ------------------------------------------------------------------ classification
    def term_span(self, term: Term, fallback: SourceSpan) -> SourceSpan:
        sp = getattr(term, "span", None)
        if sp is not None:
            return sp
        width = len(repr(term))
        return SourceSpan(
            self.source, fallback.line, fallback.col, fallback.line, fallback.col + width
        )

    def classify(self, node: _Node, span: SourceSpan) -> Statement:
        term = node[0]
        if isinstance(term, Struct) and term.arity == 1 and term.functor == ":-":
            return Directive(term.args[0], span)
        if isinstance(term, Struct) and term.arity == 1 and term.functor == "?-":
            raise ParseError(
                "'?-' queries are not part of einlog programs",
                span,
                "ask for a probability with query(Atom). instead",
            )
        body: Term | None = None
        head = term
        if isinstance(term, Struct) and term.arity == 2 and term.functor == ":-":
            head, body = term.args
        if isinstance(head, Struct) and head.arity == 2 and head.functor == "::":
            prob, atom = head.args
            if isinstance(prob, Struct) and prob.functor == "nn" and prob.arity in (2, 4):
                return self.neural(prob, atom, body, span)
            return ProbabilisticClause([(prob, self.prob_head(atom, span))], body, span)
        if isinstance(head, Struct) and head.arity == 2 and head.functor == ";":
            return self.annotated_disjunction(head, body, span)
        if body is None and isinstance(head, Struct):
            if head.functor == "query" and head.arity == 1:
                return Query(self.atom_arg(head.args[0], "query", span), span)
            if head.functor == "evidence" and head.arity in (1, 2):
                return self.evidence(head, span)
        return Clause(self.clause_head(head, span), body, span)

    def clause_head(self, head: Term, span: SourceSpan) -> Struct:
        if isinstance(head, Var):
            raise ParseError(
                f"clause head is the variable {head.name}; a head must be an atom like p(X)",
                self.term_span(head, span),
                "give the clause a predicate name, e.g. p(X) :- ...",
            )
        if not isinstance(head, Struct):
            what = "a string" if isinstance(head, Str) else f"the number {head!r}"
            raise ParseError(
                f"clause head is {what}; a head must be an atom like p(X)",
                self.term_span(head, span),
                "give the clause a predicate name, e.g. p(X) :- ...",
            )
        self.check_not_control(head, span, "clause head")
        return head

    def check_not_control(self, head: Struct, span: SourceSpan, what: str) -> None:
        control = {
            ",": "a conjunction",
            ";": "a disjunction",
            "->": "an if-then",
            "\\+": "a negation",
            ":-": "a clause",
            "::": "a probabilistic fact",
        }
        if head.functor in control and head.arity in (1, 2):
            kind = control[head.functor]
            if head.functor == "\\+" and head.arity != 1:
                return
            hint = "a head is a single atom; move the condition into the body after ':-'"
            if head.functor == "::":
                hint = "write the probability once, in front of the head: P::head"
            raise ParseError(f"{what} is {kind}, not an atom", self.term_span(head, span), hint)

    def prob_head(self, atom: Term, span: SourceSpan) -> Struct:
        if not isinstance(atom, Struct):
            shown = atom.name if isinstance(atom, Var) else repr(atom)
            if isinstance(atom, Str):
                shown = f'"{atom.value}"'
            raise ParseError(
                f"the head of a probabilistic clause must be an atom, not {shown}",
                self.term_span(atom, span),
                "write P::p(...), e.g. 0.5::coin(heads).",
            )
        self.check_not_control(atom, span, "probabilistic head")
        return atom

    def annotated_disjunction(
        self, head: Struct, body: Term | None, span: SourceSpan
    ) -> ProbabilisticClause:
        parts: list[Term] = []
        t: Term = head
        while isinstance(t, Struct) and t.arity == 2 and t.functor == ";":
            parts.append(t.args[0])
            t = t.args[1]
        parts.append(t)
        heads: list[tuple[Term, Struct]] = []
        for part in parts:
            if not (isinstance(part, Struct) and part.arity == 2 and part.functor == "::"):
                if not any(isinstance(p, Struct) and p.functor == "::" for p in parts):
                    raise ParseError(
                        "clause head is a disjunction, not an atom",
                        self.term_span(head, span),
                        "a head is a single atom; for an annotated disjunction write "
                        "P1::h1; P2::h2.",
                    )
                raise ParseError(
                    "every choice of an annotated disjunction needs a probability",
                    self.term_span(part, span),
                    "write P::head for each choice, e.g. 0.5::a; 0.5::b.",
                )
            prob, atom = part.args
            if isinstance(prob, Struct) and prob.functor == "nn":
                raise ParseError(
                    "a neural predicate cannot be one choice of an annotated disjunction",
                    self.term_span(part, span),
                    "declare it on its own: nn(Net, [X], Y, [...]) :: p(X, Y).",
                )
            heads.append((prob, self.prob_head(atom, span)))
        return ProbabilisticClause(heads, body, span)

    def neural(
        self, nn: Struct, head: Term, body: Term | None, span: SourceSpan
    ) -> NeuralDeclaration:
        net = nn.args[0]
        if not (isinstance(net, Struct) and not net.args):
            raise ParseError(
                "the network name in nn(...) must be an atom",
                self.term_span(net, span),
                "write nn(net_name, [X], Y, [values...]) :: p(X, Y).",
            )
        inputs = self.proper_list(nn.args[1], "the inputs of nn(...)", span)
        output: Term | None = None
        domain: list[Term] | None = None
        if nn.arity == 4:
            output = nn.args[2]
            domain = self.proper_list(nn.args[3], "the domain of nn(...)", span)
        return NeuralDeclaration(
            net.functor, inputs, output, domain, self.prob_head(head, span), body, span
        )

    def proper_list(self, term: Term, what: str, span: SourceSpan) -> list[Term]:
        items, tail = list_items(term)
        if tail != NIL:
            raise ParseError(
                f"{what} must be a list like [X, Y]",
                self.term_span(term, span),
                "write nn(net_name, [X], Y, [values...]) :: p(X, Y).",
            )
        return items

    def atom_arg(self, term: Term, what: str, span: SourceSpan) -> Struct:
        if isinstance(term, Struct):
            return term
        raise ParseError(
            f"{what}(...) needs an atom, not {term.name if isinstance(term, Var) else repr(term)}",
            self.term_span(term, span),
            f"write {what}(p(a)).",
        )

    def evidence(self, head: Struct, span: SourceSpan) -> Evidence:
        atom_term = head.args[0]
        value = True
        if head.arity == 2:
            flag = head.args[1]
            if flag == Struct("true"):
                value = True
            elif flag == Struct("false"):
                value = False
            else:
                raise ParseError(
                    "the second argument of evidence/2 must be true or false",
                    self.term_span(flag, span),
                    "write evidence(a, true). or evidence(a, false).",
                )
        if isinstance(atom_term, Struct) and atom_term.functor == "\\+" and atom_term.arity == 1:
            atom_term = atom_term.args[0]
            value = not value
        return Evidence(self.atom_arg(atom_term, "evidence", span), value, span)

    # ------------------------------------------------------------------ errors
    def _syntax_error(
        self, tok: _Tok, prev: _Tok | None, row: dict[str, tuple[int, int]]
    ) -> NoReturn:
        expected = {sym for sym in row if sym.isupper() or sym == "$END"}
        msg, span, hint = self._explain(tok, prev, expected)
        raise ParseError(msg, span, hint)

    def _tok_span(self, tok: _Tok) -> SourceSpan:
        return SourceSpan(self.source, tok.line, tok.col, tok.end_line, tok.end_col)

    @staticmethod
    def _describe(tok: _Tok) -> str:
        typ = tok.type
        if typ == "$END":
            return "end of file"
        if typ == "END":
            return "'.'"
        if typ == "VAR":
            return f"variable {_show(tok.text)}"
        if typ in ("NAME", "QATOM", "CUT"):
            return f"atom {_show(tok.text)}"
        if typ in ("INT", "FLOAT"):
            return f"number {_show(tok.text)}"
        if typ == "STRING":
            return f"string {_show(tok.text)}"
        if typ == "FUNCTOR":
            return f"'{_show(tok.text)}'"
        if typ in _OP_PRIORITY:
            return f"operator '{_show(tok.text)}'"
        return f"'{_show(tok.text)}'"

    def _explain(
        self, tok: _Tok, prev: _Tok | None, expected: set[str]
    ) -> tuple[str, SourceSpan, str | None]:
        span = self._tok_span(tok)
        brackets = self.brackets
        opener = brackets[-1] if brackets else None
        close = _CLOSER_OF[opener.type] if opener is not None else ""
        open_desc = ""
        if opener is not None:
            # A FUNCTOR token is 'name(': point at its parenthesis.
            where = f"{opener.line}:{opener.end_col - 1}"
            open_desc = f"'{_show(open_text_of(opener))}' opened at {where}"
        operand_expected = "VAR" in expected
        typ = tok.type
        prev_desc = f"'{_show(prev.text)}'" if prev is not None else ""

        if typ == "$END":
            if prev is None:
                return "expected a term, found end of input", span, None
            if opener is not None:
                return (
                    f"expected '{close}' to close {open_desc}",
                    span,
                    f"add the missing '{close}'",
                )
            if operand_expected:
                return (
                    f"unexpected end of file after {prev_desc}; expected a term",
                    span,
                    "complete the clause and end it with '.'",
                )
            last = SourceSpan(self.source, prev.line, prev.col, prev.end_line, prev.end_col)
            return (
                f"expected '.' after clause ending at {prev.end_line}:{prev.end_col - 1}",
                last,
                "end every clause with a period '.'",
            )

        if operand_expected:
            after = f"after {prev_desc}" if prev is not None and prev.type != "END" else ""
            if prev is not None and prev.type == "COMMA" and typ == "COMMA":
                return (
                    "expected a term after ',', found another ','",
                    span,
                    "remove the extra ','",
                )
            if typ in _CLOSERS or typ == "END":
                what = self._describe(tok)
                if prev is None or prev.type == "END":
                    return f"expected a clause, found {what}", span, None
                return (
                    f"expected a term {after}, found {what}",
                    span,
                    "is an argument or operand missing?",
                )
            if typ in _OP_PRIORITY or typ == "SYMATOM" or typ == "BAR":
                where = f" {after}" if after else " at the start of a clause"
                if prev is not None and prev.type == "END":
                    where = " at the start of a clause"
                if typ == "SYMATOM":
                    return (
                        f"unknown operator '{_show(tok.text)}'",
                        span,
                        self._operator_hint(tok.text),
                    )
                if typ in ("NOT", "NECK", "QUERY") and prev is not None and prev.type != "END":
                    return (
                        f"operator '{tok.text}' (priority {_OP_PRIORITY[typ]}) needs parentheses "
                        f"here, as the operand of {prev_desc}",
                        span,
                        f"write ({tok.text} ...) in parentheses",
                    )
                return (
                    f"expected a term{where}, found {self._describe(tok)}",
                    span,
                    "is an operand missing before the operator?",
                )
            return f"unexpected {self._describe(tok)} {after}".rstrip(), span, None

        # A complete term may end here; the token does not fit after it.
        if typ == "SYMATOM" and tok.text == ".":
            return (
                "'.' here does not end the clause",
                span,
                "a clause ends with '.' followed by a space, a line break or the end of the file",
            )
        if typ == "SYMATOM":
            return f"unknown operator '{_show(tok.text)}'", span, self._operator_hint(tok.text)
        if opener is not None and _CLOSER_TYPE[opener.type] in expected:
            if typ in _CLOSERS or typ == "END" or typ in _HIGH_OPS:
                hint = f"add the missing '{close}'"
                if typ in _HIGH_OPS:
                    hint += (
                        f", or put parentheses around a '{tok.text}' that belongs inside "
                        "(arguments may not contain operators above priority 999)"
                    )
                return f"expected '{close}' to close {open_desc}", span, hint
            if typ not in _OP_PRIORITY and typ != "COMMA":
                return (
                    f"unexpected {self._describe(tok)} after {prev_desc}",
                    span,
                    f"separate arguments with ',' or close {open_desc} with '{close}'",
                )
        if typ in _CLOSERS:
            return (
                f"unmatched '{tok.text}'",
                span,
                "remove it or add the opening bracket that it should close",
            )
        if typ in _OP_PRIORITY or typ == "COMMA" or typ == "BAR":
            prio = _OP_PRIORITY.get(typ)
            if typ == "BAR":
                return (
                    "'|' is only allowed in a list, as in [H|T]",
                    span,
                    "write a disjunction with ';'",
                )
            return (
                f"operator '{tok.text}' cannot follow the term before it without parentheses",
                span,
                f"'{tok.text}' (priority {prio}) does not combine with the operator before it; "
                "add parentheses to say what you mean",
            )
        if "END" in expected and prev is not None:
            return (
                f"expected '.' after clause ending at {prev.end_line}:{prev.end_col - 1}",
                span,
                "end each clause with '.'; if the clause goes on, join the terms with an "
                "operator such as ','",
            )
        return f"unexpected {self._describe(tok)}", span, None

    @staticmethod
    def _operator_hint(text: str) -> str:
        known = [op for op in SYMBOL_OPERATORS if op != text]
        close = [op for op in known if op in text or text in op]
        close = sorted(close, key=lambda op: (-len(op), op))[:3]
        listing = " ".join(sorted(SYMBOL_OPERATORS, key=lambda o: (len(o), o)))
        if close:
            return f"did you mean {' or '.join(repr(c) for c in close)}?"
        return f"known operators: {listing} is mod rem"


# --------------------------------------------------------------------------- public API
#: Read plain facts with the regex fast path (tests switch it off to compare).
_FAST_FACTS = True

def _check_text(text: object) -> str:
    if isinstance(text, str):
        return text
    if isinstance(text, (bytes, bytearray)):
        return _decode(bytes(text), "<bytes>").text
    raise TypeError(f"expected program text as str, got {type(text).__name__}")


def _without_gc(run: Callable[[str], Any], start: str) -> Any:
    """Run a parse with the cyclic GC paused.

    Parsing allocates millions of small acyclic objects; each allocation burst
    triggers collections that rescan the growing heap, which more than doubled
    the time for large programs.  Terms hold no cycles, so nothing leaks.
    A large result goes straight to the oldest generation (:mod:`einlog._gc`),
    so the collections after the parse do not rescan it either.
    """
    return bulk_build(lambda: run(start))


def parse_program(
    text: str, name: str = "<string>", *, max_depth: int = MAX_TERM_DEPTH
) -> ProgramAST:
    """Parse a whole program into a :class:`ProgramAST`; raise :class:`ParseError` if invalid."""
    text = _check_text(text)
    p = _Parse(text, name, max_depth, fast=_FAST_FACTS)
    statements: list[Statement] = _without_gc(p.run, "program")
    return ProgramAST(statements, p.source)


def parse_source(source: Source, *, max_depth: int = MAX_TERM_DEPTH) -> ProgramAST:
    """Parse a :class:`Source` (e.g. from :func:`read_source`)."""
    return parse_program(source.text, source.name, max_depth=max_depth)


def parse_term(text: str, name: str = "<string>", *, max_depth: int = MAX_TERM_DEPTH) -> Term:
    """Parse one term (an optional final '.' is allowed)."""
    text = _check_text(text)
    p = _Parse(text, name, max_depth)
    node: _Node = _without_gc(p.run, "single_term")
    return node[0]


def parse_query(query: str | Struct) -> Struct:
    """A query atom from text (``"path(a, X)"``, a final ``.`` allowed) or a ``Struct`` as is."""
    if isinstance(query, Struct):
        return query
    term = parse_term(query, name="<query>")
    if not isinstance(term, Struct):
        raise ParseError(f"a query must be an atom such as path(a, X), not {query.strip()!r}",
                         hint="write a predicate applied to arguments, e.g. path(a, X)")
    return term


def _decode(data: bytes, name: str) -> Source:
    try:
        return Source(name, data.decode("utf-8-sig"))
    except UnicodeDecodeError as e:
        start = e.start
        line = data.count(b"\n", 0, start) + 1
        line_start = data.rfind(b"\n", 0, start) + 1
        col = len(data[line_start:start].decode("utf-8", "replace")) + 1
        if line == 1 and data.startswith(b"\xef\xbb\xbf"):
            col -= 1
        text = data.decode("utf-8", "replace")
        source = Source(name, text)
        raise ParseError(
            f"file is not UTF-8 text: invalid byte 0x{data[start]:02x} at {line}:{col}",
            SourceSpan(source, line, col, line, col + 1),
            "save the program as UTF-8 (is this a binary file?)",
        ) from None


def read_source(path: str | os.PathLike[str], name: str | None = None) -> Source:
    """Read a program file as UTF-8; ``name`` (default: the path) is used in messages."""
    shown = name if name is not None else os.fspath(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ProgramFileNotFoundError(
            f"program file not found: {shown}",
            None,
            f"check the path (relative paths start at {os.getcwd()})",
        ) from None
    except IsADirectoryError:
        raise ProgramFileNotFoundError(
            f"{shown} is a directory, not a program file",
            None,
            "pass the path of a .pl file",
        ) from None
    return _decode(data, shown)
