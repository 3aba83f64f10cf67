"""
Worker-slot seconds per job, as Airflow's task supervisor counts them: deferred vs. in the worker.

Runs a real Airflow deployment (the reliability tests' harness: PostgreSQL, scheduler,
dag-processor, triggerer, api-server, LocalExecutor) against the emulator, triggers
``benchmarks/dags/worker_slot.py`` (the same 15 s job deferred and waiting in its worker, then a
task that only defers to Airflow's own ``TimeDeltaTrigger``) ``--runs`` times, and reads:

- the slot time: the supervisor's ``Workload finished ... duration=`` line of each workload (a
  deferred task has two: submit, then resume), from the scheduler's log (LocalExecutor workers log
  there), summed per task;
- where it goes, per workload, from the task's own log: Airflow's start (process, DAG file parse,
  which imports the provider) up to "Worker startup parse complete"; the operator's ``execute``
  up to "Post Execute"; Airflow's finish after that (for a deferral: after "Pausing task as
  DEFERRED");
- the provider's import time in a fresh interpreter that has already imported what Airflow's task
  runner imports (median of 5).

    python benchmarks/worker_slot.py [--runs 3] [--job-seconds 15] [--setting KEY=VALUE ...]

``--setting AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL=1`` runs the deployment with that setting.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "deployment"))
sys.path.insert(0, str(ROOT / "tests"))

from harness import Deployment, deployment, wait_for  # noqa: E402

KEY = "afk_bench_worker_slot_0123456789"
DAG = Path(__file__).resolve().parent / "dags" / "worker_slot.py"
TASKS = ("deferred", "in_worker", "airflow_defer_only")
_WORKLOAD = re.compile(
    r"^(?P<at>\S+) .*Workload finished.*duration=(?P<duration>[\d.]+).*final_state=(?P<state>\w+)"
    r".*workload_id=(?P<id>[0-9a-f-]{36})"
)


def _moment(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def workloads(scheduler_log: str) -> dict[str, list[tuple[float, float, str]]]:
    """Task instance id -> its workloads as ``(start, end, final state)``, from the supervisor's lines."""
    found: dict[str, list[tuple[float, float, str]]] = {}
    for line in scheduler_log.splitlines():
        if match := _WORKLOAD.match(line):
            end = _moment(match["at"])
            found.setdefault(match["id"], []).append((end - float(match["duration"]), end, match["state"]))
    return found


def task_marks(task_log: str) -> list[dict[str, float]]:
    """Per workload of a task's log: when Airflow's start-up ended and when ``execute`` returned."""
    marks: list[dict[str, float]] = []
    for line in task_log.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        event, at = str(entry.get("event", "")), _moment(entry["timestamp"])
        if "Pre Execute" in event:
            marks.append({})
        elif marks and event.startswith("Worker startup parse complete"):
            marks[-1]["parsed"] = at
        elif marks and "Post Execute" in event and "executed" not in marks[-1]:
            marks[-1]["executed"] = at
    return marks


def provider_import_seconds(samples: int = 5) -> float:
    """Median time to import the GPT Image operator where Airflow's task runner is already loaded."""
    code = (
        "import time, airflow.sdk.execution_time.task_runner; t = time.perf_counter(); "
        "import airflow_provider_apiframe.operators.gpt_image; print(time.perf_counter() - t)"
    )
    runs = [float(subprocess.check_output([sys.executable, "-c", code], text=True)) for _ in range(samples)]
    return statistics.median(runs)


def measure_run(airflow: Deployment, run_id: str) -> dict[str, dict[str, Any]]:
    """Slot seconds and their parts for each task of one run."""
    ids = dict(
        airflow.postgres.query(
            "SELECT id::text, task_id FROM task_instance WHERE dag_id = 'worker_slot' AND run_id = %s", run_id
        )
    )
    marks_of = {}
    for task in TASKS:
        folder = airflow.home / "logs" / "dag_id=worker_slot" / f"run_id={run_id}" / f"task_id={task}"
        marks_of[task] = task_marks((folder / "attempt=1.log").read_text())

    def logged() -> dict[str, list[tuple[float, float, str]]] | None:
        # The supervisor writes its line once the task's state is in: it may trail the run's end.
        log = (airflow.workdir / "scheduler.log").read_text(errors="replace")
        found = {ids[ti]: runs for ti, runs in workloads(log).items() if ti in ids}
        return found if all(len(found.get(t, [])) == len(marks_of[t]) for t in TASKS) else None

    found = wait_for("every workload's line in the scheduler log", logged, timeout=60)
    measured: dict[str, dict[str, Any]] = {}
    for task in TASKS:
        marks = marks_of[task]
        runs = sorted(found[task])
        parts: dict[str, Any] = {"slot": 0.0, "airflow_start": 0.0, "execute": 0.0, "airflow_finish": 0.0}
        each = []
        for (start, end, state), mark in zip(runs, marks, strict=True):
            one = {
                "final_state": state,
                "slot": end - start,
                "airflow_start": mark["parsed"] - start,
                "execute": mark["executed"] - mark["parsed"],
                "airflow_finish": end - mark["executed"],
            }
            each.append({k: v if isinstance(v, str) else round(v, 2) for k, v in one.items()})
            for part in ("slot", "airflow_start", "execute", "airflow_finish"):
                parts[part] += one[part]
        parts["workloads"] = len(runs)
        parts["each"] = each
        measured[task] = parts
    return measured


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--job-seconds", type=float, default=15.0)
    parser.add_argument("--setting", action="append", default=[], help="KEY=VALUE for every component")
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "worker_slot.json")
    args = parser.parse_args()
    settings = dict(setting.split("=", 1) for setting in args.setting)
    per_run = []
    with deployment([DAG], KEY, settings=settings) as airflow:
        airflow.emulator.stop()
        airflow.emulator.start(job_seconds=args.job_seconds)
        for n in range(args.runs):
            run_id = airflow.trigger("worker_slot", f"bench_{n}_{int(time.time())}")
            if airflow.wait_for_run("worker_slot", run_id, timeout=300) != "success":
                raise SystemExit(f"run {run_id} failed")
            per_run.append(measure_run(airflow, run_id))
    parts = ("slot", "airflow_start", "execute", "airflow_finish", "workloads")
    median = {
        task: {part: round(statistics.median(r[task][part] for r in per_run), 2) for part in parts}
        for task in TASKS
    }
    report: dict[str, Any] = {
        "machine": f"{platform.machine()}, Python {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d"),
        "command": "python benchmarks/worker_slot.py " + " ".join(sys.argv[1:]),
        "settings": settings,
        "job_seconds": args.job_seconds,
        "runs": args.runs,
        "slot_seconds_median": {task: median[task]["slot"] for task in TASKS},
        "slot_seconds_all": {task: [round(r[task]["slot"], 2) for r in per_run] for task in TASKS},
        "parts_median": median,
        "workloads_each_run": [{task: r[task]["each"] for task in TASKS} for r in per_run],
        "provider_import_seconds": round(provider_import_seconds(), 3),
        "ratio_in_worker_to_deferred": round(median["in_worker"]["slot"] / median["deferred"]["slot"], 1),
    }
    args.out.parent.mkdir(exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
