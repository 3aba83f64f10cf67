"""The batch in real Airflow (``airflow dags test`` rebuilds its trigger from its kwargs) on the emulator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from support import API_KEY, airflow_db, run_dag

from airflow_provider_apiframe.emulator import Emulator

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def manifest_of(folder: Path) -> dict[str, dict[str, Any]]:
    (path,) = (
        folder.glob("batch/*/results/manifest.jsonl")
        if folder.name != "batch-retry"
        else [folder / "manifest.jsonl"]
    )
    return {line["key"]: line for line in map(json.loads, path.read_text().splitlines())}


def test_the_batch_example_renders_every_item_under_its_budget(
    airflow_env: dict[str, str], emulator: Emulator, output: Path
) -> None:
    # Deferred only here (its trigger rebuilt from its kwargs); waiting in the worker is covered by
    # tests/operators/test_batch_operator.py, which keeps the whole CI run shorter.
    log = run_dag("apiframe_batch", airflow_env, emulator, output)

    state = emulator.state
    assert (len(state.jobs), len(state.charges)) == (7, 7), "one job and one charge per item"
    assert {job.route for job in state.jobs.values()} == {"/v2/images/generate", "/v2/videos/generate"}
    lines = manifest_of(output)
    assert len(lines) == 7
    assert all(line["status"] == "COMPLETED" for line in lines.values())
    for key, line in lines.items():
        for file in line["files"]:
            assert Path(file["path"]).parent.name == key
            if file["kind"] == "image":
                with Image.open(file["path"]) as image:
                    assert image.format == "PNG"
    ((summary,),) = airflow_db(
        airflow_env,
        "SELECT value FROM xcom WHERE dag_id = 'apiframe_batch' AND task_id = 'render_catalogue' "
        "AND key = 'return_value' ORDER BY dag_run_id DESC LIMIT 1",
    )
    summary = json.loads(summary)
    assert set(summary) == {
        "items",
        "completed",
        "failed",
        "skipped",
        "credits",
        "estimated_credits",
        "manifest",
    }
    assert summary["credits"] == sum(charge for _, charge in state.charges) <= 500
    assert "running trigger in line" in log
    assert API_KEY not in log


def test_a_batch_crashed_half_way_through_submitting_pays_once_per_item_on_its_retry(
    airflow_env: dict[str, str], emulator: Emulator, output: Path
) -> None:
    # Try 1: two answers are lost after their jobs were made and paid for (the client gives up
    # waiting); then a permanent refusal ends the try half-way. Try 2 re-attaches and finishes.
    emulator.inject(action="late", method="POST", path="/v2/images/generate", delay=3, times=2)
    emulator.inject(action="status", method="POST", path="/v2/images/generate", status=403, times=1)
    emulator.decide(outcome="failed", prompt_contains="variant 7", times=1)

    log = run_dag(
        "batch_retry",
        airflow_env,
        emulator,
        output,
        AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "tests" / "dags"),
        AIRFLOW_CONN_APIFRAME_DEFAULT=json.dumps(
            {"conn_type": "apiframe", "password": API_KEY, "host": emulator.url, "extra": {"timeout": 1}}
        ),
    )

    state = emulator.state
    lines = manifest_of(output / "batch-retry")
    assert "failed with HTTP 403" in log
    assert len(lines) == 8
    assert len(state.charges) == len({job_id for job_id, _ in state.charges}), "no job charged twice"
    completed = [line for line in lines.values() if line["status"] == "COMPLETED"]
    assert len(completed) == len(state.charges), "one charge per completed item"
    assert len(completed) >= 7, "the FAILED item is within max_failed_items=1 (or got a new key on the retry)"
