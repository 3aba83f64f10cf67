"""Webhook signatures (``core.webhooks``) and the emulator's webhook deliveries, checked against them."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from support import API_KEY, wait_for

from airflow_provider_apiframe.core import webhooks
from airflow_provider_apiframe.core.webhooks import (
    EVENT_HEADER,
    SIGNATURE_HEADER,
    sign_webhook_body,
    verify_webhook_signature,
)
from airflow_provider_apiframe.emulator import Emulator
from airflow_provider_apiframe.emulator.state import CONTENT_POLICY_ERROR

BODY = b'{"event":"completed","jobId":"4f0c7d1e-2b3a-4c5d-8e9f-0a1b2c3d4e5f","status":"COMPLETED"}'
OTHER_KEY = "afk_test_someone_else_entirely"


def _expected_hex(api_key: str, body: bytes) -> str:
    """The signature computed independently: HMAC-SHA256 keyed with the raw SHA-256 digest of the key."""
    return hmac.new(hashlib.sha256(api_key.encode()).digest(), body, hashlib.sha256).hexdigest()


# --- signatures -------------------------------------------------------------------------------------------


def test_sign_is_hmac_sha256_keyed_with_the_raw_digest_of_the_key() -> None:
    signature = sign_webhook_body(API_KEY, BODY)
    assert signature == "sha256=" + _expected_hex(API_KEY, BODY)
    # Not keyed with the key itself, nor with the hex of its digest.
    assert signature != "sha256=" + hmac.new(API_KEY.encode(), BODY, hashlib.sha256).hexdigest()
    hex_key = hashlib.sha256(API_KEY.encode()).hexdigest().encode()
    assert signature != "sha256=" + hmac.new(hex_key, BODY, hashlib.sha256).hexdigest()


def test_verify_accepts_prefixed_and_bare_hex() -> None:
    digest = _expected_hex(API_KEY, BODY)
    assert verify_webhook_signature(API_KEY, BODY, "sha256=" + digest)
    assert verify_webhook_signature(API_KEY, BODY, digest)
    assert verify_webhook_signature(API_KEY, bytearray(BODY), "sha256=" + digest)
    # Header values are case-insensitive hex and may carry surrounding spaces.
    assert verify_webhook_signature(API_KEY, BODY, "SHA256=" + digest.upper())
    assert verify_webhook_signature(API_KEY, BODY, f"  sha256={digest} ")


def test_verify_rejects_a_tampered_body_and_a_wrong_key() -> None:
    signature = sign_webhook_body(API_KEY, BODY)
    assert not verify_webhook_signature(API_KEY, BODY.replace(b"COMPLETED", b"FAILED"), signature)
    assert not verify_webhook_signature(API_KEY, BODY + b" ", signature)
    assert not verify_webhook_signature(API_KEY, BODY[:-1], signature)
    assert not verify_webhook_signature(OTHER_KEY, BODY, signature)
    assert not verify_webhook_signature(API_KEY[:-1], BODY, signature)


@pytest.mark.parametrize(
    "header",
    [
        "",
        None,
        "sha256=",
        "sha256",
        "z" * 64,
        "sha256=" + "g" * 64,
        "sha256=" + _expected_hex(API_KEY, BODY)[:-2],  # wrong length
        "sha256=" + _expected_hex(API_KEY, BODY) + "00",  # wrong length
        "sha256=" + "é" * 64,  # non-ASCII
        "sha256=" + _expected_hex(API_KEY, BODY)[:-1] + "é",  # non-ASCII, right length
        "md5=" + hashlib.md5(BODY).hexdigest(),
        "md5=" + _expected_hex(API_KEY, BODY),  # the right digest under the wrong scheme
        "sha1=" + _expected_hex(API_KEY, BODY),
        "sha256=sha256=" + _expected_hex(API_KEY, BODY),
        "sha256=" + _expected_hex(API_KEY, BODY).replace("", " ").strip(),
    ],
)
def test_verify_rejects_malformed_headers_without_raising(header: Any) -> None:
    assert verify_webhook_signature(API_KEY, BODY, header) is False


@pytest.mark.parametrize("body", ["a str body", None, 12, {"event": "completed"}])
def test_verify_rejects_a_body_that_is_not_bytes(body: Any) -> None:
    signature = sign_webhook_body(API_KEY, b"a str body")
    assert verify_webhook_signature(API_KEY, body, signature) is False


def test_verify_compares_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, Any]] = []
    original = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return original(a, b)

    monkeypatch.setattr(webhooks.hmac, "compare_digest", spy)
    digest = _expected_hex(API_KEY, BODY)
    assert verify_webhook_signature(API_KEY, BODY, "sha256=" + digest)
    assert calls == [(digest, digest)]
    wrong = "0" * 64
    assert not verify_webhook_signature(API_KEY, BODY, "sha256=" + wrong)
    assert calls[-1] == (wrong, digest)
    assert len(calls) == 2  # no early exit through == before the constant-time comparison


# --- a local receiver ---------------------------------------------------------------------------------------


class Receiver:
    """
    An HTTP server on loopback that records every webhook (raw body, headers, time) and answers
    with ``statuses`` in turn (the last one repeats).
    """

    def __init__(self, statuses: tuple[int, ...] = (200,)):
        self.statuses = statuses
        self.calls: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    status = receiver.statuses[min(len(receiver.calls), len(receiver.statuses) - 1)]
                    receiver.calls.append(
                        {
                            "path": self.path,
                            "headers": {k.lower(): v for k, v in self.headers.items()},
                            "body": raw,
                            "at": time.monotonic(),
                        }
                    )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/apiframe"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def events(self, job_id: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            calls = list(self.calls)
        shown = [dict(call, payload=json.loads(call["body"])) for call in calls]
        return [c for c in shown if job_id is None or c["payload"].get("jobId") == job_id]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture
def client(emulator: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emulator.url, headers={"X-API-Key": API_KEY}, timeout=10) as http:
        yield http


def _submit(client: httpx.Client, receiver: Receiver, events: list[str] | None, **headers: str) -> str:
    body: dict[str, Any] = {
        "prompt": "a lighthouse at dusk",
        "model": "gpt-image-1.5",
        "webhookUrl": receiver.url,
        "gptImageParams": {"output_format": "png"},
    }
    if events is not None:
        body["webhookEvents"] = events
    response = client.post("/v2/images/generate", json=body, headers=headers)
    assert response.status_code == 202, response.text
    job_id: str = response.json()["jobId"]
    return job_id


def _job(client: httpx.Client, job_id: str) -> dict[str, Any]:
    response = client.get(f"/v2/jobs/{job_id}")
    assert response.status_code == 200, response.text
    job: dict[str, Any] = response.json()
    return job


def _check_signed(call: dict[str, Any]) -> None:
    """The delivery is signed over its raw body with the job's key, and only that key and body verify."""
    signature = call["headers"][SIGNATURE_HEADER.lower()]
    assert signature.startswith("sha256=")
    assert len(signature) == len("sha256=") + 64
    assert verify_webhook_signature(API_KEY, call["body"], signature)
    assert not verify_webhook_signature(OTHER_KEY, call["body"], signature)
    tampered = call["body"].replace(b'"status": "', b'"status": "X')
    assert tampered != call["body"]
    assert not verify_webhook_signature(API_KEY, tampered, signature)
    # Verification is over the bytes as received: compact re-serialised JSON does not verify.
    compact = json.dumps(call["payload"], separators=(",", ":")).encode()
    assert compact != call["body"]
    assert not verify_webhook_signature(API_KEY, compact, signature)
    assert call["headers"][EVENT_HEADER.lower()] == call["payload"]["event"]
    assert call["headers"]["content-type"].startswith("application/json")


