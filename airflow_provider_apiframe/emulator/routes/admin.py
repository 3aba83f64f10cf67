"""
``/_emulator/...``: the admin API tests and benchmarks use (no key needed).

Rules (faults, outcomes), the hold, the balance, and read-only views of the state, jobs,
requests and webhooks. Their JSON shapes are read by the deployment tests over HTTP.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from airflow_provider_apiframe.emulator.routes.common import Emulated
from airflow_provider_apiframe.emulator.state import FaultRule, OutcomeRule

router = APIRouter(prefix="/_emulator")


@router.get("/state")
async def admin_state(emulated: Emulated) -> Response:
    """
    The summary: credits, charges, counts.

    :param emulated: The emulator's services.
    """
    return JSONResponse(emulated.state.summary())


def _adds(kind: str, rule: type[FaultRule | OutcomeRule]) -> Callable[..., Awaitable[Response]]:
    """The route adding a rule of one ``kind``: the body holds the rule's fields."""

    async def add(request: Request, emulated: Emulated) -> Response:
        rules: list[Any] = getattr(emulated.state, kind)
        rules.append(rule(**await request.json()))
        return JSONResponse({kind: len(rules)}, status_code=201)

    return add


# POST /_emulator/faults adds a FaultRule, POST /_emulator/outcomes an OutcomeRule.
for _kind, _rule in (("faults", FaultRule), ("outcomes", OutcomeRule)):
    router.add_api_route(f"/{_kind}", _adds(_kind, _rule), methods=["POST"], status_code=201)


@router.delete("/rules")
async def admin_clear(emulated: Emulated) -> Response:
    """
    Clear every fault and outcome rule.

    :param emulated: The emulator's services.
    """
    emulated.state.faults.clear()
    emulated.state.outcomes.clear()
    return JSONResponse({})


@router.post("/hold")
async def admin_hold(emulated: Emulated) -> Response:
    """
    Keep new jobs QUEUED until released.

    :param emulated: The emulator's services.
    """
    emulated.state.hold()
    return JSONResponse({"holding": True})


@router.post("/release")
async def admin_release(emulated: Emulated) -> Response:
    """
    Start the held jobs now; they end (charge, terminal webhook) from now on.

    :param emulated: The emulator's services.
    """
    released = emulated.state.release()
    emulated.runner.resume(released)
    return JSONResponse({"released": len(released)})


@router.put("/credits")
async def admin_credits(request: Request, emulated: Emulated) -> Response:
    """
    Set the balance (body ``{"credits": n}``).

    :param request: The request.
    :param emulated: The emulator's services.
    """
    emulated.state.credits = int((await request.json())["credits"])
    return JSONResponse({"credits": emulated.state.credits})


@router.get("/jobs")
async def admin_jobs(emulated: Emulated) -> Response:
    """
    Every job, oldest first, with whether it was charged and its idempotency keys.

    :param emulated: The emulator's services.
    """
    return JSONResponse(emulated.state.describe_jobs())


@router.get("/requests")
async def admin_requests(emulated: Emulated) -> Response:
    """
    The request log: ``[method, path, status]`` each.

    :param emulated: The emulator's services.
    """
    return JSONResponse([list(request) for request in emulated.state.requests])


@router.get("/webhooks")
async def admin_webhooks(emulated: Emulated) -> Response:
    """
    The webhook deliveries made.

    :param emulated: The emulator's services.
    """
    return JSONResponse(list(emulated.state.webhooks))
