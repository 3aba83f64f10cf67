"""errors.error_from_response: every status, body and header the API can send."""

from __future__ import annotations

import email.utils
import json
from typing import Any

import pytest
from support import (
    REQUEST_ID,
    FakeClock,
    http_error,
)

from airflow_provider_apiframe.core.errors import (
    ApiframeAuthenticationError,
    ApiframeBadRequestError,
    ApiframeConfigError,
    ApiframeConflictError,
    ApiframeError,
    ApiframeHTTPError,
    ApiframeInsufficientCreditsError,
    ApiframeInvalidParamsError,
    ApiframeJobError,
    ApiframeJobTimeoutError,
    ApiframeNotFoundError,
    ApiframePermissionError,
    ApiframeRateLimitError,
    ApiframeResponseError,
    ApiframeServerError,
    ApiframeTransportError,
    error_from_response,
)


@pytest.mark.parametrize(
    ("status", "cls", "transient"),
    [
        (400, ApiframeBadRequestError, False),
        (401, ApiframeAuthenticationError, False),
        (402, ApiframeInsufficientCreditsError, False),
        (403, ApiframePermissionError, False),
        (404, ApiframeNotFoundError, False),
        (409, ApiframeConflictError, False),
        (429, ApiframeRateLimitError, True),
        (500, ApiframeServerError, True),
        (502, ApiframeServerError, True),
        (503, ApiframeServerError, True),
        (504, ApiframeServerError, True),
        (599, ApiframeServerError, True),
        (418, ApiframeHTTPError, False),
        (422, ApiframeHTTPError, False),
    ],
)
def test_error_from_response_maps_status_to_class(status: int, cls: type, transient: bool) -> None:
    body = {"error": "The API's own words about it"}
    err = error_from_response(
        status,
        {"X-Request-ID": REQUEST_ID, "Content-Type": "application/json"},
        json.dumps(body).encode(),
        what="POST /v2/images/generate",
    )
    assert type(err) is cls
    assert isinstance(err, ApiframeError)
    assert err.transient is transient
    assert err.status_code == status
    assert err.request_id == REQUEST_ID
    assert err.body == body
    assert (
        err.message
        == f"Apiframe POST /v2/images/generate failed with HTTP {status}: The API's own words about it"
    )
    assert str(err) == f"{err.message} [request id {REQUEST_ID}]"


def test_error_without_request_id_has_none_and_no_placeholder() -> None:
    err = error_from_response(404, {}, b'{"error": "Job not found"}', what="GET /v2/jobs/x")
    assert err.request_id is None
    assert str(err) == "Apiframe GET /v2/jobs/x failed with HTTP 404: Job not found"


@pytest.mark.parametrize(
    ("cls", "transient"),
    [
        (ApiframeError, False),
        (ApiframeInvalidParamsError, False),
        (ApiframeConfigError, False),
        (ApiframeHTTPError, False),
        (ApiframeBadRequestError, False),
        (ApiframeAuthenticationError, False),
        (ApiframeInsufficientCreditsError, False),
        (ApiframePermissionError, False),
        (ApiframeNotFoundError, False),
        (ApiframeConflictError, False),
        (ApiframeRateLimitError, True),
        (ApiframeServerError, True),
        (ApiframeTransportError, True),
        (ApiframeResponseError, True),
        (ApiframeJobError, False),
        (ApiframeJobTimeoutError, False),
    ],
)
def test_transient_flag_of_every_class(cls: type[ApiframeError], transient: bool) -> None:
    assert cls.transient is transient


def test_bad_request_lists_details_per_json_path(contract: Any) -> None:
    body = {
        "error": "Validation failed",
        "details": {
            "gptImageParams.number_of_images": ["Number must be less than or equal to 10"],
            "prompt": ["String must contain at least 1 character(s)", "Required"],
        },
    }
    assert contract.errors("ValidationError", body) == []
    err = http_error(400, body)
    assert isinstance(err, ApiframeBadRequestError)
    assert err.details == body["details"]
    assert str(err).splitlines() == [
        "Apiframe GET /v2/jobs/abc failed with HTTP 400: Validation failed",
        "  - gptImageParams.number_of_images: Number must be less than or equal to 10",
        f"  - prompt: String must contain at least 1 character(s); Required [request id {REQUEST_ID}]",
    ]


@pytest.mark.parametrize(
    ("details", "expected"),
    [
        (None, {}),
        ("not a mapping", {}),
        ({}, {}),
        ({"prompt": "a single message"}, {"prompt": ["a single message"]}),
        (
            {"gptImageParams.input_images.0": ["Invalid url", 3]},
            {"gptImageParams.input_images.0": ["Invalid url", "3"]},
        ),
    ],
)
def test_bad_request_details_property_tolerates_odd_shapes(details: Any, expected: dict[str, Any]) -> None:
    body: dict[str, Any] = {"error": "Validation failed"}
    if details is not None:
        body["details"] = details
    err = http_error(400, body)
    assert isinstance(err, ApiframeBadRequestError)
    assert err.details == expected
    assert ("\n  - " in str(err)) is bool(expected)


