"""Non-blocking transport over one pooled ``httpx.AsyncClient``, with a shared rate governor; for triggers."""

from __future__ import annotations

import asyncio
import functools
import logging
import ssl
import time
from typing import TYPE_CHECKING, TypeVar, cast

import httpx
import tenacity
from pydantic import BaseModel

from airflow_provider_apiframe.core.errors import ApiframeRateLimitError
from airflow_provider_apiframe.transports.base import api_headers, no_response

if TYPE_CHECKING:
    from airflow_provider_apiframe.core.config import ClientConfig
    from airflow_provider_apiframe.core.exchange import ApiCall
    from airflow_provider_apiframe.core.retry import Logger, RetryPolicy

T = TypeVar("T", bound=BaseModel)

#: Requests one async transport has in flight at most, and the connections it keeps. Callers beyond
#: it wait their turn in a plain queue: httpx's own pool scans its whole queue on every request, which
#: thousands of waiting triggers would turn quadratic.
MAX_IN_FLIGHT = 16


class RateGovernor:
    """
    One connection's pace, shared by every caller of an :class:`AsyncTransport`.

    When the API answers ``429`` with ``Retry-After``, every request of the connection waits it out,
    not just the one that got it: thousands of triggers do not all come back at once to be refused
    again.
    """

    def __init__(self) -> None:
        self._resume_at = 0.0  # time.monotonic() before which no request is sent

    def pause(self, seconds: float) -> None:
        """
        Hold every request for ``seconds`` from now (a longer pause already running is kept).

        :param seconds: The API's ``Retry-After``.
        """
        self._resume_at = max(self._resume_at, time.monotonic() + seconds)

    async def turn(self) -> None:
        """Wait until requests may be sent again."""
        while (wait := self._resume_at - time.monotonic()) > 0:
            await asyncio.sleep(wait)


class AsyncTransport:
    """
    Non-blocking transport over one pooled ``httpx.AsyncClient``; for triggers.

    Build it with :meth:`open` from inside the event loop that will use it. Many triggers may share
    one (see :mod:`airflow_provider_apiframe.triggerer.pool`); they then share its connection pool and its
    :class:`RateGovernor`.

    :param config: Where and how to connect.
    :param client: The pooled client.
    :param log: Logger for retry warnings, unless a call brings its own.
    :param max_in_flight: Requests in flight at most; callers beyond it wait their turn.
    """

    def __init__(
        self,
        config: ClientConfig,
        client: httpx.AsyncClient,
        *,
        log: Logger | None = None,
        max_in_flight: int = MAX_IN_FLIGHT,
    ):
        self.config = config
        self.log = log or logging.getLogger(__name__)
        self.governor = RateGovernor()
        self._client = client
        self._in_flight = asyncio.Semaphore(max_in_flight)

    @classmethod
    async def open(
        cls, config: ClientConfig, *, log: Logger | None = None, max_in_flight: int = MAX_IN_FLIGHT
    ) -> AsyncTransport:
        """
        Create a transport without blocking the event loop.

        Loading CA certificates reads files; it runs once per process, in a worker thread.

        :param config: Where and how to connect.
        :param log: Logger for retry warnings.
        :param max_in_flight: Requests in flight at most (and connections kept).
        """
        verify: ssl.SSLContext | bool = False
        if config.verify_ssl:
            verify = await asyncio.to_thread(_default_ssl_context)
        client = httpx.AsyncClient(
            base_url=config.base_url,
            headers=api_headers(config),
            timeout=config.timeout,
            verify=verify,
            limits=httpx.Limits(max_connections=max_in_flight, max_keepalive_connections=max_in_flight),
        )
        return cls(config, client, log=log, max_in_flight=max_in_flight)

    async def send(
        self, call: ApiCall[T], *, retry: RetryPolicy | None = None, log: Logger | None = None
    ) -> T:
        """
        Send ``call`` under the retry policy and return its parsed answer.

        :param call: The call.
        :param retry: Overrides the configured policy (e.g. to bound it by a deadline).
        :param log: Where this call's retry warnings go (a trigger's own log).
        """
        policy = retry or self.config.retry
        kwargs = policy.tenacity_kwargs(call, log or self.log, self.config.on_retry)
        retrying = tenacity.AsyncRetrying(**kwargs)
        return cast("T", await retrying(self._send_once, call))

    async def _send_once(self, call: ApiCall[T]) -> T:
        await self.governor.turn()
        try:
            async with self._in_flight:
                response = await self._client.request(
                    call.method,
                    call.path,
                    params=call.params,
                    json=call.json,
                    data=call.form,
                    headers=call.headers,
                    files=call.files,
                )
        except httpx.TransportError as exc:
            raise no_response(call, exc) from None
        try:
            return call.read(response.status_code, response.headers, response.content)
        except ApiframeRateLimitError as exc:
            if exc.retry_after is not None:
                self.governor.pause(exc.retry_after)
            raise

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self._client.aclose()


@functools.cache
def _default_ssl_context() -> ssl.SSLContext:
    """The CA bundle httpx would load itself, loaded once per process."""
    return httpx.create_ssl_context()
