"""The sync hook against requests-mock: auth, retries, polling, configuration and secrecy of the key."""

from __future__ import annotations

import json
import logging
import time
import traceback
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import structlog
from support import API_KEY, IMAGE, JOB_ID, ME_BODY, FakeClock, job_body

from airflow_provider_apiframe import __version__
from airflow_provider_apiframe.core import calls
from airflow_provider_apiframe.core.errors import (
    ApiframeAuthenticationError,
    ApiframeBadRequestError,
    ApiframeConfigError,
    ApiframeConflictError,
    ApiframeError,
    ApiframeHTTPError,
    ApiframeInsufficientCreditsError,
    ApiframeJobError,
    ApiframeJobTimeoutError,
    ApiframeNotFoundError,
    ApiframePermissionError,
    ApiframeRateLimitError,
    ApiframeResponseError,
    ApiframeServerError,
    ApiframeTransportError,
)
from airflow_provider_apiframe.hooks.apiframe import ApiframeHook
from airflow_provider_apiframe.transports.base import USER_AGENT

BASE_URL = "https://api.apiframe.test"
JOB_URL = f"{BASE_URL}/v2/jobs/{JOB_ID}"
GENERATE_URL = f"{BASE_URL}/v2/images/generate"
ME_URL = f"{BASE_URL}/v2/me"


ACCEPTED = {"jobId": JOB_ID, "status": "QUEUED"}


def ok(body: Any, status: int = 200) -> dict[str, Any]:
    return {"status_code": status, "json": body}


def fail(status: int, text: str, request_id: str = "req-123", **headers: str) -> dict[str, Any]:
    return {
        "status_code": status,
        "json": {"error": text},
        "headers": {"x-request-id": request_id, **headers},
    }


def gpt_call(**fields: Any) -> calls.ApiCall[Any]:
    return calls.generate_gpt_image(prompt="a red fox in the snow", **fields)


@pytest.fixture
def hook(connection: str) -> ApiframeHook:
    return ApiframeHook()


@pytest.fixture
def sleeps(clock: FakeClock) -> list[float]:
    """Record the waits between polls of ``wait_for_job``, on a fake clock they move forward."""
    # The poll waits are the clock's; tenacity's retry sleeps stay real (and short: ``retry_waits``).
    return clock.sleeps


# --- authentication and where requests go --------------------------------------------------------------


def test_every_request_carries_key_user_agent_and_base_url(hook: ApiframeHook, requests_mock: Any) -> None:
    requests_mock.get(JOB_URL, json=job_body())
    requests_mock.get(ME_URL, json=ME_BODY)
    requests_mock.get(f"{BASE_URL}/v2/jobs", json={"jobs": [], "nextCursor": None, "hasMore": False})
    requests_mock.post(GENERATE_URL, status_code=202, json=ACCEPTED)

    hook.get_job(JOB_ID)
    hook.get_me()
    hook.list_jobs()
    hook.submit_image_generation(gpt_call(idempotency_key="k"))

    history = requests_mock.request_history
    assert [(r.method, urlsplit(r.url).path) for r in history] == [
        ("GET", f"/v2/jobs/{JOB_ID}"),
        ("GET", "/v2/me"),
        ("GET", "/v2/jobs"),
        ("POST", "/v2/images/generate"),
    ]
    for request in history:
        assert request.url.startswith(f"{BASE_URL}/v2/")
        assert request.headers["X-API-Key"] == API_KEY
        assert request.headers["User-Agent"] == USER_AGENT
        assert request.headers["Accept"] == "application/json"
        assert request.timeout == 30.0
        assert request.verify is not False  # True, or a CA bundle path from the environment
    assert USER_AGENT.removeprefix("airflow-provider-apiframe/") == __version__


