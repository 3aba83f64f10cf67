"""How the emulator behaves: job lifecycle, credits, idempotency, result files, inputs, faults, outcomes."""

from __future__ import annotations

import io
import json
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from support import API_KEY, wait_for

from airflow_provider_apiframe.emulator import (
    EMULATOR_API_KEY,
    Emulator,
    EmulatorConfig,
    EmulatorProcess,
    free_port,
)
from airflow_provider_apiframe.emulator.images import render
from airflow_provider_apiframe.emulator.state import CONTENT_POLICY_ERROR

GENERATE = "/v2/images/generate"
GPT = "gpt-image-1.5"
ROOT = Path(__file__).resolve().parents[1]


# --- helpers -----------------------------------------------------------------------------------------------


def client_for(emulator: Emulator, key: str = API_KEY) -> httpx.Client:
    return httpx.Client(base_url=emulator.url, headers={"X-API-Key": key}, timeout=30)


@pytest.fixture
def client(emulator: Emulator) -> Iterator[httpx.Client]:
    with client_for(emulator) as http:
        yield http


@pytest.fixture
def make_emulator(spec: dict[str, Any]) -> Iterator[Callable[..., Emulator]]:
    """Start emulators with other settings (validating against the contract); stop them at the end."""
    stack: list[Any] = []

    def start(**settings: Any) -> Emulator:
        config = EmulatorConfig(
            **{"api_keys": (API_KEY,), "job_seconds": 0.3, "jitter": 0.0, "spec": spec, "seed": 3, **settings}
        )
        running = Emulator(config).running()
        stack.append(running)
        return running.__enter__()

    yield start
    for running in reversed(stack):
        running.__exit__(None, None, None)


def gpt(prompt: str = "a lighthouse at dusk", **params: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"prompt": prompt, "model": GPT}
    if params:
        body["gptImageParams"] = params
    return body


def submit(client: httpx.Client, body: dict[str, Any], route: str = GENERATE, **headers: str) -> str:
    response = client.post(route, json=body, headers=headers)
    assert response.status_code == 202, response.text
    job_id: str = response.json()["jobId"]
    return job_id


