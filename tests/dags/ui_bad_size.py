"""
A GPT Image task with a size the API does not offer, for the UI tier (tests/ui): the task fails
before anything is sent, and its log's first error names the field and what is allowed.
"""

from __future__ import annotations

from airflow.sdk import DAG

from airflow_provider_apiframe.operators.gpt_image import GptImageGenerateOperator

with DAG(dag_id="ui_bad_size", schedule=None, catchup=False, tags=["apiframe", "ui-test"]) as dag:
    GptImageGenerateOperator(
        task_id="wrong_aspect_ratio",
        prompt="A watercolour lighthouse at dusk.",
        aspect_ratio="4:3",
        retries=0,
    )
