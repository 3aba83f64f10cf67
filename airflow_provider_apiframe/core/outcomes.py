"""
What a job's outcome is: whether it has ended, the task's result, its image URLs, a timeout's words.

Shared by the worker (``deferrable=False``), the triggerer and the sensor, so all conclude alike.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_apiframe.core.errors import ApiframeJobError
from airflow_provider_apiframe.core.models import Job, JobStatus


def timeout_message(job_id: str, last_seen: str) -> str:
    """
    Explain a timed-out wait and how to pick the job up again.

    :param job_id: The job.
    :param last_seen: What was last known of the job.
    """
    return (
        f"Apiframe job {job_id} did not finish before the deadline (last seen: {last_seen}). "
        "It may still finish at Apiframe. To pick it up again, clear this task (a job operator's "
        "idempotency key re-attaches to the same job without a new charge), wait for it with "
        f"ApiframeJobSensor(job_id={job_id!r}), or read it with ApiframeHook().get_job({job_id!r})."
    )


def is_terminal(job: Job) -> bool:
    """
    Whether ``job`` has reached its end; an unknown status is an error, not a reason to wait forever.

    :param job: The job as polled.
    """
    status = job.known_status
    if status is None:
        raise ApiframeJobError(
            f"Apiframe job {job.id} has status {job.status!r}, which this provider does not know "
            f"(known: {', '.join(s.value for s in JobStatus)}). Upgrade airflow-provider-apiframe.",
            job_id=job.id,
        )
    return status.is_terminal


def job_result(job: Job) -> dict[str, Any]:
    """
    The small, JSON-serializable summary a task returns, for a job in any status.

    ``images`` lists the result URLs of a COMPLETED job (empty otherwise).

    :param job: The job.
    """
    return {
        "job_id": job.id,
        "status": job.status,
        "model": job.model,
        "images": image_urls(job) if job.status == JobStatus.COMPLETED else [],
        "credit_cost": job.credit_cost,
        "progress": job.progress,
    }


def completed_result(job: Job) -> dict[str, Any]:
    """
    The task's result for a terminal job, or the error that explains why there is none.

    :param job: A job in a terminal status.
    """
    if job.status == JobStatus.COMPLETED:
        return job_result(job)
    reason = job.error or "the API gave no reason"
    raise ApiframeJobError(f"Apiframe job {job.id} ended {job.status}: {reason}", job_id=job.id)


def image_urls(job: Job) -> list[str]:
    """
    The image URLs of a COMPLETED job, from either result shape the API has used.

    Current docs: ``{"images": [url, ...]}``; older docs and the SDK's fixtures: a single URL string.

    :param job: A COMPLETED job.
    """
    result = job.result
    if isinstance(result, str) and result:
        urls = [result]
    elif isinstance(result, dict) and isinstance(result.get("images"), list):
        urls = result["images"]
    else:
        urls = []
    if not urls or not all(isinstance(url, str) and url for url in urls):
        raise ApiframeJobError(
            f"Apiframe job {job.id} is COMPLETED but its result has a shape this provider cannot read "
            f"(expected a URL string or {{'images': [URL, ...]}}, got {_describe(result)}).",
            job_id=job.id,
        )
    if job.expired:
        raise ApiframeJobError(
            f"Apiframe job {job.id} is COMPLETED but its result files were purged (expired: true); "
            "the image URLs no longer resolve. Generate the images again.",
            job_id=job.id,
        )
    return list(urls)


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else f"{type(value).__name__} {text[:100]}..."