@pytest.mark.parametrize(
    ("host", "expected_base"),
    [
        pytest.param("http://127.0.0.1:8080", "http://127.0.0.1:8080", id="http-url-with-port"),
        pytest.param("", "https://api.apiframe.ai", id="empty-host-is-public-api"),
        pytest.param("api.example.test", "https://api.example.test", id="bare-host-is-https"),
        pytest.param("https://api.example.test/", "https://api.example.test", id="trailing-slash"),
    ],
)
def test_host_variants(use_connection: Any, requests_mock: Any, host: str, expected_base: str) -> None:
    use_connection(host)
    requests_mock.get(f"{expected_base}/v2/me", json=ME_BODY)

    ApiframeHook().get_me()

    assert requests_mock.call_count == 1
    assert requests_mock.last_request.url == f"{expected_base}/v2/me"
    assert requests_mock.last_request.headers["X-API-Key"] == API_KEY


def test_timeout_extra_is_sent_with_every_request(use_connection: Any, requests_mock: Any) -> None:
    use_connection(BASE_URL, timeout=7.5)
    requests_mock.get(ME_URL, json=ME_BODY)

    ApiframeHook().get_me()

    assert requests_mock.last_request.timeout == 7.5


def test_one_session_is_reused(hook: ApiframeHook, requests_mock: Any) -> None:
    requests_mock.get(ME_URL, json=ME_BODY)

    transport = hook.get_conn()
    hook.get_me()
    hook.get_me()

    assert hook.get_conn() is transport
    assert requests_mock.call_count == 2


# --- submitting a job ----------------------------------------------------------------------------------


def test_submit_sends_body_and_idempotency_key_exactly(hook: ApiframeHook, requests_mock: Any) -> None:
    requests_mock.post(GENERATE_URL, status_code=202, json=ACCEPTED)

    accepted = hook.submit_image_generation(
        gpt_call(idempotency_key="k", aspect_ratio="3:2", quality="high", number_of_images=2)
    )

    assert (accepted.job_id, accepted.status) == (JOB_ID, "QUEUED")
    request = requests_mock.last_request
    assert request.method == "POST"
    assert request.headers["Idempotency-Key"] == "k"
    assert request.headers["Content-Type"] == "application/json"
    assert request.json() == {
        "prompt": "a red fox in the snow",
        "model": "gpt-image-1.5",
        "gptImageParams": {"aspect_ratio": "3:2", "quality": "high", "number_of_images": 2},
    }


def test_submit_without_key_sends_no_idempotency_header(hook: ApiframeHook, requests_mock: Any) -> None:
    requests_mock.post(GENERATE_URL, status_code=202, json=ACCEPTED)

    hook.submit_image_generation(gpt_call())

    assert "Idempotency-Key" not in requests_mock.last_request.headers
    assert requests_mock.last_request.json() == {"prompt": "a red fox in the snow", "model": "gpt-image-1.5"}


# --- the retry policy, end to end ----------------------------------------------------------------------


def test_post_with_key_is_retried_after_503(
    hook: ApiframeHook, requests_mock: Any, retry_waits: list[float]
) -> None:
    requests_mock.post(GENERATE_URL, [fail(503, "Queue unavailable"), ok(ACCEPTED, 202)])

    accepted = hook.submit_image_generation(gpt_call(idempotency_key="k"))

    assert accepted.job_id == JOB_ID
    assert requests_mock.call_count == 2
    first, second = requests_mock.request_history
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"] == "k"
    assert first.json() == second.json()
    assert len(retry_waits) == 1


@pytest.mark.parametrize(
    ("response", "error"),
    [
        pytest.param(fail(503, "Queue unavailable"), ApiframeServerError, id="503"),
        pytest.param(fail(502, "Bad gateway"), ApiframeServerError, id="502"),
        pytest.param(
            {"exc": requests.exceptions.ConnectionError("reset")}, ApiframeTransportError, id="reset"
        ),
        pytest.param({"exc": requests.exceptions.ReadTimeout("read")}, ApiframeTransportError, id="timeout"),
    ],
)
def test_post_without_key_is_not_retried_on_transient_errors(
    hook: ApiframeHook,
    requests_mock: Any,
    retry_waits: list[float],
    response: dict[str, Any],
    error: type[ApiframeError],
) -> None:
    requests_mock.post(GENERATE_URL, [response, ok(ACCEPTED, 202)])

    with pytest.raises(error):
        hook.submit_image_generation(gpt_call())

    assert requests_mock.call_count == 1
    assert retry_waits == []


