"""
Request bodies judged against the contract with ``jsonschema``: one check, for the provider and the emulator.

A job route's body is a ``oneOf`` of one alternative per model (or action). A body is judged
against the alternative it names, so that each problem is one field's; a body naming none is
judged against the whole ``oneOf``. Nothing here knows a route or a model by name: a route the
contract adds is checked as soon as the contract (the snapshot, or a newer document) has it.

:func:`word` turns the problems into the provider's ``(field, why)`` wording ("got ...; allowed:
..."), each field named as the DAG author wrote it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker, ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from airflow_provider_apiframe.core import contract
from airflow_provider_apiframe.core.validation import _allowed, _shown

#: The keys that tell the alternatives of a request body apart, in the order they are looked for.
DISCRIMINATORS = ("model", "action", "type")
_BASE = "urn:apiframe"
_FORMATS = FormatChecker()


class ContractCheck:
    """
    Judge request bodies against a contract.

    :param spec: The official OpenAPI document (or a snapshot); ``None`` for the shipped snapshot.
    """

    def __init__(self, spec: dict[str, Any] | None = None) -> None:
        self.spec = spec if spec is not None else contract.snapshot()
        resource = Resource.from_contents(self.spec, default_specification=DRAFT202012)
        self._registry: Registry[Any] = Registry().with_resource(_BASE, resource)
        self._validators: dict[str, Draft202012Validator] = {}
        self._alternatives: dict[str, dict[tuple[str, Any], int]] = {}

    def request_schemas(self) -> dict[str, str]:
        """Every route that takes a JSON body: path -> the name of its request schema."""
        found: dict[str, str] = {}
        for path, item in self.spec.get("paths", {}).items():
            content = item.get("post", {}).get("requestBody", {}).get("content", {})
            ref = content.get("application/json", {}).get("schema", {}).get("$ref", "")
            if ref.startswith("#/components/schemas/"):
                found[path] = ref.rsplit("/", 1)[-1]
        return found

    def choices(self, route: str) -> list[Any]:
        """
        The values that name the alternatives of a route's body (its models), in the contract's order.

        :param route: e.g. ``/v2/images/generate``.
        """
        return [value for _, value in self._alternatives_of(route)]

    def discriminator(self, route: str) -> str | None:
        """
        The body key whose value names the route's alternative (``model``, ``action``...), if any.

        :param route: e.g. ``/v2/images/midjourney/action``.
        """
        return next((key for key, _ in self._alternatives_of(route)), None)

    def errors(self, route: str, body: Any) -> list[ValidationError]:
        """
        The problems of ``body`` on ``route``, in the order ``jsonschema`` finds them; empty when valid.

        :param route: A route with a JSON body, e.g. ``/v2/images/generate``.
        :param body: The body, as it would be sent.
        :raises KeyError: If the contract has no JSON body for ``route``.
        """
        pointer = f"{_BASE}#/components/schemas/{self.request_schemas()[route]}"
        if isinstance(body, dict):
            alternatives = self._alternatives_of(route)
            for key in DISCRIMINATORS:
                value = body.get(key)
                if isinstance(value, (str, int)) and (key, value) in alternatives:
                    pointer += f"/oneOf/{alternatives[key, value]}"
                    break
        validator = self._validators.get(pointer)
        if validator is None:
            validator = self._validators[pointer] = Draft202012Validator(
                {"$ref": pointer}, registry=self._registry, format_checker=_FORMATS
            )
        return list(validator.iter_errors(body))

    def _alternatives_of(self, route: str) -> dict[tuple[str, Any], int]:
        """``(key, value)`` -> index in the ``oneOf``, for each value that names an alternative."""
        if route not in self._alternatives:
            schemas = self.spec["components"]["schemas"]
            found: dict[tuple[str, Any], int] = {}
            for index, branch in enumerate(schemas[self.request_schemas()[route]].get("oneOf", [])):
                while "$ref" in branch:
                    branch = schemas[branch["$ref"].rsplit("/", 1)[-1]]
                properties = branch.get("properties", {})
                for key in DISCRIMINATORS:
                    if "enum" in properties.get(key, {}):
                        for value in properties[key]["enum"]:
                            found.setdefault((key, value), index)
                        break
            self._alternatives[route] = found
        return self._alternatives[route]


@cache
def shipped() -> ContractCheck:
    """The check of the snapshot shipped with the package (one per process)."""
    return ContractCheck()


def word(errors: list[ValidationError], rename: Callable[[str], str]) -> list[tuple[str, str]]:
    """
    The problems found, as ``(field, why)``: one per field, in the order found, every field named.

    :param errors: As :meth:`ContractCheck.errors` returns them.
    :param rename: The argument a top-level body key comes from (``fluxParams`` -> ``model_params``,
        ``webhookUrl`` -> ``webhook_url``); ``""`` puts that key's own fields at the top (the flat
        arguments of the typed operators).
    """
    found: dict[str, str] = {}
    for error in errors:
        path, value, schema = list(error.absolute_path), error.instance, error.schema
        if not isinstance(schema, dict):
            continue
        if str(error.validator) == "required" and isinstance(value, dict):
            for key in schema.get("required", []):
                if key not in value:
                    allowed = _allowed(schema.get("properties", {}).get(key, {}), one_item=False)
                    why = f"missing; allowed: {allowed}" if allowed else "missing"
                    found.setdefault(_field([*path, key], rename), why)
        elif str(error.validator) == "additionalProperties" and isinstance(value, dict):
            known = schema.get("properties", {})
            names = sorted(n for n in (_field([*path, k], rename).rsplit(".", 1)[-1] for k in known) if n)
            for key in (k for k in value if k not in known):
                found.setdefault(
                    _field([*path, key], rename), f"unknown parameter; allowed: {', '.join(names)}"
                )
        else:
            allowed = _allowed(schema, one_item=False)
            got = f"got {_shown(value)}"
            found.setdefault(
                _field(path, rename), f"{got}; allowed: {allowed}" if allowed else f"{error.message} ({got})"
            )
    return list(found.items())


def _field(path: list[Any], rename: Callable[[str], str]) -> str:
    """A JSON path of the body, as the argument (and the keys and indexes inside it) the author wrote."""
    parts = [str(part) for part in path]
    if parts:
        head = rename(parts[0])
        parts = [head, *parts[1:]] if head else parts[1:] or parts[:1]
    return ".".join(parts) or "body"
