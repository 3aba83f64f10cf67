"""
How the emulator shows what it knows: a job as ``GET /v2/jobs/{id}`` does, and the admin views.

The admin views (``/_emulator/state`` and ``/_emulator/jobs``) are read by tests and by the
deployment tests over HTTP: their JSON shapes are an interface.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from airflow_provider_apiframe.emulator.state.jobs import JobRecord, track_id

if TYPE_CHECKING:
    from airflow_provider_apiframe.emulator.state.facade import EmulatorState


def iso_time(moment: float) -> str:
    """
    ``moment`` as the API writes times: ISO 8601 UTC with milliseconds.

    :param moment: A Unix time.
    """
    return (
        datetime.fromtimestamp(moment, tz=timezone.utc)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def job_json(state: EmulatorState, job: JobRecord, base_url: str, now: float | None) -> dict[str, Any]:
    """
    The job as ``GET /v2/jobs/{id}`` shows it.

    :param state: The emulator's state.
    :param job: The job.
    :param base_url: Base URL for result links.
    :param now: The time to read it at (None: now).
    """
    status, progress = state.status(job, now)
    completed = status == "COMPLETED"
    result: Any = None
    if completed:
        urls = [f"{base_url}/files/{job.id}-{n}.{job.file_ext}" for n in range(1, job.file_count + 1)]
        result = {"string": urls[0], "unknown": {"output": f"{job.id}-1"}}.get(
            job.result_shape
        ) or result_json(job, urls)
    ended = status in ("COMPLETED", "FAILED", "CANCELLED")
    return {
        "id": job.id,
        "status": status,
        "model": job.model,
        "progress": progress,
        "error": job.error if status in ("FAILED", "CANCELLED") else None,
        "creditCost": job.cost if completed else (0 if ended else None),
        "webhookStatus": job.webhook_status,
        "createdAt": iso_time(job.created),
        "completedAt": iso_time(job.completed_at) if ended and job.completed_at else None,
        "result": result,
        "input": job.body,
        "expired": state.is_expired(job, now),
    }


def result_json(job: JobRecord, urls: list[str]) -> dict[str, Any]:
    """
    A COMPLETED job's ``result``, by what it makes (the shapes are listed in ``state/outputs.py``).

    :param job: The job.
    :param urls: Its result files' URLs, in order.
    """
    if job.output == "video":
        return {"videos": urls}
    if job.output == "audio":
        return {"audio": urls}
    if job.output == "stems":
        return {"vocals": urls[0], "instrumental": urls[1]}
    if job.output == "tracks":
        seconds = job.audio.seconds if job.audio else 0.0
        return {
            "tracks": [
                {"id": track_id(job.id, n), "title": job.title, "audio_url": url, "duration": seconds}
                for n, url in enumerate(urls, 1)
            ]
        }
    return {"images": urls}


def describe_jobs(state: EmulatorState) -> list[dict[str, Any]]:
    """
    Every job, oldest first, as tests want to see it (status, cost, whether charged, its keys).

    :param state: The emulator's state.
    """
    keys = state.replays.by_job()
    charged = state.ledger.charged()
    return [
        {
            "id": job.id,
            "model": job.model,
            "route": job.route,
            "prompt": job.prompt,
            "status": state.status(job)[0],
            "cost": job.cost,
            "charged": job.id in charged,
            "idempotencyKeys": keys.get(job.id, []),
            "inputUrls": list(job.input_urls),
            "output": job.output,
            "parentJobId": job.parent_id,
        }
        for job in state.store.in_order()
    ]


def summary(state: EmulatorState) -> dict[str, Any]:
    """
    What tests and people want to know at a glance.

    :param state: The emulator's state.
    """
    by_status: dict[str, int] = {}
    for job in state.jobs.values():
        status = state.status(job)[0]
        by_status[status] = by_status.get(status, 0) + 1
    return {
        "credits": state.credits,
        "charges": [{"jobId": job_id, "credits": cost} for job_id, cost in state.charges],
        "idempotencyKeys": len(state.idempotency),
        "uploads": len(state.uploads),
        "jobs": len(state.jobs),
        "jobsByStatus": by_status,
        "requests": len(state.requests),
        "requestsByRoute": dict(state.requests_by_route),
        "webhooksDelivered": sum(1 for w in state.webhooks if w.get("delivered")),
    }
