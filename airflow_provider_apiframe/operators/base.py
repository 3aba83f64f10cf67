"""The submit / defer / complete machinery every Apiframe job operator (and the sensor) shares."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, NoReturn, cast

from airflow.sdk import Asset, AssetAlias, BaseOperator, BaseOperatorLink, ObjectStoragePath

from airflow_provider_apiframe._compat import AirflowFailException
from airflow_provider_apiframe.core.catalog import prompt_of
from airflow_provider_apiframe.core.errors import (
    ApiframeBadRequestError,
    ApiframeConflictError,
    ApiframeError,
    ApiframeInvalidParamsError,
    ApiframeJobTimeoutError,
)
from airflow_provider_apiframe.core.idempotency import derive_key, nth_key
from airflow_provider_apiframe.core.inputs import is_url, map_inputs, placeholder_url, substitute
from airflow_provider_apiframe.core.jobs import completed_result, is_terminal, job_result
from airflow_provider_apiframe.core.models import Job, JobStatus
from airflow_provider_apiframe.hooks.apiframe import ApiframeHook
from airflow_provider_apiframe.operators.links import ApiframeImageLink
from airflow_provider_apiframe.storage import LocalImage, as_storage_path, read_input_image, save_images
from airflow_provider_apiframe.triggers.job import ApiframeJobTrigger, JobEvent

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_apiframe.core.calls import ApiCall
    from airflow_provider_apiframe.core.models import JobAccepted

#: A job that ended like this was not charged, and replaying its key would return it again.
_REFUSED = (JobStatus.FAILED, JobStatus.CANCELLED)


class JobResultMixin:
    """
    How a finished job becomes a task's result: the XCom dict, saved files, Asset events, a link.

    Shared by :class:`ApiframeJobOperator` and
    :class:`~airflow_provider_apiframe.sensors.job.ApiframeJobSensor`; the class using it sets
    ``apiframe_conn_id``, ``output_path`` and ``output_conn_id``.
    """

    operator_extra_links: Collection[BaseOperatorLink] = (ApiframeImageLink(),)
    apiframe_conn_id: str
    output_path: str | ObjectStoragePath | None
    output_conn_id: str | None
    #: The first result image, for the extra link.
    first_image_url: str | None = None

    @cached_property
    def hook(self) -> ApiframeHook:
        """The hook for :attr:`apiframe_conn_id`."""
        return ApiframeHook(apiframe_conn_id=self.apiframe_conn_id)

    def output_target(self) -> ObjectStoragePath | None:
        """
        Return where the result images go, checked.

        Called before a job is submitted, so that a bad path never costs a job.
        """
        if not self.output_path:
            return None
        try:
            target = as_storage_path(self.output_path, self.output_conn_id)
            target.fs  # noqa: B018 - resolves the filesystem: a scheme without one fails here
        except (TypeError, ValueError) as exc:
            raise ApiframeInvalidParamsError(
                [
                    (
                        "output_path",
                        f"got {self.output_path!r} ({exc}); allowed: a local folder, a file:// URL or an "
                        "ObjectStoragePath whose filesystem is installed (s3://, gs://...)",
                    )
                ]
            ) from None
        return target

    def defer_until_done(
        self, job_id: str, *, deadline: float, poll_interval: float, context: Context
    ) -> NoReturn:
        """
        Free the worker: the trigger polls the job and resumes the task in :meth:`execute_complete`.

        :param job_id: The job.
        :param deadline: Wall-clock time at which the trigger gives up with a timeout event.
        :param poll_interval: Longest wait between two polls, in seconds.
        :param context: The task's context (its try number goes with the trigger, into its event).
        """
        trigger = ApiframeJobTrigger(
            job_id,
            deadline=deadline,
            apiframe_conn_id=self.apiframe_conn_id,
            poll_interval=poll_interval,
            deferred_on_try=context["ti"].try_number,
        )
        # No framework timeout: the trigger enforces the deadline with a clean timeout event.
        cast("BaseOperator", self).defer(trigger=trigger, method_name="execute_complete", timeout=None)

    def execute_complete(self, context: Context, event: Any = None) -> dict[str, Any]:
        """
        Resume after the trigger fired: return the result, or fail with the trigger's reason.

        Airflow 3.1.0 resumes a *retry* with the previous try's event (apache/airflow#56704, fixed
        in 3.1.1); the event names the try that deferred, and such a retry starts over.

        :param event: The trigger's event.
        """
        parsed = JobEvent.parse(event)
        if parsed.deferred_on_try is not None and context["ti"].try_number != parsed.deferred_on_try:
            cast("BaseOperator", self).log.warning(
                "Try %s was handed the event of try %s (an Airflow 3.1.0 bug, apache/airflow#56704); "
                "starting this try over instead.",
                context["ti"].try_number,
                parsed.deferred_on_try,
            )
            return cast("dict[str, Any]", cast("BaseOperator", self).execute(context))
        if parsed.job is not None:
            return self.finish(Job.model_validate(parsed.job), context)
        if parsed.status == "timeout":
            raise ApiframeJobTimeoutError(parsed.message, job_id=parsed.job_id)
        raise ApiframeError(parsed.message)

    def finish(self, job: Job, context: Context) -> dict[str, Any]:
        """
        Return the result of a job that has ended, saving its images if asked; fail if it did not complete.

        :param job: The job, in a terminal status.
        :param context: The task's context (for Asset events).
        """
        result = completed_result(job)
        result["files"] = []
        if (target := self.output_target()) is not None:
            result["files"] = save_images(self.hook, job.id, result["images"], target)
        self.first_image_url = result["images"][0]
        self._emit_asset_events(job, result, context)
        cast("BaseOperator", self).log.info(
            "Apiframe job %s COMPLETED: %d image(s), %s credit(s): %s",
            job.id,
            len(result["images"]),
            job.credit_cost,
            ", ".join(f["path"] for f in result["files"]) or ", ".join(result["images"]),
        )
        return result

    def _emit_asset_events(self, job: Job, result: dict[str, Any], context: Context) -> None:
        """Attach the job to this task's Asset events: one Asset per file for an ``AssetAlias``."""
        outlets = getattr(self, "outlets", None) or []
        if not outlets:
            return
        if job.input is None:  # the triggerer's job pages leave the request out: read the job whole
            job = self.hook.get_job(job.id)
        prompt = prompt_of(job.input or {})
        extra = {"job_id": job.id, "model": job.model, "prompt": prompt, "credit_cost": job.credit_cost}
        events = context["outlet_events"]
        for outlet in outlets:
            if isinstance(outlet, AssetAlias):
                for file in result["files"]:
                    events[outlet].add(Asset(uri=_asset_uri(file["path"])), extra={**extra, **file})
            elif isinstance(outlet, Asset):
                events[outlet].extra.update({**extra, "files": [f["path"] for f in result["files"]]})