def test_429_is_retried_after_retry_after_even_without_key(
    hook: ApiframeHook, requests_mock: Any, retry_waits: list[float]
) -> None:
    requests_mock.post(
        GENERATE_URL, [fail(429, "Too many requests", **{"Retry-After": "2"}), ok(ACCEPTED, 202)]
    )

    accepted = hook.submit_image_generation(gpt_call())

    assert accepted.job_id == JOB_ID
    assert requests_mock.call_count == 2
    assert retry_waits == [2.0]


@pytest.mark.parametrize(
    "transient",
    [
        pytest.param(fail(502, "Bad gateway"), id="502"),
        pytest.param(fail(503, "Queue unavailable"), id="503"),
        pytest.param(fail(504, "Gateway timeout"), id="504"),
        pytest.param({"exc": requests.exceptions.ConnectionError}, id="connection-error"),
        pytest.param({"exc": requests.exceptions.ConnectTimeout}, id="connect-timeout"),
        pytest.param({"exc": requests.exceptions.Timeout}, id="timeout"),
        pytest.param({"status_code": 200, "text": "<html>proxy page</html>"}, id="malformed-json"),
        pytest.param({"status_code": 200, "text": '{"id": '}, id="truncated-json"),
        pytest.param(ok({"unexpected": True}), id="json-of-wrong-shape"),
    ],
)
def test_get_is_retried_on_transient_failures(
    hook: ApiframeHook, requests_mock: Any, retry_waits: list[float], transient: dict[str, Any]
) -> None:
    requests_mock.get(JOB_URL, [transient, ok(job_body())])

    job = hook.get_job(JOB_ID)

    assert job.status == "COMPLETED"
    assert requests_mock.call_count == 2
    assert len(retry_waits) == 1
    assert 0 <= retry_waits[0] <= 0.5  # first backoff: uniform(0, base_delay)


@pytest.mark.parametrize(
    ("max_retries", "calls_made"), [pytest.param(0, 1, id="0"), pytest.param(2, 3, id="2")]
)
def test_attempts_are_bounded_by_max_retries(
    use_connection: Any, requests_mock: Any, max_retries: int, calls_made: int
) -> None:
    use_connection(BASE_URL, max_retries=max_retries)
    requests_mock.get(JOB_URL, [fail(503, "Queue unavailable")] * (calls_made + 3) + [ok(job_body())])

    with pytest.raises(ApiframeServerError, match="HTTP 503: Queue unavailable"):
        ApiframeHook().get_job(JOB_ID)

    assert requests_mock.call_count == calls_made


def test_default_is_five_attempts(hook: ApiframeHook, requests_mock: Any) -> None:
    requests_mock.get(JOB_URL, exc=requests.exceptions.ConnectionError("connection refused"))

    with pytest.raises(ApiframeTransportError, match="ConnectionError: connection refused") as info:
        hook.get_job(JOB_ID)

    assert requests_mock.call_count == 5
    assert f"GET /v2/jobs/{JOB_ID}" in str(info.value)


def test_malformed_body_error_names_the_problem(use_connection: Any, requests_mock: Any) -> None:
    use_connection(BASE_URL, max_retries=0)
    requests_mock.get(JOB_URL, status_code=200, text="<html>", headers={"x-request-id": "req-9"})

    with pytest.raises(ApiframeResponseError) as info:
        ApiframeHook().get_job(JOB_ID)

    assert "cannot read" in str(info.value)
    assert info.value.request_id == "req-9"


