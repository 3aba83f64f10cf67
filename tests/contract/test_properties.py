"""
Property-based: over the whole parameter space of the typed GPT Image requests, the provider's
validator and the official contract agree.

- whatever the validator accepts, the body it sends validates against the contract;
- whatever it rejects, the contract rejects too (the body as the user wrote it, with only the two
  documented conveniences applied: one item for a list, and a whole number written as text, as a
  template renders it);
- it never fails any other way than ``ApiframeInvalidParamsError`` naming the fields.
"""

from __future__ import annotations

import contextlib
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from airflow_provider_apiframe.core import calls
from airflow_provider_apiframe.core.catalog import IMAGE_MODELS
from airflow_provider_apiframe.core.errors import ApiframeInvalidParamsError

EVENTS = ["progress", "completed", "failed"]
ENUMS = {
    "aspect_ratio": ["1:1", "3:2", "2:3", "16:9"],
    "quality": ["low", "medium", "high", "auto", "ultra"],
    "background": ["auto", "transparent", "opaque", "green"],
    "output_format": ["png", "jpeg", "webp", "gif", "PNG"],
    "input_fidelity": ["low", "high", "max"],
    "moderation": ["auto", "low", "none"],
}
MODEL_FIELDS = {
    "gpt-image-1.5": ["aspect_ratio", "quality", "background", "output_format", "input_fidelity"],
    "gpt-image-2": ["aspect_ratio", "quality", "background", "output_format", "moderation"],
}
LIST_FIELDS = {"input_images", "webhook_events"}
JSON_KEYS = {"webhook_url": "webhookUrl", "webhook_events": "webhookEvents"}

junk = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 15), st.floats(allow_nan=False), st.text(max_size=8)
)
urls = st.one_of(
    st.sampled_from(
        [
            "https://img.example.test/a.png",
            "http://127.0.0.1:8080/in.jpg?x=1",
            "HTTPS://EXAMPLE.COM/A.PNG",
            "s3://bucket/key.png",
            "https://example.com/a b.png",
            "http://[::1/in",
            "example.com/a.png",
            "/local/a.png",
            "",
            "https://例え.jp/画像.png",
        ]
    ),
    st.builds(
        lambda scheme, rest: f"{scheme}{rest}",
        st.sampled_from(["https://", "http://", "ftp:", ""]),
        st.text(max_size=20),
    ),
)
prompts = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", " ", "a" * 2000, "a" * 2001, "ünïcödé ✓"]),
    st.integers(),
    st.none(),
)
number_of_images = st.one_of(
    st.integers(-2, 12),
    st.floats(0, 12),
    st.booleans(),
    st.sampled_from(["3", "10", "11", "three", "2.5", " 4 ", ""]),
    st.none(),
)
webhook_events = st.one_of(
    st.sampled_from([*EVENTS, "done"]),
    st.lists(st.sampled_from([*EVENTS, "done"]), max_size=4),
    junk,
)


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """A model, and the fields a DAG author might pass (each one left out, valid, or not)."""
    model = draw(st.sampled_from(sorted(MODEL_FIELDS)))
    fields: dict[str, Any] = {"prompt": draw(prompts)}
    for name in MODEL_FIELDS[model]:
        if draw(st.booleans()):
            fields[name] = draw(st.one_of(st.sampled_from(ENUMS[name]), junk))
    optional = {
        "number_of_images": number_of_images,
        "input_images": st.one_of(urls, st.lists(urls, max_size=3), junk),
        "webhook_url": st.one_of(urls, junk),
        "webhook_events": webhook_events,
    }
    for name, strategy in optional.items():
        if draw(st.booleans()):
            fields[name] = draw(strategy)
    return model, fields


def as_written(model: str, fields: dict[str, Any]) -> dict[str, Any]:
    """The body as the user wrote it (unset fields left out), with only the documented conveniences."""
    body: dict[str, Any] = {"model": model}
    params: dict[str, Any] = {}
    for name, value in fields.items():
        if value is None:
            continue  # not sent: the API's default applies
        if name in LIST_FIELDS and isinstance(value, str):
            value = [value]  # one item for a list
        if name == "number_of_images" and isinstance(value, str):
            with contextlib.suppress(
                ValidationError
            ):  # a whole number written as text, as templates render it
                value = TypeAdapter(int).validate_python(value)
        if name == "prompt" or name in JSON_KEYS:
            body[JSON_KEYS.get(name, name)] = value
        else:
            params[name] = value
    if params:
        body[IMAGE_MODELS[model].params_key] = params
    return body


def attempt(model: str, **fields: Any) -> tuple[calls.ApiCall[Any] | None, ApiframeInvalidParamsError | None]:
    """The call the validator builds, or its refusal."""
    try:
        return calls.generate_image(model, **fields), None
    except ApiframeInvalidParamsError as refusal:
        return None, refusal


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(requests())
@example(  # everything set, all valid
    (
        "gpt-image-1.5",
        {
            "prompt": "a fox",
            "aspect_ratio": "3:2",
            "quality": "high",
            "background": "transparent",
            "output_format": "webp",
            "input_fidelity": "high",
            "number_of_images": "4",
            "input_images": "https://img.example.test/a.png",
            "webhook_url": "https://hooks.example.test/in",
            "webhook_events": ["completed", "failed"],
        },
    )
)
@example(("gpt-image-2", {"prompt": "a fox", "background": "transparent", "input_fidelity": "high"}))
def test_the_validator_and_the_contract_agree(contract: Any, drawn: tuple[str, dict[str, Any]]) -> None:
    model, fields = drawn
    call, refusal = attempt(model, **fields)
    if refusal is not None:
        named = {field.split(".")[0] for field, _ in refusal.problems}
        assert named <= set(fields), (named, fields)
        assert contract.errors("GenerateImageRequest", as_written(model, fields)), (
            f"the validator rejected what the contract accepts: {fields} ({refusal})"
        )
    else:
        assert call is not None
        assert contract.errors("GenerateImageRequest", call.json) == [], (fields, call.json)
        assert call.json == as_written(model, fields), "sent as written, conveniences aside"


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=300), st.text(st.characters(min_codepoint=32, max_codepoint=126)), junk))
def test_idempotency_keys_are_accepted_exactly_when_a_header_can_carry_them(key: Any) -> None:
    """
    The key is a header, outside the body's schema: 1 to 255 characters (the API's rule), printable
    ASCII without surrounding spaces (what an HTTP header carries unchanged).
    """
    call, refusal = attempt("gpt-image-1.5", prompt="a fox", idempotency_key=key)
    valid = key is None or (
        isinstance(key, str)
        and 1 <= len(key) <= 255
        and key.isascii()
        and key.isprintable()
        and key == key.strip()
    )
    if valid:
        assert call is not None
        assert call.idempotency_key == key
    else:
        assert refusal is not None
        assert [field for field, _ in refusal.problems] == ["idempotency_key"]
