"""
Every answer of the emulator, over a matrix of requests, matches the official contract's response
schema for its path and status, and carries an ``x-request-id``.
"""

from __future__ import annotations

import base64
import io
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image
from support import API_KEY, wait_for

from airflow_provider_apiframe.core.catalog import IMAGE_MODELS, models_of
from airflow_provider_apiframe.emulator import Emulator, EmulatorConfig, free_port

GENERATE = "/v2/images/generate"
EDIT = "/v2/images/edit"
UPSCALE = "/v2/images/upscale"
BG_REMOVE = "/v2/images/background-remove"
JOB = "/v2/jobs/{id}"
JOBS = "/v2/jobs"
ME = "/v2/me"
UPLOADS = "/v2/uploads"
OTHER_KEY = "afk_test_other_team_key_0001"
INACTIVE_KEY = "afk_test_inactive_key_0002"


# --- helpers -----------------------------------------------------------------------------------------------


def check(contract: Any, response: httpx.Response, method: str, path: str) -> Any:
    """Assert the response matches the contract's schema for ``path`` and its status; return its body."""
    assert response.headers.get("x-request-id", "").startswith("req_"), response.headers
    name = contract.response_schema(method, path, response.status_code)
    body = response.json()
    errors = contract.errors(name, body)
    assert errors == [], f"{method} {path} -> {response.status_code} is not a {name}: {errors}\n{body}"
    return body


def png_bytes(size: tuple[int, int] = (64, 48), color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


def submit(client: httpx.Client, route: str, body: Any, **headers: str) -> str:
    response = client.post(route, json=body, headers=headers)
    assert response.status_code == 202, f"{route} {body}: {response.status_code} {response.text}"
    job_id: str = response.json()["jobId"]
    return job_id


def wait_ended(client: httpx.Client, job_ids: list[str], timeout: float = 5.0) -> dict[str, httpx.Response]:
    """Poll until every job has ended; return the last answer for each."""
    answers: dict[str, httpx.Response] = {}

    def all_ended() -> bool:
        for job_id in job_ids:
            if job_id not in answers or answers[job_id].json()["status"] in ("QUEUED", "PROCESSING"):
                answers[job_id] = client.get(f"/v2/jobs/{job_id}")
        return all(a.json()["status"] not in ("QUEUED", "PROCESSING") for a in answers.values())

    assert wait_for(all_ended, timeout), {k: v.json()["status"] for k, v in answers.items()}
    return answers


def _client(url: str, key: str | None = API_KEY) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"X-API-Key": key} if key else {}, timeout=30)


@pytest.fixture
def client(emulator: Emulator) -> Iterator[httpx.Client]:
    with _client(emulator.url) as http:
        yield http


@pytest.fixture(scope="module")
def shared(spec: dict[str, Any]) -> Iterator[Emulator]:
    """One emulator for requests that change nothing (validation errors, faults, auth)."""
    config = EmulatorConfig(
        api_keys=(API_KEY, OTHER_KEY),
        inactive_keys=(INACTIVE_KEY,),
        job_seconds=0.3,
        jitter=0.0,
        spec=spec,
        seed=2,
    )
    with Emulator(config).running() as running:
        yield running


@pytest.fixture
def shared_client(shared: Emulator) -> Iterator[httpx.Client]:
    with _client(shared.url) as http:
        yield http


def _minimal_params(model: str) -> dict[str, Any] | None:
    """The smallest valid params block of a model whose block is required, else None."""
    required = {
        "ideogram-character": {"character_reference_image": "https://example.com/character.png"},
        "flux-lora": {"loraId": str(uuid.uuid4())},
        "flux-fill-pro": {"image": "https://example.com/in.png", "prompt": "fill it", "mode": "inpaint"},
        "topaz-image-upscale": {"image": "https://example.com/in.png"},
        "clarity-upscale": {"image": "https://example.com/in.png"},
        "bria-bg-remove": {"image": "https://example.com/in.png"},
        "851-bg-remove": {"image": "https://example.com/in.png"},
    }
    return required.get(model)


# --- job submission: valid -------------------------------------------------------------------------------


def _gpt_matrix() -> list[dict[str, Any]]:
    qualities = ["low", "medium", "high", "auto"]
    params: list[dict[str, Any]] = []
    n = 0
    for ratio in ("1:1", "3:2", "2:3"):
        for fmt in ("png", "jpeg", "webp"):
            for background in ("auto", "transparent", "opaque"):
                params.append(
                    {
                        "aspect_ratio": ratio,
                        "output_format": fmt,
                        "background": background,
                        "quality": qualities[n % 4],
                        "input_fidelity": ("low", "high")[n % 2],
                    }
                )
                n += 1
    params += [
        {},
        {"number_of_images": 1},
        {"number_of_images": 10, "quality": "low", "output_format": "jpeg"},
        {"input_images": None},
        {"input_images": []},
    ]
    return params


