"""
A product shot becomes a short clip, then a sharper one.

- ``product_shot``: GPT Image places the watch beside this DAG (a local file, uploaded first) on
  a walnut desk and saves the picture;
- ``clip``: ``ApiframeVideoGenerateOperator`` turns that saved picture (a local path from the
  shot's XCom: uploaded first, as any local input) into a 5-second 16:9 video with Kling 2.6;
- ``upscale``: ``ApiframeVideoUpscaleOperator`` upscales the clip (its result URL) to 1080p.

Each video is streamed to ``output_path`` as ``<job_id>-<n>.mp4`` (the extension read from the
file's bytes); the result lists it under ``videos`` and ``files``.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from airflow.sdk import DAG

from airflow_provider_apiframe.operators.gpt_image import GptImageGenerateOperator
from airflow_provider_apiframe.operators.video import (
    ApiframeVideoGenerateOperator,
    ApiframeVideoUpscaleOperator,
)

INPUTS = Path(__file__).parent / "inputs"
OUTPUT = os.environ.get("APIFRAME_EXAMPLE_OUTPUT", "/tmp/apiframe-example-images")
DEFERRABLE = os.environ.get("APIFRAME_EXAMPLE_DEFERRABLE", "true").lower() != "false"

with DAG(
    dag_id="apiframe_image_to_video",
    schedule=None,
    catchup=False,
    tags=["apiframe", "example", "video"],
    default_args={"retries": 2, "retry_delay": timedelta(seconds=10), "deferrable": DEFERRABLE},
    doc_md=__doc__,
) as dag:
    shot = GptImageGenerateOperator(
        task_id="product_shot",
        prompt="Place this watch on a walnut desk beside a notebook, soft morning light.",
        input_images=str(INPUTS / "product.png"),
        aspect_ratio="3:2",
        output_format="png",
        output_path=f"{OUTPUT}/video/shots",
    )

    clip = ApiframeVideoGenerateOperator(
        task_id="clip",
        model="kling-2.6",
        prompt="The camera circles the watch slowly; the second hand ticks.",
        model_params={
            # The picture the shot saved: a local file, uploaded before the job is sent.
            "start_image": "{{ ti.xcom_pull(task_ids='product_shot')['files'][0]['path'] }}",
            "duration": 5,
            "aspect_ratio": "16:9",
        },
        output_path=f"{OUTPUT}/video/clips",
    )

    upscale = ApiframeVideoUpscaleOperator(
        task_id="upscale",
        model_params={
            "video": "{{ ti.xcom_pull(task_ids='clip')['videos'][0] }}",
            "target_resolution": "1080p",
            "target_fps": 30,
        },
        output_path=f"{OUTPUT}/video/upscaled",
    )

    shot >> clip >> upscale
