"""Unit tests of the protocol core: errors, retry policy, request models, calls, config, keys, jobs."""

from __future__ import annotations

import dataclasses
import email.utils
import itertools
import json
import logging
import types
from typing import Any

import pytest
import tenacity

from airflow_provider_apiframe.core import errors as errors_module
from airflow_provider_apiframe.core import jobs as jobs_module
from airflow_provider_apiframe.core import retry as retry_module
from airflow_provider_apiframe.core.calls import ApiCall, generate_gpt_image, get_job, get_me, list_jobs
from airflow_provider_apiframe.core.config import (
    DEFAULT_BASE_URL,
    ClientConfig,
    base_url,
    client_config,
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
from airflow_provider_apiframe.core.idempotency import MAX_KEY_LENGTH, derive_key, nth_key
from airflow_provider_apiframe.core.jobs import (
    FIRST_POLL_INTERVAL,
    JobPoller,
    completed_result,
    image_urls,
    is_terminal,
    job_result,
)
from airflow_provider_apiframe.core.models import GPT_IMAGE_MODEL, Job, JobAccepted, JobList, Me
from airflow_provider_apiframe.core.retry import RetryPolicy

# Captured at import, before the autouse ``retry_waits`` fixture swaps in its recording wrapper.
ASKED_WAIT = RetryPolicy.wait_seconds

JOB_ID = "0b7c1e52-4a7e-4a43-9d35-6f1d2c3b4a5e"
OTHER_JOB_ID = "5d0f3a1c-9b8e-4c7d-8e6f-1a2b3c4d5e6f"
REQUEST_ID = "req-7f3a9c"
API_KEY = "afk_live_S3cr3tK3yThatMustNeverLeak"
IMAGE_A = "https://cdn.apiframe.ai/jobs/0b7c1e52-1.png"
IMAGE_B = "https://cdn.apiframe.ai/jobs/0b7c1e52-2.png"


# --- helpers ---------------------------------------------------------------------------------------


class FakeLog:
    """A ``Logger`` that keeps what it was told, formatted, in order (optionally in a shared list)."""

    def __init__(self, events: list[tuple[str, Any]] | None = None):
        self.events = events if events is not None else []

    def info(self, msg: str, /, *args: Any) -> None:
        self.events.append(("info", msg % args))

    def warning(self, msg: str, /, *args: Any) -> None:
        self.events.append(("warning", msg % args))

    def messages(self, level: str) -> list[str]:
        return [text for kind, text in self.events if kind == level]


class FakeClock:
    """Wall clock that only moves when told to: by ``sleep`` (tenacity's) or by a scripted attempt."""

    def __init__(self, events: list[tuple[str, Any]] | None = None):
        self.now = 1_000_000.0
        self.sleeps: list[float] = []
        self.events = events if events is not None else []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.events.append(("sleep", seconds))
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """A fake clock behind ``time.time()`` of the retry policy and the job poller."""
    fake = FakeClock()
    monkeypatch.setattr(retry_module, "time", types.SimpleNamespace(time=fake.time))
    monkeypatch.setattr(jobs_module, "time", types.SimpleNamespace(time=fake.time))
    return fake


class Script:
    """Plays outcomes in order (the last one forever): exceptions are raised, values returned."""

    def __init__(self, *outcomes: Any, clock: FakeClock, seconds_per_attempt: float = 0.0):
        self.outcomes = list(outcomes)
        self.clock = clock
        self.seconds_per_attempt = seconds_per_attempt
        self.calls = 0
        self.raised: list[BaseException] = []

    def __call__(self) -> Any:
        self.calls += 1
        self.clock.events.append(("call", self.calls))
        self.clock.now += self.seconds_per_attempt
        outcome = self.outcomes[min(self.calls, len(self.outcomes)) - 1]
        if isinstance(outcome, BaseException):
            self.raised.append(outcome)
            raise outcome
        return outcome


def run(policy: RetryPolicy, call: ApiCall[Any], script: Script, clock: FakeClock, log: Any = None) -> Any:
    """Drive ``script`` through real ``tenacity.Retrying`` configured by ``policy``, sleeping on ``clock``."""
    log = log if log is not None else FakeLog(clock.events)
    retrying = tenacity.Retrying(sleep=clock.sleep, **policy.tenacity_kwargs(call, log))
    return retrying(script)


def http_error(
    status: int, body: Any = None, headers: dict[str, str] | None = None, *, raw: bytes | None = None
) -> ApiframeHTTPError:
    content = raw if raw is not None else json.dumps(body or {"error": f"API says {status}"}).encode()
    return error_from_response(
        status, {"X-Request-Id": REQUEST_ID, **(headers or {})}, content, what="GET /v2/jobs/abc"
    )


def job_payload(
    status: str = "PROCESSING",
    *,
    progress: int | None = None,
    result: Any = None,
    expired: bool | None = None,
    error: str | None = None,
    job_id: str = JOB_ID,
) -> dict[str, Any]:
    """A job exactly as ``GET /v2/jobs/{id}`` returns it (every required field of the contract)."""
    payload: dict[str, Any] = {
        "id": job_id,
        "status": status,
        "model": GPT_IMAGE_MODEL,
        "progress": progress,
        "error": error,
        "creditCost": 6 if status == "COMPLETED" else None,
        "webhookStatus": None,
        "createdAt": "2026-07-16T10:00:00.000Z",
        "completedAt": "2026-07-16T10:00:21.000Z" if status == "COMPLETED" else None,
    }
    if result is not None:
        payload["result"] = result
    if expired is not None:
        payload["expired"] = expired
    return payload


def make_job(status: str = "PROCESSING", **kwargs: Any) -> Job:
    return Job.model_validate(job_payload(status, **kwargs))


# --- 1. errors.error_from_response ---------------------------------------------------------------


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


def test_rate_limit_retry_after_as_http_date(monkeypatch: pytest.MonkeyPatch) -> None:
    now = 1_790_000_000.0
    monkeypatch.setattr(errors_module, "time", types.SimpleNamespace(time=lambda: now))
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


# --- 2. retry.RetryPolicy ----------------------------------------------------------------------


CALLS: dict[str, ApiCall[Any]] = {
    "GET": get_job(JOB_ID),
    "POST+key": generate_gpt_image(prompt="a red fox", idempotency_key="key-1"),
    "POST": generate_gpt_image(prompt="a red fox"),
}

ERRORS: dict[str, Any] = {
    "429": lambda: http_error(429, headers={"Retry-After": "1"}),
    "429-no-retry-after": lambda: http_error(429),
    "500": lambda: http_error(500),
    "502": lambda: http_error(502),
    "503": lambda: http_error(503),
    "504": lambda: http_error(504),
    "transport": lambda: ApiframeTransportError("Apiframe GET /v2/jobs/x got no response: ConnectTimeout"),
    "response": lambda: ApiframeResponseError("unreadable body", status_code=200, request_id=REQUEST_ID),
    "400": lambda: http_error(400),
    "401": lambda: http_error(401),
    "402": lambda: http_error(402),
    "403": lambda: http_error(403),
    "404": lambda: http_error(404),
    "409": lambda: http_error(409),
    "418": lambda: http_error(418),
    "job-error": lambda: ApiframeJobError("failed", job_id=JOB_ID),
    "ValueError": lambda: ValueError("not ours"),
}

# error -> (GET, POST with key, POST without key)
SHOULD_RETRY = {
    "429": (True, True, True),
    "429-no-retry-after": (True, True, True),
    "500": (True, True, False),
    "502": (True, True, False),
    "503": (True, True, False),
    "504": (True, True, False),
    "transport": (True, True, False),
    "response": (True, True, False),
    "400": (False, False, False),
    "401": (False, False, False),
    "402": (False, False, False),
    "403": (False, False, False),
    "404": (False, False, False),
    "409": (False, False, False),
    "418": (False, False, False),
    "job-error": (False, False, False),
    "ValueError": (False, False, False),
}


def test_calls_retry_safety() -> None:
    assert CALLS["GET"].retry_safe is True
    assert CALLS["POST+key"].retry_safe is True
    assert CALLS["POST"].retry_safe is False


@pytest.mark.parametrize(
    ("error", "call", "expected"),
    [
        pytest.param(error, call, expected, id=f"{error}-{call}")
        for error, row in SHOULD_RETRY.items()
        for call, expected in zip(CALLS, row, strict=True)
    ],
)
def test_should_retry_truth_table(error: str, call: str, expected: bool) -> None:
    assert RetryPolicy().should_retry(CALLS[call], ERRORS[error]()) is expected


@pytest.mark.parametrize("retry_after", [0.0, 0.5, 3.0, 30.0, 3600.0])
@pytest.mark.parametrize("attempt", [1, 4, 9])
def test_wait_honours_retry_after_exactly(retry_after: float, attempt: int, retry_waits: list[float]) -> None:
    err = ApiframeRateLimitError("slow down", retry_after=retry_after, status_code=429)
    RetryPolicy(max_delay=8.0).wait_seconds(err, attempt)
    assert retry_waits == [retry_after]


@pytest.mark.parametrize(
    ("base_delay", "max_delay", "attempt", "cap"),
    [
        (0.5, 8.0, 1, 0.5),
        (0.5, 8.0, 2, 1.0),
        (0.5, 8.0, 3, 2.0),
        (0.5, 8.0, 4, 4.0),
        (0.5, 8.0, 5, 8.0),
        (0.5, 8.0, 6, 8.0),
        (0.5, 8.0, 40, 8.0),
        (1.0, 5.0, 3, 4.0),
        (1.0, 5.0, 4, 5.0),
        (2.0, 100.0, 1, 2.0),
    ],
)
@pytest.mark.parametrize("error_id", ["503", "429-no-retry-after", "transport", "none"])
def test_wait_is_full_jitter_up_to_the_cap(
    base_delay: float,
    max_delay: float,
    attempt: int,
    cap: float,
    error_id: str,
    retry_waits: list[float],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bounds: list[tuple[float, float]] = []

    def uniform(low: float, high: float) -> float:
        bounds.append((low, high))
        return high

    monkeypatch.setattr(retry_module, "random", types.SimpleNamespace(uniform=uniform))
    error = None if error_id == "none" else ERRORS[error_id]()
    RetryPolicy(base_delay=base_delay, max_delay=max_delay).wait_seconds(error, attempt)
    assert bounds == [(0, pytest.approx(cap))]
    assert retry_waits == [pytest.approx(cap)]


@pytest.mark.parametrize("attempt", [1, 2, 3, 4, 5, 8])
def test_wait_samples_spread_over_zero_to_cap(attempt: int, retry_waits: list[float]) -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=8.0)
    cap = min(8.0, 0.5 * 2 ** (attempt - 1))
    error = http_error(503)
    for _ in range(400):
        policy.wait_seconds(error, attempt)
    assert len(retry_waits) == 400
    assert all(0.0 <= w <= cap for w in retry_waits)
    # Full jitter, not equal jitter or a fixed delay: both ends of [0, cap] are reached.
    assert min(retry_waits) < 0.25 * cap
    assert max(retry_waits) > 0.75 * cap


@pytest.mark.parametrize("max_attempts", [1, 2, 5])
@pytest.mark.parametrize("call", ["GET", "POST+key"])
def test_transient_errors_are_retried_up_to_max_attempts(
    max_attempts: int, call: str, clock: FakeClock
) -> None:
    script = Script(http_error(503), clock=clock)
    with pytest.raises(ApiframeServerError) as exc_info:
        run(RetryPolicy(max_attempts=max_attempts), CALLS[call], script, clock)
    assert script.calls == max_attempts
    assert exc_info.value is script.raised[-1]
    assert len(clock.sleeps) == max_attempts - 1


@pytest.mark.parametrize("error", ["500", "503", "transport", "response"])
def test_transient_errors_of_unsafe_post_are_not_retried(error: str, clock: FakeClock) -> None:
    script = Script(ERRORS[error](), clock=clock)
    with pytest.raises(ApiframeError) as exc_info:
        run(RetryPolicy(max_attempts=5), CALLS["POST"], script, clock)
    assert exc_info.value is script.raised[0]
    assert script.calls == 1
    assert clock.sleeps == []


@pytest.mark.parametrize("error", ["400", "401", "402", "403", "404", "409", "418"])
@pytest.mark.parametrize("call", ["GET", "POST+key", "POST"])
def test_permanent_errors_fail_at_once(error: str, call: str, clock: FakeClock) -> None:
    script = Script(ERRORS[error](), clock=clock)
    with pytest.raises(ApiframeHTTPError) as exc_info:
        run(RetryPolicy(max_attempts=5), CALLS[call], script, clock)
    assert exc_info.value is script.raised[0]
    assert script.calls == 1
    assert FakeLog(clock.events).messages("warning") == []


def test_retrying_succeeds_after_transient_errors(clock: FakeClock, retry_waits: list[float]) -> None:
    answer = object()
    script = Script(
        http_error(503),
        ApiframeTransportError("reset"),
        http_error(429, headers={"Retry-After": "2"}),
        answer,
        clock=clock,
    )
    assert run(RetryPolicy(max_attempts=5), CALLS["GET"], script, clock) is answer
    assert script.calls == 4
    assert len(retry_waits) == 3
    assert retry_waits[2] == 2.0


@pytest.mark.parametrize("call", ["GET", "POST+key", "POST"])
def test_rate_limit_without_deadline_is_bounded_by_max_attempts(call: str, clock: FakeClock) -> None:
    script = Script(http_error(429, headers={"Retry-After": "1"}), clock=clock)
    with pytest.raises(ApiframeRateLimitError) as exc_info:
        run(RetryPolicy(max_attempts=3), CALLS[call], script, clock)
    assert exc_info.value is script.raised[-1]
    assert script.calls == 3


@pytest.mark.parametrize("call", ["GET", "POST+key", "POST"])
def test_rate_limit_with_deadline_keeps_retrying_past_max_attempts(
    call: str, clock: FakeClock, retry_waits: list[float]
) -> None:
    answer = object()
    outcomes = [http_error(429, headers={"Retry-After": "1"}) for _ in range(6)]
    script = Script(*outcomes, answer, clock=clock)
    policy = RetryPolicy(max_attempts=2, deadline=clock.now + 3600)
    assert run(policy, CALLS[call], script, clock) is answer
    assert script.calls == 7
    assert retry_waits == [1.0] * 6


def test_server_errors_with_deadline_still_stop_at_max_attempts(clock: FakeClock) -> None:
    script = Script(http_error(503), clock=clock)
    with pytest.raises(ApiframeServerError):
        run(RetryPolicy(max_attempts=2, deadline=clock.now + 3600), CALLS["GET"], script, clock)
    assert script.calls == 2


@pytest.mark.parametrize("error", ["503", "429", "transport"])
@pytest.mark.parametrize("bounded_by_attempts", [True, False])
def test_deadline_in_the_past_allows_only_the_first_attempt(
    error: str, bounded_by_attempts: bool, clock: FakeClock
) -> None:
    deadline = clock.now - 1
    policy = (
        RetryPolicy(max_attempts=5, deadline=deadline)
        if bounded_by_attempts
        else RetryPolicy().until(deadline)
    )
    script = Script(ERRORS[error](), clock=clock)
    with pytest.raises(ApiframeError) as exc_info:
        run(policy, CALLS["GET"], script, clock)
    assert exc_info.value is script.raised[0]
    assert script.calls == 1
    assert clock.sleeps == []


def test_deadline_in_the_near_future_stops_retries(clock: FakeClock) -> None:
    # Each attempt takes 10 s (say a request timeout): attempts end at t=10, 20, 30; 30 >= 25 stops.
    script = Script(http_error(503), clock=clock, seconds_per_attempt=10.0)
    with pytest.raises(ApiframeServerError) as exc_info:
        run(RetryPolicy().until(clock.now + 25), CALLS["GET"], script, clock)
    assert exc_info.value is script.raised[-1]
    assert script.calls == 3


def test_no_wait_runs_past_the_deadline(clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(RetryPolicy, "wait_seconds", ASKED_WAIT)  # real waits, on the fake clock
    start = clock.now
    script = Script(http_error(429, headers={"Retry-After": "30"}), clock=clock)
    with pytest.raises(ApiframeRateLimitError):
        run(RetryPolicy(max_attempts=5, deadline=start + 60), CALLS["GET"], script, clock)
    # t=0 fails, waits 30; t=30 fails, a 30 s wait would end at the deadline: stop instead.
    assert clock.sleeps == [30.0]
    assert script.calls == 2
    assert clock.now - start == 30.0


def test_retry_after_longer_than_the_time_left_stops_at_once(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(RetryPolicy, "wait_seconds", ASKED_WAIT)
    script = Script(http_error(429, headers={"Retry-After": "120"}), clock=clock)
    with pytest.raises(ApiframeRateLimitError) as exc_info:
        run(RetryPolicy().until(clock.now + 60), CALLS["GET"], script, clock)
    assert exc_info.value.retry_after == 120.0
    assert script.calls == 1
    assert clock.sleeps == []


def test_until_and_capped_at_add_a_deadline_without_changing_the_policy() -> None:
    policy = RetryPolicy(max_attempts=3, base_delay=0.1, max_delay=1.0)
    assert policy.until(1234.5) == dataclasses.replace(policy, deadline=1234.5, ride_out_outages=True)
    assert policy.capped_at(1234.5) == dataclasses.replace(policy, deadline=1234.5)
    assert policy.until(None) is policy
    assert policy.capped_at(None) is policy
    assert policy.deadline is None


@pytest.mark.parametrize("error", ["503", "transport"])
def test_capped_at_keeps_the_attempt_bound_for_outages(error: str, clock: FakeClock) -> None:
    script = Script(ERRORS[error](), clock=clock)
    with pytest.raises(ApiframeError):
        run(RetryPolicy(max_attempts=3).capped_at(clock.now + 3600), CALLS["GET"], script, clock)
    assert script.calls == 3


def test_until_does_not_ride_out_unreadable_bodies(clock: FakeClock) -> None:
    # A success status with a body the provider cannot read is retried, but not for the whole wait:
    # if the API's format changed, polling until the deadline would only delay the error.
    script = Script(ApiframeResponseError("unreadable"), clock=clock, seconds_per_attempt=1.0)
    with pytest.raises(ApiframeResponseError):
        run(RetryPolicy(max_attempts=4).until(clock.now + 3600), CALLS["GET"], script, clock)
    assert script.calls == 4


def test_without_a_deadline_a_long_retry_after_ends_the_retries(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(RetryPolicy, "wait_seconds", ASKED_WAIT)
    long_wait = Script(http_error(429, headers={"Retry-After": "600"}), clock=clock)
    with pytest.raises(ApiframeRateLimitError):
        run(RetryPolicy(max_attempts=5, max_retry_after=120), CALLS["POST"], long_wait, clock)
    assert long_wait.calls == 1
    assert clock.sleeps == []

    short_wait = Script(http_error(429, headers={"Retry-After": "60"}), "ok", clock=clock)
    assert run(RetryPolicy(max_attempts=5, max_retry_after=120), CALLS["POST"], short_wait, clock) == "ok"
    assert clock.sleeps == [60.0]


def test_until_retries_transient_errors_past_the_old_attempt_bound(clock: FakeClock) -> None:
    script = Script(http_error(503), clock=clock, seconds_per_attempt=10.0)
    with pytest.raises(ApiframeServerError):
        run(RetryPolicy(max_attempts=3).until(clock.now + 100), CALLS["GET"], script, clock)
    assert script.calls == 10  # attempts end at t=10..100; the one ending at t=100 is the last


def test_until_does_not_make_an_unsafe_post_retryable(clock: FakeClock) -> None:
    script = Script(http_error(503), clock=clock)
    with pytest.raises(ApiframeServerError):
        run(RetryPolicy().until(clock.now + 100), CALLS["POST"], script, clock)
    assert script.calls == 1


def test_a_warning_is_logged_before_each_wait(clock: FakeClock, retry_waits: list[float]) -> None:
    errors = [http_error(503), ApiframeTransportError("connection reset"), http_error(502)]
    script = Script(*errors, "done", clock=clock)
    assert run(RetryPolicy(max_attempts=5), CALLS["GET"], script, clock) == "done"
    kinds = [kind for kind, _ in clock.events]
    assert kinds == ["call", "warning", "sleep"] * 3 + ["call"]
    warnings = [text for kind, text in clock.events if kind == "warning"]
    for attempt, (error, text) in enumerate(zip(errors, warnings, strict=True), start=1):
        assert text.startswith(f"{error}; attempt {attempt}, retrying in ")
        assert text.endswith(" s")


def test_retry_warning_formats_through_a_real_logger(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    script = Script(http_error(503), "ok", clock=clock)
    logger = logging.getLogger("test_core.retry")
    with caplog.at_level(logging.WARNING, logger="test_core.retry"):
        assert run(RetryPolicy(), CALLS["GET"], script, clock, log=logger) == "ok"
    assert len(caplog.records) == 1
    record = caplog.records[0]
    assert record.levelno == logging.WARNING
    message = record.getMessage()
    assert "HTTP 503" in message
    assert REQUEST_ID in message
    assert "attempt 1, retrying in" in message


# --- 3. models / calls.generate_gpt_image -------------------------------------------------------


MISSING = object()

ENUMS: dict[str, tuple[str, ...]] = {
    "aspect_ratio": ("1:1", "3:2", "2:3"),
    "quality": ("low", "medium", "high", "auto"),
    "background": ("auto", "transparent", "opaque"),
    "output_format": ("png", "jpeg", "webp"),
    "input_fidelity": ("low", "high"),
}

BAD_ENUM_VALUES: dict[str, tuple[Any, ...]] = {
    # wrong value, wrong spelling/case, non-strings
    "aspect_ratio": ("4:3", "1x1", "1:1 ", 1, 1.5, ["1:1"]),
    "quality": ("ultra", "HIGH", "Low", 2, True),
    "background": ("white", "Transparent", "OPAQUE", 0, ["auto"]),
    "output_format": ("gif", "PNG", "jpg", 1, {"png": True}),
    "input_fidelity": ("medium", "High", "LOW", 1, False),
}

URL_RULE = ("absolute URI",)
EVENTS_ALLOWED = ("'progress'", "'completed'", "'failed'")
KEY_LENGTH_RULE = ("a string of 1 to 255 characters",)
PROMPT_RULE = ("a string of 1 to 2000 characters",)
NUMBER_RULE = ("an integer from 1 to 10",)

INVALID_CASES = [
    # prompt
    pytest.param({"prompt": MISSING}, "prompt", ("missing", *PROMPT_RULE), id="prompt-missing"),
    pytest.param({"prompt": None}, "prompt", ("missing", *PROMPT_RULE), id="prompt-None"),
    pytest.param({"prompt": ""}, "prompt", ("got ''", *PROMPT_RULE), id="prompt-empty"),
    pytest.param({"prompt": "x" * 2001}, "prompt", ("length 2001", *PROMPT_RULE), id="prompt-2001-chars"),
    pytest.param(
        {"prompt": "\N{GRINNING FACE}" * 2001},
        "prompt",
        ("length 2001", *PROMPT_RULE),
        id="prompt-2001-emoji",
    ),
    pytest.param({"prompt": 123}, "prompt", ("got 123", *PROMPT_RULE), id="prompt-int"),
    pytest.param({"prompt": ["a cat"]}, "prompt", PROMPT_RULE, id="prompt-list"),
    # enums
    *[
        pytest.param({field: bad}, field, ("one of", *(repr(v) for v in ENUMS[field])), id=f"{field}-{bad!r}")
        for field, bads in BAD_ENUM_VALUES.items()
        for bad in bads
    ],
    # number_of_images
    *[
        pytest.param(
            {"number_of_images": bad}, "number_of_images", NUMBER_RULE, id=f"number_of_images-{bad!r}"
        )
        for bad in (0, 11, -1, 4.5, "x", "0", "11", "4.5", "", [2])
    ],
    pytest.param(
        {"number_of_images": True},
        "number_of_images",
        ("got True", *NUMBER_RULE),
        id="number_of_images-True",
    ),
    pytest.param(
        {"number_of_images": False},
        "number_of_images",
        ("got False", *NUMBER_RULE),
        id="number_of_images-False",
    ),
    # input_images
    pytest.param({"input_images": "/static/a.png"}, "input_images.0", URL_RULE, id="input_images-relative"),
    pytest.param(
        {"input_images": "example.com/a.png"}, "input_images.0", URL_RULE, id="input_images-no-scheme"
    ),
    pytest.param(
        {"input_images": "https://example.com/a b.png"}, "input_images.0", URL_RULE, id="input_images-space"
    ),
    pytest.param({"input_images": ""}, "input_images.0", URL_RULE, id="input_images-empty-string"),
    pytest.param(
        {"input_images": ["https://example.com/a.png", "not a URI"]},
        "input_images.1",
        URL_RULE,
        id="input_images-second-bad",
    ),
    pytest.param(
        {"input_images": ["https://example.com/a.png", 7]},
        "input_images.1",
        ("an absolute URI", "got 7"),
        id="input_images-second-not-str",
    ),
    pytest.param({"input_images": 5}, "input_images", ("a list of", *URL_RULE), id="input_images-int"),
    pytest.param(
        {"input_images": {"url": "https://example.com/a.png"}},
        "input_images",
        ("a list of",),
        id="input_images-dict",
    ),
    # webhook_url
    *[
        pytest.param({"webhook_url": bad}, "webhook_url", URL_RULE, id=f"webhook_url-{bad!r}")
        for bad in (
            "hooks.example.com/in",
            "/hooks/in",
            "https://hooks.example.com/a b",
            "http://[::1/in",
            "",
            42,
        )
    ],
    # webhook_events
    pytest.param(
        {"webhook_events": []}, "webhook_events", ("non-empty list", *EVENTS_ALLOWED), id="events-empty"
    ),
    pytest.param({"webhook_events": "started"}, "webhook_events.0", EVENTS_ALLOWED, id="events-unknown"),
    pytest.param({"webhook_events": "COMPLETED"}, "webhook_events.0", EVENTS_ALLOWED, id="events-case"),
    pytest.param(
        {"webhook_events": ["completed", "done"]}, "webhook_events.1", EVENTS_ALLOWED, id="events-second-bad"
    ),
    pytest.param(
        {"webhook_events": 3}, "webhook_events", ("list of items", *EVENTS_ALLOWED), id="events-int"
    ),
    # idempotency_key
    pytest.param({"idempotency_key": ""}, "idempotency_key", KEY_LENGTH_RULE, id="key-empty"),
    pytest.param({"idempotency_key": "k" * 256}, "idempotency_key", KEY_LENGTH_RULE, id="key-256"),
    pytest.param({"idempotency_key": 12345}, "idempotency_key", KEY_LENGTH_RULE, id="key-int"),
    pytest.param(
        {"idempotency_key": "cl\N{LATIN SMALL LETTER E WITH ACUTE}-1"},
        "idempotency_key",
        ("printable ASCII",),
        id="key-non-ascii",
    ),
    pytest.param(
        {"idempotency_key": " key-1"}, "idempotency_key", ("leading or trailing",), id="key-leading-space"
    ),
    pytest.param(
        {"idempotency_key": "key-1 "}, "idempotency_key", ("leading or trailing",), id="key-trailing-space"
    ),
    pytest.param({"idempotency_key": "key\n1"}, "idempotency_key", ("printable ASCII",), id="key-newline"),
    pytest.param({"idempotency_key": "key\t1"}, "idempotency_key", ("printable ASCII",), id="key-tab"),
    # names the API uses but the operator does not
    pytest.param(
        {"webhookUrl": "https://hooks.example.com/in"},
        "webhookUrl",
        ("unknown parameter", "webhook_url"),
        id="unknown-webhookUrl",
    ),
    pytest.param({"model": "gpt-image-2"}, "model", ("unknown parameter",), id="unknown-model"),
    pytest.param(
        {"gptImageParams": {}}, "gptImageParams", ("unknown parameter",), id="unknown-gptImageParams"
    ),
]


def _fields(overrides: dict[str, Any]) -> dict[str, Any]:
    fields = {"prompt": "a watercolor fox", **overrides}
    return {k: v for k, v in fields.items() if v is not MISSING}


@pytest.mark.parametrize(("overrides", "field", "needles"), INVALID_CASES)
def test_invalid_parameter_is_rejected_naming_field_and_rule(
    overrides: dict[str, Any], field: str, needles: tuple[str, ...]
) -> None:
    with pytest.raises(ApiframeInvalidParamsError) as exc_info:
        generate_gpt_image(**_fields(overrides))
    err = exc_info.value
    assert isinstance(err, ValueError)
    assert err.transient is False
    assert [f for f, _ in err.problems] == [field]
    why = err.problems[0][1]
    for needle in needles:
        assert needle in why
    assert str(err).startswith("Invalid Apiframe parameters (nothing was sent):\n")
    assert f"  - {field}: {why}" in str(err)


def test_several_invalid_fields_are_all_listed() -> None:
    with pytest.raises(ApiframeInvalidParamsError) as exc_info:
        generate_gpt_image(
            prompt="",
            aspect_ratio="4:3",
            quality="ultra",
            number_of_images=11,
            input_images=["https://example.com/a.png", "b.png"],
            webhook_url="hooks.example.com",
            webhook_events=[],
            idempotency_key=" k",
        )
    fields = {field for field, _ in exc_info.value.problems}
    assert fields == {
        "prompt",
        "aspect_ratio",
        "quality",
        "number_of_images",
        "input_images.1",
        "webhook_url",
        "webhook_events",
        "idempotency_key",
    }
    for field in fields:
        assert f"\n  - {field}: " in str(exc_info.value)


# Bugs: these inputs crash the validator instead of being reported as invalid parameters.
@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        pytest.param({"input_images": "http://[::1/a.png"}, "input_images.0", id="input_images-bad-ipv6"),
        pytest.param({"webhook_url": "https://[broken/in"}, "webhook_url", id="webhook_url-bad-ipv6"),
        pytest.param({"number_of_images": 10**80}, "number_of_images", id="number_of_images-huge-int"),
    ],
)
def test_unparseable_values_are_reported_not_crashed_on(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(ApiframeInvalidParamsError) as exc_info:
        generate_gpt_image(**_fields(overrides))
    assert [f for f, _ in exc_info.value.problems] == [field]


@pytest.mark.parametrize(("value", "expected"), [("4", 4), ("1", 1), ("10", 10), (4, 4), (4.0, 4), (10, 10)])
def test_number_of_images_accepts_integral_values_and_numeric_strings(value: Any, expected: int) -> None:
    body = generate_gpt_image(prompt="a fox", number_of_images=value).json
    assert body is not None
    sent = body["gptImageParams"]["number_of_images"]
    assert sent == expected
    assert type(sent) is int


def test_single_strings_become_one_item_lists() -> None:
    body = generate_gpt_image(prompt="a fox", input_images=IMAGE_A, webhook_events="completed").json
    assert body is not None
    assert body["gptImageParams"] == {"input_images": [IMAGE_A]}
    assert body["webhookEvents"] == ["completed"]


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"prompt": "x" * 2000}, "prompt"),
        ({"prompt": "\N{GRINNING FACE}" * 2000}, "prompt"),
        ({"idempotency_key": "k" * 255}, None),
        ({"idempotency_key": "airflow-~!#$%&'*+-.^_`|0123456789"}, None),
        (
            {"input_images": ["http://127.0.0.1:8080/a.png", "https://example.com/b.png?x=1"]},
            "gptImageParams",
        ),
        ({"webhook_url": "http://localhost:9000/hook"}, "webhookUrl"),
        ({"webhook_events": ["progress", "completed", "failed"]}, "webhookEvents"),
    ],
)
def test_boundary_values_are_accepted(overrides: dict[str, Any], key: str | None) -> None:
    call = generate_gpt_image(**_fields(overrides))
    assert call.json is not None
    if key is None:
        assert call.headers == {"Idempotency-Key": overrides["idempotency_key"]}
    else:
        assert key in call.json
        assert call.headers == {}
    if "prompt" in overrides:
        assert call.json["prompt"] == overrides["prompt"]


