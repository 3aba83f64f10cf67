"""
Every operator, every argument, bad values: the task fails at once (``AirflowFailException``: no
retries) naming the field and what is allowed, before any request (the emulator saw nothing).

Values of the typed GPT Image operators, the arguments every operator shares, and the parameters
of the other model families (checked against the contract snapshot, named ``model_params.<field>``)
are checked here; tests/contract/test_verdicts.py checks every model's parameters against the contract.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from support import FakeTI

from airflow_provider_apiframe._compat import AirflowFailException
from airflow_provider_apiframe.operators.gpt_image import GptImage2GenerateOperator, GptImageGenerateOperator
from airflow_provider_apiframe.operators.image import (
    ApiframeImageBackgroundRemoveOperator,
    ApiframeImageEditOperator,
    ApiframeImageGenerateOperator,
    ApiframeImageUpscaleOperator,
)
from airflow_provider_apiframe.sensors.job import ApiframeJobSensor

GPT15 = GptImageGenerateOperator
GPT2 = GptImage2GenerateOperator
GENERIC = ApiframeImageGenerateOperator
EDIT = ApiframeImageEditOperator
UPSCALE = ApiframeImageUpscaleOperator
BG_REMOVE = ApiframeImageBackgroundRemoveOperator
SENSOR = ApiframeJobSensor

IMAGE = "https://img.example.test/a.png"
JOB_ID = "6857fed8-9ee2-41f6-8c9b-0902376f550e"
BASE = {
    GPT15: {"prompt": "a fox"},
    GPT2: {"prompt": "a fox"},
    GENERIC: {"model": "flux-2-pro", "prompt": "a fox"},
    EDIT: {"model_params": {"image": IMAGE, "prompt": "a hat", "mode": "inpaint"}},
    UPSCALE: {"model_params": {"image": IMAGE}},
    BG_REMOVE: {"model_params": {"image": IMAGE}},
    SENSOR: {"job_id": JOB_ID},
}
PROMPT = "a string of 1 to 2000 characters"
URL = "must be an absolute URI"
INPUT = "allowed: an http:// or https:// URL, a local path or an ObjectStoragePath"
OUTPUT = "allowed: a local folder, a file:// URL or an ObjectStoragePath"
KEY = "allowed: a string of 1 to 255 characters"
EVENTS = "allowed: one of 'progress', 'completed', 'failed'"
JOBS = (GPT15, GPT2, GENERIC, EDIT, UPSCALE, BG_REMOVE)


def case(operator: type, field: str, value: Any, allowed: str, *, named: str | None = None) -> Any:
    """One bad value: ``field=value`` on ``operator`` must fail naming ``named`` (default ``field``)."""
    return pytest.param(
        operator, {field: value}, named or field, allowed, id=f"{operator.__name__}-{field}-{value!r}"[:90]
    )


CASES = [
    # --- GptImageGenerateOperator: every typed parameter ---------------------------------------------
    *(case(GPT15, "prompt", bad, PROMPT) for bad in ("", "x" * 2001, 5, None, ["a fox"])),
    *(case(GPT15, "aspect_ratio", bad, "allowed: one of '1:1', '3:2', '2:3'") for bad in ("16:9", 1, "")),
    *(case(GPT15, "quality", bad, "allowed: one of 'low', 'medium', 'high', 'auto'") for bad in ("ultra", 2)),
    *(
        case(GPT15, "background", bad, "allowed: one of 'auto', 'transparent', 'opaque'")
        for bad in ("green", True)
    ),
    *(
        case(GPT15, "number_of_images", bad, "allowed: an integer from 1 to 10")
        for bad in (0, 11, -1, True, 2.5, "three", [2])
    ),
    *(case(GPT15, "output_format", bad, "allowed: one of 'png', 'jpeg', 'webp'") for bad in ("gif", "PNG")),
    *(case(GPT15, "input_fidelity", bad, "allowed: one of 'low', 'high'") for bad in ("max", 0)),
    case(GPT15, "input_images", ["/no/such/photo.png"], INPUT, named="input_images.0"),
    case(GPT15, "input_images", [IMAGE, 42], INPUT, named="input_images.1"),
    case(GPT15, "input_images", "", INPUT),
    *(case(GPT15, "webhook_url", bad, URL) for bad in ("hooks.example.test/in", "/in", "http://[::1/in")),
    case(GPT15, "webhook_events", ["done"], EVENTS, named="webhook_events.0"),
    case(GPT15, "webhook_events", [], "allowed: a non-empty list of items, each one of 'progress'"),
    # --- GptImage2GenerateOperator ----------------------------------------------------------------------
    case(GPT2, "moderation", "none", "allowed: one of 'auto', 'low'"),
    case(GPT2, "background", "transparent", "allowed: one of 'auto', 'opaque'"),
    case(GPT2, "number_of_images", 11, "allowed: an integer from 1 to 10"),
    case(GPT2, "prompt", "", PROMPT),
    # --- the generic operators: model, model_params, prompt, the images inside model_params ------------
    case(GENERIC, "model", "flux-9-ultra", "allowed on /v2/images/generate: "),
    case(GENERIC, "model", 42, "allowed on /v2/images/generate: "),
    case(GENERIC, "model_params", "aspect_ratio=2:3", "allowed: a mapping of parameters"),
    case(GENERIC, "prompt", "", PROMPT),
    pytest.param(
        GENERIC,
        {"model": "gpt-image-1.5", "model_params": {"quality": "ultra"}},
        "model_params.quality",
        "allowed: one of 'low', 'medium', 'high', 'auto'",
        id="generic-gpt-params-are-typed",
    ),
    case(GENERIC, "prompt", "x" * 2001, PROMPT),
    case(
        GENERIC,
        "model_params",
        {"aspect_ratioo": "2:3"},
        "unknown parameter; allowed: aspect_ratio, go_fast,",
        named="model_params.aspect_ratioo",
    ),
    case(GENERIC, "model_params", {"seed": "7"}, "got '7'; allowed: an integer", named="model_params.seed"),
    case(
        EDIT,
        "model_params",
        {"image": IMAGE, "prompt": "a hat", "mode": "paint"},
        "got 'paint'; allowed: one of 'inpaint', 'outpaint'",
        named="model_params.mode",
    ),
    case(
        EDIT,
        "model_params",
        {"image": IMAGE, "mode": "inpaint"},
        "missing; allowed: a string of 1 to 2000 characters",
        named="model_params.prompt",
    ),
    case(EDIT, "model", "gpt-image-1.5", "allowed on /v2/images/edit: 'flux-fill-pro'"),
    case(EDIT, "model_params", {"image": "/no/such.png", "prompt": "x"}, INPUT, named="model_params.image"),
    case(EDIT, "prompt", "a hat", "inside model_params"),
    case(UPSCALE, "model_params", {"image": 7}, INPUT, named="model_params.image"),
    case(UPSCALE, "model_params", {}, "required for"),
    case(
        UPSCALE,
        "model_params",
        {"image": IMAGE, "upscale_factor": 3},
        "got 3; allowed: one of 1, 2, 4, 6",
        named="model_params.upscale_factor",
    ),
    case(UPSCALE, "model", "bria-bg-remove", "allowed on /v2/images/upscale: "),
    case(BG_REMOVE, "model_params", {"image": ""}, INPUT, named="model_params.image"),
    case(BG_REMOVE, "model_params", None, "required for"),
    case(
        BG_REMOVE,
        "model_params",
        {"image": IMAGE, "content_moderation": "yes"},
        "got 'yes'; allowed: true or false",
        named="model_params.content_moderation",
    ),
    # --- arguments every job operator shares ------------------------------------------------------------
    *(case(op, "idempotency_key", bad, KEY) for op in JOBS for bad in ("", "k" * 256)),
    *(case(op, "output_path", "nosuchfs://bucket/images/", OUTPUT) for op in JOBS),
    *(case(op, "webhook_url", "not a url", URL) for op in (GENERIC, EDIT, UPSCALE, BG_REMOVE)),
    *(case(op, "webhook_events", "finished", EVENTS, named="webhook_events.0") for op in (GENERIC, UPSCALE)),
    # --- the sensor ---------------------------------------------------------------------------------
    *(
        case(SENSOR, "job_id", bad, "allowed: a job id (a UUID)")
        for bad in ("not-a-uuid", "", 42, JOB_ID + "/../me", "../v2/me")
    ),
    case(SENSOR, "output_path", "nosuchfs://bucket/", OUTPUT),
]


def build(operator: type, overrides: dict[str, Any]) -> Any:
    kwargs: dict[str, Any] = {**BASE[operator], **overrides, "task_id": "t"}
    if operator is SENSOR:
        return operator(**kwargs, poke_interval=0.05, timeout=5)
    return operator(**kwargs, deferrable=False, poll_interval=0.05, timeout=10)


@pytest.mark.parametrize(("operator", "overrides", "field", "allowed"), CASES)
def test_bad_input_fails_naming_the_field_before_any_request(
    api: Any, operator: type, overrides: dict[str, Any], field: str, allowed: str
) -> None:
    task = build(operator, overrides)
    ti = FakeTI()
    with pytest.raises(AirflowFailException) as raised:  # Airflow does not retry this
        task.execute({"ti": ti})
    message = str(raised.value)
    assert "nothing was sent" in message
    assert f"  - {field}: " in message, message
    assert allowed in message, message
    assert list(api.state.requests) == [], "the API saw no request"
    assert ti.pushed == [], "nothing reached XCom"


def test_every_operator_and_every_typed_field_has_bad_cases() -> None:
    """The table above covers each operator, and each argument of the typed GPT Image operators."""
    covered = {(op, key) for op, overrides, *_ in (c.values for c in CASES) for key in overrides}
    assert {op for op, _ in covered} == set(BASE)
    for operator in (GPT15, GPT2):
        typed = set(operator.template_fields) - {"output_path", "idempotency_key"}
        missing = {f for f in typed if (operator, f) not in covered and (GPT15, f) not in covered}
        assert not missing, f"{operator.__name__}: no bad-value case for {sorted(missing)}"


@pytest.mark.parametrize("argument", ["poll_interval", "timeout"])
@pytest.mark.parametrize("value", [0, -1, float("inf"), "5", True, timedelta(seconds=-3)])
def test_bad_waits_fail_when_the_dag_is_parsed(argument: str, value: Any) -> None:
    with pytest.raises(ValueError, match=f"{argument} must be a positive, finite number of seconds"):
        GptImageGenerateOperator(task_id="t", prompt="a fox", **{argument: value})