def test_gpt_image_generate_matrix(contract: Any, emulator: Emulator, client: httpx.Client) -> None:
    bodies: list[dict[str, Any]] = [{"prompt": "a red fox in snow", "model": "gpt-image-1.5"}]
    bodies += [
        {"prompt": f"a red fox in snow #{i}", "model": "gpt-image-1.5", "gptImageParams": params}
        for i, params in enumerate(_gpt_matrix())
    ]
    bodies.append(
        {
            "prompt": "with a webhook",
            "model": "gpt-image-1.5",
            "webhookUrl": f"http://127.0.0.1:{free_port()}/hook",
            "webhookEvents": ["completed"],
        }
    )
    jobs: dict[str, dict[str, Any]] = {}
    for body in bodies:
        assert contract.errors("GenerateImageRequest", body) == [], body
        response = client.post(GENERATE, json=body)
        accepted = check(contract, response, "POST", GENERATE)
        assert response.status_code == 202, (body, accepted)
        assert accepted["status"] == "QUEUED"
        jobs[accepted["jobId"]] = body
    assert len(jobs) == len(bodies)

    answers = wait_ended(client, list(jobs))
    for job_id, response in answers.items():
        job = check(contract, response, "GET", JOB)
        params = jobs[job_id].get("gptImageParams") or {}
        assert job["status"] == "COMPLETED", job
        assert job["input"] == jobs[job_id]
        images = job["result"]["images"]
        assert len(images) == (params.get("number_of_images") or 1)
        assert all(url.endswith("." + (params.get("output_format") or "webp")) for url in images)
        assert job["webhookStatus"] == ("pending" if "webhookUrl" in jobs[job_id] else None)

    # input_images from a previous job's result URL
    source = next(iter(answers.values())).json()["result"]["images"][0]
    body = {
        "prompt": "the same fox, in watercolour",
        "model": "gpt-image-1.5",
        "gptImageParams": {"input_images": [source], "input_fidelity": "high"},
    }
    job_id = check(contract, client.post(GENERATE, json=body), "POST", GENERATE)["jobId"]
    job = check(contract, wait_ended(client, [job_id])[job_id], "GET", JOB)
    assert job["status"] == "COMPLETED", job


def _family_representatives() -> list[str]:
    """One model of every params family of the generate route, besides gpt-image-1.5."""
    seen: dict[str, str] = {}
    for model in models_of(GENERATE):
        seen.setdefault(IMAGE_MODELS[model].params_key, model)
    # ...and the two whose params block is required.
    chosen = {m for m in seen.values() if m != "gpt-image-1.5"} | {"ideogram-character", "flux-lora"}
    return sorted(chosen)


def test_every_generate_family_is_accepted(contract: Any, emulator: Emulator, client: httpx.Client) -> None:
    families = {IMAGE_MODELS[m].params_key for m in _family_representatives()}
    assert families == {s.params_key for s in IMAGE_MODELS.values() if s.route == GENERATE} - {
        "gptImageParams"
    }
    # The emulator fetches input images as the API does: the character reference must exist.
    picture = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 80, 40)).save(picture, "PNG")
    uploaded = client.post("/v2/uploads", files={"file": ("character.png", picture.getvalue(), "image/png")})
    submitted: dict[str, dict[str, Any]] = {}
    for model in _family_representatives():
        key = IMAGE_MODELS[model].params_key
        required = _minimal_params(model)
        if model == "ideogram-character":
            required = {"character_reference_image": uploaded.json()["url"]}
        variants = [{key: required}] if required is not None else [{}, {key: {}}]
        for extra in variants:
            body = {"prompt": f"a lighthouse by {model}", "model": model, **extra}
            assert contract.errors("GenerateImageRequest", body) == [], body
            response = client.post(GENERATE, json=body)
            accepted = check(contract, response, "POST", GENERATE)
            assert response.status_code == 202, (body, accepted)
            submitted[accepted["jobId"]] = body
    for job_id, response in wait_ended(client, list(submitted)).items():
        job = check(contract, response, "GET", JOB)
        assert job["status"] == "COMPLETED", (submitted[job_id], job)
        assert job["model"] == submitted[job_id]["model"]
        assert job["creditCost"] is not None
        assert job["creditCost"] > 0


@pytest.mark.parametrize(
    ("route", "model"),
    [
        (EDIT, "flux-fill-pro"),
        *((UPSCALE, m) for m in models_of(UPSCALE)),
        *((BG_REMOVE, m) for m in models_of(BG_REMOVE)),
    ],
)
def test_other_image_routes_accept_valid_bodies(
    contract: Any, emulator: Emulator, client: httpx.Client, route: str, model: str
) -> None:
    # The input is a real file on the emulator: an upload.
    upload = check(contract, client.post(UPLOADS, files={"file": ("in.png", png_bytes())}), "POST", UPLOADS)
    params = dict(_minimal_params(model) or {}, image=upload["url"])
    body = {"model": model, IMAGE_MODELS[model].params_key: params}
    assert contract.errors(_route_schema(route), body) == [], body
    response = client.post(route, json=body)
    accepted = check(contract, response, "POST", route)
    assert response.status_code == 202
    job = check(contract, wait_ended(client, [accepted["jobId"]])[accepted["jobId"]], "GET", JOB)
    assert job["status"] == "COMPLETED", job
    assert job["model"] == model


