"""The wait loop: the poll schedule (JobPoller), its steps, and the sync and async drivers."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from support import (
    ERRORS,
    IMAGE_A,
    JOB_ID,
    FakeClock,
    FakeLog,
    make_job,
)

from airflow_provider_apiframe.core.errors import ApiframeError, ApiframeJobTimeoutError
from airflow_provider_apiframe.core.models import Job
from airflow_provider_apiframe.core.waiting import (
    FIRST_POLL_INTERVAL,
    JobPoller,
    await_for_job,
    poll_steps,
    wait_for_job,
)


@pytest.mark.parametrize(
    ("timeout", "max_interval", "expected"),
    [
        (60.0, 5.0, [2.0, 3.0, 4.5, *[5.0] * 10, 0.5]),
        (10.0, 30.0, [2.0, 3.0, 4.5, 0.5]),
        (30.0, 30.0, [2.0, 3.0, 4.5, 6.75, 10.125, 3.625]),
        (5.0, 1.0, [1.0] * 5),
        (1.0, 5.0, [1.0]),
    ],
)
def test_poll_schedule(timeout: float, max_interval: float, expected: list[float], clock: FakeClock) -> None:
    start = clock.now
    poller = JobPoller(JOB_ID, timeout=timeout, max_interval=max_interval, log=FakeLog())
    waits: list[float] = []
    with pytest.raises(ApiframeJobTimeoutError) as exc_info:
        waits = _collect_waits(poller, make_job("PROCESSING", progress=40), clock, waits)
    assert waits == pytest.approx(expected)
    assert clock.now == pytest.approx(start + timeout)
    err = exc_info.value
    assert err.job_id == JOB_ID
    assert err.transient is False
    message = str(err)
    assert f"Apiframe job {JOB_ID} did not finish before the deadline" in message
    assert "last seen: PROCESSING, progress 40" in message
    assert "clear this task" in message
    assert f"ApiframeHook().get_job('{JOB_ID}')" in message


def _collect_waits(poller: JobPoller, job: Job, clock: FakeClock, waits: list[float]) -> list[float]:
    """Like ``_poll_until_done``, but keeps the waits in ``waits`` when the poller raises."""
    while len(waits) < 1000:
        wait = poller.after(job)
        if wait is None:
            return waits
        waits.append(wait)
        clock.now += wait
    raise AssertionError("the poller never stopped")


def test_first_wait_is_the_documented_interval(clock: FakeClock) -> None:
    assert FIRST_POLL_INTERVAL == 2.0
    poller = JobPoller(JOB_ID, timeout=600, max_interval=10, log=FakeLog())
    assert poller.after(make_job("QUEUED")) == 2.0


def test_zero_max_interval_still_waits_a_little(clock: FakeClock) -> None:
    poller = JobPoller(JOB_ID, timeout=600, max_interval=0, log=FakeLog())
    assert [poller.after(make_job("QUEUED")) for _ in range(3)] == [0.01, 0.01, 0.01]


@pytest.mark.parametrize("status", ["COMPLETED", "FAILED", "CANCELLED"])
def test_poller_stops_at_a_terminal_status_even_past_the_deadline(status: str, clock: FakeClock) -> None:
    poller = JobPoller(JOB_ID, timeout=10, max_interval=5, log=FakeLog())
    assert poller.after(make_job("PROCESSING")) == 2.0
    clock.now += 3600
    assert poller.after(make_job(status)) is None


def test_poller_timeout_with_unknown_progress(clock: FakeClock) -> None:
    poller = JobPoller(JOB_ID, timeout=0, max_interval=5, log=FakeLog())
    with pytest.raises(ApiframeJobTimeoutError, match="last seen: QUEUED, progress None"):
        poller.after(make_job("QUEUED"))


def test_poller_logs_each_new_status_and_progress_every_30_seconds(clock: FakeClock) -> None:
    log = FakeLog()
    poller = JobPoller(JOB_ID, timeout=600, max_interval=5, log=log)
    polls = [  # (seconds since the last poll, status, progress)
        (0, "QUEUED", None),
        (5, "QUEUED", None),
        (5, "PROCESSING", 0),  # a new status: logged at once
        (5, "PROCESSING", 10),  # 5 s after the last line: not yet
        (20, "PROCESSING", 40),  # 30 s after it: logged
        (5, "PROCESSING", 40),
        (25, "PROCESSING", 40),  # no change: nothing to say
        (5, "PROCESSING", 90),  # 35 s after the last line: logged
        (1, "COMPLETED", 100),  # a new status: logged at once
    ]
    for seconds, status, progress in polls:
        clock.now += seconds
        kwargs: dict[str, Any] = {"result": {"images": [IMAGE_A]}} if status == "COMPLETED" else {}
        poller.after(make_job(status, progress=progress, **kwargs))
    assert log.events == [
        ("info", f"Apiframe job {JOB_ID} is QUEUED"),
        ("info", f"Apiframe job {JOB_ID} is PROCESSING (0%)"),
        ("info", f"Apiframe job {JOB_ID} is PROCESSING (40%)"),
        ("info", f"Apiframe job {JOB_ID} is PROCESSING (90%)"),
        ("info", f"Apiframe job {JOB_ID} is COMPLETED (100%)"),
    ]


def test_poller_logs_through_a_real_logger(clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test_core.poller")
    poller = JobPoller(JOB_ID, timeout=600, max_interval=5, log=logger)
    with caplog.at_level(logging.INFO, logger="test_core.poller"):
        poller.after(make_job("PROCESSING", progress=10))
        poller.after(make_job("PROCESSING", progress=10))
    assert [r.getMessage() for r in caplog.records] == [f"Apiframe job {JOB_ID} is PROCESSING (10%)"]


@pytest.mark.parametrize("error", ["429", "503", "transport", "response"])
def test_failed_turns_transient_errors_into_timeouts(error: str, clock: FakeClock) -> None:
    poller = JobPoller(JOB_ID, timeout=60, max_interval=5, log=FakeLog())
    original = ERRORS[error]()
    result = poller.failed(original)
    assert isinstance(result, ApiframeJobTimeoutError)
    assert result.job_id == JOB_ID
    assert f"last seen: error: {original}" in str(result)
    assert f"ApiframeHook().get_job('{JOB_ID}')" in str(result)


@pytest.mark.parametrize("error", ["400", "401", "403", "404", "job-error"])
def test_failed_keeps_permanent_errors(error: str, clock: FakeClock) -> None:
    poller = JobPoller(JOB_ID, timeout=60, max_interval=5, log=FakeLog())
    original = ERRORS[error]()
    assert poller.failed(original) is original


# --- the wait loop and its two drivers -------------------------------------------------------------------


def _reads(*answers: Job | Exception) -> tuple[list[float], Any]:
    """A read of the job that plays ``answers`` in order (errors are raised); records the deadlines."""
    deadlines: list[float] = []
    queue = list(answers)

    def read(deadline: float) -> Job:
        deadlines.append(deadline)
        answer = queue.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return deadlines, read


def test_the_steps_are_the_poll_schedule(clock: FakeClock) -> None:
    poller = JobPoller(JOB_ID, timeout=600, max_interval=5, log=FakeLog())
    steps = poll_steps(poller, poll_now=False)
    assert next(steps) == 2.0
    assert steps.send(make_job("PROCESSING")) == 3.0
    with pytest.raises(StopIteration) as ended:
        steps.send(make_job("COMPLETED", result={"images": [IMAGE_A]}))
    assert ended.value.value.status == "COMPLETED"


def test_the_sync_driver_sleeps_on_the_clock_and_reads_until_the_deadline(clock: FakeClock) -> None:
    poller = JobPoller(JOB_ID, timeout=600, max_interval=5, log=FakeLog())
    done = make_job("COMPLETED", result={"images": [IMAGE_A]})
    deadlines, read = _reads(make_job("QUEUED"), make_job("PROCESSING"), done)

    assert wait_for_job(poller, read) is done
    assert clock.sleeps == [2.0, 3.0]
    assert deadlines == [poller.deadline] * 3


async def test_the_async_driver_waits_alike(clock: FakeClock) -> None:
    poller = JobPoller(JOB_ID, timeout=600, max_interval=5, log=FakeLog())
    done = make_job("COMPLETED", result={"images": [IMAGE_A]})
    _, read = _reads(make_job("QUEUED"), make_job("PROCESSING"), done)

    async def aread(deadline: float) -> Job:
        return read(deadline)

    assert await await_for_job(poller, aread, poll_now=False) is done
    assert clock.sleeps == [2.0, 3.0, 4.5]


async def test_a_job_learnt_while_waiting_is_not_read(clock: FakeClock) -> None:
    poller = JobPoller(JOB_ID, timeout=600, max_interval=5, log=FakeLog())
    done = make_job("COMPLETED", result={"images": [IMAGE_A]})
    looked: list[tuple[float, float]] = []

    async def look(wait: float, deadline: float) -> Job | None:
        looked.append((wait, deadline))
        return done

    async def aread(deadline: float) -> Job:
        raise AssertionError("read although the job was known")

    assert await await_for_job(poller, aread, look=look) is done
    assert looked == [(0.0, poller.deadline)]


@pytest.mark.parametrize(("error", "raised"), [("503", ApiframeJobTimeoutError), ("404", ApiframeError)])
def test_a_failed_read_ends_the_wait_as_the_poller_says(
    error: str, raised: type[ApiframeError], clock: FakeClock
) -> None:
    poller = JobPoller(JOB_ID, timeout=600, max_interval=5, log=FakeLog())
    original = ERRORS[error]()
    _, read = _reads(make_job("QUEUED"), original)

    with pytest.raises(raised) as info:
        wait_for_job(poller, read)

    assert isinstance(info.value, raised)
    assert (info.value is original) == (error == "404")
    assert info.value.__suppress_context__