def test_bad_request_details_empty_for_non_json_body() -> None:
    err = http_error(400, raw=b"Bad Request")
    assert isinstance(err, ApiframeBadRequestError)
    assert err.details == {}
    assert "HTTP 400: Bad Request" in str(err)


def test_insufficient_credits_reports_required_and_available(contract: Any) -> None:
    body = {"error": "Insufficient credits", "creditsRequired": 40, "creditsAvailable": 12}
    assert contract.errors("InsufficientCredits", body) == []
    err = http_error(402, body)
    assert isinstance(err, ApiframeInsufficientCreditsError)
    assert err.credits_required == 40
    assert err.credits_available == 12
    assert "HTTP 402: Insufficient credits (credits required: 40, available: 12)" in str(err)
    assert REQUEST_ID in str(err)


@pytest.mark.parametrize(
    "body",
    [
        {"error": "Insufficient credits"},
        {"error": "Insufficient credits", "creditsRequired": "40", "creditsAvailable": True},
    ],
)
def test_insufficient_credits_without_usable_numbers(body: dict[str, Any]) -> None:
    err = http_error(402, body)
    assert isinstance(err, ApiframeInsufficientCreditsError)
    assert err.credits_required is None
    assert err.credits_available is None
    assert "credits required" not in str(err)


@pytest.mark.parametrize(
    ("header", "value", "expected"),
    [
        ("Retry-After", "7", 7.0),
        ("retry-after", "7", 7.0),
        ("RETRY-AFTER", "2.5", 2.5),
        ("Retry-After", "0", 0.0),
        ("Retry-After", "-3", 0.0),
        ("Retry-After", "1e12", 24 * 3600.0),
        ("Retry-After", "nan", None),
        ("Retry-After", "inf", None),
        ("Retry-After", "soon", None),
        ("Retry-After", "", None),
        ("Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # a date in the past: come back now
    ],
)
def test_rate_limit_retry_after_seconds(header: str, value: str, expected: float | None) -> None:
    err = http_error(429, {"error": "Too many requests"}, {header: value})
    assert isinstance(err, ApiframeRateLimitError)
    assert err.retry_after == expected
    assert err.transient is True
    assert "HTTP 429: Too many requests" in str(err)
    assert REQUEST_ID in str(err)
    if expected is None:
        assert "Retry-After" not in str(err)
    else:
        assert f"(Retry-After: {expected:g} s)" in str(err)


def test_rate_limit_without_retry_after() -> None:
    err = http_error(429, {"error": "Too many requests"})
    assert isinstance(err, ApiframeRateLimitError)
    assert err.retry_after is None
    assert "Retry-After" not in str(err)


def test_rate_limit_retry_after_as_http_date(clock: FakeClock) -> None:
    now = clock.now = 1_790_000_000.0
    date = email.utils.formatdate(now + 120, usegmt=True)
    err = http_error(429, {"error": "Slow down"}, {"Retry-After": date})
    assert isinstance(err, ApiframeRateLimitError)
    assert err.retry_after == pytest.approx(120.0)
    assert "(Retry-After: 120 s)" in str(err)


@pytest.mark.parametrize(
    ("status", "content", "text"),
    [
        (502, b"<html><body>502 Bad Gateway</body></html>", "<html><body>502 Bad Gateway</body></html>"),
        (503, b"", "(empty body)"),
        (503, b"   \n", "(empty body)"),
        (401, b'{"message": "no error field"}', '{"message": "no error field"}'),
        (404, b'{"error": ""}', '{"error": ""}'),
        (403, b'{"error": 42}', '{"error": 42}'),
        (500, b'["a", "list"]', '["a", "list"]'),
        (500, b"\xff\xfe broken bytes", "\ufffd\ufffd broken bytes"),
    ],
)
def test_error_from_non_json_or_unexpected_bodies(status: int, content: bytes, text: str) -> None:
    err = error_from_response(status, {"x-request-id": REQUEST_ID}, content, what="GET /v2/me")
    assert err.status_code == status
    assert err.message == f"Apiframe GET /v2/me failed with HTTP {status}: {text}"
    assert REQUEST_ID in str(err)


def test_error_from_long_non_json_body_is_truncated() -> None:
    err = error_from_response(502, {}, b"x" * 5000, what="GET /v2/me")
    assert isinstance(err, ApiframeServerError)
    assert err.body is None
    assert err.message.endswith(": " + "x" * 200)
