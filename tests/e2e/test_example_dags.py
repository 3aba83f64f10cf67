"""
The example DAGs, end to end: real Airflow (``airflow dags test``, which runs each deferred task's
trigger inline from its serialized classpath and kwargs) against the emulator over real HTTP on
loopback. The emulator validates every job request against the official contract.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from payloads import API_KEY
from PIL import Image

from airflow_provider_apiframe.emulator import Emulator
from airflow_provider_apiframe.emulator.images import GPT_SIZES

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def airflow_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A throwaway AIRFLOW_HOME with a migrated SQLite database and the example DAGs."""
    home = tmp_path_factory.mktemp("airflow_home")
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "example_dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
    }
    env.pop("AIRFLOW_CONN_APIFRAME_DEFAULT", None)
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], env=env, check=True, capture_output=True
    )
    return env


def run_dag(dag_id: str, env: dict[str, str], emulator: Emulator, *args: str, **extra_env: str) -> str:
    """Run ``airflow dags test`` against the emulator; return its output, failing on error."""
    conn = {"conn_type": "apiframe", "password": API_KEY, "host": emulator.url}
    env = {**env, "AIRFLOW_CONN_APIFRAME_DEFAULT": json.dumps(conn), **extra_env}
    proc = subprocess.run(
        [sys.executable, "-m", "airflow", "dags", "test", dag_id, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]
    return output


def logged_text(env: dict[str, str]) -> str:
    logs = Path(env["AIRFLOW_HOME"]) / "logs"
    return "".join(p.read_text(errors="replace") for p in logs.rglob("*") if p.is_file())


def assert_every_request_met_the_contract(emulator: Emulator) -> None:
    """The emulator checks each job request against the official contract: none was refused."""
    refused = [(method, path) for method, path, status in emulator.state.requests if status == 400]
    assert refused == []
    assert any(path == "/v2/images/generate" for _, path, _ in emulator.state.requests)


def check_result_files(emulator: Emulator) -> int:
    """Fetch every result image and check it has the format, size and alpha its request asked for."""
    checked = 0
    for record in emulator.state.jobs.values():
        job = httpx.get(f"{emulator.url}/v2/jobs/{record.id}", headers={"X-API-Key": API_KEY}).json()
        params = job["input"].get("gptImageParams", {})
        urls = job["result"]["images"]
        assert len(urls) == params.get("number_of_images", 1)
        for url in urls:
            response = httpx.get(url)
            assert response.status_code == 200, url
            image = Image.open(io.BytesIO(response.content))
            assert image.format.lower() == params.get("output_format", "webp"), url
            assert image.size == GPT_SIZES[params.get("aspect_ratio", "1:1")], url
            transparent = params.get("background") == "transparent"
            assert ("A" in image.getbands()) is transparent, url
            if transparent:
                assert image.getextrema()[-1][0] == 0, "a transparent background has fully transparent pixels"
            checked += 1
    return checked


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferrable", "in-worker"])
def test_showcase_dag(airflow_env: dict[str, str], emulator: Emulator, deferrable: bool) -> None:
    output = run_dag(
        "apiframe_showcase", airflow_env, emulator, APIFRAME_EXAMPLE_DEFERRABLE=str(deferrable).lower()
    )

    assert ("running trigger in line" in output) is deferrable
    state = emulator.state
    # Eight jobs (six showcases and their two source images), each paid for once.
    assert len(state.jobs) == 8
    assert {state.status(job)[0] for job in state.jobs.values()} == {"COMPLETED"}
    assert sorted(job_id for job_id, _ in state.charges) == sorted(state.jobs)
    assert state.credits == state.config.credits - sum(cost for _, cost in state.charges)

    jobs = {job.prompt: job for job in state.jobs.values()}
    portrait = next(job for prompt, job in jobs.items() if prompt.startswith("A studio portrait"))
    navy = next(job for prompt, job in jobs.items() if prompt.startswith("Change only the shirt"))
    assert navy.body["gptImageParams"]["input_images"] == [f"{emulator.url}/files/{portrait.id}-1.jpeg"]
    assert navy.inputs is not None
    assert len(navy.inputs) == 1, "the edit was made from the fetched input"
    scene = next(job for prompt, job in jobs.items() if prompt.startswith("Place the smartwatch"))
    assert scene.inputs is not None
    assert len(scene.inputs) == 2

    assert check_result_files(emulator) == 8
    assert_every_request_met_the_contract(emulator)
    assert API_KEY not in output
    assert API_KEY not in logged_text(airflow_env)


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferrable", "in-worker"])
def test_catalogue_dag_fans_out(airflow_env: dict[str, str], emulator: Emulator, deferrable: bool) -> None:
    output = run_dag(
        "apiframe_catalogue", airflow_env, emulator, APIFRAME_EXAMPLE_DEFERRABLE=str(deferrable).lower()
    )

    state = emulator.state
    assert len(state.jobs) == 3
    assert len(state.idempotency) == 3, "each mapped task instance has its own idempotency key"
    assert len(state.charges) == 3
    assert check_result_files(emulator) == 3
    assert_every_request_met_the_contract(emulator)
    assert "summarize" in output
    assert API_KEY not in output


def test_a_retried_task_reattaches_to_the_job_it_paid_for(
    airflow_env: dict[str, str], emulator: Emulator
) -> None:
    # The first try submits, then its status check is refused (a permanent 404): the try fails.
    # The retry submits again with the same key: the API replays the job; nothing is paid twice.
    emulator.inject(action="status", method="GET", path="/v2/jobs/*", status=404, times=1)

    output = run_dag(
        "reattach_after_failed_try",
        airflow_env,
        emulator,
        AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "tests" / "dags"),
    )

    state = emulator.state
    submissions = [r for r in state.requests if r[:2] == ("POST", "/v2/images/generate")]
    assert len(submissions) == 2, "one submission per try"
    assert len(state.jobs) == 1, "the retry re-attached instead of creating a job"
    assert len(state.charges) == 1
    assert "failed with HTTP 404" in output


def test_airflow_cli_lists_the_provider_and_connection_type(airflow_env: dict[str, str]) -> None:
    def cli(*args: str) -> str:
        proc = subprocess.run(
            [sys.executable, "-m", "airflow", *args], env=airflow_env, capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        return proc.stdout

    assert "airflow-provider-apiframe" in cli("providers", "list")
    hooks = cli("providers", "hooks", "-o", "json")
    (apiframe,) = [h for h in json.loads(hooks) if h["connection_type"] == "apiframe"]
    assert apiframe["class"] == "airflow_provider_apiframe.hooks.apiframe.ApiframeHook"
