"""The base of every Apiframe job operator: submit one job, wait for it, return its result."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator, BaseOperatorLink, ObjectStoragePath

from airflow_provider_apiframe import metrics
from airflow_provider_apiframe.core import clock
from airflow_provider_apiframe.core.budget import check_budget, check_max_credits, worst_case
from airflow_provider_apiframe.core.idempotency import KeySequence, derive_key
from airflow_provider_apiframe.core.models import Job
from airflow_provider_apiframe.core.outcomes import is_terminal, job_result, killed_message
from airflow_provider_apiframe.core.validation import check_duration
from airflow_provider_apiframe.hooks.apiframe import ApiframeHook
from airflow_provider_apiframe.operators.deferral import defer_until_done, resumed_job
from airflow_provider_apiframe.operators.errors import fail_fast_on_bad_input
from airflow_provider_apiframe.operators.links import ApiframeImageLink
from airflow_provider_apiframe.operators.recorded_job import reattach, record_job, recorded_job_id
from airflow_provider_apiframe.operators.results import finish, output_target
from airflow_provider_apiframe.operators.staging import stage_inputs, upload_inputs

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_apiframe.core.exchange import ApiCall
    from airflow_provider_apiframe.core.media import Kind
    from airflow_provider_apiframe.core.models import JobAccepted
    from airflow_provider_apiframe.operators.lineage import Lineage
    from airflow_provider_apiframe.storage import LocalFile


class ApiframeJobOperator(BaseOperator):
    """
    Submit one Apiframe job from the worker, wait for it (in the triggerer by default), return its result.

    Subclasses say what to send: :meth:`request_values`, :meth:`build_call` and where their input
    media are (:attr:`media_input_paths`). The result pushed to XCom is ``{"job_id", "status",
    "model", "media", "images", "videos", "audio", "credit_cost", "progress", "files"}`` (see
    :func:`~airflow_provider_apiframe.core.outcomes.result_media` for how a result's files are
    found); the job id is also pushed under the key ``job_id`` as soon as the job exists.

    Input media may be URLs, local paths or ``ObjectStoragePath`` s: those that are not URLs are
    checked (of the kind the parameter takes; at most 25 MB, 50 MB for a video), uploaded through
    ``POST /v2/uploads`` and replaced by the URL the upload returns.

    Retries never pay twice: every submission carries an ``Idempotency-Key``, by default derived
    from the DAG, task, run, map index and request (input files by content), so a retry
    re-attaches to the job already submitted. If that job ended FAILED or CANCELLED (uncharged), a
    retry moves on to the next key of a deterministic sequence and gets a new job. The API replays
    a key for 24 hours; on Airflow 3.3+ the job id is also kept in the task state store as soon as
    the job exists, so a retry or a clear re-attaches to it however old it is.

    :param apiframe_conn_id: The Apiframe connection.
    :param idempotency_key: Overrides the derived key (templated). Retries still move to
        ``<key>~1``, ``<key>~2``... after a FAILED or CANCELLED job.
    :param output_path: Where to save the result files (templated): a local folder, a ``file://``
        URL or any ``ObjectStoragePath`` (``s3://bucket/images/{{ ds }}/``). Files are named
        ``<job_id>-<n>.<ext>``; the result's ``files`` lists them.
    :param output_conn_id: Connection for an object-store ``output_path`` given as a string.
    :param deferrable: Wait in the triggerer (default) rather than in the worker. Needs a running
        triggerer.
    :param wait_for_completion: ``False`` returns right after submitting (``media`` is empty
        unless the job had already finished, e.g. on a retry).
    :param poll_interval: Longest wait between two status polls, in seconds (polls start at 2 s).
    :param timeout: Seconds, from the start of the task, before the wait fails with a timeout.
        The job itself keeps running at Apiframe; clearing the task re-attaches to it.
    :param max_credits: The most the job may cost. Before anything is sent, its worst case is worked
        out from the model catalogue (``GET /v2/models``; see :mod:`~airflow_provider_apiframe.core.budget`)
        and a request over budget, or one of a model the catalogue does not price, fails at once,
        without retries. The result's ``estimated_credits`` holds that worst case.
    :param renew_expired: When a later try finds that the job an earlier try paid for can no longer
        give its result (its files expired), pay for a new job rather than fail (Airflow 3.3+).
    :param lineage_prompt: Put the prompt in the task's OpenLineage facet (``apiframe_job``); by
        default it is left out (see docs/operations.md, Lineage).
    """

    template_fields: Sequence[str] = ("idempotency_key", "output_path")
    ui_color = "#e8f0fe"
    operator_extra_links: Collection[BaseOperatorLink] = (ApiframeImageLink(),)
    #: The first result file, for the extra link.
    first_image_url: str | None = None
    #: The worst case of this task's request, when a budget is set (``max_credits``).
    estimated_credits: float | None = None
    #: Dotted paths, within :meth:`request_values`, of the values that are input media, with their kind.
    media_input_paths: tuple[tuple[str, Kind], ...] = ()
    #: The job this try submitted or re-attached to, once it exists.
    job_id: str | None = None
    #: The result this task returned, once its job ended (for lineage).
    last_result: dict[str, Any] | None = None

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
        max_credits: float | None = None,
        renew_expired: bool = False,
        lineage_prompt: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.renew_expired = renew_expired
        self.lineage_prompt = lineage_prompt
        self.apiframe_conn_id = apiframe_conn_id
        self.idempotency_key = idempotency_key
        self.output_path = output_path
        self.output_conn_id = output_conn_id
        self.deferrable = deferrable
        self.wait_for_completion = wait_for_completion
        self.poll_interval = check_duration("poll_interval", poll_interval)
        self.timeout = check_duration("timeout", timeout)
        self.max_credits = check_max_credits(max_credits)

    @cached_property
    def hook(self) -> ApiframeHook:
        """The hook for :attr:`apiframe_conn_id`."""
        return ApiframeHook(apiframe_conn_id=self.apiframe_conn_id)

    def request_values(self) -> dict[str, Any]:
        """The (rendered) values the request is built from, including ``idempotency_key``."""
        raise NotImplementedError

    def build_call(self, values: dict[str, Any]) -> ApiCall[JobAccepted]:
        """
        Validate ``values`` and build the job-creating call; no I/O.

        :param values: :meth:`request_values`, input media already replaced by URLs or placeholders.
        """
        raise NotImplementedError

    def execute(self, context: Context) -> dict[str, Any]:
        """Validate, upload local inputs, submit, then wait (deferred or not) and return the result."""
        deadline = clock.now() + self.timeout
        with fail_fast_on_bad_input():
            output_target(self)
            values, local_images = stage_inputs(self.request_values(), self.media_input_paths)
            call = self.build_call(values)
            self.estimated_credits = self._worst_case(call)
            job = self._submit_or_reattach(call, local_images, context, deadline)
        self.job_id = job.id
        context["ti"].xcom_push(key="job_id", value=job.id)
        if is_terminal(job):
            return self.finish(job, context)
        if not self.wait_for_completion:
            return {**job_result(job), "files": [], "estimated_credits": self.estimated_credits}
        if self.deferrable:
            resume_with = None if self.max_credits is None else {"estimated_credits": self.estimated_credits}
            defer_until_done(
                self, job.id, self.apiframe_conn_id, deadline, self.poll_interval, context, resume_with
            )
        job = self.hook.wait_for_job(
            job.id, timeout=deadline - clock.now(), poll_interval=self.poll_interval, poll_now=False
        )
        return self.finish(job, context)

    def execute_complete(
        self, context: Context, event: Any = None, estimated_credits: float | None = None
    ) -> dict[str, Any]:
        """
        Resume after the trigger fired: return the result, or fail with the trigger's reason.

        :param event: The trigger's event.
        :param estimated_credits: The request's worst case, worked out before deferring.
        """
        self.estimated_credits = estimated_credits
        job = resumed_job(self, context, event)
        return self.execute(context) if job is None else self.finish(job, context)

    def on_kill(self) -> None:
        """Killed in the worker: the job goes on at Apiframe; say so, and that a retry re-attaches."""
        if self.job_id is not None:
            self.log.warning("%s", killed_message([self.job_id]))

    def finish(self, job: Job, context: Context) -> dict[str, Any]:
        """
        Return the result of a job that has ended, saving its images if asked; fail if it did not complete.

        :param job: The job, in a terminal status.
        :param context: The task's context (for Asset events).
        """
        result = finish(self, job, context)
        if self.max_credits is not None:
            self.log.info(
                "Apiframe job %s spent %s credit(s); its worst case was %s, the budget %g",
                job.id,
                job.credit_cost,
                # ``airflow dags test`` (3.3) resumes without the kwargs the task deferred with
                "unknown" if self.estimated_credits is None else f"{self.estimated_credits:g}",
                self.max_credits,
            )
        return result

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Lineage:
        """
        The task's lineage (OpenLineage provider only): input media as given, files saved, the job.

        :param task_instance: The task instance that ran.
        """
        from airflow_provider_apiframe.operators.lineage import job_lineage  # the optional provider

        return job_lineage(self, task_instance)

    def _worst_case(self, call: ApiCall[JobAccepted]) -> float | None:
        """Refuse a request over ``max_credits`` before it is sent; return its worst case (with a budget)."""
        if self.max_credits is None:
            return None
        estimate = worst_case(call.json or {}, call.path, self.hook.list_models())
        check_budget(estimate, self.max_credits)
        self.log.info(
            "The request may cost up to %g credits (%s); the budget is %g",
            estimate.credits,
            estimate.how,
            self.max_credits,
        )
        return estimate.credits

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

    def _submit_or_reattach(
        self,
        call: ApiCall[JobAccepted],
        local_images: dict[str, LocalFile],
        context: Context,
        deadline: float,
    ) -> Job:
        """Re-attach to the job an earlier try recorded for this request, or submit one and record it."""
        ti = context["ti"]
        # Derived from the request as validated: local inputs count by content, not by upload URL.
        request = call.idempotency_key or derive_key(
            dag_id=ti.dag_id,
            task_id=ti.task_id,
            run_id=ti.run_id,
            map_index=-1 if ti.map_index is None else ti.map_index,
            body=call.json or {},
        )
        recorded = recorded_job_id(context, request)
        job, base_key = None, request
        if recorded is not None:
            job, base_key = reattach(
                self.hook,
                recorded,
                request,
                renew_expired=self.renew_expired,
                deadline=deadline,
                log=self.log,
            )
        if job is None:
            job = self._submit(call, local_images, context, deadline, base_key)
            record_job(context, job.id, request)
        return job

    def _submit(
        self,
        call: ApiCall[JobAccepted],
        local_images: dict[str, LocalFile],
        context: Context,
        deadline: float,
        base_key: str,
    ) -> Job:
        """Upload local inputs and submit under the task instance's key sequence, from ``base_key``."""
        ti = context["ti"]
        call = upload_inputs(self.hook, call, local_images, self.log)
        keys = KeySequence(base_key, try_number=ti.try_number)
        while True:
            key = keys.key
            accepted = self.hook.submit_job(dataclasses.replace(call, idempotency_key=key), deadline=deadline)
            metrics.job_submitted((call.json or {}).get("model"), self.apiframe_conn_id)
            job = self._job_after_submitting(accepted, call, deadline)
            if not keys.move_on(job.known_status):
                self.log.info(
                    "Apiframe job %s is %s (model %s, idempotency key %s)", job.id, job.status, job.model, key
                )
                return job
            self.log.info(
                "Apiframe job %s (key %s) ended %s without charge; submitting a new job, next key.",
                job.id,
                key,
                job.status,
            )
