"""ApiframeJobSensor against the emulator over real HTTP: deferring, poking, results, failures, templating."""

from __future__ import annotations

import re
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import jinja2
import pytest
from airflow.sdk import PokeReturnValue
from support import RESULT_KEYS, FakeTI

from airflow_provider_apiframe.core import calls
from airflow_provider_apiframe.core.errors import (
    ApiframeError,
    ApiframeJobError,
    ApiframeNotFoundError,
)
from airflow_provider_apiframe.emulator.state import CONTENT_POLICY_ERROR
from airflow_provider_apiframe.hooks.apiframe import ApiframeHook
from airflow_provider_apiframe.operators.gpt_image import GptImageGenerateOperator
from airflow_provider_apiframe.operators.links import ApiframeImageLink
from airflow_provider_apiframe.sensors.job import ApiframeJobSensor
from airflow_provider_apiframe.triggers.job import ApiframeJobTrigger

try:  # Airflow >= 3.2
    from airflow.sdk.exceptions import AirflowSensorTimeout, AirflowSkipException, TaskDeferred
except ImportError:  # Airflow 3.1
    from airflow.exceptions import (  # type: ignore[no-redef,attr-defined,unused-ignore]
        AirflowSensorTimeout,
        AirflowSkipException,
        TaskDeferred,
    )


@pytest.fixture
def api(emulator: Any, use_connection: Any) -> Any:
    """The emulator, with ``apiframe_default`` pointing at it."""
    use_connection(emulator.url)
    return emulator


def submit(prompt: str = "a watercolor fox", **fields: Any) -> str:
    """Submit a job elsewhere than in the sensor (as another task would) and return its id."""
    call = calls.generate_image("gpt-image-1.5", prompt=prompt, quality="low", **fields)
    return ApiframeHook().submit_image_generation(call).job_id


def wait_until_ended(job_id: str) -> None:
    ApiframeHook().wait_for_job(job_id, timeout=10, poll_interval=0.05)


def sensor(**kwargs: Any) -> ApiframeJobSensor:
    kwargs.setdefault("task_id", "wait")
    kwargs.setdefault("poke_interval", 0.05)
    kwargs.setdefault("timeout", 60)
    return ApiframeJobSensor(**kwargs)


def context(ti: FakeTI | None = None) -> Any:
    return {"ti": ti or FakeTI()}


def job_polls(api: Any, job_id: str) -> int:
    return sum(1 for method, path, _ in api.state.requests if (method, path) == ("GET", f"/v2/jobs/{job_id}"))


async def run_trigger(trigger: ApiframeJobTrigger) -> dict[str, Any]:
    (event,) = [event.payload async for event in trigger.run()]
    payload: dict[str, Any] = event
    return payload


# --- deferrable (the default) --------------------------------------------------------------------------


async def test_defers_with_a_trigger_for_the_job_and_its_deadline(api: Any) -> None:
    api.config.job_seconds = 1.0  # surely still running when the sensor checks it once
    job_id = submit()
    waiting = sensor(job_id=job_id, timeout=120, poke_interval=0.25)
    assert waiting.deferrable is True

    before = time.time()
    with pytest.raises(TaskDeferred) as info:
        waiting.execute(context())
    after = time.time()

    trigger = info.value.trigger
    assert isinstance(trigger, ApiframeJobTrigger)
    assert trigger.job_id == job_id
    assert trigger.apiframe_conn_id == "apiframe_default"
    assert trigger.poll_interval == 0.25
    assert before + 120 <= trigger.deadline <= after + 120
    assert info.value.method_name == "execute_complete"
    assert info.value.timeout is None  # the trigger enforces the sensor's timeout itself
    assert job_polls(api, job_id) == 1


def test_a_timedelta_timeout_and_a_named_connection_reach_the_trigger(api: Any, monkeypatch: Any) -> None:
    api.config.job_seconds = 1.0
    monkeypatch.setenv("AIRFLOW_CONN_APIFRAME_STUDIO", api.connection_json())
    job_id = submit()
    before = time.time()
    with pytest.raises(TaskDeferred) as info:
        sensor(job_id=job_id, timeout=timedelta(minutes=5), apiframe_conn_id="apiframe_studio").execute(
            context()
        )
    trigger = info.value.trigger
    assert trigger.apiframe_conn_id == "apiframe_studio"
    assert before + 300 <= trigger.deadline <= time.time() + 300


