"""The trigger that waits for an Apiframe job in the triggerer, holding no worker slot."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Literal

from airflow.triggers.base import BaseTrigger, TriggerEvent
from pydantic import BaseModel, ConfigDict, ValidationError

from airflow_provider_apiframe.core import clock
from airflow_provider_apiframe.core.errors import ApiframeError, ApiframeJobTimeoutError
from airflow_provider_apiframe.core.models import Job, JobStatus
from airflow_provider_apiframe.hooks.apiframe import ApiframeHook


class JobEvent(BaseModel):
    """
    The one event an :class:`ApiframeJobTrigger` fires.

    - ``success``: the job is COMPLETED; ``job`` holds it.
    - ``failed``: the job is FAILED or CANCELLED; ``job`` holds it, with the API's ``error``.
    - ``timeout``: the deadline passed first; ``message`` says how to pick the job up again.
    - ``error``: the API refused to answer (e.g. 401, 404); ``message`` is its error.

    ``deferred_on_try`` echoes the try that deferred, so that a task can tell an event meant for an
    earlier try (Airflow 3.1.0 hands a retry the previous try's event, apache/airflow#56704).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: Literal["success", "failed", "timeout", "error"]
    job_id: str
    message: str
    job: dict[str, Any] | None = None
    deferred_on_try: int | None = None

    @classmethod
    def parse(cls, event: Any) -> JobEvent:
        """
        Read the event a deferred task resumes with; ``None`` or an unknown shape is an error.

        :param event: The payload ``execute_complete`` received.
        """
        if event is None:
            raise ApiframeError("The Apiframe trigger resumed the task without an event.")
        try:
            parsed = cls.model_validate(event)
        except ValidationError:
            raise ApiframeError(
                f"The Apiframe trigger resumed the task with an unknown event: {event!r:.300}"
            ) from None
        if parsed.status in ("success", "failed") and parsed.job is None:
            raise ApiframeError(
                f"The Apiframe trigger's {parsed.status} event carries no job: {event!r:.300}"
            )
        return parsed

    @classmethod
    def for_job(cls, job: Job, deferred_on_try: int | None = None) -> JobEvent:
        """
        The event for a job that has ended.

        :param job: A job in a terminal status.
        :param deferred_on_try: The try that deferred.
        """
        completed = job.status == JobStatus.COMPLETED
        return cls(
            status="success" if completed else "failed",
            job_id=job.id,
            message=f"Apiframe job {job.id} ended {job.status}"
            + ("" if completed else f": {job.error or 'the API gave no reason'}"),
            job=job.model_dump(mode="json", by_alias=True),
            deferred_on_try=deferred_on_try,
        )


class ApiframeJobTrigger(BaseTrigger):
    """
    Poll an Apiframe job until it ends, then fire exactly one :class:`JobEvent`.

    Polls start every 2 s and slow down to ``poll_interval``; each new status is logged, the
    progress at most every 30 s; transient errors (429, 5xx, dropped connections) are ridden out
    until the deadline; permanent ones end the wait at once. Only the connection id, job id, poll
    interval, deadline and try number are serialized: the API key never leaves the connection.

    :param job_id: The job to wait for.
    :param apiframe_conn_id: The Apiframe connection.
    :param poll_interval: Longest wait between polls, in seconds.
    :param deadline: Wall-clock time (``time.time()``) at which a ``timeout`` event fires. Wall
        clock, not monotonic, because the trigger may resume in another triggerer process.
    :param deferred_on_try: The try that deferred; echoed in the event.
    """

    def __init__(
        self,
        job_id: str,
        *,
        deadline: float,
        apiframe_conn_id: str = ApiframeHook.default_conn_name,
        poll_interval: float = 5.0,
        deferred_on_try: int | None = None,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.job_id = job_id
        self.deadline = deadline
        self.apiframe_conn_id = apiframe_conn_id
        self.poll_interval = poll_interval
        self.deferred_on_try = deferred_on_try

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Return the classpath and the (secret-free) arguments that rebuild this trigger."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "job_id": self.job_id,
                "deadline": self.deadline,
                "apiframe_conn_id": self.apiframe_conn_id,
                "poll_interval": self.poll_interval,
                "deferred_on_try": self.deferred_on_try,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Wait for the job and yield its one event."""
        hook = ApiframeHook(apiframe_conn_id=self.apiframe_conn_id)
        try:
            job = await hook.await_for_job(
                self.job_id,
                timeout=self.deadline - clock.now(),
                poll_interval=self.poll_interval,
                poll_now=False,  # the job was just submitted (or read): the first poll waits
            )
            event = JobEvent.for_job(job, self.deferred_on_try)
        except ApiframeJobTimeoutError as exc:
            event = self._event("timeout", str(exc))
        except ApiframeError as exc:
            event = self._event("error", str(exc))
        except Exception as exc:  # e.g. a missing connection: still end with one clear event
            event = self._event("error", f"{type(exc).__name__}: {exc}")
        finally:
            await hook.aclose()
        if event.status != "success":  # a completed job's last status line said it all
            self.log.info("%s", event.message)
        yield TriggerEvent(event.model_dump(mode="json"))  # type: ignore[no-untyped-call]

    def _event(self, status: Literal["timeout", "error"], message: str) -> JobEvent:
        return JobEvent(
            status=status, job_id=self.job_id, message=message, deferred_on_try=self.deferred_on_try
        )
