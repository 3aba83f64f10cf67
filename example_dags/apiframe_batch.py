"""
A whole catalogue in one task, under a budget: every product in every size, images and a clip.

``ApiframeBatchOperator`` reads its items from a JSON Lines file (one request a line, streamed),
checks every one before anything is sent, submits them from one task, waits for all of them in
one deferral and saves each item's files under ``<output_path>/<key>/``, with ``manifest.jsonl``
beside them. ``max_credits`` caps what the whole batch may spend; the XCom holds counts only.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, task

from airflow_provider_apiframe.operators.batch import ApiframeBatchOperator

PRODUCTS = {
    "dripper": "a ceramic pour-over coffee dripper",
    "shoes": "a pair of white running shoes",
    "lamp": "a minimalist brass desk lamp",
}
SIZES = {"square": "1:1", "banner": "3:2"}

# The batch waits in the triggerer. No triggerer running? Set APIFRAME_EXAMPLE_DEFERRABLE=false.
DEFERRABLE = os.environ.get("APIFRAME_EXAMPLE_DEFERRABLE", "true").lower() != "false"
OUTPUT = os.environ.get("APIFRAME_EXAMPLE_OUTPUT", "/tmp/apiframe-example-images")

with DAG(
    dag_id="apiframe_batch",
    schedule=None,
    catchup=False,
    tags=["apiframe", "example"],
    default_args={"retries": 2, "retry_delay": timedelta(seconds=10)},
    doc_md=__doc__,
) as dag:

    @task
    def write_items(run_id: str | None = None) -> str:
        """One request a line: each product in each size, and a short clip of the first."""
        folder = Path(OUTPUT) / "batch" / str(run_id).replace(":", "_")
        folder.mkdir(parents=True, exist_ok=True)
        items: list[dict[str, Any]] = [
            {
                "key": f"{product}-{size}",
                "model": "gpt-image-1.5",
                "prompt": f"A studio product photo of {description}, soft daylight.",
                "model_params": {"aspect_ratio": ratio, "quality": "low", "output_format": "png"},
            }
            for product, description in PRODUCTS.items()
            for size, ratio in SIZES.items()
        ]
        items.append(
            {
                "key": "dripper-clip",
                "model": "kling-2.6",
                "prompt": f"A slow turntable shot of {PRODUCTS['dripper']}.",
                "model_params": {"duration": 5},
            }
        )
        path = folder / "items.jsonl"
        path.write_text("".join(json.dumps(item) + "\n" for item in items))
        return str(path)

    render = ApiframeBatchOperator(
        task_id="render_catalogue",
        requests=write_items(),
        output_path=OUTPUT + "/batch/{{ run_id | replace(':', '_') }}/results",
        max_credits=500,
        max_failed_items=0,
        concurrency=8,
        deferrable=DEFERRABLE,
    )

    @task
    def report(summary: dict[str, Any]) -> dict[str, Any]:
        """Read the manifest: what every item became."""
        with open(summary["manifest"]) as manifest:
            lines = [json.loads(line) for line in manifest]
        return {
            "credits": summary["credits"],
            "files": {line["key"]: [f["path"] for f in line["files"]] for line in lines},
        }

    report(render.output)
