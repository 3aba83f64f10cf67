"""
``$BENCH_ITEMS`` mapped deferrable GPT Image tasks, one per image: the baseline of the batch benchmark.

The prompts and parameters are those of the batch's items (``benchmarks/batch_vs_mapped.py``).
"""

from __future__ import annotations

import os
from datetime import timedelta

from airflow.sdk import DAG

from airflow_provider_apiframe.operators.gpt_image import GptImageGenerateOperator

OUTPUT = os.environ.get("APIFRAME_EXAMPLE_OUTPUT", "/tmp/apiframe-bench-images")
ITEMS = int(os.environ.get("BENCH_ITEMS", "20"))

with DAG(
    dag_id="bench_mapped",
    schedule=None,
    catchup=False,
    default_args={"retries": 3, "retry_delay": timedelta(seconds=2)},
) as dag:
    GptImageGenerateOperator.partial(
        task_id="render",
        quality="low",
        output_path=OUTPUT + "/bench_mapped/{{ run_id }}",
        poll_interval=2,
    ).expand(prompt=[f"A studio product photo, catalogue item {n}" for n in range(ITEMS)])