def _route_schema(route: str) -> str:
    from airflow_provider_apiframe.core.catalog import ROUTE_SCHEMAS

    return ROUTE_SCHEMAS[route]


# --- job submission: invalid -----------------------------------------------------------------------------

_TOO_LONG = "x" * 2001

INVALID_GENERATE: list[tuple[str, Any, str | None]] = [
    # (case, body, the JSON path the problem is keyed by; None: no particular path)
    ("unknown top-level key", {"prompt": "p", "model": "gpt-image-1.5", "colour": "red"}, None),
    ("webhook_url snake case", {"prompt": "p", "model": "gpt-image-1.5", "webhook_url": "https://a.b"}, None),
    (
        "unknown gptImageParams key",
        {"prompt": "p", "model": "gpt-image-1.5", "gptImageParams": {"size": "1024x1024"}},
        "gptImageParams",
    ),
    (
        "bare string input_images",
        {"prompt": "p", "model": "gpt-image-1.5", "gptImageParams": {"input_images": "https://a.b/c.png"}},
        "gptImageParams.input_images",
    ),
    (
        "input_images item not a URI",
        {"prompt": "p", "model": "gpt-image-1.5", "gptImageParams": {"input_images": ["not a uri"]}},
        "gptImageParams.input_images.0",
    ),
    (
        "wrong aspect_ratio enum",
        {"prompt": "p", "model": "gpt-image-1.5", "gptImageParams": {"aspect_ratio": "16:9"}},
        "gptImageParams.aspect_ratio",
    ),
    (
        "wrong output_format enum",
        {"prompt": "p", "model": "gpt-image-1.5", "gptImageParams": {"output_format": "gif"}},
        "gptImageParams.output_format",
    ),
    (
        "wrong background enum",
        {"prompt": "p", "model": "gpt-image-1.5", "gptImageParams": {"background": "clear"}},
        "gptImageParams.background",
    ),
    (
        "number_of_images 11",
        {"prompt": "p", "model": "gpt-image-1.5", "gptImageParams": {"number_of_images": 11}},
        "gptImageParams.number_of_images",
    ),
    (
        "number_of_images 0",
        {"prompt": "p", "model": "gpt-image-1.5", "gptImageParams": {"number_of_images": 0}},
        "gptImageParams.number_of_images",
    ),
    (
        "params not an object",
        {"prompt": "p", "model": "gpt-image-1.5", "gptImageParams": "1:1"},
        "gptImageParams",
    ),
    ("prompt too long", {"prompt": _TOO_LONG, "model": "gpt-image-1.5"}, "prompt"),
    ("empty prompt", {"prompt": "", "model": "gpt-image-1.5"}, "prompt"),
    ("prompt not a string", {"prompt": 5, "model": "gpt-image-1.5"}, "prompt"),
    ("missing model", {"prompt": "p"}, "model"),
    ("unknown model", {"prompt": "p", "model": "gpt-image-9"}, "model"),
    ("model of another route", {"prompt": "p", "model": "flux-fill-pro"}, "model"),
    ("empty webhookEvents", {"prompt": "p", "model": "gpt-image-1.5", "webhookEvents": []}, "webhookEvents"),
    (
        "unknown webhook event",
        {"prompt": "p", "model": "gpt-image-1.5", "webhookEvents": ["done"]},
        "webhookEvents.0",
    ),
    ("webhookUrl not a URI", {"prompt": "p", "model": "gpt-image-1.5", "webhookUrl": "nope"}, "webhookUrl"),
    ("a JSON array", [{"prompt": "p", "model": "gpt-image-1.5"}], None),
    ("a JSON string", "gpt-image-1.5", None),
    ("params of another family", {"prompt": "p", "model": "gpt-image-1.5", "fluxParams": {}}, None),
]


