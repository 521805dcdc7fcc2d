"""Implementations of the CLI subcommands, kept apart from argument parsing.

Each function takes the parsed ``argparse.Namespace`` and returns an exit
code; errors propagate as :class:`EinlogError` to :func:`einlog.cli.main.main`,
which prints them without a traceback.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from einlog.errors import ConfigError

__all__ = ["run"]


def _load(path: str, max_atoms: int | None = None):  # type: ignore[no-untyped-def]
    from einlog.ground import GroundingLimits
    from einlog.program import Program

    limits = GroundingLimits(max_atoms=max_atoms) if max_atoms else None
    program = Program.from_file(path, limits=limits)
    if not program.ast.statements:
        raise ConfigError(f"{path}: the program is empty", hint="write at least one clause")
    return program


def cmd_query(args: argparse.Namespace) -> int:
    from einlog.cli.main import format_results

    program = _load(args.file, args.max_atoms)
    semantics: Any = args.semantics
    budgets = {name: value for name, value in (("max_size", args.max_size),
                                               ("time_limit", args.time_limit))
               if value is not None}
    if budgets:
        from einlog.semirings import get_semiring

        if get_semiring(args.semantics).kind != "exact":
            raise ConfigError("--max-size and --time-limit apply to --semantics exact only")
        semantics = get_semiring(args.semantics, **budgets)
    result = program.query(args.query, semantics=semantics, k=args.k)
    pairs = [(str(atom), float(v)) for atom, v in zip(result.atoms, result.values.tolist())]
    text = format_results(pairs, args.precision)
    if text:
        print(text)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    program = _load(args.file)
    ir = program.ir
    n_rules = len(ir.rules)
    n_facts = sum(len(v) for v in ir.facts.values())
    print(
        f"{args.file}: ok ({len(program.ast.statements)} statements, {n_rules} rules, "
        f"{n_facts} facts, {len(ir.choices)} probabilistic choices, "
        f"{len(ir.queries)} queries)"
    )
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    program = _load(args.file)
    result = program.query(args.query, semantics="topk", k=args.k)
    for atom in result.atoms:
        proofs = result.explain(atom)
        print(f"{atom}: {len(proofs)} proof(s), best first (k={args.k})")
        for rank, proof in enumerate(proofs, 1):
            facts = ", ".join(str(f) for f in proof.facts) or "(certain: no probabilistic facts)"
            print(f"  {rank}. p={proof.probability:.8g}  {facts}")
    if args.mpe:
        world, prob = program.mpe(args.query)
        print(f"most probable explanation (p={prob:.8g}):")
        for label, value in world:
            print(f"  {label}" if value else f"  \\+ {label}")
    return 0


def cmd_ground(args: argparse.Namespace) -> int:
    program = _load(args.file)
    grounding = program.ground(args.query)
    gp = grounding.program
    leaf_of = gp.leaf_of_atom()
    for i in range(gp.num_atoms):
        if i in leaf_of:
            w = gp.leaf_weight[leaf_of[i]]
            shown = w.value if w.kind == "const" else w.kind
            print(f"{shown}::{gp.atoms[i]}.")
    for r in range(gp.num_rules):
        body = ", ".join(("\\+ " if neg else "") + str(gp.atoms[a]) for a, neg in gp.rule_body(r))
        head = gp.atoms[int(gp.rule_head[r])]
        print(f"{head} :- {body}." if body else f"{head}.")
    return 0


def cmd_learn(args: argparse.Namespace) -> int:
    from einlog.learn.exact import format_learned_program, learn_parameters, read_lfi_examples
    from einlog.syntax import read_source

    program = _load(args.file)
    if not program.ir.params:
        raise ConfigError(
            f"{args.file}: the program has no learnable parameters",
            hint="mark the probabilities to learn as t(_) or t(0.5), e.g. t(_)::heads(C).",
        )
    evidence = read_source(args.evidence)
    examples = read_lfi_examples(evidence.text, evidence.name)
    learned = learn_parameters(program.ir, examples, epochs=args.epochs, lr=args.lr)
    print(format_learned_program(program.ast, list(learned)).rstrip())
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from einlog.learn.cli import train_command

    return int(train_command(args.config, args.rest))


def cmd_bench(args: argparse.Namespace) -> int:
    from einlog.bench.__main__ import main as bench_main

    return int(bench_main(args.rest))


COMMANDS = {
    "query": cmd_query,
    "check": cmd_check,
    "explain": cmd_explain,
    "ground": cmd_ground,
    "learn": cmd_learn,
    "train": cmd_train,
    "bench": cmd_bench,
}


def run(args: argparse.Namespace) -> int:
    try:
        return COMMANDS[args.command](args)
    finally:
        sys.stdout.flush()
