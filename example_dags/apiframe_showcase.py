"""
The six GPT Image 1.5 showcases from apiframe.ai, as one DAG.

Two source images are generated first (a studio portrait and a living room); the edits then use
them, and the smartwatch shot, as their ``input_images``, so the DAG runs anywhere with no inputs
of your own. Every task defers to the triggerer while its job runs, then saves its images under
``$APIFRAME_EXAMPLE_OUTPUT/showcase/``.
"""

from __future__ import annotations

import os
from datetime import timedelta

from airflow.sdk import DAG

from airflow_provider_apiframe.operators.gpt_image import GptImageGenerateOperator

# Tasks wait for their jobs in the triggerer. No triggerer running? Set
# APIFRAME_EXAMPLE_DEFERRABLE=false and they poll in the worker instead.
DEFERRABLE = os.environ.get("APIFRAME_EXAMPLE_DEFERRABLE", "true").lower() != "false"
# Every image is saved here as <job_id>-<n>.<ext> (any ObjectStoragePath works: s3://..., gs://...).
OUTPUT = os.environ.get("APIFRAME_EXAMPLE_OUTPUT", "/tmp/apiframe-example-images")


def first_image(task_id: str) -> str:
    """Template for the first image URL returned by ``task_id``."""
    return "{{ ti.xcom_pull(task_ids='" + task_id + "')['images'][0] }}"


with DAG(
    dag_id="apiframe_showcase",
    schedule=None,
    catchup=False,
    tags=["apiframe", "example"],
    default_args={
        "retries": 2,
        "retry_delay": timedelta(seconds=10),
        "deferrable": DEFERRABLE,
        "output_path": f"{OUTPUT}/showcase",
    },
    doc_md=__doc__,
) as dag:
    smartwatch = GptImageGenerateOperator(
        task_id="smartwatch_on_marble",
        prompt=(
            "A photorealistic product photo of a sleek black smartwatch resting on white Carrara marble, "
            "soft morning window light, shallow depth of field, 85mm lens, crisp reflections."
        ),
        quality="high",
        output_format="png",
    )

    portrait = GptImageGenerateOperator(
        task_id="studio_portrait",
        prompt="A studio portrait of a fashion model in a plain white button-up shirt, grey backdrop.",
        aspect_ratio="2:3",
        output_format="jpeg",
    )

    navy_shirt = GptImageGenerateOperator(
        task_id="navy_shirt",
        prompt=(
            "Change only the shirt from white to navy blue. Keep the face, hair, pose, lighting and "
            "background exactly as they are."
        ),
        input_images=first_image("studio_portrait"),
        input_fidelity="high",
        aspect_ratio="2:3",
        output_format="jpeg",
    )

    poster = GptImageGenerateOperator(
        task_id="grand_opening_poster",
        prompt=(
            "A bold event poster that reads exactly 'GRAND OPENING, SATURDAY 10AM' in large clean "
            "sans-serif letters, confetti and ribbons, bright festive colours."
        ),
        aspect_ratio="2:3",
        quality="high",
        output_format="png",
    )

    living_room = GptImageGenerateOperator(
        task_id="lifestyle_background",
        prompt="A sunlit Scandinavian living room with a wooden coffee table and plants, no people.",
        aspect_ratio="3:2",
        output_format="jpeg",
    )

    lifestyle_scene = GptImageGenerateOperator(
        task_id="product_in_lifestyle_scene",
        prompt=(
            "Place the smartwatch from the first image on the coffee table in the second image, "
            "matching its light, perspective and shadows."
        ),
        input_images=[first_image("smartwatch_on_marble"), first_image("lifestyle_background")],
        aspect_ratio="3:2",
        output_format="webp",
    )

    infographic = GptImageGenerateOperator(
        task_id="pricing_infographic",
        prompt=(
            "A clean flat-design infographic comparing three pricing tiers side by side: Basic $9/month, "
            "Pro $29/month, Enterprise $99/month, each with a short feature list and checkmarks."
        ),
        aspect_ratio="3:2",
        background="opaque",
        output_format="png",
    )

    sunglasses = GptImageGenerateOperator(
        task_id="portrait_with_sunglasses",
        prompt="Add black aviator sunglasses to the person's face. Change nothing else.",
        input_images=first_image("studio_portrait"),
        input_fidelity="high",
        aspect_ratio="2:3",
        output_format="png",
        background="transparent",
    )

    portrait >> [navy_shirt, sunglasses]
    [smartwatch, living_room] >> lifestyle_scene
