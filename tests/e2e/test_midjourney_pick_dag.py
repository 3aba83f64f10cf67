"""
The human-in-the-loop Midjourney example end to end, unattended: ``airflow dags test`` against the
emulator, nobody answering, so the pick takes its default (``Image 1``) once its timeout passes.

Who applies the default differs by Airflow, and ``dags test`` runs neither a scheduler nor a
triggerer, so the test stands in for the one that answers:

- Airflow 3.3+: the task waits in ``awaiting_input`` and the scheduler's timeout sweep answers; the
  test runs that sweep (``SchedulerJobRunner.check_awaiting_input_timeouts``, the scheduler's own
  code) beside ``dags test``.
- Airflow 3.1-3.2: the task defers to the standard provider's ``HITLTrigger``, which ``dags test``
  runs inline and which answers with the defaults at the deadline. But the in-process supervisor
  that ``dags test`` gives an inline trigger does not answer the trigger's two HITL requests (read
  the request, write the response): only the triggerer's supervisor does. So the test runs ``dags
  test`` with those two answered as the triggerer answers them (:data:`TRIGGERER_HITL`).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from packaging.version import Version
from PIL import Image
from support import API_KEY, airflow_db, logged_text

from airflow_provider_apiframe.core.catalog import MIDJOURNEY_ACTION
from airflow_provider_apiframe.emulator import Emulator

pytestmark = pytest.mark.e2e

DAG_ID = "apiframe_midjourney_pick"
#: Airflow 3.3+ parks a human-in-the-loop task in ``awaiting_input``, with no trigger.
AWAITS_INPUT = Version(version("apache-airflow")) >= Version("3.3")

#: The scheduler's sweep of timed-out human-in-the-loop tasks, each second (Airflow 3.3+).
SWEEP = """
import time
from airflow.jobs.scheduler_job_runner import SchedulerJobRunner
runner = SchedulerJobRunner.__new__(SchedulerJobRunner)
while True:
    runner.check_awaiting_input_timeouts()
    time.sleep(1)
"""
#: ``airflow ...`` whose in-process supervisor answers an inline trigger's HITL requests the way
#: the triggerer's supervisor does (``TriggerRunnerSupervisor._handle_request``, Airflow 3.1).
TRIGGERER_HITL = """
import sys
from airflow.jobs.triggerer_job_runner import HITLDetailResponseResult
from airflow.sdk.execution_time.comms import GetHITLDetailResponse, UpdateHITLDetail
from airflow.sdk.execution_time.supervisor import InProcessTestSupervisor

handle = InProcessTestSupervisor._handle_request

def handle_hitl(self, msg, log, req_id):
    if isinstance(msg, GetHITLDetailResponse):
        detail = self.client.hitl.get_detail_response(ti_id=msg.ti_id)
    elif isinstance(msg, UpdateHITLDetail):
        detail = self.client.hitl.update_response(
            ti_id=msg.ti_id, chosen_options=msg.chosen_options, params_input=msg.params_input
        )
    else:
        return handle(self, msg, log, req_id)
    self.send_msg(HITLDetailResponseResult.from_api_response(response=detail), req_id)

InProcessTestSupervisor._handle_request = handle_hitl
from airflow.__main__ import main
sys.argv[0] = "airflow"
main()
"""


def run_unattended(env: dict[str, str], emulator: Emulator, output: Path, timeout: int) -> str:
    """``airflow dags test`` of the DAG, nobody answering; return its output, failing unless it succeeded."""
    conn = {"conn_type": "apiframe", "password": API_KEY, "host": emulator.url}
    env = {
        **env,
        "AIRFLOW_CONN_APIFRAME_DEFAULT": json.dumps(conn),
        "APIFRAME_EXAMPLE_OUTPUT": str(output),
        "APIFRAME_EXAMPLE_PICK_TIMEOUT": str(timeout),
    }
    airflow = [sys.executable, "-m", "airflow"] if AWAITS_INPUT else [sys.executable, "-c", TRIGGERER_HITL]
    proc = subprocess.run(
        [*airflow, "dags", "test", DAG_ID], env=env, capture_output=True, text=True, timeout=600
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-6000:]
    ((state,),) = airflow_db(
        env, "SELECT state FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1", DAG_ID
    )
    assert state == "success", log[-6000:]
    return log


def stored(value: Any) -> Any:
    """A JSON column as SQLite gives it back (a number comes as a number, the rest as JSON text)."""
    return json.loads(value) if isinstance(value, str) else value


def xcom(env: dict[str, str], task_id: str) -> dict[str, Any]:
    """The XComs of a task of the run, by key."""
    query = "SELECT key, value FROM xcom WHERE dag_id = ? AND task_id = ?"
    return {key: stored(value) for key, value in airflow_db(env, query, DAG_ID, task_id)}


@pytest.fixture
def timeout_sweep(airflow_env: dict[str, str]) -> Iterator[None]:
    if not AWAITS_INPUT:
        yield
        return
    sweep = subprocess.Popen(
        [sys.executable, "-c", SWEEP], env=airflow_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        yield
    finally:
        sweep.terminate()
        _, errors = sweep.communicate(timeout=30)
        assert sweep.returncode == -15, errors.decode(errors="replace")[-3000:]


def test_unattended_pick_takes_the_default_and_upsamples_it(
    airflow_env: dict[str, str], emulator: Emulator, output: Path, timeout_sweep: None
) -> None:
    log = run_unattended(airflow_env, emulator, output, timeout=3)

    jobs = {job.route: job for job in emulator.state.jobs.values()}
    grid, upsample = jobs["/v2/images/generate"], jobs[MIDJOURNEY_ACTION]
    assert upsample.body == {"action": "upsample", "index": 1, "parentJobId": grid.id}

    # What the person was asked: the four grid images, by the emulator's URLs, under their options.
    urls = xcom(airflow_env, "grid")["return_value"]["images"]
    assert len(urls) == 4
    assert all(url.startswith(f"{emulator.url}/files/{grid.id}-") for url in urls)
    ((options, defaults, body, chosen, responded_by),) = airflow_db(
        airflow_env,
        "SELECT h.options, h.defaults, h.body, h.chosen_options, h.responded_by FROM hitl_detail h "
        "JOIN task_instance ti ON ti.id = h.ti_id WHERE ti.dag_id = ? AND ti.task_id = 'pick'",
        DAG_ID,
    )
    assert stored(options) == ["Image 1", "Image 2", "Image 3", "Image 4"]
    assert stored(defaults) == ["Image 1"]
    assert stored(chosen) == ["Image 1"]
    assert stored(responded_by) is None, "nobody answered: the default was taken"
    for n, url in enumerate(urls, 1):
        assert f"![Image {n}](<{url}>)" in body
    assert f"job `{grid.id}`" in body, "the DAG's intro, rendered"

    picked = xcom(airflow_env, "pick")
    assert (picked["index"], picked["image"]) == (1, urls[0])
    assert picked["return_value"]["chosen_options"] == ["Image 1"]
    assert picked["return_value"]["responded_by_user"] is None

    grid_files = sorted((output / "midjourney_pick" / "grid").iterdir())
    assert len(grid_files) == 4
    (upsampled,) = (output / "midjourney_pick" / "upsampled").iterdir()
    assert upsampled.name.startswith(upsample.id)
    with Image.open(upsampled) as image, Image.open(grid_files[0]) as chosen_image:
        assert image.size[0] >= chosen_image.size[0]
    assert [path for _, path, status in emulator.state.requests if status >= 400] == []
    assert API_KEY not in log + logged_text(airflow_env)
