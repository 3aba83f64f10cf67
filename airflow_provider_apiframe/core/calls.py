"""
The API calls this provider makes, as plain data: what to send and how to read the answer.

A transport only has to put an :class:`ApiCall` on the wire and hand the status, headers and body
back to :meth:`ApiCall.read`; everything else (paths, bodies, headers, parsing, error mapping)
lives here, once, for both the sync and the async transport.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Generic, Literal, TypeVar
from urllib.parse import quote

from pydantic import BaseModel, ValidationError

from airflow_provider_apiframe.core.errors import ApiframeResponseError, error_from_response
from airflow_provider_apiframe.core.models import (
    GPT_IMAGE_MODEL,
    GptImageRequest,
    Job,
    JobAccepted,
    JobList,
    JobOptions,
    Me,
    validate_request,
)

T = TypeVar("T", bound=BaseModel)


@dataclasses.dataclass(frozen=True)
class ApiCall(Generic[T]):
    """
    One HTTP exchange with the API, independent of any HTTP library.

    :param method: ``GET`` or ``POST``.
    :param path: Path below the base URL, already escaped.
    :param response_model: The model a success body is parsed into.
    :param json: JSON body, for ``POST``.
    :param params: Query parameters.
    :param idempotency_key: Sent as ``Idempotency-Key``; makes a ``POST`` safe to retry.
    """

    method: Literal["GET", "POST"]
    path: str
    response_model: type[T]
    json: Mapping[str, Any] | None = None
    params: Mapping[str, str] | None = None
    idempotency_key: str | None = None

    @property
    def retry_safe(self) -> bool:
        """Whether sending this call twice cannot create (or charge) anything twice."""
        return self.method == "GET" or self.idempotency_key is not None

    @property
    def headers(self) -> dict[str, str]:
        """Headers specific to this call (the API key is the transport's business)."""
        return {"Idempotency-Key": self.idempotency_key} if self.idempotency_key else {}

    @property
    def label(self) -> str:
        """Short description for messages, e.g. ``GET /v2/jobs/<id>``."""
        return f"{self.method} {self.path}"

    def read(self, status_code: int, headers: Mapping[str, str], content: bytes) -> T:
        """
        Turn a response into the parsed model, or raise the matching :class:`ApiframeError`.

        :param status_code: HTTP status.
        :param headers: Response headers.
        :param content: Raw body.
        """
        if status_code >= 400:
            raise error_from_response(status_code, headers, content, what=self.label)
        try:
            return self.response_model.model_validate_json(content)
        except ValidationError as exc:
            request_id = {k.lower(): v for k, v in headers.items()}.get("x-request-id")
            first = exc.errors(include_url=False)[0]
            raise ApiframeResponseError(
                f"Apiframe {self.label} answered HTTP {status_code} with a body this provider cannot "
                f"read: {'.'.join(map(str, first['loc'])) or 'body'}: {first['msg']}",
                status_code=status_code,
                request_id=request_id,
            ) from None


def generate_gpt_image(**fields: Any) -> ApiCall[JobAccepted]:
    """
    Build ``POST /v2/images/generate`` for GPT Image 1.5, validating every field first.

    Fields left as ``None`` are not sent, so the API's defaults apply.

    :param fields: The fields of :class:`~airflow_provider_apiframe.core.models.GptImageRequest`:
        ``prompt``, ``webhook_url``, ``webhook_events``, ``idempotency_key`` and the
        ``gptImageParams`` (``aspect_ratio``, ``quality``, ``background``, ...).
    """
    request = validate_request(GptImageRequest, fields)
    return _job_call("/v2/images/generate", GPT_IMAGE_MODEL, "gptImageParams", request)


def get_job(job_id: str) -> ApiCall[Job]:
    """
    Build ``GET /v2/jobs/{id}``.

    :param job_id: The job's id (a UUID).
    """
    return ApiCall("GET", f"/v2/jobs/{quote(str(job_id), safe='')}", Job)


def list_jobs(
    *,
    status: str | None = None,
    model: str | None = None,
    limit: int = 20,
    cursor: str | None = None,
    scope: str | None = None,
    search: str | None = None,
) -> ApiCall[JobList]:
    """
    Build ``GET /v2/jobs``, newest first.

    :param status: Only jobs in this status.
    :param model: Only jobs of this model.
    :param limit: Page size, 1..100.
    :param cursor: ``nextCursor`` of the previous page.
    :param scope: ``user`` (default) or, for team admins, ``team``.
    :param search: A job id (UUID) to look for.
    """
    query = {
        "status": status,
        "model": model,
        "limit": str(limit),
        "cursor": cursor,
        "scope": scope,
        "search": search,
    }
    return ApiCall("GET", "/v2/jobs", JobList, params={k: v for k, v in query.items() if v is not None})


def get_me() -> ApiCall[Me]:
    """Build ``GET /v2/me``: the caller, its team and the team's credits."""
    return ApiCall("GET", "/v2/me", Me)


def _job_call(path: str, model: str, params_key: str, request: JobOptions) -> ApiCall[JobAccepted]:
    """Lay out a validated job request as the API wants it: shared fields on top, the rest in a block."""
    shared = set(JobOptions.model_fields)
    body: dict[str, Any] = {"prompt": request.prompt, "model": model}
    if request.webhook_url is not None:
        body["webhookUrl"] = request.webhook_url
    if request.webhook_events is not None:
        body["webhookEvents"] = list(request.webhook_events)
    params = request.model_dump(exclude=shared, exclude_none=True)
    if params:
        body[params_key] = params
    return ApiCall("POST", path, JobAccepted, json=body, idempotency_key=request.idempotency_key)
