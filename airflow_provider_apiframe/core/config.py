"""How to reach the API: base URL, key, timeouts, retries. Built from an Airflow connection by the hook."""

from __future__ import annotations

import dataclasses
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from airflow_provider_apiframe.core.retry import OnRetry, RetryPolicy
from airflow_provider_apiframe.core.validation import check_api_key, check_base_url, check_extras

DEFAULT_BASE_URL = "https://api.apiframe.ai"


@dataclasses.dataclass(frozen=True)
class ClientConfig:
    """
    Everything a transport needs to talk to the API.

    :param api_key: The ``afk_...`` key. Kept out of ``repr`` so it cannot leak into logs.
    :param base_url: Scheme, host and port, without a trailing slash.
    :param timeout: Seconds allowed for one HTTP request.
    :param retry: The retry policy of every call.
    :param verify_ssl: Verify TLS certificates (turning this off is for local test setups only).
    :param on_retry: Told of every retry the transport makes, whatever the policy (the metrics).
    """

    api_key: str = dataclasses.field(repr=False)
    base_url: str = DEFAULT_BASE_URL
    timeout: float = 30.0
    retry: RetryPolicy = dataclasses.field(default_factory=RetryPolicy)
    verify_ssl: bool = True
    on_retry: OnRetry | None = dataclasses.field(default=None, repr=False, compare=False)


class ConnectionExtras(BaseModel):
    """The connection's ``extra`` fields (all optional)."""

    model_config = ConfigDict(extra="ignore")

    timeout: float = Field(
        default=30.0,
        gt=0,
        le=600,
        description="Seconds allowed for one HTTP request (not for the job to finish).",
    )
    max_retries: int = Field(
        default=4,
        ge=0,
        le=20,
        description="Retries of a call after a 429, a 5xx or a dropped connection; a retry never pays twice.",
    )
    verify_ssl: bool = Field(
        default=True,
        description="Check the API server's TLS certificate; turn off only for a local test server.",
    )


def client_config(
    *, api_key: str | None, host: str | None, port: int | None = None, extras: dict[str, Any] | None = None
) -> ClientConfig:
    """
    Build a :class:`ClientConfig` from connection fields, with errors that name the bad field.

    :param api_key: The connection's password.
    :param host: Empty for the public API; a full URL (``http://127.0.0.1:8080``) or a bare host name.
    :param port: Port for a bare host name.
    :param extras: The connection's extra fields: ``timeout``, ``max_retries``, ``verify_ssl``
        (each also accepted with the ``extra__apiframe__`` prefix older UIs write).
    """
    api_key = check_api_key(api_key)
    prefix = "extra__apiframe__"
    given = {k: v for k, v in (extras or {}).items() if v not in (None, "")}
    # The plain name wins over the prefixed one older UIs wrote, whatever the order.
    values = {k.removeprefix(prefix): v for k, v in given.items() if k.startswith(prefix)}
    values |= {k: v for k, v in given.items() if not k.startswith(prefix)}
    parsed = check_extras(ConnectionExtras, values)
    return ClientConfig(
        api_key=api_key,
        base_url=base_url(host, port),
        timeout=parsed.timeout,
        retry=RetryPolicy(max_attempts=parsed.max_retries + 1),
        verify_ssl=parsed.verify_ssl,
    )


def base_url(host: str | None, port: int | None = None) -> str:
    """
    Normalise the connection's host field into a base URL.

    :param host: Empty (the public API), a full URL, or a bare host name (HTTPS is assumed).
    :param port: Port for a bare host name.
    """
    host = (host or "").strip()
    if not host:
        return DEFAULT_BASE_URL
    return check_base_url(host, port).geturl().rstrip("/")
