"""Validate job requests as the API does: per-field messages keyed by JSON path."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from airflow_provider_apiframe.core.catalog import IMAGE_MODELS, ROUTE_SCHEMAS, models_of
from airflow_provider_apiframe.core.models import PROMPT_MAX_LENGTH, GptImageParams

_FORMATS = FormatChecker()
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
_KNOWN_PARAMS = {"gptImageParams": GptImageParams}


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
        for error in sorted(validator.iter_errors(body), key=lambda e: list(map(str, e.absolute_path))):
            path = ".".join(str(p) for p in error.absolute_path) or "body"
            problems.setdefault(path, []).append(error.message)
        return problems

    def _schema(self, route: str, model: str) -> dict[str, Any]:
        if self.spec is not None:
            branches = self.spec["components"]["schemas"][ROUTE_SCHEMAS[route]]["oneOf"]
            return next(b for b in branches if b["properties"]["model"].get("enum") == [model])
        spec = IMAGE_MODELS[model]
        params = _KNOWN_PARAMS.get(spec.params_key)
        properties: dict[str, Any] = {
            "model": {"type": "string", "enum": [model]},
            spec.params_key: params.model_json_schema() if params else {"type": "object"},
            **{k: v for k, v in _SHARED_PROPERTIES.items() if k != "prompt" or spec.top_level_prompt},
        }
        required = ["model"] + (["prompt"] if spec.top_level_prompt else [])
        return {
            "type": "object",
            "additionalProperties": False,
            "properties": properties,
            "required": required + ([spec.params_key] if spec.params_required else []),
        }
