"""
Thousands of concurrent jobs in one triggerer event loop: this provider's trigger vs. two baselines.

For each job count, three waits run side by side in the same run, each in a fresh process against a
fresh emulator on loopback (jobs take ``--job-seconds`` with +/- 20 % jitter):

- ``provider``: :class:`~airflow_provider_apiframe.triggers.job.ApiframeJobTrigger`, as a triggerer
  runs it (one task per trigger in one event loop);
- ``to_thread``: the way the Anthropic provider's trigger polls: a blocking client per trigger,
  each poll in ``asyncio.to_thread``, every 2 s;
- ``session_per_poll``: the way the dbt Cloud provider's trigger polls: a new async HTTP session
  for each poll, every 2 s (the CA bundle is loaded once and reused, so only the session and its
  connection are new).

Reported per run: CPU seconds per completed job and average cores used (the waiting process only),
peak RSS per job, event-loop lag p50/p99, API calls per job (submit included, counted by the
emulator), and completion-detection latency p50/p95 (the event's time minus the job's
``completedAt``). Jobs are submitted by another process and each handed to a new trigger as soon as
it exists, as deferring tasks hand them to a triggerer; the emulator holds them QUEUED until the
last is in, so that all of them then generate at once.

    python benchmarks/triggerer_scale.py [--jobs 1000 5000 10000] [--job-seconds 15]
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

IMPLEMENTATIONS = ("provider", "to_thread", "session_per_poll")
BASELINE_POLL_SECONDS = 2.0  # the API's guidance for images: every 2-3 s
TERMINAL = ("COMPLETED", "FAILED", "CANCELLED")


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
            async with semaphore:
                body = {"model": "gpt-image-1.5", "prompt": f"catalogue item {n}"}
                response = await client.post(
                    "/v2/images/generate", json=body, headers={"Idempotency-Key": f"bench-{n}"}
                )
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
    await process.wait()


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
    try:
        while True:
            await asyncio.sleep(BASELINE_POLL_SECONDS)
            response = await asyncio.to_thread(session.get, f"{url}/v2/jobs/{job_id}", timeout=30)
            job = response.json()
            if job["status"] in TERMINAL or time.time() > deadline:
                return dict(job)
    finally:
        session.close()


_SSL = None


async def wait_session_per_poll(url: str, job_id: str, deadline: float) -> dict[str, Any]:
    global _SSL
    _SSL = _SSL or httpx.create_ssl_context()
    while True:
        await asyncio.sleep(BASELINE_POLL_SECONDS)
        async with httpx.AsyncClient(headers={"X-API-Key": KEY}, verify=_SSL, timeout=30) as client:
            job = (await client.get(f"{url}/v2/jobs/{job_id}")).json()
        if job["status"] in TERMINAL or time.time() > deadline:
            return dict(job)


WAITS = {"provider": wait_provider, "to_thread": wait_to_thread, "session_per_poll": wait_session_per_poll}


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
    _, pending = await asyncio.wait(tasks, timeout=cap_seconds + 10)
    for task in pending:
        task.cancel()
    wall, cpu = time.monotonic() - started, time.process_time() - cpu_before
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
    result = asyncio.run(measure(args.one, args.url, args.jobs[0], args.cap))
    print(json.dumps(result), file=sys.__stdout__, flush=True)


# --- the driver -----------------------------------------------------------------------------------


def run_one(implementation: str, count: int, args: argparse.Namespace, logs: Path) -> dict[str, Any]:
    options = ("--job-seconds", str(args.job_seconds), "--jitter", "0.2", "--credits", str(10 * count * 10))
    with emulator_process(*options) as url:
        command = [sys.executable, __file__, "--one", implementation, "--url", url]
        command += ["--jobs", str(count), "--cap", str(args.cap)]
        with (logs / f"{implementation}-{count}.log").open("w") as log:
            # The trigger's own logging (status changes) goes to a file, as in a triggerer.
            proc = subprocess.run(command, stdout=subprocess.PIPE, stderr=log, text=True, check=True)
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, nargs="+", default=[1000, 5000, 10000])
    parser.add_argument("--job-seconds", type=float, default=15.0)
    parser.add_argument("--cap", type=float, default=120.0, help="longest wait per run, in seconds")
    parser.add_argument("--only", choices=IMPLEMENTATIONS, nargs="+", default=list(IMPLEMENTATIONS))
    parser.add_argument("--out", type=Path, default=Path("out/triggerer_scale.json"))
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
    results = []
    for count in args.jobs:
        for implementation in args.only:
            print(f"==> {count} jobs, {implementation}", flush=True)
            result = run_one(implementation, count, args, logs)
            print(
                "    " + json.dumps({k: v for k, v in result.items() if k != "api_calls_by_route"}),
                flush=True,
            )
            results.append(result)
    report = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d"),
        "command": "python " + " ".join([sys.argv[0], *sys.argv[1:]]),
        "job_seconds": args.job_seconds,
        "results": results,
    }
    args.out.write_text(json.dumps(report, indent=2))
    print(f"Written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