# --- the emulator's deliveries ---------------------------------------------------------------------------


def test_progress_and_completed_events_arrive_signed(
    emulator: Emulator, client: httpx.Client, receiver: Receiver
) -> None:
    job_id = _submit(client, receiver, ["progress", "completed"])
    assert _job(client, job_id)["webhookStatus"] == "pending"

    calls = wait_for(
        lambda: [c for c in receiver.events(job_id) if c["payload"]["event"] == "completed"], timeout=5
    )
    assert calls, f"no completed webhook; got {receiver.events()}"
    events = receiver.events(job_id)
    assert [c["payload"]["event"] for c in events] == ["progress", "progress", "completed"]
    assert all(c["path"] == "/hooks/apiframe" for c in events)
    for call in events:
        _check_signed(call)

    for progress in events[:2]:
        payload = progress["payload"]
        assert set(payload) == {"event", "jobId", "status", "progress", "model"}
        assert payload["status"] == "PROCESSING"
        assert payload["model"] == "gpt-image-1.5"
        assert isinstance(payload["progress"], int)
        assert 0 <= payload["progress"] <= 100
    assert events[0]["payload"]["progress"] <= events[1]["payload"]["progress"]

    completed = events[2]["payload"]
    assert set(completed) == {
        "event",
        "jobId",
        "status",
        "progress",
        "result",
        "model",
        "creditCost",
        "completedAt",
    }
    assert completed["status"] == "COMPLETED"
    assert completed["progress"] == 100
    job = wait_for(lambda: (j := _job(client, job_id))["webhookStatus"] == "delivered" and j)
    assert job, "webhookStatus never became delivered"
    assert completed["result"] == job["result"]
    assert completed["creditCost"] == job["creditCost"] > 0
    assert completed["completedAt"] == job["completedAt"]
    assert completed["result"]["images"][0].endswith(f"{job_id}-1.png")

    log = client.get("/_emulator/webhooks").json()
    assert [(w["event"], w["delivered"], w["attempts"]) for w in log] == [
        ("progress", True, 1),
        ("progress", True, 1),
        ("completed", True, 1),
    ]


