"""
The provider's metrics, through Airflow's own ``Stats``.

They reach StatsD, Datadog or OpenTelemetry as the deployment's ``[metrics]`` section says (nothing
is sent when it enables none). Every name starts with ``apiframe.`` and never changes; ``model``,
``conn_id`` and the like are tags, which backends without tags (plain StatsD) drop. A metric never
fails a task: whatever the backend raises is logged at debug level and forgotten.
``docs/operations.md`` has the table.
"""

from __future__ import annotations

import datetime
import functools
import importlib
import logging
from typing import TYPE_CHECKING, Any

from airflow_provider_apiframe.core.models import JobStatus

if TYPE_CHECKING:
    from airflow_provider_apiframe.core.models import Job
    from airflow_provider_apiframe.core.retry import OnRetry, RetryEvent

log = logging.getLogger(__name__)

#: Counters: jobs whose submission the API accepted (a replay of the same key included).
JOBS_SUBMITTED = "apiframe.jobs.submitted"
#: Counters: jobs a task saw end COMPLETED; FAILED or CANCELLED; not ended by the task's timeout.
JOBS_COMPLETED = "apiframe.jobs.completed"
JOBS_FAILED = "apiframe.jobs.failed"
JOBS_TIMED_OUT = "apiframe.jobs.timed_out"
#: Counter: the ``creditCost`` of each COMPLETED job, as the API charged it.
CREDITS_SPENT = "apiframe.credits.spent"
#: Timer: from a job's ``createdAt`` to its ``completedAt`` (milliseconds on StatsD).
JOB_WAIT = "apiframe.jobs.wait_time"
#: Counter: HTTP retries, ``reason`` the status (``"503"``), ``"no_response"`` or ``"bad_body"``.
HTTP_RETRIES = "apiframe.http.retries"
#: Counter and timer: ``429`` answers waited out (``Retry-After``), and how long each wait was.
RATE_LIMIT_PAUSES = "apiframe.rate_limit.pauses"
RATE_LIMIT_WAIT = "apiframe.rate_limit.wait_time"
#: Gauge: a batch's items in flight in its worker (submissions under way, jobs not yet seen to end).
BATCH_IN_FLIGHT = "apiframe.batch.in_flight"


@functools.cache
def _stats() -> Any:
    """Airflow's ``Stats``: the Task SDK's module (Airflow 3.2 and later), else ``airflow.stats`` (3.1)."""
    for module in ("airflow.sdk.observability.stats", "airflow.observability.stats"):
        try:
            return importlib.import_module(module)
        except ImportError:
            continue
    from airflow.stats import Stats  # Airflow 3.1, where it is not deprecated

    return Stats


def _emit(kind: str, name: str, value: Any, tags: dict[str, Any]) -> None:
    """Send one metric; never raise."""
    try:
        tags = {key: tag for key, tag in tags.items() if tag not in (None, "")}
        stats = _stats()
        if kind == "incr":
            stats.incr(name, count=value, tags=tags)
        elif kind == "gauge":
            stats.gauge(name, value, tags=tags)
        else:
            stats.timing(name, value, tags=tags)
    except Exception:  # a metric must never fail a task
        log.debug("Could not send the metric %s", name, exc_info=True)


def job_submitted(model: str | None, conn_id: str) -> None:
    """
    A submission the API accepted.

    :param model: The job's model.
    :param conn_id: The Apiframe connection.
    """
    _emit("incr", JOBS_SUBMITTED, 1, {"model": model, "conn_id": conn_id})


def job_ended(job: Job, conn_id: str) -> None:
    """
    A job a task saw end: completed (with its credits) or failed, and how long it took.

    :param job: The job, in a terminal status.
    :param conn_id: The Apiframe connection.
    """
    tags = {"model": job.model, "conn_id": conn_id}
    if job.status == JobStatus.COMPLETED:
        _emit("incr", JOBS_COMPLETED, 1, tags)
        if job.credit_cost:
            _emit("incr", CREDITS_SPENT, job.credit_cost, tags)
    else:
        _emit("incr", JOBS_FAILED, 1, {**tags, "status": job.status})
    if (took := _took(job)) is not None:
        _emit("timing", JOB_WAIT, took, {**tags, "status": job.status})


def job_timed_out(conn_id: str, model: str | None = None) -> None:
    """
    A wait that ended at the task's timeout, the job still running.

    :param conn_id: The Apiframe connection.
    :param model: The job's model, when known.
    """
    _emit("incr", JOBS_TIMED_OUT, 1, {"model": model, "conn_id": conn_id})


def batch_in_flight(count: int, conn_id: str) -> None:
    """
    How many of a batch's items are in flight in its worker.

    :param count: Submissions under way plus jobs not yet seen to end.
    :param conn_id: The Apiframe connection.
    """
    _emit("gauge", BATCH_IN_FLIGHT, count, {"conn_id": conn_id})


def on_retry(conn_id: str) -> OnRetry:
    """
    What the connection's transports tell of each retry: an HTTP retry, for a ``429`` a rate limit pause too.

    :param conn_id: The Apiframe connection.
    """

    def retried(event: RetryEvent) -> None:
        _emit("incr", HTTP_RETRIES, 1, {"conn_id": conn_id, "reason": event.reason})
        if event.rate_limited:
            _emit("incr", RATE_LIMIT_PAUSES, 1, {"conn_id": conn_id})
            _emit("timing", RATE_LIMIT_WAIT, datetime.timedelta(seconds=event.wait), {"conn_id": conn_id})

    return retried


def _took(job: Job) -> datetime.timedelta | None:
    """From the job's ``createdAt`` to its ``completedAt``, when the API gave both."""
    if not job.created_at or not job.completed_at:
        return None
    try:
        created, completed = (
            datetime.datetime.fromisoformat(moment.replace("Z", "+00:00"))
            for moment in (job.created_at, job.completed_at)
        )
        return max(completed - created, datetime.timedelta(0))
    except (TypeError, ValueError):  # not ISO 8601, or one with a time zone and one without
        return None
