"""
What the follow-up action routes (``midjourney.py``, ``suno.py``) share: one router of one handler.

The body is judged against the route's contract; its ``parentJobId`` must name a job of the
caller made by the route's model (else ``400``), completed and allowing the action (else
``409``); then the router's plan says what the action makes, and :func:`~.jobs.accept` answers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from airflow_provider_apiframe.emulator.routes.common import ApiKey, Emulated, read_json
from airflow_provider_apiframe.emulator.routes.jobs import accept
from airflow_provider_apiframe.emulator.state import JobRecord
from airflow_provider_apiframe.emulator.state.outputs import Output

#: Why an action is not available for a completed parent (the ``409``'s message), or None when it is.
Unavailable = Callable[[JobRecord, str], str | None]
#: What an available action makes (parent, body, problems by field, base URL of result links), or
#: None once it has added a problem.
Plan = Callable[[JobRecord, dict[str, Any], dict[str, list[str]], str], Output | None]
#: The handler's parameters, as the emulator's docs describe them.
_PARAMS = (
    ":param request: The request.\n:param key: The caller's key.\n:param emulated: The emulator's services."
)


def action_router(route: str, model: str, unavailable: Unavailable, plan: Plan, summary: str) -> APIRouter:
    """
    The router of ``POST route``: an action on a parent job of ``model``.

    :param route: The action route.
    :param model: The model whose jobs it acts on (``midjourney``, ``suno``); its route is named
        ``<model>_action``.
    :param unavailable: Why an action is not available for a completed parent, if it is not.
    :param plan: What an available action makes.
    :param summary: What the route does, first line of its description in the emulator's docs.
    """

    async def act(request: Request, key: ApiKey, emulated: Emulated) -> Response:
        """Judge an action on a parent job and answer it (its parameters: ``_PARAMS``)."""
        body = await read_json(request)
        problems = emulated.validator.validate(route, body)
        output: Output | None = None
        conflict: str | None = None
        if not problems:
            parent = emulated.state.jobs.get(body["parentJobId"])
            if parent is None or parent.api_key != key or parent.model != model:
                problems["parentJobId"] = [f"No {model.title()} job of yours has this id"]
            elif (status := emulated.state.status(parent)[0]) != "COMPLETED":
                conflict = f"The {body['action']} action needs a completed job; job {parent.id} is {status}."
            elif (conflict := unavailable(parent, body["action"])) is None:
                output = plan(parent, body, problems, emulated.base_url(request))
        parent_id = body.get("parentJobId") if output else None
        return accept(
            request,
            key,
            emulated,
            route,
            body,
            problems,
            output=output,
            parent_id=parent_id,
            conflict=conflict,
        )

    router = APIRouter()
    description = f"{summary}\n\n{_PARAMS}"
    router.add_api_route(
        route, act, methods=["POST"], status_code=202, name=f"{model}_action", description=description
    )
    return router