class ApiframeJobOperator(JobResultMixin, BaseOperator):
    """
    Submit one Apiframe job from the worker, wait for it (in the triggerer by default), return its result.

    Subclasses say what to send: :meth:`request_values`, :meth:`build_call` and where their input
    images are (:attr:`image_input_paths`). The result pushed to XCom is ``{"job_id", "status",
    "model", "images", "credit_cost", "progress", "files"}``; the job id is also pushed under the
    key ``job_id`` as soon as the job exists.

    Input images may be URLs, local paths or ``ObjectStoragePath`` s: those that are not URLs are
    checked (an image, at most 25 MB), uploaded through ``POST /v2/uploads`` and replaced by the
    URL the upload returns.

    Retries never pay twice: every submission carries an ``Idempotency-Key``, by default derived
    from the DAG, task, run, map index and request (input files by content), so a retry
    re-attaches to the job already submitted. If that job ended FAILED or CANCELLED (uncharged), a
    retry moves on to the next key of a deterministic sequence and gets a new job.

    :param apiframe_conn_id: The Apiframe connection.
    :param idempotency_key: Overrides the derived key (templated). Retries still move to
        ``<key>~1``, ``<key>~2``... after a FAILED or CANCELLED job.
    :param output_path: Where to save the result images (templated): a local folder, a ``file://``
        URL or any ``ObjectStoragePath`` (``s3://bucket/images/{{ ds }}/``). Files are named
        ``<job_id>-<n>.<ext>``; the result's ``files`` lists them.
    :param output_conn_id: Connection for an object-store ``output_path`` given as a string.
    :param deferrable: Wait in the triggerer (default) rather than in the worker. Needs a running
        triggerer.
    :param wait_for_completion: ``False`` returns right after submitting (``images`` is empty
        unless the job had already finished, e.g. on a retry).
    :param poll_interval: Longest wait between two status polls, in seconds (polls start at 2 s).
    :param timeout: Seconds, from the start of the task, before the wait fails with a timeout.
        The job itself keeps running at Apiframe; clearing the task re-attaches to it.
    """

    template_fields: Sequence[str] = ("idempotency_key", "output_path")
    ui_color = "#e8f0fe"
    #: Dotted paths, within :meth:`request_values`, of the values that are input images.
    image_input_paths: tuple[str, ...] = ()

    def __init__(
        self,
        *,
        apiframe_conn_id: str = ApiframeHook.default_conn_name,
        idempotency_key: str | None = None,
        output_path: str | ObjectStoragePath | None = None,
        output_conn_id: str | None = None,
        deferrable: bool = True,
        wait_for_completion: bool = True,
        poll_interval: float | timedelta = 5.0,
        timeout: float | timedelta = 1800.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.apiframe_conn_id = apiframe_conn_id
        self.idempotency_key = idempotency_key
        self.output_path = output_path
        self.output_conn_id = output_conn_id
        self.deferrable = deferrable
        self.wait_for_completion = wait_for_completion
        self.poll_interval = _seconds("poll_interval", poll_interval)
        self.timeout = _seconds("timeout", timeout)

    def request_values(self) -> dict[str, Any]:
        """The (rendered) values the request is built from, including ``idempotency_key``."""
        raise NotImplementedError

    def build_call(self, values: dict[str, Any]) -> ApiCall[JobAccepted]:
        """
        Validate ``values`` and build the job-creating call; no I/O.

        :param values: :meth:`request_values`, input images already replaced by URLs or placeholders.
        """
        raise NotImplementedError

    def execute(self, context: Context) -> dict[str, Any]:
        """Validate, upload local inputs, submit, then wait (deferred or not) and return the result."""
        deadline = time.time() + self.timeout
        with fail_fast_on_bad_input():
            self.output_target()
            values, local_images = self._stage_inputs(self.request_values())
            call = self.build_call(values)
            job = self._submit(call, local_images, context, deadline)
        context["ti"].xcom_push(key="job_id", value=job.id)
        if is_terminal(job):
            return self.finish(job, context)
        if not self.wait_for_completion:
            return {**job_result(job), "files": []}
        if self.deferrable:
            self.defer_until_done(
                job.id, deadline=deadline, poll_interval=self.poll_interval, context=context
            )
        job = self.hook.wait_for_job(
            job.id, timeout=deadline - time.time(), poll_interval=self.poll_interval, poll_now=False
        )
        return self.finish(job, context)

    def _stage_inputs(self, values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, LocalImage]]:
        """Read the inputs that are not URLs (checking them) and stand content-addressed placeholders in."""
        local: dict[str, LocalImage] = {}
        problems: list[tuple[str, str]] = []

        def stage(field: str, value: Any) -> Any:
            if is_url(value):
                return value
            try:
                image = read_input_image(value)
            except ValueError as exc:
                problems.append((field, str(exc)))
                return value
            url = placeholder_url(image.sha256, image.extension)
            local[url] = image
            return url

        staged = map_inputs(values, self.image_input_paths, stage)
        if problems:
            raise ApiframeInvalidParamsError(problems)
        return staged, local

    def _job_after_submitting(
        self, accepted: JobAccepted, call: ApiCall[JobAccepted], deadline: float
    ) -> Job:
        """
        Return the job as the submission left it, reading it only if it has ended.

        A new job is QUEUED, as the ``202`` says: nothing to read. A replayed one may have ended:
        then it is read whole (its result, or its error).
        """
        model = (call.json or {}).get("model", "")
        job = Job.model_validate({"id": accepted.job_id, "status": accepted.status, "model": model})
        if job.known_status is not None and is_terminal(job):
            return self.hook.get_job(job.id, deadline=deadline)
        return job

    def _submit(
        self,
        call: ApiCall[JobAccepted],
        local_images: dict[str, LocalImage],
        context: Context,
        deadline: float,
    ) -> Job:
        """Upload local inputs and submit under the task instance's key sequence."""
        ti = context["ti"]
        # Derived from the request as validated: local inputs count by content, not by upload URL.
        base_key = call.idempotency_key or derive_key(
            dag_id=ti.dag_id,
            task_id=ti.task_id,
            run_id=ti.run_id,
            map_index=-1 if ti.map_index is None else ti.map_index,
            body=call.json or {},
        )
        uploaded = {
            placeholder: self.hook.upload_image(image.name, image.data, image.content_type).url
            for placeholder, image in local_images.items()
        }
        if uploaded:
            self.log.info("Uploaded %d input image(s)", len(uploaded))
            call = dataclasses.replace(call, json=substitute(call.json, uploaded))
        # Each earlier try of this task instance can have used up at most one key.
        keys_spent_before = max(ti.try_number - 1, 0)
        n = 0
        while True:
            key = nth_key(base_key, n)
            accepted = self.hook.submit_image_generation(
                dataclasses.replace(call, idempotency_key=key), deadline=deadline
            )
            job = self._job_after_submitting(accepted, call, deadline)
            if job.known_status in _REFUSED and n < keys_spent_before:
                self.log.info(
                    "Apiframe job %s (key %s) ended %s without charge; submitting a new job, next key.",
                    job.id,
                    key,
                    job.status,
                )
                n += 1
                continue
            self.log.info(
                "Apiframe job %s is %s (model %s, idempotency key %s)", job.id, job.status, job.model, key
            )
            return job


@contextmanager
def fail_fast_on_bad_input() -> Iterator[None]:
    """Bad input cannot get better by retrying: fail the task without retries."""
    try:
        yield
    except (ApiframeInvalidParamsError, ApiframeBadRequestError) as exc:
        raise AirflowFailException(str(exc)) from None
    except ApiframeConflictError as exc:
        raise AirflowFailException(
            f"{exc}\nThe idempotency_key was already used for a different request. Give this request "
            "its own key, or leave idempotency_key unset to use the derived one."
        ) from None


def _seconds(name: str, value: float | timedelta) -> float:
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds < math.inf:
        raise ValueError(
            f"{name} must be a positive, finite number of seconds or a timedelta (got {value!r})"
        )
    return float(seconds)


def _asset_uri(path: str) -> str:
    """An Asset URI for a written file (a plain local path becomes a ``file://`` URI)."""
    return path if "://" in path else f"file://{path}"
