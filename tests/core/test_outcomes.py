"""Job outcomes: terminal states, the task's result, image URLs."""

from __future__ import annotations

from typing import Any

import pytest
from support import (
    IMAGE_A,
    IMAGE_B,
    JOB_ID,
    FakeClock,
    FakeLog,
    make_job,
)

from airflow_provider_apiframe.core.errors import ApiframeJobError
from airflow_provider_apiframe.core.outcomes import (
    completed_result,
    image_urls,
    is_terminal,
    job_result,
)
from airflow_provider_apiframe.core.waiting import JobPoller


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
