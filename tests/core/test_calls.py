"""The request models and call builders (GPT Image): what is sent and what is refused."""

from __future__ import annotations

import json
from typing import Any

import pytest
from support import (
    ENUMS,
    IMAGE_A,
    IMAGE_B,
    MISSING,
    gpt_fields,
)

from airflow_provider_apiframe.core.calls import generate_gpt_image, get_job, get_me, list_jobs
from airflow_provider_apiframe.core.errors import (
    ApiframeInvalidParamsError,
)
from airflow_provider_apiframe.core.models import GPT_IMAGE_MODEL, Job, JobAccepted, JobList, Me

BAD_ENUM_VALUES: dict[str, tuple[Any, ...]] = {
    # wrong value, wrong spelling/case, non-strings
    "aspect_ratio": ("4:3", "1x1", "1:1 ", 1, 1.5, ["1:1"]),
    "quality": ("ultra", "HIGH", "Low", 2, True),
    "background": ("white", "Transparent", "OPAQUE", 0, ["auto"]),
    "output_format": ("gif", "PNG", "jpg", 1, {"png": True}),
    "input_fidelity": ("medium", "High", "LOW", 1, False),
}

URL_RULE = ("absolute URI",)
EVENTS_ALLOWED = ("'progress'", "'completed'", "'failed'")
KEY_LENGTH_RULE = ("a string of 1 to 255 characters",)
PROMPT_RULE = ("a string of 1 to 2000 characters",)
NUMBER_RULE = ("an integer from 1 to 10",)

INVALID_CASES = [
    # prompt
    pytest.param({"prompt": MISSING}, "prompt", ("missing", *PROMPT_RULE), id="prompt-missing"),
    pytest.param({"prompt": None}, "prompt", ("missing", *PROMPT_RULE), id="prompt-None"),
    pytest.param({"prompt": ""}, "prompt", ("got ''", *PROMPT_RULE), id="prompt-empty"),
    pytest.param({"prompt": "x" * 2001}, "prompt", ("length 2001", *PROMPT_RULE), id="prompt-2001-chars"),
    pytest.param(
        {"prompt": "\N{GRINNING FACE}" * 2001},
        "prompt",
        ("length 2001", *PROMPT_RULE),
        id="prompt-2001-emoji",
    ),
    pytest.param({"prompt": 123}, "prompt", ("got 123", *PROMPT_RULE), id="prompt-int"),
    pytest.param({"prompt": ["a cat"]}, "prompt", PROMPT_RULE, id="prompt-list"),
    # enums
    *[
        pytest.param({field: bad}, field, ("one of", *(repr(v) for v in ENUMS[field])), id=f"{field}-{bad!r}")
        for field, bads in BAD_ENUM_VALUES.items()
        for bad in bads
    ],
    # number_of_images
    *[
        pytest.param(
            {"number_of_images": bad}, "number_of_images", NUMBER_RULE, id=f"number_of_images-{bad!r}"
        )
        for bad in (0, 11, -1, 4.5, "x", "0", "11", "4.5", "", [2])
    ],
    pytest.param(
        {"number_of_images": True},
        "number_of_images",
        ("got True", *NUMBER_RULE),
        id="number_of_images-True",
    ),
    pytest.param(
        {"number_of_images": False},
        "number_of_images",
        ("got False", *NUMBER_RULE),
        id="number_of_images-False",
    ),
    # input_images
    pytest.param({"input_images": "/static/a.png"}, "input_images.0", URL_RULE, id="input_images-relative"),
    pytest.param(
        {"input_images": "example.com/a.png"}, "input_images.0", URL_RULE, id="input_images-no-scheme"
    ),
    pytest.param(
        {"input_images": "https://example.com/a b.png"}, "input_images.0", URL_RULE, id="input_images-space"
    ),
    pytest.param({"input_images": ""}, "input_images.0", URL_RULE, id="input_images-empty-string"),
    pytest.param(
        {"input_images": ["https://example.com/a.png", "not a URI"]},
        "input_images.1",
        URL_RULE,
        id="input_images-second-bad",
    ),
    pytest.param(
        {"input_images": ["https://example.com/a.png", 7]},
        "input_images.1",
        ("an absolute URI", "got 7"),
        id="input_images-second-not-str",
    ),
    pytest.param({"input_images": 5}, "input_images", ("a list of", *URL_RULE), id="input_images-int"),
    pytest.param(
        {"input_images": {"url": "https://example.com/a.png"}},
        "input_images",
        ("a list of",),
        id="input_images-dict",
    ),
    # webhook_url
    *[
        pytest.param({"webhook_url": bad}, "webhook_url", URL_RULE, id=f"webhook_url-{bad!r}")
        for bad in (
            "hooks.example.com/in",
            "/hooks/in",
            "https://hooks.example.com/a b",
            "http://[::1/in",
            "",
            42,
        )
    ],
    # webhook_events
    pytest.param(
        {"webhook_events": []}, "webhook_events", ("non-empty list", *EVENTS_ALLOWED), id="events-empty"
    ),
    pytest.param({"webhook_events": "started"}, "webhook_events.0", EVENTS_ALLOWED, id="events-unknown"),
    pytest.param({"webhook_events": "COMPLETED"}, "webhook_events.0", EVENTS_ALLOWED, id="events-case"),
    pytest.param(
        {"webhook_events": ["completed", "done"]}, "webhook_events.1", EVENTS_ALLOWED, id="events-second-bad"
    ),
    pytest.param(
        {"webhook_events": 3}, "webhook_events", ("list of items", *EVENTS_ALLOWED), id="events-int"
    ),
    # idempotency_key
    pytest.param({"idempotency_key": ""}, "idempotency_key", KEY_LENGTH_RULE, id="key-empty"),
    pytest.param({"idempotency_key": "k" * 256}, "idempotency_key", KEY_LENGTH_RULE, id="key-256"),
    pytest.param({"idempotency_key": 12345}, "idempotency_key", KEY_LENGTH_RULE, id="key-int"),
    pytest.param(
        {"idempotency_key": "cl\N{LATIN SMALL LETTER E WITH ACUTE}-1"},
        "idempotency_key",
        ("printable ASCII",),
        id="key-non-ascii",
    ),
    pytest.param(
        {"idempotency_key": " key-1"}, "idempotency_key", ("leading or trailing",), id="key-leading-space"
    ),
    pytest.param(
        {"idempotency_key": "key-1 "}, "idempotency_key", ("leading or trailing",), id="key-trailing-space"
    ),
    pytest.param({"idempotency_key": "key\n1"}, "idempotency_key", ("printable ASCII",), id="key-newline"),
    pytest.param({"idempotency_key": "key\t1"}, "idempotency_key", ("printable ASCII",), id="key-tab"),
    # names the API uses but the operator does not
    pytest.param(
        {"webhookUrl": "https://hooks.example.com/in"},
        "webhookUrl",
        ("unknown parameter", "webhook_url"),
        id="unknown-webhookUrl",
    ),
    pytest.param({"model": "gpt-image-2"}, "model", ("unknown parameter",), id="unknown-model"),
    pytest.param(
        {"gptImageParams": {}}, "gptImageParams", ("unknown parameter",), id="unknown-gptImageParams"
    ),
]


