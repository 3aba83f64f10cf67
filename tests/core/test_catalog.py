"""``core.catalog`` against the official contract: every image route, model, params key and rule."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_apiframe.core.catalog import IMAGE_MODELS, ROUTE_SCHEMAS, models_of


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


def test_every_model_taking_image_route_of_the_contract_is_in_the_catalog(spec: dict[str, Any]) -> None:
    """Each POST /v2/images/* route whose request selects a ``model`` is catalogued; the rest have none."""
    with_models, without = set(), set()
    for route, operations in spec["paths"].items():
        if not route.startswith("/v2/images/") or "post" not in operations:
            continue
        schema_name = _request_schema(spec, route)
        assert schema_name is not None, route
        selects_model = all("model" in b.get("properties", {}) for b in _branches(spec, schema_name))
        (with_models if selects_model else without).add(route)
    assert with_models == set(ROUTE_SCHEMAS)
    # Midjourney's follow-up actions act on a parent job and take no model: nothing to catalogue.
    assert without == {"/v2/images/midjourney/action"}


@pytest.mark.parametrize("route", sorted(ROUTE_SCHEMAS))
def test_models_of_each_route_agree_exactly(spec: dict[str, Any], route: str) -> None:
    contract = _contract_models(spec, route)
    assert sorted(models_of(route)) == sorted(contract)
    # models_of keeps the contract's order (the emulator's "Expected ..." message lists them in it).
    assert models_of(route) == list(contract)
    for model, expected in contract.items():
        entry = IMAGE_MODELS[model]
        assert entry.model == model
        assert entry.route == route, model
        assert entry.params_key == expected["params_key"], model
        assert entry.params_required == expected["params_required"], model
        assert entry.top_level_prompt == expected["top_level_prompt"], model
        # Where the body has a top-level prompt, the contract always requires it.
        assert expected["prompt_required"] == expected["top_level_prompt"], model


def test_catalog_has_nothing_the_contract_lacks(spec: dict[str, Any]) -> None:
    in_contract = {model for route in ROUTE_SCHEMAS for model in _contract_models(spec, route)}
    assert set(IMAGE_MODELS) == in_contract
    assert {spec.route for spec in IMAGE_MODELS.values()} == set(ROUTE_SCHEMAS)
    # The notes count 51 image models on the generate route.
    assert len(models_of("/v2/images/generate")) == 51


def test_params_blocks_are_objects_and_keys_are_shared_within_a_family(spec: dict[str, Any]) -> None:
    """A params key names one schema shape; the families of the catalog are exactly the contract's."""
    by_key: dict[str, set[str]] = {}
    for route in ROUTE_SCHEMAS:
        for branch in _branches(spec, ROUTE_SCHEMAS[route]):
            (model,) = branch["properties"]["model"]["enum"]
            key = IMAGE_MODELS[model].params_key
            assert _resolve(spec, branch["properties"][key]).get("type") == "object", model
            by_key.setdefault(key, set()).add(model)
    catalog_keys: dict[str, set[str]] = {}
    for model, entry in IMAGE_MODELS.items():
        catalog_keys.setdefault(entry.params_key, set()).add(model)
    assert by_key == catalog_keys


def test_catalog_is_read_only() -> None:
    with pytest.raises(TypeError):
        IMAGE_MODELS["new-model"] = IMAGE_MODELS["gpt-image-1.5"]  # type: ignore[index]
    with pytest.raises(TypeError):
        ROUTE_SCHEMAS["/v2/images/new"] = "X"  # type: ignore[index]
