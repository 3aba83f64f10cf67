"""Freeing the worker while a job runs: defer to the job trigger, then read its event on resuming."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn

from airflow_provider_apiframe import metrics
from airflow_provider_apiframe.core.errors import ApiframeError, ApiframeJobTimeoutError
from airflow_provider_apiframe.core.models import Job
from airflow_provider_apiframe.triggers.job import ApiframeJobTrigger, JobEvent

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator, Context


def defer_until_done(
    task: BaseOperator,
    job_id: str,
    conn_id: str,
    deadline: float,
    poll_interval: float,
    context: Context,
    resume_with: dict[str, Any] | None = None,
) -> NoReturn:
    """
    Free the worker: the trigger polls the job and resumes the task in its ``execute_complete``.

    :param task: The task that waits.
    :param job_id: The job.
    :param conn_id: The Apiframe connection the trigger polls with.
    :param deadline: Wall-clock time at which the trigger gives up with a timeout event.
    :param poll_interval: Longest wait between two polls, in seconds.
    :param context: The task's context (its try number goes with the trigger, into its event).
    :param resume_with: Keyword arguments ``execute_complete`` resumes with (small, JSON-able).
    """
    trigger = ApiframeJobTrigger(
        job_id,
        deadline=deadline,
        apiframe_conn_id=conn_id,
        poll_interval=poll_interval,
        deferred_on_try=context["ti"].try_number,
    )
    # No framework timeout: the trigger enforces the deadline with a clean timeout event.
    task.defer(trigger=trigger, method_name="execute_complete", kwargs=resume_with, timeout=None)


def meant_for_another_try(task: BaseOperator, context: Context, deferred_on_try: int | None) -> bool:
    """
    Whether the event a task resumes with was fired for an earlier try; the task then starts over.

    Airflow 3.1.0 resumes a *retry* with the previous try's event (apache/airflow#56704, fixed in
    3.1.1); every event names the try that deferred.

    :param task: The task that resumes.
    :param context: Its context.
    :param deferred_on_try: The try the event names.
    """
    if deferred_on_try is None or context["ti"].try_number == deferred_on_try:
        return False
    task.log.warning(
        "Try %s was handed the event of try %s (an Airflow 3.1.0 bug, apache/airflow#56704); "
        "starting this try over instead.",
        context["ti"].try_number,
        deferred_on_try,
    )
    return True


def resumed_job(task: BaseOperator, context: Context, event: Any) -> Job | None:
    """
    Read the trigger's event on resuming: the job that ended, or ``None`` if this try must start over.

    Airflow 3.1.0 resumes a *retry* with the previous try's event (apache/airflow#56704, fixed
    in 3.1.1); the event names the try that deferred, and such a retry starts over.

    :param task: The task that resumes.
    :param context: Its context.
    :param event: The trigger's event.
    :raises ApiframeJobTimeoutError: The trigger gave up waiting.
    :raises ApiframeError: The trigger failed, with its reason.
    """
    parsed = JobEvent.parse(event)
    if meant_for_another_try(task, context, parsed.deferred_on_try):
        return None
    if parsed.job is not None:
        return Job.model_validate(parsed.job)
    if parsed.status == "timeout":
        metrics.job_timed_out(getattr(task, "apiframe_conn_id", ""))
        raise ApiframeJobTimeoutError(parsed.message, job_id=parsed.job_id)
    raise ApiframeError(parsed.message)
