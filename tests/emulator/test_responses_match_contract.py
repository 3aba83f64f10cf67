"""
Every answer the emulator gives on every route of the contract validates against the contract's
response schema for that route and status: accepted jobs, jobs of every modality (results
included), job lists, validation errors, 402, 404, 409, auth and fault errors, and the catalogue.

A status the contract does not list for a route (the actions' ``409``, which their descriptions
promise; an outage on a read) must still be the API's error envelope, ``ErrorResponse``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from support import API_KEY, Contract, wait_for

from airflow_provider_apiframe.core.catalog import JOB_ROUTES
from airflow_provider_apiframe.emulator import Emulator

VIDEO = "/v2/videos/generate"
MUSIC = "/v2/music/generate"
MJ = "/v2/images/midjourney/action"
SUNO = "/v2/music/suno/action"
JOB = "/v2/jobs/{id}"
JOBS = "/v2/jobs"


class Answers:
    """Sends requests to the emulator and checks each answer against the contract."""

    def __init__(self, contract: Contract, client: httpx.Client):
        self.contract = contract
        self.client = client
        self.seen: set[tuple[str, str, int]] = set()

    def check(self, response: httpx.Response, method: str, path: str) -> Any:
        """Assert the answer is its route's schema for its status; return its body."""
        responses = self.contract.spec["paths"][path][method.lower()]["responses"]
        status = response.status_code
        if str(status) in responses:
            name = self.contract.response_schema(method, path, status)
        else:
            assert status in (409, 503), f"{method} {path} -> {status}, which the contract does not list"
            name = "ErrorResponse"
        body = response.json()
        errors = self.contract.errors(name, body)
        assert errors == [], f"{method} {path} -> {status} is not a {name}: {errors}\n{body}"
        self.seen.add((method, path, status))
        return body

    def post(self, path: str, body: Any, status: int, **headers: str) -> Any:
        response = self.client.post(path, json=body, headers=headers)
        assert response.status_code == status, f"{path} {body}: {response.status_code} {response.text}"
        return self.check(response, "POST", path)

    def get(self, path: str, url: str, expect: int = 200, **params: str) -> Any:
        response = self.client.get(url, params=params)
        assert response.status_code == expect, f"{url}: {response.status_code} {response.text}"
        return self.check(response, "GET", path)

    def ended(self, job_id: str) -> dict[str, Any]:
        """The job (checked as a ``Job``) once it has ended."""
        job: dict[str, Any] = {}

        def done() -> bool:
            job.update(self.get(JOB, f"/v2/jobs/{job_id}"))
            return job["status"] not in ("QUEUED", "PROCESSING")

        assert wait_for(done, 10), job
        return job

    def job(self, path: str, body: dict[str, Any], **headers: str) -> dict[str, Any]:
        """Submit a job (its ``202`` checked) and return it ended."""
        accepted = self.post(path, body, 202, **headers)
        assert accepted["status"] == "QUEUED"
        return self.ended(accepted["jobId"])


@pytest.fixture
def answers(contract: Contract, emulator: Emulator) -> Iterator[Answers]:
    with httpx.Client(base_url=emulator.url, headers={"X-API-Key": API_KEY}, timeout=30) as client:
        yield Answers(contract, client)


