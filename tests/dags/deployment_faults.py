"""
One task per job fault the API can produce; the reliability tests tell the emulator which prompt gets
which fate (the ``[...]`` markers) and storm the triggerer's polls with HTTP faults meanwhile.
"""

from __future__ import annotations

import os

from airflow.sdk import DAG

from airflow_provider_apiframe.operators.gpt_image import GptImageGenerateOperator

OUTPUT = os.environ.get("APIFRAME_EXAMPLE_OUTPUT", "/tmp/apiframe-example-images")
FATES = {
    "survives_http_storms": "",
    "string_result": "[string-result]",
    "content_policy_failure": "[failed]",
    "cancelled": "[cancelled]",
    "never_finishes": "[never]",
    "unknown_status": "[unknown-status]",
    "unknown_result_shape": "[unknown-result]",
    "expired_result": "[expired]",
}

with DAG(dag_id="deployment_faults", schedule=None, catchup=False, default_args={"retries": 0}) as dag:
    for task_id, marker in FATES.items():
        GptImageGenerateOperator(
            task_id=task_id,
            prompt=f"A fault drill {marker}".strip(),
            output_path=f"{OUTPUT}/faults",
            poll_interval=2,
            timeout=40 if task_id == "never_finishes" else 240,
        )
