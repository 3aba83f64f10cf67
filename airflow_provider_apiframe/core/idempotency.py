"""Idempotency keys: the same task instance re-attaches to its job; a refused job gets a fresh key."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from airflow_provider_apiframe.core.errors import ApiframeInvalidParamsError
from airflow_provider_apiframe.core.models import JobStatus

#: Longest ``Idempotency-Key`` the API accepts.
MAX_KEY_LENGTH = 255
#: A job that ended like this was not charged, and replaying its key would return it again.
REFUSED = (JobStatus.FAILED, JobStatus.CANCELLED)


def derive_key(*, dag_id: str, task_id: str, run_id: str, map_index: int, body: Mapping[str, Any]) -> str:
    """
    Derive the default key of a task instance's job.

    The key is stable across the task instance's retries, and distinct between task instances,
    map indexes and runs, and between request bodies (so changing the prompt and clearing the
    task makes a new job rather than replaying the old one).

    :param dag_id: The DAG.
    :param task_id: The task.
    :param run_id: The DAG run.
    :param map_index: The map index (-1 when not mapped).
    :param body: The request body that will be sent.
    """
    identity = json.dumps([dag_id, task_id, run_id, map_index, body], sort_keys=True, separators=(",", ":"))
    return "airflow-" + hashlib.sha256(identity.encode()).hexdigest()[:48]


def nth_key(base: str, n: int) -> str:
    """
    Return the ``n``-th key of the sequence that starts at ``base``.

    Key ``n + 1`` is used once the job behind key ``n`` ended FAILED or CANCELLED (uncharged),
    since replaying key ``n`` would only return that job again.

    :param base: Key 0: the derived key, or the one the DAG author gave.
    :param n: Position in the sequence.
    """
    if n < 0:
        raise ApiframeInvalidParamsError([("n", "must be >= 0")])
    if n == 0:
        return base
    suffix = f"~{n}"
    return base[: MAX_KEY_LENGTH - len(suffix)] + suffix


def renewed_key(base: str, job_id: str) -> str:
    """
    Return the key of a new job replacing ``job_id``, whose result expired (``base`` may still replay it).

    :param base: The request's key 0.
    :param job_id: The job being replaced.
    """
    suffix = "~renew-" + hashlib.sha256(job_id.encode()).hexdigest()[:12]
    return base[: MAX_KEY_LENGTH - len(suffix)] + suffix


class KeySequence:
    """
    The keys one task instance submits under: key 0 first, the next one after each refused job.

    A job that ended FAILED or CANCELLED (:data:`REFUSED`) was not charged, and replaying its key
    would only return it again, so the task moves on to the next key. It moves at most as many
    times as earlier tries could have used up keys (one each), so a job refused in *this* try
    fails the task rather than being submitted again and again.

    :param base: Key 0: the derived key, or the one the DAG author gave.
    :param try_number: The task instance's try (1 for the first).
    """

    def __init__(self, base: str, *, try_number: int) -> None:
        self.base = base
        self.spent_before = max(try_number - 1, 0)
        self.position = 0

    @property
    def key(self) -> str:
        """The key to submit under now."""
        return nth_key(self.base, self.position)

    def move_on(self, status: JobStatus | None) -> bool:
        """
        Move to the next key if the job behind the current one was refused and earlier tries allow it.

        :param status: How the job behind :attr:`key` stands (``None`` when unknown).
        :return: Whether to submit again, under the new :attr:`key`.
        """
        if status in REFUSED and self.position < self.spent_before:
            self.position += 1
            return True
        return False
