"""The trigger that waits for every job of a batch, through the connection's shared job pages."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Literal

from airflow.triggers.base import BaseTrigger, TriggerEvent
from pydantic import BaseModel, ConfigDict, ValidationError

from airflow_provider_apiframe.core import calls, clock
from airflow_provider_apiframe.core.errors import ApiframeError
from airflow_provider_apiframe.core.models import Job, JobStatus
from airflow_provider_apiframe.core.outcomes import killed_message
from airflow_provider_apiframe.hooks.apiframe import ApiframeHook
from airflow_provider_apiframe.triggerer import tuning

if TYPE_CHECKING:
    from airflow_provider_apiframe.triggerer.pool import SharedConnection

#: Seconds between two progress lines.
PROGRESS_EVERY = 30.0
#: Jobs the pages do not show, read on their own each cycle at most (the rest wait for the next).
SINGLE_READS_PER_CYCLE = 100


class BatchEvent(BaseModel):
    """
    The one event an :class:`ApiframeBatchTrigger` fires: counts only, never the jobs.

    ``success``: every job ended; ``timeout``: the deadline passed first; ``error``: the API refused
    to answer (e.g. 401). ``deferred_on_try`` echoes the try that deferred (see
    :class:`~.base.WaitEvent`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: Literal["success", "timeout", "error"]
    message: str
    completed: int = 0
    failed: int = 0
    running: int = 0
    credits: float = 0.0
    deferred_on_try: int | None = None

    @classmethod
    def parse(cls, event: Any) -> BatchEvent:
        """
        Read the event a deferred batch resumes with.

        :param event: The payload ``execute_complete`` received.
        :raises ApiframeError: ``None`` or an unknown shape.
        """
        try:
            return cls.model_validate(event)
        except ValidationError:
            raise ApiframeError(
                f"The Apiframe batch trigger resumed the task with an unknown event: {event!r:.300}"
            ) from None


class _Tally:
    """What the batch's jobs came to so far."""

    def __init__(self, waiting: int):
        self.completed = self.failed = 0
        self.credits = 0.0
        self.running = waiting

    def ended(self, job: Job) -> None:
        self.running -= 1
        if job.status == JobStatus.COMPLETED:
            self.completed += 1
            self.credits += job.credit_cost or 0
        else:
            self.failed += 1

    def line(self) -> str:
        return (
            f"{self.completed} done, {self.failed} failed, {self.running} running, "
            f"{self.credits:g} credit(s) so far"
        )


class ApiframeBatchTrigger(BaseTrigger):
    """
    Wait for every job of a batch, then fire one :class:`BatchEvent`.

    The jobs are read from the connection's shared ``GET /v2/jobs`` pages
    (:mod:`~airflow_provider_apiframe.triggerer.watcher`: 100 jobs a call, shared with every other
    trigger of the connection in this triggerer); a job the pages do not show is read on its own.
    Progress (done, failed, running, credits so far) is logged every 30 s. Only the job ids, the
    connection id, the deadline and the try are serialized: never the API key.

    :param job_ids: The jobs to wait for.
    :param deadline: Wall-clock time (``time.time()``) at which a ``timeout`` event fires.
    :param apiframe_conn_id: The Apiframe connection.
    :param poll_interval: Seconds between two looks at the jobs.
    :param deferred_on_try: The try that deferred; echoed in the event.
    """

    def __init__(
        self,
        job_ids: list[str],
        *,
        deadline: float,
        apiframe_conn_id: str = ApiframeHook.default_conn_name,
        poll_interval: float = 5.0,
        deferred_on_try: int | None = None,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.job_ids = list(job_ids)
        self.deadline = deadline
        self.apiframe_conn_id = apiframe_conn_id
        self.poll_interval = poll_interval
        self.deferred_on_try = deferred_on_try

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Return the classpath and the (secret-free) arguments that rebuild this trigger."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "job_ids": self.job_ids,
                "deadline": self.deadline,
                "apiframe_conn_id": self.apiframe_conn_id,
                "poll_interval": self.poll_interval,
                "deferred_on_try": self.deferred_on_try,
            },
        )

    async def on_kill(self) -> None:
        """Airflow 3.3+, when a user marks the deferred task failed or clears it: say the jobs go on."""
        self.log.warning("%s", killed_message(self.job_ids))

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Wait for the jobs and yield the one event."""
        hook = ApiframeHook(apiframe_conn_id=self.apiframe_conn_id)
        tally = _Tally(len(set(self.job_ids)))
        try:
            await self._wait(await hook._ashared(), tally)
            status: Literal["success", "timeout", "error"] = "success" if tally.running == 0 else "timeout"
            message = f"Apiframe batch: {tally.line()}"
            if status == "timeout":
                message = f"{message}; the deadline passed. The jobs keep running at Apiframe."
        except Exception as exc:  # a refused key, a missing connection: still one clear event
            status = "error"
            message = str(exc) if isinstance(exc, ApiframeError) else f"{type(exc).__name__}: {exc}"
        finally:
            await hook.aclose()
        self.log.info("%s", message)
        event = BatchEvent(
            status=status,
            message=message,
            completed=tally.completed,
            failed=tally.failed,
            running=tally.running,
            credits=tally.credits,
            deferred_on_try=self.deferred_on_try,
        )
        yield TriggerEvent(event.model_dump(mode="json"))  # type: ignore[no-untyped-call]

    async def _wait(self, connection: SharedConnection, tally: _Tally) -> None:
        watcher, transport = connection.watcher, connection.transport
        with contextlib.ExitStack() as stack:
            leave: dict[str, contextlib.ExitStack] = {}
            sightings = {}
            for job_id in dict.fromkeys(self.job_ids):
                leave[job_id] = contextlib.ExitStack()
                sightings[job_id] = leave[job_id].enter_context(watcher.watch(job_id))
                stack.callback(leave[job_id].close)
            logged = clock.now()
            self.log.info("Apiframe batch: waiting for %d job(s)", tally.running)
            while sightings and clock.now() < self.deadline:
                await asyncio.sleep(max(min(self.poll_interval, self.deadline - clock.now()), 0))
                most = tuning.TUNING.misses_before_giving_up
                uncovered: list[str] = []
                for job_id, sighting in list(sightings.items()):
                    job = sighting.job
                    if job is not None and job.known_status is not None and job.known_status.is_terminal:
                        tally.ended(job)
                        del sightings[job_id]
                        leave.pop(job_id).close()
                    elif not watcher.batching or watcher.pages_failing or watcher.misses(job_id) >= most:
                        uncovered.append(job_id)
                for job in await self._read(transport, uncovered[:SINGLE_READS_PER_CYCLE]):
                    if job.known_status is not None and job.known_status.is_terminal and job.id in sightings:
                        tally.ended(job)
                        del sightings[job.id]
                        leave.pop(job.id).close()
                if clock.now() - logged >= PROGRESS_EVERY:
                    self.log.info("Apiframe batch: %s", tally.line())
                    logged = clock.now()

    async def _read(self, transport: Any, job_ids: list[str]) -> list[Job]:
        """Read jobs on their own (transient errors are ridden out until the next cycle)."""
        retry = transport.config.retry.capped_at(self.deadline)
        answers = await asyncio.gather(
            *(transport.send(calls.get_job(job_id), retry=retry, log=self.log) for job_id in job_ids),
            return_exceptions=True,
        )
        for answer in answers:
            if isinstance(answer, ApiframeError) and not answer.transient:
                raise answer
            if isinstance(answer, BaseException) and not isinstance(answer, ApiframeError):
                raise answer
        return [answer for answer in answers if isinstance(answer, Job)]