#: A valid body of every model route (the actions need a parent: see the test).
VALID = {
    "/v2/images/generate": {"model": "flux-1.1-pro", "prompt": "a kite"},
    "/v2/images/edit": {
        "model": "flux-fill-pro",
        "fluxFillParams": {"image": "{png}", "prompt": "add a moon", "mode": "inpaint"},
    },
    "/v2/images/upscale": {"model": "clarity-upscale", "clarityUpscaleParams": {"image": "{png}"}},
    "/v2/images/background-remove": {"model": "bria-bg-remove", "briaBgRemoveParams": {"image": "{png}"}},
    VIDEO: {
        "model": "kling-2.1",
        "prompt": "a kite flies",
        "klingParams": {"duration": 5, "start_image": "{png}"},
    },
    "/v2/videos/edit": {
        "model": "wan-2.7-videoedit",
        "prompt": "snow",
        "wan27VideoeditParams": {"video": "{mp4}"},
    },
    "/v2/videos/upscale": {
        "model": "topaz-video-upscale",
        "topazVideoParams": {"video": "{mp4}", "target_resolution": "720p", "target_fps": 24},
    },
    MUSIC: {"model": "elevenlabs-music", "prompt": "a march", "elevenlabsParams": {"music_length_ms": 5000}},
}
#: An invalid body of every job route, and a field its 400 names.
INVALID = {
    "/v2/images/generate": ({"model": "flux-1.1-pro"}, "prompt"),
    "/v2/images/edit": ({"model": "flux-fill-pro"}, "fluxFillParams"),
    "/v2/images/upscale": ({"model": "nope"}, "model"),
    "/v2/images/background-remove": (
        {"model": "bria-bg-remove", "briaBgRemoveParams": {}},
        "briaBgRemoveParams.image",
    ),
    VIDEO: ({"model": "sora-2", "prompt": "p", "soraParams": {"duration": 7}}, "soraParams.duration"),
    "/v2/videos/edit": ({"model": "wan-2.7-videoedit", "prompt": "p"}, "wan27VideoeditParams"),
    "/v2/videos/upscale": (
        {"model": "topaz-video-upscale", "topazVideoParams": {"video": "x"}},
        "topazVideoParams.video",
    ),
    MUSIC: ({"model": "suno"}, "prompt"),
    MJ: ({"action": "upsample", "index": 5, "parentJobId": str(uuid.uuid4())}, "index"),
    SUNO: ({"action": "add_vocals", "parentJobId": str(uuid.uuid4())}, "prompt"),
}


def _fill(body: Any, urls: dict[str, str]) -> Any:
    if isinstance(body, dict):
        return {k: _fill(v, urls) for k, v in body.items()}
    return urls.get(body, body) if isinstance(body, str) else body


