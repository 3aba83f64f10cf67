"""The per-key rate limit: a token bucket per API key."""

from __future__ import annotations

from airflow_provider_apiframe.emulator.config import EmulatorConfig


class RateLimiter:
    """
    ``EmulatorConfig.rate_limit`` requests per second per key (read when asked; ``None``: unlimited).

    :param config: The emulator's settings.
    """

    def __init__(self, config: EmulatorConfig):
        self.config = config
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> tokens, last refill

    def wait(self, api_key: str, now: float) -> float | None:
        """
        Seconds to wait if this request is over the key's rate, else None (and it is counted).

        :param api_key: The request's key.
        :param now: The current time.
        """
        rate = self.config.rate_limit
        if rate is None:
            return None
        tokens, last = self._buckets.get(api_key, (rate, now))
        tokens = min(rate, tokens + (now - last) * rate)
        if tokens < 1:
            self._buckets[api_key] = (tokens, now)
            return (1 - tokens) / rate
        self._buckets[api_key] = (tokens - 1, now)
        return None