PERMANENT = [
    pytest.param(
        400,
        {"error": "Validation failed", "details": {"gptImageParams.quality": ["Invalid enum value"]}},
        ApiframeBadRequestError,
        ["HTTP 400: Validation failed", "gptImageParams.quality: Invalid enum value"],
        id="400",
    ),
    pytest.param(
        401,
        {"error": "Invalid API key"},
        ApiframeAuthenticationError,
        ["HTTP 401: Invalid API key"],
        id="401",
    ),
    pytest.param(
        402,
        {"error": "Insufficient credits", "creditsRequired": 10, "creditsAvailable": 3},
        ApiframeInsufficientCreditsError,
        ["HTTP 402: Insufficient credits", "credits required: 10, available: 3"],
        id="402",
    ),
    pytest.param(
        403,
        {"error": "API key is inactive"},
        ApiframePermissionError,
        ["HTTP 403: API key is inactive"],
        id="403",
    ),
    pytest.param(
        404, {"error": "Job not found"}, ApiframeNotFoundError, ["HTTP 404: Job not found"], id="404"
    ),
    pytest.param(
        409,
        {"error": "Idempotency key reused with a different body"},
        ApiframeConflictError,
        ["HTTP 409: Idempotency key reused with a different body"],
        id="409",
    ),
]


def _send(hook: ApiframeHook, method: str) -> Any:
    if method == "GET":
        return hook.get_job(JOB_ID)
    return hook.submit_image_generation(gpt_call(idempotency_key="k"))


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize(("status", "body", "error", "fragments"), PERMANENT)
def test_permanent_errors_fail_after_one_call_with_the_api_message(
    hook: ApiframeHook,
    requests_mock: Any,
    retry_waits: list[float],
    method: str,
    status: int,
    body: dict[str, Any],
    error: type[ApiframeHTTPError],
    fragments: list[str],
) -> None:
    url = JOB_URL if method == "GET" else GENERATE_URL
    answers = [
        {"status_code": status, "json": body, "headers": {"x-request-id": "req-42"}},
        ok(ACCEPTED, 202),
    ]
    requests_mock.register_uri(method, url, answers)

    with pytest.raises(error) as info:
        _send(hook, method)

    assert requests_mock.call_count == 1
    assert retry_waits == []
    exc = info.value
    assert exc.status_code == status
    assert exc.request_id == "req-42"
    assert exc.body == body
    for fragment in fragments:
        assert fragment in str(exc)
    assert str(exc).endswith("[request id req-42]")


def test_bad_request_details_are_exposed(hook: ApiframeHook, requests_mock: Any) -> None:
    details = {"gptImageParams.input_images": ["Expected array, received string"]}
    requests_mock.post(GENERATE_URL, status_code=400, json={"error": "Validation failed", "details": details})

    with pytest.raises(ApiframeBadRequestError) as info:
        hook.submit_image_generation(gpt_call(idempotency_key="k"))

    assert info.value.details == details


def test_error_without_json_body_keeps_the_raw_text(hook: ApiframeHook, requests_mock: Any) -> None:
    requests_mock.get(JOB_URL, status_code=404, text="no such route")

    with pytest.raises(ApiframeNotFoundError, match="HTTP 404: no such route"):
        hook.get_job(JOB_ID)

    assert requests_mock.call_count == 1


# --- reads ---------------------------------------------------------------------------------------------


def test_get_job_parses_the_job(hook: ApiframeHook, requests_mock: Any) -> None:
    requests_mock.get(JOB_URL, json=job_body(creditCost=20, webhookStatus="delivered"))

    job = hook.get_job(JOB_ID)

    assert job.id == JOB_ID
    assert job.status == "COMPLETED"
    assert job.model == "gpt-image-1.5"
    assert job.progress == 100
    assert job.credit_cost == 20
    assert job.webhook_status == "delivered"
    assert job.result == {"images": [IMAGE]}
    assert job.expired is False


def test_get_job_escapes_the_id(hook: ApiframeHook, requests_mock: Any) -> None:
    requests_mock.get(f"{BASE_URL}/v2/jobs/a%2F..%2Fme", json=job_body(id="a/../me"))

    job = hook.get_job("a/../me")

    assert job.id == "a/../me"
    assert urlsplit(requests_mock.last_request.url).path == "/v2/jobs/a%2F..%2Fme"


