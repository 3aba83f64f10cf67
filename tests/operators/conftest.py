"""Fixtures of the operator tests."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def api(emulator: Any, use_connection: Any) -> Any:
    """The emulator, with ``apiframe_default`` pointing at it."""
    use_connection(emulator.url)
    return emulator


@pytest.fixture
def memory_fs() -> Any:
    """An fsspec memory filesystem attached for ``memory://`` paths, emptied afterwards."""
    from airflow.sdk.io import attach
    from fsspec.implementations.memory import MemoryFileSystem

    fs = MemoryFileSystem()
    attach("memory", fs=fs)
    before = set(fs.store)
    yield fs
    for key in set(fs.store) - before:
        fs.store.pop(key, None)
