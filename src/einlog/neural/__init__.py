"""Neural predicates: binding networks, batched compile-once queries, reference networks.

Why it is built this way: see :mod:`einlog.neural.query` (one grounding and one circuit
per query shape, one network call per batch) and :mod:`einlog.neural.bind` (names
checked at load time, outputs checked per call).
"""

from einlog.neural.bind import ROW_SUM_TOLERANCE, bind_networks, check_output, network_specs
from einlog.neural.networks import DigitNet8x8, MNISTNet, SigmoidNet
from einlog.neural.query import (
    PLACEHOLDER,
    NeuralQuery,
    compiled_query,
    deepproblog_batch,
    group_by_shape,
    input_positions,
    neural_query,
    parse_query,
    resolve_tensor_term,
)

__all__ = [
    "PLACEHOLDER",
    "ROW_SUM_TOLERANCE",
    "DigitNet8x8",
    "MNISTNet",
    "NeuralQuery",
    "SigmoidNet",
    "bind_networks",
    "check_output",
    "compiled_query",
    "deepproblog_batch",
    "group_by_shape",
    "input_positions",
    "network_specs",
    "neural_query",
    "parse_query",
    "resolve_tensor_term",
]
