"""
100 mapped, deferrable GPT Image tasks: the mapped workload of tests/deployment/test_celery_fleet.py.

Each prompt names its map index, so the test can tell each result's job is its own. A task whose
worker is killed is retried (heartbeat timeout, then ``retries``) and re-attaches to its job.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import DAG

from airflow_provider_apiframe.operators.gpt_image import GptImageGenerateOperator

TASKS = 100
PROMPTS = [f"A fleet drill, mapped task {n:03d}" for n in range(TASKS)]

with DAG(
    dag_id="deployment_celery_mapped",
    schedule=None,
    catchup=False,
    max_active_tasks=TASKS,
    default_args={"retries": 3, "retry_delay": timedelta(seconds=2)},
) as dag:
    GptImageGenerateOperator.partial(task_id="draw", quality="low", poll_interval=2).expand(prompt=PROMPTS)
