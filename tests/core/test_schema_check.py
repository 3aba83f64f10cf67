"""The core's contract check: bodies judged against the alternative they name, problems worded as written."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_apiframe.core import contract
from airflow_provider_apiframe.core.catalog import GENERATE, ROUTE_SCHEMAS, models_of
from airflow_provider_apiframe.core.schema_check import ContractCheck, shipped, word
from airflow_provider_apiframe.core.validation import _allowed

UUID = "4f0c7d1e-2b3a-4c5d-8e9f-0a1b2c3d4e5f"
RENAME = {"fluxParams": "model_params", "webhookUrl": "webhook_url", "webhookEvents": "webhook_events"}


def worded(route: str, body: Any, rename: dict[str, str] = RENAME) -> list[tuple[str, str]]:
    return word(shipped().errors(route, body), lambda key: rename.get(key, key))


def test_the_check_is_one_per_process_and_reads_the_snapshot() -> None:
    assert shipped() is shipped()
    assert set(ROUTE_SCHEMAS.items()) <= set(shipped().request_schemas().items())
    for route in ROUTE_SCHEMAS:
        assert shipped().choices(route) == models_of(route)


def test_a_valid_body_has_no_problems() -> None:
    body = {"model": "flux-2-pro", "prompt": "a fox", "fluxParams": {"aspect_ratio": "2:3", "seed": 7}}
    assert shipped().errors(GENERATE, body) == []


def test_problems_are_named_as_written_one_per_field_all_at_once() -> None:
    body = {
        "model": "flux-2-pro",
        "prompt": "",
        "webhookUrl": "nope",
        "webhookEvents": ["completed", "done"],
        "fluxParams": {"seed": 1.5, "steps": 0, "output_format": 7, "colour": "red"},
    }
    assert sorted(worded(GENERATE, body)) == [
        ("model_params.colour", "unknown parameter; allowed: " + _flux_params()),
        ("model_params.output_format", "got 7; allowed: one of 'jpg', 'png', 'webp'"),
        ("model_params.seed", "got 1.5; allowed: an integer"),
        ("model_params.steps", "got 0; allowed: an integer from 1 to 50"),
        ("prompt", "got ''; allowed: a string of 1 to 2000 characters"),
        ("webhook_events.1", "got 'done'; allowed: one of 'progress', 'completed', 'failed'"),
        ("webhook_url", "got 'nope'; allowed: an absolute URI (https://...)"),
    ]


def _flux_params() -> str:
    branches = shipped().spec["components"]["schemas"]["GenerateImageRequest"]["oneOf"]
    branch = next(b for b in branches if b["properties"]["model"]["enum"] == ["flux-2-pro"])
    return ", ".join(sorted(branch["properties"]["fluxParams"]["properties"]))


def test_missing_fields_and_unknown_top_level_keys_are_named() -> None:
    rename = {"ideogramParams": "model_params"}
    body = {"model": "ideogram-character", "ideogramParams": {}, "extra": 1}
    problems = dict(worded(GENERATE, body, rename))
    assert problems["prompt"] == "missing; allowed: a string of 1 to 2000 characters"
    assert problems["model_params.character_reference_image"] == (
        "missing; allowed: an absolute URI (https://...)"
    )
    assert problems["extra"].startswith("unknown parameter; allowed: ")
    assert "model_params" in problems["extra"]
    assert "ideogramParams" not in problems["extra"]


def test_an_empty_name_puts_a_blocks_fields_at_the_top() -> None:
    body = {"model": "gpt-image-2", "prompt": "p", "gptImage2Params": {"quality": "ultra"}}
    assert worded(GENERATE, body, {"gptImage2Params": ""}) == [
        ("quality", "got 'ultra'; allowed: one of 'low', 'medium', 'high', 'auto'")
    ]


def test_routes_are_generic_alternatives_named_by_model_or_action() -> None:
    action = "/v2/images/midjourney/action"
    assert shipped().choices(action) == ["upsample", "variation", "inpaint", "outpaint", "pan"]
    assert shipped().errors(action, {"action": "upsample", "index": 2, "parentJobId": UUID}) == []
    assert worded(action, {"action": "upsample", "index": 5, "parentJobId": "1234"}) == [
        ("index", "got 5; allowed: one of 1, 2, 3, 4"),
        ("parentJobId", "got '1234'; allowed: a UUID"),
    ]
    assert "kling-2.1" in shipped().choices("/v2/videos/generate")


def test_a_body_naming_no_alternative_is_judged_against_all_of_them() -> None:
    assert shipped().errors(GENERATE, {"model": "flux-9", "prompt": "p"})
    assert shipped().errors(GENERATE, ["not", "an", "object"])


def test_a_route_without_a_json_body_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        shipped().errors("/v2/uploads", {})


def test_a_newer_document_is_checked_as_given() -> None:
    spec = contract.snapshot()  # a fresh copy, changed as a newer document might be
    branches = spec["components"]["schemas"]["GenerateImageRequest"]["oneOf"]
    wan = next(b for b in branches if b["properties"]["model"]["enum"] == ["wan-image-2.6"])
    wan["properties"]["prompt"]["maxLength"] = 3000
    check = ContractCheck(spec)
    assert check.errors(GENERATE, {"model": "wan-image-2.6", "prompt": "x" * 3000}) == []
    assert shipped().errors(GENERATE, {"model": "wan-image-2.6", "prompt": "x" * 3000})


@pytest.mark.parametrize(
    ("schema", "allowed"),
    [
        ({"anyOf": [{"enum": [1], "type": "number"}, {"enum": [2], "type": "number"}]}, "one of 1, 2"),
        ({"maximum": 10, "minimum": 1.5, "type": "number"}, "a number from 1.5 to 10"),
        ({"exclusiveMinimum": 0, "type": "number"}, "a number above 0"),
        ({"type": "boolean"}, "true or false"),
        ({"type": "integer"}, "an integer"),
        ({"type": "string"}, "a string"),
        ({"pattern": r"^\d+:\d+$", "type": "string"}, r"a string matching ^\d+:\d+$"),
        ({"type": "object", "properties": {}}, "a mapping"),
        (
            {"items": {"format": "uri", "type": "string"}, "maxItems": 14, "type": "array"},
            "a list of at most 14 items, each an absolute URI (https://...)",
        ),
        (
            {"items": {"format": "uri", "type": "string"}, "type": ["array", "null"]},
            "a list of items, each an absolute URI (https://...)",
        ),
    ],
)
def test_contract_schemas_are_described_in_words(schema: dict[str, Any], allowed: str) -> None:
    assert _allowed(schema, one_item=False) == allowed
