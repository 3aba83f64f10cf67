"""
The whole Apiframe image catalogue from one DAG, and a sensor for jobs submitted elsewhere.

- ``ApiframeImageGenerateOperator`` runs any of the 51 generation models: pass ``model`` and its
  parameters as ``model_params`` (sent under the model's ``<family>Params`` key).
- ``GptImage2GenerateOperator`` is GPT Image 2 with typed arguments.
- Edit, upscale and background removal have their own operators with the same lifecycle.
- ``wait_for_completion=False`` submits and returns; ``ApiframeJobSensor`` waits for the job.
"""

from __future__ import annotations

import os
from datetime import timedelta

from airflow.sdk import DAG

from airflow_provider_apiframe.operators.gpt_image import GptImage2GenerateOperator
from airflow_provider_apiframe.operators.image import (
    ApiframeImageBackgroundRemoveOperator,
    ApiframeImageEditOperator,
    ApiframeImageGenerateOperator,
    ApiframeImageUpscaleOperator,
)
from airflow_provider_apiframe.sensors.job import ApiframeJobSensor

OUTPUT = os.environ.get("APIFRAME_EXAMPLE_OUTPUT", "/tmp/apiframe-example-images")
DEFERRABLE = os.environ.get("APIFRAME_EXAMPLE_DEFERRABLE", "true").lower() != "false"


def first_image(task_id: str) -> str:
    """Template for the first image URL returned by ``task_id``."""
    return "{{ ti.xcom_pull(task_ids='" + task_id + "')['images'][0] }}"


with DAG(
    dag_id="apiframe_models",
    schedule=None,
    catchup=False,
    tags=["apiframe", "example"],
    default_args={
        "retries": 2,
        "retry_delay": timedelta(seconds=10),
        "deferrable": DEFERRABLE,
        "output_path": f"{OUTPUT}/models",
    },
    doc_md=__doc__,
) as dag:
    flux = ApiframeImageGenerateOperator(
        task_id="flux_poster",
        model="flux-2-pro",
        prompt="A mid-century travel poster of Lisbon trams at sunset",
        model_params={"aspect_ratio": "2:3"},
    )
    nano_banana = ApiframeImageGenerateOperator(
        task_id="nano_banana_scene",
        model="nano-banana-pro",
        prompt="A cozy reading nook with a cat, watercolor",
        model_params={"resolution": "1K", "output_format": "png"},
    )
    ideogram = ApiframeImageGenerateOperator(
        task_id="ideogram_logo",
        model="ideogram-v3-quality",
        prompt="A flat logo for a bakery called 'Crumb & Co'",
    )
    gpt_image_2 = GptImage2GenerateOperator(
        task_id="gpt_image_2_product",
        prompt="A studio photo of a ceramic mug on a plain backdrop",
        background="opaque",
        moderation="auto",
        output_format="png",
    )
    upscale = ApiframeImageUpscaleOperator(
        task_id="upscale_poster",
        model="topaz-image-upscale",
        model_params={"image": first_image("flux_poster"), "upscale_factor": 2},
    )
    cutout = ApiframeImageBackgroundRemoveOperator(
        task_id="cut_out_mug",
        model="bria-bg-remove",
        model_params={"image": first_image("gpt_image_2_product")},
    )
    edit = ApiframeImageEditOperator(
        task_id="outpaint_scene",
        model_params={
            "image": first_image("nano_banana_scene"),
            "prompt": "Extend the room to the left with a bookshelf",
            "mode": "outpaint",
            "outpaint": "Left outpaint",
        },
    )

    # Submit without waiting (e.g. to fan out), then wait for the job with a sensor.
    submitted = ApiframeImageGenerateOperator(
        task_id="submit_only",
        model="seedream-4",
        prompt="An isometric city block at night",
        wait_for_completion=False,
    )
    wait = ApiframeJobSensor(
        task_id="wait_for_submitted_job",
        job_id="{{ ti.xcom_pull(task_ids='submit_only', key='job_id') }}",
        timeout=1800,
    )

    flux >> upscale
    gpt_image_2 >> cutout
    nano_banana >> edit
    submitted >> wait
