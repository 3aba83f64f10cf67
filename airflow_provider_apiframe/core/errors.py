"""
One exception hierarchy for everything that can go wrong talking to Apiframe.

Every error raised by this package is an :class:`ApiframeError`. HTTP failures are mapped from the
status code and the API's JSON body by :func:`error_from_response`; each message carries the API's
own text and, when the API sent one, its ``x-request-id``. No message ever contains the API key:
errors are built from response bodies and request paths only, never from request headers.
"""

from __future__ import annotations

import email.utils
import json
import math
from collections.abc import Mapping
from typing import Any, ClassVar

from airflow_provider_apiframe.core import clock


class ApiframeError(Exception):
    """
    Base class of every error raised by this package.

    :param message: What went wrong, in words a DAG author can act on.
    :param status_code: The HTTP status, when the error came from a response.
    :param request_id: The API's ``x-request-id``, when it sent one.
    """

    #: Whether a retry of the same call can succeed (see :mod:`~airflow_provider_apiframe.core.retry`).
    transient: ClassVar[bool] = False

    def __init__(self, message: str, *, status_code: int | None = None, request_id: str | None = None):
        self.message = message
        self.status_code = status_code
        self.request_id = request_id
        super().__init__(message if request_id is None else f"{message} [request id {request_id}]")


# --- raised before any HTTP call ------------------------------------------------------------------


class ApiframeInvalidParamsError(ApiframeError, ValueError):
    """
    A parameter failed validation before anything was sent; nothing was charged.

    :param problems: One ``(field, explanation)`` pair per invalid field.
    """

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        lines = "\n".join(f"  - {field}: {why}" for field, why in problems)
        super().__init__(f"Invalid Apiframe parameters (nothing was sent):\n{lines}")


class ApiframeConfigError(ApiframeError, ValueError):
    """The Airflow connection (or client configuration) is unusable."""


# --- HTTP statuses ---------------------------------------------------------------------------------


class ApiframeHTTPError(ApiframeError):
    """An error response from the API; ``body`` holds its parsed JSON (or ``None``)."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        request_id: str | None = None,
        body: Any = None,
    ):
        self.body = body
        super().__init__(message, status_code=status_code, request_id=request_id)


class ApiframeBadRequestError(ApiframeHTTPError):
    """400: the API rejected the request; ``details`` maps JSON paths to the API's messages."""

    @property
    def details(self) -> dict[str, list[str]]:
        """Per-field validation messages keyed by JSON path (empty when the API sent none)."""
        details = self.body.get("details") if isinstance(self.body, dict) else None
        if not isinstance(details, dict):
            return {}
        return {str(k): [str(m) for m in v] if isinstance(v, list) else [str(v)] for k, v in details.items()}


class ApiframeAuthenticationError(ApiframeHTTPError):
    """401: the API key is missing or invalid."""


class ApiframeInsufficientCreditsError(ApiframeHTTPError):
    """402: the team has too few credits for this job. Nothing was charged."""

    @property
    def credits_required(self) -> int | None:
        """Credits the job needs, as the API reported them."""
        return _int_field(self.body, "creditsRequired")

    @property
    def credits_available(self) -> int | None:
        """Credits the team has, as the API reported them."""
        return _int_field(self.body, "creditsAvailable")


class ApiframePermissionError(ApiframeHTTPError):
    """403: the key is inactive or lacks permission."""


class ApiframeNotFoundError(ApiframeHTTPError):
    """404: no such job (or it belongs to another user), or a purged result."""


class ApiframeConflictError(ApiframeHTTPError):
    """409: the Idempotency-Key was already used with a different request body."""


class ApiframeRateLimitError(ApiframeHTTPError):
    """429: rate limited; ``retry_after`` is the API's ``Retry-After`` in seconds, if sent."""

    transient = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any):
        self.retry_after = retry_after
        super().__init__(message, **kwargs)


class ApiframeServerError(ApiframeHTTPError):
    """5xx: an outage upstream of the API or in its queue."""

    transient = True


# --- no usable response ------------------------------------------------------------------------------


class ApiframeTransportError(ApiframeError):
    """The request did not get a response: connection refused or reset, DNS failure, timeout."""

    transient = True


class ApiframeResponseError(ApiframeError):
    """A success status whose body is not what the contract promises (e.g. malformed JSON)."""

    transient = True


# --- job outcomes ----------------------------------------------------------------------------------


class ApiframeJobError(ApiframeError):
    """
    A job ended without a usable result (FAILED, CANCELLED, unknown status or result shape).

    :param job_id: The job.
    """

    def __init__(self, message: str, *, job_id: str):
        self.job_id = job_id
        super().__init__(message)


class ApiframeJobTimeoutError(ApiframeJobError):
    """The job did not finish before the deadline. It may still finish at Apiframe."""


class ApiframeJobExpiredError(ApiframeJobError):
    """A job paid for earlier can no longer give its result (files purged, or the job unknown)."""


_STATUS_ERRORS: Mapping[int, type[ApiframeHTTPError]] = {
    400: ApiframeBadRequestError,
    401: ApiframeAuthenticationError,
    402: ApiframeInsufficientCreditsError,
    403: ApiframePermissionError,
    404: ApiframeNotFoundError,
    409: ApiframeConflictError,
    429: ApiframeRateLimitError,
}


def error_from_response(
    status_code: int, headers: Mapping[str, str], content: bytes, *, what: str
) -> ApiframeHTTPError:
    """
    Map an error response to the matching :class:`ApiframeHTTPError`.

    :param status_code: The HTTP status (>= 400).
    :param headers: Response headers; names are matched case-insensitively.
    :param content: The raw response body.
    :param what: The call that failed, e.g. ``"GET /v2/jobs/<id>"``, for the message.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    body = _json_or_none(content)
    api_text = body.get("error") if isinstance(body, dict) else None
    if not isinstance(api_text, str) or not api_text:
        api_text = content[:200].decode("utf-8", "replace").strip() or "(empty body)"
    message = f"Apiframe {what} failed with HTTP {status_code}: {api_text}"
    kwargs: dict[str, Any] = {
        "status_code": status_code,
        "request_id": lower.get("x-request-id"),
        "body": body,
    }

    cls = _STATUS_ERRORS.get(status_code)
    if cls is None:
        cls = ApiframeServerError if status_code >= 500 else ApiframeHTTPError
    if cls is ApiframeBadRequestError:
        details = ApiframeBadRequestError(message, **kwargs).details
        if details:
            message += "".join(f"\n  - {path}: {'; '.join(msgs)}" for path, msgs in details.items())
    elif cls is ApiframeInsufficientCreditsError:
        required, available = _int_field(body, "creditsRequired"), _int_field(body, "creditsAvailable")
        if required is not None or available is not None:
            message += f" (credits required: {required}, available: {available})"
    elif cls is ApiframeRateLimitError:
        retry_after = _retry_after_seconds(lower.get("retry-after"))
        if retry_after is not None:
            message += f" (Retry-After: {retry_after:g} s)"
        return ApiframeRateLimitError(message, retry_after=retry_after, **kwargs)
    return cls(message, **kwargs)


def _json_or_none(content: bytes) -> Any:
    try:
        return json.loads(content) if content else None
    except ValueError:
        return None


def _int_field(body: Any, key: str) -> int | None:
    value = body.get(key) if isinstance(body, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _retry_after_seconds(value: str | None) -> float | None:
    """Read ``Retry-After`` in either of its forms (seconds, or an HTTP date) as seconds from now."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - clock.now()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), 24 * 3600.0) if math.isfinite(seconds) else None
