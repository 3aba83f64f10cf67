"""ApiframeBatchTrigger against the emulator over real HTTP: one event, counts only, from the shared pages."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from support import API_KEY

from airflow_provider_apiframe.core import calls, clock
from airflow_provider_apiframe.hooks.apiframe import ApiframeHook
from airflow_provider_apiframe.triggers import batch as batch_module
from airflow_provider_apiframe.triggers.batch import ApiframeBatchTrigger, BatchEvent


@pytest.fixture
def api(emulator: Any, use_connection: Any) -> Any:
    use_connection(emulator.url)
    return emulator


def submit(count: int, prompt: str = "a mug") -> list[str]:
    hook = ApiframeHook()
    return [
        hook.submit_job(
            calls.create_job("flux-2-pro", prompt=f"{prompt} {n}", idempotency_key=f"k-{prompt}-{n}")
        ).job_id
        for n in range(count)
    ]


def fire(trigger: ApiframeBatchTrigger) -> list[dict[str, Any]]:
    async def events() -> list[dict[str, Any]]:
        return [event.payload async for event in trigger.run()]

    return asyncio.run(events())


def single_reads(api: Any) -> list[str]:
    return [
        path for method, path, _ in api.state.requests if method == "GET" and path.startswith("/v2/jobs/")
    ]


def test_one_event_with_the_counts_once_every_job_ended_read_from_pages(
    api: Any, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    api.decide(outcome="failed", prompt_contains="broken", times=None)
    job_ids = submit(5) + submit(1, "broken")
    monkeypatch.setattr(batch_module, "PROGRESS_EVERY", 0.0)

    (event,) = fire(ApiframeBatchTrigger(job_ids, deadline=clock.now() + 30, poll_interval=0.1))
    logged = capfd.readouterr().out

    parsed = BatchEvent.parse(event)
    assert (parsed.status, parsed.completed, parsed.failed, parsed.running) == ("success", 5, 1, 0)
    assert parsed.credits == sum(charge for _, charge in api.state.ledger.charges) == 40
    assert single_reads(api) == [], "six awaited jobs are read from GET /v2/jobs pages"
    assert "Apiframe batch: waiting for 6 job(s)" in logged
    assert "Apiframe batch: 5 done, 1 failed, 0 running, 40 credit(s) so far" in logged


def test_the_deadline_fires_a_timeout_event_with_what_ended(api: Any) -> None:
    api.decide(outcome="never", prompt_contains="slow", times=None)
    job_ids = submit(4) + submit(2, "slow")

    (event,) = fire(ApiframeBatchTrigger(job_ids, deadline=clock.now() + 2, poll_interval=0.1))

    parsed = BatchEvent.parse(event)
    assert (parsed.status, parsed.completed, parsed.running) == ("timeout", 4, 2)
    assert "the deadline passed" in parsed.message


def test_a_refused_key_ends_the_wait_with_an_error_event(api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    job_ids = submit(2)
    conn = {"conn_type": "apiframe", "password": "afk_wrong_key_000000000000", "host": api.url}
    monkeypatch.setenv("AIRFLOW_CONN_APIFRAME_DEFAULT", json.dumps(conn))

    (event,) = fire(ApiframeBatchTrigger(job_ids, deadline=clock.now() + 10, poll_interval=0.1))

    assert event["status"] == "error"
    assert "401" in event["message"]


def test_it_serializes_job_ids_and_settings_only() -> None:
    trigger = ApiframeBatchTrigger(
        ["a", "b"], deadline=123.0, apiframe_conn_id="art", poll_interval=3, deferred_on_try=2
    )

    classpath, kwargs = trigger.serialize()

    assert classpath == "airflow_provider_apiframe.triggers.batch.ApiframeBatchTrigger"
    assert kwargs == {
        "job_ids": ["a", "b"],
        "deadline": 123.0,
        "apiframe_conn_id": "art",
        "poll_interval": 3,
        "deferred_on_try": 2,
    }
    assert API_KEY not in json.dumps(kwargs)
    assert ApiframeBatchTrigger(**kwargs).serialize() == (classpath, kwargs)


def test_an_unknown_event_is_refused_clearly() -> None:
    with pytest.raises(Exception, match="unknown event"):
        BatchEvent.parse({"status": "done"})
