"""
The Apiframe API contract, as this package ships it: a facts-only snapshot of the OpenAPI document.

``contract.json`` beside this module is written by ``scripts/update_contract.py`` from the official
document: every operation's parameters, request and response schemas (types, enums, ranges,
lengths, patterns, formats, defaults, required keys, ``additionalProperties``, the per-model
``oneOf`` alternatives) and the model list of each job route, with no prose. It keeps the
document's layout, so ``$ref`` s resolve in it exactly as in the document.

The official document itself is found in one place, :func:`document_path`: the path given, else
``$APIFRAME_OPENAPI_SPEC``, else (for a checkout of this repository) ``../shared/apiframe-openapi.json``.
"""

from __future__ import annotations

import json
import os
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, overload

#: Environment variable naming a (newer) contract document to use instead of the snapshot.
SPEC_ENV = "APIFRAME_OPENAPI_SPEC"
#: Where a checkout of this repository finds the official document: ``../shared/apiframe-openapi.json``.
CHECKOUT_DOCUMENT = Path(__file__).resolve().parents[3] / "shared" / "apiframe-openapi.json"


@overload
def document_path(path: str | os.PathLike[str] | None = None, *, default: Path = ...) -> Path: ...
@overload
def document_path(path: str | os.PathLike[str] | None = None, *, default: None) -> Path | None: ...
def document_path(
    path: str | os.PathLike[str] | None = None, *, default: Path | None = CHECKOUT_DOCUMENT
) -> Path | None:
    """
    Where the official contract document is: ``path``, else ``$APIFRAME_OPENAPI_SPEC``, else ``default``.

    The emulator passes ``default=None`` (no document named: it validates with the snapshot); the
    tests and scripts of this repository keep the default, the document beside the checkout.

    :param path: A path given explicitly (e.g. on a command line); empty counts as not given.
    :param default: The path when neither names one.
    """
    named = path or os.environ.get(SPEC_ENV)
    return Path(named) if named else default


@cache
def _snapshot_text() -> str:
    return resources.files(__package__).joinpath("contract.json").read_text(encoding="utf-8")


def snapshot() -> dict[str, Any]:
    """The shipped snapshot (a fresh copy: callers may change it)."""
    data: dict[str, Any] = json.loads(_snapshot_text())
    return data


def load(path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """
    The contract to validate with: the document at ``path`` if given, else the shipped snapshot.

    :param path: A full OpenAPI document (``apiframe-openapi.json``) or a snapshot.
    """
    if path is None:
        return snapshot()
    document: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    return document


def version(contract: dict[str, Any]) -> str:
    """
    The API version a contract describes.

    :param contract: A document or a snapshot.
    """
    info = contract.get("info") or contract.get("source") or {}
    return str(info.get("version", "unknown"))


def route_models(contract: dict[str, Any]) -> dict[str, list[str]]:
    """
    The models each job route takes.

    A snapshot's ``models``, else the ``model`` enum of every alternative of each route's request
    body (what ``scripts/update_contract.py`` records).

    :param contract: A snapshot or a full document.
    """
    if "models" in contract:
        recorded: dict[str, list[str]] = contract["models"]
        return recorded
    schemas = contract["components"]["schemas"]
    routes: dict[str, list[str]] = {}
    for path, item in sorted(contract["paths"].items()):
        schema = item.get("post", {}).get("requestBody", {}).get("content", {})
        schema = schema.get("application/json", {}).get("schema", {})
        if "$ref" in schema:
            schema = schemas[schema["$ref"].rsplit("/", 1)[-1]]
        models = [
            model
            for branch in schema.get("oneOf", [schema])
            for model in branch.get("properties", {}).get("model", {}).get("enum", [])
        ]
        if models:
            routes[path] = models
    return routes
