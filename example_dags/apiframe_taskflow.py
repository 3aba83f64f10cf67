"""
The TaskFlow decorators: ``@task.apiframe_image`` and ``@task.apiframe_batch``.

A decorated function returns what to send: the prompt, a dict of the operator's arguments, or a
batch's items. The task then validates it, submits, defers to the triggerer while the job runs and
returns the same result as the operator. Here:

- ``city_poster`` is mapped over three cities (``.expand()``): one job, one result, per city;
- ``product_shot`` takes another task's XCom and returns the model, prompt and parameters; its
  prompt is a template, rendered like any templated argument;
- ``catalogue`` returns a whole batch, checked, submitted and saved by one task.

Files go under ``$APIFRAME_EXAMPLE_OUTPUT/taskflow/``.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from airflow.sdk import DAG, task

from airflow_provider_apiframe.decorators import apiframe_batch_task

# Tasks wait for their jobs in the triggerer. No triggerer running? Set
# APIFRAME_EXAMPLE_DEFERRABLE=false and they poll in the worker instead.
DEFERRABLE = os.environ.get("APIFRAME_EXAMPLE_DEFERRABLE", "true").lower() != "false"
OUTPUT = os.environ.get("APIFRAME_EXAMPLE_OUTPUT", "/tmp/apiframe-example-images")
CITIES = ["Lisbon", "Kyoto", "Valparaiso"]

with DAG(
    dag_id="apiframe_taskflow",
    schedule=None,
    catchup=False,
    tags=["apiframe", "example"],
    default_args={"retries": 2, "retry_delay": timedelta(seconds=10), "deferrable": DEFERRABLE},
    doc_md=__doc__,
) as dag:

    @task.apiframe_image(
        model="gpt-image-1.5",
        model_params={"aspect_ratio": "2:3", "quality": "low", "output_format": "png"},
        output_path=f"{OUTPUT}/taskflow/posters",
    )
    def city_poster(city: str) -> str:
        """The prompt: one poster per city."""
        return f"A vintage travel poster of {city}, bold flat colours, the city's name in large letters."

    posters = city_poster.expand(city=CITIES)

    @task
    def brief() -> dict[str, str]:
        """What the product shot shows (any upstream task's XCom)."""
        return {"product": "a ceramic pour-over coffee dripper", "surface": "a walnut countertop"}

    @task.apiframe_image(output_path=f"{OUTPUT}/taskflow/product")
    def product_shot(brief: dict[str, str]) -> dict[str, Any]:
        """The operator's arguments, from the brief; the prompt's template is rendered before it is sent."""
        return {
            "model": "flux-2-pro",
            "prompt": f"A studio photo of {brief['product']} on {brief['surface']}, "
            "shot on {{ dag_run.run_after | ds }}.",
            "model_params": {"aspect_ratio": "1:1"},
        }

    shot = product_shot(brief())

    # The typed form of @task.apiframe_batch (a plain import: editors and mypy check its arguments).
    @apiframe_batch_task(
        output_path=OUTPUT + "/taskflow/{{ run_id | replace(':', '_') }}/catalogue",
        max_credits=200,
        concurrency=4,
    )
    def catalogue(products: list[str]) -> list[dict[str, Any]]:
        """One item per product: each is checked before anything is sent."""
        return [
            {
                "key": product.replace(" ", "-"),
                "model": "gpt-image-1.5",
                "prompt": f"A studio product photo of a {product}, soft daylight.",
                "model_params": {"quality": "low", "output_format": "png"},
            }
            for product in products
        ]

    summary = catalogue(["brass desk lamp", "linen tote bag"])

    @task
    def report(
        posters: list[dict[str, Any]], shot: dict[str, Any], summary: dict[str, Any]
    ) -> dict[str, Any]:
        """What the decorated tasks returned: the operators' own results."""
        return {
            "posters": [poster["job_id"] for poster in posters],
            "product_shot": shot["job_id"],
            "catalogue": {key: summary[key] for key in ("items", "completed", "credits")},
        }

    report(posters, shot, summary)
