"""
The same 15 s job three ways: deferred, waiting in its worker, and Airflow's own deferral alone.

The third task does nothing but defer to Airflow's ``TimeDeltaTrigger`` for as long: what a
deferral costs whatever the operator.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.providers.standard.triggers.temporal import TimeDeltaTrigger
from airflow.sdk import DAG, BaseOperator

from airflow_provider_apiframe.operators.gpt_image import GptImageGenerateOperator


class DeferOnly(BaseOperator):
    """Defer to Airflow's own trigger at once, then end: the cost of deferring, nothing else."""

    def execute(self, context: Any) -> None:
        self.defer(trigger=TimeDeltaTrigger(timedelta(seconds=15)), method_name="resume")

    def resume(self, context: Any, event: Any = None) -> None:
        """Nothing to do after the wait."""


with DAG(dag_id="worker_slot", schedule=None, catchup=False, max_active_tasks=1) as dag:
    deferred = GptImageGenerateOperator(task_id="deferred", prompt="A product shot, deferred")
    in_worker = GptImageGenerateOperator(
        task_id="in_worker", prompt="A product shot, in the worker", deferrable=False
    )
    airflow_only = DeferOnly(task_id="airflow_defer_only")
    deferred >> in_worker >> airflow_only
