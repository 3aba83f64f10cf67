"""Blocking transport over one pooled ``requests.Session``; for workers."""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING, TypeVar, cast

import requests
import tenacity
from pydantic import BaseModel

from airflow_provider_apiframe.core.errors import ApiframeError, error_from_response
from airflow_provider_apiframe.core.media import sniff_media
from airflow_provider_apiframe.transports.base import (
    CHUNK_BYTES,
    USER_AGENT,
    DownloadedFile,
    FileGet,
    SinkOpener,
    api_headers,
    no_response,
)

if TYPE_CHECKING:
    from airflow_provider_apiframe.core.config import ClientConfig
    from airflow_provider_apiframe.core.exchange import ApiCall
    from airflow_provider_apiframe.core.retry import Logger, RetryPolicy

T = TypeVar("T", bound=BaseModel)

#: Connections kept per host for result files (a batch saves many items at once, from threads).
FILE_CONNECTIONS = 64


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
        self._session.headers.update(api_headers(config))
        self._session.verify = config.verify_ssl
        # Result files are public links, often on another host: this session never carries the key.
        self._files = requests.Session()
        self._files.headers["User-Agent"] = USER_AGENT
        self._files.verify = config.verify_ssl
        # A batch saves up to 256 items at once from threads: keep a connection for each.
        pooled = requests.adapters.HTTPAdapter(pool_maxsize=FILE_CONNECTIONS)
        self._files.mount("https://", pooled)
        self._files.mount("http://", pooled)

    def send(self, call: ApiCall[T], *, retry: RetryPolicy | None = None) -> T:
        """
        Send ``call`` under the retry policy and return its parsed answer.

        :param call: The call.
        :param retry: Overrides the configured policy (e.g. to bound it by a deadline).
        """
        policy = retry or self.config.retry
        retrying = tenacity.Retrying(**policy.tenacity_kwargs(call, self.log, self.config.on_retry))
        return cast("T", retrying(self._send_once, call))

    def _send_once(self, call: ApiCall[T]) -> T:
        try:
            response = self._session.request(
                call.method,
                self.config.base_url + call.path,
                params=call.params,
                json=call.json,
                data=call.form,
                headers=call.headers,
                files=call.files,
                timeout=self.config.timeout,
                # Per request: requests lets REQUESTS_CA_BUNDLE override a session-level verify=False.
                verify=self.config.verify_ssl,
            )
        except requests.RequestException as exc:
            raise no_response(call, exc) from None
        return call.read(response.status_code, response.headers, response.content)

    def download(self, url: str, open_sink: SinkOpener) -> DownloadedFile:
        """
        Stream a result file into a sink, in constant memory, under the retry policy.

        Result links are public (a CDN): the API key is never sent with them. The sink is opened
        only once the file's first bytes say which image type it is, and again (truncated) if a
        transient fault makes the download start over.

        :param url: The result URL.
        :param open_sink: Opens where the bytes go, given the file's content type.
        """
        kwargs = self.config.retry.tenacity_kwargs(FileGet(url), self.log, self.config.on_retry)
        retrying = tenacity.Retrying(**kwargs)
        downloaded: DownloadedFile = retrying(self._download_once, url, open_sink)
        return downloaded

    def _download_once(self, url: str, open_sink: SinkOpener) -> DownloadedFile:
        what = FileGet(url)
        try:
            with self._files.get(url, stream=True, timeout=self.config.timeout) as response:
                if response.status_code >= 400:
                    raise error_from_response(
                        response.status_code, response.headers, response.raw.read(512), what=what.label
                    )
                chunks = response.iter_content(CHUNK_BYTES)
                first = next(chunks, b"")
                sniffed = sniff_media(first)
                if sniffed is None:
                    raise ApiframeError(
                        f"{what.label} did not return an image, video or audio file "
                        f"(it starts with {first[:8]!r})"
                    )
                content_type = sniffed[1]
                digest, size = hashlib.sha256(first), len(first)
                with open_sink(content_type) as sink:
                    sink.write(first)
                    for chunk in chunks:
                        sink.write(chunk)
                        digest.update(chunk)
                        size += len(chunk)
        except requests.RequestException as exc:
            raise no_response(what, exc) from None
        return DownloadedFile(size=size, sha256=digest.hexdigest(), content_type=content_type)

    def close(self) -> None:
        """Close the pooled connections."""
        self._session.close()
        self._files.close()
