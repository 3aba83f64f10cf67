"""
The emulator's files: result files (drawn on first request, then kept) and uploads, by name or by URL.

A result file is ``<job id>-<n>.<ext>``: an image (``png``, ``jpeg``, ``webp``), a video (``mp4``)
or a sound (``mp3``, ``wav``), as its job's output says (see ``state/outputs.py``).
"""

from __future__ import annotations

import re
import time
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool

from airflow_provider_apiframe.emulator.audio import render_audio
from airflow_provider_apiframe.emulator.images import render
from airflow_provider_apiframe.emulator.state import EmulatorState, JobRecord
from airflow_provider_apiframe.emulator.video import render_video

_FILE_NAME = re.compile(r"^(?P<job>[0-9a-f-]{36})-(?P<n>\d+)\.(?P<ext>png|jpeg|webp|mp4|mp3|wav)$")


async def result_file(state: EmulatorState, name: str) -> bytes | None:
    """
    A result file (``<job id>-<n>.<ext>``) of a COMPLETED job whose files are kept, else None.

    :param state: The emulator's state.
    :param name: The file's name.
    """
    match = _FILE_NAME.match(name)
    job = state.jobs.get(match["job"]) if match else None
    if match is None or job is None or match["ext"] != job.file_ext:
        return None
    n = int(match["n"])
    if state.status(job)[0] != "COMPLETED" or state.is_expired(job) or not 1 <= n <= job.file_count:
        return None
    if n not in job.files:
        job.files[n] = await run_in_threadpool(draw, job, n)
    return job.files[n]


def draw(job: JobRecord, n: int) -> bytes:
    """
    Make a job's ``n``-th result file (1-based), as its output says.

    :param job: The job.
    :param n: Which file.
    """
    if job.output == "video" and job.video is not None:
        return render_video(job.prompt, job.video, model=job.model, inputs=job.image_inputs)
    if job.output in ("audio", "tracks", "stems") and job.audio is not None:
        if job.output == "stems":  # the two parts of the parent track's tune
            return render_audio(job.source, job.audio, ("vocals", "instrumental")[n - 1])
        return render_audio(f"{job.id}#{n}", job.audio)
    assert job.images is not None, f"job {job.id} makes no images"
    return render(job.prompt, n, job.images, model=job.model, inputs=job.image_inputs)


def upload(state: EmulatorState, upload_id: str) -> tuple[bytes, str] | None:
    """
    An upload that has not expired: its bytes and content type, else None.

    :param state: The emulator's state.
    :param upload_id: The upload's id.
    """
    entry = state.uploads.get(upload_id)
    if entry is None or time.time() >= entry[2]:
        return None
    return entry[0], entry[1]


async def local_file(state: EmulatorState, url: str) -> bytes | None:
    """
    Serve the emulator's own result files and uploads without a round trip over HTTP.

    :param state: The emulator's state.
    :param url: A URL under the emulator's base URL.
    """
    path = urlsplit(url).path
    if path.startswith("/files/"):
        return await result_file(state, path.removeprefix("/files/"))
    if path.startswith("/uploads/"):
        found = upload(state, path.removeprefix("/uploads/"))
        return found[0] if found else None
    return None
