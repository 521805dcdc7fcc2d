"""The parser's LALR(1) tables: built by Lark from ``grammar.lark``, shipped pre-built.

Why this module exists: building the tables with Lark costs 40-100 ms (plus
~100 ms to import Lark), paid by the first parse of every process -- more
than parsing a 1 000-fact program.  So the tables are generated once into
:mod:`einlog.syntax._lalr_tables`, a plain Python module committed with the
code (data only, no pickle: importing it runs nothing but literals), and
:func:`tables` loads it when its recorded SHA-256 matches the grammar file.
When it does not (someone edited the grammar and did not regenerate), the
tables are built with Lark as before, so a stale module can cost time but
never correctness; ``tests/syntax/test_lalr_tables.py`` fails until
``python -m einlog.syntax.lalr`` rewrites the module.

Lark numbers states and rules in an order that depends on string hashing
(``PYTHONHASHSEED``), so the generated tables are put in a canonical form
first: states numbered breadth-first from the start states, following
symbols in sorted order, and rules numbered by their sorted description.
The same grammar therefore always produces the same module text.
"""

from __future__ import annotations

import hashlib
import pprint
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["Tables", "tables", "build_tables", "render_module", "write_module", "grammar_sha256"]

GRAMMAR_PATH = Path(__file__).with_name("grammar.lark")
MODULE_PATH = Path(__file__).with_name("_lalr_tables.py")


class Tables:
    """LALR(1) tables re-keyed by plain ints and strings for a tight driver loop.

    ``actions[state][symbol]`` is ``(0, next_state)`` for a shift or goto and
    ``(1, rule)`` for a reduce; ``rules[rule]`` is ``(size, lhs, callback name)``;
    ``start`` / ``end`` map a start symbol to its first / accepting state.
    """

    def __init__(
        self,
        actions: list[dict[str, tuple[int, int]]],
        rules: list[tuple[int, str, str]],
        start: dict[str, int],
        end: dict[str, int],
    ) -> None:
        self.actions = actions
        self.rules = rules
        self.start = start
        self.end = end


def grammar_sha256(text: str | None = None) -> str:
    if text is None:
        text = GRAMMAR_PATH.read_text(encoding="utf-8")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def build_tables(grammar: str | None = None) -> Tables:
    """Build the tables with Lark (slow: imports Lark and runs its LALR analysis)."""
    from lark import Lark
    from lark.lexer import Lexer
    from lark.parsers.lalr_analysis import Shift

    class _NoLexer(Lexer):
        """Placeholder: tokens come from the parser's own tokenizer, never from Lark."""

        def __init__(self, conf: Any) -> None:
            pass

        def lex(self, lexer_state: Any, parser_state: Any) -> Iterator[Any]:  # pragma: no cover
            raise NotImplementedError

    if grammar is None:
        grammar = GRAMMAR_PATH.read_text(encoding="utf-8")
    lark = Lark(grammar, parser="lalr", lexer=_NoLexer, start=["program", "single_term"])
    table = lark.parse_interactive(None, start="program").parser_state.parse_conf.parse_table

    # canonical rule numbers: by (lhs, expansion, callback name)
    def describe(rule: Any) -> tuple[str, tuple[str, ...], str]:
        return (str(rule.origin.name), tuple(str(s.name) for s in rule.expansion),
                str(rule.alias or rule.origin.name))

    all_rules = {arg for row in table.states.values() for action, arg in row.values()
                 if action is not Shift}
    ordered = sorted(all_rules, key=describe)
    rule_id = {r: i for i, r in enumerate(ordered)}
    rules = [(len(r.expansion), describe(r)[0], describe(r)[2]) for r in ordered]

    # canonical state numbers: breadth first from the start states, symbols sorted
    state_id: dict[Any, int] = {}
    queue: list[Any] = []
    for name in sorted(table.start_states):
        s = table.start_states[name]
        if s not in state_id:
            state_id[s] = len(queue)
            queue.append(s)
    for name in sorted(table.end_states):
        s = table.end_states[name]
        if s not in state_id:
            state_id[s] = len(queue)
            queue.append(s)
    i = 0
    while i < len(queue):
        row = table.states[queue[i]]
        for sym in sorted(row, key=str):
            action, arg = row[sym]
            if action is Shift and arg not in state_id:
                state_id[arg] = len(queue)
                queue.append(arg)
        i += 1
    for s in table.states:  # unreachable states (none expected) keep a number too
        if s not in state_id:
            state_id[s] = len(queue)
            queue.append(s)
    actions: list[dict[str, tuple[int, int]]] = []
    for s in queue:
        row = table.states[s]
        out: dict[str, tuple[int, int]] = {}
        for sym in sorted(row, key=str):
            action, arg = row[sym]
            out[str(sym)] = (0, state_id[arg]) if action is Shift else (1, rule_id[arg])
        actions.append(out)
    start = {str(k): state_id[v] for k, v in sorted(table.start_states.items())}
    end = {str(k): state_id[v] for k, v in sorted(table.end_states.items())}
    return Tables(actions, rules, start, end)