def test_get_me(hook: ApiframeHook, requests_mock: Any) -> None:
    requests_mock.get(ME_URL, json=ME_BODY)

    me = hook.get_me()

    assert me.user.email == "dev@example.com"
    assert me.team is not None
    assert (me.team.name, me.team.credits, me.team.plan) == ("Pixels", 1234, "pro")


def test_list_jobs_sends_filters_as_query(hook: ApiframeHook, requests_mock: Any) -> None:
    page = {
        "jobs": [job_body(), job_body("FAILED", id="j-2", error="nope")],
        "nextCursor": "c2",
        "hasMore": True,
    }
    requests_mock.get(f"{BASE_URL}/v2/jobs", json=page)

    jobs = hook.list_jobs(
        status="COMPLETED", model="gpt-image-1.5", limit=5, cursor="c1", scope="team", search=JOB_ID
    )

    query = parse_qs(urlsplit(requests_mock.last_request.url).query)
    assert query == {
        "status": ["COMPLETED"],
        "model": ["gpt-image-1.5"],
        "limit": ["5"],
        "cursor": ["c1"],
        "scope": ["team"],
        "search": [JOB_ID],
    }
    assert [j.id for j in jobs.jobs] == [JOB_ID, "j-2"]
    assert jobs.jobs[1].error == "nope"
    assert (jobs.next_cursor, jobs.has_more) == ("c2", True)


def test_list_jobs_defaults_to_a_page_of_20(hook: ApiframeHook, requests_mock: Any) -> None:
    requests_mock.get(f"{BASE_URL}/v2/jobs", json={"jobs": []})

    jobs = hook.list_jobs()

    assert parse_qs(urlsplit(requests_mock.last_request.url).query) == {"limit": ["20"]}
    assert (jobs.jobs, jobs.next_cursor, jobs.has_more) == ([], None, False)


def test_test_connection_reports_credits(hook: ApiframeHook, requests_mock: Any) -> None:
    requests_mock.get(ME_URL, json=ME_BODY)

    ok_, message = hook.test_connection()

    assert ok_ is True
    assert "dev@example.com" in message
    assert "'Pixels'" in message
    assert "1234 credits" in message


def test_test_connection_from_the_command_line_of_airflow_3_1(
    monkeypatch: pytest.MonkeyPatch, requests_mock: Any
) -> None:
    """
    ``airflow connections test`` on Airflow 3.1 runs outside any task: the Task SDK's lookup fails
    importing ``SUPERVISOR_COMMS``, and the hook reads the connection through Airflow's own lookup.
    """
    from airflow.models.connection import Connection
    from airflow.sdk import BaseHook

    def no_supervisor(conn_id: str) -> Any:
        raise ImportError(
            "cannot import name 'SUPERVISOR_COMMS' from 'airflow.sdk.execution_time.task_runner'"
        )

    asked: list[str] = []

    def from_secrets(conn_id: str) -> Connection:
        asked.append(conn_id)
        return Connection(conn_id=conn_id, conn_type="apiframe", host=BASE_URL, password=API_KEY)

    monkeypatch.setattr(BaseHook, "get_connection", classmethod(lambda cls, conn_id: no_supervisor(conn_id)))
    monkeypatch.setattr(Connection, "get_connection_from_secrets", staticmethod(from_secrets))
    requests_mock.get(ME_URL, json=ME_BODY)

    ok_, message = ApiframeHook().test_connection()

    assert (ok_, asked) == (True, ["apiframe_default"]), message
    assert "1234 credits" in message
    assert requests_mock.last_request.headers["X-API-Key"] == API_KEY


def test_test_connection_without_team(hook: ApiframeHook, requests_mock: Any) -> None:
    requests_mock.get(ME_URL, json={**ME_BODY, "team": None})

    assert hook.test_connection() == (True, "Connected to Apiframe as dev@example.com (no team).")


