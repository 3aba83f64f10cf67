"""
What happens to a job after it is accepted: inputs fetched, progress and end on time, webhooks sent.

The state says what a job's status is at any moment; the runner acts on those moments, on the
emulator's event loop.
"""

from __future__ import annotations

import asyncio
import functools
import math
import time
from collections.abc import Callable, Coroutine
from typing import Any

from airflow_provider_apiframe.core.media import MAX_UPLOAD_BYTES, sniff_media
from airflow_provider_apiframe.emulator.images import check_image
from airflow_provider_apiframe.emulator.outbound import LazyClient, deliver
from airflow_provider_apiframe.emulator.results import local_file
from airflow_provider_apiframe.emulator.state import EmulatorState, JobRecord, webhook_events


class JobRunner:
    """
    Runs accepted jobs in the background of the emulator's event loop.

    :param state: The emulator's state.
    """

    def __init__(self, state: EmulatorState):
        self.state = state
        self.http = LazyClient()
        self._background: set[asyncio.Task[Any]] = set()

    def schedule(self, job: JobRecord, links: str) -> None:
        """
        Fetch a new (or restored) job's inputs, and send its progress webhooks and end it on time.

        :param job: The job.
        :param links: The base URL its result links use.
        """
        if job.inputs is None:
            self._spawn(self._fetch_inputs(job, links))
        if "progress" in webhook_events(job.body):
            halfway = (job.processing_at + (job.finishes_at or job.processing_at)) / 2
            for moment in (job.processing_at, halfway):
                at(moment, lambda: self._spawn(deliver(self.state, self.http, job, "progress", links)))
        if job.finishes_at is not None and math.isfinite(job.finishes_at):  # held jobs: at release
            at(job.finishes_at, lambda: self._end(job, links))

    def resume(self, released: list[JobRecord]) -> None:
        """
        End released jobs (charge, terminal webhook) on their new time.

        :param released: The jobs the hold released.
        """
        for job in released:
            if job.finishes_at is not None:
                at(job.finishes_at, functools.partial(self._end, job))

    def restore(self) -> None:
        """Run again the jobs a restart brought back that had not ended."""
        for job in self.state.jobs.values():
            if not job.settled:
                self.schedule(job, job.links)

    async def aclose(self) -> None:
        """Close the outbound client."""
        await self.http.aclose()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _end(self, job: JobRecord, links: str | None = None) -> None:
        """Settle a job that has ended; send its terminal webhook (links: its own, if not given)."""
        links = job.links if links is None else links
        if self.state.settle(job) and webhook_events(job.body):
            event = "completed" if job.outcome == "COMPLETED" else "failed"
            self._spawn(deliver(self.state, self.http, job, event, links))

    async def _fetch(self, url: str, links: str, kind: str) -> bytes:
        if url.startswith(f"{links}/"):  # one of our own results or uploads: no round trip
            local = await local_file(self.state, url)
            if local is None:
                raise ValueError("404 not found (unknown, not ready yet, or purged)")
            return local
        return await self.http.get(url, limit=MAX_UPLOAD_BYTES.get(kind, MAX_UPLOAD_BYTES["image"]))

    async def _fetch_inputs(self, job: JobRecord, links: str) -> None:
        fetched = []
        kinds = job.input_kinds or ("image",) * len(job.input_urls)
        for url, kind in zip(job.input_urls, kinds, strict=True):
            try:
                data = await self._fetch(url, links, kind)
                check_media(data, kind)
            except Exception as exc:
                self.state.fail_inputs(job, f"Could not use input {kind} {url}: {exc}")
                break
            fetched.append(data)
        else:
            job.inputs, job.inputs_at = tuple(fetched), time.time()
        if job.finishes_at is not None and time.time() >= job.finishes_at:
            self._end(job, links)


def check_media(data: bytes, kind: str) -> None:
    """
    Raise ``ValueError`` unless ``data`` is a file of ``kind``.

    An image must be one Pillow reads; a video or a sound must be of a type the API takes, told
    from its first bytes (it is not decoded).

    :param data: File contents.
    :param kind: ``image``, ``video`` or ``audio``.
    """
    if kind == "image":
        check_image(data)
        return
    sniffed = sniff_media(data[:16])
    if sniffed is None or sniffed[0] != kind:
        found = sniffed[1] if sniffed else "of an unknown type"
        raise ValueError(f"not {'an audio' if kind == 'audio' else 'a video'} file ({found})")


def at(moment: float, callback: Callable[[], Any]) -> None:
    """
    Run ``callback`` on the loop once the wall clock reaches ``moment`` (loop timers may fire early).

    :param moment: A Unix time.
    :param callback: What to run.
    """
    delay = moment - time.time()
    if delay > 0:
        asyncio.get_running_loop().call_later(delay + 0.001, at, moment, callback)
    else:
        callback()