@pytest.mark.parametrize(("case", "body", "path"), INVALID_GENERATE, ids=[c[0] for c in INVALID_GENERATE])
def test_invalid_generate_bodies_are_validation_errors_keyed_by_path(
    contract: Any, shared: Emulator, shared_client: httpx.Client, case: str, body: Any, path: str | None
) -> None:
    before = len(shared.state.jobs)
    response = shared_client.post(GENERATE, json=body)
    assert response.status_code == 400, response.text
    error = check(contract, response, "POST", GENERATE)
    details = error["details"]
    assert details, error
    assert all(
        isinstance(v, list) and v and all(isinstance(m, str) and m for m in v) for v in details.values()
    )
    if path is not None:
        assert path in details, f"{case}: expected a problem at {path!r}, got {details}"
    if case == "unknown top-level key":
        assert "colour" in json.dumps(details)
    assert len(shared.state.jobs) == before, "an invalid request created a job"


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"", b"\xff\xfe\x00garbage", b"{'prompt': 'p'}"],
    ids=["broken", "empty", "not utf-8", "python repr"],
)
def test_non_json_body_is_a_validation_error(
    contract: Any, shared_client: httpx.Client, content: bytes
) -> None:
    response = shared_client.post(GENERATE, content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert check(contract, response, "POST", GENERATE)["error"]


def test_missing_required_fields_are_keyed_by_their_own_path(
    contract: Any, shared_client: httpx.Client
) -> None:
    """
    The API validates with Zod, whose "Required" issues sit at the missing field's own path
    (``prompt``, ``fluxFillParams.image``), not at the enclosing object.
    """
    cases = [
        (GENERATE, {"model": "gpt-image-1.5"}, "prompt"),
        (GENERATE, {"prompt": "p", "model": "ideogram-character"}, "ideogramParams"),
        (
            GENERATE,
            {"prompt": "p", "model": "ideogram-character", "ideogramParams": {}},
            "ideogramParams.character_reference_image",
        ),
        (GENERATE, {"prompt": "p", "model": "flux-lora", "fluxLoraParams": {}}, "fluxLoraParams.loraId"),
        (EDIT, {"model": "flux-fill-pro"}, "fluxFillParams"),
        (
            EDIT,
            {"model": "flux-fill-pro", "fluxFillParams": {"prompt": "p", "mode": "inpaint"}},
            "fluxFillParams.image",
        ),
        (UPSCALE, {"model": "topaz-image-upscale", "topazUpscaleParams": {}}, "topazUpscaleParams.image"),
    ]
    wrong = {}
    for route, body, path in cases:
        response = shared_client.post(route, json=body)
        assert response.status_code == 400
        details = check(contract, response, "POST", route)["details"]
        if path not in details:
            wrong[path] = details
    assert wrong == {}, f"missing fields keyed elsewhere: {wrong}"


INVALID_OTHER_ROUTES: list[tuple[str, str, dict[str, Any], str | None]] = [
    ("edit without params", EDIT, {"model": "flux-fill-pro"}, None),
    (
        "edit with top-level prompt",
        EDIT,
        {
            "model": "flux-fill-pro",
            "prompt": "p",
            "fluxFillParams": {"image": "https://a.b/i.png", "prompt": "p", "mode": "inpaint"},
        },
        None,
    ),
    (
        "edit wrong mode",
        EDIT,
        {
            "model": "flux-fill-pro",
            "fluxFillParams": {"image": "https://a.b/i.png", "prompt": "p", "mode": "x"},
        },
        "fluxFillParams.mode",
    ),
    ("edit with a generate model", EDIT, {"model": "gpt-image-1.5", "prompt": "p"}, "model"),
    (
        "upscale factor 3",
        UPSCALE,
        {
            "model": "topaz-image-upscale",
            "topazUpscaleParams": {"image": "https://a.b/i.png", "upscale_factor": 3},
        },
        "topazUpscaleParams.upscale_factor",
    ),
    (
        "upscale image not a URI",
        UPSCALE,
        {"model": "clarity-upscale", "clarityUpscaleParams": {"image": "in.png"}},
        "clarityUpscaleParams.image",
    ),
    ("upscale unknown model", UPSCALE, {"model": "real-esrgan"}, "model"),
    (
        "background-remove unknown key",
        BG_REMOVE,
        {"model": "bria-bg-remove", "briaBgRemoveParams": {"image": "https://a.b/i.png", "x": 1}},
        "briaBgRemoveParams",
    ),
    (
        "background-remove wrong format",
        BG_REMOVE,
        {"model": "851-bg-remove", "lab851BgRemoveParams": {"image": "https://a.b/i.png", "format": "webp"}},
        "lab851BgRemoveParams.format",
    ),
    ("background-remove model of upscale", BG_REMOVE, {"model": "clarity-upscale"}, "model"),
]


@pytest.mark.parametrize(
    ("case", "route", "body", "path"), INVALID_OTHER_ROUTES, ids=[c[0] for c in INVALID_OTHER_ROUTES]
)
def test_invalid_bodies_on_other_image_routes(
    contract: Any, shared_client: httpx.Client, case: str, route: str, body: Any, path: str | None
) -> None:
    response = shared_client.post(route, json=body)
    assert response.status_code == 400, response.text
    details = check(contract, response, "POST", route)["details"]
    assert details
    if path is not None:
        assert path in details, f"{case}: expected {path!r}, got {details}"


def test_idempotency_key_too_long(contract: Any, shared_client: httpx.Client) -> None:
    body = {"prompt": "p", "model": "gpt-image-1.5"}
    response = shared_client.post(GENERATE, json=body, headers={"Idempotency-Key": "k" * 256})
    assert response.status_code == 400
    assert "Idempotency-Key" in check(contract, response, "POST", GENERATE)["details"]


# --- GET /v2/jobs/{id} -----------------------------------------------------------------------------------


def test_job_in_every_status(contract: Any, emulator: Emulator, client: httpx.Client) -> None:
    body = {"prompt": "statuses", "model": "gpt-image-1.5"}
    emulator.config.job_seconds = 3.0  # QUEUED for its first 0.45 s
    queued = submit(client, GENERATE, body)
    job = check(contract, client.get(f"/v2/jobs/{queued}"), "GET", JOB)
    assert (job["status"], job["progress"], job["creditCost"], job["completedAt"]) == (
        "QUEUED",
        0,
        None,
        None,
    )

    emulator.config.job_seconds = 0.3
    outcomes = ["never", "string-result", "unknown-result", "failed", "cancelled", "expired"]
    ids = {outcome: submit(client, GENERATE, body, **{"X-Emulator-Outcome": outcome}) for outcome in outcomes}
    emulator.decide(outcome="string-result")
    ids["string-result-by-rule"] = submit(client, GENERATE, body)
    ids["images"] = submit(client, GENERATE, body)
    time.sleep(0.6)
    jobs = {name: check(contract, client.get(f"/v2/jobs/{i}"), "GET", JOB) for name, i in ids.items()}

    assert jobs["never"]["status"] == "PROCESSING"
    assert 0 < jobs["never"]["progress"] < 100
    assert jobs["never"]["creditCost"] is None
    assert jobs["never"]["result"] is None
    assert jobs["images"]["status"] == "COMPLETED"
    assert jobs["images"]["result"] == {"images": [jobs["images"]["result"]["images"][0]]}
    for name in ("string-result", "string-result-by-rule"):
        assert jobs[name]["status"] == "COMPLETED"
        assert isinstance(jobs[name]["result"], str)
        assert jobs[name]["result"].startswith(emulator.url)
    assert jobs["unknown-result"]["status"] == "COMPLETED"
    assert not isinstance(jobs["unknown-result"]["result"], (str, type(None)))
    assert "images" not in jobs["unknown-result"]["result"]
    for name, status in (("failed", "FAILED"), ("cancelled", "CANCELLED")):
        assert jobs[name]["status"] == status
        assert jobs[name]["error"]
        assert jobs[name]["creditCost"] == 0
        assert jobs[name]["progress"] is None
        assert jobs[name]["completedAt"] is not None
        assert jobs[name]["result"] is None
    assert jobs["expired"]["status"] == "COMPLETED"
    assert jobs["expired"]["expired"] is True
    assert all(job["expired"] is False for name, job in jobs.items() if name != "expired")

    # QUEUED has moved on meanwhile
    assert check(contract, client.get(f"/v2/jobs/{queued}"), "GET", JOB)["status"] == "PROCESSING"


def test_job_lookup_errors(contract: Any, shared: Emulator, spec: dict[str, Any]) -> None:
    with _client(shared.url) as mine, _client(shared.url, OTHER_KEY) as theirs:
        for bad in (
            "abc",
            "123",
            "4f0c7d1e-2b3a-4c5d-8e9f-0a1b2c3d4e5",
            "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz",
        ):
            response = mine.get(f"/v2/jobs/{bad}")
            assert response.status_code == 400, bad
            check(contract, response, "GET", JOB)
        response = mine.get(f"/v2/jobs/{uuid.uuid4()}")
        assert response.status_code == 404
        check(contract, response, "GET", JOB)

        job_id = submit(theirs, GENERATE, {"prompt": "theirs", "model": "gpt-image-1.5"})
        assert theirs.get(f"/v2/jobs/{job_id}").status_code == 200
        response = mine.get(f"/v2/jobs/{job_id}")
        assert response.status_code == 404
        check(contract, response, "GET", JOB)
        # and their job is not in my list
        listed = check(contract, mine.get(JOBS, params={"search": job_id}), "GET", JOBS)
        assert listed["jobs"] == []


# --- GET /v2/jobs ----------------------------------------------------------------------------------------


def test_job_list_filters_and_pages(contract: Any, emulator: Emulator, client: httpx.Client) -> None:
    ids: list[str] = []
    for i in range(3):
        ids.append(submit(client, GENERATE, {"prompt": f"gpt {i}", "model": "gpt-image-1.5"}))
    for i in range(3):
        ids.append(submit(client, GENERATE, {"prompt": f"flux {i}", "model": "flux-1.1-pro"}))
    ids.append(
        submit(client, GENERATE, {"prompt": "fails", "model": "dall-e-3"}, **{"X-Emulator-Outcome": "failed"})
    )
    ids.append(
        submit(client, GENERATE, {"prompt": "never", "model": "dall-e-3"}, **{"X-Emulator-Outcome": "never"})
    )
    ids.append(
        submit(
            client, GENERATE, {"prompt": "cancel", "model": "imagen-4"}, **{"X-Emulator-Outcome": "cancelled"}
        )
    )
    time.sleep(0.6)
    newest_first = ids[::-1]

    def page(**params: Any) -> dict[str, Any]:
        response = client.get(JOBS, params=params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = check(contract, response, "GET", JOBS)
        return body

    everything = page()
    assert [j["id"] for j in everything["jobs"]] == newest_first
    assert (everything["hasMore"], everything["nextCursor"]) == (False, None)
    assert "models" not in everything
    assert all("input" not in j for j in everything["jobs"])

    by_status = {
        s: [j["id"] for j in page(status=s)["jobs"]]
        for s in ("QUEUED", "PROCESSING", "COMPLETED", "FAILED", "CANCELLED")
    }
    assert by_status == {
        "QUEUED": [],
        "PROCESSING": [ids[7]],
        "COMPLETED": newest_first[3:],
        "FAILED": [ids[6]],
        "CANCELLED": [ids[8]],
    }
    assert [j["id"] for j in page(model="flux-1.1-pro")["jobs"]] == ids[5:2:-1]
    assert [j["id"] for j in page(model="dall-e-3", status="FAILED")["jobs"]] == [ids[6]]
    assert page(model="midjourney")["jobs"] == []
    for scope in ("user", "team"):
        assert [j["id"] for j in page(scope=scope)["jobs"]] == newest_first
    assert [j["id"] for j in page(search=ids[4])["jobs"]] == [ids[4]]
    assert page(search=str(uuid.uuid4()))["jobs"] == []
    assert page(include_models="true")["models"] == ["dall-e-3", "flux-1.1-pro", "gpt-image-1.5", "imagen-4"]
    assert "models" not in page(include_models="false")

    for limit, params in ((1, {}), (2, {}), (4, {}), (2, {"status": "COMPLETED"}), (100, {})):
        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            body = page(limit=limit, **params, **({"cursor": cursor} if cursor else {}))
            pages += 1
            assert len(body["jobs"]) <= limit
            seen += [j["id"] for j in body["jobs"]]
            if not body["hasMore"]:
                assert body["nextCursor"] is None
                break
            assert body["nextCursor"]
            assert len(body["jobs"]) == limit
            cursor = body["nextCursor"]
            assert pages < 20
        expected = by_status["COMPLETED"] if params else newest_first
        assert seen == expected, (limit, params)
        assert len(set(seen)) == len(seen)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "abc"}, "limit"),
        ({"limit": "1.5"}, "limit"),
        ({"limit": "-1"}, "limit"),
        ({"cursor": "garbage!"}, "cursor"),
        ({"cursor": base64.urlsafe_b64encode(b'{"a": 1}').decode()}, "cursor"),
        (
            {
                "cursor": base64.urlsafe_b64encode(
                    json.dumps(["2026-01-01T00:00:00.000Z", str(uuid.uuid4())]).encode()
                ).decode()
            },
            "cursor",
        ),
        ({"status": "DONE"}, "status"),
        ({"status": "completed"}, "status"),
        ({"scope": "everyone"}, "scope"),
        ({"search": "not-a-uuid"}, "search"),
    ],
)
def test_job_list_rejects_bad_query(
    contract: Any, shared_client: httpx.Client, params: dict[str, str], field: str
) -> None:
    response = shared_client.get(JOBS, params=params)
    assert response.status_code == 400, response.text
    assert field in check(contract, response, "GET", JOBS)["details"]