@pytest.mark.parametrize(
    ("status", "text"),
    [pytest.param(401, "Invalid API key", id="401"), pytest.param(403, "Key inactive", id="403")],
)
def test_test_connection_failure_returns_the_api_text(
    hook: ApiframeHook, requests_mock: Any, status: int, text: str
) -> None:
    requests_mock.get(ME_URL, **fail(status, text, request_id="req-me"))

    ok_, message = hook.test_connection()

    assert ok_ is False
    assert f"HTTP {status}: {text}" in message
    assert "req-me" in message
    assert requests_mock.call_count == 1


def test_test_connection_failure_on_outage(use_connection: Any, requests_mock: Any) -> None:
    use_connection(BASE_URL, max_retries=1)
    requests_mock.get(ME_URL, **fail(503, "Queue unavailable"))

    ok_, message = ApiframeHook().test_connection()

    assert ok_ is False
    assert "HTTP 503: Queue unavailable" in message
    assert requests_mock.call_count == 2


# --- wait_for_job --------------------------------------------------------------------------------------


def test_wait_for_job_polls_until_completed(
    hook: ApiframeHook, requests_mock: Any, sleeps: list[float]
) -> None:
    requests_mock.get(
        JOB_URL, [ok(job_body("QUEUED")), ok(job_body("PROCESSING", progress=40)), ok(job_body("COMPLETED"))]
    )

    job = hook.wait_for_job(JOB_ID, timeout=600)

    assert job.status == "COMPLETED"
    assert job.result == {"images": [IMAGE]}
    assert requests_mock.call_count == 3
    assert sleeps == pytest.approx([2.0, 3.0])  # starts at 2 s, grows x1.5


def test_wait_for_job_waits_grow_up_to_poll_interval(
    hook: ApiframeHook, requests_mock: Any, sleeps: list[float]
) -> None:
    requests_mock.get(JOB_URL, [ok(job_body("PROCESSING"))] * 5 + [ok(job_body())])

    hook.wait_for_job(JOB_ID, timeout=600, poll_interval=4.0)

    assert sleeps == pytest.approx([2.0, 3.0, 4.0, 4.0, 4.0])


def test_wait_for_job_returns_a_failed_job(
    hook: ApiframeHook, requests_mock: Any, sleeps: list[float]
) -> None:
    requests_mock.get(
        JOB_URL, [ok(job_body("QUEUED")), ok(job_body("FAILED", error="Content policy violation"))]
    )

    job = hook.wait_for_job(JOB_ID, timeout=600)

    assert (job.status, job.error) == ("FAILED", "Content policy violation")
    assert requests_mock.call_count == 2


def test_wait_for_job_rides_out_a_503(
    hook: ApiframeHook, requests_mock: Any, sleeps: list[float], retry_waits: list[float]
) -> None:
    requests_mock.get(
        JOB_URL,
        [
            ok(job_body("QUEUED")),
            fail(503, "Queue unavailable"),
            {"exc": requests.exceptions.ConnectionError},
            ok(job_body("PROCESSING")),
            ok(job_body("COMPLETED")),
        ],
    )

    job = hook.wait_for_job(JOB_ID, timeout=600)

    assert job.status == "COMPLETED"
    assert requests_mock.call_count == 5
    assert len(retry_waits) == 2
    assert sleeps == pytest.approx([2.0, 3.0])


def test_wait_for_job_ignores_max_retries_until_the_deadline(
    use_connection: Any, requests_mock: Any, sleeps: list[float]
) -> None:
    use_connection(BASE_URL, max_retries=0)
    requests_mock.get(
        JOB_URL, [ok(job_body("QUEUED"))] + [fail(503, "Queue unavailable")] * 6 + [ok(job_body())]
    )

    job = ApiframeHook().wait_for_job(JOB_ID, timeout=600)

    assert job.status == "COMPLETED"
    assert requests_mock.call_count == 8


