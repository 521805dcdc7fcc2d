"""A brute-force, obviously-correct oracle for exact inference on small ground programs.

It enumerates every possible world of the leaves, computes each world's
least model stratum by stratum, and adds up world probabilities.  Nothing
here is clever on purpose: it is the reference that faster engines
(semiring fixpoints, knowledge compilation, top-k proofs) are tested against.
It trusts only ``gp.leaves``, ``gp.groups`` and the CSR rules; strata are
recomputed from the rules rather than read from ``gp.stratum``.

Worlds: an independent leaf is true with its weight ``p`` and false with
``1 - p``; a mutually exclusive group makes exactly one of its leaves true
(leaf ``i`` with ``p_i``) or none (with ``1 - sum p_i``).  A world is encoded
as an ``int`` bit mask over leaf indices (bit ``i`` set iff leaf ``i`` is true).

The enumeration is vectorized over worlds with numpy (one boolean column per
atom), so 2**20 worlds of a few dozen rules still take seconds; more than
:data:`MAX_LEAVES` leaves are refused.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np
import numpy.typing as npt
import torch

from einlog.errors import InferenceError, ProbabilityError, StratificationError
from einlog.ground.program import GroundProgram

__all__ = [
    "MAX_LEAVES",
    "compute_strata",
    "const_leaf_weights",
    "least_model",
    "world_probabilities",
    "exact_probabilities",
    "possible_atoms",
]

MAX_LEAVES = 20
BoolMatrix = npt.NDArray[np.bool_]


def compute_strata(gp: GroundProgram) -> list[int]:
    """A stratum per atom from the rules alone: ``>=`` positive body strata, ``>`` negated ones.

    Raises :class:`StratificationError` when negation goes through recursion.
    """
    n = gp.num_atoms
    stratum = [0] * n
    rules = [(int(gp.rule_head[r]), gp.rule_body(r)) for r in range(gp.num_rules)]
    for _ in range(n + 1):
        changed = False
        for head, body in rules:
            need = max((stratum[a] + (1 if neg else 0) for a, neg in body), default=0)
            if need > stratum[head]:
                stratum[head] = need
                changed = True
        if not changed:
            return stratum
        if max(stratum, default=0) > n:
            break
    raise StratificationError(
        "the ground program is not stratified (negation through recursion)",
        hint="negated body atoms must not depend on the rule head",
    )


def const_leaf_weights(gp: GroundProgram) -> list[float]:
    """The constant weights of all leaves (``GroundWeight.kind == 'const'``)."""
    out: list[float] = []
    for i, w in enumerate(gp.leaf_weight):
        if w.kind != "const" or w.value is None:
            raise InferenceError(
                f"leaf {i} has a {w.kind} weight; pass the weights explicitly",
                hint="evaluate the parameters/networks first and pass one weight per leaf",
            )
        out.append(float(w.value))
    return out


def _weights(gp: GroundProgram, weights: Sequence[float] | torch.Tensor | None) -> list[float]:
    if weights is None:
        ws = const_leaf_weights(gp)
    elif isinstance(weights, torch.Tensor):
        ws = [float(v) for v in weights.detach().reshape(-1).tolist()]
    else:
        ws = [float(v) for v in weights]
    if len(ws) != int(gp.leaves.shape[0]):
        raise InferenceError(
            f"expected {int(gp.leaves.shape[0])} leaf weights, got {len(ws)}",
            hint="pass one weight per leaf, in gp.leaves order",
        )
    for i, w in enumerate(ws):
        if not 0.0 <= w <= 1.0:
            raise ProbabilityError(f"leaf {i} has weight {w}, outside [0, 1]")
    return ws


def _units(gp: GroundProgram, ws: list[float]) -> list[tuple[list[int | None], list[float]]]:
    """Choice units: each independent leaf and each group, with its options and probabilities."""
    grouped: set[int] = set()
    units: list[tuple[list[int | None], list[float]]] = []
    for group in gp.groups:
        members = [int(i) for i in group]
        grouped.update(members)
        total = sum(ws[i] for i in members)
        if total > 1.0 + 1e-9:
            raise ProbabilityError(
                f"mutually exclusive leaves {members} have weights summing to {total} > 1"
            )
        options: list[int | None] = [None, *members]
        units.append((options, [max(0.0, 1.0 - total)] + [ws[i] for i in members]))
    for i in range(len(ws)):
        if i not in grouped:
            units.append(([None, i], [1.0 - ws[i], ws[i]]))
    return units


def _enumerate(
    gp: GroundProgram, ws: list[float], max_leaves: int
) -> tuple[BoolMatrix, npt.NDArray[np.float64]]:
    """``(leaf truth [W, L], probability [W])`` of every group-consistent world."""
    num_leaves = len(ws)
    if num_leaves > max_leaves:
        raise InferenceError(
            f"the brute-force oracle enumerates 2^{num_leaves} worlds; refusing more than "
            f"{max_leaves} leaves",
            hint="use a smaller program for oracle tests",
        )
    units = _units(gp, ws)
    radix = [len(opts) for opts, _ in units]
    total = int(np.prod(radix)) if radix else 1
    idx = np.arange(total, dtype=np.int64)
    truth = np.zeros((total, num_leaves), dtype=np.bool_)
    prob = np.ones(total, dtype=np.float64)
    stride = 1
    for (options, probs), r in zip(units, radix):
        digit = (idx // stride) % r
        stride *= r
        prob *= np.asarray(probs, dtype=np.float64)[digit]
        for k, leaf in enumerate(options):
            if leaf is not None:
                truth[:, leaf] |= digit == k
    return truth, prob


def _models(gp: GroundProgram, leaf_truth: BoolMatrix) -> BoolMatrix:
    """Least model of every world (rows of ``leaf_truth``): ``[W, num_atoms]``."""
    strata = compute_strata(gp)
    model = np.zeros((leaf_truth.shape[0], gp.num_atoms), dtype=np.bool_)
    leaves = np.asarray(gp.leaves, dtype=np.int64)
    model[:, leaves] = leaf_truth
    by_stratum: dict[int, list[tuple[int, list[int], list[int]]]] = {}
    for r in range(gp.num_rules):
        head = int(gp.rule_head[r])
        body = gp.rule_body(r)
        by_stratum.setdefault(strata[head], []).append(
            (head, [a for a, neg in body if not neg], [a for a, neg in body if neg])
        )
    for s in sorted(by_stratum):
        rules = by_stratum[s]
        changed = True
        while changed:
            changed = False
            for head, pos, neg in rules:
                sat = np.ones(model.shape[0], dtype=np.bool_)
                for a in pos:
                    sat &= model[:, a]
                for a in neg:
                    sat &= ~model[:, a]
                new = sat & ~model[:, head]
                if new.any():
                    model[:, head] |= new
                    changed = True
    return model


def least_model(gp: GroundProgram, true_leaves: Collection[int]) -> set[int]:
    """Atom ids true in the world where exactly the leaf *atoms* ``true_leaves`` are true.

    ``true_leaves`` holds atom ids (not leaf indices); every one must be a leaf.
    Negation is evaluated stratum by stratum (the perfect model).
    """
    leaf_index = gp.leaf_of_atom()
    truth = np.zeros((1, int(gp.leaves.shape[0])), dtype=np.bool_)
    for a in true_leaves:
        if int(a) not in leaf_index:
            raise InferenceError(f"atom {a} is not a leaf", hint="pass atom ids of leaves")
        truth[0, leaf_index[int(a)]] = True
    return {int(a) for a in np.flatnonzero(_models(gp, truth)[0])}


def world_probabilities(
    gp: GroundProgram,
    weights: Sequence[float] | torch.Tensor | None = None,
    *,
    max_leaves: int = MAX_LEAVES,
) -> dict[int, float]:
    """Probability of every world with positive probability, keyed by its leaf bit mask.

    ``weights`` are leaf probabilities in ``gp.leaves`` order (default: the
    constant weights stored in the program).
    """
    ws = _weights(gp, weights)
    truth, prob = _enumerate(gp, ws, max_leaves)
    bits = (truth.astype(np.int64) << np.arange(len(ws), dtype=np.int64)).sum(axis=1)
    return {int(m): float(p) for m, p in zip(bits, prob) if p > 0}


def exact_probabilities(
    gp: GroundProgram,
    weights: Sequence[float] | torch.Tensor | None = None,
    evidence: Sequence[tuple[int, bool]] | None = None,
    *,
    max_leaves: int = MAX_LEAVES,
) -> list[float]:
    """``P(atom | evidence)`` for every atom id, by enumerating worlds.

    ``evidence`` is a list of ``(atom id, value)``; ``None`` means ``gp.evidence``
    (pass ``()`` for none).  Raises :class:`InferenceError` when the evidence has
    probability zero.
    """
    ws = _weights(gp, weights)
    truth, prob = _enumerate(gp, ws, max_leaves)
    model = _models(gp, truth)
    ev = gp.evidence if evidence is None else evidence
    keep = np.ones(model.shape[0], dtype=np.bool_)
    for a, value in ev:
        keep &= model[:, int(a)] == bool(value)
    z = float(prob[keep].sum())
    if z <= 0.0:
        raise InferenceError(
            "the evidence has probability zero (inconsistent evidence)",
            hint="check the evidence atoms and values",
        )
    weighted = (model[keep] * prob[keep, None]).sum(axis=0) / z
    return [float(v) for v in weighted]


def possible_atoms(
    gp: GroundProgram,
    weights: Sequence[float] | torch.Tensor | None = None,
    *,
    max_leaves: int = MAX_LEAVES,
) -> set[int]:
    """Atom ids true in at least one world of positive probability."""
    ws = _weights(gp, weights)
    truth, prob = _enumerate(gp, ws, max_leaves)
    model = _models(gp, truth[prob > 0])
    return {int(a) for a in np.flatnonzero(model.any(axis=0))}
