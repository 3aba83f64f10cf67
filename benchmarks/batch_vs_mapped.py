"""
N images two ways in a real Airflow deployment: one ``ApiframeBatchOperator`` task, or N mapped tasks.

Runs the reliability tests' deployment (PostgreSQL, scheduler, dag-processor, triggerer,
api-server, LocalExecutor with parallelism 8) against the emulator (5 s jobs) and triggers, per
run, ``benchmarks/dags/bench_batch.py`` over a generated ``.jsonl`` of N GPT Image items and
``benchmarks/dags/bench_mapped.py`` (N mapped deferrable ``GptImageGenerateOperator`` tasks, the same
prompts); then the batch alone over ``--big-items`` items, with peak RSS. Per run: wall time
(``dag_run.queued_at`` to ``end_date``), Airflow CPU seconds per image (see
``_deployment_meter``), metadata rows written per image, API calls per image (requests to
``/v2/``, counted by the emulator; result downloads are not API calls) and peak RSS. A run that
loses an image (jobs or charges other than N, a missing or failed item, a missing file) fails.
A 4-item batch first, not measured, pays the triggerer's and api-server's start-up; the idle
deployment's CPU and rows per second are measured after it (the "above idle" figures subtract
the idle CPU over each run's window). Writes ``out/batch_vs_mapped.json``, prints markdown.

    python benchmarks/batch_vs_mapped.py [--items 1000] [--big-items 10000] [--runs 3] [--mapped-runs N]
        [--skip-mapped] [--skip-big] [--chart docs/images/batch-vs-mapped.png]

After the JSON report, draws its chart (``benchmarks/charts.py``; skipped, with a note, without
matplotlib; ``--chart ''`` for none).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "deployment"))
sys.path.insert(0, str(ROOT / "tests"))

from _batch_report import markdown, summarize  # noqa: E402
from _deployment_meter import RssSampler, cpu_seconds, roots, rows_written, task_processes  # noqa: E402
from harness import Deployment, deployment, wait_for  # noqa: E402

KEY = "afk_bench_batch_vs_mapped_0123456789"
DAGS = [ROOT / "benchmarks" / "dags" / "bench_batch.py", ROOT / "benchmarks" / "dags" / "bench_mapped.py"]
JOB_SECONDS = 5.0
#: Seconds PostgreSQL may hold an idle backend's counts before they show in pg_stat_user_tables.
STATS_FLUSH_SECONDS = 11.0
#: Items of the unmeasured batch run first.
WARMUP_ITEMS = 4


def write_items(path: Path, count: int) -> Path:
    """
    Write ``count`` GPT Image items as JSON Lines, the prompts of ``bench_mapped``.

    :param path: The file.
    :param count: How many.
    """
    with path.open("w") as sink:
        for n in range(count):
            item = {
                "key": f"sku-{n:05d}",
                "model": "gpt-image-1.5",
                "prompt": f"A studio product photo, catalogue item {n}",
                "model_params": {"quality": "low"},
            }
            sink.write(json.dumps(item) + "\n")
    return path


def quiet(airflow: Deployment, pids: dict[str, int]) -> None:
    """
    Wait until no run is in flight and no task process is left.

    :param airflow: The deployment.
    :param pids: Each component's root pid.
    """
    in_flight = "SELECT count(*) FROM dag_run WHERE state IN ('queued', 'running')"
    wait_for("no run in flight", lambda: airflow.postgres.query(in_flight) == [(0,)], timeout=600)
    wait_for("no task process", lambda: task_processes(pids) == 0, timeout=120)


def api_calls(by_route: dict[str, int]) -> dict[str, int]:
    """
    The emulator's requests by route, only those of the API (``/v2/``).

    :param by_route: The emulator's ``requestsByRoute``: ``"GET /v2/jobs/{id}" -> count``.
    """
    return {route: n for route, n in sorted(by_route.items()) if route.split(" ", 1)[1].startswith("/v2/")}


def check_nothing_lost(airflow: Deployment, dag_id: str, run_id: str, images: int) -> dict[str, Any]:
    """
    Fail unless the emulator made and charged ``images`` jobs, all completed, and every file was saved.

    :param airflow: The deployment.
    :param dag_id: ``bench_batch`` or ``bench_mapped``.
    :param run_id: The run.
    :param images: Images the run made.
    :return: The task instances' figures (tries).
    """
    jobs = airflow.emulator.admin("jobs")
    charges = airflow.emulator.admin("state")["charges"]
    problems = []
    if len(jobs) != images or len(charges) != images:
        problems.append(f"{len(jobs)} jobs and {len(charges)} charges for {images} images")
    if any(not job["charged"] or job["status"] != "COMPLETED" for job in jobs):
        problems.append("a job did not complete, or was not charged")
    if len({charge["jobId"] for charge in charges}) != len(charges):
        problems.append("a job was charged twice")
    saved: list[dict[str, Any]] = []
    results = airflow.results(dag_id, run_id)
    if dag_id == "bench_batch":
        (result,) = results.values()
        lines = [json.loads(line) for line in Path(result["manifest"]).read_text().splitlines()]
        if result["completed"] != images or len(lines) != images:
            problems.append(f"the batch completed {result['completed']} of {images} ({len(lines)} lines)")
        problems += [f"item {line['key']}: {line['error']}" for line in lines if line["error"]][:5]
        saved = [file for line in lines for file in line["files"]]
    else:
        if len(results) != images:
            problems.append(f"{len(results)} task results for {images} images")
        saved = [file for result in results.values() for file in result["files"]]
    if len(saved) != images or any(Path(file["path"]).stat().st_size != file["bytes"] for file in saved):
        problems.append(f"{len(saved)} files saved for {images} images, or a file is not whole")
    if {job["id"] for job in jobs} != {Path(file["path"]).name.rsplit("-", 1)[0] for file in saved}:
        problems.append("the saved files are not those of the jobs made")
    if problems:
        raise SystemExit(f"{dag_id} {run_id} lost images: " + "; ".join(problems))
    tries = [tries for _, tries in airflow.task_instances(dag_id, run_id).values()]
    return {"tasks": len(tries), "retried_tasks": sum(1 for t in tries if t > 1)}


def measure(
    airflow: Deployment, dag_id: str, images: int, conf: dict[str, Any], label: str, idle_cores: float = 0.0
) -> dict[str, Any]:
    """
    One run of ``dag_id`` on a fresh emulator: every figure, per image where it says so.

    :param airflow: The deployment.
    :param dag_id: ``bench_batch`` or ``bench_mapped``.
    :param images: Images the run makes.
    :param conf: The run's conf.
    :param label: Names the run.
    :param idle_cores: What the deployment spends at rest (for the CPU above it).
    """
    pids = roots(airflow)
    quiet(airflow, pids)
    airflow.emulator.stop()
    airflow.emulator.start(job_seconds=JOB_SECONDS, credits=100_000_000)
    time.sleep(3)
    rows_before, cpu_before, window = rows_written(airflow), cpu_seconds(pids), time.monotonic()
    run_id = f"{label}_{int(time.time())}"
    with RssSampler(pids) as rss:
        airflow.airflow("dags", "trigger", dag_id, "--run-id", run_id, "--conf", json.dumps(conf))
        state = wait_for(  # every 2 s: each look is a new PostgreSQL backend, counted in its CPU
            f"{dag_id} {run_id} to end",
            lambda: state if (state := airflow.run_state(dag_id, run_id)) in ("success", "failed") else None,
            timeout=max(900, images * 3),
            every=2,
        )
        wait_for("the task processes to end", lambda: task_processes(pids) == 0, timeout=120)
    cpu_after, window = cpu_seconds(pids), time.monotonic() - window
    if state != "success":
        raise SystemExit(f"{dag_id} {run_id} ended {state}")
    time.sleep(STATS_FLUSH_SECONDS)
    rows_after = rows_written(airflow)
    ((queued, ended),) = airflow.postgres.query(
        "SELECT queued_at, end_date FROM dag_run WHERE dag_id = %s AND run_id = %s", dag_id, run_id
    )
    tasks = check_nothing_lost(airflow, dag_id, run_id, images)
    calls = api_calls(airflow.emulator.admin("state")["requestsByRoute"])
    cpu = {name: round(cpu_after[name] - cpu_before[name], 2) for name in cpu_after}
    rows = {table: rows_after[table] - rows_before.get(table, 0) for table in rows_after}
    peaks = rss.peaks_mb()
    above_idle = sum(cpu.values()) - idle_cores * window
    return {
        "dag_id": dag_id,
        "run_id": run_id,
        "images": images,
        "wall_seconds": round((ended - queued).total_seconds(), 1),
        "airflow_cpu_seconds": round(sum(cpu.values()), 2),
        "airflow_cpu_seconds_per_image": round(sum(cpu.values()) / images, 4),
        "cpu_window_seconds": round(window, 1),
        "airflow_cpu_seconds_per_image_above_idle": round(above_idle / images, 4),
        "cpu_seconds_by_component": cpu,
        "rows_written_per_image": round(sum(rows.values()) / images, 2),
        "rows_written_by_table": {t: n for t, n in sorted(rows.items(), key=lambda r: -r[1]) if n},
        "api_calls_per_image": round(sum(calls.values()) / images, 3),
        "api_calls_by_route": calls,
        "peak_rss_mb": peaks,
        "task_process_peak_rss_mb": peaks.get("task_process"),
        "triggerer_peak_rss_mb": max(peaks.get("triggerer", 0), peaks.get("trigger_runner", 0)),
        "rss_samples": rss.samples,
        **tasks,
    }


def idle(airflow: Deployment, seconds: float = 20.0) -> dict[str, float]:
    """
    What the deployment spends doing nothing: CPU cores and rows written per second.

    :param airflow: The deployment.
    :param seconds: How long to watch it.
    """
    pids = roots(airflow)
    quiet(airflow, pids)
    time.sleep(STATS_FLUSH_SECONDS)
    rows, cpu = sum(rows_written(airflow).values()), sum(cpu_seconds(pids).values())
    time.sleep(seconds)
    cpu_rate = (sum(cpu_seconds(pids).values()) - cpu) / seconds
    return {
        "cpu_cores": round(cpu_rate, 3),
        "rows_per_second": round((sum(rows_written(airflow).values()) - rows) / seconds, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=1000, help="images per batch vs mapped run")
    parser.add_argument("--big-items", type=int, default=10_000, help="images of the big batch")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--mapped-runs", type=int, default=None, help="runs of the mapped baseline (default: --runs)"
    )
    parser.add_argument("--skip-mapped", action="store_true")
    parser.add_argument("--skip-big", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "batch_vs_mapped.json")
    parser.add_argument(
        "--chart",
        type=lambda path: Path(path) if path else None,
        default=ROOT / "docs" / "images" / "batch-vs-mapped.png",
        help="the PNG drawn from the report ('' for none)",
    )
    args = parser.parse_args()
    if min(args.items, args.big_items, args.runs) < 1:
        parser.error("--items, --big-items and --runs must be at least 1")
    if not args.skip_mapped and args.items > 1024:
        parser.error("--items over 1024 needs a higher [core] max_map_length; use --skip-mapped")
    started = time.monotonic()
    runs: dict[str, list[dict[str, Any]]] = {"batch": [], "mapped": [], "big_batch": []}
    with deployment(DAGS, KEY, settings={"BENCH_ITEMS": str(args.items)}) as airflow:

        def batch_of(images: int) -> dict[str, str]:
            path = airflow.workdir / f"items-{images}.jsonl"
            return {"items_file": str(path if path.exists() else write_items(path, images))}

        # The first trigger a triggerer runs, and the first calls to the api-server, cost seconds
        # of imports and start-up: a small batch pays them before anything is measured.
        warmup = measure(airflow, "bench_batch", WARMUP_ITEMS, batch_of(WARMUP_ITEMS), "warmup")
        at_rest = idle(airflow)
        plan = [("batch", "bench_batch", args.items)] + [("mapped", "bench_mapped", args.items)] * (
            not args.skip_mapped
        )
        mapped_runs = args.runs if args.mapped_runs is None else args.mapped_runs
        for n in range(max(args.runs, mapped_runs)):
            for variant, dag_id, images in plan:  # interleaved: drift hits both alike
                if n >= (mapped_runs if variant == "mapped" else args.runs):
                    continue
                conf = batch_of(images) if dag_id == "bench_batch" else {}
                runs[variant].append(
                    measure(airflow, dag_id, images, conf, f"{variant}_{n}", at_rest["cpu_cores"])
                )
                _keep(args.out, runs)
            print(f"run {n + 1}/{args.runs} of {args.items} images done", file=sys.stderr, flush=True)
        for n in range(0 if args.skip_big else args.runs):
            conf = batch_of(args.big_items)
            runs["big_batch"].append(
                measure(airflow, "bench_batch", args.big_items, conf, f"big_{n}", at_rest["cpu_cores"])
            )
            _keep(args.out, runs)
            print(f"big run {n + 1}/{args.runs} of {args.big_items} images done", file=sys.stderr, flush=True)
    report = {
        "machine": f"{platform.machine()}, Python {platform.python_version()}, {os.cpu_count()} cores",
        "date": time.strftime("%Y-%m-%d"),
        "command": "python benchmarks/batch_vs_mapped.py " + " ".join(sys.argv[1:]),
        "job_seconds": JOB_SECONDS,
        "idle": at_rest,
        "warmup": warmup,
        "benchmark_seconds": round(time.monotonic() - started),
        **summarize(runs),
        "runs": runs,
    }
    args.out.parent.mkdir(exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(markdown(report))
    if args.chart:
        from charts import draw_if_possible

        draw_if_possible("batch_vs_mapped", report, args.chart)
    return 0


def _keep(out: Path, runs: dict[str, list[dict[str, Any]]]) -> None:
    """Write the runs measured so far beside the report (a long benchmark that stops keeps them)."""
    out.parent.mkdir(exist_ok=True)
    out.with_suffix(".partial.json").write_text(json.dumps(runs, indent=2))


if __name__ == "__main__":
    sys.exit(main())
