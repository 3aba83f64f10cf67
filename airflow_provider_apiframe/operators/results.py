"""
How a finished job becomes a task's result: the XCom dict, saved files, Asset events, the link.

The job operators and the sensor both end this way; each passes itself as a :class:`ResultTask`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from airflow.sdk import Asset, AssetAlias, ObjectStoragePath

from airflow_provider_apiframe import metrics
from airflow_provider_apiframe.core.catalog import prompt_of
from airflow_provider_apiframe.core.errors import ApiframeInvalidParamsError
from airflow_provider_apiframe.core.outcomes import completed_result
from airflow_provider_apiframe.storage import as_storage_path, save_files

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_apiframe.core.models import Job
    from airflow_provider_apiframe.core.retry import Logger
    from airflow_provider_apiframe.hooks.apiframe import ApiframeHook


class ResultTask(Protocol):
    """What a task that returns a job's result has: its hook, where the images go, a log."""

    #: The first result file, for the extra link.
    first_image_url: str | None
    #: The result, once the job ended (for lineage).
    last_result: dict[str, Any] | None

    @property
    def hook(self) -> ApiframeHook:
        """The hook that reads the job and downloads its images."""

    @property
    def output_path(self) -> str | ObjectStoragePath | None:
        """Where the result images go, if anywhere."""

    @property
    def output_conn_id(self) -> str | None:
        """Connection for an object-store ``output_path`` given as a string."""

    @property
    def log(self) -> Logger:
        """The task's log."""


def output_target(task: ResultTask) -> ObjectStoragePath | None:
    """
    Return where the result images go, checked.

    Called before a job is submitted, so that a bad path never costs a job.

    :param task: The task, with its ``output_path`` and ``output_conn_id``.
    """
    if not task.output_path:
        return None
    try:
        target = as_storage_path(task.output_path, task.output_conn_id)
        target.fs  # noqa: B018 - resolves the filesystem: a scheme without one fails here
    except (TypeError, ValueError) as exc:
        raise ApiframeInvalidParamsError(
            [
                (
                    "output_path",
                    f"got {task.output_path!r} ({exc}); allowed: a local folder, a file:// URL or an "
                    "ObjectStoragePath whose filesystem is installed (s3://, gs://...)",
                )
            ]
        ) from None
    return target


def finish(task: ResultTask, job: Job, context: Context) -> dict[str, Any]:
    """
    Return the result of a job that has ended, saving its files if asked; fail if it did not complete.

    :param task: The task the result is for (it remembers the first image, for its link).
    :param job: The job, in a terminal status.
    :param context: The task's context (for Asset events).
    """
    metrics.job_ended(job, task.hook.apiframe_conn_id)
    result = completed_result(job)
    urls = [media["url"] for media in result["media"]]
    result["files"] = []
    result["estimated_credits"] = getattr(task, "estimated_credits", None)  # with a budget
    if (target := output_target(task)) is not None:
        result["files"] = save_files(task.hook, job.id, urls, target)
    task.first_image_url = urls[0]
    task.last_result = result
    _emit_asset_events(task, job, result, context)
    media = [_count(len(result[key]), noun) for key, noun in _MEDIA_NOUNS if result[key]]
    task.log.info(
        "Apiframe job %s COMPLETED: %s, %s; %s",
        job.id,
        ", ".join(media),
        _count(job.credit_cost, "credit") if job.credit_cost is not None else "credits not reported",
        "saved to " + ", ".join(f["path"] for f in result["files"])
        if result["files"]
        else "at " + ", ".join(urls),
    )
    return result


#: The result's media lists, and how the log names one of each.
_MEDIA_NOUNS = (("images", "image"), ("videos", "video"), ("audio", "audio file"))


def _count(number: float, noun: str) -> str:
    """``1 image``, ``4 images``, ``0.5 credits``: a count as a person reads it."""
    return f"{number:g} {noun}" + ("" if number == 1 else "s")


def _emit_asset_events(task: ResultTask, job: Job, result: dict[str, Any], context: Context) -> None:
    """Attach the job to the task's Asset events: one Asset per file for an ``AssetAlias``."""
    outlets = getattr(task, "outlets", None) or []
    if not outlets:
        return
    if job.input is None:  # the triggerer's job pages leave the request out: read the job whole
        job = task.hook.get_job(job.id)
    prompt = prompt_of(job.input or {})
    extra = {"job_id": job.id, "model": job.model, "prompt": prompt, "credit_cost": job.credit_cost}
    events = context["outlet_events"]
    for outlet in outlets:
        if isinstance(outlet, AssetAlias):
            for file in result["files"]:
                events[outlet].add(Asset(uri=_asset_uri(file["path"])), extra={**extra, **file})
        elif isinstance(outlet, Asset):
            events[outlet].extra.update({**extra, "files": [f["path"] for f in result["files"]]})


def _asset_uri(path: str) -> str:
    """An Asset URI for a written file (a plain local path becomes a ``file://`` URI)."""
    return path if "://" in path else f"file://{path}"
