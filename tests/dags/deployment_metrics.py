"""
The workload of the StatsD metrics test: three jobs that complete, one the API fails (the ``[failed]``
marker), and a batch of two; no retries, so every task instance submits once and the counters can be
compared with the emulator's ledger job for job.
"""

from __future__ import annotations

import os

from airflow.sdk import DAG

from airflow_provider_apiframe.operators.batch import ApiframeBatchOperator
from airflow_provider_apiframe.operators.gpt_image import GptImageGenerateOperator

OUTPUT = os.environ.get("APIFRAME_EXAMPLE_OUTPUT", "/tmp/apiframe-example-images")

with DAG(dag_id="deployment_metrics", schedule=None, catchup=False, default_args={"retries": 0}) as dag:
    for quality in ("low", "medium", "high"):
        GptImageGenerateOperator(
            task_id=f"draw_{quality}", prompt=f"A metrics drill, {quality}", quality=quality, poll_interval=2
        )
    GptImageGenerateOperator(task_id="refused", prompt="A metrics drill [failed]", poll_interval=2)
    ApiframeBatchOperator(
        task_id="batch",
        requests=[
            {
                "key": "a",
                "model": "gpt-image-1.5",
                "prompt": "A metrics batch",
                "model_params": {"quality": "low"},
            },
            {"key": "b", "model": "flux-2-pro", "prompt": "A metrics batch"},
        ],
        output_path=OUTPUT + "/metrics/{{ run_id }}",
        poll_interval=2,
    )
