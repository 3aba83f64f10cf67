"""
A Celery fleet: the CeleryExecutor on a Redis broker (``redis-server``, started by the harness), two
Celery workers, two triggerers, PostgreSQL for the metadata and Celery's results, the emulator as
the API.

One drill, then what it must have come to. 100 mapped deferrable tasks and a batch of 500 items run
at once; the emulator holds every job QUEUED, so that what is killed is killed at a known point:

1. one Celery worker is killed with SIGKILL (its whole process tree: the worker, its pool and the
   task processes, which Airflow's supervisor puts in process groups of their own) while it runs
   tasks that are submitting; Airflow notices their missing heartbeats and retries them on the other
   worker, where each re-attaches to the job its first try paid for;
2. once the batch has deferred, the triggerer holding its trigger (told by ``trigger.triggerer_id``
   against the job id each triggerer was started with) is killed with SIGKILL, mapped tasks'
   triggers with it, and the jobs are released; the other triggerer takes the triggers over.

Then every task and every item is right, every request was charged exactly once, no trigger is
left, and the API key is in no log, database row, broker message or file. Measured outcomes go to
``out/celery_fleet.json``.
"""

from __future__ import annotations

import collections
import json
import os
import time
from collections.abc import Iterator
from typing import Any

import psutil
import pytest
from harness import ROOT, Deployment, deployment, wait_for
from support import API_KEY

pytestmark = pytest.mark.deployment

MAPPED, BATCH = "deployment_celery_mapped", "deployment_celery_batch"
DAGS = [ROOT / "tests" / "dags" / f"{dag_id}.py" for dag_id in (MAPPED, BATCH)]
# As the two DAG files write them.
MAPPED_PROMPTS = [f"A fleet drill, mapped task {n:03d}" for n in range(100)]
BATCH_PROMPTS = {f"item-{n:03d}": f"A fleet drill, batch item {n:03d}" for n in range(500)}

SETTINGS = {
    # A task whose worker died sends no heartbeat: after 25 s the scheduler fails that try (checked
    # every 5 s) and, with retries, the next try runs on a live worker (Airflow's default is 300 s).
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "25",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
    # A task the dead worker had taken off the queue but not yet started stays QUEUED in Airflow
    # (its message unacknowledged in Redis): requeued after 40 s (default 600 s).
    "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "40",
    "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT_CHECK_INTERVAL": "5",
    # Celery acknowledges a message once its task has ended, each worker process takes one message
    # at a time, and Redis gives an unacknowledged message back only after the visibility timeout:
    # longer than any task here, so a dead worker's messages are left to Airflow's heartbeat timeout
    # (a redelivered message of a task that moved on is refused by Airflow anyway).
    "AIRFLOW__CELERY__TASK_ACKS_LATE": "True",
    "AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER": "1",
    "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "900",
    # The supervisor notices its task's exit within 1 s rather than 5 (docs/performance.md).
    "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "1",
}
REPORT = ROOT / "out" / "celery_fleet.json"
MEASURED: dict[str, Any] = {}
#: A task instance's try: ``(dag_id, task_id, map_index, try_number)``.
Task = tuple[str, str, int, int]


@pytest.fixture(scope="module")
def fleet() -> Iterator[Deployment]:
    started = time.monotonic()
    with deployment(DAGS, API_KEY, settings=SETTINGS, celery_workers=2, triggerers=2) as running:
        MEASURED["fleet_start_seconds"] = round(time.monotonic() - started, 1)
        yield running
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(json.dumps(MEASURED, indent=2))


def running_on(airflow: Deployment, worker: str) -> list[Task]:
    """``(dag_id, task_id, map_index, try_number)`` of the RUNNING tasks whose process ``worker`` started."""
    try:
        tree = {child.pid for child in psutil.Process(airflow.processes[worker].pid).children(recursive=True)}
    except psutil.NoSuchProcess:
        return []
    rows = airflow.postgres.query(
        "SELECT dag_id, task_id, map_index, try_number, pid FROM task_instance WHERE state = 'running'"
    )
    return [(dag, task, index, tries) for dag, task, index, tries, pid in rows if pid in tree]


def count(airflow: Deployment, dag_id: str, state: str) -> int:
    ((n,),) = airflow.postgres.query(
        "SELECT count(*) FROM task_instance WHERE dag_id = %s AND state = %s", dag_id, state
    )
    return int(n)


def still_running(airflow: Deployment, tasks: list[Task]) -> list[Task]:
    rows = airflow.postgres.query(
        "SELECT dag_id, task_id, map_index, try_number FROM task_instance WHERE state = 'running'"
    )
    return [task for task in tasks if task in set(rows)]


