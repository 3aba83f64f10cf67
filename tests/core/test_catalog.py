"""``core.catalog`` against the official contract: every job route, model, params key and media field."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_apiframe.core.catalog import (
    ACTIONS,
    IMAGE_MODELS,
    JOB_ROUTES,
    MODELS,
    ROUTE_SCHEMAS,
    media_inputs_of,
    media_kind,
    models_of,
    prompt_of,
)


def _schemas(spec: dict[str, Any]) -> dict[str, Any]:
    schemas: dict[str, Any] = spec["components"]["schemas"]
    return schemas


def _resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = _schemas(spec)[node["$ref"].rsplit("/", 1)[-1]]
    return node


def _request_schema(spec: dict[str, Any], route: str) -> str | None:
    body = spec["paths"][route]["post"].get("requestBody") or {}
    ref = body.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")
    return ref.rsplit("/", 1)[-1] if ref else None


def _branches(spec: dict[str, Any], schema_name: str) -> list[dict[str, Any]]:
    schema = _schemas(spec)[schema_name]
    return [_resolve(spec, branch) for branch in schema.get("oneOf", [schema])]


def _contract_models(spec: dict[str, Any], route: str) -> dict[str, dict[str, Any]]:
    """``model -> {params_key, params_required, top_level_prompt, prompt_required}`` for a route."""
    found: dict[str, dict[str, Any]] = {}
    for branch in _branches(spec, ROUTE_SCHEMAS[route]):
        properties = branch["properties"]
        (model,) = properties["model"]["enum"]
        params_keys = [key for key in properties if key.endswith("Params")]
        assert len(params_keys) == 1, f"{model}: expected one <family>Params key, found {params_keys}"
        assert model not in found, f"{model} appears twice in {ROUTE_SCHEMAS[route]}"
        found[model] = {
            "params_key": params_keys[0],
            "params_required": params_keys[0] in branch.get("required", []),
            "top_level_prompt": "prompt" in properties,
            "prompt_required": "prompt" in branch.get("required", []),
        }
    return found


def test_route_schemas_are_the_contracts_request_bodies(spec: dict[str, Any]) -> None:
    for route, schema_name in ROUTE_SCHEMAS.items():
        assert route in spec["paths"], route
        assert _request_schema(spec, route) == schema_name


def test_every_job_route_of_the_contract_is_in_the_catalog(spec: dict[str, Any]) -> None:
    """Each POST route with a JSON body of alternatives is catalogued: by ``model``, or as an action route."""
    with_models, actions = set(), set()
    for route, operations in spec["paths"].items():
        schema_name = _request_schema(spec, route) if "post" in operations else None
        if schema_name is None or "oneOf" not in _schemas(spec)[schema_name]:
            continue
        branches = _branches(spec, schema_name)
        if all("model" in b.get("properties", {}) for b in branches):
            with_models.add(route)
        else:
            assert all("action" in b["properties"] for b in branches), route
            assert all("parentJobId" in b.get("required", []) for b in branches), route
            actions.add(route)
    assert with_models == set(ROUTE_SCHEMAS)
    assert actions == set(ACTIONS) == {"/v2/images/midjourney/action", "/v2/music/suno/action"}
    assert set(JOB_ROUTES) == with_models | actions
    assert {ACTIONS[r].model for r in actions} == {"midjourney", "suno"}
    assert all(entry.is_action and entry.params_key is None for entry in ACTIONS.values())


@pytest.mark.parametrize("route", sorted(ROUTE_SCHEMAS))
def test_models_of_each_route_agree_exactly(spec: dict[str, Any], route: str) -> None:
    contract = _contract_models(spec, route)
    assert sorted(models_of(route)) == sorted(contract)
    # models_of keeps the contract's order (the emulator's "Expected ..." message lists them in it).
    assert models_of(route) == list(contract)
    for model, expected in contract.items():
        entry = MODELS[model]
        assert entry.model == model
        assert entry.route == route, model
        assert entry.params_key == expected["params_key"], model
        assert entry.params_required == expected["params_required"], model
        assert entry.top_level_prompt == expected["top_level_prompt"], model
        # Where the body has a top-level prompt, the contract always requires it.
        assert expected["prompt_required"] == expected["top_level_prompt"], model


def test_catalog_has_nothing_the_contract_lacks(spec: dict[str, Any]) -> None:
    in_contract = {model for route in ROUTE_SCHEMAS for model in _contract_models(spec, route)}
    assert set(MODELS) == in_contract
    assert {spec.route for spec in MODELS.values()} == set(ROUTE_SCHEMAS)
    assert set(IMAGE_MODELS) == {m for m, e in MODELS.items() if e.route.startswith("/v2/images/")}
    # The issue counts 51 image models on the generate route, 41 video models and 7 music models.
    assert len(models_of("/v2/images/generate")) == 51
    assert len(models_of("/v2/videos/generate")) == 41
    assert len(models_of("/v2/music/generate")) == 7
    assert {e.modality for e in MODELS.values()} == {"image", "video", "music"}


def test_params_blocks_are_objects_and_keys_are_shared_within_a_family(spec: dict[str, Any]) -> None:
    """A params key names one schema shape; the families of the catalog are exactly the contract's."""
    by_key: dict[str, set[str]] = {}
    for route in ROUTE_SCHEMAS:
        for branch in _branches(spec, ROUTE_SCHEMAS[route]):
            (model,) = branch["properties"]["model"]["enum"]
            key = MODELS[model].params_key
            assert _resolve(spec, branch["properties"][key]).get("type") == "object", model
            by_key.setdefault(key, set()).add(model)
    catalog_keys: dict[str, set[str]] = {}
    for model, entry in MODELS.items():
        catalog_keys.setdefault(str(entry.params_key), set()).add(model)
    assert by_key == catalog_keys


