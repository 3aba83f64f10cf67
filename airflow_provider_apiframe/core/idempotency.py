"""Idempotency keys: the same task instance re-attaches to its job; a refused job gets a fresh key."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from airflow_provider_apiframe.core.errors import ApiframeInvalidParamsError

#: Longest ``Idempotency-Key`` the API accepts.
MAX_KEY_LENGTH = 255


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
