"""
A jingle for a coffee brand, then its stems.

- ``jingle``: ``ApiframeMusicGenerateOperator`` asks Suno for an instrumental jingle (a Suno job
  makes two tracks; both are saved, each named ``<job_id>-<n>.<ext>`` by its bytes: ``.mp3``...);
- ``stems``: ``ApiframeSunoActionOperator`` splits the first track into vocals and instrumental,
  acting on the jingle's job id from its XCom.
"""

from __future__ import annotations

import os
from datetime import timedelta

from airflow.sdk import DAG

from airflow_provider_apiframe.operators.actions import ApiframeSunoActionOperator
from airflow_provider_apiframe.operators.music import ApiframeMusicGenerateOperator

OUTPUT = os.environ.get("APIFRAME_EXAMPLE_OUTPUT", "/tmp/apiframe-example-images")
DEFERRABLE = os.environ.get("APIFRAME_EXAMPLE_DEFERRABLE", "true").lower() != "false"

with DAG(
    dag_id="apiframe_music_jingle",
    schedule=None,
    catchup=False,
    tags=["apiframe", "example", "music"],
    default_args={"retries": 2, "retry_delay": timedelta(seconds=10), "deferrable": DEFERRABLE},
    doc_md=__doc__,
) as dag:
    jingle = ApiframeMusicGenerateOperator(
        task_id="jingle",
        model="suno",
        prompt="A cheerful ten-second jingle for a neighbourhood coffee roaster: ukulele, claps, whistling.",
        model_params={"instrumental": True, "title": "Morning Roast"},
        output_path=f"{OUTPUT}/music/jingle",
    )

    stems = ApiframeSunoActionOperator(
        task_id="stems",
        action="stems",
        parent_job_id=jingle.output["job_id"],
        index=1,
        output_path=f"{OUTPUT}/music/stems",
    )