def test_every_answer_on_every_route_matches_the_contract(emulator: Emulator, answers: Answers) -> None:
    assert set(VALID) | {MJ, SUNO} == set(JOB_ROUTES) == set(INVALID)
    png = answers.job("/v2/images/generate", {"model": "gpt-image-1.5", "prompt": "an input"})["result"][
        "images"
    ][0]
    mp4 = answers.job(VIDEO, {"model": "veo-3", "prompt": "an input clip"})["result"]["videos"][0]
    urls = {"{png}": png, "{mp4}": mp4}

    # 202 and the Job of every model route, results included
    jobs = {route: answers.job(route, _fill(body, urls)) for route, body in VALID.items()}
    assert all(job["status"] == "COMPLETED" for job in jobs.values()), jobs
    assert set(jobs[VIDEO]["result"]) == {"videos"}
    assert set(jobs[MUSIC]["result"]) == {"audio"}

    # ... and of the actions, and of each result shape they make
    grid = answers.job("/v2/images/generate", {"model": "midjourney", "prompt": "a grid"})
    upsample = answers.job(MJ, {"action": "upsample", "index": 2, "parentJobId": grid["id"]})
    pan = answers.job(MJ, {"action": "pan", "direction": "down", "parentJobId": upsample["id"]})
    assert [len(j["result"]["images"]) for j in (grid, upsample, pan)] == [4, 1, 4]
    song = answers.job(MUSIC, {"model": "suno", "prompt": "a song"})
    cover = answers.job(SUNO, {"action": "cover", "index": 2, "parentJobId": song["id"]})
    stems = answers.job(
        SUNO, {"action": "stems", "trackId": cover["result"]["tracks"][0]["id"], "parentJobId": cover["id"]}
    )
    assert set(stems["result"]) == {"vocals", "instrumental"}

    # jobs that did not complete, and the other result shapes outcomes give
    for outcome in ("failed", "cancelled", "string-result", "unknown-result", "expired"):
        answers.job(VIDEO, {"model": "veo-3", "prompt": outcome}, **{"X-Emulator-Outcome": outcome})
    never = answers.post(MUSIC, {"model": "udio", "prompt": "never"}, 202, **{"X-Emulator-Outcome": "never"})
    assert answers.get(JOB, f"/v2/jobs/{never['jobId']}")["status"] in ("QUEUED", "PROCESSING")

    # replays
    key = {"Idempotency-Key": f"replay-{uuid.uuid4()}"}
    first = answers.post(SUNO, {"action": "extend", "index": 1, "parentJobId": song["id"]}, 202, **key)
    replayed = answers.post(SUNO, {"action": "extend", "index": 1, "parentJobId": song["id"]}, 202, **key)
    assert replayed["jobId"] == first["jobId"]

    # JobList, every modality on one page, and its filters
    page = answers.get(JOBS, JOBS, limit="100", include_models="true")
    assert {"midjourney", "suno", "kling-2.1", "elevenlabs-music", "topaz-video-upscale"} <= set(
        page["models"]
    )
    assert answers.get(JOBS, JOBS, model="suno", status="COMPLETED")["jobs"]
    answers.get(JOBS, JOBS, 400, limit="0")

    # 400 on every job route
    for route, (body, field) in INVALID.items():
        assert field in answers.post(route, body, 400)["details"], route
    assert (
        "Idempotency-Key"
        in answers.post(VIDEO, {"model": "veo-3", "prompt": "p"}, 400, **{"Idempotency-Key": "k" * 256})[
            "details"
        ]
    )
    answers.post(MJ, {"action": "upsample", "index": 1, "parentJobId": song["id"]}, 400)
    answers.post(SUNO, {"action": "stems", "parentJobId": grid["id"]}, 400)
    answers.get(JOB, "/v2/jobs/not-a-uuid", 400)

    # 404, 409
    answers.get(JOB, f"/v2/jobs/{uuid.uuid4()}", 404)
    answers.post(MJ, {"action": "inpaint", "mask": "AA", "parentJobId": grid["id"]}, 409)
    answers.post(MJ, {"action": "variation", "index": 1, "parentJobId": upsample["id"]}, 409)
    answers.post(SUNO, {"action": "extend", "parentJobId": stems["id"]}, 409)

    # 402 on every job route (the actions too)
    emulator.state.credits = 0
    actions = {
        MJ: {"action": "upsample", "index": 1, "parentJobId": grid["id"]},
        SUNO: {"action": "stems", "parentJobId": song["id"]},
    }
    for route, body in {**{r: _fill(b, urls) for r, b in VALID.items()}, **actions}.items():
        refused = answers.post(route, body, 402)
        assert refused["creditsAvailable"] == 0
        assert refused["creditsRequired"] > 0

    # 401, 403 (no key), 429 and 503 (faults) on the new routes
    for route in (VIDEO, "/v2/videos/edit", "/v2/videos/upscale", MUSIC, MJ, SUNO):
        bare = httpx.post(f"{emulator.url}{route}", json={})
        assert bare.status_code == 401
        answers.check(bare, "POST", route)
        answers.post(route, {}, 429, **{"X-Emulator-Fault": "429; retry-after=1"})
        answers.post(route, {}, 503, **{"X-Emulator-Fault": "503"})

    # the catalogue, whole and by modality
    models = answers.get("/v2/models", "/v2/models")["models"]
    assert {m["modality"] for m in models} == {"image", "video", "music"}
    for modality in ("image", "video", "music"):
        assert {
            m["modality"] for m in answers.get("/v2/models", "/v2/models", modality=modality)["models"]
        } == {modality}
    answers.get("/v2/models", "/v2/models", 400, modality="speech")

    # every job route answered 202, 400 and 402; the new ones also 401, 429 and 503
    for route in JOB_ROUTES:
        statuses = (
            (202, 400, 402)
            if route.startswith("/v2/images/") and route != MJ
            else (202, 400, 401, 402, 429, 503)
        )
        assert {("POST", route, status) for status in statuses} <= answers.seen, route
    assert ("POST", MJ, 409) in answers.seen
    assert ("POST", SUNO, 409) in answers.seen


def test_the_catalogue_prices_what_the_ledger_charges(emulator: Emulator, answers: Answers) -> None:
    models = {m["id"]: m for m in answers.get("/v2/models", "/v2/models")["models"]}
    assert (models["kling-2.1"]["pricingMode"], models["kling-2.1"]["costMin"]) == ("per-second", 4)
    assert (models["suno"]["pricingMode"], models["suno"]["costMin"]) == ("flat", 20)
    assert (models["midjourney"]["pricingMode"], models["midjourney"]["costMin"]) == ("per-output", 8)
    video = answers.job(VIDEO, {"model": "kling-2.1", "prompt": "p", "klingParams": {"duration": 10}})
    assert video["creditCost"] == models["kling-2.1"]["costMin"] * 10
    music = answers.job(MUSIC, {"model": "mureka", "prompt": "p"})
    assert music["creditCost"] == models["mureka"]["costMin"]