@pytest.mark.parametrize(("overrides", "field", "needles"), INVALID_CASES)
def test_invalid_parameter_is_rejected_naming_field_and_rule(
    overrides: dict[str, Any], field: str, needles: tuple[str, ...]
) -> None:
    with pytest.raises(ApiframeInvalidParamsError) as exc_info:
        generate_gpt_image(**gpt_fields(overrides))
    err = exc_info.value
    assert isinstance(err, ValueError)
    assert err.transient is False
    assert [f for f, _ in err.problems] == [field]
    why = err.problems[0][1]
    for needle in needles:
        assert needle in why
    assert str(err).startswith("Invalid Apiframe parameters (nothing was sent):\n")
    assert f"  - {field}: {why}" in str(err)


def test_several_invalid_fields_are_all_listed() -> None:
    with pytest.raises(ApiframeInvalidParamsError) as exc_info:
        generate_gpt_image(
            prompt="",
            aspect_ratio="4:3",
            quality="ultra",
            number_of_images=11,
            input_images=["https://example.com/a.png", "b.png"],
            webhook_url="hooks.example.com",
            webhook_events=[],
            idempotency_key=" k",
        )
    fields = {field for field, _ in exc_info.value.problems}
    assert fields == {
        "prompt",
        "aspect_ratio",
        "quality",
        "number_of_images",
        "input_images.1",
        "webhook_url",
        "webhook_events",
        "idempotency_key",
    }
    for field in fields:
        assert f"\n  - {field}: " in str(exc_info.value)