# --- account and uploads ---------------------------------------------------------------------------------


def test_me(contract: Any, emulator: Emulator, client: httpx.Client) -> None:
    me = check(contract, client.get(ME), "GET", ME)
    assert me["team"]["credits"] == emulator.state.credits
    assert API_KEY.startswith(me["apiKey"]["prefix"])
    emulator.state.credits = 0
    assert check(contract, client.get(ME), "GET", ME)["team"]["credits"] == 0


@pytest.mark.parametrize(
    ("name", "data", "content_type"),
    [
        ("in.png", png_bytes(), "image/png"),
        ("in.gif", b"GIF89a" + b"\0" * 32, "image/gif"),
        ("in.webp", b"RIFF\x00\x00\x00\x00WEBPVP8 " + b"\0" * 16, "image/webp"),
        ("in.jpg", b"\xff\xd8\xff\xe0" + b"\0" * 32, "image/jpeg"),
    ],
)
def test_upload_created(
    contract: Any, shared_client: httpx.Client, name: str, data: bytes, content_type: str
) -> None:
    response = shared_client.post(UPLOADS, files={"file": (name, data, "application/octet-stream")})
    assert response.status_code == 201, response.text
    upload = check(contract, response, "POST", UPLOADS)
    assert (upload["kind"], upload["contentType"], upload["byteSize"]) == ("image", content_type, len(data))
    assert httpx.get(upload["url"]).content == data


