"""Semantics by name: one registry behind ``--semantics`` and the Python API.

Registration is explicit.  The built-ins are registered in one place
(:func:`einlog.semirings.builtin.register_builtins`), the first time anyone
asks the registry anything, so importing a semiring class has no side
effects.  Other packages register with :func:`register`; a package that
must not be imported eagerly (exact inference lives in the circuit package,
which imports this one) is announced with :func:`register_lazy`, a
``"module:attribute"`` target resolved on first use.

Names are matched after lower-casing and mapping ``_`` to ``-``; an unknown
name raises :class:`UnknownSemanticsError` listing every valid name and the
closest match.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterable
from typing import Any

from einlog.errors import ConfigError, UnknownSemanticsError, UnsupportedError
from einlog.semirings.base import Semantics, Semiring

__all__ = [
    "register",
    "register_lazy",
    "get_semiring",
    "get_tensor_semiring",
    "names",
    "descriptions",
]

_registry: dict[str, Semantics] = {}
_lazy: dict[str, tuple[str, str]] = {}  # name -> (target, description)
_aliases: dict[str, str] = {}
_builtins_loaded = False

_BUILTIN_ALIASES = {
    "bool": "boolean",
    "gödel": "godel",
    "goedel": "godel",
    "max-product": "viterbi",
    "add-mult": "addmult",
    "add-mult-prob": "addmult",
    "fuzzy-product": "product",
    "top-k": "topk",
    "łukasiewicz": "lukasiewicz",
}


def _normalize(name: str) -> str:
    return name.strip().lower().replace("_", "-")


def _ensure_builtins() -> None:
    global _builtins_loaded
    if _builtins_loaded:
        return
    _builtins_loaded = True
    from einlog.semirings.builtin import register_builtins

    register_builtins()
    for alias, target in _BUILTIN_ALIASES.items():
        _aliases.setdefault(alias, target)


def _check_free(name: str, replace: bool) -> None:
    if not name:
        raise ConfigError("a semantics needs a non-empty name")
    if not replace and (name in _registry or name in _aliases):
        raise ConfigError(
            f"semantics {name!r} is already registered",
            hint="pass replace=True to override it deliberately",
        )


def register(
    semantics: Semantics,
    *,
    aliases: Iterable[str] = (),
    replace: bool = False,
    _builtin: bool = False,
) -> None:
    """Make ``semantics`` selectable by ``semantics.name`` (and ``aliases``).

    A lazily announced name (:func:`register_lazy`) may be registered for real
    without ``replace``: that is how the circuit package fills the ``exact`` hook.
    """
    if not _builtin:
        _ensure_builtins()
    name = _normalize(semantics.name)
    _check_free(name, replace or name in _lazy)
    _lazy.pop(name, None)
    _registry[name] = semantics
    for alias in aliases:
        a = _normalize(alias)
        _check_free(a, replace)
        _aliases[a] = name


def register_lazy(
    name: str,
    target: str,
    *,
    description: str = "",
    aliases: Iterable[str] = (),
) -> None:
    """Announce ``name``; ``target`` (``"pkg.module:ATTR"``) is imported when it is first used.

    ``ATTR`` is a :class:`Semantics` instance or a zero-argument callable returning one.
    """
    key = _normalize(name)
    if key in _registry:
        return  # already registered for real
    _lazy[key] = (target, description)
    for alias in aliases:
        _aliases.setdefault(_normalize(alias), key)


def _resolve_lazy(name: str) -> Semantics:
    target, _ = _lazy[name]
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
        obj: Any = getattr(module, attr)
    except (ImportError, AttributeError) as exc:
        raise UnsupportedError(
            f"semantics {name!r} is not available in this build ({target} missing: {exc})",
            hint=f"choose another semantics: {', '.join(n for n in names() if n != name)}",
        ) from None
    if name in _registry:  # the module registered itself on import
        return _registry[name]
    semantics = obj() if callable(obj) and not isinstance(obj, Semantics) else obj
    if not isinstance(semantics, Semantics):
        raise UnsupportedError(f"{target} is not a Semantics (got {type(semantics).__name__})")
    _lazy.pop(name, None)
    _registry[name] = semantics
    return semantics


def get_semiring(name: str, **options: Any) -> Semantics:
    """The semantics called ``name``, configured with ``options`` (e.g. ``k=5`` for ``topk``).

    Raises :class:`UnknownSemanticsError` (listing the valid names) for an unknown name
    and :class:`ConfigError` for a bad option.
    """
    _ensure_builtins()
    key = _normalize(name)
    key = _aliases.get(key, key)
    if key in _registry:
        semantics = _registry[key]
    elif key in _lazy:
        semantics = _resolve_lazy(key)
    else:
        valid = names()
        candidates = valid + sorted(_aliases)
        close = difflib.get_close_matches(key, candidates, n=1, cutoff=0.5)
        suggestion = _aliases.get(close[0], close[0]) if close else None
        guess = f" (did you mean {suggestion!r}?)" if suggestion else ""
        raise UnknownSemanticsError(
            f"unknown semantics {name!r}{guess}; valid names: {', '.join(valid)}",
            hint=f"pick one of: {', '.join(valid)}",
        )
    return semantics.configure(**options) if options else semantics


def get_tensor_semiring(name: str | Semiring) -> Semiring:
    """Like :func:`get_semiring`, only for tensor semirings (what the fixpoint evaluator runs)."""
    semantics = name if isinstance(name, Semiring) else get_semiring(name)
    if not isinstance(semantics, Semiring):
        tensor_names = [n for n in names() if isinstance(_registry.get(n), Semiring)]
        raise UnsupportedError(
            f"semantics {semantics.name!r} is not a tensor semiring (kind {semantics.kind!r})",
            hint=f"the fixpoint evaluator runs: {', '.join(tensor_names)}",
        )
    return semantics


def names() -> list[str]:
    """Every registered semantics name (lazily announced ones included), sorted."""
    _ensure_builtins()
    return sorted(set(_registry) | set(_lazy))


def descriptions() -> dict[str, str]:
    """``name -> one-line description`` for help texts."""
    _ensure_builtins()
    out = {n: s.description for n, s in _registry.items()}
    out.update({n: d for n, (_, d) in _lazy.items()})
    return dict(sorted(out.items()))
