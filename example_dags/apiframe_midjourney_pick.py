"""
A Midjourney grid, one of its four images picked by a person in Airflow's UI, then upsampled.

- ``grid``: Midjourney draws a 4-image grid (four result images);
- ``pick``: ``ApiframePickImageOperator`` (the standard provider's human-in-the-loop operator,
  Airflow 3.1+) shows the four images on the UI's *Required Actions* page and waits for a person to
  choose ``Image 1`` ... ``Image 4``; unanswered after ``APIFRAME_EXAMPLE_PICK_TIMEOUT`` seconds
  (an hour by default), it takes ``Image 1``;
- ``upsample``: ``ApiframeMidjourneyActionOperator`` upsamples the chosen image of the grid.
"""

from __future__ import annotations

import os
from datetime import timedelta

from airflow.sdk import DAG

from airflow_provider_apiframe.operators.actions import ApiframeMidjourneyActionOperator
from airflow_provider_apiframe.operators.image import ApiframeImageGenerateOperator
from airflow_provider_apiframe.operators.pick import ApiframePickImageOperator

OUTPUT = os.environ.get("APIFRAME_EXAMPLE_OUTPUT", "/tmp/apiframe-example-images")
DEFERRABLE = os.environ.get("APIFRAME_EXAMPLE_DEFERRABLE", "true").lower() != "false"
PICK_TIMEOUT = timedelta(seconds=float(os.environ.get("APIFRAME_EXAMPLE_PICK_TIMEOUT", "3600")))

with DAG(
    dag_id="apiframe_midjourney_pick",
    schedule=None,
    catchup=False,
    tags=["apiframe", "example", "human-in-the-loop"],
    default_args={"retries": 2, "retry_delay": timedelta(seconds=10), "deferrable": DEFERRABLE},
    doc_md=__doc__,
) as dag:
    grid = ApiframeImageGenerateOperator(
        task_id="grid",
        model="midjourney",
        prompt="A lighthouse on a cliff at dusk, watercolour, warm light in the window",
        model_params={"aspect_ratio": "3:2"},
        output_path=f"{OUTPUT}/midjourney_pick/grid",
    )

    pick = ApiframePickImageOperator(
        task_id="pick",
        result=grid.output,
        subject="Which lighthouse should be upsampled?",
        body="Midjourney drew four images for job `{{ ti.xcom_pull(task_ids='grid')['job_id'] }}`. "
        "Pick one to upsample.",
        defaults="Image 1",
        response_timeout=PICK_TIMEOUT,
        # A person's answer is not retried: a retry would ask again.
        retries=0,
    )

    upsample = ApiframeMidjourneyActionOperator(
        task_id="upsample",
        action="upsample",
        index=pick.output["index"],
        parent_job_id=grid.output["job_id"],
        output_path=f"{OUTPUT}/midjourney_pick/upsampled",
    )
