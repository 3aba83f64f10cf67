"""ApiframeLoraTrigger against the emulator on loopback: one event, no secret, transient errors ridden out."""

from __future__ import annotations

import io
import json
import time
from typing import Any

import httpx
import pytest
from PIL import Image
from support import API_KEY

from airflow_provider_apiframe.emulator.state import FaultRule
from airflow_provider_apiframe.triggers.lora import ApiframeLoraTrigger, LoraEvent

CLASSPATH = "airflow_provider_apiframe.triggers.lora.ApiframeLoraTrigger"
UNKNOWN = "0b7c1e52-9a1d-4c3e-8f2a-6d5b4c3a2e1f"


def png(n: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (n, 0, 0)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def api(emulator: Any, use_connection: Any) -> Any:
    use_connection(emulator.url)
    return emulator


def train(api: Any, outcome: str | None = None) -> str:
    headers = {"X-API-Key": API_KEY, **({"X-Emulator-Outcome": outcome} if outcome else {})}
    files = [("images", (f"{n}.png", png(n), "image/png")) for n in range(15)]
    response = httpx.post(
        f"{api.url}/v2/loras", headers=headers, data={"name": "t", "subjectKind": "style"}, files=files
    )
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


async def events_of(trigger: ApiframeLoraTrigger) -> LoraEvent:
    payloads = [event.payload async for event in trigger.run()]
    assert len(payloads) == 1
    assert API_KEY not in json.dumps(payloads[0])
    return LoraEvent.parse(payloads[0])


def test_serializes_only_ids_numbers_and_the_connection() -> None:
    trigger = ApiframeLoraTrigger(
        UNKNOWN, deadline=123.0, apiframe_conn_id="c", poll_interval=7.0, deferred_on_try=2
    )
    classpath, kwargs = trigger.serialize()
    assert classpath == CLASSPATH
    assert kwargs == {
        "lora_id": UNKNOWN,
        "deadline": 123.0,
        "apiframe_conn_id": "c",
        "poll_interval": 7.0,
        "deferred_on_try": 2,
    }
    assert ApiframeLoraTrigger(**kwargs).serialize() == (classpath, kwargs)


async def test_fires_success_once_the_lora_is_ready(api: Any) -> None:
    lora_id = train(api)
    event = await events_of(
        ApiframeLoraTrigger(lora_id, deadline=time.time() + 30, poll_interval=0.05, deferred_on_try=1)
    )
    assert (event.status, event.lora_id, event.deferred_on_try) == ("success", lora_id, 1)
    assert event.lora is not None
    assert event.lora["status"] == "READY"
    assert event.lora["triggerWord"]


async def test_fires_failed_with_the_api_error(api: Any) -> None:
    lora_id = train(api, outcome="failed")
    event = await events_of(ApiframeLoraTrigger(lora_id, deadline=time.time() + 30, poll_interval=0.05))
    assert event.status == "failed"
    assert "Training failed" in event.message
    assert event.lora is not None
    assert event.lora["status"] == "FAILED"


async def test_rides_out_transient_errors(api: Any) -> None:
    lora_id = train(api)
    api.state.faults.append(FaultRule("status", method="GET", path="/v2/loras/*", status=503, times=2))
    event = await events_of(ApiframeLoraTrigger(lora_id, deadline=time.time() + 30, poll_interval=0.05))
    assert event.status == "success"
    assert not api.state.faults  # both faults were met, and ridden out


async def test_times_out_at_the_deadline(api: Any) -> None:
    api.config.job_seconds = 30.0
    lora_id = train(api)
    event = await events_of(ApiframeLoraTrigger(lora_id, deadline=time.time() + 0.3, poll_interval=0.05))
    assert event.status == "timeout"
    assert "did not finish training" in event.message


async def test_a_refusal_is_an_error_event(api: Any) -> None:
    event = await events_of(ApiframeLoraTrigger(UNKNOWN, deadline=time.time() + 30, poll_interval=0.05))
    assert event.status == "error"
    assert "404" in event.message
    assert "LoRA not found" in event.message


def test_an_unknown_event_is_refused() -> None:
    with pytest.raises(Exception, match="LoRA trigger resumed the task"):
        LoraEvent.parse(None)
    with pytest.raises(Exception, match="carries no LoRA"):
        LoraEvent.parse({"status": "success", "lora_id": UNKNOWN, "message": "m"})