def test_unset_parameters_are_not_sent() -> None:
    call = generate_gpt_image(
        prompt="a fox",
        aspect_ratio=None,
        quality=None,
        background=None,
        number_of_images=None,
        output_format=None,
        input_fidelity=None,
        input_images=None,
        webhook_url=None,
        webhook_events=None,
        idempotency_key=None,
    )
    assert call.json == {"prompt": "a fox", "model": "gpt-image-1.5"}
    assert call.idempotency_key is None
    assert call.headers == {}
    assert call.retry_safe is False


def test_full_request_layout() -> None:
    call = generate_gpt_image(
        prompt="a fox in the snow",
        aspect_ratio="3:2",
        quality="high",
        background="transparent",
        number_of_images="2",
        output_format="png",
        input_fidelity="high",
        input_images=[IMAGE_A, IMAGE_B],
        webhook_url="https://hooks.example.com/apiframe",
        webhook_events=["completed", "failed"],
        idempotency_key="airflow-abc123",
    )
    assert call.method == "POST"
    assert call.path == "/v2/images/generate"
    assert call.label == "POST /v2/images/generate"
    assert call.response_model is JobAccepted
    assert call.params is None
    assert call.json == {
        "prompt": "a fox in the snow",
        "model": "gpt-image-1.5",
        "webhookUrl": "https://hooks.example.com/apiframe",
        "webhookEvents": ["completed", "failed"],
        "gptImageParams": {
            "aspect_ratio": "3:2",
            "quality": "high",
            "background": "transparent",
            "number_of_images": 2,
            "output_format": "png",
            "input_fidelity": "high",
            "input_images": [IMAGE_A, IMAGE_B],
        },
    }
    # The idempotency key is a header, never part of the body.
    assert call.headers == {"Idempotency-Key": "airflow-abc123"}
    assert call.idempotency_key == "airflow-abc123"
    assert "airflow-abc123" not in json.dumps(call.json)
    assert call.retry_safe is True


