"""What went in and out: the request log, requests counted by route, webhook deliveries."""

from __future__ import annotations

from collections import Counter, deque
from typing import Any


class Traffic:
    """The emulator's logs, kept for tests and benchmarks to read."""

    def __init__(self) -> None:
        self.requests: deque[tuple[str, str, int]] = deque(maxlen=100_000)  # method, path, status
        self.by_route: Counter[str] = Counter()  # "GET /v2/jobs/{id}" -> requests, all time
        self.webhooks: deque[dict[str, Any]] = deque(maxlen=10_000)  # deliveries made

    def count(self, method: str, path: str, status: int) -> None:
        """
        Log a request (the last 100,000) and count it by route (all of them).

        :param method: Its method.
        :param path: Its path.
        :param status: The status it was answered with (0 if none was sent).
        """
        self.requests.append((method, path, status))
        route = "/v2/jobs/{id}" if path.startswith("/v2/jobs/") else path
        self.by_route[f"{method} {route}"] += 1
