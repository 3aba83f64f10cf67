"""
What a job means once the API has answered: when to look again, and what its outcome is.

Shared by the worker (``deferrable=False``) and the triggerer, so both wait and conclude alike.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

from airflow_provider_apiframe.core.errors import (
    ApiframeError,
    ApiframeJobError,
    ApiframeJobTimeoutError,
)
from airflow_provider_apiframe.core.models import Job, JobStatus

if TYPE_CHECKING:
    from airflow_provider_apiframe.core.retry import Logger

#: First wait between polls; the API's guidance for images is every 2-3 s.
FIRST_POLL_INTERVAL = 2.0
#: Each wait is this much longer than the last, up to the caller's cap.
POLL_GROWTH = 1.5
#: A new status is logged at once; a new progress of the same status at most this often.
PROGRESS_LOG_SECONDS = 30.0


class JobPoller:
    """
    Adaptive poll schedule for one job, with a wall-clock deadline.

    Waits start at :data:`FIRST_POLL_INTERVAL` and grow by :data:`POLL_GROWTH` up to
    ``max_interval``; the last wait is cut short so that one final poll happens at the deadline.
    A polling loop is then: get the job; ``wait = poller.after(job)``; stop if ``None``, else sleep.

    :param job_id: The job.
    :param timeout: Seconds from now until the wait times out.
    :param max_interval: Longest wait between two polls, in seconds.
    :param log: Where status changes are reported, and progress every
        :data:`PROGRESS_LOG_SECONDS` at most (thousands of jobs in a triggerer log what matters).
    """

    def __init__(self, job_id: str, *, timeout: float, max_interval: float, log: Logger):
        self.job_id = job_id
        self.deadline = time.time() + timeout
        self.max_interval = max(max_interval, 0.01)
        self.log = log
        self._interval = min(FIRST_POLL_INTERVAL, self.max_interval)
        self._seen: tuple[str, int | None] | None = None
        self._logged_at = -math.inf

    def first_wait(self, poll_now: bool) -> float:
        """
        Seconds to wait before the first poll.

        :param poll_now: Poll at once; ``False`` when the status was just read elsewhere.
        """
        return 0.0 if poll_now else self._next_wait()

    def after(self, job: Job) -> float | None:
        """
        Take in a poll's answer: ``None`` if the job has ended, else the seconds to wait.

        :param job: The job as just polled.
        :raises ApiframeJobTimeoutError: The deadline passed and the job is still running.
        """
        seen = (job.status, job.progress)
        now = time.time()
        new_status = self._seen is None or job.status != self._seen[0]
        progress_due = seen != self._seen and now - self._logged_at >= PROGRESS_LOG_SECONDS
        if new_status or progress_due:
            self._seen, self._logged_at = seen, now
            progress = "" if job.progress is None else f" ({job.progress}%)"
            self.log.info("Apiframe job %s is %s%s", job.id, job.status, progress)
        if is_terminal(job):
            return None
        if time.time() >= self.deadline:
            raise self._timeout(f"{job.status}, progress {job.progress}")
        return self._next_wait()

    def _next_wait(self) -> float:
        wait = max(min(self._interval, self.deadline - time.time()), 0.0)
        self._interval = min(self._interval * POLL_GROWTH, self.max_interval)
        return wait

    def failed(self, error: ApiframeError) -> ApiframeError:
        """
        The error a failed poll ends the wait with.

        The transports ride out transient errors until the deadline, so a transient error here
        means the deadline has come: it becomes a timeout. Permanent errors stay as they are.

        :param error: What the poll raised.
        """
        return self._timeout(f"error: {error}") if error.transient else error

    def _timeout(self, last_seen: str) -> ApiframeJobTimeoutError:
        return ApiframeJobTimeoutError(timeout_message(self.job_id, last_seen), job_id=self.job_id)


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
