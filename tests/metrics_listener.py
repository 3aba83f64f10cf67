"""A StatsD server on loopback for the metrics tests: a thread reading UDP datagrams, parsed."""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any


@dataclasses.dataclass(frozen=True)
class Metric:
    """One metric as it came: its name (prefix removed), InfluxDB-style tags, value and type."""

    name: str
    tags: dict[str, str]
    value: float
    kind: str  # "c", "g", "ms"


def parse(line: str, prefix: str) -> Metric | None:
    """``<prefix>.<name>[,tag=value...]:<value>|<type>[|@rate]``, or ``None`` for another line."""
    head, _, rest = line.rpartition(":")
    value, _, kind = rest.partition("|")
    name, *tags = head.split(",")
    if not name.startswith(prefix + ".") or not kind:
        return None
    return Metric(
        name=name.removeprefix(prefix + "."),
        tags=dict(tag.split("=", 1) for tag in tags),
        value=float(value),
        kind=kind.split("|")[0],
    )


class StatsdListener:
    """
    Listens on ``127.0.0.1:<port>`` and keeps every metric whose name starts with ``prefix``.

    :param prefix: Airflow's ``[metrics] statsd_prefix``.
    """

    def __init__(self, prefix: str = "airflow") -> None:
        self.prefix = prefix
        self.metrics: list[Metric] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.port: int = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="statsd-listener", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                data = self._sock.recv(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            for line in data.decode(errors="replace").splitlines():
                if (metric := parse(line, self.prefix)) is not None:
                    self.metrics.append(metric)

    def named(self, name: str, **tags: str) -> list[Metric]:
        """The metrics called ``name`` carrying at least ``tags``."""
        return [
            m
            for m in list(self.metrics)
            if m.name == name and all(m.tags.get(k) == v for k, v in tags.items())
        ]

    def total(self, name: str, **tags: str) -> float:
        """The sum of the counter ``name`` over the metrics carrying at least ``tags``."""
        return sum(m.value for m in self.named(name, **tags) if m.kind == "c")

    def wait_until(self, check: Callable[[], Any], timeout: float = 5.0) -> None:
        """Wait for datagrams still on their way until ``check()`` holds; fail after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"metrics never matched; got {self.metrics}")
            time.sleep(0.05)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self._sock.close()

    def __enter__(self) -> StatsdListener:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
