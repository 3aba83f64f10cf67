"""
Thin sync (``requests``) and async (``httpx``) transports over the protocol core.

They put an :class:`~airflow_provider_apiframe.core.calls.ApiCall` on the wire and hand the answer
back to it; the retry loop is ``tenacity`` driven by the core's one
:class:`~airflow_provider_apiframe.core.retry.RetryPolicy`. Neither has error or retry logic of its
own: a failure to get any response becomes an
:class:`~airflow_provider_apiframe.core.errors.ApiframeTransportError`, the rest is the core's.
Each keeps one pooled session for its whole life: create once, reuse for every call, close at the end.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import hashlib
import logging
import ssl
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar, cast
from urllib.parse import urlsplit

import httpx
import requests
import tenacity
from pydantic import BaseModel

from airflow_provider_apiframe import __version__
from airflow_provider_apiframe.core.errors import (
    ApiframeError,
    ApiframeRateLimitError,
    ApiframeTransportError,
    error_from_response,
)
from airflow_provider_apiframe.core.media import image_content_type

if TYPE_CHECKING:
    from airflow_provider_apiframe.core.calls import ApiCall
    from airflow_provider_apiframe.core.config import ClientConfig
    from airflow_provider_apiframe.core.retry import Logger, RetryPolicy

T = TypeVar("T", bound=BaseModel)

USER_AGENT = f"airflow-provider-apiframe/{__version__}"
#: Opens where a download goes, given the image's content type (read from its bytes).
SinkOpener = Callable[[str], AbstractContextManager[BinaryIO]]
#: Downloads move this many bytes at a time, whatever the file's size.
CHUNK_BYTES = 1024 * 1024


def _headers(config: ClientConfig) -> dict[str, str]:
    return {"X-API-Key": config.api_key, "User-Agent": USER_AGENT, "Accept": "application/json"}


@dataclasses.dataclass(frozen=True)
class DownloadedFile:
    """
    What a download wrote.

    :param size: Bytes written.
    :param sha256: Their SHA-256, hex.
    :param content_type: The image type, read from the bytes (never from the server's headers).
    """

    size: int
    sha256: str
    content_type: str


@dataclasses.dataclass(frozen=True)
class _FileGet:
    """A result-file download, as the retry policy sees it: a GET, safe to repeat."""

    url: str
    retry_safe: bool = True

    @property
    def label(self) -> str:
        # Without the query: signed links carry their token there.
        return f"GET {urlsplit(self.url)._replace(query='', fragment='').geturl()}"


def _no_response(call: _FileGet | ApiCall[Any], exc: Exception) -> ApiframeTransportError:
    # The message names the call and the failure, never the request headers (the key lives there).
    return ApiframeTransportError(f"Apiframe {call.label} got no response: {type(exc).__name__}: {exc}")


class SyncTransport:
    """
    Blocking transport over one pooled ``requests.Session``; for workers.

    :param config: Where and how to connect.
    :param log: Logger for retry warnings.
    """

    def __init__(self, config: ClientConfig, *, log: Logger | None = None):
        self.config = config
        self.log = log or logging.getLogger(__name__)
        self._session = requests.Session()
        self._session.headers.update(_headers(config))
        self._session.verify = config.verify_ssl
        # Result files are public links, often on another host: this session never carries the key.
        self._files = requests.Session()
        self._files.headers["User-Agent"] = USER_AGENT
        self._files.verify = config.verify_ssl

    def send(self, call: ApiCall[T], *, retry: RetryPolicy | None = None) -> T:
        """
        Send ``call`` under the retry policy and return its parsed answer.

        :param call: The call.
        :param retry: Overrides the configured policy (e.g. to bound it by a deadline).
        """
        retrying = tenacity.Retrying(**(retry or self.config.retry).tenacity_kwargs(call, self.log))
        return cast("T", retrying(self._send_once, call))

    def _send_once(self, call: ApiCall[T]) -> T:
        try:
            response = self._session.request(
                call.method,
                self.config.base_url + call.path,
                params=call.params,
                json=call.json,
                headers=call.headers,
                files=call.files,
                timeout=self.config.timeout,
                # Per request: requests lets REQUESTS_CA_BUNDLE override a session-level verify=False.
                verify=self.config.verify_ssl,
            )
        except requests.RequestException as exc:
            raise _no_response(call, exc) from None
        return call.read(response.status_code, response.headers, response.content)

    def download(self, url: str, open_sink: SinkOpener) -> DownloadedFile:
        """
        Stream a result file into a sink, in constant memory, under the retry policy.

        Result links are public (a CDN): the API key is never sent with them. The sink is opened
        only once the file's first bytes say which image type it is, and again (truncated) if a
        transient fault makes the download start over.

        :param url: The result URL.
        :param open_sink: Opens where the bytes go, given the image's content type.
        """
        retrying = tenacity.Retrying(**self.config.retry.tenacity_kwargs(_FileGet(url), self.log))
        downloaded: DownloadedFile = retrying(self._download_once, url, open_sink)
        return downloaded

    def _download_once(self, url: str, open_sink: SinkOpener) -> DownloadedFile:
        what = _FileGet(url)
        try:
            with self._files.get(url, stream=True, timeout=self.config.timeout) as response:
                if response.status_code >= 400:
                    raise error_from_response(
                        response.status_code, response.headers, response.raw.read(512), what=what.label
                    )
                chunks = response.iter_content(CHUNK_BYTES)
                first = next(chunks, b"")
                content_type = image_content_type(first)
                if content_type is None:
                    raise ApiframeError(
                        f"{what.label} did not return an image (it starts with {first[:8]!r})"
                    )
                digest, size = hashlib.sha256(first), len(first)
                with open_sink(content_type) as sink:
                    sink.write(first)
                    for chunk in chunks:
                        sink.write(chunk)
                        digest.update(chunk)
                        size += len(chunk)
        except requests.RequestException as exc:
            raise _no_response(what, exc) from None
        return DownloadedFile(size=size, sha256=digest.hexdigest(), content_type=content_type)

    def close(self) -> None:
        """Close the pooled connections."""
        self._session.close()
        self._files.close()


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
    one (see :mod:`airflow_provider_apiframe.shared`); they then share its connection pool and its
    :class:`RateGovernor`.

    :param config: Where and how to connect.
    :param client: The pooled client.
    :param log: Logger for retry warnings, unless a call brings its own.
    """

    def __init__(self, config: ClientConfig, client: httpx.AsyncClient, *, log: Logger | None = None):
        self.config = config
        self.log = log or logging.getLogger(__name__)
        self.governor = RateGovernor()
        self._client = client
        self._in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)

    @classmethod
    async def open(cls, config: ClientConfig, *, log: Logger | None = None) -> AsyncTransport:
        """
        Create a transport without blocking the event loop.

        Loading CA certificates reads files; it runs once per process, in a worker thread.

        :param config: Where and how to connect.
        :param log: Logger for retry warnings.
        """
        verify: ssl.SSLContext | bool = False
        if config.verify_ssl:
            verify = await asyncio.to_thread(_default_ssl_context)
        client = httpx.AsyncClient(
            base_url=config.base_url,
            headers=_headers(config),
            timeout=config.timeout,
            verify=verify,
            limits=httpx.Limits(max_connections=MAX_IN_FLIGHT, max_keepalive_connections=MAX_IN_FLIGHT),
        )
        return cls(config, client, log=log)

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
        retrying = tenacity.AsyncRetrying(**policy.tenacity_kwargs(call, log or self.log))
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
                    headers=call.headers,
                    files=call.files,
                )
        except httpx.TransportError as exc:
            raise _no_response(call, exc) from None
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
