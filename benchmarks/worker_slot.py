"""
Worker slot seconds per job: a deferrable task vs. one that waits in its worker, for a 15 s job.

Runs a real Airflow deployment (the reliability tests' harness: PostgreSQL, scheduler,
dag-processor, triggerer, api-server, LocalExecutor) against the emulator, triggers
``benchmarks/dags/worker_slot.py`` a few times, and reads from each task's log how long a worker
ran it: from the first to the last line of each worker run (each opens with Airflow's "Pre Execute"
group; the deferred task has two, submit then resume; the trigger's own log is a separate file).

    python benchmarks/worker_slot.py [--runs 3] [--job-seconds 15]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "deployment"))
sys.path.insert(0, str(ROOT / "tests"))

from harness import deployment  # noqa: E402

KEY = "afk_bench_worker_slot_0123456789"
DAG = Path(__file__).resolve().parent / "dags" / "worker_slot.py"


def worker_runs(log: str) -> list[tuple[float, float]]:
    """(start, end) of each worker run in a task's log: each starts with Airflow's "Pre Execute" group."""
    runs: list[list[float]] = []
    for line in log.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        at = datetime.fromisoformat(entry["timestamp"].replace("Z", "+00:00")).timestamp()
        if "Pre Execute" in str(entry.get("event", "")) or not runs:
            runs.append([at, at])
        runs[-1][1] = at
    return [(start, end) for start, end in runs]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--job-seconds", type=float, default=15.0)
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "worker_slot.json")
    args = parser.parse_args()
    held: dict[str, list[float]] = {"deferred": [], "in_worker": []}
    worker_runs_per_task: dict[str, int] = {}
    with deployment([DAG], KEY) as airflow:
        airflow.emulator.stop()
        airflow.emulator.start(job_seconds=args.job_seconds)
        for n in range(args.runs):
            run_id = airflow.trigger("worker_slot", f"bench_{n}_{int(time.time())}")
            assert airflow.wait_for_run("worker_slot", run_id, timeout=300) == "success"
            for task in held:
                folder = airflow.home / "logs" / "dag_id=worker_slot" / f"run_id={run_id}" / f"task_id={task}"
                runs = worker_runs((folder / "attempt=1.log").read_text())
                worker_runs_per_task[task] = len(runs)
                held[task].append(sum(end - start for start, end in runs))
    deferred, in_worker = statistics.median(held["deferred"]), statistics.median(held["in_worker"])
    report = {
        "machine": f"{platform.machine()}, Python {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d"),
        "command": "python benchmarks/worker_slot.py " + " ".join(sys.argv[1:]),
        "job_seconds": args.job_seconds,
        "runs": args.runs,
        "worker_runs_per_task": worker_runs_per_task,
        "worker_seconds_median": {"deferred": round(deferred, 2), "in_worker": round(in_worker, 2)},
        "worker_seconds_all": {k: [round(v, 2) for v in vs] for k, vs in held.items()},
        "ratio_in_worker_to_deferred": round(in_worker / deferred, 1),
    }
    args.out.parent.mkdir(exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
