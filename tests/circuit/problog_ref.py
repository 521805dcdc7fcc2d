"""Run one ProbLog program text through einlog's exact engine and through ProbLog."""

from __future__ import annotations

from dataclasses import dataclass

from einlog.circuit import ExactEngine
from einlog.errors import EinlogError


@dataclass
class Outcome:
    probs: dict[str, float] | None  # None: the run raised
    error: str | None = None


def run_einlog(src: str, engine: str = "topdown", cycles: str = "auto") -> Outcome:
    from einlog.front import compile_program
    from einlog.ground import ground
    from einlog.syntax import parse_program

    try:
        ir = compile_program(parse_program(src))
        g = ground(ir, engine=engine)  # type: ignore[arg-type]
        gp = g.program
        eng = ExactEngine(gp, cycles=cycles)
        vals = eng.probabilities().tolist()  # checks the evidence even without queries
        # the same answers from the tensor circuit (a batch of one takes that path)
        batched = eng.probabilities(eng.inputs().unsqueeze(0))[0].tolist()
        for a, b in zip(vals, batched):
            assert abs(a - b) <= 1e-12, f"model counting {vals} vs tensor circuit {batched}"
        names = [str(gp.atoms[q]) for q in gp.queries]
        return Outcome(dict(zip(names, vals)))
    except EinlogError as exc:
        return Outcome(None, f"{type(exc).__name__}: {exc}")


def run_problog(src: str) -> Outcome:
    from problog import get_evaluatable
    from problog.errors import ProbLogError
    from problog.program import PrologString

    try:
        res = get_evaluatable("sdd").create_from(PrologString(src)).evaluate()
    except ProbLogError as exc:
        if type(exc).__name__ == "NegativeCycle":
            # ProbLog's tabling reports a negative cycle for some stratified programs
            # (a negated call to a left-recursive predicate while it is being tabled)
            return Outcome(None, "problog-crash")
        return Outcome(None, f"{type(exc).__name__}: {exc}")
    except AssertionError:  # ProbLog 2.3.0's cycle breaking asserts on some programs
        return Outcome(None, "problog-crash")
    return Outcome({str(k): float(v) for k, v in res.items()})


def run_oracle(src: str, engine: str = "topdown") -> Outcome:
    """Possible-world enumeration on einlog's grounding (when ProbLog itself crashes)."""
    from einlog.eval.oracle import exact_probabilities
    from einlog.front import compile_program
    from einlog.ground import ground
    from einlog.syntax import parse_program

    gp = ground(compile_program(parse_program(src)), engine=engine).program  # type: ignore[arg-type]
    try:
        probs = exact_probabilities(gp)
    except EinlogError as exc:
        return Outcome(None, f"{type(exc).__name__}: {exc}")
    return Outcome({str(gp.atoms[q]): probs[q] for q in gp.queries})


def compare(src: str, tol: float = 1e-9, engine: str = "topdown", cycles: str = "auto") -> None:
    ours = run_einlog(src, engine, cycles)
    ref = run_problog(src)
    if ref.error == "problog-crash":
        ref = run_oracle(src, engine)
    if ref.probs is None or ours.probs is None:
        assert ref.probs is None and ours.probs is None, (
            f"einlog: {ours.error or 'ok'}; problog: {ref.error or 'ok'}\n{src}"
        )
        return
    keys = set(ours.probs) | set(ref.probs)
    for k in sorted(keys):
        a = ours.probs.get(k, 0.0)
        b = ref.probs.get(k, 0.0)
        assert abs(a - b) <= tol, f"{k}: einlog {a!r} vs problog {b!r}\n{src}"