def test_model_is_gpt_image_1_5() -> None:
    assert GPT_IMAGE_MODEL == "gpt-image-1.5"
    body = generate_gpt_image(prompt="a fox", quality="low").json
    assert body is not None
    assert body["model"] == "gpt-image-1.5"


def test_other_calls_are_built_as_the_api_wants() -> None:
    job = get_job("a/b c")
    assert (job.method, job.path, job.response_model, job.retry_safe) == (
        "GET",
        "/v2/jobs/a%2Fb%20c",
        Job,
        True,
    )
    page = list_jobs(status="COMPLETED", limit=50)
    assert (page.method, page.path, page.response_model) == ("GET", "/v2/jobs", JobList)
    assert page.params == {"status": "COMPLETED", "limit": "50"}
    me = get_me()
    assert (me.method, me.path, me.response_model, me.json) == ("GET", "/v2/me", Me, None)


# --- 4. contract --------------------------------------------------------------------------------


INPUT_IMAGES_OPTIONS: tuple[Any, ...] = (None, IMAGE_A, [IMAGE_A, IMAGE_B])
WEBHOOK_OPTIONS: tuple[tuple[str, Any] | None, ...] = (
    None,
    ("https://hooks.example.com/apiframe", "completed"),
    ("http://127.0.0.1:9000/hook", ["progress", "completed", "failed"]),
)
_VARIANTS = itertools.cycle(
    itertools.product((None, "low", "high"), (None, 1, 10), INPUT_IMAGES_OPTIONS, WEBHOOK_OPTIONS)
)
CONTRACT_MATRIX = [
    (aspect_ratio, quality, background, output_format, *next(_VARIANTS))
    for aspect_ratio, quality, background, output_format in itertools.product(
        (None, *ENUMS["aspect_ratio"]), ENUMS["quality"], ENUMS["background"], ENUMS["output_format"]
    )
]


