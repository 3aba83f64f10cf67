"""
The job routes: submitting, reading one job, listing them.

Submitting: ``POST /v2/images/...``, ``/v2/videos/...`` and ``/v2/music/generate``; the follow-up
actions (``midjourney.py``, ``suno.py``) end in :func:`accept` as well.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import QueryParams

from airflow_provider_apiframe.core.catalog import ROUTE_SCHEMAS
from airflow_provider_apiframe.emulator.routes.common import ApiKey, Emulated, error, invalid, read_json
from airflow_provider_apiframe.emulator.state import EmulatorState, InsufficientCredits, JobRecord, iso_time
from airflow_provider_apiframe.emulator.state.outputs import Output

#: Per-request job fate on submission (see :class:`OutcomeRule`), e.g. ``failed`` or ``never``.
OUTCOME_HEADER = "x-emulator-outcome"

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
_JOB_STATUSES = ("QUEUED", "PROCESSING", "COMPLETED", "FAILED", "CANCELLED")

router = APIRouter()


def _submit_route(route: str) -> Callable[..., Awaitable[Response]]:
    """The handler of one job-creating route."""

    async def submit(request: Request, key: ApiKey, emulated: Emulated) -> Response:
        body = await read_json(request)
        return accept(request, key, emulated, route, body, emulated.validator.validate(route, body))

    return submit


def accept(
    request: Request,
    key: ApiKey,
    emulated: Emulated,
    route: str,
    body: dict[str, Any],
    problems: dict[str, list[str]],
    *,
    output: Output | None = None,
    parent_id: str | None = None,
    conflict: str | None = None,
) -> Response:
    """
    Answer a job request once judged: ``400``, an idempotent replay, ``409``, ``402``, or a new job (``202``).

    :param request: The request (its ``Idempotency-Key`` and ``X-Emulator-Outcome`` headers).
    :param key: The caller's key.
    :param emulated: The emulator's services.
    :param route: The route.
    :param body: The request's body, kept as the job's ``input``.
    :param problems: Its problems by field (empty: valid).
    :param output: What the job makes, when the route decided (follow-up actions); else planned
        from the body's model.
    :param parent_id: The job a follow-up action acts on.
    :param conflict: Why the action is not available for its parent (``409``), if it is not.
    """
    state = emulated.state
    idempotency_key = request.headers.get("idempotency-key")
    if idempotency_key is not None and not 1 <= len(idempotency_key) <= 255:
        problems["Idempotency-Key"] = ["String must contain at most 255 character(s)"]
    if problems:
        return invalid(problems)
    if idempotency_key and (seen := state.replay(key, idempotency_key)) is not None:
        status = state.status(seen)[0]
        # JobAccepted has no CANCELLED: a cancelled job replays as FAILED (ended, uncharged).
        accepted = "FAILED" if status == "CANCELLED" else status
        return JSONResponse(
            {"jobId": seen.id, "status": accepted},
            status_code=202,
            headers={"Idempotent-Replayed": "true"},
        )
    if conflict is not None:
        return error(409, conflict)
    try:
        outcome = request.headers.get(OUTCOME_HEADER)
        job = state.create_job(key, route, body, outcome=outcome, output=output, parent_id=parent_id)
    except InsufficientCredits as exc:
        return JSONResponse(
            {
                "error": "Insufficient credits",
                "creditsRequired": exc.required,
                "creditsAvailable": exc.available,
            },
            status_code=402,
        )
    except ValueError as exc:  # an unknown X-Emulator-Outcome
        return error(400, str(exc))
    if idempotency_key:
        state.remember(key, idempotency_key, job)
    job.links = emulated.base_url(request)
    emulated.runner.schedule(job, job.links)
    return JSONResponse({"jobId": job.id, "status": "QUEUED"}, status_code=202)


for _route in ROUTE_SCHEMAS:
    router.add_api_route(_route, _submit_route(_route), methods=["POST"], status_code=202)


@router.get("/v2/jobs/{job_id}")
async def get_job(job_id: str, request: Request, key: ApiKey, emulated: Emulated) -> Response:
    """
    ``GET /v2/jobs/{id}``: one of the caller's jobs.

    :param job_id: The job's id.
    :param request: The request.
    :param key: The caller's key.
    :param emulated: The emulator's services.
    """
    if not _UUID.match(job_id):
        return error(400, "Invalid job id: expected a UUID.")
    job = emulated.state.jobs.get(job_id)
    if job is None or job.api_key != key:
        return error(404, "Job not found.")
    return JSONResponse(emulated.state.to_json(job, emulated.base_url(request)))


@router.get("/v2/jobs")
async def list_jobs(request: Request, key: ApiKey, emulated: Emulated) -> Response:
    """
    ``GET /v2/jobs``: the caller's jobs, newest first, a page at a time.

    :param request: The request.
    :param key: The caller's key.
    :param emulated: The emulator's services.
    """
    state, query = emulated.state, request.query_params
    problems, limit, start = _list_query(query, state)
    if problems:
        return invalid(problems, "Invalid query parameters")
    links, model = emulated.base_url(request), query.get("model")
    status, search = query.get("status"), query.get("search")
    jobs: list[dict[str, Any]] = []
    index = start
    while index > 0 and len(jobs) < limit + 1:
        index -= 1
        job = state.jobs[state.order[index]]
        if job.api_key != key or (model and job.model != model) or (search and job.id != search):
            continue
        shown = state.to_json(job, links)
        if status and shown["status"] != status:
            continue
        del shown["input"]
        jobs.append(shown)
    has_more = len(jobs) > limit
    jobs = jobs[:limit]
    page: dict[str, Any] = {
        "jobs": jobs,
        "nextCursor": _cursor(state.jobs[jobs[-1]["id"]]) if has_more and jobs else None,
        "hasMore": has_more,
    }
    if query.get("include_models") == "true":
        page["models"] = sorted({j.model for j in state.jobs.values() if j.api_key == key})
    return JSONResponse(page)


def _list_query(query: QueryParams, state: EmulatorState) -> tuple[dict[str, list[str]], int, int]:
    """The problems of a list query, its page size, and the position it starts before."""
    problems: dict[str, list[str]] = {}
    status, search = query.get("status"), query.get("search")
    if status is not None and status not in _JOB_STATUSES:
        expected = " | ".join(_JOB_STATUSES)
        problems["status"] = [f"Invalid enum value. Expected {expected}, received '{status}'"]
    limit = 20
    try:
        limit = int(query.get("limit", "20"))
        if not 1 <= limit <= 100:
            raise ValueError
    except ValueError:
        problems["limit"] = ["Number must be an integer from 1 to 100"]
    if query.get("scope", "user") not in ("user", "team"):
        problems["scope"] = ["Invalid enum value. Expected 'user' | 'team'"]
    if search is not None and not _UUID.match(search):
        problems["search"] = ["Invalid uuid"]
    start = len(state.order)
    if cursor := query.get("cursor"):
        position = _read_cursor(cursor, state)
        if position is None:
            problems["cursor"] = ["Invalid cursor"]
        else:
            start = position
    return problems, limit, start


def _cursor(job: JobRecord) -> str:
    return base64.urlsafe_b64encode(json.dumps([iso_time(job.created), job.id]).encode()).decode()


def _read_cursor(cursor: str, state: EmulatorState) -> int | None:
    """The position (in creation order) a cursor continues from, or None if it is not one of ours."""
    try:
        _, job_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError, binascii.Error):
        return None
    return state.position.get(job_id) if isinstance(job_id, str) else None
