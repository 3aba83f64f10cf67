"""The submit / defer / complete machinery every Apiframe job operator shares."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_apiframe._compat import AirflowFailException
from airflow_provider_apiframe.core.errors import (
    ApiframeBadRequestError,
    ApiframeConflictError,
    ApiframeError,
    ApiframeInvalidParamsError,
    ApiframeJobTimeoutError,
)
from airflow_provider_apiframe.core.idempotency import derive_key, nth_key
from airflow_provider_apiframe.core.jobs import completed_result, is_terminal, job_result
from airflow_provider_apiframe.core.models import Job, JobStatus
from airflow_provider_apiframe.hooks.apiframe import ApiframeHook
from airflow_provider_apiframe.triggers.job import ApiframeJobTrigger, JobEvent

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_apiframe.core.calls import ApiCall
    from airflow_provider_apiframe.core.models import JobAccepted

#: A job that ended like this was not charged, and replaying its key would return it again.
_REFUSED = (JobStatus.FAILED, JobStatus.CANCELLED)


class ApiframeJobOperator(BaseOperator):
    """
    Submit one Apiframe job from the worker, wait for it (in the triggerer by default), return its result.

    Subclasses only say what to send, in :meth:`build_call`. The result pushed to XCom is
    ``{"job_id", "status", "model", "images", "credit_cost", "progress"}``; the job id is also
    pushed under the key ``job_id`` as soon as the job exists.

    Retries never pay twice: every submission carries an ``Idempotency-Key``, by default derived
    from the DAG, task, run, map index and request body, so a retry re-attaches to the job already
    submitted. If that job ended FAILED or CANCELLED (uncharged), a retry moves on to the next key
    of a deterministic sequence and gets a new job.

    :param apiframe_conn_id: The Apiframe connection.
    :param idempotency_key: Overrides the derived key (templated). Retries still move to
        ``<key>~1``, ``<key>~2``... after a FAILED or CANCELLED job.
    :param deferrable: Wait in the triggerer (default) rather than in the worker. Needs a running
        triggerer.
    :param wait_for_completion: ``False`` returns right after submitting (``images`` is empty
        unless the job had already finished, e.g. on a retry).
    :param poll_interval: Longest wait between two status polls, in seconds (polls start at 2 s).
    :param timeout: Seconds, from the start of the task, before the wait fails with a timeout.
        The job itself keeps running at Apiframe; clearing the task re-attaches to it.
    """

    template_fields: Sequence[str] = ("idempotency_key",)
    ui_color = "#e8f0fe"

    def __init__(
        self,
        *,
        apiframe_conn_id: str = ApiframeHook.default_conn_name,
        idempotency_key: str | None = None,
        deferrable: bool = True,
        wait_for_completion: bool = True,
        poll_interval: float | timedelta = 5.0,
        timeout: float | timedelta = 1800.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.apiframe_conn_id = apiframe_conn_id
        self.idempotency_key = idempotency_key
        self.deferrable = deferrable
        self.wait_for_completion = wait_for_completion
        self.poll_interval = _seconds("poll_interval", poll_interval)
        self.timeout = _seconds("timeout", timeout)

    @cached_property
    def hook(self) -> ApiframeHook:
        """The hook for :attr:`apiframe_conn_id`."""
        return ApiframeHook(apiframe_conn_id=self.apiframe_conn_id)

    def build_call(self) -> ApiCall[JobAccepted]:
        """Validate the (rendered) arguments and build the job-creating call; no I/O."""
        raise NotImplementedError

    def execute(self, context: Context) -> dict[str, Any]:
        """Validate, submit, then wait (deferred or not) and return the result."""
        deadline = time.time() + self.timeout
        with _fail_fast_on_bad_input():
            call = self.build_call()
            job = self._submit(call, context, deadline)
        context["ti"].xcom_push(key="job_id", value=job.id)
        if is_terminal(job):
            return self._finish(job)
        if not self.wait_for_completion:
            return job_result(job)
        if self.deferrable:
            self.defer(
                trigger=ApiframeJobTrigger(
                    job.id,
                    deadline=deadline,
                    apiframe_conn_id=self.apiframe_conn_id,
                    poll_interval=self.poll_interval,
                ),
                method_name="execute_complete",
                timeout=None,  # the trigger enforces the deadline with a clean timeout event
            )
        job = self.hook.wait_for_job(
            job.id, timeout=deadline - time.time(), poll_interval=self.poll_interval, poll_now=False
        )
        return self._finish(job)

    def execute_complete(self, context: Context, event: Any = None) -> dict[str, Any]:
        """Resume after the trigger fired: return the result, or fail with the trigger's reason."""
        parsed = JobEvent.parse(event)
        if parsed.job is not None:
            return self._finish(Job.model_validate(parsed.job))
        if parsed.status == "timeout":
            raise ApiframeJobTimeoutError(parsed.message, job_id=parsed.job_id)
        raise ApiframeError(parsed.message)

    def _submit(self, call: ApiCall[JobAccepted], context: Context, deadline: float) -> Job:
        """Submit under the task instance's idempotency key sequence and check the job's status once."""
        ti = context["ti"]
        base_key = call.idempotency_key or derive_key(
            dag_id=ti.dag_id,
            task_id=ti.task_id,
            run_id=ti.run_id,
            map_index=-1 if ti.map_index is None else ti.map_index,
            body=call.json or {},
        )
        # Each earlier try of this task instance can have used up at most one key.
        keys_spent_before = max(ti.try_number - 1, 0)
        n = 0
        while True:
            key = nth_key(base_key, n)
            accepted = self.hook.submit_image_generation(
                dataclasses.replace(call, idempotency_key=key), deadline=deadline
            )
            job = self.hook.get_job(accepted.job_id, deadline=deadline)
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

    def _finish(self, job: Job) -> dict[str, Any]:
        result = completed_result(job)
        self.log.info(
            "Apiframe job %s COMPLETED: %d image(s), %s credit(s): %s",
            job.id,
            len(result["images"]),
            job.credit_cost,
            ", ".join(result["images"]),
        )
        return result


@contextmanager
def _fail_fast_on_bad_input() -> Iterator[None]:
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