@pytest.mark.parametrize(
    (
        "aspect_ratio",
        "quality",
        "background",
        "output_format",
        "input_fidelity",
        "number_of_images",
        "input_images",
        "webhook",
    ),
    CONTRACT_MATRIX,
)
def test_request_bodies_match_the_contract(
    contract: Any,
    aspect_ratio: str | None,
    quality: str,
    background: str,
    output_format: str,
    input_fidelity: str | None,
    number_of_images: int | None,
    input_images: Any,
    webhook: tuple[str, Any] | None,
) -> None:
    webhook_url, webhook_events = webhook or (None, None)
    call = generate_gpt_image(
        prompt="a lighthouse at dusk, oil painting",
        aspect_ratio=aspect_ratio,
        quality=quality,
        background=background,
        output_format=output_format,
        input_fidelity=input_fidelity,
        number_of_images=number_of_images,
        input_images=input_images,
        webhook_url=webhook_url,
        webhook_events=webhook_events,
        idempotency_key="airflow-contract",
    )
    assert contract.errors("GenerateImageRequest", call.json) == []


def test_contract_matrix_covers_every_value() -> None:
    for position, field in enumerate(
        ["aspect_ratio", "quality", "background", "output_format", "input_fidelity"]
    ):
        assert {row[position] for row in CONTRACT_MATRIX} >= set(ENUMS[field])
    assert {row[5] for row in CONTRACT_MATRIX} >= {1, 10}
    assert {json.dumps(row[6]) for row in CONTRACT_MATRIX} == {json.dumps(o) for o in INPUT_IMAGES_OPTIONS}
    assert {row[7] is None for row in CONTRACT_MATRIX} == {True, False}


