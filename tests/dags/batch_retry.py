"""A batch with a quick retry: the end-to-end test makes its first try fail half-way through submitting."""

from __future__ import annotations

import os
from datetime import timedelta

from airflow.sdk import DAG

from airflow_provider_apiframe.operators.batch import ApiframeBatchOperator

with DAG(dag_id="batch_retry", schedule=None, catchup=False) as dag:
    ApiframeBatchOperator(
        task_id="render",
        requests=[
            {"key": f"mug-{n}", "model": "flux-2-pro", "prompt": f"A mug, variant {n}"} for n in range(8)
        ],
        output_path=os.environ.get("APIFRAME_EXAMPLE_OUTPUT", "/tmp/apiframe-example-images")
        + "/batch-retry",
        max_failed_items=1,
        concurrency=2,
        poll_interval=0.5,
        retries=1,
        retry_delay=timedelta(seconds=1),
    )
