"""The hook's LoRA and asset methods over requests-mock: what goes on the wire, paging, waiting."""

from __future__ import annotations

from typing import Any

import pytest
from support import API_KEY, BASE_URL, FakeClock

from airflow_provider_apiframe.core.errors import ApiframeJobTimeoutError, ApiframeTransportError
from airflow_provider_apiframe.hooks.apiframe import ApiframeHook

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32
LORA_ID = "0b7c1e52-9a1d-4c3e-8f2a-6d5b4c3a2e1f"
OTHER_ID = "1c8d2f63-0b2e-4d4f-9a3b-7e6c5d4b3f20"


def lora(
    status: str = "READY", lora_id: str = LORA_ID, name: str = "me", created: str = "2026-01-01T00:00:00Z"
) -> dict[str, Any]:
    return {
        "id": lora_id, "userId": OTHER_ID, "teamId": OTHER_ID, "name": name, "subjectKind": "style",
        "gender": None, "ethnicity": None, "age": None, "status": status, "imageCount": 15, "steps": 1000,
        "loraRank": 16, "isReady": status == "READY", "error": "boom" if status == "FAILED" else None,
        "createdAt": created, "startedAt": None, "completedAt": None, "hasWeights": status == "READY",
        "triggerWord": "ohwx" if status == "READY" else None,
    }  # fmt: skip


@pytest.fixture
def hook(connection: str) -> ApiframeHook:
    return ApiframeHook()


def test_create_lora_posts_the_form_and_every_image(hook: ApiframeHook, requests_mock: Any) -> None:
    requests_mock.post(
        f"{BASE_URL}/v2/loras", status_code=202, json={"id": LORA_ID, "status": "PENDING", "imageCount": 15}
    )
    created = hook.create_lora(
        [(f"{n}.png", PNG) for n in range(15)], name="me ~0a1b2c3d", subject_kind="style", steps=800
    )
    assert (created.id, created.status, created.image_count) == (LORA_ID, "PENDING", 15)
    (request,) = requests_mock.request_history
    assert request.headers["X-API-Key"] == API_KEY
    assert request.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    body = request.body
    assert body.count(b'name="images"; filename=') == 15
    assert b'name="name"\r\n\r\nme ~0a1b2c3d' in body
    assert b'name="steps"\r\n\r\n800' in body
    assert b'name="subjectKind"\r\n\r\nstyle' in body


def test_a_lost_answer_to_create_lora_is_not_sent_again(hook: ApiframeHook, requests_mock: Any) -> None:
    requests_mock.post(f"{BASE_URL}/v2/loras", status_code=503, json={"error": "down"})
    with pytest.raises(Exception, match="503"):
        hook.create_lora([(f"{n}.png", PNG) for n in range(15)], name="me", subject_kind="object")
    assert requests_mock.call_count == 1  # no Idempotency-Key: a retry could train twice


def test_list_loras_reads_every_page_and_find_loras_matches_exact_names(
    hook: ApiframeHook, requests_mock: Any
) -> None:
    requests_mock.get(
        f"{BASE_URL}/v2/loras",
        [
            {
                "json": {
                    "items": [
                        lora(name="me", created="2026-01-01T00:00:00Z"),
                        lora(lora_id=OTHER_ID, name="me x"),
                    ],
                    "nextCursor": OTHER_ID,
                }
            },
            {
                "json": {
                    "items": [lora("FAILED", lora_id=OTHER_ID, name="me", created="2026-01-02T00:00:00Z")],
                    "nextCursor": None,
                }
            },
        ],
    )
    found = hook.find_loras("me")
    assert [(item.id, item.status) for item in found] == [
        (OTHER_ID, "FAILED"),
        (LORA_ID, "READY"),
    ]  # newest first
    first, second = requests_mock.request_history
    assert first.qs == {"limit": ["100"], "includearchived": ["false"]}
    assert second.qs["cursor"] == [OTHER_ID.lower()]


def test_one_page_archive_and_get(hook: ApiframeHook, requests_mock: Any) -> None:
    requests_mock.get(f"{BASE_URL}/v2/loras", json={"items": [lora()], "nextCursor": LORA_ID})
    requests_mock.delete(f"{BASE_URL}/v2/loras/{LORA_ID}", status_code=204)
    requests_mock.get(f"{BASE_URL}/v2/loras/{LORA_ID}", json=lora("TRAINING"))
    page = hook.list_lora_page(limit=1, include_archived=True)
    assert (len(page.items), page.next_cursor) == (1, LORA_ID)
    hook.archive_lora(LORA_ID)
    assert requests_mock.request_history[-1].method == "DELETE"
    assert hook.get_lora(LORA_ID).status == "TRAINING"


def test_wait_for_lora_backs_off_to_the_interval(
    hook: ApiframeHook, requests_mock: Any, clock: FakeClock
) -> None:
    requests_mock.get(
        f"{BASE_URL}/v2/loras/{LORA_ID}",
        [
            {"json": lora(status)}
            for status in ("PENDING", "UPLOADING", "TRAINING", "TRAINING", "TRAINING", "READY")
        ],
    )
    done = hook.wait_for_lora(LORA_ID, timeout=600, poll_interval=5)
    assert done.status == "READY"
    assert done.trigger_word == "ohwx"
    assert clock.sleeps == [2.0, 3.0, 4.5, 5, 5, 5]


def test_wait_for_lora_times_out_and_rides_out_outages(
    hook: ApiframeHook, requests_mock: Any, clock: FakeClock
) -> None:
    requests_mock.get(
        f"{BASE_URL}/v2/loras/{LORA_ID}",
        [{"status_code": 503, "json": {"error": "x"}}, {"json": lora("TRAINING")}],
    )
    with pytest.raises(ApiframeJobTimeoutError, match=f"LoRA {LORA_ID} did not finish training"):
        hook.wait_for_lora(LORA_ID, timeout=10, poll_interval=5)


def test_assets(hook: ApiframeHook, requests_mock: Any) -> None:
    requests_mock.post(f"{BASE_URL}/v2/assets/create", status_code=201, json={"assetId": "as_1"})
    requests_mock.get(f"{BASE_URL}/v2/assets/as_1", json={"id": "as_1", "status": "Active"})
    assert hook.create_asset("https://cdn.example.com/a.mp4", "video").asset_id == "as_1"
    assert requests_mock.request_history[0].json() == {
        "url": "https://cdn.example.com/a.mp4",
        "type": "video",
    }
    assert hook.get_asset("as_1") == {"id": "as_1", "status": "Active"}


def test_a_transport_error_names_the_call(hook: ApiframeHook, requests_mock: Any) -> None:
    import requests

    requests_mock.get(f"{BASE_URL}/v2/loras/{LORA_ID}", exc=requests.ConnectionError("refused"))
    with pytest.raises(ApiframeTransportError, match=f"GET /v2/loras/{LORA_ID} got no response"):
        hook.get_lora(LORA_ID)