def test_upload_errors(contract: Any, shared_client: httpx.Client) -> None:
    no_file = shared_client.post(UPLOADS, files={"image": ("in.png", png_bytes(), "image/png")})
    not_multipart = shared_client.post(UPLOADS, json={"file": "in.png"})
    unsupported = shared_client.post(UPLOADS, files={"file": ("notes.txt", b"just some text", "text/plain")})
    # The declared type does not matter: the emulator sniffs the bytes.
    disguised = shared_client.post(UPLOADS, files={"file": ("in.png", b"not a png at all", "image/png")})
    too_big = shared_client.post(
        UPLOADS,
        files={"file": ("big.png", png_bytes() + b"\0" * (25 * 1024 * 1024), "image/png")},
    )
    for response in (no_file, not_multipart, unsupported, disguised, too_big):
        assert response.status_code == 400, response.text
        assert "file" in check(contract, response, "POST", UPLOADS)["details"]
    assert "25 MB" in too_big.json()["details"]["file"][0]


# --- auth, credits, conflicts, faults --------------------------------------------------------------------

_VALID_POST = {"prompt": "auth", "model": "gpt-image-1.5"}
_ROUTES: list[tuple[str, str, str, dict[str, Any]]] = [
    # (method, contract path, request path, request kwargs)
    ("POST", GENERATE, GENERATE, {"json": _VALID_POST}),
    (
        "POST",
        EDIT,
        EDIT,
        {"json": {"model": "flux-fill-pro", "fluxFillParams": _minimal_params("flux-fill-pro")}},
    ),
    (
        "POST",
        UPSCALE,
        UPSCALE,
        {"json": {"model": "clarity-upscale", "clarityUpscaleParams": {"image": "https://a.b/i.png"}}},
    ),
    (
        "POST",
        BG_REMOVE,
        BG_REMOVE,
        {"json": {"model": "bria-bg-remove", "briaBgRemoveParams": {"image": "https://a.b/i.png"}}},
    ),
    ("GET", JOB, f"/v2/jobs/{uuid.uuid4()}", {}),
    ("GET", JOBS, JOBS, {}),
    ("GET", ME, ME, {}),
    ("POST", UPLOADS, UPLOADS, {"files": {"file": ("in.png", png_bytes(), "image/png")}}),
]


