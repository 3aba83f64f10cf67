"""What the routers share: the emulator's services, the API key dependency, the JSON body, error answers."""

from __future__ import annotations

import dataclasses
import json
from typing import Annotated, Any, cast

from fastapi import Depends, HTTPException, Request
from fastapi.responses import JSONResponse

from airflow_provider_apiframe.emulator.runner import JobRunner
from airflow_provider_apiframe.emulator.state import EmulatorState
from airflow_provider_apiframe.emulator.validation import RequestValidator


@dataclasses.dataclass
class Services:
    """
    What the routes work with, kept on the app (``app.state.services``).

    :param state: What the emulator knows.
    :param validator: Validates job requests against the contract.
    :param runner: Runs accepted jobs.
    """

    state: EmulatorState
    validator: RequestValidator
    runner: JobRunner

    def base_url(self, request: Request) -> str:
        """
        The base URL of result links: the configured public URL, else the one the request came in on.

        :param request: The request.
        """
        return self.state.config.public_url or str(request.base_url).rstrip("/")


async def services(request: Request) -> Services:
    """
    The app's services (a dependency).

    :param request: The request.
    """
    return cast("Services", request.app.state.services)


async def api_key(request: Request, found: Annotated[Services, Depends(services)]) -> str:
    """
    The request's API key, once checked: ``401`` when missing or unknown, ``403`` when inactive.

    :param request: The request.
    :param found: The app's services.
    """
    key = request.headers.get("x-api-key")
    if not key:
        raise HTTPException(401, "Missing API key: send it in the X-API-Key header.")
    if key in found.state.config.inactive_keys:
        raise HTTPException(403, "This API key is inactive.")
    if key not in found.state.config.api_keys:
        raise HTTPException(401, "Invalid API key.")
    return key


#: A route's services, and its caller's checked API key.
Emulated = Annotated[Services, Depends(services)]
ApiKey = Annotated[str, Depends(api_key)]


async def read_json(request: Request) -> Any:
    """
    The request's JSON body; a ``400`` when it is not JSON.

    :param request: The request.
    """
    try:
        return json.loads(await request.body())
    except ValueError:
        raise HTTPException(400, "Request body is not valid JSON.") from None


def error(status: int, message: str) -> JSONResponse:
    """
    An error answer as the API gives it: ``{"error": message}``.

    :param status: The status code.
    :param message: The message.
    """
    return JSONResponse({"error": message}, status_code=status)


def invalid(details: dict[str, Any], message: str = "Validation failed") -> JSONResponse:
    """
    A ``400`` naming the problems of each field.

    :param details: Field -> its problems.
    :param message: The error's summary.
    """
    return JSONResponse({"error": message, "details": details}, status_code=400)


def invalid_field(field: str, message: str) -> JSONResponse:
    """
    A ``400`` for one field's problem.

    :param field: The field.
    :param message: Its problem.
    """
    return invalid({field: [message]})
