"""Evaluators over a ground program: semiring fixpoints, top-k proofs, a brute-force oracle.

* :class:`FixpointEvaluator` / :func:`evaluate` -- any tensor semiring, batched, differentiable.
* :func:`top_k_proofs` / :class:`TopKProofs` / :func:`most_probable_proof` -- explanations.
* :mod:`einlog.eval.oracle` -- exact probabilities by enumerating worlds (tests only).
* :func:`make_program` -- ground programs spelled as Python data, for tests.
"""

from einlog.eval.fixpoint import DEFAULT_MAX_ITERATIONS, FixpointEvaluator, evaluate
from einlog.eval.oracle import (
    MAX_LEAVES,
    compute_strata,
    const_leaf_weights,
    exact_probabilities,
    least_model,
    possible_atoms,
    world_probabilities,
)
from einlog.eval.proofs import (
    NEGATION_FUNCTOR,
    Proof,
    TopKProofs,
    most_probable_proof,
    top_k_proofs,
)
from einlog.eval.testing import atom_ids, make_program

__all__ = [
    "DEFAULT_MAX_ITERATIONS",
    "FixpointEvaluator",
    "evaluate",
    "MAX_LEAVES",
    "compute_strata",
    "const_leaf_weights",
    "exact_probabilities",
    "least_model",
    "possible_atoms",
    "world_probabilities",
    "NEGATION_FUNCTOR",
    "Proof",
    "TopKProofs",
    "most_probable_proof",
    "top_k_proofs",
    "atom_ids",
    "make_program",
]
