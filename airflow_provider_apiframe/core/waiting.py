"""
The one wait loop for a job, sync or async: its schedule, its steps, and the two drivers that run them.

- :class:`JobPoller`: when to poll next (2 s, growing by half up to the caller's cap, one last poll
  at the deadline), what to log, and what a failed poll ends the wait with.
- :func:`poll_steps`: the loop itself, as a generator of waits that is sent each job read.
- :func:`wait_for_job` (workers) and :func:`await_for_job` (triggers) drive the steps: they wait,
  read the job and send it in; how they wait and read is the caller's (the hook's).

Time is read, and the sync and plain async waits are slept, on :mod:`~airflow_provider_apiframe.core.clock`.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Generator
from typing import TYPE_CHECKING

from airflow_provider_apiframe.core import clock
from airflow_provider_apiframe.core.errors import ApiframeError, ApiframeJobTimeoutError
from airflow_provider_apiframe.core.outcomes import is_terminal, timeout_message

if TYPE_CHECKING:
    from airflow_provider_apiframe.core.models import Job
    from airflow_provider_apiframe.core.retry import Logger

#: Reads the job, riding out transient errors until the given wall-clock deadline.
Read = Callable[[float], "Job"]
#: :data:`Read` without blocking the event loop.
AsyncRead = Callable[[float], Awaitable["Job"]]
#: Waits the given seconds before a poll (ending early if it can tell the job's news), up to the
#: given deadline; returns the job if it learnt it meanwhile, else ``None`` (then it is read).
Look = Callable[[float, float], Awaitable["Job | None"]]

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
    :func:`poll_steps` turns it into the wait loop's steps.

    :param job_id: The job.
    :param timeout: Seconds from now until the wait times out.
    :param max_interval: Longest wait between two polls, in seconds.
    :param log: Where status changes are reported, and progress every
        :data:`PROGRESS_LOG_SECONDS` at most (thousands of jobs in a triggerer log what matters).
    """

    def __init__(self, job_id: str, *, timeout: float, max_interval: float, log: Logger):
        self.job_id = job_id
        self.deadline = clock.now() + timeout
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
        now = clock.now()
        new_status = self._seen is None or job.status != self._seen[0]
        progress_due = seen != self._seen and now - self._logged_at >= PROGRESS_LOG_SECONDS
        if new_status or progress_due:
            self._seen, self._logged_at = seen, now
            progress = "" if job.progress is None else f" ({job.progress}%)"
            self.log.info("Apiframe job %s is %s%s", job.id, job.status, progress)
        if is_terminal(job):
            return None
        if clock.now() >= self.deadline:
            raise self._timeout(f"{job.status}, progress {job.progress}")
        return self._next_wait()

    def _next_wait(self) -> float:
        wait = max(min(self._interval, self.deadline - clock.now()), 0.0)
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


def poll_steps(poller: JobPoller, poll_now: bool = True) -> Generator[float, Job, Job]:
    """
    The wait loop: yield the seconds to wait before each poll, take in the job it read, end with it.

    A driver sends the job each poll read (or throws in the :class:`ApiframeError` the poll
    raised, which ends the loop as :meth:`JobPoller.failed` says); the loop returns the job once it
    has ended, and raises :class:`ApiframeJobTimeoutError` once the deadline has passed.

    :param poller: The job's poll schedule.
    :param poll_now: ``False`` when the status was just read: the first poll waits.
    """
    wait = poller.first_wait(poll_now)
    while True:
        try:
            job = yield wait
        except ApiframeError as exc:
            raise poller.failed(exc) from None
        next_wait = poller.after(job)
        if next_wait is None:
            return job
        wait = next_wait


def wait_for_job(poller: JobPoller, read: Read, *, poll_now: bool = True) -> Job:
    """
    Run the wait loop in this thread, sleeping on the clock between polls; for workers.

    :param poller: The job's poll schedule.
    :param read: Reads the job, riding out transient errors until the deadline it is given.
    :param poll_now: ``False`` when the status was just read: the first poll waits.
    """
    steps = poll_steps(poller, poll_now)
    wait = next(steps)
    while True:
        if wait:
            clock.current().sleep(wait)
        try:
            job = read(poller.deadline)
        except ApiframeError as exc:
            wait = steps.throw(exc)  # raises: the loop says what the error ends the wait with
            continue
        next_wait = _advance(steps, job)
        if next_wait is None:
            return job
        wait = next_wait


async def await_for_job(
    poller: JobPoller, read: AsyncRead, *, look: Look | None = None, poll_now: bool = True
) -> Job:
    """
    Run the wait loop without blocking the event loop; for triggers.

    :param poller: The job's poll schedule.
    :param read: Reads the job, riding out transient errors until the deadline it is given.
    :param look: Waits before a poll and may learn the job meanwhile (the triggerer's job watcher);
        by default a plain wait on the clock.
    :param poll_now: ``False`` when the status was just read: the first poll waits.
    """
    steps = poll_steps(poller, poll_now)
    wait = next(steps)
    while True:
        job = await (look or _just_wait)(wait, poller.deadline)
        if job is None:
            try:
                job = await read(poller.deadline)
            except ApiframeError as exc:
                wait = steps.throw(exc)  # raises, as in wait_for_job
                continue
        next_wait = _advance(steps, job)
        if next_wait is None:
            return job
        wait = next_wait


def _advance(steps: Generator[float, Job, Job], job: Job) -> float | None:
    """Send the job just read into the loop: the next wait, or ``None`` once the loop ended with it."""
    try:
        return steps.send(job)
    except StopIteration:
        return None


async def _just_wait(wait: float, deadline: float) -> None:
    """Wait ``wait`` seconds on the clock; the job is then read (a :data:`Look` without news)."""
    if wait:
        await clock.current().asleep(wait)
