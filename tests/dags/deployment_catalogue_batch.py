"""
Forty GPT Image items in one ``ApiframeBatchOperator`` task: the workload of the batch crash test.

Its results and ``manifest.jsonl`` go to ``$APIFRAME_EXAMPLE_OUTPUT/catalogue_batch/<run_id>/``,
which the deployment test reads.
"""

from __future__ import annotations

import os
from datetime import timedelta

from airflow.sdk import DAG

from airflow_provider_apiframe.operators.batch import ApiframeBatchOperator

OUTPUT = os.environ.get("APIFRAME_EXAMPLE_OUTPUT", "/tmp/apiframe-example-images")
ITEMS = 40

with DAG(
    dag_id="deployment_catalogue_batch",
    schedule=None,
    catchup=False,
    default_args={"retries": 2, "retry_delay": timedelta(seconds=2)},
) as dag:
    ApiframeBatchOperator(
        task_id="catalogue",
        requests=[
            {
                "key": f"sku-{n:03d}",
                "model": "gpt-image-1.5",
                "prompt": f"A studio product photo of catalogue item {n}",
                "model_params": {"quality": "low"},
            }
            for n in range(ITEMS)
        ],
        output_path=OUTPUT + "/catalogue_batch/{{ run_id }}",
        poll_interval=2,
    )
