"""
Requests generated from the contract: for every alternative of every JSON request body, a valid
body and, for each parameter, several invalid ones (wrong type, outside its range, enum or length,
bad format, an unknown key), plus broken shared fields.

Used to check that everything that judges a request (the snapshot, the provider's validation, the
emulator) gives the contract's verdict.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterator
from typing import Any

UUID = "4f0c7d1e-2b3a-4c5d-8e9f-0a1b2c3d4e5f"
URL = "https://example.com/input.png"


@dataclasses.dataclass(frozen=True)
class Case:
    """One generated request: where it goes, its body, and what was done to it."""

    path: str
    schema: str
    body: dict[str, Any]
    label: str


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """Follow ``$ref`` s at the top of ``schema``."""
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _options(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """A schema's non-null alternatives (``anyOf``/``oneOf``), or the schema itself."""
    branches = schema.get("anyOf") or schema.get("oneOf") or [schema]
    return [b for b in branches if b.get("type") != "null"] or [schema]


def _types(schema: dict[str, Any]) -> list[str]:
    kind = schema.get("type", [])
    return [kind] if isinstance(kind, str) else list(kind)


def valid(schema: dict[str, Any]) -> Any:
    """A value the schema accepts (the simplest one)."""
    option = _options(schema)[0]
    if "const" in option:
        return option["const"]
    if "enum" in option:
        return next(v for v in option["enum"] if v is not None)
    kind = next((t for t in _types(option) if t != "null"), "string")
    if kind == "string":
        if option.get("format") == "uri":
            return URL
        if option.get("format") == "uuid":
            return UUID
        if option.get("pattern") == r"^\d+:\d+$":
            return "16:9"
        return "x" * max(option.get("minLength", 1), 1)
    if kind in ("integer", "number"):
        above = option.get("exclusiveMinimum")
        low = option.get("minimum", 0 if above is None else above + 1)
        return max(low, 1) if option.get("maximum", 10**9) >= 1 else low
    if kind == "boolean":
        return True
    if kind == "array":
        return [valid(option.get("items", {}))] * max(option.get("minItems", 1), 1)
    if kind == "object":
        props = option.get("properties", {})
        return {name: valid(props[name]) for name in option.get("required", []) if name in props}
    return "x"


def invalid(schema: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """Values the schema refuses, each with a label saying why."""
    options = _options(schema)
    option = options[0]
    kinds = {t for o in options for t in _types(o)}
    if "enum" in option or all("enum" in o for o in options):
        yield "not in the enum", "not-one-of-them" if "string" in kinds else 987654
    if kinds and "string" not in kinds:
        yield "a string", "text"
    if kinds and not kinds & {"integer", "number"}:
        yield "a number", 12345
    if "integer" in kinds and "number" not in kinds:
        yield "a fraction", 1.5
    for o in options:
        if "maximum" in o:
            yield "above the maximum", o["maximum"] + 1
        if "minimum" in o:
            yield "below the minimum", o["minimum"] - 1
        if "exclusiveMinimum" in o:
            yield "at the exclusive minimum", o["exclusiveMinimum"]
        if "maxLength" in o and o["maxLength"] <= 20_000:
            yield "too long", "x" * (o["maxLength"] + 1)
        if o.get("minLength", 0) >= 1:
            yield "too short", ""
        if o.get("format") == "uri":
            yield "not a URI", "not a uri"
        if o.get("format") == "uuid":
            yield "not a UUID", "1234"
        if "pattern" in o:
            yield "not matching its pattern", "wide"
        if o.get("type") == "array":
            if "maxItems" in o:
                yield "too many items", [valid(o.get("items", {}))] * (o["maxItems"] + 1)
            if o.get("minItems", 0) >= 1:
                yield "an empty list", []
            items = o.get("items", {})
            for why, bad in invalid(items):
                yield f"an item {why}", [bad]
                break
        if o.get("type") == "object" and o.get("additionalProperties") is False:
            yield "an unknown key", {**valid(o), "no_such_parameter": 1}
    nullable = any(o.get("type") == "null" for o in schema.get("anyOf", []) + schema.get("oneOf", []))
    if not nullable and "null" not in kinds:
        yield "null", None


def request_schemas(spec: dict[str, Any]) -> dict[str, str]:
    """Every operation with a JSON request body: path -> schema name."""
    found = {}
    for path, item in spec["paths"].items():
        body = item.get("post", {}).get("requestBody", {}).get("content", {}).get("application/json")
        if body and "$ref" in body["schema"]:
            found[path] = body["schema"]["$ref"].rsplit("/", 1)[-1]
    return found


def branch_name(branch: dict[str, Any]) -> str:
    """What tells one alternative from another: its ``model`` or ``action`` (or ``type``)."""
    for key in ("model", "action", "type"):
        enum = branch.get("properties", {}).get(key, {}).get("enum")
        if enum:
            return f"{key}={enum[0]}"
    return "body"


def cases(spec: dict[str, Any], *, long_strings: bool = True) -> Iterator[Case]:
    """
    Every generated request of every JSON request body of the contract.

    :param spec: The contract (document or snapshot).
    :param long_strings: Include values past a ``maxLength`` (megabytes for some fields).
    """
    for path, name in sorted(request_schemas(spec).items()):
        top = resolve(spec, {"$ref": f"#/components/schemas/{name}"})
        for branch in top.get("oneOf", [top]):
            branch = resolve(spec, branch)
            base = valid(branch)
            label = branch_name(branch)
            yield Case(path, name, base, f"{label}: valid")
            yield Case(path, name, {**base, "unknownTopLevel": 1}, f"{label}: unknown top-level key")
            for key, prop in branch.get("properties", {}).items():
                if key in ("model", "action") and "enum" in prop:
                    continue
                prop = resolve(spec, prop)
                for why, bad in invalid(prop):
                    if not long_strings and isinstance(bad, str) and len(bad) > 5000:
                        continue
                    yield Case(path, name, {**base, key: bad}, f"{label}: {key} {why}")
                inner = _options(prop)[0]
                if inner.get("type") == "object":
                    full = {p: valid(s) for p, s in inner.get("properties", {}).items()}
                    yield Case(path, name, {**base, key: full}, f"{label}: {key} with every parameter")
                    for param, param_schema in inner.get("properties", {}).items():
                        for why, bad in invalid(resolve(spec, param_schema)):
                            if not long_strings and isinstance(bad, str) and len(bad) > 5000:
                                continue
                            body = copy.deepcopy(base)
                            body[key] = {**valid(inner), param: bad}
                            yield Case(path, name, body, f"{label}: {key}.{param} {why}")
                if key not in branch.get("required", []):
                    without = {k: v for k, v in base.items() if k != key}
                    if without != base:
                        yield Case(path, name, without, f"{label}: without {key}")
            for key in branch.get("required", []):
                without = {k: v for k, v in base.items() if k != key}
                yield Case(path, name, without, f"{label}: {key} missing")
