"""retry.RetryPolicy: what is retried, how long it waits, and when it gives up."""

from __future__ import annotations

import dataclasses
import logging
import types

import pytest
from support import (
    CALLS,
    ERRORS,
    REQUEST_ID,
    FakeClock,
    FakeLog,
    Script,
    http_error,
    run,
)

from airflow_provider_apiframe.core import retry as retry_module
from airflow_provider_apiframe.core.errors import (
    ApiframeError,
    ApiframeHTTPError,
    ApiframeRateLimitError,
    ApiframeResponseError,
    ApiframeServerError,
    ApiframeTransportError,
)
from airflow_provider_apiframe.core.retry import RetryPolicy

# Captured at import, before the autouse ``retry_waits`` fixture swaps in its recording wrapper.
ASKED_WAIT = RetryPolicy.wait_seconds


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