def job(client: httpx.Client, job_id: str) -> dict[str, Any]:
    response = client.get(f"/v2/jobs/{job_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def wait_ended(client: httpx.Client, job_id: str, timeout: float = 5.0) -> dict[str, Any]:
    ended = wait_for(
        lambda: (j := job(client, job_id))["status"] not in ("QUEUED", "PROCESSING") and j, timeout
    )
    assert ended, f"job {job_id} did not end: {job(client, job_id)}"
    return dict(ended)


def png(color: tuple[int, int, int], size: tuple[int, int] = (200, 160)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


def upload(client: httpx.Client, data: bytes, name: str = "in.png") -> str:
    response = client.post("/v2/uploads", files={"file": (name, data, "image/png")})
    assert response.status_code == 201, response.text
    url: str = response.json()["url"]
    return url


def credits(client: httpx.Client) -> int:
    value: int = client.get("/v2/me").json()["team"]["credits"]
    return value


# --- lifecycle and credits ---------------------------------------------------------------------------------


def test_job_moves_queued_processing_completed(make_emulator: Callable[..., Emulator]) -> None:
    # Two seconds: enough polls to watch the progress climb even on a loaded CI machine.
    emulator = make_emulator(job_seconds=2.0)
    with client_for(emulator) as client:
        job_id = submit(client, gpt(output_format="png"))
        file_url = f"{emulator.url}/files/{job_id}-1.png"
        seen: list[dict[str, Any]] = []
        file_statuses: list[tuple[str, int]] = []
        while not seen or seen[-1]["status"] not in ("COMPLETED", "FAILED"):
            # The file first, then the job: a file served means the job read after it has completed.
            file_code = client.get(file_url).status_code
            seen.append(job(client, job_id))
            file_statuses.append((seen[-1]["status"], file_code))
            assert len(seen) < 500
            time.sleep(0.03)
        assert client.get(file_url).status_code == 200, "served once the job has completed"

    statuses = [s["status"] for s in seen]
    assert [s for i, s in enumerate(statuses) if i == 0 or s != statuses[i - 1]] == [
        "QUEUED",
        "PROCESSING",
        "COMPLETED",
    ]
    queued = [s for s in seen if s["status"] == "QUEUED"]
    processing = [s["progress"] for s in seen if s["status"] == "PROCESSING"]
    assert all(s["progress"] == 0 for s in queued)
    assert processing == sorted(processing), "progress went backwards"
    assert len(set(processing)) >= 3, processing
    assert 0 < processing[0] < processing[-1] < 100
    for snapshot in seen[:-1]:
        assert (snapshot["creditCost"], snapshot["completedAt"], snapshot["result"]) == (None, None, None)
    done = seen[-1]
    assert (done["progress"], done["creditCost"]) == (100, 6)
    assert done["completedAt"] >= done["createdAt"]
    assert done["result"] == {"images": [file_url]}
    # The files exist only once the job has completed.
    assert {status for status, code in file_statuses if code == 200} <= {"COMPLETED"}
    assert all(code == 404 for status, code in file_statuses if status != "COMPLETED")


def test_credits_charged_once_for_completed_jobs_only(emulator: Emulator, client: httpx.Client) -> None:
    start = credits(client)
    charged = {
        submit(client, gpt("auto")): 6,
        submit(client, gpt("high, two", quality="high", number_of_images=2)): 48,
        submit(client, gpt("low, three", quality="low", number_of_images=3)): 6,
        submit(client, {"prompt": "flux", "model": "flux-1.1-pro"}): 8,
    }
    free = [
        submit(client, gpt("refused"), **{"X-Emulator-Outcome": "failed"}),
        submit(client, gpt("cancelled"), **{"X-Emulator-Outcome": "cancelled"}),
        submit(client, gpt("never"), **{"X-Emulator-Outcome": "never"}),
        submit(client, gpt("bad input", input_images=[f"http://127.0.0.1:{free_port()}/gone.png"])),
    ]
    # Nothing is charged up front.
    assert credits(client) == start
    assert emulator.state.charges == []
    time.sleep(0.6)
    # Reading a job (often, and through the list) charges nothing more.
    for _ in range(3):
        for job_id in [*charged, *free]:
            job(client, job_id)
        client.get("/v2/jobs")
    ended = {job_id: job(client, job_id) for job_id in [*charged, *free]}

    assert sorted(emulator.state.charges) == sorted(charged.items())
    assert credits(client) == start - sum(charged.values()) == emulator.state.credits
    assert emulator.state.reserved == 0
    for job_id, cost in charged.items():
        assert (ended[job_id]["status"], ended[job_id]["creditCost"]) == ("COMPLETED", cost)
    assert [ended[j]["status"] for j in free] == ["FAILED", "CANCELLED", "PROCESSING", "FAILED"]
    assert [ended[j]["creditCost"] for j in free] == [0, 0, None, 0]
    summary = client.get("/_emulator/state").json()
    assert summary["credits"] == start - sum(charged.values())
    assert sorted((c["jobId"], c["credits"]) for c in summary["charges"]) == sorted(charged.items())


def test_jobs_are_charged_when_they_end_even_if_nobody_asks(emulator: Emulator, client: httpx.Client) -> None:
    job_id = submit(client, gpt())
    assert wait_for(lambda: emulator.state.charges, timeout=3) == [(job_id, 6)]
    assert credits(client) == 100_000 - 6


# --- idempotency -----------------------------------------------------------------------------------------


def test_idempotent_replay_returns_the_same_job_without_a_new_charge(
    emulator: Emulator, client: httpx.Client
) -> None:
    key = {"Idempotency-Key": f"daily-run-{uuid.uuid4()}"}
    first = client.post(GENERATE, json=gpt(), headers=key)
    assert (first.status_code, first.json()["status"]) == (202, "QUEUED")
    job_id = first.json()["jobId"]
    again = client.post(GENERATE, json=gpt(), headers=key)
    assert again.status_code == 202
    assert again.json()["jobId"] == job_id
    assert again.json()["status"] in ("QUEUED", "PROCESSING")
    wait_ended(client, job_id)
    replay = client.post(GENERATE, json=gpt(), headers=key)
    assert replay.json() == {"jobId": job_id, "status": "COMPLETED"}
    assert len(emulator.state.jobs) == 1
    assert emulator.state.charges == [(job_id, 6)]

    # Another key (or none) is another job.
    other = submit(client, gpt(), **{"Idempotency-Key": "another"})
    unkeyed = submit(client, gpt())
    assert len({job_id, other, unkeyed}) == 3
    # The same key with another body replays the original job too (as the contract documents),
    # marked as a replay, and creates nothing.
    changed = client.post(GENERATE, json=gpt("changed"), headers=key)
    assert changed.status_code == 202
    assert changed.json() == {"jobId": job_id, "status": "COMPLETED"}
    assert changed.headers["idempotent-replayed"] == "true"
    assert len(emulator.state.jobs) == 3
    assert len(emulator.state.charges) == 1


def test_replays_of_ended_uncharged_jobs(emulator: Emulator, client: httpx.Client) -> None:
    failed = submit(client, gpt("x"), **{"Idempotency-Key": "f", "X-Emulator-Outcome": "failed"})
    cancelled = submit(client, gpt("y"), **{"Idempotency-Key": "c", "X-Emulator-Outcome": "cancelled"})
    wait_ended(client, failed)
    wait_ended(client, cancelled)
    assert client.post(GENERATE, json=gpt("x"), headers={"Idempotency-Key": "f"}).json() == {
        "jobId": failed,
        "status": "FAILED",
    }
    # JobAccepted has no CANCELLED: the emulator reports the ended, uncharged job as FAILED.
    assert client.post(GENERATE, json=gpt("y"), headers={"Idempotency-Key": "c"}).json() == {
        "jobId": cancelled,
        "status": "FAILED",
    }
    assert emulator.state.charges == []


def test_idempotency_keys_are_scoped_to_the_api_key(make_emulator: Callable[..., Emulator]) -> None:
    other_key = "afk_test_second_key"
    emulator = make_emulator(api_keys=(API_KEY, other_key))
    with client_for(emulator) as mine, client_for(emulator, other_key) as theirs:
        headers = {"Idempotency-Key": "shared-name"}
        assert submit(mine, gpt(), **headers) != submit(theirs, gpt(), **headers)


def test_idempotency_window_ends(make_emulator: Callable[..., Emulator]) -> None:
    emulator = make_emulator(idempotency_seconds=0.5, job_seconds=0.2)
    with client_for(emulator) as client:
        key = {"Idempotency-Key": "nightly"}
        first = submit(client, gpt(), **key)
        time.sleep(0.25)
        assert submit(client, gpt(), **key) == first
        time.sleep(0.35)
        second = client.post(GENERATE, json=gpt(), headers=key)
        assert second.json()["status"] == "QUEUED"
        assert second.json()["jobId"] != first
        # ... and the key now names the new job, for a new window.
        assert submit(client, gpt(), **key) == second.json()["jobId"]
        # After the window, another body is no conflict either.
        time.sleep(0.65)
        assert client.post(GENERATE, json=gpt("new"), headers=key).status_code == 202
        assert wait_for(lambda: len(emulator.state.charges) == 3, timeout=3), emulator.state.charges
    assert len(emulator.state.jobs) == 3


# --- result files ------------------------------------------------------------------------------------------

FILE_CASES: list[tuple[str, dict[str, Any] | None, str, str, tuple[int, int], int, bool]] = [
    # (route, params, model, format, size, count, transparent)
    (GENERATE, None, GPT, "webp", (1024, 1024), 1, False),
    (GENERATE, {"output_format": "png"}, GPT, "png", (1024, 1024), 1, False),
    (
        GENERATE,
        {"output_format": "png", "aspect_ratio": "3:2", "background": "transparent"},
        GPT,
        "png",
        (1536, 1024),
        1,
        True,
    ),
    (
        GENERATE,
        {"output_format": "png", "aspect_ratio": "2:3", "background": "opaque"},
        GPT,
        "png",
        (1024, 1536),
        1,
        False,
    ),
    (
        GENERATE,
        {"output_format": "webp", "aspect_ratio": "2:3", "background": "transparent"},
        GPT,
        "webp",
        (1024, 1536),
        1,
        True,
    ),
    (
        GENERATE,
        {"output_format": "webp", "aspect_ratio": "3:2", "background": "auto"},
        GPT,
        "webp",
        (1536, 1024),
        1,
        False,
    ),
    (
        GENERATE,
        {"output_format": "jpeg", "aspect_ratio": "3:2", "background": "transparent"},
        GPT,
        "jpeg",
        (1536, 1024),
        1,
        False,
    ),
    (
        GENERATE,
        {"output_format": "jpeg", "aspect_ratio": "2:3", "number_of_images": 3},
        GPT,
        "jpeg",
        (1024, 1536),
        3,
        False,
    ),
    (
        GENERATE,
        {"output_format": "png", "number_of_images": 10, "quality": "low"},
        GPT,
        "png",
        (1024, 1024),
        10,
        False,
    ),
    ("/v2/images/background-remove", {"image": "UPLOAD"}, "bria-bg-remove", "png", (1024, 1024), 1, True),
]


def test_result_files_are_real_images_of_the_requested_kind(emulator: Emulator, client: httpx.Client) -> None:
    source = upload(client, png((10, 120, 200)))
    jobs: dict[str, tuple[Any, ...]] = {}
    for case in FILE_CASES:
        route, params, model = case[:3]
        if route == GENERATE:
            body = gpt(f"files {len(jobs)}", **(params or {}))
        else:
            body = {"model": model, "briaBgRemoveParams": {"image": source}}
        jobs[submit(client, body, route)] = case
    for job_id, (_, params, _model, fmt, size, count, transparent) in jobs.items():
        done = wait_ended(client, job_id)
        urls = done["result"]["images"]
        assert len(urls) == count
        assert urls == [f"{emulator.url}/files/{job_id}-{n}.{fmt}" for n in range(1, count + 1)]
        contents = set()
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, (params, url)
            assert response.headers["content-type"] == f"image/{fmt}"
            contents.add(response.content)
            with Image.open(io.BytesIO(response.content)) as image:
                image.load()
                assert image.format == {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}[fmt]
                assert image.size == size, params
                alpha_min, alpha_max = image.convert("RGBA").getextrema()[3]
                if transparent:
                    assert alpha_min == 0, f"{params}: no transparent pixel"
                    assert alpha_max == 255, f"{params}: no opaque subject"
                else:
                    assert alpha_min == 255, f"{params}: unexpected transparency"
                    assert "A" not in image.getbands(), f"{params}: {image.mode}"
        assert len(contents) == count, "every image of a job is its own file"
        # Beyond the count, another extension, and garbled names: 404.
        for bad in (f"{job_id}-{count + 1}.{fmt}", f"{job_id}-0.{fmt}", f"{job_id}-1.gif", f"{job_id}-1.bmp"):
            assert client.get(f"/files/{bad}").status_code == 404, bad
        other_ext = "png" if fmt != "png" else "jpeg"
        assert client.get(f"/files/{job_id}-1.{other_ext}").status_code == 404


# --- inputs ------------------------------------------------------------------------------------------------


def _pixel(data: bytes, xy: tuple[int, int]) -> tuple[int, ...]:
    with Image.open(io.BytesIO(data)) as image:
        return tuple(image.convert("RGB").getpixel(xy))  # type: ignore[arg-type]


def test_edit_from_uploads_is_derived_from_the_fetched_input(
    emulator: Emulator, client: httpx.Client
) -> None:
    red, green = png((230, 20, 20)), png((20, 230, 20))
    urls = {"red": upload(client, red), "green": upload(client, green)}
    ids = {
        name: submit(client, gpt("recolour this", output_format="png", input_images=[url]))
        for name, url in urls.items()
    }
    plain = submit(client, gpt("recolour this", output_format="png"))
    for name, job_id in ids.items():
        done = wait_ended(client, job_id)
        assert done["status"] == "COMPLETED", done
        assert done["input"]["gptImageParams"]["input_images"] == [urls[name]]
        assert emulator.state.jobs[job_id].inputs == ({"red": red, "green": green}[name],)
    wait_ended(client, plain)
    assert emulator.state.jobs[plain].inputs == ()

    def image_of(job_id: str) -> bytes:
        return client.get(f"/files/{job_id}-1.png").content

    # 80 % input under a 20 % tint: the output carries the input's colour (away from the caption).
    r, g, b = _pixel(image_of(ids["red"]), (900, 300))
    assert r >= 180, (r, g, b)
    assert max(g, b) <= 75, (r, g, b)
    r, g, b = _pixel(image_of(ids["green"]), (900, 300))
    assert g >= 180, (r, g, b)
    assert max(r, b) <= 75, (r, g, b)
    assert image_of(plain) not in (image_of(ids["red"]), image_of(ids["green"]))


def test_edit_of_a_previous_result_is_derived_from_it(emulator: Emulator, client: httpx.Client) -> None:
    first = submit(client, gpt("the original", output_format="png", aspect_ratio="3:2"))
    source_url = wait_ended(client, first)["result"]["images"][0]
    source = client.get(source_url).content
    edit = submit(
        client,
        {
            "model": "flux-fill-pro",
            "fluxFillParams": {
                "image": source_url,
                "prompt": "add a moon",
                "mode": "inpaint",
                "output_format": "png",
            },
        },
        "/v2/images/edit",
    )
    done = wait_ended(client, edit)
    assert done["status"] == "COMPLETED", done
    record = emulator.state.jobs[edit]
    assert record.input_urls == (source_url,)
    assert record.inputs == (source,)
    output = client.get(done["result"]["images"][0]).content
    assert output == render("add a moon", 1, record.images, model="flux-fill-pro", inputs=(source,))
    assert output != render("add a moon", 1, record.images, model="flux-fill-pro")


def test_unusable_inputs_fail_the_job_uncharged(emulator: Emulator, client: httpx.Client) -> None:
    urls = {
        "refused connection": f"http://127.0.0.1:{free_port()}/gone.png",
        "404 on the emulator": f"{emulator.url}/files/{uuid.uuid4()}-1.png",
        # passes the upload's sniffing, but is no readable image
        "not an image": upload(client, b"GIF89a" + b"\0" * 64, "broken.gif"),
    }
    start = credits(client)
    ids = {kind: submit(client, gpt(f"use {kind}", input_images=[url])) for kind, url in urls.items()}
    for kind, job_id in ids.items():
        done = wait_ended(client, job_id)
        assert done["status"] == "FAILED", kind
        prefix = f"Could not use input image {urls[kind]}: "
        assert done["error"].startswith(prefix), done["error"]
        assert len(done["error"]) > len(prefix), "the reason is missing"
        assert (done["creditCost"], done["result"], done["progress"]) == (0, None, None)
    time.sleep(0.4)  # past the time the jobs would have completed
    for job_id in ids.values():
        assert job(client, job_id)["status"] == "FAILED"
        assert client.get(f"/files/{job_id}-1.webp").status_code == 404
    assert "not an image" in job(client, ids["not an image"])["error"]
    assert "404" in job(client, ids["404 on the emulator"])["error"]
    assert emulator.state.charges == []
    assert emulator.state.reserved == 0
    assert credits(client) == start


# --- retention ---------------------------------------------------------------------------------------------


def test_results_expire_after_retention(make_emulator: Callable[..., Emulator]) -> None:
    emulator = make_emulator(job_seconds=0.2, retention_seconds=0.8)
    with client_for(emulator) as client:
        job_id = submit(client, gpt(output_format="jpeg"))
        done = wait_ended(client, job_id)
        url = done["result"]["images"][0]
        assert done["expired"] is False
        assert client.get(url).status_code == 200
        assert wait_for(lambda: job(client, job_id)["expired"], timeout=3)
        expired = job(client, job_id)
        assert expired["status"] == "COMPLETED"
        assert expired["result"] == done["result"]  # still listed, but purged
        assert client.get(url).status_code == 404
        assert client.get("/v2/jobs").json()["jobs"][0]["expired"] is True
    assert emulator.state.charges == [(job_id, 6)]


# --- faults ------------------------------------------------------------------------------------------------


def test_fault_header_kinds(emulator: Emulator, client: httpx.Client) -> None:
    outage = client.post(GENERATE, json=gpt(), headers={"X-Emulator-Fault": "503"})
    assert outage.status_code == 503
    assert outage.json()["error"]
    limited = client.get("/v2/me", headers={"X-Emulator-Fault": "429; retry-after=2"})
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "2"
    assert client.get("/v2/me", headers={"X-Emulator-Fault": "502"}).status_code == 502

    # drop: the client sees the connection cut mid-answer
    with pytest.raises(httpx.TransportError):
        client.post(GENERATE, json=gpt(), headers={"X-Emulator-Fault": "drop"})
    with pytest.raises(httpx.TransportError):
        client.get("/v2/me", headers={"X-Emulator-Fault": "drop"})
    assert emulator.state.jobs == {}, "a faulted request reached the routes"

    # malformed: 200 with a body that is not JSON
    malformed = client.get("/v2/me", headers={"X-Emulator-Fault": "malformed"})
    assert malformed.status_code == 200
    assert malformed.headers["x-request-id"]
    with pytest.raises(json.JSONDecodeError):
        malformed.json()

    # slow: the normal answer, late
    started = time.monotonic()
    response = client.post(GENERATE, json=gpt(), headers={"X-Emulator-Fault": "slow=0.5"})
    assert time.monotonic() - started >= 0.5
    assert response.status_code == 202
    assert list(emulator.state.jobs) == [response.json()["jobId"]]

    # Only the request that carries the header is affected.
    started = time.monotonic()
    assert client.get("/v2/me").status_code == 200
    assert time.monotonic() - started < 0.4


def test_an_unreadable_fault_header_is_not_a_crash(emulator: Emulator, client: httpx.Client) -> None:
    """A typo in the fault header must not crash the request (a bare 500 with no request id)."""
    crashed = {}
    for header in ("slow=abc", "429; retry-after=soon", "503; retry-after=", "teapot"):
        response = client.get("/v2/me", headers={"X-Emulator-Fault": header})
        if response.status_code == 500 or not response.headers.get("x-request-id"):
            crashed[header] = (response.status_code, response.text)
        else:
            assert response.json()
    assert crashed == {}


def test_injected_fault_rules(emulator: Emulator, client: httpx.Client) -> None:
    emulator.inject(action="status", status=503, times=2, method="GET", path="/v2/me")
    assert [client.get("/v2/me").status_code for _ in range(3)] == [503, 503, 200]

    emulator.inject(action="status", status=429, retry_after=3)
    limited = client.get("/v2/jobs")
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "3")
    assert client.get("/v2/jobs").status_code == 200

    emulator.inject(action="drop", method="POST", path=GENERATE)
    assert client.get("/v2/jobs").status_code == 200  # another method is not affected
    with pytest.raises(httpx.TransportError):
        client.post(GENERATE, json=gpt())
    assert emulator.state.jobs == {}
    assert client.post(GENERATE, json=gpt()).status_code == 202

    emulator.inject(action="slow", delay=0.4, path="/v2/me")
    started = time.monotonic()
    assert client.get("/v2/me").status_code == 200
    assert time.monotonic() - started >= 0.4

    emulator.inject(action="malformed", path="/v2/jobs/*")
    response = client.get(f"/v2/jobs/{uuid.uuid4()}")
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        response.json()
    assert client.get(f"/v2/jobs/{uuid.uuid4()}").status_code == 404

    # times=None: until cleared
    emulator.inject(action="status", status=500, times=None, path="/v2/me")
    assert [client.get("/v2/me").status_code for _ in range(4)] == [500] * 4
    assert client.delete("/_emulator/rules").status_code == 200
    assert client.get("/v2/me").status_code == 200
    # Result files and the admin API are never faulted.
    emulator.inject(action="status", status=503, times=None, path="*")
    assert client.get("/_emulator/state").status_code == 200
    assert client.get("/v2/me").status_code == 503


def test_fault_rules_over_the_admin_api(emulator: Emulator, client: httpx.Client) -> None:
    created = client.post(
        "/_emulator/faults", json={"action": "status", "status": 502, "times": 2, "path": "/v2/jobs*"}
    )
    assert created.status_code == 201
    assert [client.get("/v2/jobs").status_code for _ in range(3)] == [502, 502, 200]
    client.post("/_emulator/faults", json={"action": "status", "status": 429, "retry_after": 1.2, "times": 1})
    limited = client.get("/v2/me")
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "1")
    client.post("/_emulator/faults", json={"action": "drop", "method": "GET", "times": 1})
    with pytest.raises(httpx.TransportError):
        client.get("/v2/me")
    client.post("/_emulator/faults", json={"action": "slow", "delay": 0.3, "times": 1})
    started = time.monotonic()
    assert client.get("/v2/me").status_code == 200
    assert time.monotonic() - started >= 0.3
    assert client.get("/v2/me").status_code == 200


