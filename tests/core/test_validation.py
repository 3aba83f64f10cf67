"""The checks made before any HTTP call and their wording: the problems collector, durations, inputs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from airflow_provider_apiframe.core.errors import ApiframeConfigError, ApiframeInvalidParamsError
from airflow_provider_apiframe.core.media import (
    check_input_location,
    check_input_size,
    check_input_type,
    unreadable_input,
)
from airflow_provider_apiframe.core.models import GptImageParams
from airflow_provider_apiframe.core.validation import (
    Problems,
    check_base_url,
    check_duration,
    check_job_id,
    validate_request,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 8


def test_problems_are_raised_together_in_the_order_found() -> None:
    problems = Problems()
    assert not problems
    problems.add("prompt", "missing")
    with problems.collect(prefix="model_params."):
        raise ApiframeInvalidParamsError([("quality", "got 'ultra'"), ("background", "got 'green'")])
    with problems.collect():
        check_job_id("not-a-job")
    assert problems
    with pytest.raises(ApiframeInvalidParamsError) as info:
        problems.raise_if_any()
    assert info.value.problems == [
        ("prompt", "missing"),
        ("model_params.quality", "got 'ultra'"),
        ("model_params.background", "got 'green'"),
        ("job_id", "got 'not-a-job'; allowed: a job id (a UUID)"),
    ]


def test_no_problem_raises_nothing() -> None:
    Problems().raise_if_any()


def test_other_errors_are_not_collected() -> None:
    problems = Problems()
    with pytest.raises(KeyError), problems.collect():
        raise KeyError("not a parameter")
    assert not problems


def test_validate_request_names_every_bad_field_with_what_is_allowed() -> None:
    with pytest.raises(ApiframeInvalidParamsError) as info:
        validate_request(GptImageParams, {"quality": "ultra", "number_of_images": 11, "seed": 1})
    assert info.value.problems == [
        ("quality", "got 'ultra'; allowed: one of 'low', 'medium', 'high', 'auto'"),
        ("number_of_images", "got 11; allowed: an integer from 1 to 10"),
        (
            "seed",
            "unknown parameter; allowed: aspect_ratio, background, input_fidelity, input_images, "
            "number_of_images, output_format, quality",
        ),
    ]
    assert info.value.__suppress_context__ or info.value.__context__ is None


@pytest.mark.parametrize(
    ("value", "seconds"), [(5, 5.0), (0.5, 0.5), (timedelta(minutes=2), 120.0)], ids=["int", "float", "delta"]
)
def test_durations_in_seconds(value: Any, seconds: float) -> None:
    assert check_duration("timeout", value) == seconds


@pytest.mark.parametrize("value", [0, -1, float("inf"), float("nan"), True, "5", None, timedelta(0)])
def test_bad_durations_name_the_argument(value: Any) -> None:
    with pytest.raises(ValueError, match=r"^poll_interval must be a positive, finite number of seconds"):
        check_duration("poll_interval", value)


def test_input_checks_word_what_is_allowed() -> None:
    allowed = "allowed: an http:// or https:// URL, a local path or an ObjectStoragePath"
    with pytest.raises(ValueError, match=f"^got int; {allowed}$"):
        check_input_location(3, is_path=False)
    with pytest.raises(ValueError, match=f"^got an empty string; {allowed}$"):
        check_input_location("  ", is_path=True)
    check_input_location("a.png", is_path=True)
    with pytest.raises(
        ValueError, match=r"^got 'big.png': 25.0 MB; the API takes input images of at most 25 MB$"
    ):
        check_input_size("big.png", 25 * 2**20 + 1)
    check_input_size("ok.png", 25 * 2**20)
    assert check_input_type("a.png", PNG) == "image/png"
    with pytest.raises(ValueError, match=r"^got 'a.txt', which is not a PNG, JPEG, WebP or GIF image$"):
        check_input_type("a.txt", b"hello")
    assert (
        str(unreadable_input("gone.png"))
        == f"got 'gone.png', which does not exist or is not a file; {allowed}"
    )
    assert str(unreadable_input("x.png", OSError("denied"))) == f"got 'x.png' (denied); {allowed}"


def test_base_url_check_keeps_credentials_out_of_the_message() -> None:
    assert check_base_url("127.0.0.1", 8080).geturl() == "https://127.0.0.1:8080"
    with pytest.raises(ApiframeConfigError) as info:
        check_base_url("https://user:secret@api.example.com")
    assert "secret" not in str(info.value)
    assert "<a URL with credentials>" in str(info.value)