def test_wait_for_job_times_out_naming_the_job(
    hook: ApiframeHook, requests_mock: Any, sleeps: list[float]
) -> None:
    requests_mock.get(JOB_URL, json=job_body("PROCESSING", progress=55))

    started = time.monotonic()
    with pytest.raises(ApiframeJobTimeoutError) as info:
        hook.wait_for_job(JOB_ID, timeout=0.3, poll_interval=5.0)

    assert time.monotonic() - started < 3
    assert info.value.job_id == JOB_ID
    assert JOB_ID in str(info.value)
    assert "PROCESSING, progress 55" in str(info.value)
    assert sleeps
    assert all(wait <= 0.3 + 1e-6 for wait in sleeps)  # no wait runs past the deadline


def test_wait_for_job_outage_until_the_deadline_is_a_timeout(
    hook: ApiframeHook, requests_mock: Any, sleeps: list[float]
) -> None:
    requests_mock.get(JOB_URL, [ok(job_body("QUEUED")), fail(503, "Queue unavailable")])

    with pytest.raises(ApiframeJobTimeoutError) as info:
        hook.wait_for_job(JOB_ID, timeout=0.3)

    assert info.value.job_id == JOB_ID
    assert "HTTP 503: Queue unavailable" in str(info.value)


def test_wait_for_job_404_raises_at_once(hook: ApiframeHook, requests_mock: Any, sleeps: list[float]) -> None:
    requests_mock.get(JOB_URL, [fail(404, "Job not found", request_id="req-404"), ok(job_body())])

    with pytest.raises(ApiframeNotFoundError, match=r"HTTP 404: Job not found \[request id req-404\]"):
        hook.wait_for_job(JOB_ID, timeout=600)

    assert requests_mock.call_count == 1
    assert sleeps == []


def test_wait_for_job_unknown_status_raises_at_once(
    hook: ApiframeHook, requests_mock: Any, sleeps: list[float]
) -> None:
    requests_mock.get(JOB_URL, [ok(job_body("PAUSED")), ok(job_body())])

    with pytest.raises(ApiframeJobError, match="'PAUSED'"):
        hook.wait_for_job(JOB_ID, timeout=600)

    assert requests_mock.call_count == 1


# --- configuration errors ------------------------------------------------------------------------------


def test_missing_password_is_a_config_error(monkeypatch: pytest.MonkeyPatch, requests_mock: Any) -> None:
    conn = {"conn_type": "apiframe", "host": BASE_URL}
    monkeypatch.setenv("AIRFLOW_CONN_APIFRAME_DEFAULT", json.dumps(conn))

    with pytest.raises(ApiframeConfigError, match="password"):
        ApiframeHook().get_me()

    assert requests_mock.call_count == 0


@pytest.mark.parametrize(
    "host", ["ftp://api.example.test", "http://api.example.test:0", "https://", "http://h:port"]
)
def test_bad_host_is_a_config_error_naming_it(use_connection: Any, requests_mock: Any, host: str) -> None:
    use_connection(host)

    with pytest.raises(ApiframeConfigError) as info:
        ApiframeHook().get_me()

    assert repr(host) in str(info.value)
    assert requests_mock.call_count == 0


@pytest.mark.parametrize(
    ("extras", "field"),
    [
        pytest.param({"max_retries": -1}, "max_retries", id="negative-retries"),
        pytest.param({"timeout": "soon"}, "timeout", id="timeout-not-a-number"),
        pytest.param({"verify_ssl": "maybe"}, "verify_ssl", id="verify-not-a-bool"),
    ],
)
def test_bad_extra_is_a_config_error_naming_it(
    use_connection: Any, requests_mock: Any, extras: dict[str, Any], field: str
) -> None:
    use_connection(BASE_URL, **extras)

    with pytest.raises(ApiframeConfigError, match=field):
        ApiframeHook().get_me()

    assert requests_mock.call_count == 0


def test_prefixed_extras_are_read(use_connection: Any, requests_mock: Any) -> None:
    use_connection(BASE_URL, extra__apiframe__max_retries="1", extra__apiframe__timeout="5")
    requests_mock.get(ME_URL, **fail(503, "down"))

    with pytest.raises(ApiframeServerError):
        ApiframeHook().get_me()

    assert requests_mock.call_count == 2
    assert requests_mock.last_request.timeout == 5.0