def test_rate_limit(make_emulator: Callable[..., Emulator]) -> None:
    emulator = make_emulator(rate_limit=4.0, api_keys=(API_KEY, "afk_test_second_key"))
    with client_for(emulator) as client, client_for(emulator, "afk_test_second_key") as other:
        answers = [client.get("/v2/me") for _ in range(6)]
        codes = [a.status_code for a in answers]
        assert codes[:4] == [200] * 4
        assert 429 in codes[4:]
        limited = next(a for a in answers if a.status_code == 429)
        retry_after = int(limited.headers["retry-after"])
        assert 1 <= retry_after <= 2
        assert limited.json()["error"]
        # Buckets are per key.
        assert other.get("/v2/me").status_code == 200
        time.sleep(retry_after)
        assert client.get("/v2/me").status_code == 200


# --- outcomes ----------------------------------------------------------------------------------------------


def test_outcome_failed_and_cancelled(emulator: Emulator, client: httpx.Client) -> None:
    emulator.decide(outcome="failed", prompt_contains="forbidden")
    refused = submit(client, gpt("the forbidden fruit"))
    fine = submit(client, gpt("an apple"))
    rule_used_up = submit(client, gpt("forbidden again"))
    assert client.post("/_emulator/outcomes", json={"outcome": "cancelled", "times": 2}).status_code == 201
    cancelled = [submit(client, gpt("c1")), submit(client, gpt("c2"))]
    after = submit(client, gpt("c3"))

    done = {job_id: wait_ended(client, job_id) for job_id in [refused, fine, rule_used_up, *cancelled, after]}
    assert done[refused]["status"] == "FAILED"
    assert done[refused]["error"] == CONTENT_POLICY_ERROR
    assert "content policy" in done[refused]["error"]
    assert [done[j]["status"] for j in (fine, rule_used_up, after)] == ["COMPLETED"] * 3
    for job_id in cancelled:
        assert done[job_id]["status"] == "CANCELLED"
        assert "cancelled" in done[job_id]["error"]
    assert sorted(j for j, _ in emulator.state.charges) == sorted([fine, rule_used_up, after])


