"""
How a batch ends: its jobs read, its files saved, its manifest written.

Every job is read from the pages, its files saved under ``<output_path>/<key>/``; the manifest gets
one line per item; then the Asset events, and the small result.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from airflow.sdk import Asset, AssetAlias

from airflow_provider_apiframe import metrics
from airflow_provider_apiframe.core.errors import ApiframeError
from airflow_provider_apiframe.core.models import Job, JobStatus
from airflow_provider_apiframe.core.outcomes import result_media
from airflow_provider_apiframe.operators.batch_files import MANIFEST, SUBMISSIONS, LinesWriter, read_lines
from airflow_provider_apiframe.operators.batch_jobs import charge, scan
from airflow_provider_apiframe.storage import save_files

if TYPE_CHECKING:
    from airflow.sdk import Context, ObjectStoragePath

    from airflow_provider_apiframe.core.retry import Logger
    from airflow_provider_apiframe.hooks.apiframe import ApiframeHook
    from airflow_provider_apiframe.transports.asynchronous import AsyncTransport


@dataclasses.dataclass
class Counts:
    """What the batch came to; its :meth:`result` is the task's XCom."""

    items: int = 0
    completed: int = 0
    failed: int = 0
    skipped: int = 0
    credits: float = 0.0

    def count(self, line: dict[str, Any]) -> None:
        """Count one manifest line."""
        self.items += 1
        if line["status"] == "SKIPPED":
            self.skipped += 1
        elif line["status"] == JobStatus.COMPLETED and not line.get("error"):
            self.completed += 1
        else:
            self.failed += 1
        self.credits += line.get("credits") or 0

    def result(self, estimated: float | None, manifest: str) -> dict[str, Any]:
        """The task's result."""
        return {**dataclasses.asdict(self), "estimated_credits": estimated, "manifest": manifest}


@dataclasses.dataclass
class Collecting:
    """
    Where and how a batch's results are collected.

    :param hook: Downloads the files (result links are public: no API key goes with them).
    :param target: The output folder.
    :param concurrency: Items saved at once.
    :param deadline: Retries stop at this wall-clock time.
    :param log: The task's log.
    :param keep_saved: Keep the lines of the saved items (for an ``AssetAlias``'s events).
    """

    hook: ApiframeHook
    target: ObjectStoragePath
    concurrency: int
    deadline: float
    log: Logger
    keep_saved: bool = False


async def collect(transport: AsyncTransport, how: Collecting) -> tuple[Counts, list[dict[str, Any]]]:
    """
    Write the manifest from the submissions: read every job, save the files of those that completed.

    :param transport: The transport the jobs are read with.
    :param how: Where and how.
    :return: The counts, and the lines of the items whose files were saved (if ``how.keep_saved``).
    """
    counts = Counts()
    saved: list[dict[str, Any]] = []
    submitted: dict[str, dict[str, Any]] = {}
    manifest = LinesWriter(how.target / MANIFEST)
    with contextlib.ExitStack() as stack:
        stack.callback(manifest.close)

        def write(line: dict[str, Any]) -> None:
            manifest(line)
            counts.count(line)

        for line in read_lines(how.target / SUBMISSIONS):
            if "carried" in line:
                write(line["carried"])
            elif line.get("job_id"):
                submitted[line["job_id"]] = line
            else:
                write({**line, "job_id": None, "credits": 0, "files": []})
        slots = asyncio.Semaphore(how.concurrency)
        tasks: set[asyncio.Task[None]] = set()
        loop = asyncio.get_running_loop()
        # Its own threads: the loop's default pool has min(32, cores + 4), 6 on two cores.
        savers = stack.enter_context(ThreadPoolExecutor(how.concurrency, thread_name_prefix="apiframe-save"))

        async def finish(job: Job, line: dict[str, Any]) -> None:
            try:
                done = await loop.run_in_executor(savers, _save, how, job, line)
            finally:
                slots.release()
            write(done)
            _count(job, how.hook.apiframe_conn_id)
            if done["files"] and how.keep_saved:
                saved.append({**done, "model": job.model})

        async for job in scan(transport, set(submitted), how.deadline):
            await slots.acquire()
            task = loop.create_task(finish(job, submitted.pop(job.id)))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.gather(*tasks)
    metrics.batch_in_flight(0, how.hook.apiframe_conn_id)
    return counts, saved


def _count(job: Job, conn_id: str) -> None:
    """A batch job's metrics: how it ended (and its credits), or that the task's timeout came first."""
    if job.known_status is not None and job.known_status.is_terminal:
        metrics.job_ended(job, conn_id)
    else:
        metrics.job_timed_out(conn_id, job.model)


def _save(how: Collecting, job: Job, submitted: dict[str, Any]) -> dict[str, Any]:
    """An item's manifest line, its files saved when its job completed."""
    line = {
        "key": submitted["key"],
        "job_id": job.id,
        "status": job.status,
        "credits": charge(job),
        "estimated_credits": submitted.get("estimate"),
        "idempotency_key": submitted.get("idempotency_key"),
        "prompt": submitted.get("prompt"),
        "files": [],
        "error": job.error,
    }
    if job.status != JobStatus.COMPLETED:
        if not (job.known_status and job.known_status.is_terminal):
            line["error"] = (
                f"still {job.status} when the task's timeout passed; the job keeps running at Apiframe"
            )
        return line
    try:
        urls = [media["url"] for media in result_media(job)]
        line["files"] = save_files(how.hook, job.id, urls, how.target / submitted["key"])
    except ApiframeError as exc:
        line["error"] = f"saving the results failed: {exc}"
        how.log.warning("Apiframe batch item %r (job %s): %s", submitted["key"], job.id, line["error"])
    return line


def emit_asset_events(
    outlets: list[Any], saved: list[dict[str, Any]], summary: dict[str, Any], context: Context
) -> None:
    """
    The batch's Asset events, as the single operators emit theirs.

    An ``AssetAlias`` gets one Asset per saved file (``extra``: job id, model, prompt, credits, key,
    file); an ``Asset`` gets one event whose ``extra`` names the manifest and the counts (never
    thousands of paths).

    :param outlets: The task's outlets.
    :param saved: The manifest lines of the items whose files were saved.
    :param summary: The task's result.
    :param context: The task's context.
    """
    if not outlets:
        return
    events = context["outlet_events"]
    for outlet in outlets:
        if isinstance(outlet, AssetAlias):
            for line in saved:
                extra = {
                    "job_id": line["job_id"],
                    "model": line["model"],
                    "prompt": line.get("prompt"),
                    "credit_cost": line["credits"],
                    "key": line["key"],
                }
                for file in line["files"]:
                    path = file["path"]
                    events[outlet].add(
                        Asset(uri=path if "://" in path else f"file://{path}"), extra={**extra, **file}
                    )
        elif isinstance(outlet, Asset):
            events[outlet].extra.update(summary)
