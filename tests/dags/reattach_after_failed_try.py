"""
One GPT Image task with quick retries: the tests make its first try fail after submitting.

Two retries, not one: under a full deployment's load Airflow can lose a resumed deferred task
(apache/airflow#67287), which costs a try of its own; the scenario is about the try after the crash.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import DAG

from airflow_provider_apiframe.operators.gpt_image import GptImageGenerateOperator

with DAG(dag_id="reattach_after_failed_try", schedule=None, catchup=False) as dag:
    GptImageGenerateOperator(
        task_id="draw",
        prompt="A lighthouse at dawn, watercolor",
        output_format="png",
        retries=2,
        retry_delay=timedelta(seconds=1),
    )
