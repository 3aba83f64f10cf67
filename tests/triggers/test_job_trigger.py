"""The async path (AsyncTransport, the hook's ``a`` methods, ApiframeJobTrigger) over httpx.MockTransport."""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import itertools
import json
import ssl
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import requests
import structlog
from support import API_KEY, IMAGE, JOB_ID, ME_BODY, LoopClock, job_body

from airflow_provider_apiframe.core import calls, clock
from airflow_provider_apiframe.core.config import client_config
from airflow_provider_apiframe.core.errors import (
    ApiframeAuthenticationError,
    ApiframeBadRequestError,
    ApiframeError,
    ApiframeHTTPError,
    ApiframeJobTimeoutError,
    ApiframeNotFoundError,
    ApiframePermissionError,
    ApiframeTransportError,
)
from airflow_provider_apiframe.hooks.apiframe import ApiframeHook
from airflow_provider_apiframe.transports import asynchronous as transport_module
from airflow_provider_apiframe.transports.asynchronous import AsyncTransport
from airflow_provider_apiframe.transports.base import USER_AGENT
from airflow_provider_apiframe.triggers.job import ApiframeJobTrigger, JobEvent

BASE_URL = "https://api.apiframe.test"
CLASSPATH = "airflow_provider_apiframe.triggers.job.ApiframeJobTrigger"


@dataclasses.dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    raw: bytes | None = None

    def response(self) -> httpx.Response:
        if self.raw is not None:
            return httpx.Response(self.status, content=self.raw, headers=self.headers)
        return httpx.Response(self.status, json=self.body, headers=self.headers)


def ok(body: Any) -> Reply:
    return Reply(200, body)


def job(status: str = "COMPLETED", **fields: Any) -> Reply:
    return ok(job_body(status, **fields))


def fail(status: int, text: str, request_id: str = "req-123", **headers: str) -> Reply:
    return Reply(status, {"error": text}, {"x-request-id": request_id, **headers})


class FakeApi:
    """
    The handler behind every ``httpx.AsyncClient`` the provider creates in a test.

    Answers come from a script (a :class:`Reply` or an exception to raise); the last one repeats.
    Records every request and every client (with the arguments it was built with).
    """

    def __init__(self) -> None:
        self.script: list[Reply | Exception] = [Reply(500, {"error": "nothing scripted"})]
        self.requests: list[httpx.Request] = []
        self.clients: list[httpx.AsyncClient] = []
        self.client_kwargs: list[dict[str, Any]] = []
        self.latency = 0.0

    def answer(self, *answers: Reply | Exception) -> None:
        self.script = list(answers)

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if self.latency:
            await asyncio.sleep(self.latency)
        if isinstance(answer, Exception):
            raise answer
        return answer.response()


@pytest.fixture
def api(connection: str, monkeypatch: pytest.MonkeyPatch) -> FakeApi:
    """
    Route the provider's httpx clients to a :class:`FakeApi`.

    The seam is ``httpx.AsyncClient`` itself, as the transport module sees it: the real
    ``AsyncTransport.open`` still runs (base URL, headers, timeout, TLS setting), only the network
    under the client is replaced by ``httpx.MockTransport``.
    """
    fake = FakeApi()
    real_client = httpx.AsyncClient

    class MockedAsyncClient(real_client):  # type: ignore[misc, valid-type]
        def __init__(self, **kwargs: Any) -> None:
            fake.clients.append(self)
            fake.client_kwargs.append(kwargs)
            super().__init__(transport=httpx.MockTransport(fake), **kwargs)

    monkeypatch.setattr(transport_module.httpx, "AsyncClient", MockedAsyncClient)
    return fake