@pytest.mark.parametrize(
    "overrides",
    [
        {"prompt": "x" * 2000},
        {"prompt": "\N{GRINNING FACE}" * 2000},
        {},
        {"number_of_images": "10"},
    ],
)
def test_more_request_bodies_match_the_contract(contract: Any, overrides: dict[str, Any]) -> None:
    call = generate_gpt_image(**_fields(overrides))
    assert contract.errors("GenerateImageRequest", call.json) == []


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: {**b, "webhook_url": "https://hooks.example.com"},
        lambda b: {**b, "gptImageParams": {"input_images": IMAGE_A}},
        lambda b: {**b, "gptImageParams": {"number_of_images": 11}},
        lambda b: {**b, "model": "gpt-image-1"},
    ],
)
def test_the_contract_check_catches_wrong_bodies(contract: Any, mutate: Any) -> None:
    body = generate_gpt_image(prompt="a fox").json
    assert contract.errors("GenerateImageRequest", body) == []
    assert contract.errors("GenerateImageRequest", mutate(dict(body or {}))) != []


def _read(contract: Any, call: ApiCall[Any], method: str, path: str, status: int, payload: Any) -> Any:
    """Check ``payload`` against the contract's schema for this response, then let ``call`` read it."""
    schema = contract.response_schema(method, path, status)
    assert contract.errors(schema, payload) == []
    return call.read(status, {"content-type": "application/json"}, json.dumps(payload).encode())


