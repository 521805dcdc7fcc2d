"""The pre-built LALR tables are current, used, and safely replaced when stale."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from einlog.syntax import _lalr_tables, lalr, parse_program


def test_generated_module_is_current() -> None:
    # Fails after a grammar edit: regenerate with `python -m einlog.syntax.lalr`.
    assert lalr.MODULE_PATH.read_text(encoding="utf-8") == lalr.render_module(), (
        "src/einlog/syntax/_lalr_tables.py is stale: run `python -m einlog.syntax.lalr`"
    )


def test_canonical_form_does_not_depend_on_hash_seed() -> None:
    # Lark's own state numbering follows string hashing; the rendered module must not.
    code = "from einlog.syntax.lalr import render_module; print(render_module())"
    texts = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                       env={**os.environ, "PYTHONHASHSEED": seed}).stdout
        for seed in ("1", "2")
    }
    assert len(texts) == 1


def test_parsing_does_not_import_lark() -> None:
    code = ("import sys; from einlog.syntax import parse_program; "
            "parse_program('p(X) :- q(X, [1|T]), \\\\+ r(T). q(a, [1]).'); "
            "print('lark' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_stale_module_falls_back_to_lark(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lalr, "grammar_sha256", lambda text=None: "edited grammar")
    built = lalr._load()
    assert built.actions == lalr.decode_actions(_lalr_tables.ACTIONS)
    assert built.rules == _lalr_tables.RULES
    assert (built.start, built.end) == (_lalr_tables.START, _lalr_tables.END)
    assert parse_program("a.").statements
