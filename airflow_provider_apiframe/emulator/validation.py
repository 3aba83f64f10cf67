"""Validate job requests as the API does: per-field messages keyed by JSON path."""

from __future__ import annotations

import re
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from airflow_provider_apiframe.core import contract
from airflow_provider_apiframe.core.catalog import ROUTE_SCHEMAS, models_of

_FORMATS = FormatChecker()
_REQUIRED = re.compile(r"^'(.+)' is a required property$")


class RequestValidator:
    """
    Validate job-creating request bodies against the contract.

    :param spec: The official OpenAPI document, or ``None`` for the snapshot shipped with the package.
    """

    def __init__(self, spec: dict[str, Any] | None = None):
        self.spec = spec if spec is not None else contract.snapshot()
        resource = Resource.from_contents(self.spec, default_specification=DRAFT202012)
        self._registry: Registry[Any] = Registry().with_resource("urn:apiframe", resource)
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
        branches = self.spec["components"]["schemas"][ROUTE_SCHEMAS[route]]["oneOf"]
        branch: dict[str, Any] = next(b for b in branches if b["properties"]["model"].get("enum") == [model])
        return branch