@pytest.mark.parametrize("status", ["QUEUED", "PROCESSING", "COMPLETED"])
def test_read_job_accepted(contract: Any, status: str) -> None:
    accepted = _read(
        contract, CALLS["POST+key"], "POST", "/v2/images/generate", 202, {"jobId": JOB_ID, "status": status}
    )
    assert isinstance(accepted, JobAccepted)
    assert (accepted.job_id, accepted.status) == (JOB_ID, status)


@pytest.mark.parametrize(
    ("result", "urls"),
    [
        (IMAGE_A, [IMAGE_A]),
        ({"images": [IMAGE_A, IMAGE_B]}, [IMAGE_A, IMAGE_B]),
    ],
)
def test_read_completed_job_with_either_result_shape(contract: Any, result: Any, urls: list[str]) -> None:
    payload = job_payload("COMPLETED", progress=100, result=result, expired=False)
    job = _read(contract, get_job(JOB_ID), "GET", "/v2/jobs/{id}", 200, payload)
    assert isinstance(job, Job)
    assert job.id == JOB_ID
    assert job.credit_cost == 6
    assert job.completed_at == "2026-07-16T10:00:21.000Z"
    assert job.result == result
    assert image_urls(job) == urls


def test_read_job_list(contract: Any) -> None:
    payload = {
        "jobs": [
            job_payload("COMPLETED", progress=100, result={"images": [IMAGE_A]}, expired=False),
            job_payload("FAILED", error="Rejected by the safety system", expired=False, job_id=OTHER_JOB_ID),
        ],
        "nextCursor": "cursor-2",
        "hasMore": True,
    }
    page = _read(contract, list_jobs(), "GET", "/v2/jobs", 200, payload)
    assert isinstance(page, JobList)
    assert [j.id for j in page.jobs] == [JOB_ID, OTHER_JOB_ID]
    assert page.jobs[1].error == "Rejected by the safety system"
    assert (page.next_cursor, page.has_more) == ("cursor-2", True)