async def test_resumes_with_the_same_result_as_the_operator(api: Any, tmp_path: Path) -> None:
    api.config.job_seconds = 1.0
    ti = FakeTI()
    # Another task submits without waiting and pushes the job id.
    submitted = GptImageGenerateOperator(
        task_id="draw", prompt="a fox", quality="low", number_of_images=2, wait_for_completion=False
    ).execute(context(ti))
    job_id = submitted["job_id"]
    assert ti.pushed == [("job_id", job_id)]

    with pytest.raises(TaskDeferred) as info:
        sensor(job_id=job_id, output_path=str(tmp_path / "sensor")).execute(context())
    event = await run_trigger(info.value.trigger)
    assert event["status"] == "success"
    resumed = sensor(job_id=job_id, output_path=str(tmp_path / "sensor"))
    sensed = resumed.execute_complete(context(), event)

    # The same task instance again, waiting this time: it re-attaches to the finished job.
    operated = GptImageGenerateOperator(
        task_id="draw",
        prompt="a fox",
        quality="low",
        number_of_images=2,
        deferrable=False,
        output_path=str(tmp_path / "operator"),
    ).execute(context(ti))

    assert set(sensed) == RESULT_KEYS
    assert operated["job_id"] == sensed["job_id"] == job_id
    assert {k: v for k, v in sensed.items() if k != "files"} == {
        k: v for k, v in operated.items() if k != "files"
    }
    assert sensed["status"] == "COMPLETED"
    assert len(sensed["images"]) == 2
    assert len(sensed["files"]) == 2
    for mine, theirs in zip(sensed["files"], operated["files"], strict=True):
        assert mine["path"].replace("/sensor/", "/operator/") == theirs["path"]
        assert {k: v for k, v in mine.items() if k != "path"} == {
            k: v for k, v in theirs.items() if k != "path"
        }
        assert Path(mine["path"]).read_bytes() == Path(theirs["path"]).read_bytes()
    assert len(api.state.jobs) == 1
    assert ApiframeImageLink().get_link(resumed, ti_key=None) == sensed["images"][0]  # type: ignore[arg-type]


def test_completes_at_once_without_deferring_when_the_job_already_ended(api: Any, tmp_path: Path) -> None:
    job_id = submit()
    wait_until_ended(job_id)
    polls_before = job_polls(api, job_id)

    waiting = sensor(job_id=job_id, output_path=tmp_path)
    result = waiting.execute(context())

    assert job_polls(api, job_id) == polls_before + 1
    assert set(result) == RESULT_KEYS
    assert result["job_id"] == job_id
    assert result["status"] == "COMPLETED"
    (file,) = result["files"]
    assert file["path"] == str(tmp_path / f"{job_id}-1.webp")
    assert waiting.first_image_url == result["images"][0]


# --- non-deferrable ---------------------------------------------------------------------------------------


def test_poke_is_false_while_running_and_returns_the_result_when_done(api: Any, tmp_path: Path) -> None:
    api.config.job_seconds = 1.0
    job_id = submit()
    waiting = sensor(job_id=job_id, deferrable=False, output_path=str(tmp_path))

    assert waiting.poke(context()) is False
    assert list(tmp_path.iterdir()) == []

    wait_until_ended(job_id)
    done = waiting.poke(context())

    assert isinstance(done, PokeReturnValue)
    assert done.is_done is True
    result = done.xcom_value
    assert set(result) == RESULT_KEYS
    assert result["job_id"] == job_id
    assert result["status"] == "COMPLETED"
    assert result["credit_cost"] == api.state.jobs[job_id].cost
    assert [f["path"] for f in result["files"]] == [str(tmp_path / f"{job_id}-1.webp")]


def test_non_deferrable_execute_pokes_until_done_and_returns_the_result(api: Any) -> None:
    api.config.job_seconds = 0.5
    job_id = submit()
    result = sensor(job_id=job_id, deferrable=False, mode="poke").execute(context())
    assert result["job_id"] == job_id
    assert result["status"] == "COMPLETED"
    assert result["files"] == []
    assert job_polls(api, job_id) >= 2


def test_non_deferrable_times_out_as_a_sensor(api: Any) -> None:
    api.decide(outcome="never")
    job_id = submit()
    with pytest.raises(AirflowSensorTimeout):
        sensor(job_id=job_id, deferrable=False, timeout=0.3).execute(context())


# --- jobs that end badly -----------------------------------------------------------------------------


async def test_a_failed_job_fails_the_deferred_sensor_with_the_api_error(api: Any) -> None:
    api.config.job_seconds = 1.0
    api.decide(outcome="failed")
    job_id = submit()
    with pytest.raises(TaskDeferred) as info:
        sensor(job_id=job_id).execute(context())
    event = await run_trigger(info.value.trigger)
    assert event["status"] == "failed"
    with pytest.raises(ApiframeError) as failure:
        sensor(job_id=job_id).execute_complete(context(), event)
    assert f"Apiframe job {job_id} ended FAILED: {CONTENT_POLICY_ERROR}" in str(failure.value)


