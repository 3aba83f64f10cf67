"""Wait for an Apiframe job submitted elsewhere (or with ``wait_for_completion=False``)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperatorLink, BaseSensorOperator, ObjectStoragePath, PokeReturnValue

from airflow_provider_apiframe.core import clock
from airflow_provider_apiframe.core.outcomes import is_terminal
from airflow_provider_apiframe.core.validation import check_job_id
from airflow_provider_apiframe.hooks.apiframe import ApiframeHook
from airflow_provider_apiframe.operators.deferral import defer_until_done, resumed_job
from airflow_provider_apiframe.operators.errors import fail_fast_on_bad_input, timeouts_as_sensor_timeouts
from airflow_provider_apiframe.operators.links import ApiframeImageLink
from airflow_provider_apiframe.operators.results import finish, output_target

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_apiframe.core.models import Job
    from airflow_provider_apiframe.operators.lineage import Lineage


class ApiframeJobSensor(BaseSensorOperator):
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
    operator_extra_links: Collection[BaseOperatorLink] = (ApiframeImageLink(),)
    #: The first result image, for the extra link.
    first_image_url: str | None = None
    #: The result this task returned, once the job ended (for lineage).
    last_result: dict[str, Any] | None = None

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

    @cached_property
    def hook(self) -> ApiframeHook:
        """The hook for :attr:`apiframe_conn_id`."""
        return ApiframeHook(apiframe_conn_id=self.apiframe_conn_id)

    def execute(self, context: Context) -> Any:
        """Check the job once; defer to the trigger if it is still running (deferrable mode)."""
        with fail_fast_on_bad_input():
            check_job_id(self.job_id)
            output_target(self)
        if not self.deferrable:
            return super().execute(context)
        deadline = clock.now() + self.timeout
        job = self.hook.get_job(self.job_id, deadline=deadline)
        if is_terminal(job):
            return self.finish(job, context)
        defer_until_done(self, job.id, self.apiframe_conn_id, deadline, self.poke_interval, context)

    def execute_complete(self, context: Context, event: Any = None) -> dict[str, Any]:
        """Resume after the trigger fired; a timeout is a sensor timeout (so ``soft_fail`` skips)."""
        with timeouts_as_sensor_timeouts():
            job = resumed_job(self, context, event)
            return self.execute(context) if job is None else self.finish(job, context)

    def finish(self, job: Job, context: Context) -> dict[str, Any]:
        """
        Return the result of a job that has ended, as the job operators do.

        :param job: The job, in a terminal status.
        :param context: The task's context (for Asset events).
        """
        return finish(self, job, context)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Lineage:
        """
        The task's lineage (OpenLineage provider only): the files saved and the job.

        :param task_instance: The task instance that ran.
        """
        from airflow_provider_apiframe.operators.lineage import sensor_lineage  # the optional provider

        return sensor_lineage(self, task_instance)

    def poke(self, context: Context) -> PokeReturnValue | bool:
        """Check the job once: done (with its result) once it has ended."""
        job = self.hook.get_job(self.job_id)
        if not is_terminal(job):
            self.log.info("Apiframe job %s is %s (%s%%)", job.id, job.status, job.progress)
            return False
        return PokeReturnValue(is_done=True, xcom_value=self.finish(job, context))