@pytest.mark.parametrize("with_team", [True, False])
def test_read_me(contract: Any, with_team: bool) -> None:
    payload = {
        "user": {"id": OTHER_JOB_ID, "email": "ops@example.com", "role": "OWNER"},
        "team": {"id": JOB_ID, "name": "Data", "credits": 1200, "plan": "pro", "customerId": None}
        if with_team
        else None,
        "apiKey": {"id": JOB_ID, "name": "airflow", "prefix": "afk_live_S3"},
    }
    me = _read(contract, get_me(), "GET", "/v2/me", 200, payload)
    assert isinstance(me, Me)
    assert me.user.email == "ops@example.com"
    if with_team:
        assert me.team is not None
        assert (me.team.name, me.team.credits, me.team.plan) == ("Data", 1200, "pro")
    else:
        assert me.team is None


@pytest.mark.parametrize(
    ("call", "content", "where"),
    [
        pytest.param(get_job(JOB_ID), b"{not json", "body", id="malformed-json"),
        pytest.param(get_job(JOB_ID), b"", "body", id="empty"),
        pytest.param(get_job(JOB_ID), b"<html>ok</html>", "body", id="html"),
        pytest.param(get_job(JOB_ID), b"[]", "body", id="list"),
        pytest.param(
            get_job(JOB_ID), b'{"status": "QUEUED", "model": "gpt-image-1.5"}', "id", id="job-without-id"
        ),
        pytest.param(list_jobs(), b'{"jobs": "none"}', "jobs", id="jobs-not-a-list"),
        pytest.param(CALLS["POST"], b'{"status": "QUEUED"}', "jobId", id="accepted-without-job-id"),
        pytest.param(get_me(), b'{"user": {"id": "u"}}', "user.email", id="me-without-email"),
    ],
)
def test_read_unreadable_success_body(call: ApiCall[Any], content: bytes, where: str) -> None:
    with pytest.raises(ApiframeResponseError) as exc_info:
        call.read(200, {"X-Request-Id": REQUEST_ID}, content)
    err = exc_info.value
    assert err.transient is True
    assert err.status_code == 200
    assert err.request_id == REQUEST_ID
    assert REQUEST_ID in str(err)
    assert f"Apiframe {call.label} answered HTTP 200 with a body this provider cannot read: {where}: " in str(
        err
    )


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, ApiframeBadRequestError),
        (404, ApiframeNotFoundError),
        (429, ApiframeRateLimitError),
        (503, ApiframeServerError),
    ],
)
def test_read_error_status_raises_mapped_error(status: int, cls: type[ApiframeError]) -> None:
    call = get_job(JOB_ID)
    with pytest.raises(cls) as exc_info:
        call.read(status, {"x-request-id": REQUEST_ID}, b'{"error": "nope"}')
    assert str(exc_info.value).startswith(f"Apiframe GET /v2/jobs/{JOB_ID} failed with HTTP {status}: nope")
    assert REQUEST_ID in str(exc_info.value)


# --- 5. config -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        (None, None, DEFAULT_BASE_URL),
        ("", None, DEFAULT_BASE_URL),
        ("   ", 8080, DEFAULT_BASE_URL),
        ("http://127.0.0.1:8080", None, "http://127.0.0.1:8080"),
        ("http://127.0.0.1:8080/", None, "http://127.0.0.1:8080"),
        ("https://api.apiframe.ai/", None, "https://api.apiframe.ai"),
        ("https://api.apiframe.ai", 9999, "https://api.apiframe.ai"),  # port is only for bare hosts
        ("  https://api.example.com//  ", None, "https://api.example.com"),
        ("api.example.com", None, "https://api.example.com"),
        ("api.example.com", 8443, "https://api.example.com:8443"),
        ("localhost:8080", None, "https://localhost:8080"),
        ("localhost:8080", 9090, "https://localhost:8080"),  # the host's own port wins
        ("api.example.com/base/", 8443, "https://api.example.com:8443/base"),
    ],
)
def test_base_url(host: str | None, port: int | None, expected: str) -> None:
    assert base_url(host, port) == expected


@pytest.mark.parametrize(
    ("host", "port"),
    [
        ("ftp://files.example.com", None),
        ("http://", None),
        ("https://:8080", None),
        ("http://example.com:0", None),
        ("http://example.com:99999", None),
        ("http://[::1", None),
        ("file:///etc/passwd", None),
        ("bad host", None),
        ("https://api.example.com?x=1", None),
    ],
)
def test_base_url_invalid_names_the_host(host: str, port: int | None) -> None:
    with pytest.raises(ApiframeConfigError) as exc_info:
        base_url(host, port)
    assert repr(host) in str(exc_info.value)
    assert "leave it empty for the public API" in str(exc_info.value)


def test_client_config_defaults() -> None:
    config = client_config(api_key=API_KEY, host=None)
    assert config == ClientConfig(
        api_key=API_KEY,
        base_url=DEFAULT_BASE_URL,
        timeout=30.0,
        retry=RetryPolicy(max_attempts=5),
        verify_ssl=True,
    )


@pytest.mark.parametrize("api_key", [None, ""])
def test_client_config_without_key(api_key: str | None) -> None:
    with pytest.raises(ApiframeConfigError, match="password"):
        client_config(api_key=api_key, host="api.example.com")


