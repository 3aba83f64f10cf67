"""
The API calls this provider makes, one builder per operation, each an :class:`ApiCall`.

Paths, bodies, headers and local validation live here, once, for both the sync and the async
transport; the exchange itself (sending rules, reading the answer) is :mod:`.exchange`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from airflow_provider_apiframe.core.catalog import (
    ACTIONS,
    GENERATE,
    IMAGE_MODELS,
    MODELS,
    ModelSpec,
    models_of,
)
from airflow_provider_apiframe.core.errors import ApiframeInvalidParamsError
from airflow_provider_apiframe.core.exchange import ApiCall, Files
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
from airflow_provider_apiframe.core.schema_check import shipped, word
from airflow_provider_apiframe.core.validation import Problems, validate_request

__all__ = [
    "ApiCall",
    "Files",
    "create_image_job",
    "create_job",
    "generate_gpt_image",
    "generate_image",
    "get_job",
    "get_me",
    "list_jobs",
    "scan_jobs",
    "upload",
]

_SNAKE = re.compile(r"[A-Z]")


def generate_image(model: str, /, **fields: Any) -> ApiCall[JobAccepted]:
    """
    Build ``POST /v2/images/generate`` for a model with typed parameters, validating every field.

    Fields left out (or ``None``) are not sent, so the API's defaults apply; errors name the fields
    as given here (``aspect_ratio``, not ``gptImageParams.aspect_ratio``). The body is then checked
    against the contract too, as every job's is.

    :param model: ``gpt-image-1.5`` or ``gpt-image-2`` (see
        :data:`~airflow_provider_apiframe.core.models.TYPED_REQUESTS`).
    :param fields: ``prompt``, ``webhook_url``, ``webhook_events``, ``idempotency_key`` and the
        model's parameters (``aspect_ratio``, ``quality``, ``background``, ...).
    """
    request = validate_request(TYPED_REQUESTS[model], {k: v for k, v in fields.items() if v is not None})
    spec = IMAGE_MODELS[model]
    shared = set(PromptedJobOptions.model_fields)
    params = request.model_dump(exclude=shared, exclude_none=True)
    body = _layout(spec, request.prompt, request.webhook_url, request.webhook_events, params)
    return _job_call(spec, body, request.idempotency_key, Problems(), flat=True)


def generate_gpt_image(**fields: Any) -> ApiCall[JobAccepted]:
    """
    Build ``POST /v2/images/generate`` for GPT Image 1.5; see :func:`generate_image`.

    :param fields: ``prompt``, ``webhook_url``, ``webhook_events``, ``idempotency_key`` and the
        ``gptImageParams`` (``aspect_ratio``, ``quality``, ``background``, ...).
    """
    return generate_image(GPT_IMAGE_MODEL, **fields)


def create_job(
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
    Build a job for any model of the API (image, video, music), or an action on a model's job.

    The model's parameters go under its ``<family>Params`` key; on an action route
    (``/v2/images/midjourney/action``, ``/v2/music/suno/action``) they are the body's own fields
    (``action``, ``index``, ``parentJobId``...) and ``model`` names the parent's model. The body is
    checked against the contract (:mod:`~airflow_provider_apiframe.core.schema_check`) before
    anything is sent, every problem named as given here (``model_params.aspect_ratio``,
    ``webhook_url``; an action's fields in snake case, ``parent_job_id``). ``None`` means "not
    set", for the arguments and for the parameters at the top of ``model_params``. GPT Image
    parameters also get their request models' conveniences (a single image for a list, a whole
    number written as text).

    :param model: Any model of :data:`~airflow_provider_apiframe.core.catalog.MODELS`; on an
        action route, ``midjourney`` or ``suno``.
    :param route: The route (e.g. ``/v2/videos/generate``); by default the model's own. A model
        on another route is refused.
    :param prompt: The prompt, for routes that take it at the top (the others carry it in their
        parameters).
    :param model_params: The model's parameters, e.g. ``{"aspect_ratio": "16:9"}``.
    :param webhook_url: Where the API POSTs job events.
    :param webhook_events: Which events to POST.
    :param idempotency_key: Makes retries re-attach to the same job instead of paying twice.
    """
    spec = _spec_of(model, route)
    problems = Problems()
    if not spec.top_level_prompt and prompt is not None:
        problems.add("prompt", f"{model} takes its prompt inside model_params, not as an argument")
        prompt = None
    shared: dict[str, Any] = {}
    for name, value in (("webhook_url", webhook_url), ("webhook_events", webhook_events)):
        shared[name] = value
        if value is not None:
            with problems.collect():
                shared[name] = getattr(validate_request(JobOptions, {name: value}), name)
    key: str | None = None
    if idempotency_key is not None:
        with problems.collect():
            key = validate_request(JobOptions, {"idempotency_key": idempotency_key}).idempotency_key
    params: dict[str, Any] = {}
    if model_params is not None and not isinstance(model_params, Mapping):
        problems.add("model_params", f"got {type(model_params).__name__}; allowed: a mapping of parameters")
    elif model_params:
        params = {name: value for name, value in model_params.items() if value is not None}
    if spec.params_needed and not params:
        problems.add("model_params", f"required for {model} (sent as {spec.params_key})")
    if spec.is_action and (action := params.get("action")) not in (choices := shipped().choices(spec.route)):
        # Without a known action there is no alternative to judge the other fields against.
        got = "missing" if action is None else f"got {action!r}"
        problems.add("action", f"{got}; allowed: {', '.join(repr(c) for c in choices)}")
        problems.raise_if_any()
    typed = TYPED_PARAMS.get(spec.params_key) if spec.params_key else None
    if typed is not None and isinstance(model_params, Mapping):
        with problems.collect(prefix="model_params."):
            params = validate_request(typed, params).model_dump(exclude_none=True)
    try:
        json.dumps(params)
    except (TypeError, ValueError) as exc:
        problems.add("model_params", f"must be JSON-serializable ({exc})")
    body = _layout(spec, prompt, shared["webhook_url"], shared["webhook_events"], params)
    return _job_call(spec, body, key, problems)


