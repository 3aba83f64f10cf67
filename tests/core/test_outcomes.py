"""Job outcomes: terminal states, the task's result, its media files by the result rule."""

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
    result_media,
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
        # Every http(s) URL, wherever it is, in order, once each.
        ({"url": IMAGE_A}, [IMAGE_A]),
        ([IMAGE_A, IMAGE_B], [IMAGE_A, IMAGE_B]),
        ({"images": IMAGE_A}, [IMAGE_A]),
        ({"images": [{"url": IMAGE_B}, {"url": IMAGE_A}]}, [IMAGE_B, IMAGE_A]),
        ({"images": [IMAGE_A, None, "", 1, IMAGE_A]}, [IMAGE_A]),
        ({"grid": IMAGE_A, "images": [IMAGE_A, IMAGE_B]}, [IMAGE_A, IMAGE_B]),
    ],
)
def test_image_urls_from_any_shape(result: Any, urls: list[str]) -> None:
    job = make_job("COMPLETED", progress=100, result=result, expired=False)
    assert image_urls(job) == urls
    assert completed_result(job) == {
        "job_id": JOB_ID,
        "status": "COMPLETED",
        "model": "gpt-image-1.5",
        "media": [{"url": url, "kind": "image", "content_type": "image/png"} for url in urls],
        "images": urls,
        "videos": [],
        "audio": [],
        "credit_cost": 6,
        "progress": 100,
    }


@pytest.mark.parametrize(
    ("model", "result", "media"),
    [
        pytest.param(
            "kling-2.6",
            {"videos": ["https://cdn.test/j-1.mp4"]},
            [("https://cdn.test/j-1.mp4", "video", "video/mp4")],
            id="video-by-extension",
        ),
        pytest.param(
            "kling-2.6",
            {"video": {"url": "https://cdn.test/v?sig=1", "thumbnail": "https://cdn.test/t"}},
            [("https://cdn.test/v?sig=1", "video", None), ("https://cdn.test/t", "image", None)],
            id="video-by-key",
        ),
        pytest.param(
            "sora-2", "https://cdn.test/o", [("https://cdn.test/o", "video", None)], id="video-by-model"
        ),
        pytest.param(
            "suno",
            {"tracks": [
                {"id": "t1", "audio_url": "https://cdn.test/t1", "image_url": "https://cdn.test/c1.jpg"},
                {"id": "t2", "audio_url": "https://cdn.test/t2.mp3", "duration": 30.5},
            ]},
            [
                ("https://cdn.test/t1", "audio", None),
                ("https://cdn.test/c1.jpg", "image", "image/jpeg"),
                ("https://cdn.test/t2.mp3", "audio", "audio/mpeg"),
            ],
            id="suno-tracks",
        ),
        pytest.param(
            "suno",
            {"vocals": "https://cdn.test/v", "instrumental": "https://cdn.test/i.wav"},
            [("https://cdn.test/v", "audio", None), ("https://cdn.test/i.wav", "audio", "audio/wav")],
            id="stems",
        ),
        pytest.param(
            "elevenlabs-music", {"audio": ["https://cdn.test/a.m4a"]},
            [("https://cdn.test/a.m4a", "audio", "audio/mp4")], id="music",
        ),
    ],
)  # fmt: skip
def test_media_of_every_modality(model: str, result: Any, media: list[tuple[str, str, str | None]]) -> None:
    job = make_job("COMPLETED", model=model, result=result)
    found = result_media(job)
    assert [(m["url"], m["kind"], m["content_type"]) for m in found] == media
    summary = job_result(job)
    for key, kind in (("images", "image"), ("videos", "video"), ("audio", "audio")):
        assert summary[key] == [url for url, k, _ in media if k == kind]


@pytest.mark.parametrize(
    "result",
    [
        pytest.param(None, id="missing"),
        pytest.param("", id="empty-string"),
        pytest.param([], id="empty-list"),
        pytest.param({"images": []}, id="no-images"),
        pytest.param({"images": [1]}, id="int-item"),
        pytest.param({"images": [""]}, id="empty-item"),
        pytest.param({"images": ["ftp://cdn.test/a.png"]}, id="not-http"),
        pytest.param({"text": "a fox, in words"}, id="no-url"),
        pytest.param(42, id="int"),
    ],
)
def test_results_without_a_file_are_clear_errors(result: Any) -> None:
    job = make_job("COMPLETED", progress=100, result=result)
    for read in (image_urls, completed_result, result_media):
        with pytest.raises(ApiframeJobError) as exc_info:
            read(job)
        err = exc_info.value
        assert err.job_id == JOB_ID
        assert err.transient is False
        assert (
            f"Apiframe job {JOB_ID} is COMPLETED but its result has a shape this provider cannot read"
            in str(err)
        )
        assert "no http(s) URL of a file in it" in str(err)
        assert f"got {result!r}" in str(err)


def test_long_unreadable_result_is_shortened_in_the_message() -> None:
    job = make_job("COMPLETED", result={"text": "no link here " + "x" * 500})
    with pytest.raises(ApiframeJobError) as exc_info:
        image_urls(job)
    assert "got dict {'text': 'no link here xxx" in str(exc_info.value)
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
