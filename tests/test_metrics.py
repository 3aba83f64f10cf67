"""
The provider's metrics through Airflow's real ``Stats`` and a real StatsD client, to a UDP listener on
loopback (InfluxDB-style tags on, so the tags travel in the names): what each call sends, that a broken
backend never fails a task, and the counts of real tasks against the emulator's ledger.
"""

from __future__ import annotations

import datetime
import types
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from metrics_listener import StatsdListener
from support import FakeTI

from airflow_provider_apiframe import metrics
from airflow_provider_apiframe.core.errors import ApiframeError, ApiframeJobTimeoutError
from airflow_provider_apiframe.core.models import Job
from airflow_provider_apiframe.core.retry import RetryEvent
from airflow_provider_apiframe.operators.batch import ApiframeBatchOperator
from airflow_provider_apiframe.operators.gpt_image import GptImageGenerateOperator

try:  # Airflow >= 3.2
    from airflow.sdk.exceptions import TaskDeferred
except ImportError:  # Airflow 3.1
    from airflow.exceptions import TaskDeferred  # type: ignore[no-redef,attr-defined,unused-ignore]

CONN = "apiframe_default"
MODEL = "gpt-image-1.5"


def use_stats_from_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make Airflow's ``Stats`` read ``[metrics]`` again, as a fresh process would; undone afterwards."""
    stats = metrics._stats()
    if isinstance(stats, types.ModuleType):  # Airflow >= 3.2: the Task SDK's module
        from airflow.sdk._shared.observability.metrics import stats as shared
        from airflow.sdk.observability.metrics import stats_utils

        for name in ("_factory", "_backend", "_export_legacy_names"):
            monkeypatch.setattr(shared, name, getattr(shared, name))  # put back after the test
        stats.initialize(factory=stats_utils.get_stats_factory(), export_legacy_names=False)
    else:  # Airflow 3.1: the class reads the config when first used
        from airflow.metrics import statsd_logger

        monkeypatch.setattr(type(stats), "factory", statsd_logger.get_statsd_logger)
        monkeypatch.setattr(stats, "instance", None)  # made again, by the factory, on first use


@pytest.fixture
def statsd(monkeypatch: pytest.MonkeyPatch) -> Iterator[StatsdListener]:
    """Airflow's StatsD metrics on, towards a listener on loopback."""
    with StatsdListener(prefix="airflow") as listener:
        for option, value in {
            "STATSD_ON": "True",
            "STATSD_HOST": "127.0.0.1",
            "STATSD_PORT": str(listener.port),
            "STATSD_PREFIX": "airflow",
            "STATSD_INFLUXDB_ENABLED": "True",
        }.items():
            monkeypatch.setenv(f"AIRFLOW__METRICS__{option}", value)
        use_stats_from_config(monkeypatch)
        yield listener


@pytest.fixture
def api(emulator: Any, use_connection: Any) -> Any:
    use_connection(emulator.url)
    return emulator


def test_the_stats_of_this_airflow_load_without_a_deprecation_warning() -> None:
    metrics._stats.cache_clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        stats = metrics._stats()
    for send in (stats.incr, stats.gauge, stats.timing):
        assert callable(send)


