"""Jobs: the poll schedule, terminal states and results."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from support import (
    ERRORS,
    IMAGE_A,
    IMAGE_B,
    JOB_ID,
    FakeClock,
    FakeLog,
    make_job,
)

from airflow_provider_apiframe.core.errors import (
    ApiframeJobError,
    ApiframeJobTimeoutError,
)
from airflow_provider_apiframe.core.jobs import (
    FIRST_POLL_INTERVAL,
    JobPoller,
    completed_result,
    image_urls,
    is_terminal,
    job_result,
)
from airflow_provider_apiframe.core.models import Job


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


@pytest.mark.parametrize(
    ("status", "terminal"),
    [("QUEUED", False), ("PROCESSING", False), ("COMPLETED", True), ("FAILED", True), ("CANCELLED", True)],
)
def test_is_terminal(status: str, terminal: bool) -> None:
    assert is_terminal(make_job(status)) is terminal


@pytest.mark.parametrize("status", ["ARCHIVED", "completed", "", "RUNNING"])
def test_unknown_status_is_an_error_naming_it(status: str, clock: FakeClock) -> None:
    job = make_job(status)
    with pytest.raises(ApiframeJobError) as exc_info:
        is_terminal(job)
    assert exc_info.value.job_id == JOB_ID
    assert f"Apiframe job {JOB_ID} has status {status!r}, which this provider does not know" in str(
        exc_info.value
    )
    assert "QUEUED, PROCESSING, COMPLETED, FAILED, CANCELLED" in str(exc_info.value)
    poller = JobPoller(JOB_ID, timeout=60, max_interval=5, log=FakeLog())
    with pytest.raises(ApiframeJobError, match=f"status {status!r}"):
        poller.after(job)


@pytest.mark.parametrize(
    ("result", "urls"),
    [
        (IMAGE_A, [IMAGE_A]),
        ({"images": [IMAGE_A]}, [IMAGE_A]),
        ({"images": [IMAGE_A, IMAGE_B]}, [IMAGE_A, IMAGE_B]),
        ({"images": [IMAGE_A], "seed": 42}, [IMAGE_A]),
    ],
)
def test_image_urls_from_either_shape(result: Any, urls: list[str]) -> None:
    job = make_job("COMPLETED", progress=100, result=result, expired=False)
    assert image_urls(job) == urls
    assert completed_result(job) == {
        "job_id": JOB_ID,
        "status": "COMPLETED",
        "model": "gpt-image-1.5",
        "images": urls,
        "credit_cost": 6,
        "progress": 100,
    }


@pytest.mark.parametrize(
    "result",
    [
        pytest.param(None, id="missing"),
        pytest.param("", id="empty-string"),
        pytest.param({"url": IMAGE_A}, id="url-key"),
        pytest.param([], id="empty-list"),
        pytest.param([IMAGE_A], id="bare-list"),
        pytest.param({"images": []}, id="no-images"),
        pytest.param({"images": IMAGE_A}, id="images-string"),
        pytest.param({"images": [1]}, id="int-item"),
        pytest.param({"images": [IMAGE_A, None]}, id="none-item"),
        pytest.param({"images": [""]}, id="empty-item"),
        pytest.param({"images": [{"url": IMAGE_A}]}, id="dict-item"),
        pytest.param(42, id="int"),
    ],
)
def test_unreadable_result_shapes_are_clear_errors(result: Any) -> None:
    job = make_job("COMPLETED", progress=100, result=result)
    for read in (image_urls, completed_result):
        with pytest.raises(ApiframeJobError) as exc_info:
            read(job)
        err = exc_info.value
        assert err.job_id == JOB_ID
        assert err.transient is False
        assert (
            f"Apiframe job {JOB_ID} is COMPLETED but its result has a shape this provider cannot read"
            in str(err)
        )
        assert "expected a URL string or {'images': [URL, ...]}" in str(err)
        assert f"got {result!r}" in str(err)


def test_long_unreadable_result_is_shortened_in_the_message() -> None:
    job = make_job("COMPLETED", result={"url": "https://cdn.example.com/" + "x" * 500})
    with pytest.raises(ApiframeJobError) as exc_info:
        image_urls(job)
    assert "got dict {'url': 'https://cdn.example.com/" in str(exc_info.value)
    assert "x" * 200 not in str(exc_info.value)


@pytest.mark.parametrize("result", [IMAGE_A, {"images": [IMAGE_A, IMAGE_B]}])
def test_expired_result_says_purged(result: Any) -> None:
    job = make_job("COMPLETED", progress=100, result=result, expired=True)
    for read in (image_urls, completed_result):
        with pytest.raises(ApiframeJobError, match="purged") as exc_info:
            read(job)
        assert exc_info.value.job_id == JOB_ID
        assert "expired: true" in str(exc_info.value)


@pytest.mark.parametrize(
    ("status", "error", "reason"),
    [
        (
            "FAILED",
            "Your request was rejected by the safety system.",
            "Your request was rejected by the safety system.",
        ),
        ("FAILED", None, "the API gave no reason"),
        ("CANCELLED", "Cancelled by an administrator", "Cancelled by an administrator"),
        ("CANCELLED", None, "the API gave no reason"),
    ],
)
def test_failed_and_cancelled_jobs_raise_with_the_api_text(
    status: str, error: str | None, reason: str
) -> None:
    job = make_job(status, error=error)
    with pytest.raises(ApiframeJobError) as exc_info:
        completed_result(job)
    err = exc_info.value
    assert type(err) is ApiframeJobError
    assert err.job_id == JOB_ID
    assert str(err) == f"Apiframe job {JOB_ID} ended {status}: {reason}"


@pytest.mark.parametrize("status", ["QUEUED", "PROCESSING", "FAILED", "CANCELLED"])
def test_job_result_of_unfinished_or_failed_job_has_no_images(status: str) -> None:
    summary = job_result(make_job(status, progress=30))
    assert summary["images"] == []
    assert (summary["job_id"], summary["status"], summary["progress"]) == (JOB_ID, status, 30)
