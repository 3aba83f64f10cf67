"""
Images in and out the Airflow way.

- In: local files (here, the two beside this DAG) are checked, uploaded through ``/v2/uploads`` and
  sent as input images; so are ``ObjectStoragePath`` s (``s3://...``) and plain URLs.
- Out: each result image is streamed to ``output_path`` (a folder, ``file://``, ``s3://``...) as
  ``<job_id>-<n>.<ext>``; the result lists ``files`` with their size and SHA-256.
- Assets: every file written becomes an Asset event (through an ``AssetAlias``) carrying the job id,
  model, prompt and credit cost, so downstream DAGs can be scheduled on new images.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from airflow.sdk import DAG, AssetAlias, ObjectStoragePath, task

from airflow_provider_apiframe.operators.gpt_image import GptImageGenerateOperator

INPUTS = Path(__file__).parent / "inputs"
OUTPUT = os.environ.get("APIFRAME_EXAMPLE_OUTPUT", "/tmp/apiframe-example-images")
DEFERRABLE = os.environ.get("APIFRAME_EXAMPLE_DEFERRABLE", "true").lower() != "false"
NEW_IMAGES = AssetAlias("apiframe-new-images")

with DAG(
    dag_id="apiframe_images_in_out",
    schedule=None,
    catchup=False,
    tags=["apiframe", "example"],
    default_args={"retries": 2, "retry_delay": timedelta(seconds=10), "deferrable": DEFERRABLE},
    doc_md=__doc__,
) as dag:
    navy_shirt = GptImageGenerateOperator(
        task_id="navy_shirt_from_local_portrait",
        prompt="Change only the shirt from white to navy blue; keep everything else as it is.",
        input_images=str(INPUTS / "portrait.jpg"),  # a local file: uploaded first
        input_fidelity="high",
        aspect_ratio="2:3",
        output_format="jpeg",
        output_path=f"{OUTPUT}/in-out",  # a local folder
        outlets=[NEW_IMAGES],
    )

    lifestyle = GptImageGenerateOperator(
        task_id="product_on_a_desk",
        prompt="Place this watch on a walnut desk beside a notebook, soft daylight.",
        input_images=[ObjectStoragePath(f"file://{INPUTS / 'product.png'}")],  # any ObjectStoragePath
        aspect_ratio="3:2",
        number_of_images=2,
        output_format="webp",
        # or ObjectStoragePath("s3://bucket/images/{{ dag_run.run_after | ds }}/", conn_id="aws_default")
        output_path=ObjectStoragePath(f"file://{OUTPUT}/in-out/"),
        outlets=[NEW_IMAGES],
    )

    @task
    def report(*results: dict) -> list[str]:
        """List the files written, with their size and checksum."""
        lines = [
            f"{f['path']}  {f['bytes']} bytes  sha256 {f['sha256'][:12]}" for r in results for f in r["files"]
        ]
        print("\n".join(lines))
        return [f["path"] for r in results for f in r["files"]]

    report(navy_shirt.output, lifestyle.output)