@pytest.fixture(scope="module")
def drill(fleet: Deployment) -> dict[str, Any]:
    """Run both DAGs, kill a worker and a triggerer on the way; return what was killed and when."""
    airflow = fleet
    airflow.emulator.stop()
    airflow.emulator.start(job_seconds=3)
    airflow.emulator.admin("hold", method="POST")  # every job QUEUED until released
    started = time.monotonic()
    runs = {BATCH: airflow.trigger(BATCH, "fleet_batch"), MAPPED: airflow.trigger(MAPPED, "fleet_mapped")}

    # 1. A worker dies while tasks run on it: the busier of the two, once the mapped tasks flow.
    def busy_worker() -> tuple[str, list[Task]] | None:
        if count(airflow, MAPPED, "deferred") < 15:
            return None
        load = {name: running_on(airflow, name) for name in ("worker-1", "worker-2")}
        name = max(load, key=lambda worker: len(load[worker]))
        return (name, load[name]) if len(load[name]) >= 2 else None

    worker, on_it = wait_for("a worker running two tasks or more", busy_worker, timeout=240, every=0.2)
    tree = airflow.kill(worker)
    worker_killed = time.monotonic()
    crashed = still_running(airflow, on_it)  # those that had not ended by the kill
    assert crashed, f"the kill found {on_it} running on {worker}, and none still running after it"

    # 2. The triggerer holding the batch's trigger dies, with mapped triggers on it, jobs still QUEUED.
    def batch_trigger_held() -> dict[int, list[int]] | None:
        rows = airflow.postgres.query(
            "SELECT t.triggerer_id, ti.dag_id FROM trigger t JOIN task_instance ti ON ti.trigger_id = t.id "
            "WHERE ti.state = 'deferred' AND t.triggerer_id IS NOT NULL"
        )
        held: dict[int, list[str]] = collections.defaultdict(list)
        for triggerer_id, dag_id in rows:
            held[triggerer_id].append(dag_id)
        owner = next((job for job, dags in held.items() if BATCH in dags), None)
        if owner is None or held[owner].count(MAPPED) < 10 or len(held) < 2:
            return None
        return {job: [dags.count(BATCH), dags.count(MAPPED)] for job, dags in held.items()}

    held = wait_for(
        "both triggerers busy, one with the batch's trigger", batch_trigger_held, timeout=240, every=0.5
    )
    victim_job = next(job for job, (batch, _) in held.items() if batch)
    (triggerer,) = [name for name, job in airflow.triggerer_jobs.items() if job == victim_job]
    time.sleep(3)  # a few rounds of polls of QUEUED jobs, then the crash
    assert airflow.emulator.admin("state")["jobsByStatus"].keys() <= {"QUEUED"}, "nothing ended yet"
    airflow.kill(triggerer)
    triggerer_killed = time.monotonic()
    released = airflow.emulator.admin("release", method="POST")["released"]

    states = {dag_id: airflow.wait_for_run(dag_id, run_id, timeout=480) for dag_id, run_id in runs.items()}
    ended = time.monotonic()
    requeued = airflow.postgres.query("SELECT count(*) FROM log WHERE event = 'stuck in queued reschedule'")
    MEASURED["drill"] = {
        "tasks": 101,
        "items": 500,
        "killed_worker": worker,
        "killed_worker_processes": len(tree),
        "tasks_running_on_it_at_the_kill": [list(task) for task in crashed],
        "tasks_requeued_after_the_queued_timeout": requeued[0][0],
        "killed_triggerer_held": {"batch": held[victim_job][0], "mapped": held[victim_job][1]},
        "other_triggerer_held": [counts for job, counts in held.items() if job != victim_job],
        "jobs_released": released,
        "seconds_from_trigger_to_worker_kill": round(worker_killed - started, 1),
        "seconds_from_trigger_to_triggerer_kill": round(triggerer_killed - started, 1),
        "seconds_from_triggerer_kill_to_both_runs_ended": round(ended - triggerer_killed, 1),
        "seconds_from_trigger_to_both_runs_ended": round(ended - started, 1),
    }
    return {"runs": runs, "states": states, "crashed": crashed, "worker": worker, "triggerer": triggerer}


def ledger(airflow: Deployment) -> list[dict[str, Any]]:
    return list(airflow.emulator.admin("jobs"))


def test_both_runs_succeed(fleet: Deployment, drill: dict[str, Any]) -> None:
    assert drill["states"] == {BATCH: "success", MAPPED: "success"}
    assert drill["worker"] not in fleet.processes
    assert drill["triggerer"] not in fleet.processes