def test_outcome_never_stays_processing(emulator: Emulator, client: httpx.Client) -> None:
    stuck = submit(client, gpt("stuck"), **{"X-Emulator-Outcome": "never"})
    time.sleep(0.8)  # well past the job's time
    first = job(client, stuck)
    time.sleep(0.4)
    second = job(client, stuck)
    assert first["status"] == second["status"] == "PROCESSING"
    assert 0 < first["progress"] < second["progress"] < 100
    assert (second["creditCost"], second["completedAt"], second["result"]) == (None, None, None)
    assert emulator.state.charges == []
    assert emulator.state.reserved == 0


def test_outcome_result_shapes(emulator: Emulator, client: httpx.Client) -> None:
    as_string = submit(client, gpt("one url", output_format="png"), **{"X-Emulator-Outcome": "string-result"})
    client.post("/_emulator/outcomes", json={"outcome": "unknown-result"})
    unknown = submit(client, gpt("odd shape"))
    string_result = wait_ended(client, as_string)["result"]
    assert string_result == f"{emulator.url}/files/{as_string}-1.png"
    assert client.get(string_result).headers["content-type"] == "image/png"
    odd = wait_ended(client, unknown)
    assert odd["status"] == "COMPLETED"
    assert isinstance(odd["result"], dict)
    assert "images" not in odd["result"]
    assert len(emulator.state.charges) == 2


