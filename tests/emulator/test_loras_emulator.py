"""The emulator's LoRA and asset routes: training in time, credits, checks, paging, per the contract."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image
from support import API_KEY, Contract

from airflow_provider_apiframe.emulator import Emulator

LORAS = "/v2/loras"


def png(n: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (n, 1, 2)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def client(emulator: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emulator.url, headers={"X-API-Key": API_KEY}) as http:
        yield http


def train(client: httpx.Client, count: int = 15, outcome: str | None = None, **form: str) -> httpx.Response:
    form = {"name": "me", "gender": "male", "ethnicity": "x", **form}
    files = [("images", (f"{n}.png", png(n), "image/png")) for n in range(count)]
    return client.post(
        LORAS, data=form, files=files, headers={"X-Emulator-Outcome": outcome} if outcome else {}
    )


def valid(contract: Contract, method: str, path: str, response: httpx.Response) -> Any:
    schema = contract.response_schema(method, path, response.status_code)
    assert contract.errors(schema, response.json()) == []
    return response.json()


def test_a_lora_trains_through_its_statuses_to_ready(
    client: httpx.Client, emulator: Emulator, contract: Contract
) -> None:
    credits = emulator.state.credits
    created = valid(contract, "post", LORAS, train(client, steps="800", loraRank="32"))
    assert created["status"] == "PENDING"
    assert created["imageCount"] == 15
    assert emulator.state.credits == credits - 2  # up-front
    seen: list[str] = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        lora = valid(contract, "get", "/v2/loras/{id}", client.get(f"{LORAS}/{created['id']}"))
        if not seen or seen[-1] != lora["status"]:
            seen.append(lora["status"])
        if lora["status"] == "READY":
            break
        time.sleep(0.02)
    assert seen[-1] == "READY"
    assert set(seen) <= {"PENDING", "UPLOADING", "TRAINING", "READY"}
    assert len(seen) >= 3
    assert (lora["steps"], lora["loraRank"], lora["isReady"], lora["hasWeights"]) == (800, 32, True, True)
    assert lora["triggerWord"]
    assert lora["completedAt"]
    assert lora["error"] is None
    assert emulator.state.credits == credits - 2


def test_a_failed_training_is_refunded(client: httpx.Client, emulator: Emulator, contract: Contract) -> None:
    credits = emulator.state.credits
    created = train(client, outcome="failed").json()
    time.sleep(0.4)
    lora = valid(contract, "get", "/v2/loras/{id}", client.get(f"{LORAS}/{created['id']}"))
    assert lora["status"] == "FAILED"
    assert lora["error"]
    assert lora["triggerWord"] is None
    client.get(f"{LORAS}/{created['id']}")
    assert emulator.state.credits == credits  # refunded once


@pytest.mark.parametrize(
    ("count", "form", "field"),
    [
        (14, {}, "images"),
        (31, {}, "images"),
        (15, {"name": ""}, "name"),
        (15, {"subjectKind": "pet"}, "subjectKind"),
        (15, {"steps": "100"}, "steps"),
        (15, {"steps": "many"}, "steps"),
        (15, {"loraRank": "65"}, "loraRank"),
        (15, {"webhookUrl": "nope"}, "webhookUrl"),
    ],
)
def test_a_bad_form_is_a_400_naming_the_field(
    client: httpx.Client, emulator: Emulator, contract: Contract, count: int, form: dict[str, str], field: str
) -> None:
    credits = emulator.state.credits
    answer = valid(contract, "post", LORAS, train(client, count, **form))
    assert field in answer["details"]
    assert emulator.state.credits == credits


def test_a_person_needs_gender_and_ethnicity_and_each_image_is_sniffed(
    client: httpx.Client, contract: Contract
) -> None:
    files = [("images", (f"{n}.png", png(n), "image/png")) for n in range(14)] + [
        ("images", ("x.gif", b"GIF89a" + b"\0" * 20, "image/png"))
    ]
    answer = valid(contract, "post", LORAS, client.post(LORAS, data={"name": "me"}, files=files))
    assert set(answer["details"]) == {"gender", "ethnicity", "images.14"}


def test_listing_pages_by_cursor_and_archiving(client: httpx.Client, contract: Contract) -> None:
    ids = [train(client, subjectKind="style", name=f"n{n}").json()["id"] for n in range(3)]
    first = valid(contract, "get", LORAS, client.get(LORAS, params={"limit": 2}))
    assert [item["id"] for item in first["items"]] == ids[::-1][:2]
    assert first["nextCursor"] == ids[1]
    second = valid(
        contract, "get", LORAS, client.get(LORAS, params={"limit": 2, "cursor": first["nextCursor"]})
    )
    assert [item["id"] for item in second["items"]] == [ids[0]]
    assert second["nextCursor"] is None
    assert client.delete(f"{LORAS}/{ids[0]}").status_code == 204
    assert client.delete(f"{LORAS}/{ids[0]}").status_code == 204  # idempotent
    assert [item["id"] for item in client.get(LORAS).json()["items"]] == ids[::-1][:2]
    shown = client.get(LORAS, params={"includeArchived": "true"}).json()["items"]
    assert [item["status"] for item in shown if item["id"] == ids[0]] == ["ARCHIVED"]
    assert valid(contract, "get", LORAS, client.get(LORAS, params={"limit": 0}))["details"]["limit"]


def test_unknown_or_foreign_loras_are_404_and_bad_ids_400(
    client: httpx.Client, emulator: Emulator, contract: Contract
) -> None:
    missing = "0b7c1e52-9a1d-4c3e-8f2a-6d5b4c3a2e1f"
    assert valid(contract, "get", "/v2/loras/{id}", client.get(f"{LORAS}/{missing}")).get("error")
    assert client.get(f"{LORAS}/not-a-uuid").status_code == 400
    assert client.delete(f"{LORAS}/{missing}").status_code == 404
    assert httpx.get(f"{emulator.url}{LORAS}").status_code == 401


def test_too_few_credits_is_a_402(client: httpx.Client, emulator: Emulator, contract: Contract) -> None:
    emulator.state.credits = 1
    assert valid(contract, "post", LORAS, train(client))["creditsRequired"] == 2


def test_assets_are_registered_and_read_back(client: httpx.Client, contract: Contract) -> None:
    created = client.post("/v2/assets/create", json={"url": "https://cdn.example.com/a.mp4", "type": "video"})
    asset_id = valid(contract, "post", "/v2/assets/create", created)["assetId"]
    asset = client.get(f"/v2/assets/{asset_id}")
    assert asset.status_code == 200
    assert asset.json()["url"] == "https://cdn.example.com/a.mp4"
    bad = client.post("/v2/assets/create", json={"url": "nope", "type": "gif"})
    assert set(valid(contract, "post", "/v2/assets/create", bad)["details"]) == {"url", "type"}
    assert client.get("/v2/assets/nope").status_code == 404
