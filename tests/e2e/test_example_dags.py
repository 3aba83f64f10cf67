"""
The example DAGs, end to end: real Airflow (``airflow dags test``, which runs each deferred task's
trigger inline from its serialized classpath and kwargs) against the mock API over real HTTP on
loopback, with every job request validated against the official contract by the mock.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from mock_api import API_KEY, MockState

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


def run_dag(dag_id: str, env: dict[str, str], api_url: str, **extra_env: str) -> str:
    """Run ``airflow dags test`` against the API at ``api_url``; return its output, failing on error."""
    conn = {"conn_type": "apiframe", "password": API_KEY, "host": api_url}
    env = {**env, "AIRFLOW_CONN_APIFRAME_DEFAULT": json.dumps(conn), **extra_env}
    proc = subprocess.run(
        [sys.executable, "-m", "airflow", "dags", "test", dag_id],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]
    return output


def jobs_by_prompt(state: MockState) -> dict[str, dict[str, Any]]:
    return {job["input"]["prompt"]: job for job in state.jobs.values()}


def logged_text(env: dict[str, str]) -> str:
    logs = Path(env["AIRFLOW_HOME"]) / "logs"
    return "".join(p.read_text(errors="replace") for p in logs.rglob("*") if p.is_file())


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferrable", "in-worker"])
def test_showcase_dag(airflow_env: dict[str, str], mock_api: tuple[str, MockState], deferrable: bool) -> None:
    url, state = mock_api
    output = run_dag(
        "apiframe_showcase", airflow_env, url, APIFRAME_EXAMPLE_DEFERRABLE=str(deferrable).lower()
    )

    assert ("running trigger in line" in output) is deferrable
    # Eight jobs (six showcases and their two source images), each paid for once.
    assert len(state.jobs) == 8
    assert all(job["status"] == "COMPLETED" for job in state.jobs.values())
    assert sorted(state.charges) == sorted(state.jobs)

    jobs = jobs_by_prompt(state)
    portrait = next(job for prompt, job in jobs.items() if prompt.startswith("A studio portrait"))
    navy = next(job for prompt, job in jobs.items() if prompt.startswith("Change only the shirt"))
    portrait_url = f"{url}/files/{portrait['id']}-1.jpeg"
    assert navy["input"]["gptImageParams"]["input_images"] == [portrait_url]
    assert navy["input"]["gptImageParams"]["input_fidelity"] == "high"
    scene = next(job for prompt, job in jobs.items() if prompt.startswith("Place the smartwatch"))
    assert len(scene["input"]["gptImageParams"]["input_images"]) == 2

    assert API_KEY not in output
    assert API_KEY not in logged_text(airflow_env)


def test_catalogue_dag_fans_out(airflow_env: dict[str, str], mock_api: tuple[str, MockState]) -> None:
    url, state = mock_api
    output = run_dag("apiframe_catalogue", airflow_env, url)

    assert len(state.jobs) == 3
    keys = [r["headers"]["idempotency-key"] for r in state.requests if r["path"] == "/v2/images/generate"]
    assert len(set(keys)) == 3, "each mapped task instance has its own idempotency key"
    assert all(job["status"] == "COMPLETED" for job in state.jobs.values())
    assert "summarize" in output
    assert API_KEY not in output


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
