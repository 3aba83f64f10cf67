"""
What a job's outcome is: whether it has ended, the task's result, its media files, a timeout's words.

Shared by the worker (``deferrable=False``), the triggerer and the sensor, so all conclude alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_provider_apiframe.core.catalog import MODELS
from airflow_provider_apiframe.core.errors import ApiframeJobError
from airflow_provider_apiframe.core.media import Kind, guess_from_url, kind_of
from airflow_provider_apiframe.core.models import Job, JobStatus


def timeout_message(job_id: str, last_seen: str) -> str:
    """
    Explain a timed-out wait and how to pick the job up again.

    :param job_id: The job.
    :param last_seen: What was last known of the job.
    """
    return (
        f"Apiframe job {job_id} did not finish before the deadline (last seen: {last_seen}). "
        "It may still finish at Apiframe. To pick it up again, clear this task (a job operator's "
        "idempotency key re-attaches to the same job without a new charge), wait for it with "
        f"ApiframeJobSensor(job_id={job_id!r}), or read it with ApiframeHook().get_job({job_id!r})."
    )


def killed_message(ids: Sequence[str], noun: str = "job") -> str:
    """
    Say what killing a task that waits means: the work goes on, and a clear or retry re-attaches to it.

    :param ids: What the task waited for (job or LoRA ids).
    :param noun: What they are.
    """
    shown = ", ".join(ids[:10]) + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")
    many = len(ids) != 1
    return (
        f"The task was killed while Apiframe {noun}{'s' if many else ''} {shown} "
        f"{'were' if many else 'was'} running. The API has no cancel endpoint: "
        f"{'they go' if many else 'it goes'} on at Apiframe and will be charged. Clearing or "
        f"retrying this task re-attaches to {'them' if many else 'it'} rather than paying again."
    )


def is_terminal(job: Job) -> bool:
    """
    Whether ``job`` has reached its end; an unknown status is an error, not a reason to wait forever.

    :param job: The job as polled.
    """
    status = job.known_status
    if status is None:
        raise ApiframeJobError(
            f"Apiframe job {job.id} has status {job.status!r}, which this provider does not know "
            f"(known: {', '.join(s.value for s in JobStatus)}). Upgrade airflow-provider-apiframe.",
            job_id=job.id,
        )
    return status.is_terminal


def job_result(job: Job) -> dict[str, Any]:
    """
    The small, JSON-serializable summary a task returns, for a job in any status.

    ``media`` lists the result files of a COMPLETED job (empty otherwise) as ``{"url", "kind",
    "content_type"}``, by :func:`result_media`'s rule; ``images``, ``videos`` and ``audio`` list
    their URLs by kind.

    :param job: The job.
    """
    media = result_media(job) if job.status == JobStatus.COMPLETED else []
    return {
        "job_id": job.id,
        "status": job.status,
        "model": job.model,
        "media": media,
        **{name: [m["url"] for m in media if m["kind"] == kind] for name, kind in _BY_KIND},
        "credit_cost": job.credit_cost,
        "progress": job.progress,
    }


def completed_result(job: Job) -> dict[str, Any]:
    """
    The task's result for a terminal job, or the error that explains why there is none.

    :param job: A job in a terminal status.
    """
    if job.status == JobStatus.COMPLETED:
        return job_result(job)
    reason = job.error or "the API gave no reason"
    raise ApiframeJobError(f"Apiframe job {job.id} ended {job.status}: {reason}", job_id=job.id)


def result_media(job: Job) -> list[dict[str, Any]]:
    """
    The result files of a COMPLETED job: every http(s) URL in its ``result``, in order, once each.

    The contract leaves ``result`` untyped; images have come as ``{"images": [url, ...]}`` and as
    a bare URL string, and other routes nest theirs (``{"tracks": [{"audio_url": ...}]}``). So the
    rule is: walk ``result`` depth first, in its own order, and take every string that is an
    http(s) URL. A file's kind is the one its URL's extension names (``.mp4``: video), else the one
    the nearest key names (``videos``, ``audio_url``, ``tracks``...), else what its model makes;
    ``content_type`` is the extension's guess, or ``None`` (the bytes decide when it is saved).

    :param job: A COMPLETED job.
    :raises ApiframeJobError: The result holds no URL, or its files were purged.
    """
    found: dict[str, dict[str, Any]] = {}

    def walk(node: Any, key: str) -> None:
        if isinstance(node, str) and node[:8].lower().startswith(("http://", "https://")):
            content_type = guess_from_url(node)
            kind = kind_of(content_type) if content_type else _kind_named(key) or _made_by(job.model)
            found.setdefault(node, {"url": node, "kind": kind, "content_type": content_type})
        elif isinstance(node, dict):
            for name, value in node.items():
                walk(value, str(name) if _kind_named(str(name)) else key)
        elif isinstance(node, list):
            for value in node:
                walk(value, key)

    walk(job.result, "")
    if not found:
        raise ApiframeJobError(
            f"Apiframe job {job.id} is COMPLETED but its result has a shape this provider cannot read "
            f"(no http(s) URL of a file in it, got {_describe(job.result)}).",
            job_id=job.id,
        )
    if job.expired:
        raise ApiframeJobError(
            f"Apiframe job {job.id} is COMPLETED but its result files were purged (expired: true); "
            "their URLs no longer resolve. Run the job again.",
            job_id=job.id,
        )
    return list(found.values())


def image_urls(job: Job) -> list[str]:
    """
    The image URLs of a COMPLETED job (see :func:`result_media`).

    :param job: A COMPLETED job.
    """
    return [m["url"] for m in result_media(job) if m["kind"] == "image"]


_BY_KIND = (("images", "image"), ("videos", "video"), ("audio", "audio"))
_KEY_WORDS: tuple[tuple[Kind, tuple[str, ...]], ...] = (
    ("video", ("video", "clip")),
    ("audio", ("audio", "track", "song", "music", "vocal", "instrumental", "stem", "mp3", "wav")),
    ("image", ("image", "grid", "thumbnail", "cover", "picture", "photo")),
)


def _kind_named(key: str) -> Kind | None:
    """The kind a result key names (``videos``, ``audio_url``, ``tracks``...), if any."""
    lowered = key.lower()
    return next((kind for kind, words in _KEY_WORDS if any(w in lowered for w in words)), None)


def _made_by(model: str) -> Kind:
    """What a model makes, for a URL nothing else tells the kind of."""
    spec = MODELS.get(model)
    modality = spec.modality if spec else "image"
    return "audio" if modality == "music" else modality


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else f"{type(value).__name__} {text[:100]}..."
