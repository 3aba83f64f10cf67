"""One GPT Image task with a quick retry: the end-to-end test makes its first try fail after submitting."""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import DAG

from airflow_provider_apiframe.operators.gpt_image import GptImageGenerateOperator

with DAG(dag_id="reattach_after_failed_try", schedule=None, catchup=False) as dag:
    GptImageGenerateOperator(
        task_id="draw",
        prompt="A lighthouse at dawn, watercolor",
        output_format="png",
        retries=1,
        retry_delay=timedelta(seconds=1),
    )
