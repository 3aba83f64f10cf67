"""What the triggerer's tests share: the emulator behind the ``apiframe_default`` connection."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def api(emulator: Any, use_connection: Any) -> Any:
    """The emulator, as ``apiframe_default``, with jobs of 1.5 s."""
    use_connection(emulator.url)
    emulator.config.job_seconds = 1.5
    return emulator
