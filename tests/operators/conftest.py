"""Fixtures of the operator tests."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def api(emulator: Any, use_connection: Any) -> Any:
    """The emulator, with ``apiframe_default`` pointing at it."""
    use_connection(emulator.url)
    return emulator