def test_failed_event_via_outcome_rule(emulator: Emulator, client: httpx.Client, receiver: Receiver) -> None:
    emulator.decide(outcome="failed")
    job_id = _submit(client, receiver, ["failed"])
    assert _job(client, job_id)["webhookStatus"] == "pending"
    calls = wait_for(lambda: receiver.events(job_id), timeout=5)
    assert len(calls) == 1, "only the subscribed event is sent: no progress events"
    call = calls[0]
    _check_signed(call)
    payload = call["payload"]
    assert set(payload) == {"event", "jobId", "status", "error", "model"}
    assert payload == {
        "event": "failed",
        "jobId": job_id,
        "status": "FAILED",
        "error": CONTENT_POLICY_ERROR,
        "model": "gpt-image-1.5",
    }
    job = wait_for(lambda: (j := _job(client, job_id))["webhookStatus"] == "delivered" and j)
    assert job
    assert job["status"] == "FAILED"
    assert job["error"] == payload["error"]


def test_every_payload_shows_the_job_as_it_is_at_that_event(
    emulator: Emulator, client: httpx.Client, receiver: Receiver
) -> None:
    """
    Many jobs, so that timers firing a hair early (the event loop's timers have millisecond
    resolution) are caught: a progress event must say PROCESSING, a completed one COMPLETED with
    its result, a failed one FAILED with its error.
    """
    expected = {}
    for i in range(12):
        headers = {"X-Emulator-Outcome": "failed"} if i % 2 else {}
        job_id = _submit(client, receiver, ["progress", "completed", "failed"], **headers)
        expected[job_id] = "failed" if i % 2 else "completed"
        time.sleep(0.013)  # spread the jobs' timers over the clock's ticks

    def terminal() -> list[dict[str, Any]]:
        return [c for c in receiver.events() if c["payload"]["event"] != "progress"]

    assert wait_for(lambda: len(terminal()) == len(expected), timeout=5), receiver.events()
    wrong = []
    for call in receiver.events():
        payload = call["payload"]
        event = payload["event"]
        if event == "progress":
            good = payload["status"] == "PROCESSING" and 1 <= payload["progress"] <= 99
        elif event == "completed":
            good = (
                payload["status"] == "COMPLETED"
                and payload["progress"] == 100
                and bool(payload["result"])
                and payload["completedAt"] is not None
            )
        else:
            good = payload["status"] == "FAILED" and payload["error"] == CONTENT_POLICY_ERROR
        if event != "progress":
            good = good and expected[payload["jobId"]] == event
        if not good:
            wrong.append(payload)
    assert wrong == [], f"{len(wrong)} of {len(receiver.events())} payloads contradict their event"


