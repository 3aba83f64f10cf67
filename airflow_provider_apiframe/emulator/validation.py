"""Validate job requests as the API does: per-field messages keyed by JSON path."""

from __future__ import annotations

import re
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from pydantic import BaseModel
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from airflow_provider_apiframe.core.catalog import IMAGE_MODELS, ROUTE_SCHEMAS, models_of
from airflow_provider_apiframe.core.models import PROMPT_MAX_LENGTH, TYPED_PARAMS

_FORMATS = FormatChecker()
_REQUIRED = re.compile(r"^'(.+)' is a required property$")
_URI = {"type": "string", "format": "uri"}
_SHARED_PROPERTIES = {
    "prompt": {"type": "string", "minLength": 1, "maxLength": PROMPT_MAX_LENGTH},
    "webhookUrl": _URI,
    "webhookEvents": {
        "type": "array",
        "minItems": 1,
        "items": {"type": "string", "enum": ["progress", "completed", "failed"]},
    },
}
#: Parameter blocks known field by field without the contract (the provider's own models).
_KNOWN_PARAMS = TYPED_PARAMS


class RequestValidator:
    """
    Validate job-creating request bodies.

    :param spec: The official OpenAPI document; ``None`` for the built-in approximation.
    """

    def __init__(self, spec: dict[str, Any] | None = None):
        self.spec = spec
        self._registry: Registry[Any] = Registry()
        if spec is not None:
            resource = Resource.from_contents(spec, default_specification=DRAFT202012)
            self._registry = self._registry.with_resource("urn:apiframe", resource)
        self._validators: dict[str, Draft202012Validator] = {}

    def validate(self, route: str, body: Any) -> dict[str, list[str]]:
        """
        Return the problems of ``body`` for ``route`` by JSON path; empty when it is valid.

        :param route: e.g. ``/v2/images/generate``.
        :param body: The parsed JSON body.
        """
        if not isinstance(body, dict):
            return {"body": ["Expected object"]}
        model = body.get("model")
        if model not in models_of(route):
            allowed = " | ".join(repr(m) for m in models_of(route))
            return {"model": [f"Invalid enum value. Expected {allowed}, received {model!r}"]}
        validator = self._validators.get(model)
        if validator is None:
            validator = self._validators[model] = Draft202012Validator(
                self._schema(route, model), registry=self._registry, format_checker=_FORMATS
            )
        problems: dict[str, list[str]] = {}
        for error in validator.iter_errors(body):
            path, message = [str(p) for p in error.absolute_path], error.message
            if error.validator == "required" and (missing := _REQUIRED.match(message)):
                path, message = [*path, missing[1]], "Required"  # keyed by the missing field, as Zod does
            problems.setdefault(".".join(path) or "body", []).append(message)
        return dict(sorted(problems.items()))

    def _schema(self, route: str, model: str) -> dict[str, Any]:
        if self.spec is not None:
            branches = self.spec["components"]["schemas"][ROUTE_SCHEMAS[route]]["oneOf"]
            return next(b for b in branches if b["properties"]["model"].get("enum") == [model])
        spec = IMAGE_MODELS[model]
        params = _KNOWN_PARAMS.get(spec.params_key)
        properties: dict[str, Any] = {
            "model": {"type": "string", "enum": [model]},
            spec.params_key: _not_null(params) if params else {"type": "object"},
            **{k: v for k, v in _SHARED_PROPERTIES.items() if k != "prompt" or spec.top_level_prompt},
        }
        required = ["model"] + (["prompt"] if spec.top_level_prompt else [])
        return {
            "type": "object",
            "additionalProperties": False,
            "properties": properties,
            "required": required + ([spec.params_key] if spec.params_required else []),
        }


def _not_null(model: type[BaseModel]) -> dict[str, Any]:
    """
    The JSON schema of a parameters model as the contract has it.

    The provider's models take ``None`` as "not set"; the API refuses an explicit ``null`` except
    where the contract allows it (the model's ``contract_nullable`` fields).
    """
    schema = model.model_json_schema()
    nullable: frozenset[str] = getattr(model, "contract_nullable", frozenset())
    for name, field in schema["properties"].items():
        if name not in nullable and "anyOf" in field:
            options = [option for option in field["anyOf"] if option.get("type") != "null"]
            field.pop("anyOf")
            field.update(options[0] if len(options) == 1 else {"anyOf": options})
    return schema
