"""
The job a task instance paid for, kept in Airflow's task state store so any later try finds it.

The API replays an ``Idempotency-Key`` for 24 hours only; a retry or a clear after that would pay
for a new job. On Airflow 3.3+ (AIP-103, ``context["task_state_store"]``) each job operator records
its job id as soon as the job exists, and any later try of the same task instance re-attaches to it
directly, whatever its age. Before 3.3 there is no store: the idempotency key is the only mechanism.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from airflow_provider_apiframe.core.errors import ApiframeJobExpiredError, ApiframeNotFoundError
from airflow_provider_apiframe.core.idempotency import REFUSED, renewed_key

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_apiframe.core.models import Job
    from airflow_provider_apiframe.core.retry import Logger
    from airflow_provider_apiframe.hooks.apiframe import ApiframeHook

#: The task state store key holding ``{"job_id", "request"}`` (``request``: the key sequence's base).
STORE_KEY = "apiframe_job"


def _store(context: Context) -> Any | None:
    """The task's state store, or ``None`` before Airflow 3.3."""
    return cast("Mapping[str, Any]", context).get("task_state_store")


def record_job(context: Context, job_id: str, request: str) -> None:
    """
    Record the job a try submitted (or re-attached to), for every later try; nothing before Airflow 3.3.

    :param context: The task's context.
    :param job_id: The job.
    :param request: What identifies the request: the base of its key sequence.
    """
    store = _store(context)
    if store is None:
        return
    # Kept as long as its DAG run: the record must outlive the idempotency window, whatever the
    # deployment's [state_store] default_retention_days.
    never = getattr(importlib.import_module("airflow.sdk"), "NEVER_EXPIRE", None)
    store.set(STORE_KEY, {"job_id": job_id, "request": request}, retention=never)


def recorded_job_id(context: Context, request: str) -> str | None:
    """
    The job an earlier try recorded for this same request, if any.

    A record for another request (the DAG changed, then the task was cleared) is ignored.

    :param context: The task's context.
    :param request: The base of this try's key sequence.
    """
    store = _store(context)
    if store is None:
        return None
    recorded = store.get(STORE_KEY)
    if not isinstance(recorded, dict) or recorded.get("request") != request:
        return None
    job_id = recorded.get("job_id")
    return job_id if isinstance(job_id, str) else None


def reattach(
    hook: ApiframeHook, job_id: str, request: str, *, renew_expired: bool, deadline: float, log: Logger
) -> tuple[Job | None, str]:
    """
    Read the recorded job: return it to wait for or finish, or ``None`` and the key a new job goes under.

    A job that ended FAILED or CANCELLED was not charged: submit again (the key sequence moves on).
    A job whose result files have expired fails the task unless ``renew_expired``: a new job costs
    credits again. A job the API no longer knows (404) is submitted again under the request's key.

    :param hook: The hook.
    :param job_id: The recorded job.
    :param request: The base of this try's key sequence.
    :param renew_expired: Whether to pay for a new job when the recorded one's files are gone.
    :param deadline: No retry starts after this wall-clock time.
    :param log: The task's log.
    :raises ApiframeJobExpiredError: The files are gone and ``renew_expired`` is off.
    """
    job: Job | None
    try:
        job = hook.get_job(job_id, deadline=deadline)
    except ApiframeNotFoundError:  # lost at Apiframe: its key decides, as without a record
        log.warning("Apiframe job %s, recorded by an earlier try, is unknown to the API; submitting", job_id)
        return None, request
    else:
        gone = "its result files have expired" if job.expired else ""
    if job is not None and not gone:
        if job.known_status in REFUSED:
            log.info(
                "Apiframe job %s, recorded by an earlier try, ended %s without charge", job_id, job.status
            )
            return None, request
        log.info(
            "Re-attaching to Apiframe job %s (%s), recorded by an earlier try of this task",
            job_id,
            job.status,
        )
        return job, request
    if not renew_expired:
        raise ApiframeJobExpiredError(
            f"Apiframe job {job_id}, which an earlier try of this task paid for, cannot be re-attached: "
            f"{gone}. Set renew_expired=True to pay for a new job.",
            job_id=job_id,
        )
    log.warning(
        "Apiframe job %s, recorded by an earlier try: %s; submitting a new job (renew_expired)", job_id, gone
    )
    return None, renewed_key(request, job_id)
