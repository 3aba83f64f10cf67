"""
The emulator's HTTP surface as one ASGI app: the Apiframe v2 routes, result files, an admin API.

The routes live in ``routes/`` (one router per area), what they share in ``routes/common.py``,
the background life of jobs in ``runner.py``, and the outermost layer (request ids, the request
log, rate limits, injected faults) in ``faults.py``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp

from airflow_provider_apiframe.emulator.faults import FAULT_HEADER, FaultMiddleware
from airflow_provider_apiframe.emulator.routes import (
    account,
    admin,
    assets,
    files,
    jobs,
    loras,
    midjourney,
    models,
    suno,
)
from airflow_provider_apiframe.emulator.routes.common import Services, error
from airflow_provider_apiframe.emulator.routes.jobs import OUTCOME_HEADER
from airflow_provider_apiframe.emulator.runner import JobRunner
from airflow_provider_apiframe.emulator.state import EmulatorState
from airflow_provider_apiframe.emulator.validation import RequestValidator

__all__ = ["FAULT_HEADER", "OUTCOME_HEADER", "FaultMiddleware", "create_app"]


def create_app(state: EmulatorState) -> ASGIApp:
    """
    Build the emulator's ASGI app over ``state``.

    :param state: What the emulator knows; shared with whoever wants to inspect it.
    """
    runner = JobRunner(state)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if state.config.state_file:
            state.load(state.config.state_file)
            runner.restore()
        yield
        if state.config.state_file:
            state.save(state.config.state_file)
        await runner.aclose()

    app = FastAPI(
        title="Apiframe API emulator",
        version="2.0.0",
        docs_url="/_emulator/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.services = Services(state, RequestValidator(state.config.spec), runner)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    for area in (jobs, midjourney, suno, models, account, files, loras, assets, admin):
        app.include_router(area.router)
    return FaultMiddleware(app, state)


async def _http_error(_: Request, exc: Exception) -> Response:
    """Answer HTTP errors (unknown routes, a refused key ...) as the API does: ``{"error": ...}``."""
    assert isinstance(exc, StarletteHTTPException)
    return error(exc.status_code, str(exc.detail))