#: The former name of :func:`create_job`, kept for DAGs written against 0.x.
create_image_job = create_job


def _spec_of(model: Any, route: str | None) -> ModelSpec:
    """The catalogue entry of ``model`` on ``route``, or an error naming what the route takes."""
    if route is not None and route in ACTIONS:
        spec: ModelSpec | None = ACTIONS[route]
        allowed = [ACTIONS[route].model]
    else:
        spec = MODELS.get(model) if isinstance(model, str) else None
        route = route or (spec.route if spec else GENERATE)
        allowed = models_of(route)
    if spec is None or spec.route != route or spec.model != model:
        shown = ", ".join(repr(m) for m in allowed)
        raise ApiframeInvalidParamsError([("model", f"got {model!r}; allowed on {route}: {shown}")])
    return spec


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


def _layout(
    spec: ModelSpec, prompt: Any, webhook_url: Any, webhook_events: Any, params: dict[str, Any]
) -> dict[str, Any]:
    """Lay out a job as the API wants it: shared fields on top (unset ones left out), then its parameters."""
    if spec.is_action:  # an action's fields are the body's own; its parent names the model
        body: dict[str, Any] = dict(params)
    else:
        body = {"model": spec.model}
    if prompt is not None:
        body["prompt"] = prompt
    if webhook_url is not None:
        body["webhookUrl"] = webhook_url
    if webhook_events is not None:
        body["webhookEvents"] = webhook_events
    if spec.params_key is not None and (params or spec.params_required):
        body[spec.params_key] = params
    return body


def _job_call(
    spec: ModelSpec,
    body: dict[str, Any],
    idempotency_key: str | None,
    problems: Problems,
    *,
    flat: bool = False,
) -> ApiCall[JobAccepted]:
    """
    Check a laid-out job against the contract, then make its call; raise every problem found, if any.

    :param spec: The model's entry in the catalogue.
    :param body: The body to send.
    :param idempotency_key: The validated key, if any.
    :param problems: What the builder found already; the contract's findings on a field already
        named are left out (one problem per field, in the builder's words).
    :param flat: The model's parameters are arguments of their own (the typed operators), not
        ``model_params``.
    """

    def rename(key: str) -> str:
        if key == spec.params_key:
            return "" if flat else "model_params"
        return _SNAKE.sub(lambda m: f"_{m[0].lower()}", key)

    named = {field.split(".")[0] for field, _ in problems.found}
    for field, why in word(shipped().errors(spec.route, body), rename):
        if field.split(".")[0] not in named:
            problems.add(field, why)
    problems.raise_if_any()
    return ApiCall("POST", spec.route, JobAccepted, json=body, idempotency_key=idempotency_key)
