"""
Write the package's facts-only snapshot of the Apiframe API contract.

Reads the official OpenAPI document (a path, by default ``../shared/apiframe-openapi.json``, or the
live ``https://api.apiframe.ai/v2/openapi.json``) and keeps only what validation needs: for every
operation its parameters, request body and response schemas, with types, enums, ranges, lengths,
patterns, formats, defaults, required keys, ``additionalProperties`` and the per-model alternatives
(``oneOf``), plus the model list of each job route. No descriptions, summaries, titles or examples.
The document's version, digest and the date are recorded beside the facts.

    python scripts/update_contract.py [--source PATH_OR_URL] [--check]

``--check`` writes nothing and exits 1 when the shipped snapshot differs from what the source gives
(``tests/contract/test_snapshot.py`` runs the same comparison).
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import sys
import urllib.request
from pathlib import Path
from typing import Any

from airflow_provider_apiframe.core import contract

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = contract.CHECKOUT_DOCUMENT
LIVE_URL = "https://api.apiframe.ai/v2/openapi.json"
SNAPSHOT = ROOT / "airflow_provider_apiframe" / "core" / "contract.json"

#: JSON Schema keywords that state a fact about valid values (everything else is prose or tooling).
_SCHEMA_FACTS = frozenset(
    {
        "$ref", "type", "enum", "const", "format", "pattern", "default", "nullable", "deprecated",
        "minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
        "multipleOf", "minItems", "maxItems", "uniqueItems", "minProperties", "maxProperties",
        "required", "contentMediaType", "contentEncoding", "readOnly", "writeOnly",
    }
)  # fmt: skip
#: Keywords holding one schema, a list of schemas, or a map of names to schemas.
_ONE = frozenset({"items", "additionalProperties", "not", "propertyNames", "contains", "if", "then", "else"})
_MANY = frozenset({"oneOf", "anyOf", "allOf", "prefixItems"})
_BY_NAME = frozenset({"properties", "patternProperties", "$defs", "dependentSchemas"})
_METHODS = ("get", "put", "post", "delete", "patch")


def schema_facts(schema: Any) -> Any:
    """
    The facts of a JSON schema: its validation keywords, recursively, property names kept.

    :param schema: A schema (or ``true``/``false``).
    """
    if not isinstance(schema, dict):
        return schema
    facts: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _SCHEMA_FACTS:
            facts[key] = value
        elif key in _ONE:
            facts[key] = schema_facts(value)
        elif key in _MANY:
            facts[key] = [schema_facts(item) for item in value]
        elif key in _BY_NAME:
            facts[key] = {name: schema_facts(item) for name, item in value.items()}
        elif key == "discriminator":
            facts[key] = {k: v for k, v in value.items() if k in ("propertyName", "mapping")}
    return facts


def _content(content: dict[str, Any]) -> dict[str, Any]:
    return {media: {"schema": schema_facts(body.get("schema", {}))} for media, body in content.items()}


def _operation(operation: dict[str, Any]) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    if "parameters" in operation:
        facts["parameters"] = [
            {
                k: schema_facts(v) if k == "schema" else v
                for k, v in parameter.items()
                if k in ("$ref", "in", "name", "required", "schema")
            }
            for parameter in operation["parameters"]
        ]
    if "requestBody" in operation:
        body = operation["requestBody"]
        facts["requestBody"] = {
            "required": body.get("required", False),
            "content": _content(body.get("content", {})),
        }
    facts["responses"] = {}
    for status, response in operation.get("responses", {}).items():
        kept: dict[str, Any] = {}
        if "content" in response:
            kept["content"] = _content(response["content"])
        if "headers" in response:
            kept["headers"] = {
                name: {"schema": schema_facts(header.get("schema", {}))}
                for name, header in response["headers"].items()
            }
        facts["responses"][status] = kept
    if "security" in operation:
        facts["security"] = operation["security"]
    return facts


def job_route_models(document: dict[str, Any]) -> dict[str, list[str]]:
    """
    The models each job route takes: the ``model`` enum of every alternative of its request body.

    :param document: The OpenAPI document (or a snapshot of it).
    """
    return contract.route_models({k: v for k, v in document.items() if k != "models"})


def extract(document: dict[str, Any], *, source: str, today: str) -> dict[str, Any]:
    """
    The facts-only snapshot of ``document``.

    :param document: The official OpenAPI document.
    :param source: Where it was read from (recorded).
    :param today: The date to record, ``YYYY-MM-DD``.
    """
    raw = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    components = document.get("components", {})
    snapshot: dict[str, Any] = {
        "source": {
            "api": document["info"]["title"],
            "version": document["info"]["version"],
            "openapi": document["openapi"],
            "sha256": hashlib.sha256(raw).hexdigest(),
            "read_from": source,
            "generated_on": today,
        },
        "paths": {
            path: {m: _operation(item[m]) for m in _METHODS if m in item}
            for path, item in sorted(document["paths"].items())
        },
        "components": {
            "schemas": {name: schema_facts(s) for name, s in sorted(components.get("schemas", {}).items())},
            "parameters": {
                name: {k: schema_facts(v) if k == "schema" else v for k, v in p.items() if k != "description"}
                for name, p in sorted(components.get("parameters", {}).items())
            },
            "securitySchemes": {
                name: {k: v for k, v in scheme.items() if k != "description"}
                for name, scheme in sorted(components.get("securitySchemes", {}).items())
            },
        },
    }
    snapshot["models"] = job_route_models(document)
    return snapshot


def read_source(source: str) -> dict[str, Any]:
    """
    Read the document from a path or an http(s) URL.

    :param source: Where.
    """
    if source.startswith(("http://", "https://")):
        with urllib.request.urlopen(source, timeout=30) as response:
            document: dict[str, Any] = json.loads(response.read())
            return document
    document = json.loads(Path(source).read_text())
    return document


def render(snapshot: dict[str, Any]) -> str:
    """The snapshot as written to disk: compact, keys sorted (the same facts give the same bytes)."""
    return json.dumps(snapshot, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"


def same_facts(left: dict[str, Any], right: dict[str, Any]) -> bool:
    """Whether two snapshots hold the same facts from the same document (the dates aside)."""

    def undated(snapshot: dict[str, Any]) -> dict[str, Any]:
        source = {k: v for k, v in snapshot["source"].items() if k not in ("generated_on", "read_from")}
        return {**snapshot, "source": source}

    return undated(left) == undated(right)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", default=str(DEFAULT_SOURCE), help=f"a path or URL (e.g. {LIVE_URL})")
    parser.add_argument("--out", type=Path, default=SNAPSHOT)
    parser.add_argument("--check", action="store_true", help="exit 1 if the snapshot is out of date")
    args = parser.parse_args(argv)
    shown = args.source if "://" in args.source else Path(args.source).name
    fresh = extract(read_source(args.source), source=shown, today=datetime.date.today().isoformat())
    if args.check:
        shipped = json.loads(args.out.read_text())
        if not same_facts(shipped, fresh):
            print(f"{args.out} is out of date: run python scripts/update_contract.py", file=sys.stderr)
            return 1
        print(f"{args.out} matches {args.source}")
        return 0
    args.out.write_text(render(fresh))
    print(f"Wrote {args.out} ({args.out.stat().st_size // 1024} KB) from {args.source}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
