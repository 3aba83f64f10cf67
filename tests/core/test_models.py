"""Responses parsed against the contract: jobs, job lists, the account."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from support import (
    CALLS,
    ENUMS,
    IMAGE_A,
    IMAGE_B,
    JOB_ID,
    OTHER_JOB_ID,
    REQUEST_ID,
    gpt_fields,
    job_payload,
)

from airflow_provider_apiframe.core.calls import ApiCall, generate_gpt_image, get_job, get_me, list_jobs
from airflow_provider_apiframe.core.errors import (
    ApiframeBadRequestError,
    ApiframeError,
    ApiframeNotFoundError,
    ApiframeRateLimitError,
    ApiframeResponseError,
    ApiframeServerError,
)
from airflow_provider_apiframe.core.models import Job, JobAccepted, JobList, Me
from airflow_provider_apiframe.core.outcomes import (
    image_urls,
)

INPUT_IMAGES_OPTIONS: tuple[Any, ...] = (None, IMAGE_A, [IMAGE_A, IMAGE_B])
WEBHOOK_OPTIONS: tuple[tuple[str, Any] | None, ...] = (
    None,
    ("https://hooks.example.com/apiframe", "completed"),
    ("http://127.0.0.1:9000/hook", ["progress", "completed", "failed"]),
)
_VARIANTS = itertools.cycle(
    itertools.product((None, "low", "high"), (None, 1, 10), INPUT_IMAGES_OPTIONS, WEBHOOK_OPTIONS)
)
CONTRACT_MATRIX = [
    (aspect_ratio, quality, background, output_format, *next(_VARIANTS))
    for aspect_ratio, quality, background, output_format in itertools.product(
        (None, *ENUMS["aspect_ratio"]), ENUMS["quality"], ENUMS["background"], ENUMS["output_format"]
    )
]


@pytest.mark.parametrize(
    (
        "aspect_ratio",
        "quality",
        "background",
        "output_format",
        "input_fidelity",
        "number_of_images",
        "input_images",
        "webhook",
    ),
    CONTRACT_MATRIX,
)
def test_request_bodies_match_the_contract(
    contract: Any,
    aspect_ratio: str | None,
    quality: str,
    background: str,
    output_format: str,
    input_fidelity: str | None,
    number_of_images: int | None,
    input_images: Any,
    webhook: tuple[str, Any] | None,
) -> None:
    webhook_url, webhook_events = webhook or (None, None)
    call = generate_gpt_image(
        prompt="a lighthouse at dusk, oil painting",
        aspect_ratio=aspect_ratio,
        quality=quality,
        background=background,
        output_format=output_format,
        input_fidelity=input_fidelity,
        number_of_images=number_of_images,
        input_images=input_images,
        webhook_url=webhook_url,
        webhook_events=webhook_events,
        idempotency_key="airflow-contract",
    )
    assert contract.errors("GenerateImageRequest", call.json) == []


def test_contract_matrix_covers_every_value() -> None:
    for position, field in enumerate(
        ["aspect_ratio", "quality", "background", "output_format", "input_fidelity"]
    ):
        assert {row[position] for row in CONTRACT_MATRIX} >= set(ENUMS[field])
    assert {row[5] for row in CONTRACT_MATRIX} >= {1, 10}
    assert {json.dumps(row[6]) for row in CONTRACT_MATRIX} == {json.dumps(o) for o in INPUT_IMAGES_OPTIONS}
    assert {row[7] is None for row in CONTRACT_MATRIX} == {True, False}


@pytest.mark.parametrize(
    "overrides",
    [
        {"prompt": "x" * 2000},
        {"prompt": "\N{GRINNING FACE}" * 2000},
        {},
        {"number_of_images": "10"},
    ],
)
def test_more_request_bodies_match_the_contract(contract: Any, overrides: dict[str, Any]) -> None:
    call = generate_gpt_image(**gpt_fields(overrides))
    assert contract.errors("GenerateImageRequest", call.json) == []


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: {**b, "webhook_url": "https://hooks.example.com"},
        lambda b: {**b, "gptImageParams": {"input_images": IMAGE_A}},
        lambda b: {**b, "gptImageParams": {"number_of_images": 11}},
        lambda b: {**b, "model": "gpt-image-1"},
    ],
)
def test_the_contract_check_catches_wrong_bodies(contract: Any, mutate: Any) -> None:
    body = generate_gpt_image(prompt="a fox").json
    assert contract.errors("GenerateImageRequest", body) == []
    assert contract.errors("GenerateImageRequest", mutate(dict(body or {}))) != []


def _read(contract: Any, call: ApiCall[Any], method: str, path: str, status: int, payload: Any) -> Any:
    """Check ``payload`` against the contract's schema for this response, then let ``call`` read it."""
    schema = contract.response_schema(method, path, status)
    assert contract.errors(schema, payload) == []
    return call.read(status, {"content-type": "application/json"}, json.dumps(payload).encode())