def render_module(grammar: str | None = None) -> str:
    """Text of :mod:`einlog.syntax._lalr_tables` for ``grammar`` (default: grammar.lark)."""
    if grammar is None:
        grammar = GRAMMAR_PATH.read_text(encoding="utf-8")
    t = build_tables(grammar)
    lines = [
        '"""LALR(1) tables of grammar.lark, generated by ``python -m einlog.syntax.lalr``.',
        "",
        "Do not edit: regenerate after changing the grammar (see einlog.syntax.lalr).",
        '"""',
        "",
        f"GRAMMAR_SHA256 = {grammar_sha256(grammar)!r}",
        "",
        "# (size, lhs, callback name) per rule",
        "RULES = " + pprint.pformat(t.rules, width=96),
        "",
        "# per state, ended by ';': SYMBOL=sN (shift / goto to state N) or SYMBOL=rN (reduce",
        "# by rule N); a string rather than literals because compiling ~1 300 literal tuples",
        "# costs ~25 ms where no .pyc can be written, decoding this string ~1 ms",
        'ACTIONS = """\\',
        *[line for row in t.actions for line in textwrap.wrap(
            " ".join(f"{sym}={'s' if kind == 0 else 'r'}{arg}" for sym, (kind, arg) in row.items())
            + " ;", width=96, break_long_words=False, break_on_hyphens=False)],
        '"""',
        "",
        f"START = {t.start!r}",
        f"END = {t.end!r}",
        "",
    ]
    return "\n".join(lines)


def write_module() -> Path:
    """Regenerate :mod:`einlog.syntax._lalr_tables` from grammar.lark."""
    MODULE_PATH.write_text(render_module(), encoding="utf-8")
    return MODULE_PATH


_lock = threading.Lock()
_cache: list[Tables] = []


def _load() -> Tables:
    try:
        from einlog.syntax import _lalr_tables as mod
    except ImportError:  # pragma: no cover - the module ships with the package
        return build_tables()
    if mod.GRAMMAR_SHA256 != grammar_sha256():
        return build_tables()  # the grammar changed since the module was generated
    return Tables(decode_actions(mod.ACTIONS), mod.RULES, mod.START, mod.END)


def decode_actions(text: str) -> list[dict[str, tuple[int, int]]]:
    """The ``ACTIONS`` string of the generated module as per-state dictionaries."""
    actions: list[dict[str, tuple[int, int]]] = []
    for state in text.split(";")[:-1]:
        row: dict[str, tuple[int, int]] = {}
        for item in state.split():
            sym, _, act = item.rpartition("=")
            row[sym] = (0 if act[0] == "s" else 1, int(act[1:]))
        actions.append(row)
    return actions


def tables() -> Tables:
    """The tables for ``grammar.lark``: pre-built when current, else built now (once)."""
    with _lock:
        if not _cache:
            _cache.append(_load())
        return _cache[0]


if __name__ == "__main__":
    print(f"wrote {write_module()}")
