"""Two tasks making the same 15 s job: one deferred to the triggerer, one waiting in its worker."""

from __future__ import annotations

from airflow.sdk import DAG

from airflow_provider_apiframe.operators.gpt_image import GptImageGenerateOperator

with DAG(dag_id="worker_slot", schedule=None, catchup=False) as dag:
    for deferrable in (True, False):
        GptImageGenerateOperator(
            task_id="deferred" if deferrable else "in_worker",
            prompt=f"A product shot, {'deferred' if deferrable else 'in the worker'}",
            deferrable=deferrable,
        )
