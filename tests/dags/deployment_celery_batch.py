"""
500 GPT Image items in one ``ApiframeBatchOperator`` task: the Celery fleet's batch workload.

Its files and ``manifest.jsonl`` go to ``$APIFRAME_EXAMPLE_OUTPUT/celery_batch/<run_id>/``, which
tests/deployment/test_celery_fleet.py reads.
"""

from __future__ import annotations

import os
from datetime import timedelta

from airflow.sdk import DAG

from airflow_provider_apiframe.operators.batch import ApiframeBatchOperator

OUTPUT = os.environ.get("APIFRAME_EXAMPLE_OUTPUT", "/tmp/apiframe-example-images")
ITEMS = 500

with DAG(
    dag_id="deployment_celery_batch",
    schedule=None,
    catchup=False,
    default_args={"retries": 3, "retry_delay": timedelta(seconds=2)},
) as dag:
    ApiframeBatchOperator(
        task_id="render",
        requests=[
            {
                "key": f"item-{n:03d}",
                "model": "gpt-image-1.5",
                "prompt": f"A fleet drill, batch item {n:03d}",
                "model_params": {"quality": "low"},
            }
            for n in range(ITEMS)
        ],
        output_path=OUTPUT + "/celery_batch/{{ run_id }}",
        max_failed_items=0,
        poll_interval=2,
        priority_weight=100,
    )