@pytest.mark.parametrize(
    ("outcome", "status", "reason"),
    [
        ("failed", "FAILED", CONTENT_POLICY_ERROR),
        ("cancelled", "CANCELLED", "The job was cancelled (emulated)."),
    ],
)
@pytest.mark.parametrize("deferrable", [True, False])
def test_a_job_that_already_ended_badly_fails_with_the_api_error(
    api: Any, outcome: str, status: str, reason: str, deferrable: bool
) -> None:
    api.decide(outcome=outcome)
    job_id = submit()
    wait_until_ended(job_id)
    with pytest.raises(ApiframeJobError) as info:
        sensor(job_id=job_id, deferrable=deferrable).execute(context())
    assert str(info.value) == f"Apiframe job {job_id} ended {status}: {reason}"
    assert info.value.job_id == job_id


def test_poke_raises_the_api_error_of_a_failed_job(api: Any) -> None:
    api.decide(outcome="failed")
    job_id = submit()
    wait_until_ended(job_id)
    with pytest.raises(ApiframeJobError, match=re.escape(CONTENT_POLICY_ERROR)):
        sensor(job_id=job_id, deferrable=False).poke(context())


async def test_a_deadline_passing_in_the_trigger_fails_with_a_timeout(api: Any) -> None:
    api.decide(outcome="never")
    job_id = submit()
    with pytest.raises(TaskDeferred) as info:
        sensor(job_id=job_id, timeout=0.3).execute(context())
    event = await run_trigger(info.value.trigger)
    assert event["status"] == "timeout"
    # A sensor's timeout, so that soft_fail and the sensor's own handling apply.
    with pytest.raises(AirflowSensorTimeout) as failure:
        sensor(job_id=job_id).execute_complete(context(), event)
    assert job_id in str(failure.value)
    assert "ApiframeJobSensor" in str(failure.value)


@pytest.mark.parametrize("deferrable", [False, True], ids=["poking", "deferred"])
async def test_soft_fail_skips_a_timed_out_sensor_in_both_modes(api: Any, deferrable: bool) -> None:
    """A sensor's ``soft_fail`` turns its timeout into a skip, whether it pokes or defers."""
    api.decide(outcome="never")
    job_id = submit()
    arguments = {"job_id": job_id, "timeout": 0.3, "soft_fail": True, "deferrable": deferrable}
    if not deferrable:
        with pytest.raises(AirflowSkipException):
            sensor(**arguments).execute(context())
        return
    with pytest.raises(TaskDeferred) as info:
        sensor(**arguments).execute(context())
    event = await run_trigger(info.value.trigger)
    assert event["status"] == "timeout"
    # What the task runner calls when the trigger fires (a fresh instance, in the worker).
    with pytest.raises(AirflowSkipException):
        sensor(**arguments).resume_execution("execute_complete", {"event": event}, context())


def test_an_unknown_job_fails_at_once(api: Any) -> None:
    missing = str(uuid.uuid4())
    with pytest.raises(ApiframeNotFoundError, match="HTTP 404"):
        sensor(job_id=missing).execute(context())
    assert job_polls(api, missing) == 1


def test_resuming_without_an_event_is_an_error() -> None:
    with pytest.raises(ApiframeError, match="without an event"):
        sensor(job_id="x").execute_complete(context(), None)


# --- templating -------------------------------------------------------------------------------------------


def test_job_id_and_output_path_are_template_fields() -> None:
    assert tuple(ApiframeJobSensor.template_fields) == ("job_id", "output_path")


def test_job_id_rendered_from_xcom_is_waited_for(api: Any, tmp_path: Path) -> None:
    ti = FakeTI()
    GptImageGenerateOperator(
        task_id="draw", prompt="a fox", quality="low", wait_for_completion=False
    ).execute(context(ti))
    ((_, job_id),) = ti.pushed
    wait_until_ended(job_id)

    waiting = sensor(
        job_id="{{ ti.xcom_pull(task_ids='draw', key='job_id') }}",
        output_path=f"{tmp_path}/{{{{ ds }}}}",
    )
    waiting.render_template_fields({"ti": ti, "ds": "2026-11-24"}, jinja_env=jinja2.Environment())  # type: ignore[arg-type]
    assert waiting.job_id == job_id
    assert waiting.output_path == f"{tmp_path}/2026-11-24"

    result = waiting.execute(context(ti))
    assert result["job_id"] == job_id
    assert result["files"][0]["path"] == str(tmp_path / "2026-11-24" / f"{job_id}-1.webp")
