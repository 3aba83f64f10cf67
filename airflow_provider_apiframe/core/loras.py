"""
LoRA training (``/v2/loras``): calls, checks and wire models.

A LoRA is trained from 15 to 30 images (PNG, JPEG or WebP; 10 MB each, 100 MB in all) sent as
``multipart/form-data``; everything is checked here before anything is sent, each problem named as
the DAG author wrote it (``images: got 12 files; allowed: 15 to 30``, ``lora_rank``). The form's
fields are judged against the contract's own schema of the route. ``POST /v2/loras`` takes no
``Idempotency-Key``: a retry finds the LoRA it already created by its name, which carries a
:func:`retry_marker` (see :func:`marked_name`).
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from airflow_provider_apiframe.core import contract
from airflow_provider_apiframe.core.exchange import ApiCall

__all__ = ["LORA_TERMINAL", "LORA_UNUSABLE", "Lora", "LoraCreated", "LoraList", "LoraStatus", "NoContent"]
from airflow_provider_apiframe.core.errors import ApiframeInvalidParamsError
from airflow_provider_apiframe.core.media import image_content_type
from airflow_provider_apiframe.core.models import (
    LORA_TERMINAL,
    LORA_UNUSABLE,
    Lora,
    LoraCreated,
    LoraList,
    LoraStatus,
    NoContent,
)
from airflow_provider_apiframe.core.schema_check import word
from airflow_provider_apiframe.core.validation import Problems, _allowed

LORAS = "/v2/loras"
MIN_IMAGES, MAX_IMAGES = 15, 30
MAX_IMAGE_BYTES = 10 * 1024 * 1024
MAX_TOTAL_BYTES = 100 * 1024 * 1024
#: The image types training takes (GIF, which job inputs take, is not among them).
TRAINING_TYPES = ("image/png", "image/jpeg", "image/webp")
MAX_NAME_LENGTH = 60
#: ``" ~"`` and 8 hex digits: what :func:`marked_name` adds to a name.
MARKER_LENGTH = 10
WEBHOOK_EVENTS = ("progress", "completed", "failed")
_SNAKE = re.compile(r"[A-Z]")


# --- checks ---------------------------------------------------------------------------------------


def check_training_images(images: Sequence[tuple[str, bytes]], problems: Problems) -> list[str]:
    """
    Check training images as the API would: 15 to 30, PNG/JPEG/WebP by their bytes, 10 MB each, 100 MB in all.

    :param images: ``(name, bytes)`` per image, in order; the name shows in refusals.
    :param problems: Where refusals go (``images``, ``images[3]``).
    :return: Each image's content type (``""`` for one refused).
    """
    if not MIN_IMAGES <= len(images) <= MAX_IMAGES:
        problems.add("images", f"got {len(images)} files; allowed: {MIN_IMAGES} to {MAX_IMAGES}")
    types = []
    for index, (name, data) in enumerate(images):
        content_type = image_content_type(data[:16]) or ""
        if content_type not in TRAINING_TYPES:
            problems.add(f"images[{index}]", f"got {name!r}, which is not a PNG, JPEG or WebP image")
            content_type = ""
        elif len(data) > MAX_IMAGE_BYTES:
            problems.add(
                f"images[{index}]", f"got {name!r}: {len(data) / 2**20:.1f} MB; allowed: at most 10 MB"
            )
        types.append(content_type)
    total = sum(len(data) for _, data in images)
    if total > MAX_TOTAL_BYTES:
        problems.add("images", f"got {total / 2**20:.1f} MB in all; allowed: at most 100 MB")
    return types


def lora_form(
    *,
    name: Any,
    subject_kind: Any = None,
    gender: Any = None,
    ethnicity: Any = None,
    age: Any = None,
    steps: Any = None,
    lora_rank: Any = None,
    webhook_url: Any = None,
    webhook_events: Any = None,
    image_count: int = MIN_IMAGES,
    problems: Problems,
) -> dict[str, str]:
    """
    Check a LoRA's fields against the contract and return them as the form sends them (text).

    ``None`` means "not set" (the API's default applies). ``steps`` and ``lora_rank`` may be whole
    numbers written as text (a rendered template); ``webhook_events`` a list or a comma-separated text.

    :param name: 1 to 60 characters.
    :param subject_kind: ``person`` (the API's default), ``style`` or ``object``.
    :param gender: ``female``, ``male`` or ``non-binary``; required for a person.
    :param ethnicity: 1 to 40 characters; required for a person.
    :param age: 1 to 40 characters.
    :param steps: Training steps, 500 to 3000.
    :param lora_rank: 8 to 64.
    :param webhook_url: Where the API POSTs training events.
    :param webhook_events: Which events to POST (``progress``, ``completed``, ``failed``).
    :param image_count: How many images go with it (their own problems are reported elsewhere).
    :param problems: Where refusals go.
    """
    values = {
        "name": name,
        "subjectKind": subject_kind,
        "gender": gender,
        "ethnicity": ethnicity,
        "age": age,
        "steps": _whole(steps),
        "loraRank": _whole(lora_rank),
        "webhookUrl": webhook_url,
    }
    form: dict[str, Any] = {key: value for key, value in values.items() if value is not None}
    if webhook_events is not None:
        events = webhook_events.split(",") if isinstance(webhook_events, str) else webhook_events
        if (
            not isinstance(events, (list, tuple))
            or not events
            or any(e not in WEBHOOK_EVENTS for e in events)
        ):
            shown = ", ".join(repr(e) for e in WEBHOOK_EVENTS)
            problems.add("webhook_events", f"got {webhook_events!r}; allowed: one or more of {shown}")
        else:
            form["webhookEvents"] = ",".join(events)
    errors = _validator(None).iter_errors({**form, "images": ["<file>"] * image_count})
    for field, why in word(list(errors), lambda key: _SNAKE.sub(lambda m: f"_{m[0].lower()}", key)):
        if field.split(".")[0] != "images":
            problems.add(field, why)
    if form.get("subjectKind", "person") == "person":
        for field in ("gender", "ethnicity"):
            if field not in form:
                allowed = _allowed(_form_schema()["properties"][field])
                problems.add(field, f"missing; required when subject_kind is 'person'; allowed: {allowed}")
    return {key: str(value) for key, value in form.items()}


def check_lora_id(lora_id: Any) -> str:
    """
    Check that ``lora_id`` is a LoRA id (a UUID) before asking the API about it.

    :param lora_id: The value given.
    """
    try:
        if isinstance(lora_id, str) and len(lora_id) == 36:
            return str(uuid.UUID(lora_id))
    except ValueError:
        pass
    raise ApiframeInvalidParamsError([("lora_id", f"got {lora_id!r}; allowed: a LoRA id (a UUID)")])


# --- the retry marker -----------------------------------------------------------------------------


def retry_marker(
    *,
    dag_id: str,
    task_id: str,
    run_id: str,
    map_index: int,
    form: Mapping[str, str],
    image_digests: Sequence[str],
) -> str:
    """
    Eight hex digits naming one task instance's training request: stable across its retries.

    :param dag_id: The DAG.
    :param task_id: The task.
    :param run_id: The DAG run.
    :param map_index: The map index (-1 when not mapped).
    :param form: The form fields as sent, the name without its marker.
    :param image_digests: The SHA-256 of each image, in order.
    """
    identity = [dag_id, task_id, run_id, map_index, dict(form), list(image_digests)]
    encoded = json.dumps(identity, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(encoded).hexdigest()[:8]


def marked_name(name: str, marker: str) -> str:
    """
    The name a LoRA is created under: ``<name> ~<marker>``, within the API's 60 characters.

    :param name: The name the DAG author gave (at most 50 characters).
    :param marker: :func:`retry_marker`.
    """
    return f"{name} ~{marker}"


# --- calls ----------------------------------------------------------------------------------------


def create_lora(*, images: Sequence[tuple[str, bytes]], **fields: Any) -> ApiCall[LoraCreated]:
    """
    Build ``POST /v2/loras``, checking the images and every field first.

    :param images: ``(filename, bytes)`` per training image, in order.
    :param fields: ``name`` and the optional fields of :func:`lora_form`.
    :raises ApiframeInvalidParamsError: Naming every problem; nothing is sent.
    """
    problems = Problems()
    types = check_training_images(images, problems)
    form = lora_form(**fields, image_count=len(images), problems=problems)
    problems.raise_if_any()
    files = [("images", (name, data, kind)) for (name, data), kind in zip(images, types, strict=True)]
    return ApiCall("POST", LORAS, LoraCreated, files=files, form=form)


def get_lora(lora_id: str) -> ApiCall[Lora]:
    """
    Build ``GET /v2/loras/{id}``.

    :param lora_id: The LoRA's id (a UUID).
    """
    return ApiCall("GET", f"{LORAS}/{check_lora_id(lora_id)}", Lora)


def list_loras(
    *, cursor: str | None = None, limit: int = 100, include_archived: bool = False
) -> ApiCall[LoraList]:
    """
    Build ``GET /v2/loras``: a page of the team's LoRAs.

    :param cursor: ``nextCursor`` of the previous page.
    :param limit: Page size, 1..100.
    :param include_archived: Show archived LoRAs too.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 100:
        raise ApiframeInvalidParamsError([("limit", f"got {limit!r}; allowed: an integer from 1 to 100")])
    query = {"limit": str(limit), "includeArchived": "true" if include_archived else "false"}
    if cursor is not None:
        query["cursor"] = str(cursor)
    return ApiCall("GET", LORAS, LoraList, params=query)


def archive_lora(lora_id: str) -> ApiCall[NoContent]:
    """
    Build ``DELETE /v2/loras/{id}``: archive a LoRA (idempotent).

    :param lora_id: The LoRA's id (a UUID).
    """
    return ApiCall("DELETE", f"{LORAS}/{check_lora_id(lora_id)}", NoContent)


# --- helpers --------------------------------------------------------------------------------------


@cache
def _form_schema() -> dict[str, Any]:
    """The contract's schema of the ``POST /v2/loras`` form."""
    content = contract.snapshot()["paths"][LORAS]["post"]["requestBody"]["content"]
    schema: dict[str, Any] = content["multipart/form-data"]["schema"]
    return schema


@cache
def _validator(schema_name: str | None) -> Draft202012Validator:
    """The contract's check of the LoRA form (``None``) or of a named schema."""
    schema = (
        _form_schema() if schema_name is None else contract.snapshot()["components"]["schemas"][schema_name]
    )
    return Draft202012Validator(schema, format_checker=FormatChecker())


#: The contract's check of a named schema (``CreateAssetRequest``...).
schema_validator = _validator


def _whole(value: Any) -> Any:
    """A whole number written as text (a rendered template) as the number; anything else as it is."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return value
