"""
``GET /v2/models``: the public model catalogue, priced as the emulator charges.

One entry per model of the contract's job routes (the snapshot's ``models``, or the document given
with ``--spec``); its modality is its routes' (``/v2/images/...`` is ``image``), its ``pricingMode``,
``costMin`` and ``costMax`` are the ledger's :func:`~airflow_provider_apiframe.emulator.state.ledger.pricing`.
No key is needed, as on the API.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from airflow_provider_apiframe.core import contract
from airflow_provider_apiframe.emulator.routes.common import Emulated, invalid
from airflow_provider_apiframe.emulator.state.ledger import pricing

MODALITIES = {"/v2/images/": "image", "/v2/videos/": "video", "/v2/music/": "music"}

router = APIRouter()


@router.get("/v2/models")
async def list_models(request: Request, emulated: Emulated) -> Response:
    """
    The catalogue, or the entries of one ``modality``.

    :param request: The request (its ``modality`` query parameter).
    :param emulated: The emulator's services.
    """
    modality = request.query_params.get("modality")
    if modality is not None and modality not in MODALITIES.values():
        expected = " | ".join(repr(m) for m in MODALITIES.values())
        return invalid(
            {"modality": [f"Invalid enum value. Expected {expected}, received {modality!r}"]},
            "Invalid query parameters",
        )
    entries = catalogue(emulated.validator.spec)
    return JSONResponse({"models": [e for e in entries if modality in (None, e["modality"])]})


def catalogue(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """
    Every model of the contract's job routes, as ``ModelCatalogEntry`` objects, in route order.

    :param spec: The contract (a snapshot, with ``models`` per route, or a full document).
    """
    entries: dict[str, dict[str, Any]] = {}
    for route, models in sorted(contract.route_models(spec).items()):
        modality = next((m for prefix, m in MODALITIES.items() if route.startswith(prefix)), None)
        if modality is None:
            continue
        for model in models:
            if model in entries:
                entries[model]["routes"].append(route)
                continue
            rule = pricing(model, modality)
            entries[model] = {
                "id": model,
                "label": model,
                "description": f"Emulated {modality} model.",
                "modality": modality,
                "pricingMode": rule.mode,
                "costMin": rule.cost_min,
                "costMax": rule.cost_max,
                "routes": [route],  # the emulator's own extra (the schema allows extra fields)
            }
    return list(entries.values())