@pytest.mark.parametrize(
    ("method", "path", "url", "kwargs"), _ROUTES, ids=[f"{r[0]} {r[1]}" for r in _ROUTES]
)
def test_auth_errors(
    contract: Any, shared: Emulator, method: str, path: str, url: str, kwargs: dict[str, Any]
) -> None:
    jobs = len(shared.state.jobs)
    for key, status in ((None, 401), ("afk_wrong_key", 401), ("", 401), (INACTIVE_KEY, 403)):
        with _client(shared.url, key) as http:
            response = http.request(method, url, **kwargs)
        assert response.status_code == status, (key, response.text)
        assert check(contract, response, method, path)["error"]
    assert len(shared.state.jobs) == jobs


def test_insufficient_credits(contract: Any, emulator: Emulator, client: httpx.Client) -> None:
    emulator.state.credits = 3
    response = client.post(GENERATE, json=_VALID_POST)
    assert response.status_code == 402
    body = check(contract, response, "POST", GENERATE)
    assert body == {"error": "Insufficient credits", "creditsRequired": 6, "creditsAvailable": 3}

    # Credits promised to running jobs are not available to new ones.
    emulator.state.credits = 10
    submit(client, GENERATE, _VALID_POST)
    response = client.post(GENERATE, json=_VALID_POST)
    assert response.status_code == 402
    assert check(contract, response, "POST", GENERATE)["creditsAvailable"] == 4
    # ... and a big job asks for all of its price.
    big = {
        "prompt": "p",
        "model": "gpt-image-1.5",
        "gptImageParams": {"quality": "high", "number_of_images": 10},
    }
    response = client.post(GENERATE, json=big)
    assert check(contract, response, "POST", GENERATE)["creditsRequired"] == 240
    emulator.state.credits = 0
    response = client.post(EDIT, json=_ROUTES[1][3]["json"])
    assert response.status_code == 402
    assert check(contract, response, "POST", EDIT)["creditsAvailable"] == 0


def test_a_reused_idempotency_key_replays_the_original_job_whatever_the_body(
    contract: Any, spec: dict[str, Any], shared_client: httpx.Client
) -> None:
    key = {"Idempotency-Key": f"reused-{uuid.uuid4()}"}
    first = shared_client.post(GENERATE, json=_VALID_POST, headers=key)
    assert check(contract, first, "POST", GENERATE)["status"] == "QUEUED"
    replay = shared_client.post(GENERATE, json=_VALID_POST, headers=key)
    assert replay.status_code == 202
    assert check(contract, replay, "POST", GENERATE)["jobId"] == first.json()["jobId"]

    # The contract documents replay ("returns the original job") and lists no 409 for job routes
    # (the Node SDK maps a 409 it may never get): the emulator replays, whatever the body.
    assert "409" not in spec["paths"][GENERATE]["post"]["responses"]
    changed = shared_client.post(GENERATE, json=dict(_VALID_POST, prompt="another"), headers=key)
    assert check(contract, changed, "POST", GENERATE)["jobId"] == first.json()["jobId"]
    assert changed.headers["idempotent-replayed"] == "true"