def test_outcome_expired(emulator: Emulator, client: httpx.Client) -> None:
    emulator.decide(outcome="expired")
    job_id = submit(client, gpt("gone at once", output_format="webp"))
    done = wait_ended(client, job_id)
    assert (done["status"], done["expired"]) == ("COMPLETED", True)
    assert client.get(done["result"]["images"][0]).status_code == 404
    assert emulator.state.charges == [(job_id, 6)]


def test_unknown_outcome_header_is_rejected(emulator: Emulator, client: httpx.Client) -> None:
    response = client.post(GENERATE, json=gpt(), headers={"X-Emulator-Outcome": "exploded"})
    assert response.status_code == 400
    assert "exploded" in response.json()["error"]
    assert emulator.state.jobs == {}


# --- the command -------------------------------------------------------------------------------------------


def test_command_starts_and_answers(tmp_path: Path) -> None:
    """``apiframe-emulator`` and ``python -m airflow_provider_apiframe.emulator``, side by side."""
    script = Path(sys.executable).parent / "apiframe-emulator"
    assert script.is_file(), "the apiframe-emulator console script is not installed"
    commands = {
        "console script": [str(script)],
        "python -m": [sys.executable, "-m", "airflow_provider_apiframe.emulator"],
    }
    processes = {
        how: EmulatorProcess(
            settings={"job_seconds": 0.2},
            log_level=None,
            log=tmp_path / f"{how}.log",
            command=command,
            cwd=ROOT,
        )
        for how, command in commands.items()
    }
    ended: dict[str, int | None] = {}
    try:
        for running in processes.values():
            running.start(wait=False)
        for running in processes.values():
            running.wait_until_up(timeout=30)
        for url in (running.url for running in processes.values()):
            with httpx.Client(base_url=url, headers={"X-API-Key": EMULATOR_API_KEY}, timeout=10) as client:
                assert client.get("/v2/me").json()["team"]["credits"] == 100_000
                assert client.get("/v2/me", headers={"X-API-Key": API_KEY}).status_code == 401
                job_id = submit(client, gpt(output_format="png"))
                done = wait_ended(client, job_id)
                assert done["status"] == "COMPLETED"
                assert done["result"]["images"][0].startswith(url)
                assert client.get(done["result"]["images"][0]).content.startswith(b"\x89PNG")
                # The shipped snapshot: requests are validated against the contract, every family.
                invalid = {"prompt": "p", "model": "flux-2-pro", "fluxParams": {"x": 1}}
                assert client.post(GENERATE, json=invalid).status_code == 400
    finally:
        for how, running in processes.items():
            process = running.process
            running.stop(timeout=15)
            ended[how] = None if process is None else process.returncode
    for how, running in processes.items():
        output = (tmp_path / f"{how}.log").read_text()
        assert f"Apiframe emulator on {running.url}" in output, output
        assert "checked against the contract (API 2.0.0, the snapshot shipped" in output
        assert ended[how] is not None


