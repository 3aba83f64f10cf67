"""
The API calls this provider makes, as plain data: what to send and how to read the answer.

A transport only has to put an :class:`ApiCall` on the wire and hand the status, headers and body
back to :meth:`ApiCall.read`; everything else (paths, bodies, headers, parsing, error mapping)
lives here, once, for both the sync and the async transport.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any, Generic, Literal, TypeVar
from urllib.parse import quote

from pydantic import BaseModel, ValidationError

from airflow_provider_apiframe.core.catalog import GENERATE, IMAGE_MODELS, ModelSpec, models_of
from airflow_provider_apiframe.core.errors import (
    ApiframeInvalidParamsError,
    ApiframeResponseError,
    error_from_response,
)
from airflow_provider_apiframe.core.models import (
    GPT_IMAGE_MODEL,
    TYPED_PARAMS,
    TYPED_REQUESTS,
    Job,
    JobAccepted,
    JobList,
    JobOptions,
    JobPage,
    Me,
    PromptedJobOptions,
    Upload,
)
from airflow_provider_apiframe.core.validation import Problems, validate_request

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
    :param files: Multipart files, ``{field: (filename, bytes, content type)}``.
    """

    method: Literal["GET", "POST"]
    path: str
    response_model: type[T]
    json: Mapping[str, Any] | None = None
    params: Mapping[str, str] | None = None
    idempotency_key: str | None = None
    files: Mapping[str, tuple[str, bytes, str]] | None = dataclasses.field(default=None, repr=False)

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


def generate_image(model: str, /, **fields: Any) -> ApiCall[JobAccepted]:
    """
    Build ``POST /v2/images/generate`` for a model with typed parameters, validating every field.

    Fields left out (or ``None``) are not sent, so the API's defaults apply; errors name the fields
    as given here (``aspect_ratio``, not ``gptImageParams.aspect_ratio``).

    :param model: ``gpt-image-1.5`` or ``gpt-image-2`` (see
        :data:`~airflow_provider_apiframe.core.models.TYPED_REQUESTS`).
    :param fields: ``prompt``, ``webhook_url``, ``webhook_events``, ``idempotency_key`` and the
        model's parameters (``aspect_ratio``, ``quality``, ``background``, ...).
    """
    request = validate_request(TYPED_REQUESTS[model], {k: v for k, v in fields.items() if v is not None})
    spec = IMAGE_MODELS[model]
    shared = set(PromptedJobOptions.model_fields)
    return _job_call(spec, request, request.model_dump(exclude=shared, exclude_none=True))


def generate_gpt_image(**fields: Any) -> ApiCall[JobAccepted]:
    """
    Build ``POST /v2/images/generate`` for GPT Image 1.5; see :func:`generate_image`.

    :param fields: ``prompt``, ``webhook_url``, ``webhook_events``, ``idempotency_key`` and the
        ``gptImageParams`` (``aspect_ratio``, ``quality``, ``background``, ...).
    """
    return generate_image(GPT_IMAGE_MODEL, **fields)


def create_image_job(
    model: str,
    *,
    route: str | None = None,
    prompt: Any = None,
    model_params: Any = None,
    webhook_url: Any = None,
    webhook_events: Any = None,
    idempotency_key: Any = None,
) -> ApiCall[JobAccepted]:
    """
    Build a job for any image model of the API, on the route that model belongs to.

    The model's parameters go under its ``<family>Params`` key. Families this provider types
    (GPT Image) are validated field by field; the others only for shape, and the API's ``400``
    names any field it refuses.

    :param model: Any model of :data:`~airflow_provider_apiframe.core.catalog.IMAGE_MODELS`.
    :param route: The route the caller expects (e.g. ``/v2/images/upscale``); checked against the model's.
    :param prompt: The prompt, for generation routes (the others carry it in their parameters).
    :param model_params: The model's parameters, e.g. ``{"aspect_ratio": "16:9"}``.
    :param webhook_url: Where the API POSTs job events.
    :param webhook_events: Which events to POST.
    :param idempotency_key: Makes retries re-attach to the same job instead of paying twice.
    """
    spec = IMAGE_MODELS.get(model) if isinstance(model, str) else None
    expected = route or (spec.route if spec else GENERATE)
    if spec is None or spec.route != expected:
        allowed = ", ".join(repr(m) for m in models_of(expected))
        raise ApiframeInvalidParamsError([("model", f"got {model!r}; allowed on {expected}: {allowed}")])
    problems = Problems()
    options: dict[str, Any] = {
        "webhook_url": webhook_url,
        "webhook_events": webhook_events,
        "idempotency_key": idempotency_key,
    }
    if spec.top_level_prompt:
        options["prompt"] = prompt
    elif prompt is not None:
        problems.add("prompt", f"{model} takes its prompt inside model_params, not as an argument")
    params: dict[str, Any] = {}
    if model_params is not None and not isinstance(model_params, Mapping):
        problems.add("model_params", f"got {type(model_params).__name__}; allowed: a mapping of parameters")
    elif model_params:
        params = dict(model_params)
    if spec.params_required and not params:
        problems.add("model_params", f"required for {model} (sent as {spec.params_key})")
    request: JobOptions | None = None
    with problems.collect():
        shared = {k: v for k, v in options.items() if v is not None or k == "prompt"}
        request = validate_request(PromptedJobOptions if spec.top_level_prompt else JobOptions, shared)
    if (typed := TYPED_PARAMS.get(spec.params_key)) is not None and isinstance(model_params, Mapping):
        with problems.collect(prefix="model_params."):
            params = validate_request(typed, params).model_dump(exclude_none=True)
    try:
        json.dumps(params)
    except (TypeError, ValueError) as exc:
        problems.add("model_params", f"must be JSON-serializable ({exc})")
    if problems or request is None:
        raise ApiframeInvalidParamsError(problems.found)
    return _job_call(spec, request, params)


def upload(filename: str, data: bytes, content_type: str) -> ApiCall[Upload]:
    """
    Build ``POST /v2/uploads``: a file becomes a short-lived URL usable as an input image.

    :param filename: The file's name (informative only; the API sniffs the type from the bytes).
    :param data: The file's bytes (at most 25 MB for images).
    :param content_type: Its content type.
    """
    return ApiCall("POST", "/v2/uploads", Upload, files={"file": (filename, data, content_type)})


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


def scan_jobs(*, cursor: str | None = None) -> ApiCall[JobPage]:
    """
    Build ``GET /v2/jobs`` for the largest page (100), its jobs left as read: for scanning statuses.

    :param cursor: ``nextCursor`` of the previous page.
    """
    return ApiCall("GET", "/v2/jobs", JobPage, params=list_jobs(limit=100, cursor=cursor).params)


def get_me() -> ApiCall[Me]:
    """Build ``GET /v2/me``: the caller, its team and the team's credits."""
    return ApiCall("GET", "/v2/me", Me)


def _job_call(spec: ModelSpec, request: JobOptions, params: dict[str, Any]) -> ApiCall[JobAccepted]:
    """Lay out a validated job as the API wants it: shared fields on top, parameters in their block."""
    body: dict[str, Any] = {"model": spec.model}
    if isinstance(request, PromptedJobOptions):
        body["prompt"] = request.prompt
    if request.webhook_url is not None:
        body["webhookUrl"] = request.webhook_url
    if request.webhook_events is not None:
        body["webhookEvents"] = list(request.webhook_events)
    if params or spec.params_required:
        body[spec.params_key] = params
    return ApiCall("POST", spec.route, JobAccepted, json=body, idempotency_key=request.idempotency_key)
