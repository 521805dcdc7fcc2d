"""Fixtures for grounding tests: the full pipeline parse -> compile_program -> ground."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from ground_helpers import ground_text


@pytest.fixture
def ground_program() -> Callable[..., Any]:
    """``ground_program(text, queries=None, limits=None, engine="topdown") -> Grounding``."""
    return ground_text
