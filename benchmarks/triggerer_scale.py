"""
Thousands of concurrent jobs in one triggerer event loop: this provider's trigger vs. three baselines.

For each job count, each way of waiting runs ``--repeat`` times (3 by default), each time in a fresh
process against a fresh emulator on loopback (jobs take ``--job-seconds`` with +/- 20 % jitter):

- ``provider``: :class:`~airflow_provider_apiframe.triggers.job.ApiframeJobTrigger`, as a triggerer
  runs it (one task per trigger in one event loop); its status pages run once a second;
- ``to_thread``: the way the Anthropic provider's trigger polls: a blocking ``requests`` client per
  trigger, each poll in ``asyncio.to_thread``;
- ``aiohttp_per_poll``: the way the dbt Cloud provider's trigger polls: a new
  ``aiohttp.ClientSession`` for each poll;
- ``httpx_per_poll``: the same with a new ``httpx.AsyncClient`` for each poll (the CA bundle loaded
  once and reused, so only the client and its connection are new).

The baselines poll every ``--period`` seconds, by default the provider's page cycle (1 s), so that
every implementation samples the job statuses as often; the period is printed beside each figure.

Reported per implementation and job count: the median of the runs and their spread (min-max) of CPU
seconds per completed job and average cores used (the waiting process only), peak RSS per job,
event-loop lag p50/p99, API calls per job (submit included, counted by the emulator), and
completion-detection latency p50/p95 (the event's time minus the job's ``completedAt``). Jobs are
submitted by another process and each handed to a new trigger as soon as it exists, as deferring
tasks hand them to a triggerer; the emulator holds them QUEUED until the last is in, so that all of
them then generate at once. A run in which any job goes undetected, or any helper process fails,
fails the whole benchmark.

    python benchmarks/triggerer_scale.py [--jobs 1000 5000 10000] [--repeat 3] [--period 1]
        [--chart docs/images/triggerer-scale.png]

After the JSON report, draws its chart (``benchmarks/charts.py``; skipped, with a note, without
matplotlib; ``--chart ''`` for none).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from _emulator import KEY, emulator_process

ROOT = Path(__file__).resolve().parents[1]
IMPLEMENTATIONS = ("provider", "to_thread", "aiohttp_per_poll", "httpx_per_poll")
TERMINAL = ("COMPLETED", "FAILED", "CANCELLED")
#: How often the baselines poll each job; set from ``--period`` in the child.
PERIOD = {"seconds": 1.0}
#: Polls of the baselines retried after a dropped connection (their SDKs retry those once).
RETRIES = {"count": 0}


# --- the child: one implementation, one job count ------------------------------------------------


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def submit(url: str, count: int) -> None:
    """
    Submit ``count`` GPT Image jobs, printing each job id as soon as it is accepted.

    The emulator holds them QUEUED until the last is in, then starts them all: ``count`` jobs
    really run at once, each for about ``--job-seconds``.
    """
    limits = httpx.Limits(max_connections=32)
    async with httpx.AsyncClient(base_url=url, headers={"X-API-Key": KEY}, limits=limits) as client:
        semaphore = asyncio.Semaphore(32)
        await client.post("/_emulator/hold")

        async def one(n: int) -> None:
            body = {"model": "gpt-image-1.5", "prompt": f"catalogue item {n}"}
            async with semaphore:
                for attempt in range(1, 6):  # a dropped connection: again, with the same key
                    try:
                        response = await client.post(
                            "/v2/images/generate", json=body, headers={"Idempotency-Key": f"bench-{n}"}
                        )
                        break
                    except httpx.TransportError:
                        if attempt == 5:
                            raise
                        await asyncio.sleep(0.2 * attempt)
                print(response.json()["jobId"], flush=True)

        await asyncio.gather(*(one(n) for n in range(count)))
        await client.post("/_emulator/release")


async def deferred_jobs(url: str, count: int) -> AsyncIterator[str]:
    """
    Yield job ids as tasks would defer them, each as soon as its job exists.

    Another process (a stand-in for the workers) submits them, so triggers start over the
    submissions' time, as in a triggerer, and the submissions' CPU is not the triggerer's. The jobs
    start generating together once all are submitted.
    """
    command = [sys.executable, __file__, "--submit", str(count), "--url", url]
    process = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE)
    assert process.stdout is not None
    async for line in process.stdout:
        yield line.decode().strip()
    if await process.wait() != 0:
        raise RuntimeError(f"the submitting process failed (exit code {process.returncode})")


def completed_at(job: dict[str, Any]) -> float:
    return datetime.fromisoformat(job["completedAt"].replace("Z", "+00:00")).timestamp()


async def wait_provider(url: str, job_id: str, deadline: float) -> dict[str, Any]:
    from airflow_provider_apiframe.triggers.job import ApiframeJobTrigger

    trigger = ApiframeJobTrigger(job_id, deadline=deadline)  # the operators' default poll_interval
    async for event in trigger.run():
        return dict(event.payload["job"])
    raise AssertionError("no event")


async def wait_to_thread(url: str, job_id: str, deadline: float) -> dict[str, Any]:
    import requests

    session = requests.Session()  # one blocking client per trigger, as the trigger builds it
    session.headers["X-API-Key"] = KEY

    def poll() -> dict[str, Any]:
        for attempt in (1, 2):  # as the SDKs these triggers use, a dropped connection is retried
            try:
                return dict(session.get(f"{url}/v2/jobs/{job_id}", timeout=30).json())
            except requests.ConnectionError:
                if attempt == 2:
                    raise
                RETRIES["count"] += 1
        raise AssertionError("unreachable")

    try:
        while True:
            await asyncio.sleep(PERIOD["seconds"])
            job = await asyncio.to_thread(poll)
            if job["status"] in TERMINAL or time.time() > deadline:
                return dict(job)
    finally:
        session.close()


async def wait_aiohttp_per_poll(url: str, job_id: str, deadline: float) -> dict[str, Any]:
    import aiohttp

    timeout = aiohttp.ClientTimeout(total=30)
    while True:
        await asyncio.sleep(PERIOD["seconds"])
        # As DbtCloudHook.get_job_details does, once per poll (with its retry of connection errors).
        async with aiohttp.ClientSession(headers={"X-API-Key": KEY}, timeout=timeout) as session:
            for attempt in (1, 2):
                try:
                    async with session.get(f"{url}/v2/jobs/{job_id}") as response:
                        response.raise_for_status()
                        job = await response.json()
                    break
                except aiohttp.ClientConnectionError:
                    if attempt == 2:
                        raise
                    RETRIES["count"] += 1
        if job["status"] in TERMINAL or time.time() > deadline:
            return dict(job)


_SSL = None


async def wait_httpx_per_poll(url: str, job_id: str, deadline: float) -> dict[str, Any]:
    global _SSL
    _SSL = _SSL or httpx.create_ssl_context()
    while True:
        await asyncio.sleep(PERIOD["seconds"])
        async with httpx.AsyncClient(headers={"X-API-Key": KEY}, verify=_SSL, timeout=30) as client:
            for attempt in (1, 2):
                try:
                    job = (await client.get(f"{url}/v2/jobs/{job_id}")).json()
                    break
                except httpx.TransportError:
                    if attempt == 2:
                        raise
                    RETRIES["count"] += 1
        if job["status"] in TERMINAL or time.time() > deadline:
            return dict(job)


WAITS = {
    "provider": wait_provider,
    "to_thread": wait_to_thread,
    "aiohttp_per_poll": wait_aiohttp_per_poll,
    "httpx_per_poll": wait_httpx_per_poll,
}


async def measure(implementation: str, url: str, count: int, cap_seconds: float) -> dict[str, Any]:
    lags: list[tuple[float, float]] = []  # (when, lag)
    stop = asyncio.Event()

    async def sample_lag() -> None:
        while not stop.is_set():
            before = time.monotonic()
            await asyncio.sleep(0.05)
            lags.append((before, time.monotonic() - before - 0.05))

    latencies: list[float] = []
    waiting = peak_waiting = 0
    wait = WAITS[implementation]

    async def one(job_id: str) -> None:
        nonlocal waiting, peak_waiting
        started = time.time()
        waiting += 1
        peak_waiting = max(peak_waiting, waiting)
        try:
            job = await wait(url, job_id, started + cap_seconds)
        finally:
            waiting -= 1
        if job["status"] == "COMPLETED":
            latencies.append(time.time() - completed_at(job))

    rss_before, cpu_before, started = rss_bytes(), time.process_time(), time.monotonic()
    sampler = asyncio.ensure_future(sample_lag())
    tasks = [asyncio.ensure_future(one(job_id)) async for job_id in deferred_jobs(url, count)]
    all_started = time.monotonic()
    done, pending = await asyncio.wait(tasks, timeout=cap_seconds + 10)
    for task in pending:
        task.cancel()
    wall, cpu = time.monotonic() - started, time.process_time() - cpu_before
    failures = [task.exception() for task in done if task.exception() is not None]
    if pending or failures or len(latencies) != count:
        first = f"; first error: {failures[0]!r}" if failures else ""
        raise SystemExit(
            f"{implementation} at {count} jobs is not a valid run: {len(latencies)} of {count} "
            f"completions detected, {len(pending)} waits unfinished, {len(failures)} failed{first}"
        )
    stop.set()
    await sampler
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    async with httpx.AsyncClient(base_url=url) as client:
        counted = (await client.get("/_emulator/state")).json()["requestsByRoute"]
    routes = {route: n for route, n in counted.items() if " /v2/" in route}  # the API's, not the admin's
    calls = sum(routes.values())
    detected = len(latencies)
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [float("nan")] * 99
    lag_q = statistics.quantiles([lag for _, lag in lags], n=100)
    steady = statistics.quantiles([lag for at, lag in lags if at > all_started], n=100)
    return {
        "implementation": implementation,
        "jobs": count,
        "poll_period_s": PERIOD["seconds"],
        "detected": detected,
        "wall_seconds": round(wall, 1),
        "cpu_seconds": round(cpu, 2),
        "cores_used": round(cpu / wall, 3),
        "cpu_ms_per_job": round(1000 * cpu / max(detected, 1), 2),
        "peak_rss_kb_per_job": round(max(peak - rss_before, 0) / 1024 / count, 1),
        "loop_lag_ms_p50": round(1000 * lag_q[49], 1),
        "loop_lag_ms_p99": round(1000 * lag_q[98], 1),
        "loop_lag_ms_p99_after_start": round(1000 * steady[98], 1),
        "seconds_to_start_all": round(all_started - started, 1),
        "peak_concurrent_jobs": peak_waiting,
        "api_calls_per_job": round(calls / count, 2),
        "baseline_poll_retries": RETRIES["count"],
        "api_calls_by_route": routes,
        "detection_s_p50": round(quantiles[49], 2),
        "detection_s_p95": round(quantiles[94], 2),
    }


def child(args: argparse.Namespace) -> None:
    os.environ["AIRFLOW_CONN_APIFRAME_DEFAULT"] = json.dumps(
        {"conn_type": "apiframe", "password": KEY, "host": args.url}
    )
    from airflow.sdk import BaseHook

    # Outside a triggerer, read the connection from the environment, as the sync path does.
    async def aget_connection(cls: type, conn_id: str) -> Any:
        return BaseHook.get_connection(conn_id)

    BaseHook.aget_connection = classmethod(aget_connection)  # type: ignore[method-assign,assignment]
    if args.one == "provider":  # its status pages run on their own cycle
        from airflow_provider_apiframe.triggerer.tuning import TUNING

        PERIOD["seconds"] = TUNING.batch_cycle_seconds
    else:
        PERIOD["seconds"] = args.period
    result = asyncio.run(measure(args.one, args.url, args.jobs[0], args.cap))
    print(json.dumps(result), file=sys.__stdout__, flush=True)


# --- the driver -----------------------------------------------------------------------------------


def run_one(implementation: str, count: int, args: argparse.Namespace, logs: Path, n: int) -> dict[str, Any]:
    options = ("--job-seconds", str(args.job_seconds), "--jitter", "0.2", "--credits", str(10 * count * 10))
    with emulator_process(*options) as url:
        command = [sys.executable, __file__, "--one", implementation, "--url", url]
        command += ["--jobs", str(count), "--cap", str(args.cap), "--period", str(args.period)]
        with (logs / f"{implementation}-{count}-{n}.log").open("w") as log:
            # The trigger's own logging (status changes) goes to a file, as in a triggerer.
            proc = subprocess.run(command, stdout=subprocess.PIPE, stderr=log, text=True)
    if proc.returncode != 0:
        tail = (logs / f"{implementation}-{count}-{n}.log").read_text()[-2000:]
        raise SystemExit(f"{implementation} at {count} jobs, run {n} failed:\n{tail}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


#: Figures summarised over the runs of one implementation and job count.
FIGURES = (
    "cpu_ms_per_job",
    "cores_used",
    "peak_rss_kb_per_job",
    "loop_lag_ms_p50",
    "loop_lag_ms_p99",
    "loop_lag_ms_p99_after_start",
    "api_calls_per_job",
    "detection_s_p50",
    "detection_s_p95",
)


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median, min and max of each figure over the runs of one implementation and job count."""
    summary: dict[str, Any] = {k: runs[0][k] for k in ("implementation", "jobs", "poll_period_s")}
    summary["runs"] = len(runs)
    for figure in FIGURES:
        values = [run[figure] for run in runs]
        summary[figure] = {
            "median": round(statistics.median(values), 3),
            "min": min(values),
            "max": max(values),
        }
    return summary