# Bugs: these inputs crash the validator instead of being reported as invalid parameters.
@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        pytest.param({"input_images": "http://[::1/a.png"}, "input_images.0", id="input_images-bad-ipv6"),
        pytest.param({"webhook_url": "https://[broken/in"}, "webhook_url", id="webhook_url-bad-ipv6"),
        pytest.param({"number_of_images": 10**80}, "number_of_images", id="number_of_images-huge-int"),
    ],
)
def test_unparseable_values_are_reported_not_crashed_on(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(ApiframeInvalidParamsError) as exc_info:
        generate_gpt_image(**gpt_fields(overrides))
    assert [f for f, _ in exc_info.value.problems] == [field]


@pytest.mark.parametrize(("value", "expected"), [("4", 4), ("1", 1), ("10", 10), (4, 4), (4.0, 4), (10, 10)])
def test_number_of_images_accepts_integral_values_and_numeric_strings(value: Any, expected: int) -> None:
    body = generate_gpt_image(prompt="a fox", number_of_images=value).json
    assert body is not None
    sent = body["gptImageParams"]["number_of_images"]
    assert sent == expected
    assert type(sent) is int


def test_single_strings_become_one_item_lists() -> None:
    body = generate_gpt_image(prompt="a fox", input_images=IMAGE_A, webhook_events="completed").json
    assert body is not None
    assert body["gptImageParams"] == {"input_images": [IMAGE_A]}
    assert body["webhookEvents"] == ["completed"]


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"prompt": "x" * 2000}, "prompt"),
        ({"prompt": "\N{GRINNING FACE}" * 2000}, "prompt"),
        ({"idempotency_key": "k" * 255}, None),
        ({"idempotency_key": "airflow-~!#$%&'*+-.^_`|0123456789"}, None),
        (
            {"input_images": ["http://127.0.0.1:8080/a.png", "https://example.com/b.png?x=1"]},
            "gptImageParams",
        ),
        ({"webhook_url": "http://localhost:9000/hook"}, "webhookUrl"),
        ({"webhook_events": ["progress", "completed", "failed"]}, "webhookEvents"),
    ],
)
def test_boundary_values_are_accepted(overrides: dict[str, Any], key: str | None) -> None:
    call = generate_gpt_image(**gpt_fields(overrides))
    assert call.json is not None
    if key is None:
        assert call.headers == {"Idempotency-Key": overrides["idempotency_key"]}
    else:
        assert key in call.json
        assert call.headers == {}
    if "prompt" in overrides:
        assert call.json["prompt"] == overrides["prompt"]


def test_unset_parameters_are_not_sent() -> None:
    call = generate_gpt_image(
        prompt="a fox",
        aspect_ratio=None,
        quality=None,
        background=None,
        number_of_images=None,
        output_format=None,
        input_fidelity=None,
        input_images=None,
        webhook_url=None,
        webhook_events=None,
        idempotency_key=None,
    )
    assert call.json == {"prompt": "a fox", "model": "gpt-image-1.5"}
    assert call.idempotency_key is None
    assert call.headers == {}
    assert call.retry_safe is False


def test_full_request_layout() -> None:
    call = generate_gpt_image(
        prompt="a fox in the snow",
        aspect_ratio="3:2",
        quality="high",
        background="transparent",
        number_of_images="2",
        output_format="png",
        input_fidelity="high",
        input_images=[IMAGE_A, IMAGE_B],
        webhook_url="https://hooks.example.com/apiframe",
        webhook_events=["completed", "failed"],
        idempotency_key="airflow-abc123",
    )
    assert call.method == "POST"
    assert call.path == "/v2/images/generate"
    assert call.label == "POST /v2/images/generate"
    assert call.response_model is JobAccepted
    assert call.params is None
    assert call.json == {
        "prompt": "a fox in the snow",
        "model": "gpt-image-1.5",
        "webhookUrl": "https://hooks.example.com/apiframe",
        "webhookEvents": ["completed", "failed"],
        "gptImageParams": {
            "aspect_ratio": "3:2",
            "quality": "high",
            "background": "transparent",
            "number_of_images": 2,
            "output_format": "png",
            "input_fidelity": "high",
            "input_images": [IMAGE_A, IMAGE_B],
        },
    }
    # The idempotency key is a header, never part of the body.
    assert call.headers == {"Idempotency-Key": "airflow-abc123"}
    assert call.idempotency_key == "airflow-abc123"
    assert "airflow-abc123" not in json.dumps(call.json)
    assert call.retry_safe is True


def test_model_is_gpt_image_1_5() -> None:
    assert GPT_IMAGE_MODEL == "gpt-image-1.5"
    body = generate_gpt_image(prompt="a fox", quality="low").json
    assert body is not None
    assert body["model"] == "gpt-image-1.5"


def test_other_calls_are_built_as_the_api_wants() -> None:
    job = get_job("a/b c")
    assert (job.method, job.path, job.response_model, job.retry_safe) == (
        "GET",
        "/v2/jobs/a%2Fb%20c",
        Job,
        True,
    )
    page = list_jobs(status="COMPLETED", limit=50)
    assert (page.method, page.path, page.response_model) == ("GET", "/v2/jobs", JobList)
    assert page.params == {"status": "COMPLETED", "limit": "50"}
    me = get_me()
    assert (me.method, me.path, me.response_model, me.json) == ("GET", "/v2/me", Me, None)
