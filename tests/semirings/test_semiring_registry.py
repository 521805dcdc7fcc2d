"""The semantics registry: names, errors, options, and the hook for exact inference."""

from __future__ import annotations

import pytest
import torch

from einlog.errors import ConfigError, UnknownSemanticsError, UnsupportedError
from einlog.semirings import (
    GodelSemiring,
    Semiring,
    TopKSemantics,
    descriptions,
    get_semiring,
    get_tensor_semiring,
    names,
    register,
    register_lazy,
)

BUILTINS = [
    "addmult",
    "boolean",
    "godel",
    "log-addmult",
    "log-product",
    "log-viterbi",
    "lukasiewicz",
    "possibilistic",
    "product",
    "topk",
    "viterbi",
]


def test_builtin_names_are_registered() -> None:
    got = names()
    for name in [*BUILTINS, "exact"]:
        assert name in got
    assert got == sorted(got)
    assert set(descriptions()) == set(got)
    assert all(descriptions()[n] for n in BUILTINS)


@pytest.mark.parametrize("name", [n for n in BUILTINS if n != "topk"])
def test_get_semiring_returns_named_tensor_semiring(name: str) -> None:
    s = get_semiring(name)
    assert isinstance(s, Semiring)
    assert s.name == name
    assert get_tensor_semiring(name) is s


def test_names_are_normalized_and_aliases_resolve() -> None:
    assert get_semiring("LOG_VITERBI").name == "log-viterbi"
    assert get_semiring("max-product").name == "viterbi"
    assert get_semiring(" Godel ").name == "godel"


def test_unknown_name_lists_valid_names_and_suggests() -> None:
    with pytest.raises(UnknownSemanticsError) as info:
        get_semiring("vitrebi")
    msg = str(info.value)
    assert "did you mean 'viterbi'" in msg
    for name in BUILTINS:
        assert name in msg
    assert isinstance(info.value, ConfigError)


def test_topk_takes_k() -> None:
    s = get_semiring("topk", k=5)
    assert isinstance(s, TopKSemantics)
    assert s.k == 5 and s.kind == "proofs"
    assert get_semiring("topk", k="2").k == 2  # type: ignore[attr-defined]
    with pytest.raises(ConfigError):
        get_semiring("topk", k=0)
    with pytest.raises(ConfigError):
        get_semiring("topk", k="many")
    with pytest.raises(ConfigError):
        get_semiring("topk", depth=3)
    with pytest.raises(ConfigError):
        get_semiring("godel", k=3)


def test_topk_is_not_a_tensor_semiring() -> None:
    with pytest.raises(UnsupportedError):
        get_tensor_semiring("topk")


def test_exact_is_a_hook_that_fails_cleanly_until_provided() -> None:
    try:
        import einlog.circuit.semantics  # noqa: F401
    except ImportError:
        with pytest.raises(UnsupportedError):
            get_semiring("exact")
    else:  # pragma: no cover - once the circuit package provides it
        assert get_semiring("exact").kind == "exact"


def test_register_custom_and_duplicates() -> None:
    class Half(GodelSemiring):
        name = "test-half"
        description = "a test semiring"

    half = Half()
    register(half, aliases=["test-half-alias"])
    assert get_semiring("test-half") is half
    assert get_semiring("test_half_alias") is half
    with pytest.raises(ConfigError):
        register(Half())
    register(Half(), replace=True)
    assert get_semiring("test-half") is not half


def test_register_lazy_resolves_on_first_use() -> None:
    register_lazy("test-lazy", "einlog.semirings.builtin:ViterbiSemiring", description="lazy")
    assert "test-lazy" in names()
    s = get_semiring("test-lazy")
    assert isinstance(s, Semiring)
    assert s.mul(torch.tensor(0.5), torch.tensor(0.5)).item() == 0.25
    register_lazy("test-lazy-missing", "einlog.no_such_module:THING")
    with pytest.raises(UnsupportedError):
        get_semiring("test-lazy-missing")


def test_real_registration_fills_a_lazy_hook() -> None:
    register_lazy("test-hook", "einlog.no_such_module:THING")

    class Hook(GodelSemiring):
        name = "test-hook"

    register(Hook())  # no replace=True needed for an announced name
    assert isinstance(get_semiring("test-hook"), Hook)
