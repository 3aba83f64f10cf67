"""``GET /v2/me``: the caller's user, team (with its credits) and key."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from airflow_provider_apiframe.emulator.routes.common import ApiKey, Emulated

router = APIRouter()


@router.get("/v2/me")
async def me(key: ApiKey, emulated: Emulated) -> Response:
    """
    The caller's account.

    :param key: The caller's key.
    :param emulated: The emulator's services.
    """
    return JSONResponse(
        {
            "user": {"id": _uuid_for("user", key), "email": "emulator@apiframe.local", "role": "OWNER"},
            "team": {
                "id": _uuid_for("team", key),
                "name": "Emulator team",
                "credits": max(0, emulated.state.credits),
                "plan": "emulator",
                "customerId": None,
            },
            "apiKey": {"id": _uuid_for("key", key), "name": "emulator", "prefix": key[:8]},
        }
    )


def _uuid_for(kind: str, key: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"apiframe-emulator:{kind}:{key}"))
