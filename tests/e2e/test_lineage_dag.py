"""OpenLineage in real Airflow: ``airflow dags test`` with a file transport, against the emulator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support import API_KEY, airflow_db, run_dag

from airflow_provider_apiframe.emulator import Emulator

pytest.importorskip("airflow.providers.openlineage")
pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
INPUTS = ROOT / "example_dags" / "inputs"


def completes(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The COMPLETE event of each task, by task id."""
    return {
        event["job"]["name"].split(".", 1)[1]: event
        for event in events
        if event["eventType"] == "COMPLETE" and event["job"]["name"].startswith("apiframe_lineage.")
    }


def names(datasets: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(d["namespace"], d["name"]) for d in datasets]


def xcom(env: dict[str, str], task_id: str) -> dict[str, Any]:
    ((value,),) = airflow_db(
        env,
        "SELECT value FROM xcom WHERE dag_id = 'apiframe_lineage' AND task_id = ? AND key = 'return_value' "
        "ORDER BY dag_run_id DESC LIMIT 1",
        task_id,
    )
    result: dict[str, Any] = json.loads(value)
    return result


def test_every_task_reports_its_inputs_outputs_and_job_facet(
    airflow_env: dict[str, str], emulator: Emulator, output: Path, tmp_path: Path
) -> None:
    events_file = tmp_path / "openlineage.jsonl"
    transport = {"type": "file", "log_file_path": str(events_file), "append": True}

    run_dag(
        "apiframe_lineage",
        airflow_env,
        emulator,
        output,
        AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "tests" / "dags"),
        AIRFLOW__OPENLINEAGE__DISABLED="False",
        AIRFLOW__OPENLINEAGE__TRANSPORT=json.dumps(transport),
        AIRFLOW__OPENLINEAGE__NAMESPACE="apiframe-e2e",
    )

    text = events_file.read_text()
    assert API_KEY not in text
    assert "A private prompt" not in text, "the prompt is left out unless the task opts in"
    assert "/uploads/" not in text, "never the short-lived upload URLs"
    done = completes([json.loads(line) for line in text.splitlines()])
    assert set(done) == {"edit", "again", "batch"}

    edit, again, batch = done["edit"], done["again"], done["batch"]
    edited = xcom(airflow_env, "edit")
    assert names(edit["inputs"]) == [
        ("file", str(INPUTS / "portrait.jpg")),
        ("file", str(INPUTS / "product.png")),
    ]
    assert names(edit["outputs"]) == [("file", f["path"]) for f in edited["files"]]
    assert edited["files"]
    assert all(Path(f["path"]).is_file() for f in edited["files"])
    facet = edit["run"]["facets"]["apiframe_job"]
    assert facet["_schemaURL"].endswith("ApiframeJobRunFacet.json#/$defs/ApiframeJobRunFacet")
    assert facet["jobIds"] == [edited["job_id"]]
    assert facet["models"] == ["gpt-image-1.5"]
    assert facet["status"] == "COMPLETED"
    assert facet["credits"] == edited["credit_cost"] == dict(emulator.state.charges)[edited["job_id"]]
    assert facet["estimatedCredits"] == edited["estimated_credits"] is not None
    assert "prompts" not in facet

    waited = xcom(airflow_env, "again")
    assert again["inputs"] == []
    assert names(again["outputs"]) == [("file", f["path"]) for f in waited["files"]]
    assert str(output / "lineage" / "again") in again["outputs"][0]["name"]
    assert again["run"]["facets"]["apiframe_job"]["jobIds"] == [edited["job_id"]]

    summary = xcom(airflow_env, "batch")
    folder = output / "lineage" / "batch"
    assert names(batch["outputs"]) == [("file", str(folder)), ("file", str(folder / "manifest.jsonl"))]
    facet = batch["run"]["facets"]["apiframe_job"]
    manifest = [json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines()]
    assert sorted(facet["jobIds"]) == sorted(line["job_id"] for line in manifest)
    assert facet["models"] == ["flux-2-pro", "gpt-image-1.5"]
    assert facet["credits"] == summary["credits"] > 0
    assert facet["batch"] == {"items": 2, "completed": 2, "failed": 0, "skipped": 0}
    assert facet["prompts"] == ["A red mug, opted in", "A blue mug"], "this batch opted in"