@pytest.fixture(autouse=True)
def no_sync_http(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Fail any blocking ``requests`` call: the async path must not make one."""
    made: list[str] = []

    def refuse(self: requests.Session, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        made.append(f"{method} {url}")
        raise AssertionError(f"blocking requests call in the async path: {method} {url}")

    monkeypatch.setattr(requests.Session, "request", refuse)
    return made


@pytest.fixture
def poll_waits() -> Iterator[list[float]]:
    """Record the waits between polls of ``await_for_job`` without waiting (a fake clock in use)."""
    # Only the poll waits are the clock's: retry sleeps, the rate governor and the loop stay untouched.
    with clock.use(LoopClock()) as fake:
        yield fake.sleeps


async def run_trigger(trigger: ApiframeJobTrigger) -> list[dict[str, Any]]:
    """Run the trigger to its end and return every event payload it yielded."""
    return [event.payload async for event in trigger.run()]


def trigger(deadline_in: float = 600.0, **kwargs: Any) -> ApiframeJobTrigger:
    kwargs.setdefault("poll_interval", 0.01)
    return ApiframeJobTrigger(JOB_ID, deadline=time.time() + deadline_in, **kwargs)


def only_event(payloads: list[dict[str, Any]]) -> JobEvent:
    """Assert there is exactly one event, that it is JSON, and parse it like the operator does."""
    assert len(payloads) == 1, payloads
    payload = payloads[0]
    assert json.loads(json.dumps(payload)) == payload
    assert API_KEY not in json.dumps(payload)
    return JobEvent.parse(payload)


# --- AsyncTransport and the hook's async methods -------------------------------------------------------


async def test_aget_job_sends_auth_headers_to_the_base_url(api: FakeApi) -> None:
    api.answer(job(progress=100, creditCost=20))
    hook = ApiframeHook()

    found = await hook.aget_job(JOB_ID)
    await hook.aclose()

    assert (found.id, found.status, found.credit_cost) == (JOB_ID, "COMPLETED", 20)
    assert found.result == {"images": [IMAGE]}
    (request,) = api.requests
    assert request.method == "GET"
    assert str(request.url) == f"{BASE_URL}/v2/jobs/{JOB_ID}"
    assert request.headers["X-API-Key"] == API_KEY
    assert request.headers["User-Agent"] == USER_AGENT
    assert request.headers["Accept"] == "application/json"


async def test_a_connection_the_async_lookup_misses_is_read_the_sync_way_off_the_loop(
    api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``airflow dags test``: the async lookup misses database connections; the sync one finds them."""
    from airflow.sdk import BaseHook

    from airflow_provider_apiframe._compat import AirflowNotFoundException

    async def misses(cls: type, conn_id: str) -> Any:
        raise AirflowNotFoundException(f"The conn_id `{conn_id}` isn't defined")

    found_in: list[int] = []
    sync_lookup = BaseHook.get_connection.__func__  # type: ignore[attr-defined]

    def finds(cls: type, conn_id: str) -> Any:
        found_in.append(threading.get_ident())
        return sync_lookup(cls, conn_id)

    monkeypatch.setattr(BaseHook, "aget_connection", classmethod(misses))
    monkeypatch.setattr(BaseHook, "get_connection", classmethod(finds))
    api.answer(ok(ME_BODY))
    hook = ApiframeHook()

    me = await hook.aget_me()
    await hook.aclose()

    assert me.user.email == "dev@example.com"
    assert api.requests[0].headers["X-API-Key"] == API_KEY
    assert found_in, "the sync lookup ran"
    assert threading.get_ident() not in found_in, "in a worker thread, not on the loop"


async def test_a_connection_no_lookup_finds_ends_the_trigger_with_one_clear_event(
    api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.sdk import BaseHook

    from airflow_provider_apiframe._compat import AirflowNotFoundException

    async def amisses(cls: type, conn_id: str) -> Any:
        raise AirflowNotFoundException(f"The conn_id `{conn_id}` isn't defined")

    def misses(cls: type, conn_id: str) -> Any:
        raise AirflowNotFoundException(f"The conn_id `{conn_id}` isn't defined")

    monkeypatch.setattr(BaseHook, "aget_connection", classmethod(amisses))
    monkeypatch.setattr(BaseHook, "get_connection", classmethod(misses))

    event = only_event(await run_trigger(trigger()))

    assert event.status == "error"
    assert "The conn_id `apiframe_default` isn't defined" in event.message
    assert api.requests == []


async def test_aget_me(api: FakeApi) -> None:
    api.answer(ok(ME_BODY))
    hook = ApiframeHook()

    me = await hook.aget_me()
    await hook.aclose()

    assert me.user.email == "dev@example.com"
    assert me.team is not None
    assert me.team.credits == 1234
    assert str(api.requests[0].url) == f"{BASE_URL}/v2/me"
    assert api.requests[0].headers["X-API-Key"] == API_KEY


async def test_open_builds_the_client_from_the_connection(api: FakeApi, use_connection: Any) -> None:
    use_connection("http://127.0.0.1:8080", timeout=12)
    api.answer(ok(ME_BODY))
    hook = ApiframeHook()

    await hook.aget_me()
    await hook.aclose()

    (kwargs,) = api.client_kwargs
    assert kwargs["base_url"] == "http://127.0.0.1:8080"
    assert kwargs["timeout"] == 12.0
    assert isinstance(kwargs["verify"], ssl.SSLContext)
    assert str(api.requests[0].url) == "http://127.0.0.1:8080/v2/me"


async def test_open_with_verify_ssl_false_warns(api: FakeApi, use_connection: Any) -> None:
    use_connection(BASE_URL, verify_ssl=False)
    api.answer(ok(ME_BODY))

    with structlog.testing.capture_logs() as logs:
        hook = ApiframeHook()
        await hook.aget_me()
        await hook.aclose()

    assert api.client_kwargs[0]["verify"] is False
    assert any("verification is OFF" in str(entry) for entry in logs if entry["log_level"] == "warning")


async def test_transport_used_directly_over_a_mock_transport() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=job_body())

    config = client_config(api_key=API_KEY, host=BASE_URL)
    client = httpx.AsyncClient(
        base_url=config.base_url,
        headers={"X-API-Key": config.api_key},
        transport=httpx.MockTransport(handler),
    )
    transport = AsyncTransport(config, client)

    found = await transport.send(calls.get_job(JOB_ID))
    await transport.aclose()

    assert found.status == "COMPLETED"
    assert seen[0].headers["X-API-Key"] == API_KEY
    assert client.is_closed


@pytest.mark.parametrize(
    ("transient", "asked"),
    [
        pytest.param(fail(429, "Too many requests", **{"Retry-After": "3"}), [3.0], id="429-retry-after"),
        pytest.param(fail(503, "Queue unavailable"), None, id="503"),
        pytest.param(fail(502, "Bad gateway"), None, id="502"),
        pytest.param(httpx.ConnectError("connection refused"), None, id="connect-error"),
        pytest.param(httpx.ReadTimeout("read timed out"), None, id="read-timeout"),
        pytest.param(Reply(200, raw=b"<html>proxy</html>"), None, id="malformed-json"),
    ],
)
async def test_transient_errors_are_retried(
    api: FakeApi, retry_waits: list[float], transient: Reply | Exception, asked: list[float] | None
) -> None:
    api.answer(transient, transient, job())
    hook = ApiframeHook()

    found = await hook.aget_job(JOB_ID)
    await hook.aclose()

    assert found.status == "COMPLETED"
    assert len(api.requests) == 3
    assert len(api.clients) == 1
    if asked is not None:
        assert retry_waits == asked * 2
    else:
        assert len(retry_waits) == 2
        assert all(0 <= wait <= 1.0 for wait in retry_waits)


async def test_retries_are_bounded_by_max_retries(
    api: FakeApi, use_connection: Any, retry_waits: list[float]
) -> None:
    use_connection(BASE_URL, max_retries=1)
    api.answer(httpx.ConnectError("connection refused"), httpx.ConnectError("connection refused"), job())
    hook = ApiframeHook()

    with pytest.raises(ApiframeTransportError, match="ConnectError: connection refused"):
        await hook.aget_job(JOB_ID)
    await hook.aclose()

    assert len(api.requests) == 2


@pytest.mark.parametrize(
    ("status", "text", "error"),
    [
        pytest.param(404, "Job not found", ApiframeNotFoundError, id="404"),
        pytest.param(401, "Invalid API key", ApiframeAuthenticationError, id="401"),
        pytest.param(403, "API key is inactive", ApiframePermissionError, id="403"),
        pytest.param(400, "Invalid job id", ApiframeBadRequestError, id="400"),
    ],
)
async def test_permanent_errors_raise_at_once(
    api: FakeApi, retry_waits: list[float], status: int, text: str, error: type[ApiframeHTTPError]
) -> None:
    api.answer(fail(status, text, request_id="req-77"), job())
    hook = ApiframeHook()

    with pytest.raises(error) as info:
        await hook.aget_job(JOB_ID)
    await hook.aclose()

    assert len(api.requests) == 1
    assert retry_waits == []
    assert info.value.status_code == status
    assert f"HTTP {status}: {text}" in str(info.value)
    assert info.value.request_id == "req-77"
    assert "[request id req-77]" in str(info.value)
    assert API_KEY not in repr(info.value)


async def test_await_for_job_polls_to_completed(api: FakeApi, poll_waits: list[float]) -> None:
    api.answer(job("QUEUED"), job("PROCESSING", progress=30), job("PROCESSING", progress=80), job())
    hook = ApiframeHook()

    found = await hook.await_for_job(JOB_ID, timeout=600)
    await hook.aclose()

    assert found.status == "COMPLETED"
    assert len(api.requests) == 4
    assert poll_waits == pytest.approx([2.0, 3.0, 4.5])


async def test_await_for_job_rides_out_transient_errors(
    api: FakeApi, use_connection: Any, poll_waits: list[float]
) -> None:
    use_connection(BASE_URL, max_retries=0)  # polls ride out errors until the deadline, not max_retries
    api.answer(
        job("QUEUED"),
        fail(503, "Queue unavailable"),
        fail(429, "Slow down", **{"Retry-After": "1"}),
        httpx.ConnectError("connection reset"),
        job(),
    )
    hook = ApiframeHook()

    found = await hook.await_for_job(JOB_ID, timeout=600)
    await hook.aclose()

    assert found.status == "COMPLETED"
    assert len(api.requests) == 5
    assert poll_waits == pytest.approx([2.0])


async def test_await_for_job_404_raises_at_once(api: FakeApi, poll_waits: list[float]) -> None:
    api.answer(job("QUEUED"), fail(404, "Job not found"), job())
    hook = ApiframeHook()

    with pytest.raises(ApiframeNotFoundError, match="Job not found"):
        await hook.await_for_job(JOB_ID, timeout=600)
    await hook.aclose()

    assert len(api.requests) == 2


async def test_await_for_job_times_out(api: FakeApi) -> None:
    api.answer(job("PROCESSING", progress=10))
    hook = ApiframeHook()

    with pytest.raises(ApiframeJobTimeoutError) as info:
        await hook.await_for_job(JOB_ID, timeout=0.2, poll_interval=0.05)
    await hook.aclose()

    assert info.value.job_id == JOB_ID
    assert len(api.clients) == 1


async def test_one_client_is_reused_across_many_polls(api: FakeApi, poll_waits: list[float]) -> None:
    api.answer(
        *[job("PROCESSING", progress=p) for p in range(0, 100, 10)],
        fail(503, "blip"),
        httpx.ConnectError("blip"),
        job(),
    )
    hook = ApiframeHook()

    found = await hook.await_for_job(JOB_ID, timeout=600)
    again = await hook.aget_job(JOB_ID)

    assert (found.status, again.status) == ("COMPLETED", "COMPLETED")
    assert len(api.requests) == 14
    assert len(api.clients) == 1
    assert not api.clients[0].is_closed
    await hook.aclose()
    assert api.clients[0].is_closed


async def test_aclose_closes_the_client_and_a_later_call_opens_a_new_one(api: FakeApi) -> None:
    api.answer(job())
    hook = ApiframeHook()

    await hook.aget_job(JOB_ID)
    first = api.clients[0]
    await hook.aclose()
    await hook.aclose()  # twice is harmless

    assert first.is_closed
    await hook.aget_job(JOB_ID)
    assert len(api.clients) == 2
    assert not api.clients[1].is_closed
    await hook.aclose()
    assert api.clients[1].is_closed


async def test_aclose_without_any_call_opens_nothing(api: FakeApi) -> None:
    hook = ApiframeHook()

    await hook.aclose()

    assert api.clients == []
    assert api.requests == []


# --- ApiframeJobTrigger: serialization -----------------------------------------------------------------


def test_serialize_round_trips_through_the_classpath() -> None:
    original = ApiframeJobTrigger(
        JOB_ID,
        deadline=1_800_000_000.5,
        apiframe_conn_id="apiframe_prod",
        poll_interval=7.0,
        deferred_on_try=3,
    )

    classpath, kwargs = original.serialize()

    assert classpath == CLASSPATH
    module_name, class_name = classpath.rsplit(".", 1)
    cls = getattr(importlib.import_module(module_name), class_name)
    assert cls is ApiframeJobTrigger
    rebuilt = cls(**json.loads(json.dumps(kwargs)))
    assert rebuilt.serialize() == original.serialize()
    assert kwargs == {
        "job_id": JOB_ID,
        "deadline": 1_800_000_000.5,
        "apiframe_conn_id": "apiframe_prod",
        "poll_interval": 7.0,
        "deferred_on_try": 3,
    }


async def test_serialized_kwargs_never_hold_the_key(api: FakeApi) -> None:
    api.answer(job())
    t = trigger()

    await run_trigger(t)  # even after the trigger has read the connection
    classpath, kwargs = t.serialize()

    assert set(kwargs) == {"job_id", "deadline", "apiframe_conn_id", "poll_interval", "deferred_on_try"}
    assert kwargs["apiframe_conn_id"] == "apiframe_default"
    assert API_KEY not in json.dumps([classpath, kwargs])
    assert API_KEY not in repr(t)


# --- ApiframeJobTrigger.run: exactly one event ---------------------------------------------------------


async def test_run_success(api: FakeApi) -> None:
    api.answer(job("QUEUED"), job("PROCESSING", progress=50), job())

    event = only_event(await run_trigger(trigger()))

    assert event.status == "success"
    assert event.job_id == JOB_ID
    assert event.job is not None
    assert event.job["id"] == JOB_ID
    assert event.job["status"] == "COMPLETED"
    assert event.job["result"] == {"images": [IMAGE]}
    assert event.job["creditCost"] == 10
    assert "COMPLETED" in event.message
    assert len(api.requests) == 3
    assert len(api.clients) == 1
    assert api.clients[0].is_closed


async def test_run_waits_before_its_first_poll(api: FakeApi, poll_waits: list[float]) -> None:
    # The operator read the status just before deferring: polling again at once would waste a call.
    api.answer(job())

    event = only_event(await run_trigger(trigger(poll_interval=5.0)))

    assert event.status == "success"
    assert poll_waits == [2.0]
    assert len(api.requests) == 1


async def test_run_failed_carries_the_api_error(api: FakeApi) -> None:
    api.answer(
        job("PROCESSING"), job("FAILED", progress=None, error="Request rejected by the content policy")
    )

    event = only_event(await run_trigger(trigger()))

    assert event.status == "failed"
    assert "Request rejected by the content policy" in event.message
    assert event.job is not None
    assert event.job["status"] == "FAILED"
    assert event.job["error"] == "Request rejected by the content policy"
    assert api.clients[0].is_closed


async def test_run_cancelled_is_failed(api: FakeApi) -> None:
    api.answer(job("CANCELLED"))

    event = only_event(await run_trigger(trigger()))

    assert event.status == "failed"
    assert "CANCELLED" in event.message
    assert event.job is not None
    assert event.job["status"] == "CANCELLED"


async def test_run_rides_out_transient_errors(api: FakeApi, retry_waits: list[float]) -> None:
    api.answer(
        fail(429, "Slow down", **{"Retry-After": "2"}),
        job("QUEUED"),
        fail(503, "Queue unavailable"),
        httpx.ConnectError("connection refused"),
        fail(502, "Bad gateway"),
        job("PROCESSING"),
        job(),
    )

    event = only_event(await run_trigger(trigger()))

    assert event.status == "success"
    assert len(api.requests) == 7
    assert len(api.clients) == 1
    assert retry_waits[0] == 2.0
    assert len(retry_waits) == 4


@pytest.mark.parametrize(
    ("status", "text"),
    [pytest.param(401, "Invalid API key", id="401"), pytest.param(404, "Job not found", id="404")],
)
async def test_run_permanent_error_is_an_error_event(
    api: FakeApi, retry_waits: list[float], status: int, text: str
) -> None:
    api.answer(job("QUEUED"), fail(status, text, request_id="req-55"), job())

    event = only_event(await run_trigger(trigger()))

    assert event.status == "error"
    assert event.job_id == JOB_ID
    assert event.job is None
    assert f"HTTP {status}: {text}" in event.message
    assert "req-55" in event.message
    assert len(api.requests) == 2
    assert retry_waits == []
    assert api.clients[0].is_closed


async def test_run_deadline_passed_is_a_timeout_event(api: FakeApi) -> None:
    api.answer(job("PROCESSING", progress=42))

    started = time.monotonic()
    event = only_event(await run_trigger(trigger(deadline_in=0.3, poll_interval=5.0)))

    assert time.monotonic() - started < 3
    assert event.status == "timeout"
    assert event.job_id == JOB_ID
    assert JOB_ID in event.message
    assert "PROCESSING, progress 42" in event.message
    assert event.job is None
    assert len(api.clients) == 1
    assert api.clients[0].is_closed


@pytest.mark.parametrize(
    ("answers", "deadline_in", "status"),
    [
        ([job()], 600.0, "success"),
        ([job("FAILED", error="Content policy")], 600.0, "failed"),
        ([fail(404, "Job not found")], 600.0, "error"),
        ([job("PROCESSING")], 0.2, "timeout"),
    ],
)
async def test_every_event_names_the_try_that_deferred(
    api: FakeApi, answers: list[Reply], deadline_in: float, status: str
) -> None:
    # Airflow 3.1.0 may hand this event to a later try (apache/airflow#56704): it must say whose it is.
    api.answer(*answers)

    event = only_event(await run_trigger(trigger(deadline_in, deferred_on_try=4, poll_interval=5.0)))

    assert event.status == status
    assert event.deferred_on_try == 4


async def test_run_deadline_already_past_polls_once(api: FakeApi) -> None:
    api.answer(job("QUEUED"))

    event = only_event(await run_trigger(trigger(deadline_in=-60)))

    assert event.status == "timeout"
    assert JOB_ID in event.message
    assert len(api.requests) == 1


async def test_run_outage_until_the_deadline_is_a_timeout_event(api: FakeApi) -> None:
    api.answer(job("QUEUED"), fail(503, "Queue unavailable"))

    event = only_event(await run_trigger(trigger(deadline_in=0.3)))

    assert event.status == "timeout"
    assert JOB_ID in event.message
    assert "HTTP 503: Queue unavailable" in event.message


async def test_run_unknown_status_is_an_error_event(api: FakeApi) -> None:
    api.answer(job("QUEUED"), job("ARCHIVED"), job())

    event = only_event(await run_trigger(trigger()))

    assert event.status == "error"
    assert "'ARCHIVED'" in event.message
    assert len(api.requests) == 2


async def test_run_missing_connection_is_an_error_event(api: FakeApi) -> None:
    payloads = await run_trigger(trigger(apiframe_conn_id="apiframe_does_not_exist"))

    event = only_event(payloads)
    assert event.status == "error"
    assert event.job_id == JOB_ID
    assert event.message
    assert api.requests == []


async def test_run_connection_without_key_is_an_error_event(
    api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_APIFRAME_DEFAULT", json.dumps({"conn_type": "apiframe", "host": BASE_URL})
    )

    event = only_event(await run_trigger(trigger()))

    assert event.status == "error"
    assert "password" in event.message
    assert api.requests == []
    assert api.clients == []


async def test_run_never_logs_the_key(api: FakeApi) -> None:
    api.answer(fail(503, "down"), fail(401, "Invalid API key"))

    with structlog.testing.capture_logs() as logs:
        event = only_event(await run_trigger(trigger()))

    assert event.status == "error"
    assert logs  # the retry warning and the final event message were logged
    assert API_KEY not in repr(logs)


async def test_run_logs_each_status_once(api: FakeApi) -> None:
    api.answer(job("QUEUED"), job("PROCESSING", progress=20), job("PROCESSING", progress=60), job())

    with structlog.testing.capture_logs() as logs:
        only_event(await run_trigger(trigger()))

    assert [entry["event"] for entry in logs] == [
        f"Apiframe job {JOB_ID} is QUEUED (0%)",
        f"Apiframe job {JOB_ID} is PROCESSING (20%)",
        f"Apiframe job {JOB_ID} is COMPLETED (100%)",
    ], "progress 60 % came 30 s too soon after 20 %; COMPLETED is not repeated by the event"


async def test_run_logs_why_a_job_did_not_complete(api: FakeApi) -> None:
    api.answer(job("FAILED", error="Content policy violation"))

    with structlog.testing.capture_logs() as logs:
        only_event(await run_trigger(trigger()))

    assert logs[-1]["event"] == f"Apiframe job {JOB_ID} ended FAILED: Content policy violation"


# --- JobEvent.parse ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(None, id="none"),
        pytest.param({"status": "done", "job_id": JOB_ID, "message": "m"}, id="unknown-status"),
        pytest.param({"status": "timeout", "job_id": JOB_ID, "message": "m", "extra": 1}, id="extra-key"),
        pytest.param({"status": "success", "job_id": JOB_ID, "message": "m"}, id="success-without-job"),
        pytest.param(
            {"status": "failed", "job_id": JOB_ID, "message": "m", "job": None}, id="failed-without-job"
        ),
        pytest.param({"status": "error", "message": "m"}, id="no-job-id"),
        pytest.param("success", id="not-a-mapping"),
    ],
)
def test_job_event_parse_rejects(payload: Any) -> None:
    with pytest.raises(ApiframeError):
        JobEvent.parse(payload)


