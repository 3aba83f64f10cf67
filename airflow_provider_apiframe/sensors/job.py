"""Wait for an Apiframe job submitted elsewhere (or with ``wait_for_completion=False``)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, ObjectStoragePath, PokeReturnValue

from airflow_provider_apiframe._compat import AirflowSensorTimeout
from airflow_provider_apiframe.core.errors import ApiframeJobTimeoutError
from airflow_provider_apiframe.core.jobs import is_terminal
from airflow_provider_apiframe.core.validation import check_job_id
from airflow_provider_apiframe.hooks.apiframe import ApiframeHook
from airflow_provider_apiframe.operators.base import JobResultMixin, fail_fast_on_bad_input

if TYPE_CHECKING:
    from airflow.sdk import Context


class ApiframeJobSensor(JobResultMixin, BaseSensorOperator):
    """
    Wait until an Apiframe job ends and return its result, like the job operators do.

    Deferrable by default: it checks the job once in the worker and, if it is still running,
    waits in the triggerer. With ``deferrable=False`` it pokes every ``poke_interval`` seconds
    (in ``poke`` or ``reschedule`` mode, as any sensor). A FAILED or CANCELLED job fails the task
    with the API's error; ``timeout`` (a sensor argument) bounds the wait.

    :param job_id: The job to wait for (templated).
    :param apiframe_conn_id: The Apiframe connection.
    :param output_path: Where to save the result images (templated); see
        :class:`~airflow_provider_apiframe.operators.base.ApiframeJobOperator`.
    :param output_conn_id: Connection for an object-store ``output_path`` given as a string.
    :param deferrable: Wait in the triggerer (default).
    :param poke_interval: Seconds between checks; in deferrable mode, the longest wait between polls.
    """

    template_fields: Sequence[str] = ("job_id", "output_path")
    ui_color = "#e8f0fe"

    def __init__(
        self,
        *,
        job_id: str,
        apiframe_conn_id: str = ApiframeHook.default_conn_name,
        output_path: str | ObjectStoragePath | None = None,
        output_conn_id: str | None = None,
        deferrable: bool = True,
        poke_interval: float | timedelta = 5.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(poke_interval=poke_interval, **kwargs)
        self.job_id = job_id
        self.apiframe_conn_id = apiframe_conn_id
        self.output_path = output_path
        self.output_conn_id = output_conn_id
        self.deferrable = deferrable

    def execute(self, context: Context) -> Any:
        """Check the job once; defer to the trigger if it is still running (deferrable mode)."""
        with fail_fast_on_bad_input():
            check_job_id(self.job_id)
            self.output_target()
        if not self.deferrable:
            return super().execute(context)
        deadline = time.time() + self.timeout
        job = self.hook.get_job(self.job_id, deadline=deadline)
        if is_terminal(job):
            return self.finish(job, context)
        self.defer_until_done(job.id, deadline=deadline, poll_interval=self.poke_interval, context=context)

    def execute_complete(self, context: Context, event: Any = None) -> dict[str, Any]:
        """Resume after the trigger fired; a timeout is a sensor timeout (so ``soft_fail`` skips)."""
        try:
            return super().execute_complete(context, event)
        except ApiframeJobTimeoutError as exc:
            raise AirflowSensorTimeout(str(exc)) from None

    def poke(self, context: Context) -> PokeReturnValue | bool:
        """Check the job once: done (with its result) once it has ended."""
        job = self.hook.get_job(self.job_id)
        if not is_terminal(job):
            self.log.info("Apiframe job %s is %s (%s%%)", job.id, job.status, job.progress)
            return False
        return PokeReturnValue(is_done=True, xcom_value=self.finish(job, context))
