"""
Train a Flux LoRA on pictures made on the spot, then draw with it.

- ``render_training_images``: GPT Image draws 15 pictures of one character (three jobs of five)
  into a folder of this run;
- ``train_lora``: ``ApiframeLoraTrainOperator`` trains a LoRA on that folder (2 credits). A retry
  never trains twice: it finds the LoRA it created by its name, ``<name> ~<marker>``;
- ``portrait``: a ``flux-lora`` job draws the character, its ``loraId`` and trigger word read from
  the training's XCom.
"""

from __future__ import annotations

import os
from datetime import timedelta

from airflow.sdk import DAG

from airflow_provider_apiframe.operators.gpt_image import GptImageGenerateOperator
from airflow_provider_apiframe.operators.image import ApiframeImageGenerateOperator
from airflow_provider_apiframe.operators.lora import ApiframeLoraTrainOperator

OUTPUT = os.environ.get("APIFRAME_EXAMPLE_OUTPUT", "/tmp/apiframe-example-images")
DEFERRABLE = os.environ.get("APIFRAME_EXAMPLE_DEFERRABLE", "true").lower() != "false"
# One folder per run: the LoRA trains on exactly the images this run drew.
RUN = "{{ dag_run.run_after | ts_nodash }}"
TRAINING = f"{OUTPUT}/lora/{RUN}/training"
CHARACTER = "Pip, a small origami fox folded from orange paper"
SCENES = [
    f"{CHARACTER}, studio photo on a plain white background, seen from several angles",
    f"{CHARACTER}, sitting on a wooden desk beside a pencil, soft daylight",
    f"{CHARACTER}, close-up portrait, shallow depth of field",
]

with DAG(
    dag_id="apiframe_lora",
    schedule=None,
    catchup=False,
    tags=["apiframe", "example"],
    default_args={"retries": 2, "retry_delay": timedelta(seconds=10), "deferrable": DEFERRABLE},
    doc_md=__doc__,
) as dag:
    training_images = GptImageGenerateOperator.partial(
        task_id="render_training_images",
        quality="low",
        number_of_images=5,
        output_format="png",
        output_path=TRAINING,
    ).expand(prompt=SCENES)

    lora = ApiframeLoraTrainOperator(
        task_id="train_lora",
        name="Pip the paper fox",
        images=TRAINING,  # a folder: its PNG, JPEG and WebP files, sorted by name
        subject_kind="object",
        steps=1000,
    )

    portrait = ApiframeImageGenerateOperator(
        task_id="portrait",
        model="flux-lora",
        prompt="{{ ti.xcom_pull(task_ids='train_lora')['trigger_word'] }}, the paper fox reading a map",
        model_params={
            "loraId": "{{ ti.xcom_pull(task_ids='train_lora', key='lora_id') }}",
            "aspect_ratio": "1:1",
            "lora_strength": 1.0,
        },
        output_path=f"{OUTPUT}/lora/{RUN}",
    )

    training_images >> lora >> portrait