def test_every_mapped_task_succeeds_with_its_own_job(fleet: Deployment, drill: dict[str, Any]) -> None:
    run_id = drill["runs"][MAPPED]
    instances = fleet.task_instances(MAPPED, run_id)
    assert sorted(instances) == [("draw", n) for n in range(100)]
    assert {state for state, _ in instances.values()} == {"success"}, instances
    for dag_id, task_id, index, tries in drill["crashed"]:  # killed with their worker, then retried
        assert fleet.task_instances(dag_id, drill["runs"][dag_id])[(task_id, index)][1] > tries
    by_prompt = {job["prompt"]: job for job in ledger(fleet)}
    results = fleet.results(MAPPED, run_id)
    for n, prompt in enumerate(MAPPED_PROMPTS):
        result, job = results[("draw", n)], by_prompt[prompt]
        assert result["job_id"] == job["id"], (n, result, job)
        assert result["status"] == "COMPLETED"
        assert result["images"]
        assert all(url.startswith(fleet.emulator.url) for url in result["images"])
    MEASURED["mapped"] = {
        "succeeded": 100,
        "tries": dict(collections.Counter(str(tries) for _, tries in instances.values())),
    }


def test_the_batch_completes_every_item_once(fleet: Deployment, drill: dict[str, Any]) -> None:
    run_id = drill["runs"][BATCH]
    ((state, tries),) = fleet.task_instances(BATCH, run_id).values()
    assert state == "success"
    (result,) = fleet.results(BATCH, run_id).values()
    assert result["items"] == result["completed"] == 500, result
    assert result["failed"] == result["skipped"] == 0, result
    jobs = {job["prompt"]: job for job in ledger(fleet)}
    folder = fleet.images / "celery_batch" / run_id
    lines = [json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines()]
    assert sorted(line["key"] for line in lines) == sorted(BATCH_PROMPTS)
    for line in lines:
        assert line["status"] == "COMPLETED", line
        assert line["error"] is None, line
        assert line["job_id"] == jobs[BATCH_PROMPTS[line["key"]]]["id"], line
        (saved,) = line["files"]
        assert os.path.getsize(saved["path"]) == saved["bytes"] > 0
        assert os.path.dirname(saved["path"]) == str(folder / line["key"])
    MEASURED["batch"] = {"completed": result["completed"], "tries": tries}


def test_every_request_is_charged_exactly_once(fleet: Deployment, drill: dict[str, Any]) -> None:
    jobs = ledger(fleet)
    prompts = collections.Counter(job["prompt"] for job in jobs)
    expected = [*MAPPED_PROMPTS, *BATCH_PROMPTS.values()]
    assert sorted(prompts) == sorted(expected), "a job for every request, and for nothing else"
    assert {n for n in prompts.values()} == {1}, [p for p, n in prompts.items() if n > 1][:5]
    assert all(job["status"] == "COMPLETED" and job["charged"] for job in jobs)
    assert all(len(job["idempotencyKeys"]) == 1 for job in jobs), "a retry replays its first key"
    charges = [charge["jobId"] for charge in fleet.emulator.admin("state")["charges"]]
    assert sorted(charges) == sorted(job["id"] for job in jobs), "exactly one charge per job"
    MEASURED["ledger"] = {"jobs": len(jobs), "charges": len(charges), "requests_with_two_jobs": 0}


def test_no_trigger_is_left_behind(fleet: Deployment, drill: dict[str, Any]) -> None:
    wait_for(
        "the trigger table to empty",
        lambda: fleet.postgres.query("SELECT count(*) FROM trigger") == [(0,)],
        timeout=60,
    )


def test_the_key_appears_nowhere(fleet: Deployment, drill: dict[str, Any]) -> None:
    """Not in any log, database row, broker message or file the fleet wrote."""
    logs = fleet.logs()
    assert len(logs) > 10_000, "there are logs to search"
    dump = fleet.postgres.dump()
    assert MAPPED in dump, "the dump holds the runs"
    assert BATCH in dump
    assert fleet.broker is not None
    broker = fleet.broker.dump()
    files = [path for path in fleet.workdir.rglob("*") if path.is_file()]
    for text in (logs, dump, broker):
        assert API_KEY not in text
        assert API_KEY[4:] not in text
    for path in files:
        assert API_KEY[4:].encode() not in path.read_bytes(), path
    MEASURED["key_occurrences"] = {
        "logs_bytes_searched": len(logs),
        "database_dump_bytes_searched": len(dump),
        "broker_bytes_searched": len(broker),
        "files_searched": len(files),
        "found": 0,
    }
