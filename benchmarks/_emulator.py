"""The emulator as its own process, for benchmarks (so it does not share their interpreter)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from airflow_provider_apiframe.emulator import free_port, wait_until_up

#: The key the benchmarks' emulator accepts.
KEY = "afk_bench_0123456789abcdef"


@contextmanager
def emulator_process(*options: str) -> Iterator[str]:
    """
    Run ``apiframe-emulator`` with ``options`` on a free loopback port; yield its base URL.

    :param options: More command-line options, e.g. ``--job-seconds 15``.
    """
    port = free_port()
    command = [sys.executable, "-m", "airflow_provider_apiframe.emulator", "--port", str(port)]
    process = subprocess.Popen([*command, "--api-key", KEY, "--log-level", "warning", *options])
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url)
        yield url
    finally:
        process.terminate()
        process.wait(10)
