from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from support import API_KEY, BASE_URL, Contract, FakeClock

from airflow_provider_apiframe.core.contract import document_path
from airflow_provider_apiframe.emulator import Emulator, EmulatorConfig

if TYPE_CHECKING:
    from airflow_provider_apiframe.triggerer.tuning import Tuning


@pytest.fixture(scope="session")
def spec() -> dict[str, Any]:
    """The contract as the package ships it: the facts-only snapshot of the official document."""
    from airflow_provider_apiframe.core import contract

    return contract.snapshot()


@pytest.fixture(scope="session")
def document() -> dict[str, Any]:
    """
    The official contract document itself, for the few tests that need all of it.

    Outside CI they skip when it is missing; under CI (``CI`` set) they fail.
    """
    path = document_path()
    if not path.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"The API contract document is missing at {path} (set APIFRAME_OPENAPI_SPEC)")
        pytest.skip(f"The API contract document is not at {path} (set APIFRAME_OPENAPI_SPEC)")
    return json.loads(path.read_text())


@pytest.fixture(scope="session")
def contract(spec: dict[str, Any]) -> Contract:
    return Contract(spec)


@pytest.fixture
def connection(monkeypatch: pytest.MonkeyPatch) -> str:
    """An ``apiframe_default`` connection to a fake base URL (for requests-mock and httpx mocks)."""
    return _use_connection(monkeypatch, BASE_URL)


def _use_connection(monkeypatch: pytest.MonkeyPatch, host: str, **extra: Any) -> str:
    conn = {"conn_type": "apiframe", "password": API_KEY, "host": host, "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_APIFRAME_DEFAULT", json.dumps(conn))

    # Airflow 3.1 reads connections asynchronously only inside a task or triggerer process;
    # outside one, read the same environment variable the sync path reads.
    from airflow.sdk import BaseHook

    async def aget_connection(cls: type, conn_id: str) -> Any:
        return BaseHook.get_connection(conn_id)

    monkeypatch.setattr(BaseHook, "aget_connection", classmethod(aget_connection))
    return host


@pytest.fixture
def use_connection(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Point ``apiframe_default`` at a given base URL, with optional extras."""
    return lambda host, **extra: _use_connection(monkeypatch, host, **extra)


@pytest.fixture
def emulator(spec: dict[str, Any]) -> Iterator[Emulator]:
    """
    The emulator on a free loopback port, validating job requests against the official contract.

    Jobs take about 0.3 s; the key is the tests' distinctive :data:`payloads.API_KEY`.
    """
    config = EmulatorConfig(api_keys=(API_KEY,), job_seconds=0.3, jitter=0.0, spec=spec, seed=1)
    with Emulator(config).running() as running:
        yield running


@pytest.fixture(autouse=True)
def retry_waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record every wait the retry policy asks for, and sleep a thousandth of it."""
    from airflow_provider_apiframe.core.retry import RetryPolicy

    waits: list[float] = []
    asked = RetryPolicy.wait_seconds

    def fast(self: RetryPolicy, error: BaseException | None, attempt: int) -> float:
        waits.append(asked(self, error, attempt))
        return waits[-1] / 1000

    monkeypatch.setattr(RetryPolicy, "wait_seconds", fast)
    return waits


@pytest.fixture
def clock() -> Iterator[FakeClock]:
    """A fake clock in use for the test: the core's deadlines, poll schedule and poll waits read it."""
    from airflow_provider_apiframe.core import clock as clock_module

    with clock_module.use(FakeClock()) as fake:
        yield fake


@pytest.fixture
def tune(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Tuning]:
    """Tune the triggerer's job watcher for the test: ``tune(extra_pages=0, max_pages=2)``."""
    from airflow_provider_apiframe.triggerer import tuning

    def use(**changes: Any) -> Tuning:
        monkeypatch.setattr(tuning, "TUNING", dataclasses.replace(tuning.TUNING, **changes))
        return tuning.TUNING

    return use