def test_each_metric_reaches_statsd_with_its_tags(statsd: StatsdListener) -> None:
    job = Job.model_validate(
        {
            "id": "j1",
            "status": "COMPLETED",
            "model": MODEL,
            "creditCost": 6,
            "createdAt": "2026-11-24T10:00:00.000Z",
            "completedAt": "2026-11-24T10:00:02.500Z",
        }
    )
    metrics.job_submitted(MODEL, CONN)
    metrics.job_ended(job, CONN)
    metrics.job_ended(Job.model_validate({"id": "j2", "status": "CANCELLED", "model": MODEL}), CONN)
    metrics.job_timed_out(CONN)
    metrics.batch_in_flight(3, CONN)
    retried = metrics.on_retry(CONN)
    retried(RetryEvent(call="GET /v2/jobs/j1", reason="503", attempt=1, wait=0.5))
    retried(RetryEvent(call="GET /v2/jobs/j1", reason="429", attempt=2, wait=2.0))

    statsd.wait_until(lambda: statsd.named("apiframe.rate_limit.wait_time"))
    tags = {"model": MODEL, "conn_id": CONN}
    assert statsd.total("apiframe.jobs.submitted", **tags) == 1
    assert statsd.total("apiframe.jobs.completed", **tags) == 1
    assert statsd.total("apiframe.credits.spent", **tags) == 6
    assert statsd.total("apiframe.jobs.failed", **tags, status="CANCELLED") == 1
    assert statsd.total("apiframe.jobs.timed_out", conn_id=CONN) == 1
    (waited,) = statsd.named("apiframe.jobs.wait_time", **tags, status="COMPLETED")
    assert (waited.value, waited.kind) == (2500.0, "ms")
    assert [(m.value, m.kind) for m in statsd.named("apiframe.batch.in_flight", conn_id=CONN)] == [(3, "g")]
    assert statsd.total("apiframe.http.retries", conn_id=CONN, reason="503") == 1
    assert statsd.total("apiframe.http.retries", conn_id=CONN, reason="429") == 1
    assert statsd.total("apiframe.rate_limit.pauses", conn_id=CONN) == 1
    (paused,) = statsd.named("apiframe.rate_limit.wait_time", conn_id=CONN)
    assert paused.value == 2000.0
    assert statsd.named("apiframe.jobs.timed_out")[0].tags == {"conn_id": CONN}, "no empty model tag"


