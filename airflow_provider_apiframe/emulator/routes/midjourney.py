"""
``POST /v2/images/midjourney/action``: a follow-up action on a completed Midjourney job.

The body is judged against the contract's ``MidjourneyActionRequest`` (the alternative its
``action`` names); the parent must be a completed ``midjourney`` job of the caller. The new job is
made like a generation of the parent's prompt and parameters (the action's prompt, for an inpaint,
when given) and then runs, is charged, replayed and faulted as every job is.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from airflow_provider_apiframe.core.catalog import IMAGE_MODELS
from airflow_provider_apiframe.emulator.routes.common import ApiKey, Emulated, error
from airflow_provider_apiframe.emulator.routes.jobs import accept

ROUTE = "/v2/images/midjourney/action"
_MODEL = "midjourney"

router = APIRouter()


@router.post(ROUTE, status_code=202)
async def midjourney_action(request: Request, key: ApiKey, emulated: Emulated) -> Response:
    """
    Start an upsample, variation, inpaint, outpaint or pan of a Midjourney job.

    :param request: The request.
    :param key: The caller's key.
    :param emulated: The emulator's services.
    """
    try:
        body = json.loads(await request.body())
    except ValueError:
        return error(400, "Request body is not valid JSON.")
    problems = emulated.validator.validate(ROUTE, body)
    job_body: dict[str, Any] | None = None
    if not problems:
        parent = emulated.state.jobs.get(body["parentJobId"])
        if parent is None or parent.api_key != key or parent.model != _MODEL:
            problems["parentJobId"] = ["No Midjourney job of yours has this id"]
        elif emulated.state.status(parent)[0] != "COMPLETED":
            problems["parentJobId"] = ["The parent job has not completed"]
        else:
            params_key = IMAGE_MODELS[_MODEL].params_key
            job_body = {
                "model": _MODEL,
                "prompt": body.get("prompt") or parent.prompt,
                params_key: parent.body.get(params_key) or {},
            }
    return accept(request, key, emulated, ROUTE, body, problems, job_body=job_body)
