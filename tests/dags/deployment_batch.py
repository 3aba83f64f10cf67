"""Four GPT Image tasks (mapped) with a quick retry: the workload of the crash and restart tests."""

from __future__ import annotations

import os
from datetime import timedelta

from airflow.sdk import DAG

from airflow_provider_apiframe.operators.gpt_image import GptImageGenerateOperator

OUTPUT = os.environ.get("APIFRAME_EXAMPLE_OUTPUT", "/tmp/apiframe-example-images")

with DAG(
    dag_id="deployment_batch",
    schedule=None,
    catchup=False,
    default_args={"retries": 1, "retry_delay": timedelta(seconds=2)},
) as dag:
    GptImageGenerateOperator.partial(
        task_id="draw",
        output_format="png",
        output_path=OUTPUT + "/{{ run_id }}",
        poll_interval=2,
    ).expand(prompt=[f"A lighthouse, study {n}" for n in range(1, 5)])
