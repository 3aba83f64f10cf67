"""
A Midjourney grid, the chosen variant upsampled.

- ``grid``: Midjourney draws a 4-image grid (four result images);
- ``choose``: picks one (here from the run's ``choice`` param, 1-4; a human-in-the-loop step or a
  scoring model would go here);
- ``upsample``: ``ApiframeMidjourneyActionOperator`` upsamples the chosen image of the grid,
  acting on the grid's job id from its XCom.
"""

from __future__ import annotations

import os
from datetime import timedelta

from airflow.sdk import DAG, Param, task

from airflow_provider_apiframe.operators.actions import ApiframeMidjourneyActionOperator
from airflow_provider_apiframe.operators.image import ApiframeImageGenerateOperator

OUTPUT = os.environ.get("APIFRAME_EXAMPLE_OUTPUT", "/tmp/apiframe-example-images")
DEFERRABLE = os.environ.get("APIFRAME_EXAMPLE_DEFERRABLE", "true").lower() != "false"

with DAG(
    dag_id="apiframe_midjourney",
    schedule=None,
    catchup=False,
    tags=["apiframe", "example"],
    params={"choice": Param(3, type="integer", minimum=1, maximum=4)},
    default_args={"retries": 2, "retry_delay": timedelta(seconds=10), "deferrable": DEFERRABLE},
    doc_md=__doc__,
) as dag:
    grid = ApiframeImageGenerateOperator(
        task_id="grid",
        model="midjourney",
        prompt="A lighthouse on a cliff at dusk, watercolour, warm light in the window",
        model_params={"aspect_ratio": "3:2"},
        output_path=f"{OUTPUT}/midjourney/grid",
    )

    @task
    def choose(result: dict, params: dict | None = None) -> int:
        """Pick the variant to upsample: 1-4, in the grid's order."""
        choice = int((params or {}).get("choice", 3))
        print(f"Upsampling image {choice} of {len(result['images'])}: {result['images'][choice - 1]}")
        return choice

    upsample = ApiframeMidjourneyActionOperator(
        task_id="upsample",
        action="upsample",
        index=choose(grid.output),
        parent_job_id=grid.output["job_id"],
        output_path=f"{OUTPUT}/midjourney/upsampled",
    )