def test_a_broken_backend_never_fails_the_caller(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken:
        def __getattr__(self, name: str) -> Any:
            raise OSError("the StatsD host is gone")

    monkeypatch.setattr(metrics, "_stats", Broken)
    with caplog.at_level("DEBUG", logger=metrics.__name__):
        metrics.job_submitted(MODEL, CONN)
        metrics.job_ended(Job.model_validate({"id": "j", "status": "FAILED", "model": MODEL}), CONN)
        metrics.on_retry(CONN)(RetryEvent(call="GET /v2/me", reason="429", attempt=1, wait=1.0))
    assert "Could not send the metric apiframe.jobs.submitted" in caplog.text


def test_a_job_without_its_times_sends_no_wait_time(statsd: StatsdListener) -> None:
    metrics.job_ended(Job.model_validate({"id": "j", "status": "COMPLETED", "model": MODEL}), CONN)
    metrics.job_timed_out(CONN, MODEL)  # the last datagram, so the first has arrived too
    statsd.wait_until(lambda: statsd.named("apiframe.jobs.timed_out"))
    assert statsd.total("apiframe.jobs.completed") == 1
    assert statsd.named("apiframe.jobs.wait_time") == []
    assert statsd.named("apiframe.credits.spent") == [], "no creditCost, no credits"


async def run_task(deferrable: bool, **kwargs: Any) -> dict[str, Any]:
    """Run a GPT Image task as Airflow would: in the worker, or deferred through its trigger."""
    op = GptImageGenerateOperator(task_id="draw", deferrable=deferrable, poll_interval=0.05, **kwargs)
    ti = FakeTI()
    try:
        return op.execute({"ti": ti})  # type: ignore[arg-type]
    except TaskDeferred as deferred:
        (event,) = [event.payload async for event in deferred.trigger.run()]
        return op.execute_complete({"ti": ti}, event, **(deferred.kwargs or {}))  # type: ignore[arg-type]


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferred", "in-worker"])
async def test_tasks_count_their_jobs_as_the_ledger_does(
    api: Any, statsd: StatsdListener, deferrable: bool
) -> None:
    api.decide(outcome="failed", prompt_contains="[failed]")
    api.inject(method="GET", path="/v2/jobs*", action="status", status=429, retry_after=1, times=2)
    api.inject(method="GET", path="/v2/jobs*", action="status", status=503, times=1)

    await run_task(deferrable, prompt="a fox", quality="high")
    with pytest.raises(ApiframeError, match="ended FAILED"):
        await run_task(deferrable, prompt="a fox [failed]")

    charges = api.state.ledger.charges
    tags = {"model": MODEL, "conn_id": CONN}
    statsd.wait_until(lambda: statsd.total("apiframe.jobs.failed") == 1)
    assert statsd.total("apiframe.jobs.submitted", **tags) == len(api.state.jobs) == 2
    assert statsd.total("apiframe.jobs.completed", **tags) == len(charges) == 1
    assert statsd.total("apiframe.jobs.failed", **tags, status="FAILED") == 1
    assert statsd.total("apiframe.credits.spent", **tags) == sum(cost for _, cost in charges) == 24
    waits = statsd.named("apiframe.jobs.wait_time", **tags)
    assert len(waits) == 2
    assert all(0 < m.value < 10_000 for m in waits)
    # The polls' faults, from the worker or from the trigger's shared transport alike.
    assert statsd.total("apiframe.http.retries", conn_id=CONN, reason="429") == 2
    assert statsd.total("apiframe.http.retries", conn_id=CONN, reason="503") == 1
    assert statsd.total("apiframe.rate_limit.pauses", conn_id=CONN) == 2


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferred", "in-worker"])
async def test_a_wait_past_the_timeout_counts_as_timed_out(
    api: Any, statsd: StatsdListener, deferrable: bool
) -> None:
    api.decide(outcome="never")
    with pytest.raises(ApiframeJobTimeoutError):
        await run_task(deferrable, prompt="a fox", timeout=0.5)
    statsd.wait_until(lambda: statsd.total("apiframe.jobs.timed_out", conn_id=CONN) == 1)
    assert statsd.total("apiframe.jobs.submitted") == 1
    assert statsd.named("apiframe.jobs.completed") == statsd.named("apiframe.jobs.failed") == []


def test_a_batch_counts_every_item_and_its_items_in_flight(
    api: Any, statsd: StatsdListener, tmp_path: Path
) -> None:
    api.decide(outcome="failed", prompt_contains="[failed]")
    items = [
        {"key": "a", "model": MODEL, "prompt": "a red mug", "model_params": {"quality": "low"}},
        {"key": "b", "model": "flux-2-pro", "prompt": "a blue mug"},
        {"key": "c", "model": MODEL, "prompt": "a green mug [failed]"},
    ]
    op = ApiframeBatchOperator(
        task_id="render",
        requests=items,
        output_path=str(tmp_path / "out"),
        deferrable=False,
        poll_interval=0.05,
        max_failed_items=1,
    )
    result = op.execute({"ti": FakeTI()})

    assert (result["completed"], result["failed"]) == (2, 1)
    charges = api.state.ledger.charges
    statsd.wait_until(lambda: [m.value for m in statsd.named("apiframe.batch.in_flight")][-1:] == [0])
    assert statsd.total("apiframe.jobs.submitted", conn_id=CONN) == len(api.state.jobs) == 3
    assert statsd.total("apiframe.jobs.submitted", model="flux-2-pro") == 1
    assert statsd.total("apiframe.jobs.completed", conn_id=CONN) == len(charges) == 2
    assert statsd.total("apiframe.jobs.failed", model=MODEL, status="FAILED") == 1
    assert statsd.total("apiframe.credits.spent") == sum(cost for _, cost in charges) == result["credits"]
    in_flight = [m.value for m in statsd.named("apiframe.batch.in_flight", conn_id=CONN)]
    assert max(in_flight) >= 1, in_flight
    assert in_flight[-1] == 0, in_flight


def test_a_job_wait_is_measured_from_created_to_completed() -> None:
    job = Job.model_validate(
        {
            "id": "j",
            "status": "FAILED",
            "model": MODEL,
            "createdAt": "2026-11-24T10:00:00+00:00",
            "completedAt": "2026-11-24T10:01:00.250+00:00",
        }
    )
    assert metrics._took(job) == datetime.timedelta(seconds=60.25)
    assert metrics._took(job.model_copy(update={"completed_at": "not a time"})) is None
