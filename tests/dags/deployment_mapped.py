"""
200 mapped GPT Image tasks with retries: Airflow's scheduler can lose a resumed deferred task on its
first try under load (apache/airflow#67287), and a retry re-attaches to the job already paid for.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import DAG

from airflow_provider_apiframe.operators.gpt_image import GptImageGenerateOperator

with DAG(
    dag_id="deployment_mapped",
    schedule=None,
    catchup=False,
    default_args={"retries": 3, "retry_delay": timedelta(seconds=2)},
) as dag:
    GptImageGenerateOperator.partial(task_id="draw", quality="low", poll_interval=2).expand(
        prompt=[f"A product shot, variant {n}" for n in range(200)]
    )