def test_a_completed_job_does_not_send_a_failed_event_nor_the_reverse(
    emulator: Emulator, client: httpx.Client, receiver: Receiver
) -> None:
    completes = _submit(client, receiver, ["failed"])
    fails = _submit(client, receiver, ["completed"], **{"X-Emulator-Outcome": "failed"})
    for job_id in (completes, fails):
        assert wait_for(lambda job_id=job_id: _job(client, job_id)["status"] in ("COMPLETED", "FAILED"))
    time.sleep(0.3)
    assert receiver.events() == []


def test_without_webhook_events_terminal_events_are_sent(
    emulator: Emulator, client: httpx.Client, receiver: Receiver
) -> None:
    """The emulator's documented default when only webhookUrl is given: completed and failed."""
    job_id = _submit(client, receiver, None)
    calls = wait_for(lambda: receiver.events(job_id), timeout=5)
    assert [c["payload"]["event"] for c in calls] == ["completed"]
    _check_signed(calls[0])
    assert wait_for(lambda: _job(client, job_id)["webhookStatus"] == "delivered")


def test_progress_only_subscription_has_no_webhook_status(
    emulator: Emulator, client: httpx.Client, receiver: Receiver
) -> None:
    job_id = _submit(client, receiver, ["progress"])
    assert wait_for(lambda: _job(client, job_id)["status"] == "COMPLETED")
    time.sleep(0.2)
    assert [c["payload"]["event"] for c in receiver.events(job_id)] == ["progress", "progress"]
    assert _job(client, job_id)["webhookStatus"] is None


def test_a_job_without_webhook_url_has_no_webhook_status(emulator: Emulator, client: httpx.Client) -> None:
    response = client.post("/v2/images/generate", json={"prompt": "plain", "model": "gpt-image-1.5"})
    job_id = response.json()["jobId"]
    assert _job(client, job_id)["webhookStatus"] is None
    assert wait_for(lambda: _job(client, job_id)["status"] == "COMPLETED")
    assert _job(client, job_id)["webhookStatus"] is None


def test_a_receiver_error_is_retried_then_delivered(emulator: Emulator, client: httpx.Client) -> None:
    with Receiver(statuses=(500, 200)) as flaky:
        job_id = _submit(client, flaky, ["completed"])
        job = wait_for(lambda: (j := _job(client, job_id))["webhookStatus"] == "delivered" and j, timeout=5)
        assert job, "webhookStatus never became delivered"
        calls = flaky.events(job_id)
        assert len(calls) == 2
        assert calls[0]["body"] == calls[1]["body"]  # a retry resends the same signed body
        assert calls[0]["headers"][SIGNATURE_HEADER.lower()] == calls[1]["headers"][SIGNATURE_HEADER.lower()]
        _check_signed(calls[1])
    assert [(w["delivered"], w["attempts"]) for w in client.get("/_emulator/webhooks").json()] == [(True, 2)]


def test_a_receiver_that_always_fails_ends_in_webhook_status_failed(
    emulator: Emulator, client: httpx.Client
) -> None:
    with Receiver(statuses=(500,)) as broken:
        job_id = _submit(client, broken, ["completed"])
        assert _job(client, job_id)["webhookStatus"] == "pending"
        assert wait_for(lambda: len(broken.events(job_id)) >= 3, timeout=8), "three attempts expected"
        last_attempt = broken.events(job_id)[-1]["at"]
        assert _job(client, job_id)["status"] == "COMPLETED"
        # The status settles once the last attempt has failed.
        job = wait_for(lambda: (j := _job(client, job_id))["webhookStatus"] == "failed" and j, timeout=6)
        settled = time.monotonic()
    assert job, "webhookStatus never became failed"
    assert len(broken.events(job_id)) == 3
    assert [(w["delivered"], w["attempts"]) for w in client.get("/_emulator/webhooks").json()] == [(False, 3)]
    # The emulator waits out one more backoff (4 s) after the third and last attempt before it
    # gives up, so webhookStatus stays "pending" long after the deliveries are over.
    assert settled - last_attempt < 1.5, (
        f"webhookStatus became 'failed' {settled - last_attempt:.1f} s after the last attempt"
    )
