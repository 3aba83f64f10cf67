"""The TaskFlow decorators in real Airflow (``airflow dags test``) against the emulator over real HTTP."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from support import API_KEY, RESULT_KEYS, airflow_db, run_dag

from airflow_provider_apiframe.emulator import Emulator

pytestmark = pytest.mark.e2e

CITIES = ["Lisbon", "Kyoto", "Valparaiso"]


def returned(env: dict[str, str], task_id: str) -> list[Any]:
    """The ``return_value`` XComs of a task in the last run, by map index."""
    rows = airflow_db(
        env,
        "SELECT value FROM xcom WHERE dag_id = 'apiframe_taskflow' AND task_id = ? "
        "AND key = 'return_value' AND run_id = (SELECT run_id FROM dag_run "
        "WHERE dag_id = 'apiframe_taskflow' ORDER BY id DESC LIMIT 1) ORDER BY map_index",
        task_id,
    )
    return [json.loads(value) for (value,) in rows]


def image_files(folder: Path) -> list[Path]:
    """Every file saved under ``folder``, each opened as a PNG."""
    files = sorted(path for path in folder.rglob("*") if path.is_file() and path.suffix != ".jsonl")
    for path in files:
        with Image.open(path) as image:
            assert image.format in ("PNG", "WEBP", "JPEG"), path
    return files


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferrable", "in-worker"])
def test_the_taskflow_example_runs_each_decorated_task_as_its_operator(
    airflow_env: dict[str, str], emulator: Emulator, output: Path, deferrable: bool
) -> None:
    log = run_dag(
        "apiframe_taskflow",
        airflow_env,
        emulator,
        output,
        APIFRAME_EXAMPLE_DEFERRABLE=str(deferrable).lower(),
    )

    state = emulator.state
    jobs = list(state.jobs.values())
    # Three mapped posters, one product shot, a batch of two: one job and one charge each.
    assert (len(jobs), len(state.charges)) == (6, 6)
    assert {state.status(job)[0] for job in jobs} == {"COMPLETED"}
    assert [status for _, _, status in state.requests if status == 400] == []
    assert ("running trigger in line" in log) is deferrable

    # .expand(): one task instance per city, each with the prompt its function returned.
    posters = returned(airflow_env, "city_poster")
    assert len(posters) == 3
    by_id = {job.id: job for job in jobs}
    for city, poster in zip(CITIES, posters, strict=True):
        assert set(poster) == RESULT_KEYS
        job = by_id[poster["job_id"]]
        assert job.prompt.startswith(f"A vintage travel poster of {city},")
        assert job.body["gptImageParams"] == {"aspect_ratio": "2:3", "quality": "low", "output_format": "png"}
        assert [Path(file["path"]).parent for file in poster["files"]] == [output / "taskflow" / "posters"]
    assert len(image_files(output / "taskflow" / "posters")) == 3

    # XCom input, a returned dict of arguments, and its template rendered before it was sent.
    (shot,) = returned(airflow_env, "product_shot")
    job = by_id[shot["job_id"]]
    assert job.model == shot["model"] == "flux-2-pro"
    assert job.body["fluxParams"] == {"aspect_ratio": "1:1"}
    assert job.prompt.startswith(
        "A studio photo of a ceramic pour-over coffee dripper on a walnut countertop"
    )
    assert re.search(r" countertop, shot on \d{4}-\d{2}-\d{2}\.$", job.prompt), job.prompt
    (file,) = shot["files"]
    assert Path(file["path"]).parent == output / "taskflow" / "product"

    # The batch: its counts in XCom, every item's files and the manifest on disk.
    (summary,) = returned(airflow_env, "catalogue")
    assert summary["items"] == summary["completed"] == 2
    assert summary["failed"] == summary["skipped"] == 0
    manifest = Path(summary["manifest"])
    lines = [json.loads(line) for line in manifest.read_text().splitlines()]
    assert sorted(line["key"] for line in lines) == ["brass-desk-lamp", "linen-tote-bag"]
    assert all(line["status"] == "COMPLETED" for line in lines)
    assert len(image_files(manifest.parent)) == 2

    (report,) = returned(airflow_env, "report")
    assert report == {
        "posters": [poster["job_id"] for poster in posters],
        "product_shot": shot["job_id"],
        "catalogue": {"items": 2, "completed": 2, "credits": summary["credits"]},
    }
    assert API_KEY not in log
