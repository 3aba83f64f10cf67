"""The emulator as its own process, for benchmarks (so it does not share their interpreter)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from airflow_provider_apiframe.emulator import EmulatorProcess

#: The key the benchmarks' emulator accepts.
KEY = "afk_bench_0123456789abcdef"


@contextmanager
def emulator_process(*options: str) -> Iterator[str]:
    """
    Run ``apiframe-emulator`` with ``options`` on a free loopback port; yield its base URL.

    :param options: More command-line options, e.g. ``--job-seconds 15``.
    """
    with EmulatorProcess(*options, api_key=KEY) as emulator:
        yield emulator.url
