"""
Files: uploads (``POST /v2/uploads``, then ``/uploads/{id}``) and the result files jobs link to.

Result files are served with their type: ``image/png``, ``image/jpeg``, ``image/webp``,
``video/mp4``, ``audio/mpeg`` or ``audio/wav``.
"""

from __future__ import annotations

import time
import uuid

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from airflow_provider_apiframe.core.media import MAX_UPLOAD_BYTES, sniff_media
from airflow_provider_apiframe.emulator.results import result_file, upload
from airflow_provider_apiframe.emulator.routes.common import ApiKey, Emulated, error, invalid_field
from airflow_provider_apiframe.emulator.state import iso_time

router = APIRouter()


@router.post("/v2/uploads", status_code=201)
async def upload_file(request: Request, key: ApiKey, emulated: Emulated) -> Response:
    """
    Keep one uploaded file (multipart field ``file``) for ``upload_seconds``.

    :param request: The request.
    :param key: The caller's key.
    :param emulated: The emulator's services.
    """
    try:
        form = await request.form(max_files=1)
    except Exception:
        return invalid_field("file", "Expected a multipart/form-data body with one file")
    file = form.get("file")
    if file is None or isinstance(file, str):
        return invalid_field("file", "Required")
    data = await file.read()
    kind, content_type = sniff_media(data[:16]) or (None, "")
    if kind is None:
        return invalid_field(
            "file", "Unsupported file type (PNG, JPEG, WebP, GIF, MP4, WebM, MOV, MP3, WAV, OGG, M4A)"
        )
    limit = MAX_UPLOAD_BYTES[kind]
    if len(data) > limit:
        return invalid_field("file", f"File too large: at most {limit // (1024 * 1024)} MB for {kind}")
    upload_id = str(uuid.uuid4())
    expires = time.time() + emulated.state.config.upload_seconds
    emulated.state.uploads[upload_id] = (data, content_type, expires)
    return JSONResponse(
        {
            "id": upload_id,
            "url": f"{emulated.base_url(request)}/uploads/{upload_id}",
            "kind": kind,
            "contentType": content_type,
            "byteSize": len(data),
            "expiresAt": iso_time(expires),
        },
        status_code=201,
    )


@router.get("/uploads/{upload_id}")
async def uploaded(upload_id: str, emulated: Emulated) -> Response:
    """
    An uploaded file, until it expires.

    :param upload_id: The upload's id.
    :param emulated: The emulator's services.
    """
    found = upload(emulated.state, upload_id)
    if found is None:
        return error(404, "Upload not found or expired.")
    return Response(found[0], media_type=found[1])


@router.get("/files/{name}")
async def result(name: str, emulated: Emulated) -> Response:
    """
    A result file of a completed job, drawn on first request.

    :param name: ``<job id>-<n>.<ext>`` (``png``, ``jpeg``, ``webp``, ``mp4``, ``mp3`` or ``wav``).
    :param emulated: The emulator's services.
    """
    data = await result_file(emulated.state, name)
    if data is None:
        return error(404, "File not found (unknown, not ready, or purged after the retention period).")
    return Response(data, media_type=emulated.state.jobs[name[:36]].content_type)
