"""
Large request bodies over real HTTP: a contract-valid Midjourney inpaint with a 12,000,000-character
mask is answered (``202``), and so is every early answer (a refused key, an unknown route, a fault)
to a large body, even on a connection the client asks to close (as ``urllib`` does).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from typing import Any

import httpx
import pytest
from support import API_KEY, wait_for

from airflow_provider_apiframe.emulator import Emulator

ACTION = "/v2/images/midjourney/action"


def mask_limit(spec: dict[str, Any]) -> int:
    branches = spec["components"]["schemas"]["MidjourneyActionRequest"]["oneOf"]
    (inpaint,) = (b for b in branches if b["properties"]["action"]["enum"] == ["inpaint"])
    limit: int = inpaint["properties"]["mask"]["maxLength"]
    return limit


def post(url: str, body: bytes, **headers: str) -> tuple[int, Any]:
    """POST with ``urllib``: one connection per request, ``Connection: close``."""
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json", **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture
def parent(emulator: Emulator) -> str:
    """A completed Midjourney upsample (what an inpaint acts on) of the tests' key."""
    with httpx.Client(base_url=emulator.url, headers={"X-API-Key": API_KEY}, timeout=30) as client:
        grid: str = client.post(
            "/v2/images/generate", json={"model": "midjourney", "prompt": "a fox"}
        ).json()["jobId"]
        assert wait_for(lambda: client.get(f"/v2/jobs/{grid}").json()["status"] == "COMPLETED")
        job_id: str = client.post(
            ACTION, json={"action": "upsample", "index": 2, "parentJobId": grid}
        ).json()["jobId"]
        assert wait_for(lambda: client.get(f"/v2/jobs/{job_id}").json()["status"] == "COMPLETED")
    return job_id


def test_inpaint_with_the_largest_mask_is_accepted(
    emulator: Emulator, parent: str, spec: dict[str, Any], contract: Any
) -> None:
    limit = mask_limit(spec)
    assert limit == 12_000_000
    body = json.dumps({"action": "inpaint", "parentJobId": parent, "mask": "A" * limit, "prompt": "a hat"})
    status, answer = post(emulator.url + ACTION, body.encode(), **{"X-API-Key": API_KEY})
    assert status == 202, answer
    assert contract.errors(contract.response_schema("POST", ACTION, 202), answer) == []
    with httpx.Client(base_url=emulator.url, headers={"X-API-Key": API_KEY}, timeout=30) as client:
        done = wait_for(lambda: client.get(f"/v2/jobs/{answer['jobId']}").json()["status"] == "COMPLETED")
        assert done
        # and through httpx's keep-alive connection as well
        again = client.post(ACTION, content=body, headers={"Content-Type": "application/json"})
        assert again.status_code == 202, again.text


def test_a_mask_over_the_limit_is_a_short_400(emulator: Emulator, parent: str, spec: dict[str, Any]) -> None:
    body = {"action": "inpaint", "parentJobId": parent, "mask": "A" * (mask_limit(spec) + 1)}
    status, answer = post(emulator.url + ACTION, json.dumps(body).encode(), **{"X-API-Key": API_KEY})
    assert status == 400
    assert answer["details"] == {"mask": ["String must contain at most 12000000 character(s)"]}


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        (ACTION, {}, 401),  # refused before the body is read
        ("/v2/not-a-route", {"X-API-Key": API_KEY}, 404),
        ("/v2/images/generate", {"X-API-Key": API_KEY, "X-Emulator-Fault": "503"}, 503),
    ],
)
def test_early_answers_to_a_large_body_reach_the_client(
    emulator: Emulator, path: str, headers: dict[str, str], status: int
) -> None:
    body = json.dumps({"action": "inpaint", "parentJobId": str(uuid.uuid4()), "mask": "A" * 12_000_000})
    got, answer = post(emulator.url + path, body.encode(), **headers)
    assert got == status
    assert answer["error"]


def test_action_problems_name_the_fields(emulator: Emulator) -> None:
    with httpx.Client(base_url=emulator.url, headers={"X-API-Key": API_KEY}, timeout=30) as client:
        unknown = client.post(ACTION, json={"action": "zoom"})
        assert unknown.status_code == 400
        assert "action" in unknown.json()["details"]
        orphan = client.post(
            ACTION, json={"action": "upsample", "index": 1, "parentJobId": str(uuid.uuid4())}
        )
        assert orphan.status_code == 400
        assert "parentJobId" in orphan.json()["details"]
