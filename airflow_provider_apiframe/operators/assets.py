"""Register a media file with the upstream provider (``POST /v2/assets/create``), for video models."""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator, ObjectStoragePath

from airflow_provider_apiframe.core.errors import ApiframeInvalidParamsError
from airflow_provider_apiframe.core.inputs import is_url
from airflow_provider_apiframe.core.media import MAX_UPLOAD_BYTES, sniff_media
from airflow_provider_apiframe.hooks.apiframe import ApiframeHook
from airflow_provider_apiframe.operators.errors import fail_fast_on_bad_input
from airflow_provider_apiframe.storage import as_storage_path

if TYPE_CHECKING:
    from airflow.sdk import Context


class ApiframeAssetCreateOperator(BaseOperator):
    """
    Register a media URL as a provider asset; some video providers (Kie / Seedance) want inputs so.

    A local path, ``file://`` URL or ``ObjectStoragePath`` is checked (its type read from its bytes,
    25 MB for images and audio, 50 MB for video) and uploaded through ``POST /v2/uploads`` first;
    the upload's URL is registered. Returns ``{"asset_id", "url", "type"}``.

    :param url: An http(s) URL, a local path, a ``file://`` URL or an ``ObjectStoragePath`` (templated).
    :param type: ``image``, ``video`` or ``audio`` (templated); for a local file, by default its own kind.
    :param apiframe_conn_id: The Apiframe connection.
    """

    template_fields: Sequence[str] = ("url", "type")
    ui_color = "#e8f0fe"

    def __init__(
        self,
        *,
        url: str | os.PathLike[str] | ObjectStoragePath,
        type: str | None = None,
        apiframe_conn_id: str = ApiframeHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.url = url
        self.type = type
        self.apiframe_conn_id = apiframe_conn_id

    @cached_property
    def hook(self) -> ApiframeHook:
        """The hook for :attr:`apiframe_conn_id`."""
        return ApiframeHook(apiframe_conn_id=self.apiframe_conn_id)

    def execute(self, context: Context) -> dict[str, Any]:
        """Upload a local file if given one, then register the URL."""
        with fail_fast_on_bad_input():
            url, kind = (str(self.url), self.type) if is_url(self.url) else self._upload()
            created = self.hook.create_asset(url, kind)  # type: ignore[arg-type]
        self.log.info("Registered %s asset %s for %s", kind, created.asset_id, url)
        return {"asset_id": created.asset_id, "url": url, "type": kind}

    def _upload(self) -> tuple[str, str | None]:
        """Read, check and upload a local file; return its upload's URL and kind."""
        location = self.url
        try:
            path = as_storage_path(location)
            size = path.stat().st_size if path.is_file() else None
        except (OSError, ValueError, TypeError) as exc:
            raise _refused(f"got {location!r} ({exc})") from None
        if size is None:
            raise _refused(f"got {str(location)!r}, which does not exist or is not a file")
        if size > max(MAX_UPLOAD_BYTES.values()):
            raise _refused(f"got {str(location)!r}: {size / 2**20:.1f} MB; allowed: at most 50 MB (video)")
        data = path.read_bytes()
        kind, content_type = sniff_media(data[:16]) or ("", "")
        if not kind:
            raise _refused(f"got {str(location)!r}, which is not an image, video or audio file the API takes")
        if self.type is not None and self.type != kind:
            raise ApiframeInvalidParamsError(
                [("type", f"got {self.type!r}, but {str(location)!r} is {kind}")]
            )
        if size > MAX_UPLOAD_BYTES[kind]:
            limit = MAX_UPLOAD_BYTES[kind] // 2**20
            raise _refused(
                f"got {str(location)!r}: {size / 2**20:.1f} MB; allowed: at most {limit} MB for {kind}"
            )
        upload = self.hook.upload_image(path.name, data, content_type)
        self.log.info("Uploaded %s (%d bytes)", path.name, size)
        return upload.url, kind


def _refused(why: str) -> ApiframeInvalidParamsError:
    return ApiframeInvalidParamsError([("url", why)])
