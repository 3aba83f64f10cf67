"""The asset routes: ``POST /v2/assets/create`` registers a URL with the provider; ``GET`` reads it."""

from __future__ import annotations

import time
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from rfc3986_validator import validate_rfc3986

from airflow_provider_apiframe.emulator.routes.common import ApiKey, Emulated, error, invalid, read_json
from airflow_provider_apiframe.emulator.state import EmulatorState, iso_time

_TYPES = ("image", "video", "audio")

router = APIRouter()


def assets_of(state: EmulatorState) -> dict[str, dict[str, Any]]:
    """
    The registered assets by id, with their owner's key under ``_key`` (made on first use).

    :param state: The emulator's state.
    """
    found: dict[str, dict[str, Any]] | None = getattr(state, "assets", None)
    if found is None:
        found = {}
        state.assets = found  # type: ignore[attr-defined]
    return found


@router.post("/v2/assets/create", status_code=201)
async def create_asset(request: Request, key: ApiKey, emulated: Emulated) -> Response:
    """
    Register ``{url, type}`` and answer its ``assetId``.

    :param request: The request.
    :param key: The caller's key.
    :param emulated: The emulator's services.
    """
    body = await read_json(request)
    if not isinstance(body, dict):
        return invalid({"body": ["Expected object"]})
    problems: dict[str, list[str]] = {}
    url, kind = body.get("url"), body.get("type")
    if url is None:
        problems["url"] = ["Required"]
    elif not isinstance(url, str) or not validate_rfc3986(url, rule="URI"):
        problems["url"] = ["Invalid url"]
    if kind is None:
        problems["type"] = ["Required"]
    elif kind not in _TYPES:
        problems["type"] = [f"Invalid enum value. Expected 'image' | 'video' | 'audio', received {kind!r}"]
    if problems:
        return invalid(problems)
    asset_id = f"asset-{uuid.uuid4().hex[:20]}"
    assets_of(emulated.state)[asset_id] = {
        "_key": key,
        "id": asset_id,
        "url": url,
        "type": kind,
        "status": "Active",
        "createdAt": iso_time(time.time()),
    }
    return JSONResponse({"assetId": asset_id}, status_code=201)


@router.get("/v2/assets/{asset_id}")
async def get_asset(asset_id: str, key: ApiKey, emulated: Emulated) -> Response:
    """
    One of the caller's assets, as the provider shows it.

    :param asset_id: Its id.
    :param key: The caller's key.
    :param emulated: The emulator's services.
    """
    asset = assets_of(emulated.state).get(asset_id)
    if asset is None or asset["_key"] != key:
        return error(404, "Asset not found.")
    return JSONResponse({k: v for k, v in asset.items() if k != "_key"})
