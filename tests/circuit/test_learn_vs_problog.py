"""Parameter learning through the whole pipeline, against ProbLog's LFI."""

from __future__ import annotations

import pytest

from einlog.front import compile_program
from einlog.learn.exact import format_learned_program, learn_parameters, read_lfi_examples
from einlog.syntax import parse_program

MODEL = """
t(_)::burglary.
0.2::earthquake.
t(_)::c(r); t(_)::c(g); t(_)::c(b).
alarm :- burglary.
alarm :- earthquake.
"""

# alarm observed in 6 of 10 examples: MLE P(burglary) = 1 - 0.4 / 0.8 = 0.5;
# colours 2 r, 3 g, 5 b: MLE 0.2 / 0.3 / 0.5 (learnable alternatives sum to 1)
EVIDENCE = "\n---\n".join(
    [f"evidence(alarm, {'true' if i < 6 else 'false'}).\nevidence(c({col}), true)."
     for i, col in enumerate("rrgggbbbbb")]
)


def test_learns_the_mle_and_matches_problog_lfi():
    examples = read_lfi_examples(EVIDENCE)
    assert len(examples) == 10
    ast = parse_program(MODEL)
    ir = compile_program(ast)
    res = learn_parameters(ir, examples, epochs=3000, lr=0.05)
    want = [0.5, 0.2, 0.3, 0.5]
    assert all(abs(x - y) < 1e-4 for x, y in zip(res.values, want)), res.values

    lfi = pytest.importorskip("problog.learning.lfi")
    from problog.logic import Term
    from problog.program import PrologString

    def term(atom):
        return Term(atom.functor, *[Term(str(a)) for a in atom.args])

    pl_examples = [[(term(a), v) for a, v in ex] for ex in examples]
    _score, weights, _atoms, _it, _problem = lfi.run_lfi(
        PrologString(MODEL), pl_examples, max_iter=500
    )
    assert all(abs(float(x) - y) < 1e-3 for x, y in zip(weights, res.values)), weights

    text = format_learned_program(ast, res.values, digits=3)
    assert "0.5::burglary." in text.replace(" ", "")
    assert "0.2::c(r);0.3::c(g);0.5::c(b)." in text.replace(" ", "")
