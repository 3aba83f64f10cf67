"""Both transports tell their configuration's ``on_retry`` of every retry: why, which attempt, how long."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import requests

from airflow_provider_apiframe.core import calls
from airflow_provider_apiframe.core.config import ClientConfig
from airflow_provider_apiframe.core.errors import ApiframeServerError
from airflow_provider_apiframe.core.retry import RetryEvent, RetryPolicy
from airflow_provider_apiframe.transports.asynchronous import AsyncTransport
from airflow_provider_apiframe.transports.sync import SyncTransport

BASE_URL = "https://api.example.test"
JOB_ID = "0b9e4c38-6f2a-4a0e-9d7c-2f1d6f0e8a11"
JOB = {"id": JOB_ID, "status": "QUEUED", "model": "gpt-image-1.5"}


def config(events: list[RetryEvent], attempts: int = 5) -> ClientConfig:
    return ClientConfig(
        api_key="afk_x", base_url=BASE_URL, retry=RetryPolicy(max_attempts=attempts), on_retry=events.append
    )


def test_the_sync_transport_tells_each_retry_and_its_reason(
    requests_mock: Any, retry_waits: list[float]
) -> None:
    requests_mock.get(
        f"{BASE_URL}/v2/jobs/{JOB_ID}",
        [
            {"status_code": 503, "json": {"error": "down"}},
            {"exc": requests.exceptions.ConnectTimeout},
            {"status_code": 200, "text": "not json"},
            {"status_code": 429, "json": {"error": "slow down"}, "headers": {"Retry-After": "2"}},
            {"status_code": 200, "json": JOB},
        ],
    )
    events: list[RetryEvent] = []
    transport = SyncTransport(config(events))

    assert transport.send(calls.get_job(JOB_ID)).id == JOB_ID

    assert [(e.reason, e.attempt, e.rate_limited) for e in events] == [
        ("503", 1, False),
        ("no_response", 2, False),
        ("bad_body", 3, False),
        ("429", 4, True),
    ]
    assert retry_waits[-1] == 2.0, "the Retry-After"
    assert events[-1].wait == pytest.approx(2.0 / 1000), "the wait as slept (the tests sleep a thousandth)"
    assert {e.call for e in events} == {f"GET /v2/jobs/{JOB_ID}"}


def test_no_retry_no_event_and_the_last_failure_is_not_a_retry(requests_mock: Any) -> None:
    requests_mock.get(f"{BASE_URL}/v2/jobs/{JOB_ID}", status_code=503, json={"error": "down"})
    events: list[RetryEvent] = []
    with pytest.raises(ApiframeServerError):
        SyncTransport(config(events, attempts=2)).send(calls.get_job(JOB_ID))
    assert [e.attempt for e in events] == [1], "two attempts, one retry"


def test_a_transport_without_an_observer_retries_the_same(requests_mock: Any) -> None:
    requests_mock.get(
        f"{BASE_URL}/v2/jobs/{JOB_ID}", [{"status_code": 502, "json": {}}, {"status_code": 200, "json": JOB}]
    )
    plain = ClientConfig(api_key="afk_x", base_url=BASE_URL)
    assert SyncTransport(plain).send(calls.get_job(JOB_ID)).id == JOB_ID


async def test_the_async_transport_tells_retries_and_rate_limit_pauses() -> None:
    answers = [
        httpx.Response(429, json={"error": "slow down"}, headers={"Retry-After": "0.2"}),
        httpx.Response(503, json={"error": "down"}),
        httpx.Response(200, json=JOB),
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        return answers.pop(0)

    events: list[RetryEvent] = []
    settings = config(events)
    client = httpx.AsyncClient(base_url=BASE_URL, transport=httpx.MockTransport(handler))
    transport = AsyncTransport(settings, client)
    try:
        # A call's own policy (a deadline, the pages' single retry) keeps the connection's observer.
        job = await transport.send(calls.get_job(JOB_ID), retry=RetryPolicy(max_attempts=3))
    finally:
        await transport.aclose()

    assert job.id == JOB_ID
    assert [(e.reason, e.rate_limited) for e in events] == [("429", True), ("503", False)]
