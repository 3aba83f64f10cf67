"""The trigger that waits for an Apiframe job in the triggerer, holding no worker slot."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_apiframe.core import clock
from airflow_provider_apiframe.core.models import Job, JobStatus
from airflow_provider_apiframe.hooks.apiframe import ApiframeHook
from airflow_provider_apiframe.triggers.base import WaitEvent, WaitTrigger

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from airflow_provider_apiframe.triggers.base import Waiting


class JobEvent(WaitEvent):
    """
    The one event an :class:`ApiframeJobTrigger` fires (see :class:`~.base.WaitEvent`).

    ``success``: the job is COMPLETED; ``failed``: it is FAILED or CANCELLED; ``job`` holds it.
    """

    noun = "job"
    source = "trigger"

    job_id: str
    job: dict[str, Any] | None = None

    @classmethod
    def for_job(cls, job: Job, deferred_on_try: int | None = None) -> JobEvent:
        """
        The event for a job that has ended.

        :param job: A job in a terminal status.
        :param deferred_on_try: The try that deferred.
        """
        return cls.ended(job, job.status == JobStatus.COMPLETED, deferred_on_try)


class ApiframeJobTrigger(WaitTrigger):
    """
    Poll an Apiframe job until it ends, then fire exactly one :class:`JobEvent`.

    Polls start every 2 s and slow down to ``poll_interval`` (5 s by default); each new status is
    logged, the progress at most every 30 s; transient errors (429, 5xx, dropped connections) are
    ridden out until the deadline; permanent ones end the wait at once.

    :param job_id: The job to wait for.
    :param kwargs: ``deadline``, ``apiframe_conn_id``, ``poll_interval``, ``deferred_on_try``
        (see :class:`~.base.WaitTrigger`).
    """

    event_type = JobEvent
    default_poll_interval = 5.0
    job_id: str

    def __init__(self, job_id: str, **kwargs: Unpack[Waiting]) -> None:
        super().__init__(job_id, **kwargs)

    async def wait(self, hook: ApiframeHook) -> JobEvent:
        """
        Wait for the job to end.

        :param hook: The hook to poll with.
        """
        job = await hook.await_for_job(
            self.job_id,
            timeout=self.deadline - clock.now(),
            poll_interval=self.poll_interval,
            poll_now=False,  # the job was just submitted (or read): the first poll waits
        )
        return JobEvent.for_job(job, self.deferred_on_try)
