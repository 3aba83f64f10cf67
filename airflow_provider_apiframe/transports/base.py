"""
What both transports share: the headers they send, what a download reports, how a missing answer is told.

The transports are thin: they put an :class:`~airflow_provider_apiframe.core.exchange.ApiCall` on the
wire and hand the answer back to it; the retry loop is ``tenacity`` driven by the core's one
:class:`~airflow_provider_apiframe.core.retry.RetryPolicy`. Neither has error or retry logic of its
own. The sync one (:mod:`.sync`, ``requests``) serves workers; the async one (:mod:`.asynchronous`,
``httpx``) serves triggers and is imported by the async path only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import urlsplit

from airflow_provider_apiframe import __version__
from airflow_provider_apiframe.core.errors import ApiframeTransportError

if TYPE_CHECKING:
    from airflow_provider_apiframe.core.config import ClientConfig
    from airflow_provider_apiframe.core.exchange import ApiCall

USER_AGENT = f"airflow-provider-apiframe/{__version__}"
#: Opens where a download goes, given the file's content type (read from its bytes).
SinkOpener = Callable[[str], AbstractContextManager[BinaryIO]]
#: Downloads move this many bytes at a time, whatever the file's size.
CHUNK_BYTES = 1024 * 1024


def api_headers(config: ClientConfig) -> dict[str, str]:
    """The headers of every API call: the key, who is calling, and that JSON is wanted."""
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
class FileGet:
    """A result-file download, as the retry policy sees it: a GET, safe to repeat."""

    url: str
    retry_safe: bool = True

    @property
    def label(self) -> str:
        # Without the query: signed links carry their token there.
        return f"GET {urlsplit(self.url)._replace(query='', fragment='').geturl()}"


def no_response(call: FileGet | ApiCall[Any], exc: Exception) -> ApiframeTransportError:
    """
    The error for a call that got no response; it names the call and the failure, never the headers.

    :param call: The call.
    :param exc: What the HTTP library raised.
    """
    return ApiframeTransportError(f"Apiframe {call.label} got no response: {type(exc).__name__}: {exc}")