def test_held_jobs_stay_queued_until_released_then_run_their_full_time(
    emulator: Emulator, client: httpx.Client
) -> None:
    emulator.config.job_seconds = 0.4
    assert client.post("/_emulator/hold").status_code == 200
    job_id = client.post("/v2/images/generate", json={"model": "gpt-image-1.5", "prompt": "held"}).json()[
        "jobId"
    ]
    time.sleep(0.6)  # longer than the job takes
    assert client.get(f"/v2/jobs/{job_id}").json()["status"] == "QUEUED"

    released_at = time.time()
    assert client.post("/_emulator/release").json() == {"released": 1}
    time.sleep(0.7)
    job = client.get(f"/v2/jobs/{job_id}").json()
    assert job["status"] == "COMPLETED"
    completed = datetime.fromisoformat(job["completedAt"].replace("Z", "+00:00")).timestamp()
    assert completed >= released_at + 0.3, "it ran after its release, for about its time"
    assert [charged for charged, _ in emulator.state.charges] == [job_id]
    assert emulator.state.summary()["requestsByRoute"]["GET /v2/jobs/{id}"] == 2


def test_a_late_fault_makes_the_job_but_holds_the_answer(emulator: Emulator) -> None:
    emulator.inject(action="late", method="POST", path="/v2/images/generate", delay=1.0)
    with client_for(emulator) as client, pytest.raises(httpx.ReadTimeout):
        client.post("/v2/images/generate", json={"model": "gpt-image-1.5", "prompt": "late"}, timeout=0.3)
    assert len(emulator.state.jobs) == 1, "the job exists although its client never heard of it"
