"""Builtin predicates evaluated during grounding, with Prolog semantics.

Why a separate module: builtins are pure functions of a binding environment
(no tables, no provenance), so keeping them apart from the engine keeps the
engine small and lets the tests poke every builtin directly.  The set of
builtins and their binding modes is shared with the front end in
:mod:`einlog.ir.builtins`; this module is its evaluator.

Every builtin returns the list of extended environments (empty = fails).
Errors are :class:`~einlog.errors.GroundingError` with the literal's span and
Prolog's wording ("arguments are not sufficiently instantiated", "type
error", "evaluation error"), naming the literal and the offending variable.

Arithmetic follows SWI-Prolog: ``/`` on integers is exact when it divides
(``4/2 =:= 2``) and a float otherwise; ``//`` truncates; ``mod`` takes the
sign of the divisor, ``rem`` of the dividend; integer division by zero is an
error; floats that overflow or are undefined (``log(0)``) are errors.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from einlog.errors import GroundingError, GroundingLimitError, SourceSpan
from einlog.ground.unify import (
    Bindings,
    deref,
    fresh_var,
    resolve,
    show,
    subst,
    term_eq,
    unify,
)
from einlog.terms import NIL, Str, Struct, Term, Var, make_list

__all__ = ["eval_arith", "order_key", "solve_builtin", "is_builtin", "BUILTIN_NAMES"]

Number = int | float


# ---------------------------------------------------------------- standard order


def order_key(t: Term) -> tuple[Any, ...]:
    """Sort key implementing Prolog's standard order of terms.

    Var < Number < Atom < String < Compound; numbers by value (a float before
    an equal int); compounds by arity, then name, then arguments.
    """
    tt = type(t)
    if tt is Struct:
        args = t.args  # type: ignore[union-attr]
        if not args:
            return (3, t.functor)  # type: ignore[union-attr]
        return (5, len(args), t.functor, tuple([order_key(a) for a in args]))  # type: ignore[union-attr]
    if tt is int:
        return (1, t, 1)
    if tt is float:
        return (1, t, 0)
    if tt is Var:
        return (0, t.name)  # type: ignore[union-attr]
    if tt is Str:
        return (4, t.value)  # type: ignore[union-attr]
    return (6, repr(t))  # pragma: no cover


# ---------------------------------------------------------------- arithmetic


class _ArithError(Exception):
    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def _need_int(x: Number, op: str) -> int:
    if isinstance(x, int):
        return x
    raise _ArithError(f"type error: `{op}` expects integers, got {show(x)}")


def _int_div_check(y: Number, op: str) -> None:
    if y == 0:
        raise _ArithError(f"evaluation error: division by zero in `{op}`")


def _div(x: Number, y: Number) -> Number:
    if isinstance(x, int) and isinstance(y, int):
        _int_div_check(y, "/")
        if x % y == 0:
            return x // y
        return x / y
    if y == 0:
        raise _ArithError("evaluation error: division by zero in `/`")
    return x / y


def _intdiv(x: Number, y: Number) -> Number:
    x, y = _need_int(x, "//"), _need_int(y, "//")
    _int_div_check(y, "//")
    q = abs(x) // abs(y)
    return q if (x >= 0) == (y >= 0) else -q


def _mod(x: Number, y: Number) -> Number:
    x, y = _need_int(x, "mod"), _need_int(y, "mod")
    _int_div_check(y, "mod")
    return x % y


def _rem(x: Number, y: Number) -> Number:
    x, y = _need_int(x, "rem"), _need_int(y, "rem")
    _int_div_check(y, "rem")
    return x - y * _intdiv(x, y)


def _floordiv(x: Number, y: Number) -> int:
    xi, yi = _need_int(x, "div"), _need_int(y, "div")
    _int_div_check(yi, "div")
    return xi // yi


def _pow(x: Number, y: Number) -> Number:
    if isinstance(x, int) and isinstance(y, int):
        if y >= 0:
            return x**y
        if x in (1, -1):
            return x**y if y % 2 == 0 or x == 1 else -1
        return float(x) ** y
    try:
        r = float(x) ** y
    except ZeroDivisionError as exc:
        raise _ArithError("evaluation error: zero to a negative power") from exc
    if isinstance(r, complex):
        raise _ArithError(f"evaluation error: undefined: {show(x)} ** {show(y)}")
    return r


def _caret(x: Number, y: Number) -> Number:
    if isinstance(x, int) and isinstance(y, int):
        if y < 0 and x not in (1, -1):
            if x == 0:
                raise _ArithError("evaluation error: zero to a negative power in `^`")
            raise _ArithError(
                f"type error: {show(x)} ^ {show(y)} has no integer result",
                "use ** or a float base for a fractional result",
            )
        if y < 0:
            return 1 if x == 1 or y % 2 == 0 else -1
        return x**y
    return _pow(x, y)


def _log(x: Number) -> float:
    if x <= 0:
        raise _ArithError(f"evaluation error: undefined: log({show(x)})")
    return math.log(x)


def _log2(b: Number, x: Number) -> float:
    if x <= 0 or b <= 0 or b == 1:
        raise _ArithError(f"evaluation error: undefined: log({show(b)}, {show(x)})")
    return math.log(x) / math.log(b)


def _sqrt(x: Number) -> float:
    if x < 0:
        raise _ArithError(f"evaluation error: undefined: sqrt({show(x)})")
    return math.sqrt(x)


def _to_int(f: Callable[[float], Any]) -> Callable[[Number], int]:
    def g(x: Number) -> int:
        if isinstance(x, int):
            return x
        if math.isinf(x) or math.isnan(x):
            raise _ArithError(f"evaluation error: cannot convert {show(x)} to an integer")
        return int(f(x))

    return g


def _round(x: float) -> float:
    return math.floor(x + 0.5) if x >= 0 else -math.floor(-x + 0.5)


def _sign(x: Number) -> Number:
    if isinstance(x, int):
        return (x > 0) - (x < 0)
    return math.copysign(1.0, x) if x != 0 else 0.0


def _shift(x: Number, y: Number, left: bool) -> int:
    x, y = _need_int(x, "<<" if left else ">>"), _need_int(y, "<<" if left else ">>")
    return x << y if left else x >> y


def _domain(fn: Callable[[float], float], name: str) -> Callable[[Number], float]:
    def g(x: Number) -> float:
        try:
            return fn(x)
        except (ValueError, OverflowError) as exc:
            raise _ArithError(f"evaluation error: undefined: {name}({show(x)})") from exc

    return g


_BINARY: dict[str, Callable[[Any, Any], Number]] = {
    "+": lambda x, y: x + y,
    "-": lambda x, y: x - y,
    "*": lambda x, y: x * y,
    "/": _div,
    "//": _intdiv,
    "mod": _mod,
    "rem": _rem,
    "div": lambda x, y: _floordiv(x, y),
    "min": lambda x, y: y if y < x else x,
    "max": lambda x, y: y if y > x else x,
    "**": _pow,
    "^": _caret,
    "atan": math.atan2,
    "atan2": math.atan2,
    "log": _log2,
    ">>": lambda x, y: _shift(x, y, False),
    "<<": lambda x, y: _shift(x, y, True),
    "/\\": lambda x, y: _need_int(x, "/\\") & _need_int(y, "/\\"),
    "\\/": lambda x, y: _need_int(x, "\\/") | _need_int(y, "\\/"),
    "xor": lambda x, y: _need_int(x, "xor") ^ _need_int(y, "xor"),
    "gcd": lambda x, y: math.gcd(_need_int(x, "gcd"), _need_int(y, "gcd")),
    "copysign": math.copysign,
}

_UNARY: dict[str, Callable[[Any], Number]] = {
    "-": lambda x: -x,
    "+": lambda x: x,
    "abs": abs,
    "sign": _sign,
    "sqrt": _sqrt,
    "exp": _domain(math.exp, "exp"),
    "log": _log,
    "log2": lambda x: _log2(2, x),
    "sin": math.sin,
    "cos": math.cos,
    "tan": _domain(math.tan, "tan"),
    "asin": _domain(math.asin, "asin"),
    "acos": _domain(math.acos, "acos"),
    "atan": math.atan,
    "sinh": _domain(math.sinh, "sinh"),
    "cosh": _domain(math.cosh, "cosh"),
    "tanh": math.tanh,
    "floor": _to_int(math.floor),
    "ceiling": _to_int(math.ceil),
    "round": _to_int(_round),
    "truncate": _to_int(math.trunc),
    "integer": _to_int(_round),
    "float": float,
    "float_integer_part": lambda x: float(math.trunc(x)),
    "float_fractional_part": lambda x: x - math.trunc(x),
    "\\": lambda x: ~_need_int(x, "\\"),
    "msb": lambda x: _need_int(x, "msb").bit_length() - 1,
    "succ": lambda x: _need_int(x, "succ") + 1,
}

_CONST: dict[str, Number] = {
    "pi": math.pi,
    "e": math.e,
    "inf": math.inf,
    "infinite": math.inf,
    "nan": math.nan,
    "epsilon": 2.220446049250313e-16,
    "max_tagged_integer": (1 << 60) - 1,
}


def _eval(t: Term, b: Bindings) -> Number:
    t, _ = deref(t, b)
    if type(t) is int or type(t) is float:
        return t
    if isinstance(t, Var):
        raise _UnboundError(t)
    if isinstance(t, Struct):
        n = len(t.args)
        if n == 0:
            c = _CONST.get(t.functor)
            if c is not None:
                return c
            if t.functor == "[]":
                raise _ArithError("type error: `[]` is not a number")
        elif n == 1:
            if t.functor == "." or t.functor not in _UNARY:
                pass
            else:
                return _UNARY[t.functor](_eval(t.args[0], b))
        elif n == 2:
            if t.functor == "." and isinstance(deref(t.args[1], b)[0], Struct):
                tail, _ = deref(t.args[1], b)
                if tail == NIL:  # "[X]" evaluates X (Prolog convention)
                    return _eval(t.args[0], b)
            f = _BINARY.get(t.functor)
            if f is not None:
                x = _eval(t.args[0], b)
                y = _eval(t.args[1], b)
                try:
                    r = f(x, y)
                except OverflowError as exc:
                    raise _ArithError(f"evaluation error: float overflow in `{t.functor}`") from exc
                if isinstance(r, complex):
                    raise _ArithError(f"evaluation error: undefined result of `{t.functor}`")
                return r
        raise _ArithError(
            f"type error: `{t.functor}/{n}` is not an arithmetic function",
            "arithmetic works on numbers and functions such as +, -, *, /, //, mod, min, max,"
            " abs, sqrt, exp, log",
        )
    raise _ArithError(f"type error: {show(t)} is not a number")


class _UnboundError(Exception):
    def __init__(self, var: Var) -> None:
        super().__init__(var.name)
        self.var = var


def _var_label(v: Var) -> str:
    return "an unbound variable" if v.name.startswith(("%", "_")) else v.name


def eval_arith(expr: Term, b: Bindings, lit: Struct, span: SourceSpan | None) -> Number:
    """Evaluate an arithmetic expression; errors name the literal ``lit``."""
    try:
        return _eval(expr, b)
    except _UnboundError as exc:
        raise GroundingError(
            f"{lit.functor}/{len(lit.args)}: arguments are not sufficiently instantiated: "
            f"{show(lit)} with {_var_label(exc.var)} unbound",
            span,
            "bind every variable of an arithmetic expression before it is evaluated "
            "(put a literal that binds it earlier in the body)",
        ) from None
    except _ArithError as exc:
        raise GroundingError(
            f"{lit.functor}/{len(lit.args)}: {exc.message}: {show(resolve(lit, b))}",
            span,
            exc.hint,
        ) from None
    except RecursionError:
        raise
    except (ValueError, TypeError, ZeroDivisionError, OverflowError) as exc:
        raise GroundingError(
            f"{lit.functor}/{len(lit.args)}: evaluation error: {exc}: {show(resolve(lit, b))}",
            span,
        ) from None


# ---------------------------------------------------------------- builtins


def _inst_error(lit: Struct, b: Bindings, span: SourceSpan | None, what: str) -> GroundingError:
    return GroundingError(
        f"{lit.functor}/{len(lit.args)}: arguments are not sufficiently instantiated: "
        f"{show(resolve(lit, b))} ({what})",
        span,
        "bind the arguments earlier in the body",
    )


def _type_error(
    lit: Struct, b: Bindings, span: SourceSpan | None, what: str
) -> GroundingError:
    return GroundingError(
        f"{lit.functor}/{len(lit.args)}: type error: {what}: {show(resolve(lit, b))}", span
    )


def _compare(op: str) -> Callable[[Number, Number], bool]:
    return {
        "<": lambda x, y: x < y,
        ">": lambda x, y: x > y,
        "=<": lambda x, y: x <= y,
        ">=": lambda x, y: x >= y,
        "=:=": lambda x, y: x == y,
        "=\\=": lambda x, y: x != y,
    }[op]


_ARITH_CMP = {op: _compare(op) for op in ["<", ">", "=<", ">=", "=:=", "=\\="]}
_ORDER_CMP: dict[str, Callable[[Any, Any], bool]] = {
    "@<": lambda x, y: x < y,
    "@>": lambda x, y: x > y,
    "@=<": lambda x, y: x <= y,
    "@>=": lambda x, y: x >= y,
}


def _get_int(
    t: Term, b: Bindings, lit: Struct, span: SourceSpan | None, allow_inf: bool = False
) -> int | float | None:
    """Integer value of ``t``; None when unbound; inf when allowed."""
    v, _ = deref(t, b)
    if isinstance(v, Var):
        return None
    if isinstance(v, int):
        return v
    if allow_inf and isinstance(v, Struct) and not v.args and v.functor in ("inf", "infinite"):
        return math.inf
    raise _type_error(lit, b, span, f"expected an integer, got {show(resolve(v, b))}")


def _is_list(t: Term, b: Bindings) -> bool:
    while True:
        t, _ = deref(t, b)
        if isinstance(t, Struct) and t.functor == "." and len(t.args) == 2:
            t = t.args[1]
            continue
        return isinstance(t, Struct) and t == NIL


def _univ(lit: Struct, b: Bindings, span: SourceSpan | None) -> list[Bindings]:
    t, _ = deref(lit.args[0], b)
    if not isinstance(t, Var):
        if isinstance(t, Struct):
            lst = make_list([Struct(t.functor), *t.args])
        else:
            lst = make_list([t])
        r = unify(lit.args[1], lst, b)
        return [r] if r is not None else []
    items: list[Term] = []
    cur, _ = deref(lit.args[1], b)
    while isinstance(cur, Struct) and cur.functor == "." and len(cur.args) == 2:
        items.append(resolve(cur.args[0], b))
        cur, _ = deref(cur.args[1], b)
    if not (isinstance(cur, Struct) and cur == NIL) or not items:
        raise _inst_error(lit, b, span, "the right side must be a proper non-empty list")
    head = items[0]
    if len(items) == 1:
        built: Term = head
    elif isinstance(head, Struct) and not head.args:
        built = Struct(head.functor, items[1:])
    else:
        raise _type_error(lit, b, span, f"{show(head)} is not an atom")
    r = unify(lit.args[0], built, b)
    return [r] if r is not None else []


def _functor(lit: Struct, b: Bindings, span: SourceSpan | None, limit: int) -> list[Bindings]:
    t, _ = deref(lit.args[0], b)
    if not isinstance(t, Var):
        if isinstance(t, Struct):
            name: Term = Struct(t.functor)
            arity = len(t.args)
        else:
            name, arity = t, 0
        r = unify(lit.args[1], name, b)
        if r is not None:
            r = unify(lit.args[2], arity, r)
        return [r] if r is not None else []
    n, _ = deref(lit.args[1], b)
    a = _get_int(lit.args[2], b, lit, span)
    if isinstance(n, Var) or a is None:
        raise _inst_error(lit, b, span, "either the term or name and arity must be bound")
    if a < 0 or a > limit:
        raise _type_error(lit, b, span, f"arity {a} is out of range")
    if a == 0:
        built: Term = n
    elif isinstance(n, Struct) and not n.args:
        built = Struct(n.functor, [fresh_var() for _ in range(int(a))])
    else:
        raise _type_error(lit, b, span, f"{show(n)} is not an atom")
    r = unify(lit.args[0], built, b)
    return [r] if r is not None else []


def _succ(
    lit: Struct, b: Bindings, span: SourceSpan | None, x: Number | None, y: Number | None
) -> list[Bindings]:
    if x is not None:
        if x < 0:
            raise _type_error(lit, b, span, "expected a non-negative integer")
        r = unify(lit.args[1], x + 1, b)
        return [r] if r is not None else []
    if y is not None:
        if y < 0:
            raise _type_error(lit, b, span, "expected a non-negative integer")
        if y == 0:
            return []
        r = unify(lit.args[0], y - 1, b)
        return [r] if r is not None else []
    raise _inst_error(lit, b, span, "one argument must be bound")


def solve_builtin(
    lit: Struct, b: Bindings, span: SourceSpan | None, max_range: int = 10_000_000
) -> list[Bindings]:
    """All solutions of builtin ``lit`` under ``b`` (a list of extended environments)."""
    name = lit.functor
    args = lit.args
    n = len(args)
    if n == 2:
        if name == "is":
            value = eval_arith(args[1], b, lit, span)
            r = unify(args[0], value, b)
            return [r] if r is not None else []
        cmp = _ARITH_CMP.get(name)
        if cmp is not None:
            return [b] if cmp(eval_arith(args[0], b, lit, span),
                              eval_arith(args[1], b, lit, span)) else []
        if name == "=":
            r = unify(args[0], args[1], b)
            return [r] if r is not None else []
        if name == "\\=":
            return [b] if unify(args[0], args[1], b) is None else []
        if name in ("==", "\\=="):
            same = term_eq(subst(args[0], b)[0], subst(args[1], b)[0])
            return [b] if same == (name == "==") else []
        ocmp = _ORDER_CMP.get(name)
        if ocmp is not None:
            kx = order_key(subst(args[0], b)[0])
            ky = order_key(subst(args[1], b)[0])
            return [b] if ocmp(kx, ky) else []
        if name == "succ":
            sx = _get_int(args[0], b, lit, span)
            sy = _get_int(args[1], b, lit, span)
            return _succ(lit, b, span, sx, sy)
        if name == "=..":
            return _univ(lit, b, span)
    elif n == 3:
        if name == "between":
            lo = _get_int(args[0], b, lit, span)
            hi = _get_int(args[1], b, lit, span, allow_inf=True)
            if lo is None or hi is None:
                raise _inst_error(lit, b, span, "the bounds must be bound")
            xv, _ = deref(args[2], b)
            if not isinstance(xv, Var):
                if not isinstance(xv, int):
                    raise _type_error(lit, b, span, f"expected an integer, got {show(xv)}")
                return [b] if lo <= xv <= hi else []
            if hi - lo >= max_range:
                raise GroundingLimitError(
                    f"between/3: the range {show(resolve(lit, b))} has more than {max_range} "
                    "values; grounding would not terminate",
                    span,
                    "use a finite upper bound, or raise the limit with --max-atoms",
                )
            out: list[Bindings] = []
            xname = xv.name
            for i in range(int(lo), int(hi) + 1):
                nb = dict(b)
                nb[xname] = i
                out.append(nb)
            return out
        if name == "plus":
            px = _get_int(args[0], b, lit, span)
            py = _get_int(args[1], b, lit, span)
            pz = _get_int(args[2], b, lit, span)
            if px is not None and py is not None:
                r = unify(args[2], px + py, b)
            elif px is not None and pz is not None:
                r = unify(args[1], pz - px, b)
            elif py is not None and pz is not None:
                r = unify(args[0], pz - py, b)
            else:
                raise _inst_error(lit, b, span, "two arguments must be bound")
            return [r] if r is not None else []
        if name == "functor":
            return _functor(lit, b, span, 1_000_000)
    elif n == 1:
        t, _ = deref(args[0], b)
        if name == "var":
            return [b] if isinstance(t, Var) else []
        if name == "nonvar":
            return [] if isinstance(t, Var) else [b]
        if name == "ground":
            return [b] if subst(t, b)[1] else []
        if name == "atom":
            return [b] if isinstance(t, Struct) and not t.args else []
        if name == "number":
            return [b] if type(t) in (int, float) else []
        if name == "integer":
            return [b] if type(t) is int else []
        if name == "float":
            return [b] if type(t) is float else []
        if name == "atomic":
            return [b] if (type(t) in (int, float, Str)) or (
                isinstance(t, Struct) and not t.args
            ) else []
        if name == "compound":
            return [b] if isinstance(t, Struct) and t.args else []
        if name == "callable":
            return [b] if isinstance(t, Struct) else []
        if name == "is_list":
            return [b] if _is_list(t, b) else []
    elif n == 0:
        if name == "true":
            return [b]
        if name in ("fail", "false"):
            return []
    raise GroundingError(
        f"unknown builtin {name}/{n}: {show(resolve(lit, b))}",
        span,
        "this builtin is not supported during grounding",
    )


BUILTIN_NAMES: frozenset[tuple[str, int]] = frozenset(
    [(op, 2) for op in ["is", "=", "\\=", "==", "\\==", "succ", "=.."]]
    + [(op, 2) for op in _ARITH_CMP]
    + [(op, 2) for op in _ORDER_CMP]
    + [("between", 3), ("plus", 3), ("functor", 3)]
    + [
        (t, 1)
        for t in [
            "var", "nonvar", "ground", "atom", "number", "integer", "float", "atomic",
            "compound", "callable", "is_list",
        ]
    ]
    + [("true", 0), ("fail", 0), ("false", 0)]
)


def is_builtin(key: tuple[str, int]) -> bool:
    return key in BUILTIN_NAMES

