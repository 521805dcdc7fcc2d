"""Batched, compile-once neural queries.

Why it is built this way: DeepProbLog grounds and compiles one circuit per training
example, so most of its time goes to logic, not to the network.  Here a query *shape*
such as ``addition(A, B, S)`` with ``A`` and ``B`` bound to batched tensors is grounded
once with placeholder constants ``'$input'(k)`` in place of the tensors and compiled
once into one multi-rooted circuit (one root per answer, e.g. ``S = 0..18``).  Every
batch then costs:

1. one call per network on the whole batch of its inputs (``mnist_net`` sees the
   images of ``A`` and ``B`` concatenated: one forward of ``2 * batch`` images);
2. one gather that scatters the network outputs into the leaf-probability tensor
   ``[batch, L]`` (indices precomputed per neural leaf: network call, output index);
   constant and ``t(...)`` leaves are broadcast;
3. one evaluation of the circuit in log space -> ``[batch, R]``.

Which query variables are network inputs is decided statically from the IR: argument
positions that reach the inputs of an ``nn(...)`` declaration (a small fixpoint over
the rules).  Other variables given tensors (``S=labels``) are *value* variables: they
stay unbound while grounding, and per example the answer column whose value matches
is picked with a lookup table -- no grounding per label.

Compiled queries are cached per program, keyed by the query pattern, the tensor
variables and the semantics.  Everything on the per-batch path is a torch op on the
inputs' device, so ``.to('cuda')`` networks keep the whole pass on the GPU.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from einlog.errors import ConfigError, NeuralError
from einlog.ground.program import GroundProgram
from einlog.ir.nodes import CHOICE_FUNCTOR, IRProgram, PredKey, PredLiteral
from einlog.neural.bind import check_output
from einlog.syntax import parse_query
from einlog.terms import Struct, Term, Var, variables

__all__ = [
    "PLACEHOLDER",
    "NeuralQuery",
    "compiled_query",
    "input_positions",
    "neural_query",
    "parse_query",
]

PLACEHOLDER = "$input"
EXACT_NAMES = ("exact", "probability")
_LUT_MAX = 10_000_000


def _contains_var(term: Term, names: set[str]) -> bool:
    return any(v.name in names for v in variables(term))


def input_positions(ir: IRProgram) -> dict[PredKey, set[int]]:
    """Argument positions of each predicate through which a term reaches a network input.

    Seeds: heads of neural choices, at positions holding a variable of the network
    inputs.  Step: a rule head position is an input position when its argument shares
    a variable with an input position of a body literal.  Iterated to a fixpoint.
    """
    pos: dict[PredKey, set[int]] = {}
    for choice in ir.choices:
        for weight, head in choice.alternatives:
            if weight.kind != "neural" or weight.neural is None:
                continue
            seeds = {v.name for v in variables(list(weight.neural.inputs))}
            for i, arg in enumerate(head.args):
                if _contains_var(arg, seeds):
                    pos.setdefault(head.indicator, set()).add(i)
    changed = True
    while changed:
        changed = False
        for rule in ir.rules:
            names: set[str] = set()
            for lit in rule.body:
                if not isinstance(lit, PredLiteral) or lit.atom.functor == CHOICE_FUNCTOR:
                    continue
                for i in pos.get(lit.atom.indicator, ()):
                    if i < len(lit.atom.args):
                        names.update(v.name for v in variables(lit.atom.args[i]))
            if not names:
                continue
            known = pos.setdefault(rule.head.indicator, set())
            for i, arg in enumerate(rule.head.args):
                if i not in known and _contains_var(arg, names):
                    known.add(i)
                    changed = True
    return pos


def _substitute(term: Term, sub: Mapping[str, Term]) -> Term:
    if isinstance(term, Var):
        return sub.get(term.name, term)
    if isinstance(term, Struct) and term.args:
        return Struct(term.functor, tuple(_substitute(a, sub) for a in term.args))
    return term


def _match(pattern: Term, term: Term, out: dict[str, Term]) -> None:
    """Bind the variables of ``pattern`` to the subterms of its instance ``term``."""
    if isinstance(pattern, Var):
        out.setdefault(pattern.name, term)
        return
    if isinstance(pattern, Struct) and isinstance(term, Struct) and pattern.args:
        for p, t in zip(pattern.args, term.args):
            _match(p, t, out)


def _placeholder_slot(term: Term) -> int | None:
    if (
        isinstance(term, Struct)
        and term.functor == PLACEHOLDER
        and len(term.args) == 1
        and isinstance(term.args[0], int)
    ):
        return term.args[0]
    return None


@dataclass
class _Call:
    """One network application per batch: ``network(*inputs)``."""

    network: str
    slots: tuple[int, ...]  # placeholder slot per input (-1: constant tensor)
    constants: tuple[torch.Tensor | None, ...]
    domain_size: int | None
    offset: int = 0

    @property
    def width(self) -> int:
        return self.domain_size if self.domain_size is not None else 1


class NeuralQuery:
    """A query shape grounded and compiled once; evaluated per batch of tensors.

    ``program`` needs ``ir``, ``networks`` (name -> module), ``parameters`` (learnable
    ``t(...)`` values) and optionally ``limits`` and ``tensor_sources`` (for
    ``tensor(...)`` terms inside the program text).
    """

    def __init__(
        self,
        program: Any,
        pattern: Struct,
        tensor_vars: Sequence[str],
        *,
        semantics: str = "exact",
        dtype: torch.dtype = torch.float64,
        validate: bool = True,
    ) -> None:
        from einlog.ground import ground

        self.program = program
        self.pattern = pattern
        self.tensor_vars = tuple(tensor_vars)
        self.semantics = semantics.lower()
        self.dtype = dtype
        self.validate = validate
        slot_of = {name: k for k, name in enumerate(self.tensor_vars)}
        sub: dict[str, Term] = {n: Struct(PLACEHOLDER, (k,)) for n, k in slot_of.items()}
        self.ground_pattern = _substitute(pattern, sub)
        assert isinstance(self.ground_pattern, Struct)
        grounding = ground(program.ir, [self.ground_pattern], getattr(program, "limits", None))
        gp: GroundProgram = grounding.program
        self.gp = gp
        raw_answers = list(grounding.answers.get(self.ground_pattern, []))
        back = {f"{PLACEHOLDER}/{k}": Var(n) for n, k in slot_of.items()}
        self.answers: list[Struct] = [self._unplace(a, back) for a in raw_answers]
        free = [v.name for v in variables(pattern) if v.name not in slot_of]
        self.free_vars = tuple(free)
        self.answer_bindings: list[dict[str, Term]] = []
        for a in raw_answers:
            b: dict[str, Term] = {}
            _match(self.ground_pattern, a, b)
            self.answer_bindings.append({n: b[n] for n in free if n in b})
        ids = [gp.atom_id(a) for a in raw_answers]
        self.answer_ids = [int(i) for i in ids if i is not None]
        self._build_leaves(gp)
        self._luts: dict[tuple[str, ...], Any] = {}
        self._device_cache: dict[torch.device, tuple[torch.Tensor, ...]] = {}
        self.engine: Any = None
        self.evaluator: Any = None
        if not self.answer_ids:
            return
        if self.semantics in EXACT_NAMES:
            from einlog.circuit import ExactEngine

            self.engine = ExactEngine(gp, roots=self.answer_ids)
            self.engine.circuit()  # compile now, not inside the first training step
        else:
            from einlog.eval import FixpointEvaluator
            from einlog.semirings import get_semiring

            get_semiring(self.semantics)
            self.evaluator = FixpointEvaluator(gp, self.semantics)

    # ---------------------------------------------------------------- construction
    @staticmethod
    def _unplace(term: Term, back: Mapping[str, Var]) -> Any:
        if isinstance(term, Struct):
            slot = _placeholder_slot(term)
            if slot is not None:
                return back.get(f"{PLACEHOLDER}/{slot}", term)
            if term.args:
                return Struct(term.functor, tuple(NeuralQuery._unplace(a, back)
                                                  for a in term.args))
        return term

    def _resolve_constant(self, term: Term, leaf: int) -> torch.Tensor:
        sources = getattr(self.program, "tensor_sources", None)
        if (
            isinstance(term, Struct)
            and term.functor == "tensor"
            and len(term.args) == 1
            and sources is not None
        ):
            return resolve_tensor_term(term, sources).unsqueeze(0)
        label = self.gp.leaf_label[leaf] if self.gp.leaf_label else "?"
        raise NeuralError(
            f"the neural fact {label} has input {term}, which is not bound to a tensor",
            hint="give that query variable a tensor (query(..., X=tensor)), or write "
            "tensor(source(i)) and register the source in program.tensor_sources",
        )

    def _build_leaves(self, gp: GroundProgram) -> None:
        n = len(gp.leaf_weight)
        const = np.zeros(n, dtype=np.float64)
        param_idx = np.full(n, -1, dtype=np.int64)
        neural = np.zeros(n, dtype=bool)
        call_key: list[tuple[str, tuple[Term, ...]] | None] = [None] * n
        calls: dict[tuple[str, tuple[Term, ...]], _Call] = {}
        for i, w in enumerate(gp.leaf_weight):
            if w.kind == "const":
                const[i] = float(w.value if w.value is not None else 0.0)
            elif w.kind == "param":
                param_idx[i] = int(w.param if w.param is not None else 0)
            else:
                neural[i] = True
                assert w.network is not None
                key = (w.network, tuple(w.inputs))
                call_key[i] = key
                if key not in calls:
                    slots: list[int] = []
                    consts: list[torch.Tensor | None] = []
                    for t in w.inputs:
                        s = _placeholder_slot(t)
                        slots.append(-1 if s is None else s)
                        consts.append(None if s is not None else self._resolve_constant(t, i))
                    calls[key] = _Call(w.network, tuple(slots), tuple(consts), w.domain_size)
        # calls grouped by network so one network's outputs are contiguous columns
        order = sorted(calls.values(), key=lambda c: c.network)
        offset = 0
        for c in order:
            c.offset = offset
            offset += c.width
        self.calls = order
        self.num_columns = offset
        cols = np.zeros(n, dtype=np.int64)
        for i, ck in enumerate(call_key):
            if ck is not None:
                w = gp.leaf_weight[i]
                cols[i] = calls[ck].offset + (w.index if w.index is not None else 0)
        used = {s for c in order for s in c.slots if s >= 0}
        unused = [v for k, v in enumerate(self.tensor_vars) if k not in used]
        if unused and self.answer_ids:
            raise NeuralError(
                f"query variable {unused[0]} is given a tensor, but no network of the "
                f"grounded query {self.pattern} reads it",
                hint="pass tensors only for variables that are network inputs; pass answer "
                "values (like the sum S) as integer tensors of shape [batch]",
            )
        self.num_leaves = n
        self._const = torch.as_tensor(const)
        self._param_idx = torch.as_tensor(np.maximum(param_idx, 0))
        self._is_param = torch.as_tensor(param_idx >= 0)
        self._is_neural = torch.as_tensor(neural)
        self._cols = torch.as_tensor(cols)
        self.has_params = bool((param_idx >= 0).any())
        # every leaf reads a network column (MNIST addition): no constant/parameter merge,
        # and when leaf i reads column i, no gather either
        self._all_neural = bool(n) and bool(neural.all())
        self._identity = self._all_neural and n == offset and bool((cols == np.arange(n)).all())
        by_net: dict[str, list[_Call]] = {}
        for c in order:
            by_net.setdefault(c.network, []).append(c)
        self._by_network = by_net

    # -------------------------------------------------------------------- helpers
    def _on(self, device: torch.device) -> tuple[torch.Tensor, ...]:
        found = self._device_cache.get(device)
        if found is None:
            found = tuple(
                t.to(device)
                for t in (self._const, self._param_idx, self._is_param, self._is_neural,
                          self._cols)
            )
            self._device_cache[device] = found
        return found

    def to(self, device: torch.device | str) -> NeuralQuery:
        """Move the compiled circuit and index tables to ``device``."""
        dev = torch.device(device)
        self._on(dev)
        if self.engine is not None:
            self.engine.circuit().to(dev)
        return self

    def batch_size(self, inputs: Mapping[str, Any]) -> int:
        sizes = {}
        for name in self.tensor_vars:
            t = inputs[name]
            sizes[name] = int(t.shape[0]) if isinstance(t, torch.Tensor) and t.dim() else -1
        distinct = set(sizes.values())
        if len(distinct) > 1 or -1 in distinct:
            shown = ", ".join(f"{k}: {v if v >= 0 else 'not batched'}" for k, v in sizes.items())
            raise NeuralError(
                f"the tensor inputs of {self.pattern} disagree in batch size ({shown})",
                hint="every tensor input needs the same first (batch) dimension",
            )
        return distinct.pop() if distinct else 1

    def network_outputs(self, inputs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """All network outputs of a batch, as the columns ``[batch, C]`` the leaves read."""
        batch = self.batch_size(inputs)
        nets = self.program.networks
        pieces: list[torch.Tensor] = []
        for name, calls in self._by_network.items():
            net = nets.get(name)
            if net is None:
                raise NeuralError(
                    f"network {name!r} is not bound (bound networks: "
                    f"{', '.join(sorted(nets)) or 'none'})",
                    hint=f"pass networks={{{name!r}: module}} when loading the program",
                )
            domain = calls[0].domain_size
            simple = all(len(c.slots) == 1 and c.slots[0] >= 0 for c in calls)
            if simple and len(calls) > 1:
                xs = [inputs[self.tensor_vars[c.slots[0]]] for c in calls]
                if all(x.shape == xs[0].shape for x in xs):
                    out = check_output(name, net(torch.cat(xs, 0)), batch * len(calls), domain,
                                       check_values=self.validate)
                    k = len(calls)
                    pieces.append(out.reshape(k, batch, -1).transpose(0, 1).reshape(batch, -1))
                    continue
            for c in calls:
                args = []
                for s, const in zip(c.slots, c.constants):
                    if s >= 0:
                        args.append(inputs[self.tensor_vars[s]])
                    else:
                        assert const is not None
                        args.append(const)
                n = batch if any(s >= 0 for s in c.slots) else 1
                out = check_output(name, net(*args), n, domain, check_values=self.validate)
                if n != batch:
                    out = out.expand(batch, -1)
                pieces.append(out)
        if not pieces:
            return torch.zeros(batch, 0)
        return torch.cat(pieces, dim=1)

    def leaf_probabilities(self, inputs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The leaf-probability tensor ``[batch, L]`` of a batch."""
        cols_out = self.network_outputs(inputs)
        if self._identity:
            return cols_out.to(self.dtype)
        batch = int(cols_out.shape[0])
        device = cols_out.device
        const, pidx, is_param, is_neural, cols = self._on(device)
        if self._all_neural:
            return cols_out.to(self.dtype).index_select(1, cols)
        base = const.to(self.dtype)
        if self.has_params:
            params = torch.stack(list(self.program.parameters)).to(device=device,
                                                                   dtype=self.dtype)
            base = torch.where(is_param, params.index_select(0, pidx), base)
        if self.num_columns == 0:
            return base.expand(batch, -1)
        gathered = cols_out.to(self.dtype).index_select(1, cols)
        return torch.where(is_neural, gathered, base)

    def log_probabilities(self, inputs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """``log P(answer)`` for every answer: ``[batch, R]`` (R = ``len(self.answers)``)."""
        missing = [v for v in self.tensor_vars if v not in inputs]
        if missing:
            raise NeuralError(f"no tensor given for query variable {missing[0]} of {self.pattern}")
        leaves = self.leaf_probabilities(inputs)
        if not self.answer_ids:
            return leaves.new_zeros((leaves.shape[0], 0))
        if self.engine is not None:
            out = self.engine.log_probabilities(leaves)
        else:
            vals = self.evaluator(leaves)
            index = torch.as_tensor(self.answer_ids, device=vals.device)
            out = torch.log(vals.index_select(-1, index).to(self.dtype).clamp_min(0))
        if len(self.answer_ids) != len(self.answers):  # answers absent from the program
            full = out.new_full((out.shape[0], len(self.answers)), -torch.inf)
            present = [j for j, a in enumerate(self.answers)
                       if self.gp.atom_id(self._raw(a)) is not None]
            out = full.index_copy(1, torch.as_tensor(present, device=out.device), out)
        return out

    def _raw(self, answer: Struct) -> Struct:
        sub = {n: Struct(PLACEHOLDER, (k,)) for k, n in enumerate(self.tensor_vars)}
        res = _substitute(answer, sub)
        assert isinstance(res, Struct)
        return res

    def probabilities(self, inputs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """``P(answer)`` for every answer: ``[batch, R]``."""
        return torch.exp(self.log_probabilities(inputs))

    # ------------------------------------------------------------ value variables
    def answer_columns(self, values: Mapping[str, Any], device: torch.device) -> torch.Tensor:
        """Per example, the answer column whose free variables equal ``values`` (-1: none)."""
        names = tuple(sorted(values))
        unknown = [n for n in names if n not in self.free_vars]
        if unknown:
            raise NeuralError(
                f"{unknown[0]} is not a free variable of {self.pattern} "
                f"(free variables: {', '.join(self.free_vars) or 'none'})"
            )
        tensors = [torch.as_tensor(values[n]) for n in names]
        tensors = [t.reshape(-1) if t.dim() > 1 and t.shape[-1] == 1 else t for t in tensors]
        lut = self._luts.get(names)
        if lut is None:
            lut = self._build_lut(names)
            self._luts[names] = lut
        if lut[0] == "dense":
            # the table has a -1 border in every dimension: a value out of range is
            # clamped onto the border, so there is no separate validity mask
            _, table, mins, strides, spans = lut
            key: torch.Tensor | None = None
            for t, lo, st, sp in zip(tensors, mins, strides, spans):
                v = t.to(device=device, dtype=torch.long) - (lo - 1)
                if t.dtype.is_floating_point:  # non-integral values land on the border
                    v = torch.where((torch.round(t) == t).to(device), v, 0)
                v = v.clamp_(0, sp + 1)
                if st != 1:
                    v = v.mul_(st)
                key = v if key is None else key.add_(v)
            assert key is not None
            if table.device != device:
                table = table.to(device)
                self._luts[names] = (lut[0], table, *lut[2:])
            return table.index_select(0, key.reshape(-1)).reshape(key.shape)
        _, mapping = lut
        rows = list(zip(*[t.tolist() for t in tensors]))
        return torch.tensor([mapping.get(r, -1) for r in rows], dtype=torch.long, device=device)

    def _build_lut(self, names: tuple[str, ...]) -> tuple[Any, ...]:
        keys = [tuple(b.get(n) for n in names) for b in self.answer_bindings]
        if keys and all(all(isinstance(v, int) for v in k) for k in keys):
            arr = np.asarray(keys, dtype=np.int64).reshape(len(keys), len(names))
            mins = arr.min(0)
            spans = arr.max(0) - mins + 1
            padded = spans + 2  # a -1 border on both sides of every dimension
            total = int(np.prod(padded))
            if total <= _LUT_MAX:
                strides = np.concatenate([[1], np.cumprod(padded[:-1])]).astype(np.int64)
                table = np.full(total, -1, dtype=np.int64)
                table[((arr - mins + 1) * strides).sum(1)] = np.arange(len(keys))
                return ("dense", torch.as_tensor(table), [int(x) for x in mins],
                        [int(x) for x in strides], [int(x) for x in spans])
        mapping: dict[tuple[Any, ...], int] = {}
        for j, k in enumerate(keys):
            mapping.setdefault(tuple(_py(v) for v in k), j)
        return ("dict", mapping)

    def log_likelihood(
        self, inputs: Mapping[str, Any], values: Mapping[str, Any] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(log P(given answer) [batch], log P(every answer) [batch, R])``.

        ``values`` maps free variables to per-example values (default: the non-tensor
        entries of ``inputs``).  An answer that is not derivable has log-probability -inf.
        """
        log_p, all_lp, _ = self.answer_log_likelihood(inputs, values)
        return log_p, all_lp

    def answer_log_likelihood(
        self, inputs: Mapping[str, Any], values: Mapping[str, Any] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """:meth:`log_likelihood` plus the given answer's column per example ``[batch]``
        (-1: not an answer), so a trainer scores accuracy without a second lookup."""
        if values is None:
            values = {k: v for k, v in inputs.items() if k not in self.tensor_vars}
        all_lp = self.log_probabilities(inputs)
        if not values:
            if len(self.answers) != 1:
                raise NeuralError(
                    f"{self.pattern} has {len(self.answers)} answers; give values for its "
                    f"free variables ({', '.join(self.free_vars)}) to get one probability"
                )
            return all_lp[:, 0], all_lp, all_lp.new_zeros(all_lp.shape[0], dtype=torch.long)
        cols = self.answer_columns(values, all_lp.device)
        if cols.shape[0] != all_lp.shape[0]:
            raise NeuralError(
                f"the answer values give {cols.shape[0]} examples but the tensor inputs "
                f"{all_lp.shape[0]}",
                hint="every tensor given to a query needs the same batch size",
            )
        if all_lp.shape[1] == 0:
            return all_lp.new_full((all_lp.shape[0],), -torch.inf), all_lp, cols
        picked = all_lp.gather(1, cols.clamp_min(0).unsqueeze(1)).squeeze(1)
        return torch.where(cols >= 0, picked, -torch.inf), all_lp, cols

    def __call__(self, **inputs: Any) -> torch.Tensor:
        """Probabilities: ``[batch, R]`` or, when free variables get values, ``[batch]``."""
        values = {k: v for k, v in inputs.items() if k not in self.tensor_vars}
        if values:
            lp, _ = self.log_likelihood(inputs, values)
            return torch.exp(lp)
        return self.probabilities(inputs)


def _py(v: Any) -> Any:
    return v


def resolve_tensor_term(term: Struct, sources: Mapping[str, Any]) -> torch.Tensor:
    """The tensor of a DeepProbLog-style ``tensor(name(i, ...))`` term.

    ``sources[name]`` is a callable taking the arguments, or an indexable (list,
    tensor, dataset) indexed by the single argument or by the tuple of arguments; a
    dataset item that is an ``(input, label)`` pair gives its input.
    """
    inner = term.args[0] if term.functor == "tensor" and len(term.args) == 1 else term
    if not isinstance(inner, Struct):
        raise NeuralError(f"{term} does not name a tensor (expected tensor(source(i)))")
    src = sources.get(inner.functor)
    if src is None:
        raise NeuralError(
            f"no tensor source {inner.functor!r} for {term} (sources: "
            f"{', '.join(sorted(sources)) or 'none'})",
            hint="register it, e.g. program.tensor_sources = {'train': dataset}",
        )
    args = tuple(_py(a) for a in inner.args)
    try:
        if callable(src) and not hasattr(src, "__getitem__"):
            item = src(*args)
        else:
            item = src[args[0] if len(args) == 1 else args]
    except (IndexError, KeyError, TypeError) as e:
        raise NeuralError(f"tensor source {inner.functor!r} has no item {args}: {e}") from e
    if isinstance(item, tuple):
        item = item[0]
    return torch.as_tensor(item)


# ---------------------------------------------------------------- the program-level API
_CACHES: weakref.WeakKeyDictionary[Any, dict[Any, NeuralQuery]] = weakref.WeakKeyDictionary()


def _classify(program: Any, pattern: Struct, names: Sequence[str]) -> tuple[str, ...]:
    """Which of ``names`` are network inputs of ``pattern`` (the rest are values)."""
    ir: IRProgram = program.ir
    positions = getattr(program, "_einlog_input_positions", None)
    if positions is None:
        positions = input_positions(ir)
        try:
            program._einlog_input_positions = positions
        except AttributeError:  # pragma: no cover - slotted program objects
            pass
    in_inputs: set[str] = set()
    for i in positions.get(pattern.indicator, ()):
        in_inputs.update(v.name for v in variables(pattern.args[i]))
    return tuple(n for n in names if n in in_inputs)


def compiled_query(
    program: Any,
    query: str | Struct,
    input_names: Sequence[str],
    *,
    semantics: str = "exact",
    dtype: torch.dtype = torch.float64,
    validate: bool = True,
) -> NeuralQuery:
    """The cached :class:`NeuralQuery` of ``program`` for ``query`` whose variables
    ``input_names`` are given tensors (network inputs among them are found from the IR)."""
    # per-step fast path: the same query text and names as before skip parsing
    fast = (query if isinstance(query, str) else None, tuple(input_names),
            semantics.lower(), dtype, validate)
    try:
        cache = _CACHES.setdefault(program, {})
    except TypeError:  # not weak-referenceable: no cache
        cache = {}
    if fast[0] is not None:
        hit = cache.get(fast)
        if hit is not None:
            return hit
    pattern = parse_query(query)
    qvars = {v.name for v in variables(pattern)}
    for name in input_names:
        if name not in qvars:
            raise NeuralError(
                f"{name} is not a variable of the query {pattern} "
                f"(variables: {', '.join(sorted(qvars)) or 'none'})",
                hint="keyword arguments of query() bind the query's variables by name",
            )
    tensor_vars = _classify(program, pattern, sorted(input_names))
    key = (str(pattern), tensor_vars, semantics.lower(), dtype, validate)
    found = cache.get(key)
    if found is None:
        if semantics.lower() not in EXACT_NAMES:
            from einlog.semirings import get_semiring

            get_semiring(semantics.lower())
        found = NeuralQuery(program, pattern, tensor_vars, semantics=semantics, dtype=dtype,
                            validate=validate)
        cache[key] = found
    if fast[0] is not None:
        cache[fast] = found
    return found


def neural_query(
    program: Any,
    query: str | Struct | Sequence[str | Struct] | None,
    inputs: Mapping[str, Any],
    *,
    semantics: str = "exact",
) -> Any:
    """``Program.query(query, A=tensor, ...)``: a :class:`~einlog.program.QueryResult`.

    ``values`` is ``[batch, R]`` over ``atoms`` (the answers, tensor variables shown by
    name), or ``[batch]`` -- the probability of the given answer per example -- when
    the free variables of the query are given per-example values (``S=labels``).
    """
    from einlog.program import QueryResult

    if query is None or not isinstance(query, (str, Struct)):
        raise ConfigError(
            "a query with tensor inputs must be one atom, e.g. 'addition(A, B, S)'"
        )
    nq = compiled_query(program, query, list(inputs), semantics=semantics)
    tensors = {k: v for k, v in inputs.items() if k in nq.tensor_vars}
    values = {k: v for k, v in inputs.items() if k not in nq.tensor_vars}
    if not nq.tensor_vars:
        raise NeuralError(
            f"none of {', '.join(sorted(inputs))} is a network input of {nq.pattern}",
            hint="bind tensors to the variables the program passes to an nn(...) predicate",
        )
    if values:
        lp, _ = nq.log_likelihood(tensors, values)
        return QueryResult([nq.pattern], torch.exp(lp), nq.semantics)
    return QueryResult(list(nq.answers), nq.probabilities(tensors), nq.semantics)


def deepproblog_batch(
    queries: Sequence[str | Struct], sources: Mapping[str, Any]
) -> tuple[Struct, dict[str, torch.Tensor]]:
    """Turn DeepProbLog-style ground queries of one shape into one batched query.

    ``addition(tensor(train(0)), tensor(train(1)), 1)`` and
    ``addition(tensor(train(2)), tensor(train(3)), 7)`` become the pattern
    ``addition(T0, T1, V0)`` with ``T0``/``T1`` the stacked tensors (looked up in
    ``sources`` -- see :func:`resolve_tensor_term`) and ``V0 = tensor([1, 7])``.
    Numbers that are the same in every query stay constants.
    """
    atoms = [parse_query(q) for q in queries]
    if not atoms:
        raise ConfigError("no queries to batch")
    tensor_terms: dict[str, list[Struct]] = {}
    values: dict[str, list[Any]] = {}

    def walk(terms: list[Term]) -> Term:
        first = terms[0]
        if isinstance(first, Struct) and first.functor == "tensor" and len(first.args) == 1:
            if not all(isinstance(t, Struct) and t.functor == "tensor" for t in terms):
                raise ConfigError(f"queries differ in shape at {first}",
                                  hint="batch only queries of the same shape")
            name = f"T{len(tensor_terms)}"
            tensor_terms[name] = terms  # type: ignore[assignment]
            return Var(name)
        if isinstance(first, (int, float)) and not isinstance(first, bool):
            if not all(isinstance(t, (int, float)) for t in terms):
                raise ConfigError(f"queries differ in shape at {first}")
            if all(t == first for t in terms):
                return first
            name = f"V{len(values)}"
            values[name] = list(terms)
            return Var(name)
        if isinstance(first, Struct):
            if not all(isinstance(t, Struct) and t.functor == first.functor
                       and len(t.args) == len(first.args) for t in terms):
                raise ConfigError(f"queries differ in shape at {first}",
                                  hint="batch only queries of the same shape")
            args = [walk([t.args[i] for t in terms]) for i in range(len(first.args))]  # type: ignore[union-attr]
            return Struct(first.functor, args)
        if not all(t == first for t in terms):
            raise ConfigError(f"queries differ in shape at {first}")
        return first

    pattern = walk(list(atoms))
    assert isinstance(pattern, Struct)
    inputs: dict[str, torch.Tensor] = {}
    for name, terms in tensor_terms.items():
        inputs[name] = torch.stack([resolve_tensor_term(t, sources) for t in terms])
    for name, vals in values.items():
        inputs[name] = torch.as_tensor(vals)
    return pattern, inputs


def group_by_shape(queries: Sequence[str | Struct]) -> dict[str, list[int]]:
    """Indices of ``queries`` grouped by shape (tensor terms and numbers abstracted)."""
    groups: dict[str, list[int]] = {}

    def shape(t: Term) -> str:
        if isinstance(t, Struct):
            if t.functor == "tensor" and len(t.args) == 1:
                return "#T"
            return t.functor + "(" + ",".join(shape(a) for a in t.args) + ")"
        if isinstance(t, (int, float)):
            return "#N"
        return repr(t)

    for i, q in enumerate(queries):
        groups.setdefault(shape(parse_query(q)), []).append(i)
    return groups


Adapter = Callable[[Sequence[str | Struct]], tuple[Struct, dict[str, torch.Tensor]]]