@pytest.mark.parametrize("status", ["QUEUED", "PROCESSING", "COMPLETED"])
def test_read_job_accepted(contract: Any, status: str) -> None:
    accepted = _read(
        contract, CALLS["POST+key"], "POST", "/v2/images/generate", 202, {"jobId": JOB_ID, "status": status}
    )
    assert isinstance(accepted, JobAccepted)
    assert (accepted.job_id, accepted.status) == (JOB_ID, status)


@pytest.mark.parametrize(
    ("result", "urls"),
    [
        (IMAGE_A, [IMAGE_A]),
        ({"images": [IMAGE_A, IMAGE_B]}, [IMAGE_A, IMAGE_B]),
    ],
)
def test_read_completed_job_with_either_result_shape(contract: Any, result: Any, urls: list[str]) -> None:
    payload = job_payload("COMPLETED", progress=100, result=result, expired=False)
    job = _read(contract, get_job(JOB_ID), "GET", "/v2/jobs/{id}", 200, payload)
    assert isinstance(job, Job)
    assert job.id == JOB_ID
    assert job.credit_cost == 6
    assert job.completed_at == "2026-07-16T10:00:21.000Z"
    assert job.result == result
    assert image_urls(job) == urls


def test_read_job_list(contract: Any) -> None:
    payload = {
        "jobs": [
            job_payload("COMPLETED", progress=100, result={"images": [IMAGE_A]}, expired=False),
            job_payload("FAILED", error="Rejected by the safety system", expired=False, job_id=OTHER_JOB_ID),
        ],
        "nextCursor": "cursor-2",
        "hasMore": True,
    }
    page = _read(contract, list_jobs(), "GET", "/v2/jobs", 200, payload)
    assert isinstance(page, JobList)
    assert [j.id for j in page.jobs] == [JOB_ID, OTHER_JOB_ID]
    assert page.jobs[1].error == "Rejected by the safety system"
    assert (page.next_cursor, page.has_more) == ("cursor-2", True)


@pytest.mark.parametrize("with_team", [True, False])
def test_read_me(contract: Any, with_team: bool) -> None:
    payload = {
        "user": {"id": OTHER_JOB_ID, "email": "ops@example.com", "role": "OWNER"},
        "team": {"id": JOB_ID, "name": "Data", "credits": 1200, "plan": "pro", "customerId": None}
        if with_team
        else None,
        "apiKey": {"id": JOB_ID, "name": "airflow", "prefix": "afk_live_S3"},
    }
    me = _read(contract, get_me(), "GET", "/v2/me", 200, payload)
    assert isinstance(me, Me)
    assert me.user.email == "ops@example.com"
    if with_team:
        assert me.team is not None
        assert (me.team.name, me.team.credits, me.team.plan) == ("Data", 1200, "pro")
    else:
        assert me.team is None


@pytest.mark.parametrize(
    ("call", "content", "where"),
    [
        pytest.param(get_job(JOB_ID), b"{not json", "body", id="malformed-json"),
        pytest.param(get_job(JOB_ID), b"", "body", id="empty"),
        pytest.param(get_job(JOB_ID), b"<html>ok</html>", "body", id="html"),
        pytest.param(get_job(JOB_ID), b"[]", "body", id="list"),
        pytest.param(
            get_job(JOB_ID), b'{"status": "QUEUED", "model": "gpt-image-1.5"}', "id", id="job-without-id"
        ),
        pytest.param(list_jobs(), b'{"jobs": "none"}', "jobs", id="jobs-not-a-list"),
        pytest.param(CALLS["POST"], b'{"status": "QUEUED"}', "jobId", id="accepted-without-job-id"),
        pytest.param(get_me(), b'{"user": {"id": "u"}}', "user.email", id="me-without-email"),
    ],
)
def test_read_unreadable_success_body(call: ApiCall[Any], content: bytes, where: str) -> None:
    with pytest.raises(ApiframeResponseError) as exc_info:
        call.read(200, {"X-Request-Id": REQUEST_ID}, content)
    err = exc_info.value
    assert err.transient is True
    assert err.status_code == 200
    assert err.request_id == REQUEST_ID
    assert REQUEST_ID in str(err)
    assert f"Apiframe {call.label} answered HTTP 200 with a body this provider cannot read: {where}: " in str(
        err
    )


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, ApiframeBadRequestError),
        (404, ApiframeNotFoundError),
        (429, ApiframeRateLimitError),
        (503, ApiframeServerError),
    ],
)
def test_read_error_status_raises_mapped_error(status: int, cls: type[ApiframeError]) -> None:
    call = get_job(JOB_ID)
    with pytest.raises(cls) as exc_info:
        call.read(status, {"x-request-id": REQUEST_ID}, b'{"error": "nope"}')
    assert str(exc_info.value).startswith(f"Apiframe GET /v2/jobs/{JOB_ID} failed with HTTP {status}: nope")
    assert REQUEST_ID in str(exc_info.value)
