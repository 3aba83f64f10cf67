"""
One ``ApiframeBatchOperator`` task over the items file named in the run's conf (``items_file``).

``benchmarks/batch_vs_mapped.py`` writes the file (JSON Lines, streamed by the operator) and
triggers this DAG with it, so one DAG serves every batch size.
"""

from __future__ import annotations

import os
from datetime import timedelta

from airflow.sdk import DAG

from airflow_provider_apiframe.operators.batch import ApiframeBatchOperator

OUTPUT = os.environ.get("APIFRAME_EXAMPLE_OUTPUT", "/tmp/apiframe-bench-images")

with DAG(
    dag_id="bench_batch",
    schedule=None,
    catchup=False,
    default_args={"retries": 3, "retry_delay": timedelta(seconds=2)},
) as dag:
    ApiframeBatchOperator(
        task_id="render",
        requests="{{ dag_run.conf['items_file'] }}",
        output_path=OUTPUT + "/bench_batch/{{ run_id }}",
        poll_interval=2,
    )
