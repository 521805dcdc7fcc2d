"""Exact inference by knowledge compilation (see docs/architecture.md).

``compile`` turns lineages into one shared SDD (PySDD), ``tensor`` turns the
SDD into a layered torch circuit, ``exact`` answers marginals, conditionals
and MPE with it.
"""

from einlog.circuit.compile import CompileLimits, SddCompiler
from einlog.circuit.exact import (
    ExactEngine,
    LeafInputs,
    MPEResult,
    compile_circuit,
    leaf_tensor,
    structure_key,
)
from einlog.circuit.tensor import CircuitCache, LiteralEncoding, TensorCircuit, build_tensor_circuit

__all__ = [
    "CircuitCache",
    "CompileLimits",
    "ExactEngine",
    "LeafInputs",
    "LiteralEncoding",
    "MPEResult",
    "SddCompiler",
    "TensorCircuit",
    "build_tensor_circuit",
    "compile_circuit",
    "leaf_tensor",
    "structure_key",
]