@pytest.fixture
def no_ca_bundle_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("no_ca_bundle_env")
def test_verify_ssl_false_warns_and_turns_verification_off(use_connection: Any, requests_mock: Any) -> None:
    use_connection(BASE_URL, verify_ssl=False)
    requests_mock.get(ME_URL, json=ME_BODY)

    with structlog.testing.capture_logs() as logs:
        hook = ApiframeHook()
        hook.get_me()

    warnings = [entry for entry in logs if entry["log_level"] == "warning"]
    assert len(warnings) == 1
    assert "verification is OFF" in str(warnings[0])
    assert hook.get_conn()._session.verify is False
    assert requests_mock.last_request.verify is False


@pytest.mark.usefixtures("no_ca_bundle_env")
def test_verify_ssl_defaults_on_without_warning(hook: ApiframeHook, requests_mock: Any) -> None:
    requests_mock.get(ME_URL, json=ME_BODY)

    with structlog.testing.capture_logs() as logs:
        hook.get_me()

    assert [entry for entry in logs if entry["log_level"] == "warning"] == []
    assert hook.get_conn()._session.verify is True
    assert requests_mock.last_request.verify is True


def test_verify_ssl_false_wins_over_a_ca_bundle_in_the_environment(
    use_connection: Any, requests_mock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # requests merges REQUESTS_CA_BUNDLE over ``Session.verify`` (psf/requests#3829): setting only the
    # session attribute does not turn verification off when the variable is set, as it often is in
    # corporate images. The provider has to pass ``verify=`` with each request.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    use_connection(BASE_URL, verify_ssl=False)
    requests_mock.get(ME_URL, json=ME_BODY)

    ApiframeHook().get_me()

    assert requests_mock.last_request.verify is False


# --- the key never leaks -------------------------------------------------------------------------------


def _leak_scenarios() -> list[Any]:
    return [
        pytest.param("GET", [fail(401, "Invalid API key")], ApiframeAuthenticationError, id="401"),
        pytest.param("GET", [fail(503, "Queue unavailable")], ApiframeServerError, id="503-storm-get"),
        pytest.param("POST", [fail(503, "Queue unavailable")], ApiframeServerError, id="503-storm-post"),
        pytest.param(
            "GET",
            [fail(429, "Slow down", **{"Retry-After": "1"})],
            ApiframeRateLimitError,
            id="429-storm",
        ),
        pytest.param(
            "GET",
            [
                {
                    "exc": requests.exceptions.ConnectionError(
                        "HTTPSConnectionPool(host='api.apiframe.test', port=443): Max retries exceeded "
                        f"with url: /v2/jobs/{JOB_ID} (Caused by NewConnectionError('Connection refused'))"
                    )
                }
            ],
            ApiframeTransportError,
            id="connection-error",
        ),
    ]


@pytest.mark.parametrize(("method", "answers", "error"), _leak_scenarios())
def test_the_key_never_appears_in_errors_or_logs(
    hook: ApiframeHook,
    requests_mock: Any,
    caplog: pytest.LogCaptureFixture,
    method: str,
    answers: list[dict[str, Any]],
    error: type[ApiframeError],
) -> None:
    caplog.set_level(logging.DEBUG)
    url = JOB_URL if method == "GET" else GENERATE_URL
    requests_mock.register_uri(method, url, answers)

    with structlog.testing.capture_logs() as logs, pytest.raises(error) as info:
        _send(hook, method)

    exc = info.value
    assert all(r.headers["X-API-Key"] == API_KEY for r in requests_mock.request_history)
    texts = {
        "str": str(exc),
        "repr": repr(exc),
        "traceback": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
        "caplog": caplog.text,
        "structlog": repr(logs),
        "config": repr(hook.config),
    }
    for where, text in texts.items():
        assert API_KEY not in text, f"API key leaked into {where}"
        assert API_KEY[:12] not in text, f"API key prefix leaked into {where}"
    if requests_mock.call_count > 1:
        assert len(logs) == requests_mock.call_count - 1  # one warning per retry, checked above
