"""Idempotency keys: which job each ``Idempotency-Key`` created, replayed within a window."""

from __future__ import annotations

from airflow_provider_apiframe.emulator.config import EmulatorConfig


class Replays:
    """
    The jobs ``Idempotency-Key`` s created, scoped to the submitting API key.

    :param config: The emulator's settings (``idempotency_seconds``, read when asked).
    """

    def __init__(self, config: EmulatorConfig):
        self.config = config
        self.keys: dict[tuple[str, str], tuple[str, float]] = {}  # (api key, key) -> job id, time

    def find(self, api_key: str, key: str, now: float) -> str | None:
        """
        The id of the job ``key`` created within the replay window, else None.

        :param api_key: The submitting key.
        :param key: The Idempotency-Key.
        :param now: The current time.
        """
        seen = self.keys.get((api_key, key))
        if seen is None or now - seen[1] > self.config.idempotency_seconds:
            return None
        return seen[0]

    def remember(self, api_key: str, key: str, job_id: str, created: float) -> None:
        """
        Remember which job an Idempotency-Key created.

        :param api_key: The submitting key.
        :param key: The Idempotency-Key.
        :param job_id: The job it created.
        :param created: When.
        """
        self.keys[(api_key, key)] = (job_id, created)

    def by_job(self) -> dict[str, list[str]]:
        """The Idempotency-Keys of each job that has some."""
        keys: dict[str, list[str]] = {}
        for (_, key), (job_id, _) in self.keys.items():
            keys.setdefault(job_id, []).append(key)
        return keys
