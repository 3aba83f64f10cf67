"""One HTTP exchange with the API, independent of any HTTP library: what to send, how to read the answer."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from airflow_provider_apiframe.core.errors import ApiframeResponseError, error_from_response

T = TypeVar("T", bound=BaseModel)
#: Multipart files: ``{field: (filename, bytes, content type)}`` or ``[(field, (filename, ...)), ...]``.
Files = Mapping[str, tuple[str, bytes, str]] | Sequence[tuple[str, tuple[str, bytes, str]]]


@dataclasses.dataclass(frozen=True)
class ApiCall(Generic[T]):
    """
    One HTTP exchange with the API, independent of any HTTP library.

    :param method: ``GET``, ``POST`` or ``DELETE``.
    :param path: Path below the base URL, already escaped.
    :param response_model: The model a success body is parsed into.
    :param json: JSON body, for ``POST``.
    :param params: Query parameters.
    :param idempotency_key: Sent as ``Idempotency-Key``; makes a ``POST`` safe to retry.
    :param files: Multipart files, ``{field: (filename, bytes, content type)}``, or a sequence of
        ``(field, (filename, bytes, content type))`` when one field carries several files.
    :param form: Multipart text fields, sent with ``files``.
    """

    method: Literal["GET", "POST", "DELETE"]
    path: str
    response_model: type[T]
    json: Mapping[str, Any] | None = None
    params: Mapping[str, str] | None = None
    idempotency_key: str | None = None
    files: Files | None = dataclasses.field(default=None, repr=False)
    form: Mapping[str, str] | None = None

    @property
    def retry_safe(self) -> bool:
        """Whether sending this call twice cannot create (or charge) anything twice."""
        return self.method in ("GET", "DELETE") or self.idempotency_key is not None

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
            if status_code == 204 and not content.strip():  # No Content: an empty model
                return self.response_model.model_validate({})
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
