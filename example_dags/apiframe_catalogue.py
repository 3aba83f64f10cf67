"""
Render a small product catalogue: one mapped GPT Image task per product, then a summary.

``.partial().expand()`` gives each product its own task instance, its own job and its own
idempotency key, so a retry of one product never pays for another.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from airflow.sdk import DAG, task

from airflow_provider_apiframe.operators.gpt_image import GptImageGenerateOperator

PRODUCTS = [
    "a ceramic pour-over coffee dripper",
    "a pair of white running shoes",
    "a minimalist brass desk lamp",
]

# Tasks wait for their jobs in the triggerer. No triggerer running? Set
# APIFRAME_EXAMPLE_DEFERRABLE=false and they poll in the worker instead.
DEFERRABLE = os.environ.get("APIFRAME_EXAMPLE_DEFERRABLE", "true").lower() != "false"
# A folder per day the run was due (or triggered by hand: such runs have no logical date, no {{ ds }}).
OUTPUT = os.environ.get("APIFRAME_EXAMPLE_OUTPUT", "/tmp/apiframe-example-images")

with DAG(
    dag_id="apiframe_catalogue",
    schedule=None,
    catchup=False,
    tags=["apiframe", "example"],
    default_args={"retries": 2, "retry_delay": timedelta(seconds=10), "deferrable": DEFERRABLE},
    doc_md=__doc__,
) as dag:
    shots = GptImageGenerateOperator.partial(
        task_id="product_shot",
        aspect_ratio="1:1",
        quality="medium",
        background="transparent",
        output_format="png",
        output_path=OUTPUT + "/catalogue/{{ dag_run.run_after | ds }}",
    ).expand(
        prompt=[f"A studio product photo of {product} on a transparent background." for product in PRODUCTS]
    )

    @task
    def summarize(results: list[dict[str, Any]]) -> dict[str, Any]:
        """Total the credits and list every image of the catalogue."""
        return {
            "jobs": [r["job_id"] for r in results],
            "images": [url for r in results for url in r["images"]],
            "credit_cost": sum(r["credit_cost"] or 0 for r in results),
        }

    summarize(shots.output)