def test_catalog_is_read_only() -> None:
    with pytest.raises(TypeError):
        IMAGE_MODELS["new-model"] = IMAGE_MODELS["gpt-image-1.5"]  # type: ignore[index]
    with pytest.raises(TypeError):
        ROUTE_SCHEMAS["/v2/images/new"] = "X"  # type: ignore[index]


def _uri_fields(spec: dict[str, Any], block: dict[str, Any]) -> list[str]:
    """The fields of a parameters block that take a URL (or URLs, or one of several shapes with one)."""

    def takes_url(node: Any) -> bool:
        node = _resolve(spec, node) if isinstance(node, dict) else node
        if isinstance(node, dict):
            return node.get("format") == "uri" or any(takes_url(v) for v in node.values())
        return isinstance(node, list) and any(takes_url(v) for v in node)

    return [name for name, node in _resolve(spec, block).get("properties", {}).items() if takes_url(node)]


@pytest.mark.parametrize("route", sorted(ROUTE_SCHEMAS))
def test_media_fields_are_the_url_fields_of_each_model(spec: dict[str, Any], route: str) -> None:
    for branch in _branches(spec, ROUTE_SCHEMAS[route]):
        (model,) = branch["properties"]["model"]["enum"]
        entry = MODELS[model]
        fields = _uri_fields(spec, branch["properties"][entry.params_key])
        assert [field for field, _ in entry.media_fields] == fields, model
        assert all(kind == media_kind(field) for field, kind in entry.media_fields)


@pytest.mark.parametrize(
    ("field", "kind"),
    [
        ("start_image", "image"),
        ("reference_images", "image"),
        ("mask", "image"),
        ("video", "video"),
        ("reference_video_urls", "video"),
        ("first_clip", "video"),
        ("audio", "audio"),
        ("reference_audio_urls", "audio"),
    ],
)
def test_media_kind_from_the_fields_name(field: str, kind: str) -> None:
    assert media_kind(field) == kind


def test_media_inputs_and_prompts_of_requests_of_each_modality() -> None:
    video = {"model": "seedance-2", "prompt": "a fox", "seedanceParams": {
        "start_image": "https://x.test/a.png",
        "reference_video_urls": ["https://x.test/v.mp4"],
        "reference_audio_urls": ["https://x.test/s.mp3", "https://x.test/t.mp3"],
    }}  # fmt: skip
    # In the contract's order of the fields (end_image, reference_audio_urls, ..., start_image).
    assert media_inputs_of(video) == [
        ("https://x.test/s.mp3", "audio"),
        ("https://x.test/t.mp3", "audio"),
        ("https://x.test/v.mp4", "video"),
        ("https://x.test/a.png", "image"),
    ]
    upscale = {"model": "topaz-video-upscale", "topazVideoParams": {"video": "https://x.test/v.mp4"}}
    assert media_inputs_of(upscale) == [("https://x.test/v.mp4", "video")]
    assert prompt_of({"model": "suno", "prompt": "a jingle"}) == "a jingle"
    action = {"action": "inpaint", "parentJobId": "p", "prompt": "a hat", "mask": "AAAA"}
    assert prompt_of(action, "/v2/images/midjourney/action") == "a hat"
    assert media_inputs_of(action, "/v2/images/midjourney/action") == []
