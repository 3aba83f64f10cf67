"""
The provider's metrics in a real deployment, with Airflow's StatsD metrics on towards a UDP listener on
loopback that the test starts: the counters of the workers and the triggerer match the emulator's
ledger, job for job and credit for credit, and the polls' injected faults show as retries and pauses.
"""

from __future__ import annotations

from typing import Any

import pytest
from harness import ROOT, Deployment, deployment, wait_for
from metrics_listener import StatsdListener
from support import API_KEY

pytestmark = pytest.mark.deployment

DAG_ID = "deployment_metrics"
CONN = "apiframe_default"


def served(airflow: Deployment, status: int) -> list[int]:
    """Positions, in the emulator's request log, of the status reads answered ``status``."""
    log = airflow.emulator.admin("requests")
    return [
        n
        for n, (method, path, code) in enumerate(log)
        if method == "GET" and path.startswith("/v2/jobs") and code == status
    ]


def inject_one(airflow: Deployment, fault: dict[str, Any]) -> None:
    """One fault on the next status read, then wait until it was served and a read after it succeeded."""
    status = fault["status"]
    before = len(served(airflow, status))
    airflow.emulator.admin("faults", {"method": "GET", "path": "/v2/jobs*", "times": 1, **fault})
    at = wait_for(f"the {status} to be served", lambda: served(airflow, status)[before:], timeout=30)[0]
    wait_for("a status read after it", lambda: [n for n in served(airflow, 200) if n > at], timeout=30)


def test_the_counters_match_the_ledger() -> None:
    with (
        StatsdListener(prefix="airflow") as statsd,
        deployment(
            [ROOT / "tests" / "dags" / "deployment_metrics.py"],
            API_KEY,
            settings={
                "AIRFLOW__METRICS__STATSD_ON": "True",
                "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
                "AIRFLOW__METRICS__STATSD_PORT": str(statsd.port),
                "AIRFLOW__METRICS__STATSD_PREFIX": "airflow",
                # Tags travel in the names (InfluxDB style): model and conn_id can be checked.
                "AIRFLOW__METRICS__STATSD_INFLUXDB_ENABLED": "True",
            },
        ) as airflow,
    ):
        airflow.emulator.admin(
            "outcomes", {"outcome": "failed", "prompt_contains": "[failed]", "times": None}
        )
        airflow.emulator.admin("hold", method="POST")  # every job stays QUEUED until released
        run_id = airflow.trigger(DAG_ID, "metrics")
        wait_for("every task deferred", lambda: airflow.count(DAG_ID, run_id, "deferred") == 5, timeout=120)
        # Only the triggerer polls now: one rate limit, then one outage, each on its own.
        inject_one(airflow, {"action": "status", "status": 429, "retry_after": 1})
        inject_one(airflow, {"action": "status", "status": 503})
        airflow.emulator.admin("release", method="POST")
        assert airflow.wait_for_run(DAG_ID, run_id, timeout=120) == "failed"

        states = {task: state for (task, _), (state, _) in airflow.task_instances(DAG_ID, run_id).items()}
        jobs = airflow.emulator.admin("jobs")
        charges = airflow.emulator.admin("state")["charges"]

    assert states == {
        "draw_low": "success",
        "draw_medium": "success",
        "draw_high": "success",
        "refused": "failed",
        "batch": "success",
    }
    assert len(jobs) == 6
    assert len(charges) == 5
    statsd.wait_until(
        lambda: statsd.total("apiframe.jobs.completed") + statsd.total("apiframe.jobs.failed") == 6
    )
    tags = {"conn_id": CONN}
    assert statsd.total("apiframe.jobs.submitted", **tags) == len(jobs)
    assert statsd.total("apiframe.jobs.completed", **tags) == len(charges)
    assert statsd.total("apiframe.jobs.failed", **tags, status="FAILED") == 1
    assert statsd.total("apiframe.credits.spent", **tags) == sum(charge["credits"] for charge in charges)
    for model in {job["model"] for job in jobs}:
        assert statsd.total("apiframe.jobs.submitted", model=model) == sum(j["model"] == model for j in jobs)
        charged = sum(
            c["credits"] for c in charges for j in jobs if j["id"] == c["jobId"] and j["model"] == model
        )
        assert statsd.total("apiframe.credits.spent", model=model) == charged
    assert len(statsd.named("apiframe.jobs.wait_time", **tags)) == len(jobs)
    assert statsd.total("apiframe.jobs.timed_out") == 0
    # The triggerer's transport told of its retries.
    assert statsd.total("apiframe.http.retries", **tags, reason="429") == 1
    assert statsd.total("apiframe.http.retries", **tags, reason="503") == 1
    assert statsd.total("apiframe.rate_limit.pauses", **tags) == 1
    in_flight = [m.value for m in statsd.named("apiframe.batch.in_flight", **tags)]
    assert max(in_flight) == 2, in_flight
    assert in_flight[-1] == 0, in_flight
