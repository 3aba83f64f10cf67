"""Media in and out the Airflow way: local paths, ``file://`` URLs and any ``ObjectStoragePath``."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, BinaryIO

from airflow.sdk import ObjectStoragePath

from airflow_provider_apiframe.core.errors import ApiframeError, ApiframeHTTPError, ApiframeJobError
from airflow_provider_apiframe.core.media import (
    EXTENSIONS,
    Kind,
    check_input_location,
    check_input_size,
    check_input_type,
    kind_of,
    unreadable_input,
)

if TYPE_CHECKING:
    from airflow_provider_apiframe.hooks.apiframe import ApiframeHook

#: Result files of one job downloaded at the same time.
MAX_PARALLEL_DOWNLOADS = 4
_SAFE_JOB_ID = re.compile(r"^[0-9A-Za-z][0-9A-Za-z-]{0,63}$")


@dataclasses.dataclass(frozen=True)
class LocalFile:
    """
    An input file (image, video or audio) read from storage, checked and ready to upload.

    :param name: Its file name.
    :param data: Its bytes (at most 25 MB; 50 MB for video).
    :param sha256: Their SHA-256, hex.
    :param content_type: Its type, read from the bytes.
    """

    name: str = dataclasses.field(repr=True)
    data: bytes = dataclasses.field(repr=False)
    sha256: str
    content_type: str

    @property
    def extension(self) -> str:
        """The extension its type calls for."""
        return EXTENSIONS[self.content_type]


#: The former name of :class:`LocalFile`.
LocalImage = LocalFile


def as_storage_path(
    location: str | os.PathLike[str] | ObjectStoragePath, conn_id: str | None = None
) -> ObjectStoragePath:
    """
    Turn a local path, a ``file://`` URL or an object-store URL into an ``ObjectStoragePath``.

    :param location: Where; an ``ObjectStoragePath`` is returned as it is.
    :param conn_id: Connection for an object-store URL given as a string.
    """
    if isinstance(location, ObjectStoragePath):
        return location
    text = os.fspath(location)
    return (
        ObjectStoragePath(text, conn_id=conn_id)
        if "://" in text
        else ObjectStoragePath(os.path.abspath(text))
    )


def read_input_image(location: Any) -> LocalFile:
    """
    Read an input image from storage, checking it as the API would, before anything is uploaded.

    :param location: A local path, a ``file://`` URL or an ``ObjectStoragePath``.
    :raises ValueError: It is not there, too large, or not a PNG, JPEG, WebP or GIF image.
    """
    return read_input_media(location, "image")


def read_input_media(location: Any, kind: Kind) -> LocalFile:
    """
    Read an input file from storage, checking its size and type as the API would, before any upload.

    :param location: A local path, a ``file://`` URL or an ``ObjectStoragePath``.
    :param kind: What the parameter takes: ``image``, ``video`` or ``audio``.
    :raises ValueError: It is not there, too large, or not of that kind.
    """
    check_input_location(location, is_path=isinstance(location, (str, os.PathLike, ObjectStoragePath)))
    try:
        path = as_storage_path(location)
        if not path.is_file():
            raise FileNotFoundError(location)
        size = path.stat().st_size
    except FileNotFoundError:
        raise unreadable_input(location) from None
    except (OSError, ValueError) as exc:  # unreadable, or no filesystem for its scheme
        raise unreadable_input(location, exc) from None
    check_input_size(location, size, kind)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise unreadable_input(location, exc) from None
    content_type = check_input_type(location, data, kind)
    return LocalFile(path.name, data, hashlib.sha256(data).hexdigest(), content_type)


def save_files(
    hook: ApiframeHook, job_id: str, urls: list[str], target: ObjectStoragePath
) -> list[dict[str, Any]]:
    """
    Stream a job's result files (images, videos, audio) into ``target``, concurrently, in constant memory.

    Each file is named ``<job_id>-<n>.<ext>``, the extension read from the file's own bytes (PNG,
    JPEG, WebP, GIF, MP4, WebM, MOV, MP3, WAV, OGG, M4A): nothing the server sends (a file name,
    a path, a content type) decides where a file goes.

    :param hook: The hook that downloads (without the API key: result links are public).
    :param job_id: The job; it must look like an id, never like a path.
    :param urls: Its result URLs, in order.
    :param target: The folder (local or object store).
    :return: One ``{"path", "bytes", "sha256", "content_type", "kind"}`` per file, in order.
    """
    if not _SAFE_JOB_ID.match(job_id):
        raise ApiframeError(f"Refusing to name files after the job id {job_id!r}: it is not an id.")
    with contextlib.suppress(NotImplementedError, FileExistsError):  # object stores have no real folders
        target.mkdir(parents=True, exist_ok=True)

    def save(n: int, url: str) -> dict[str, Any]:
        written: list[ObjectStoragePath] = []

        @contextmanager
        def open_sink(content_type: str) -> Iterator[BinaryIO]:
            path = target / f"{job_id}-{n}.{EXTENSIONS[content_type]}"
            written[:] = [path]
            with path.open("wb") as sink:  # type: ignore[no-untyped-call]
                yield sink

        try:
            downloaded = hook.download_result(url, open_sink)
        except ApiframeHTTPError as exc:
            if exc.status_code in (404, 410):
                raise ApiframeJobError(
                    f"Result file {n} of Apiframe job {job_id} was purged (HTTP {exc.status_code}): result "
                    "files are kept for a limited time. Run the job again.",
                    job_id=job_id,
                ) from None
            raise
        return {
            "path": str(written[0]),
            "bytes": downloaded.size,
            "sha256": downloaded.sha256,
            "content_type": downloaded.content_type,
            "kind": kind_of(downloaded.content_type),
        }

    with ThreadPoolExecutor(max_workers=max(1, min(MAX_PARALLEL_DOWNLOADS, len(urls)))) as pool:
        return list(pool.map(save, range(1, len(urls) + 1), urls))


#: The former name of :func:`save_files`.
save_images = save_files
