"""The LoRA routes: training (``POST /v2/loras``, multipart), reading, listing and archiving LoRAs."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from jsonschema import Draft202012Validator, FormatChecker
from starlette.datastructures import UploadFile

from airflow_provider_apiframe.core import contract
from airflow_provider_apiframe.core.media import sniff_media
from airflow_provider_apiframe.emulator.routes.common import ApiKey, Emulated, error, invalid
from airflow_provider_apiframe.emulator.routes.jobs import OUTCOME_HEADER
from airflow_provider_apiframe.emulator.state import EmulatorState, InsufficientCredits
from airflow_provider_apiframe.emulator.state.loras import LoraStore
from airflow_provider_apiframe.emulator.state.rules import take_first

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
_TRAINING_TYPES = ("image/png", "image/jpeg", "image/webp")
_MB = 1024 * 1024
_INTEGERS = ("steps", "loraRank")
_VALIDATORS: dict[int, Draft202012Validator] = {}

router = APIRouter()


def store_of(state: EmulatorState) -> LoraStore:
    """
    The emulator's LoRA store (made on first use if the state has none).

    :param state: The emulator's state.
    """
    store: LoraStore | None = getattr(state, "loras", None)
    if store is None:
        store = LoraStore(state.config, state.ledger)
        state.loras = store
    return store


@router.post("/v2/loras", status_code=202)
async def create_lora(request: Request, key: ApiKey, emulated: Emulated) -> Response:
    """
    Queue a training from 15 to 30 images and the form's fields; 2 credits up-front.

    :param request: The request (``X-Emulator-Outcome: failed`` makes the training fail).
    :param key: The caller's key.
    :param emulated: The emulator's services.
    """
    try:
        form = await request.form(max_files=64, max_fields=64)
    except Exception:
        return invalid({"body": ["Expected a multipart/form-data body"]})
    images = [item for item in form.getlist("images") if isinstance(item, UploadFile)]
    fields: dict[str, Any] = {k: v for k, v in form.items() if k != "images" and isinstance(v, str)}
    problems = _field_problems(fields, len(images), emulated.state.config.spec)
    total = 0
    for index, image in enumerate(images):
        data = await image.read()
        total += len(data)
        sniffed = sniff_media(data[:16])
        if sniffed is None or sniffed[1] not in _TRAINING_TYPES:
            problems.setdefault(f"images.{index}", []).append("Unsupported file type (JPEG, PNG or WebP)")
        elif len(data) > 10 * _MB:
            problems.setdefault(f"images.{index}", []).append("File too large: at most 10 MB")
    if total > 100 * _MB:
        problems.setdefault("images", []).append("Images too large: at most 100 MB in all")
    if problems:
        return invalid(dict(sorted(problems.items())))
    outcome = request.headers.get(OUTCOME_HEADER)
    if outcome is None:  # an outcome rule "failed" whose text is in the name fails the training too
        rule = take_first(
            emulated.state.outcomes, lambda r: r.outcome == "failed" and r.matches(fields["name"])
        )
        outcome = rule.outcome if rule else None
    try:
        lora = store_of(emulated.state).create(key, fields, len(images), outcome=outcome)
    except InsufficientCredits as exc:
        body = {
            "error": "Insufficient credits",
            "creditsRequired": exc.required,
            "creditsAvailable": exc.available,
        }
        return JSONResponse(body, status_code=402)
    except ValueError as exc:
        return error(400, str(exc))
    return JSONResponse({"id": lora.id, "status": "PENDING", "imageCount": lora.image_count}, status_code=202)


@router.get("/v2/loras")
async def list_loras(request: Request, key: ApiKey, emulated: Emulated) -> Response:
    """
    A page of the caller's LoRAs, newest first; archived ones only with ``includeArchived=true``.

    :param request: The request.
    :param key: The caller's key.
    :param emulated: The emulator's services.
    """
    query, problems = request.query_params, {}
    limit = 24
    try:
        limit = int(query.get("limit", "24"))
        if not 1 <= limit <= 100:
            raise ValueError
    except ValueError:
        problems["limit"] = ["Number must be an integer from 1 to 100"]
    archived = query.get("includeArchived", "false")
    if archived not in ("true", "false"):
        problems["includeArchived"] = ["Invalid enum value. Expected 'true' | 'false'"]
    cursor = query.get("cursor")
    if cursor is not None and not _UUID.match(cursor):
        problems["cursor"] = ["Invalid uuid"]
    if problems:
        return invalid(problems, "Invalid query parameters")
    items, next_cursor = store_of(emulated.state).page(
        key, cursor=cursor, limit=limit, include_archived=archived == "true"
    )
    return JSONResponse({"items": items, "nextCursor": next_cursor})


@router.get("/v2/loras/{lora_id}")
async def get_lora(lora_id: str, key: ApiKey, emulated: Emulated) -> Response:
    """
    One of the caller's LoRAs.

    :param lora_id: Its id.
    :param key: The caller's key.
    :param emulated: The emulator's services.
    """
    if not _UUID.match(lora_id):
        return invalid({"id": ["Invalid uuid"]})
    store = store_of(emulated.state)
    lora = store.find(key, lora_id)
    return error(404, "LoRA not found.") if lora is None else JSONResponse(store.read(lora))


@router.delete("/v2/loras/{lora_id}", status_code=204)
async def archive_lora(lora_id: str, key: ApiKey, emulated: Emulated) -> Response:
    """
    Archive one of the caller's LoRAs (again: still ``204``).

    :param lora_id: Its id.
    :param key: The caller's key.
    :param emulated: The emulator's services.
    """
    if not _UUID.match(lora_id):
        return invalid({"id": ["Invalid uuid"]})
    lora = store_of(emulated.state).find(key, lora_id)
    if lora is None:
        return error(404, "LoRA not found.")
    lora.archived = True
    return Response(status_code=204)


def _field_problems(
    fields: dict[str, Any], image_count: int, spec: dict[str, Any] | None
) -> dict[str, list[str]]:
    """The form's problems by field, as the API's ``400`` names them."""
    problems: dict[str, list[str]] = {}
    for name in _INTEGERS:
        if name in fields:
            try:
                fields[name] = int(fields[name])
            except ValueError:
                problems[name] = ["Expected number, received string"]
    body = {**{k: v for k, v in fields.items() if k not in problems}, "images": ["<file>"] * image_count}
    for found in _validator(spec).iter_errors(body):
        path, message = [str(p) for p in found.absolute_path], found.message
        if str(found.validator) == "required":
            path, message = [message.split("'")[1]], "Required"
        elif str(found.validator) in ("minItems", "maxItems"):
            message = f"Expected 15 to 30 images, received {image_count}"
        problems.setdefault(".".join(path) or "body", []).append(message)
    if fields.get("subjectKind", "person") == "person":
        for name in ("gender", "ethnicity"):
            if name not in fields:
                problems.setdefault(name, []).append('Required when subjectKind is "person"')
    return problems


def _validator(spec: dict[str, Any] | None) -> Draft202012Validator:
    """The contract's schema of the LoRA form (the configured spec, or the snapshot), built once each."""
    found = _VALIDATORS.get(id(spec))
    if found is None:
        document = spec or contract.snapshot()
        content = document["paths"]["/v2/loras"]["post"]["requestBody"]["content"]
        schema = content["multipart/form-data"]["schema"]
        found = _VALIDATORS[id(spec)] = Draft202012Validator(schema, format_checker=FormatChecker())
    return found