@pytest.mark.parametrize("status", ["timeout", "error"])
def test_job_event_parse_accepts_events_without_a_job(status: str) -> None:
    event = JobEvent.parse({"status": status, "job_id": JOB_ID, "message": "m"})

    assert (event.status, event.job_id, event.message, event.job) == (status, JOB_ID, "m", None)


def test_job_event_parse_accepts_success_with_a_job() -> None:
    event = JobEvent.parse({"status": "success", "job_id": JOB_ID, "message": "m", "job": job_body()})

    assert event.job == job_body()


# --- nothing blocks the event loop ---------------------------------------------------------------------


async def test_trigger_never_blocks_the_event_loop(api: FakeApi, no_sync_http: list[str]) -> None:
    api.latency = 0.03  # each answer takes 30 ms, awaited
    api.answer(*[job("PROCESSING", progress=p) for p in range(0, 100, 20)], fail(503, "blip"), job())
    ticks: list[float] = []

    async def ticker() -> None:
        while True:
            ticks.append(time.monotonic())
            await asyncio.sleep(0.01)

    ticking = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    started = time.monotonic()
    try:
        event = only_event(await run_trigger(trigger(poll_interval=0.03)))
    finally:
        ticking.cancel()
    elapsed = time.monotonic() - started

    assert event.status == "success"
    assert no_sync_http == []
    assert elapsed >= 0.2  # 7 answers of 30 ms each, plus the polls' waits
    assert len(ticks) >= 10
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert max(gaps) < 0.25


async def test_async_path_makes_no_requests_call(api: FakeApi, no_sync_http: list[str]) -> None:
    api.answer(ok(ME_BODY))
    hook = ApiframeHook()

    await hook.aget_me()
    await hook.aclose()

    assert no_sync_http == []
    assert len(api.requests) == 1


def test_the_requests_guard_catches_a_blocking_call(connection: str, no_sync_http: list[str]) -> None:
    # The guard above is not vacuous: the sync path does go through requests.Session.request.
    with pytest.raises(AssertionError, match="blocking requests call"):
        ApiframeHook().get_me()

    assert no_sync_http == [f"GET {BASE_URL}/v2/me"]


async def test_concurrent_first_calls_share_one_client(api: FakeApi) -> None:
    # ``_aget_transport`` awaits ``AsyncTransport.open`` (which loads CA certificates in a thread)
    # between checking for a transport and storing it, so calls racing on a fresh hook each open one.
    api.answer(job())
    hook = ApiframeHook()

    found = await asyncio.gather(*(hook.aget_job(JOB_ID) for _ in range(3)))
    await hook.aclose()

    assert [j.status for j in found] == ["COMPLETED"] * 3
    assert len(api.clients) == 1
    assert all(client.is_closed for client in api.clients)