def markdown(summaries: list[dict[str, Any]]) -> str:
    """The summary as the Markdown table of ``docs/performance.md``: median (min-max)."""

    def cell(figure: dict[str, Any]) -> str:
        return f"{figure['median']:g} ({figure['min']:g}-{figure['max']:g})"

    head = "| jobs at once | implementation | poll period s | CPU ms / job | cores used | "
    head += "loop lag p99 ms | p99 once all started | API calls / job | detection p50 s | p95 s |"
    rows = [head, "|" + " --- |" * 10]
    for s in summaries:
        rows.append(
            f"| {s['jobs']:,} | {s['implementation']} | {s['poll_period_s']:g} | "
            + " | ".join(
                cell(s[f])
                for f in (
                    "cpu_ms_per_job",
                    "cores_used",
                    "loop_lag_ms_p99",
                    "loop_lag_ms_p99_after_start",
                    "api_calls_per_job",
                    "detection_s_p50",
                    "detection_s_p95",
                )
            )
            + " |"
        )
    return "\n".join(rows)


def ratios(summaries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """CPU per job of each baseline over the provider's, per job count (medians of the same run)."""
    found = []
    for count in sorted({s["jobs"] for s in summaries}):
        at = {s["implementation"]: s for s in summaries if s["jobs"] == count}
        if "provider" not in at:
            continue
        ours = at["provider"]["cpu_ms_per_job"]["median"]
        for name, other in at.items():
            if name != "provider":
                theirs = other["cpu_ms_per_job"]["median"]
                found.append({"jobs": count, "baseline": name, "cpu_ratio": round(theirs / ours, 1)})
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, nargs="+", default=[1000, 5000, 10000])
    parser.add_argument("--job-seconds", type=float, default=15.0)
    parser.add_argument("--repeat", type=int, default=3, help="runs per implementation and job count")
    parser.add_argument("--period", type=float, default=1.0, help="the baselines' poll period, seconds")
    parser.add_argument("--cap", type=float, default=120.0, help="longest wait per run, in seconds")
    parser.add_argument("--only", choices=IMPLEMENTATIONS, nargs="+", default=list(IMPLEMENTATIONS))
    parser.add_argument("--out", type=Path, default=Path("out/triggerer_scale.json"))
    parser.add_argument("--resume", action="store_true", help="keep the runs an interrupted run finished")
    parser.add_argument(
        "--chart",
        type=lambda path: Path(path) if path else None,
        default=ROOT / "docs" / "images" / "triggerer-scale.png",
        help="the PNG drawn from the report ('' for none)",
    )
    parser.add_argument("--one", choices=IMPLEMENTATIONS, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--submit", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.submit:
        asyncio.run(submit(args.url, args.submit))
        return 0
    if args.one:
        child(args)
        return 0

    args.out.parent.mkdir(parents=True, exist_ok=True)
    logs = args.out.parent / "triggerer_scale_logs"
    logs.mkdir(exist_ok=True)
    runs: list[dict[str, Any]] = []
    summaries = []
    # Each run is kept as it ends; --resume picks up after an interrupted benchmark.
    done_file = args.out.with_suffix(".runs.jsonl")
    done: dict[tuple[int, str, int], dict[str, Any]] = {}
    if args.resume and done_file.exists():
        for line in done_file.read_text().splitlines():
            kept = json.loads(line)
            done[(kept["jobs"], kept["implementation"], kept["run"])] = kept
    elif done_file.exists():
        done_file.unlink()
    for count in args.jobs:
        for implementation in args.only:
            these = []
            for n in range(1, args.repeat + 1):
                if (count, implementation, n) in done:
                    these.append(done[(count, implementation, n)])
                    continue
                print(f"==> {count} jobs, {implementation}, run {n}/{args.repeat}", flush=True)
                result = {**run_one(implementation, count, args, logs, n), "run": n}
                shown = {k: v for k, v in result.items() if k != "api_calls_by_route"}
                print("    " + json.dumps(shown), flush=True)
                with done_file.open("a") as kept_runs:
                    kept_runs.write(json.dumps(result) + "\n")
                these.append(result)
            runs += these
            summaries.append(summarize(these))
    report = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d"),
        "command": "python " + " ".join([sys.argv[0], *sys.argv[1:]]),
        "job_seconds": args.job_seconds,
        "baseline_poll_period_s": args.period,
        "summaries": summaries,
        "cpu_ratios": ratios(summaries),
        "runs": runs,
    }
    args.out.write_text(json.dumps(report, indent=2))
    print(markdown(summaries))
    print(json.dumps(report["cpu_ratios"]))
    print(f"Written to {args.out}")
    if args.chart:
        from charts import draw_if_possible

        draw_if_possible("triggerer_scale", report, args.chart)
    return 0


if __name__ == "__main__":
    sys.exit(main())
