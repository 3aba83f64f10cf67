"""
The job watcher: batched status reads (``GET /v2/jobs`` pages) for many triggers of a connection,
with per-job reads as the fallback.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_apiframe.core import calls
from airflow_provider_apiframe.hooks.apiframe import ApiframeHook
from airflow_provider_apiframe.triggerer import tuning
from airflow_provider_apiframe.triggerer.tuning import Tuning
from airflow_provider_apiframe.triggerer.watcher import JobWatcher
from airflow_provider_apiframe.triggers.job import ApiframeJobTrigger


def submit_jobs(count: int) -> list[str]:
    hook = ApiframeHook()
    return [
        hook.submit_image_generation(
            calls.generate_gpt_image(prompt=f"a fox, study {n}", quality="low")
        ).job_id
        for n in range(count)
    ]


async def run_triggers(job_ids: list[str], timeout: float = 30) -> list[dict[str, Any]]:
    """Run one trigger per job concurrently in this event loop, as a triggerer does."""

    async def one(job_id: str) -> list[dict[str, Any]]:
        trigger = ApiframeJobTrigger(job_id, deadline=time.time() + timeout, poll_interval=2)
        return [event.payload async for event in trigger.run()]

    results = await asyncio.gather(*(one(job_id) for job_id in job_ids))
    assert all(len(events) == 1 for events in results), "exactly one event per trigger"
    return [events[0] for events in results]


def reads(api: Any) -> tuple[int, int]:
    """(``GET /v2/jobs`` pages, ``GET /v2/jobs/{id}`` reads) the emulator served."""
    gets = [path for method, path, _ in api.state.requests if method == "GET"]
    return gets.count("/v2/jobs"), sum(path.startswith("/v2/jobs/") for path in gets)


async def test_many_jobs_are_read_with_pages_and_each_ends_once(api: Any) -> None:
    job_ids = submit_jobs(24)
    api.state.requests.clear()

    events = await run_triggers(job_ids)

    assert sorted(e["job_id"] for e in events) == sorted(job_ids)
    assert {e["status"] for e in events} == {"success"}
    assert all(e["job"]["result"]["images"] for e in events)
    pages, job_reads = reads(api)
    assert pages >= 1
    # Each job is read on its own once, when it has ended (its whole record); a few may be read
    # before the pages start, while fewer than BATCH_MIN_JOBS triggers are running.
    assert job_reads <= len(job_ids) + tuning.TUNING.batch_min_jobs, (pages, job_reads)
    assert pages + job_reads < 2 * len(job_ids), "fewer calls than one poll per job would take"
    print(f"24 jobs: {pages} pages, {job_reads} job reads")


async def test_jobs_the_pages_cannot_show_are_read_on_their_own(api: Any) -> None:
    api.config.job_seconds = 4.0  # polled at 2 s and 5 s
    job_ids = submit_jobs(6)
    api.state.requests.clear()
    other = ApiframeHook().submit_image_generation(calls.generate_gpt_image(prompt="unlisted"))
    # The list cannot answer: every job must be polled on its own, as without pages.
    api.inject(method="GET", path="/v2/jobs", action="status", status=503, times=None)

    events = await run_triggers([*job_ids, other.job_id])

    assert {e["status"] for e in events} == {"success"}
    pages, job_reads = reads(api)
    assert pages > 0, "the pages were tried"
    assert job_reads >= 2 * (len(job_ids) + 1), "every job was polled on its own"


async def test_fewer_jobs_than_the_batch_threshold_are_polled_one_by_one(api: Any) -> None:
    job_ids = submit_jobs(tuning.TUNING.batch_min_jobs - 1)
    api.state.requests.clear()
    events = await run_triggers(job_ids)
    assert {e["status"] for e in events} == {"success"}
    assert reads(api)[0] == 0, "no page read for a handful of jobs"


async def test_failed_and_cancelled_jobs_in_a_batch_end_with_their_reason(api: Any) -> None:
    api.decide(outcome="failed", prompt_contains="study 1")
    api.decide(outcome="cancelled", prompt_contains="study 2")
    job_ids = submit_jobs(8)
    events = {e["job_id"]: e for e in await run_triggers(job_ids)}
    statuses = sorted(e["status"] for e in events.values())
    assert statuses == ["failed"] * 2 + ["success"] * 6
    assert any("content policy" in e["message"] for e in events.values())


async def test_a_deadline_still_ends_a_batched_wait(api: Any) -> None:
    api.decide(outcome="never", times=None)
    job_ids = submit_jobs(6)
    events = await run_triggers(job_ids, timeout=2.5)
    assert {e["status"] for e in events} == {"timeout"}
    assert all(e["job_id"] in e["message"] for e in events)


async def test_awaited_jobs_behind_many_newer_ones_are_found_deeper_in_the_pages(api: Any) -> None:
    api.config.job_seconds = 4.0
    awaited = submit_jobs(5)
    api.config.job_seconds = 0.1
    submit_jobs(250)  # newer jobs of the same user, not awaited: they fill the first pages
    api.state.requests.clear()

    events = await run_triggers(awaited)

    assert {e["status"] for e in events} == {"success"}
    pages, job_reads = reads(api)
    assert pages >= 3, "the pages went past the newer jobs"
    assert job_reads <= len(awaited) + tuning.TUNING.batch_min_jobs, (
        "the awaited jobs were found in the pages"
    )


def old_job_behind(api: Any, newer: int) -> tuple[str, list[str]]:
    """A 6 s job, then ``newer`` quick ones (not awaited), then four 6 s jobs: (old, four new)."""
    api.config.job_seconds = 6.0
    (old,) = submit_jobs(1)
    api.config.job_seconds = 0.1
    submit_jobs(newer)
    api.config.job_seconds = 6.0
    return old, submit_jobs(4)


async def test_a_job_beyond_the_page_budget_is_given_up_on_and_read_on_its_own(
    api: Any, monkeypatch: pytest.MonkeyPatch, tune: Callable[..., Tuning]
) -> None:
    tune(extra_pages=0, max_pages=2)  # 2 pages (200 jobs) a round for up to 100 awaited
    old, new = old_job_behind(api, 250)
    api.state.requests.clear()
    sought: list[bool] = []  # per round: was the old job among those the pages were read for?
    sweep = JobWatcher._sweep

    async def recording_sweep(self: JobWatcher, unseen: set[str]) -> None:
        sought.append(old in unseen)
        await sweep(self, unseen)

    monkeypatch.setattr(JobWatcher, "_sweep", recording_sweep)

    events = {e["job_id"]: e for e in await run_triggers([old, *new])}

    assert {e["status"] for e in events.values()} == {"success"}
    own_reads = [p for m, p, _ in api.state.requests if m == "GET" and p == f"/v2/jobs/{old}"]
    assert len(own_reads) >= 2, "the old job was polled on its own"
    misses = tuning.TUNING.misses_before_giving_up
    assert sought[:misses] == [True] * misses, "sought in the pages at first"
    assert len(sought) > misses
    assert not any(sought[misses:]), "then given up on: no deeper pages for it"


async def test_a_round_reads_deeper_when_the_awaited_jobs_scatter(
    api: Any, monkeypatch: pytest.MonkeyPatch, tune: Callable[..., Tuning]
) -> None:
    """Awaited jobs spread over more pages than their number suggests: the next round reads deeper."""
    tune(extra_pages=0, pages_per_page_of_jobs=1)  # 1 page a round for up to 100 awaited
    old, new = old_job_behind(api, 150)  # the old job is on the second page
    depths: list[int] = []
    sweep = JobWatcher._sweep

    async def recording_sweep(self: JobWatcher, unseen: set[str]) -> None:
        await sweep(self, unseen)
        depths.append(self._last_round_pages)

    monkeypatch.setattr(JobWatcher, "_sweep", recording_sweep)
    api.state.requests.clear()

    events = await run_triggers([old, *new])

    assert {e["status"] for e in events} == {"success"}
    assert depths[0] == 1, "one page, as five jobs fit in one"
    assert 2 in depths, "then twice as deep, where the old job is"


async def test_results_of_every_shape_read_from_the_pages_end_the_same_way(api: Any) -> None:
    api.decide(outcome="string-result", prompt_contains="study 1")
    api.decide(outcome="unknown-result", prompt_contains="study 2")
    job_ids = submit_jobs(6)
    events = {e["job_id"]: e for e in await run_triggers(job_ids)}
    by_prompt = {api.state.jobs[job_id].prompt: event for job_id, event in events.items()}
    string_result = by_prompt["a fox, study 1"]
    assert string_result["status"] == "success"
    assert isinstance(string_result["job"]["result"], str)
    assert by_prompt["a fox, study 2"]["status"] == "success", "the operator reads results, not the trigger"