@pytest.mark.parametrize(
    ("extras", "timeout", "max_attempts", "verify_ssl"),
    [
        (None, 30.0, 5, True),
        ({}, 30.0, 5, True),
        ({"timeout": 5}, 5.0, 5, True),
        ({"timeout": "5"}, 5.0, 5, True),
        ({"timeout": "12.5"}, 12.5, 5, True),
        ({"extra__apiframe__timeout": "7"}, 7.0, 5, True),
        ({"timeout": 600}, 600.0, 5, True),
        ({"max_retries": 0}, 30.0, 1, True),
        ({"max_retries": "3"}, 30.0, 4, True),
        ({"extra__apiframe__max_retries": 20}, 30.0, 21, True),
        ({"verify_ssl": False}, 30.0, 5, False),
        ({"verify_ssl": "false"}, 30.0, 5, False),
        ({"extra__apiframe__verify_ssl": "False"}, 30.0, 5, False),
        ({"verify_ssl": "true"}, 30.0, 5, True),
        ({"timeout": "", "max_retries": None, "extra__apiframe__verify_ssl": ""}, 30.0, 5, True),
        ({"unrelated": "ignored", "extra__other__timeout": "x"}, 30.0, 5, True),
    ],
)
def test_client_config_extras(extras: Any, timeout: float, max_attempts: int, verify_ssl: bool) -> None:
    config = client_config(api_key=API_KEY, host="http://127.0.0.1:8080", extras=extras)
    assert config.base_url == "http://127.0.0.1:8080"
    assert config.timeout == timeout
    assert config.retry.max_attempts == max_attempts
    assert config.retry.deadline is None
    assert config.verify_ssl is verify_ssl


@pytest.mark.parametrize(
    ("extras", "field"),
    [
        ({"timeout": "abc"}, "timeout"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": -1}, "timeout"),
        ({"timeout": 601}, "timeout"),
        ({"extra__apiframe__timeout": "soon"}, "timeout"),
        ({"max_retries": -1}, "max_retries"),
        ({"max_retries": 21}, "max_retries"),
        ({"max_retries": "many"}, "max_retries"),
        ({"max_retries": 2.5}, "max_retries"),
        ({"extra__apiframe__max_retries": "x"}, "max_retries"),
        ({"verify_ssl": "maybe"}, "verify_ssl"),
        ({"verify_ssl": 2}, "verify_ssl"),
    ],
)
def test_client_config_invalid_extras_name_the_field(extras: dict[str, Any], field: str) -> None:
    with pytest.raises(ApiframeConfigError) as exc_info:
        client_config(api_key=API_KEY, host=None, extras=extras)
    message = str(exc_info.value)
    assert message.startswith("Invalid extra field in the Apiframe connection: ")
    assert f"{field}: " in message
    assert API_KEY not in message


def test_client_config_invalid_host() -> None:
    with pytest.raises(ApiframeConfigError, match="'ftp://x'"):
        client_config(api_key=API_KEY, host="ftp://x")


def test_api_key_never_in_repr() -> None:
    config = client_config(api_key=API_KEY, host="api.example.com", port=8443, extras={"timeout": "5"})
    assert config.api_key == API_KEY
    for text in (repr(config), str(config), f"{config}", f"{config!r}"):
        assert API_KEY not in text
        assert "afk_" not in text
        assert "api.example.com:8443" in text  # the rest is still shown


# --- 6. idempotency ------------------------------------------------------------------------------


KEY_INPUTS: dict[str, Any] = {
    "dag_id": "images",
    "task_id": "generate",
    "run_id": "scheduled__2026-07-16T00:00:00+00:00",
    "map_index": -1,
    "body": {"prompt": "a fox", "model": "gpt-image-1.5", "gptImageParams": {"quality": "low"}},
}


def test_derive_key_is_stable() -> None:
    same_body_other_order = {
        "gptImageParams": {"quality": "low"},
        "model": "gpt-image-1.5",
        "prompt": "a fox",
    }
    key = derive_key(**KEY_INPUTS)
    assert derive_key(**KEY_INPUTS) == key
    assert derive_key(**{**KEY_INPUTS, "body": same_body_other_order}) == key
    assert key.startswith("airflow-")


@pytest.mark.parametrize(
    "change",
    [
        {"dag_id": "images2"},
        {"task_id": "generate_2"},
        {"run_id": "manual__2026-07-16T00:00:00+00:00"},
        {"map_index": 0},
        {"map_index": 1},
        {"body": {**KEY_INPUTS["body"], "prompt": "a fox "}},
        {"body": {**KEY_INPUTS["body"], "gptImageParams": {"quality": "high"}}},
        {"body": {**KEY_INPUTS["body"], "webhookUrl": "https://hooks.example.com"}},
        {"dag_id": "imagesgenerate", "task_id": ""},  # field boundaries matter
    ],
)
def test_derive_key_differs_for_any_change(change: dict[str, Any]) -> None:
    assert derive_key(**{**KEY_INPUTS, **change}) != derive_key(**KEY_INPUTS)


@pytest.mark.parametrize(
    "inputs",
    [
        KEY_INPUTS,
        {**KEY_INPUTS, "dag_id": "d" * 250, "task_id": "t" * 250, "run_id": "r" * 250, "map_index": 10**6},
        {
            **KEY_INPUTS,
            "dag_id": "bilder_\N{LATIN SMALL LETTER U WITH DIAERESIS}",
            "body": {"prompt": "\N{FOX FACE}" * 1000},
        },
    ],
)
def test_derive_key_is_a_valid_header(inputs: dict[str, Any]) -> None:
    key = derive_key(**inputs)
    assert len(key) <= MAX_KEY_LENGTH
    assert key.isascii()
    assert key.isprintable()
    assert generate_gpt_image(prompt="a fox", idempotency_key=key).headers == {"Idempotency-Key": key}


def test_nth_key_zero_is_the_base() -> None:
    assert nth_key("airflow-abc", 0) == "airflow-abc"
    assert nth_key("k" * 255, 0) == "k" * 255


@pytest.mark.parametrize(
    ("n", "expected"), [(1, "airflow-abc~1"), (2, "airflow-abc~2"), (10, "airflow-abc~10")]
)
def test_nth_key_suffixes(n: int, expected: str) -> None:
    assert nth_key("airflow-abc", n) == expected


@pytest.mark.parametrize("base", ["a", "airflow-" + "0" * 48, "k" * 250, "k" * 254, "k" * 255])
def test_nth_keys_fit_and_are_distinct(base: str) -> None:
    keys = [nth_key(base, n) for n in [*range(0, 150), 999, 1000, 123456789]]
    assert all(len(key) <= MAX_KEY_LENGTH for key in keys)
    assert len(set(keys)) == len(keys)
    for key in keys[1:]:
        generate_gpt_image(prompt="a fox", idempotency_key=key)  # each is a valid key


def test_nth_key_negative_is_rejected() -> None:
    with pytest.raises(ApiframeInvalidParamsError) as exc_info:
        nth_key("k", -1)
    assert exc_info.value.problems == [("n", "must be >= 0")]


# --- 7. jobs -------------------------------------------------------------------------------------


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