@pytest.mark.parametrize(
    ("method", "path", "url", "kwargs"), _ROUTES, ids=[f"{r[0]} {r[1]}" for r in _ROUTES]
)
def test_rate_limited_by_fault_header(
    contract: Any, shared_client: httpx.Client, method: str, path: str, url: str, kwargs: dict[str, Any]
) -> None:
    response = shared_client.request(
        method, url, headers={"X-Emulator-Fault": "429; retry-after=2"}, **kwargs
    )
    assert response.status_code == 429
    assert response.headers["retry-after"] == "2"
    assert check(contract, response, method, path)["error"]


@pytest.mark.parametrize(
    ("method", "path", "url", "kwargs", "status"),
    [(*r, 503) for r in _ROUTES[:4]] + [(*_ROUTES[-1], 502)],
    ids=[f"{r[0]} {r[1]}" for r in _ROUTES[:4]] + ["POST /v2/uploads 502"],
)
def test_outage_by_fault_header(
    contract: Any,
    shared: Emulator,
    shared_client: httpx.Client,
    method: str,
    path: str,
    url: str,
    kwargs: dict[str, Any],
    status: int,
) -> None:
    jobs = len(shared.state.jobs)
    response = shared_client.request(method, url, headers={"X-Emulator-Fault": str(status)}, **kwargs)
    assert response.status_code == status
    assert "retry-after" not in response.headers
    assert check(contract, response, method, path)["error"]
    assert len(shared.state.jobs) == jobs, "a faulted request reached the routes"


def test_outage_on_reads_is_an_error_envelope_though_the_contract_lists_no_503(
    contract: Any, spec: dict[str, Any], shared_client: httpx.Client
) -> None:
    for path, url in ((JOB, f"/v2/jobs/{uuid.uuid4()}"), (JOBS, JOBS), (ME, ME)):
        assert "503" not in spec["paths"][path]["get"]["responses"]
        response = shared_client.get(url, headers={"X-Emulator-Fault": "503"})
        assert response.status_code == 503
        assert response.headers["x-request-id"].startswith("req_")
        assert contract.errors("ErrorResponse", response.json()) == []


def test_every_answer_has_its_own_request_id(shared: Emulator, shared_client: httpx.Client) -> None:
    answers = [
        shared_client.get(ME),
        shared_client.get(ME),
        shared_client.get(f"/v2/jobs/{uuid.uuid4()}"),
        shared_client.get(JOBS, params={"limit": "0"}),
        shared_client.post(GENERATE, json={}),
        shared_client.get(ME, headers={"X-Emulator-Fault": "malformed"}),
        shared_client.get(ME, headers={"X-Emulator-Fault": "503"}),
        shared_client.get("/v2/no-such-route"),
        shared_client.get("/files/nothing.png"),
        shared_client.get("/_emulator/state"),
        httpx.get(f"{shared.url}{ME}"),
    ]
    ids = [a.headers.get("x-request-id") for a in answers]
    assert all(i and i.startswith("req_") for i in ids), ids
    assert len(set(ids)) == len(ids)


def test_built_in_validation_agrees_with_the_contract_on_gpt_image_bodies(contract: Any) -> None:
    """
    Without the spec (``EmulatorConfig.spec=None``), GPT Image requests are validated field by field:
    every body must get the contract's verdict.
    """
    from airflow_provider_apiframe.emulator.validation import RequestValidator

    built_in = RequestValidator(None)
    bodies: list[Any] = [
        {"prompt": "p", "model": "gpt-image-1.5", "gptImageParams": p} for p in _gpt_matrix()
    ]
    bodies += [body for _, body, _ in INVALID_GENERATE if isinstance(body, dict)]
    # An explicit null where the contract allows none ("not set" in the provider's model).
    for key in (
        "aspect_ratio",
        "quality",
        "background",
        "output_format",
        "input_fidelity",
        "number_of_images",
    ):
        bodies.append({"prompt": "p", "model": "gpt-image-1.5", "gptImageParams": {key: None}})
    bodies.append({"prompt": "p", "model": "gpt-image-1.5", "gptImageParams": None})
    bodies.append({"prompt": "p", "model": "gpt-image-1.5", "webhookUrl": None})
    disagreements = []
    for body in bodies:
        by_contract = contract.errors("GenerateImageRequest", body) == []
        by_emulator = built_in.validate(GENERATE, body) == {}
        if by_contract != by_emulator:
            disagreements.append(
                (body.get("gptImageParams", body), "contract", by_contract, "emulator", by_emulator)
            )
    assert disagreements == []
