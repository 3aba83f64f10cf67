"""Lineage end to end: a job with local inputs, a sensor on it and a small batch (see tests/e2e)."""

from __future__ import annotations

import os
from pathlib import Path

from airflow.sdk import DAG, ObjectStoragePath

from airflow_provider_apiframe.operators.batch import ApiframeBatchOperator
from airflow_provider_apiframe.operators.gpt_image import GptImageGenerateOperator
from airflow_provider_apiframe.sensors.job import ApiframeJobSensor

INPUTS = Path(__file__).resolve().parents[2] / "example_dags" / "inputs"
OUTPUT = os.environ.get("APIFRAME_EXAMPLE_OUTPUT", "/tmp/apiframe-example-images") + "/lineage"

with DAG(dag_id="apiframe_lineage", schedule=None, catchup=False) as dag:
    edit = GptImageGenerateOperator(
        task_id="edit",
        prompt="A private prompt: put the watch on the wrist in the portrait",
        input_images=[str(INPUTS / "portrait.jpg"), ObjectStoragePath(f"file://{INPUTS / 'product.png'}")],
        quality="low",
        output_path=f"{OUTPUT}/edit",
        max_credits=100,
        # Waits in the worker: ``airflow dags test`` resumes a deferred task with its event alone,
        # dropping the kwargs it deferred with (here, the worst case).
        deferrable=False,
        poll_interval=0.5,
    )
    again = ApiframeJobSensor(  # deferrable: resumes on a fresh operator instance
        task_id="again", job_id=edit.output["job_id"], output_path=f"{OUTPUT}/again", poke_interval=0.5
    )
    batch = ApiframeBatchOperator(
        task_id="batch",
        requests=[
            {"key": "red", "model": "flux-2-pro", "prompt": "A red mug, opted in"},
            {
                "key": "blue",
                "model": "gpt-image-1.5",
                "prompt": "A blue mug",
                "model_params": {"quality": "low"},
            },
        ],
        output_path=f"{OUTPUT}/batch",
        poll_interval=0.5,
        lineage_prompt=True,
    )
    edit >> again
