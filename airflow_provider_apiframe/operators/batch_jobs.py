"""
The batch operator's work in the worker, on one event loop: submit every item, read how its jobs ended.

Submissions go through one :class:`~airflow_provider_apiframe.transports.asynchronous.AsyncTransport`
(its connection pool and its rate governor: a ``429`` pauses every submission, it never fails the
batch), ``concurrency`` at a time, items read one at a time. Job statuses are read from
``GET /v2/jobs`` pages (100 jobs a call), a job the pages do not show on its own.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
from collections.abc import AsyncIterator, Callable, Iterable
from typing import TYPE_CHECKING, Any

from airflow_provider_apiframe import metrics
from airflow_provider_apiframe.core import calls, clock
from airflow_provider_apiframe.core.errors import ApiframeBadRequestError
from airflow_provider_apiframe.core.idempotency import REFUSED, KeySequence
from airflow_provider_apiframe.core.models import Job, JobStatus
from airflow_provider_apiframe.triggerer import tuning

if TYPE_CHECKING:
    from airflow_provider_apiframe.core.batch import Budget, Item
    from airflow_provider_apiframe.core.retry import Logger
    from airflow_provider_apiframe.transports.asynchronous import AsyncTransport

#: How a submission is recorded: one JSON-able line per item (see :func:`submit_all`).
Record = Callable[[dict[str, Any]], None]
#: The status of an item the task's timeout left unsubmitted (it counts as failed; a retry submits it).
NOT_SUBMITTED = "NOT_SUBMITTED"
#: Seconds between two reads of the statuses while a batch waits for room in its budget, or in the worker.
STATUS_PAUSE = 2.0


@dataclasses.dataclass
class Submitting:
    """
    How to submit a batch's items.

    :param base_key: An item's first ``Idempotency-Key``.
    :param try_number: The task instance's try (refused jobs move to the next key on a retry).
    :param concurrency: Submissions in flight at most.
    :param deadline: Wall-clock time after which nothing more is submitted.
    :param log: The task's log.
    :param conn_id: The Apiframe connection (the metrics' tag).
    """

    base_key: Callable[[Item], str]
    try_number: int
    concurrency: int
    deadline: float
    log: Logger
    conn_id: str = ""


async def submit_all(
    transport: AsyncTransport, items: Iterable[Item], budget: Budget, how: Submitting, record: Record
) -> None:
    """
    Submit every item, ``how.concurrency`` at a time, recording each as it is accepted, refused or skipped.

    Before each submission the budget must fit the item's worst case: credits spent plus the worst
    case of the jobs in flight. When it does not, the statuses of the jobs in flight are read until
    enough of them ended (their real charge replaces their worst case); when nothing is in flight
    any more and it still does not fit, submissions stop and every item left is ``skipped: budget``.

    :param transport: The transport (its rate governor paces every submission).
    :param items: The checked items, read one at a time.
    :param budget: The batch's budget.
    :param how: Keys, concurrency, deadline, log.
    :param record: Called with each item's line: ``{"key", "job_id", "status", "idempotency_key",
        "estimate", "prompt"}``, or ``{"key", "status", "error"}`` for an item not submitted:
        ``SKIPPED`` (the budget), ``NOT_SUBMITTED`` (the timeout passed first) or ``REJECTED`` (a ``400``).
    """
    slots = asyncio.Semaphore(how.concurrency)
    stopped = False
    tasks: set[asyncio.Task[None]] = set()
    failures: list[BaseException] = []  # a submission that failed for good (401, 402, 403...) ends it all

    def done(task: asyncio.Task[None]) -> None:
        tasks.discard(task)
        slots.release()
        if not task.cancelled() and (error := task.exception()) is not None:
            failures.append(error)

    try:
        for item in items:
            credits = item.estimate.credits if item.estimate is not None else 0.0
            if not stopped and not budget.fits(credits):
                made_room = await _make_room(transport, budget, credits, how.deadline)
                stopped = not made_room and clock.now() <= how.deadline
            if clock.now() > how.deadline:  # not a choice, unlike the budget: the item failed
                record({"key": item.key, "status": NOT_SUBMITTED, "error": "the task's timeout passed first"})
                continue
            if stopped:
                record({"key": item.key, "status": "SKIPPED", "error": budget.refusal(item.key, credits)})
                continue
            await slots.acquire()
            if failures:
                slots.release()
                break
            budget.reserve(f"key:{item.key}", credits)
            task = asyncio.get_running_loop().create_task(
                _submit_one(transport, item, credits, budget, how, record)
            )
            tasks.add(task)
            task.add_done_callback(done)
        while tasks and not failures:
            await asyncio.wait(set(tasks), return_when=asyncio.FIRST_COMPLETED)
        if failures:
            raise failures[0]
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _submit_one(
    transport: AsyncTransport, item: Item, credits: float, budget: Budget, how: Submitting, record: Record
) -> None:
    name = f"key:{item.key}"
    keys = KeySequence(how.base_key(item), try_number=how.try_number)
    try:
        while True:
            call = dataclasses.replace(item.call, idempotency_key=keys.key)
            accepted = await transport.send(
                call, retry=transport.config.retry.until(how.deadline), log=how.log
            )
            metrics.job_submitted((call.json or {}).get("model"), how.conn_id)
            status = _known(accepted.status)
            if not keys.move_on(status):
                break
            how.log.info(
                "Batch item %r: job %s ended %s without charge; next key", item.key, accepted.job_id, status
            )
    except ApiframeBadRequestError as exc:  # the API refused this one request: the others go on
        budget.release(name)
        record({"key": item.key, "status": "REJECTED", "error": str(exc)})
        return
    except BaseException:
        budget.release(name)
        raise
    budget.rename(name, accepted.job_id)
    if status in REFUSED:
        budget.settle(accepted.job_id, 0)
    metrics.batch_in_flight(len(budget.in_flight), how.conn_id)
    record(
        {
            "key": item.key,
            "job_id": accepted.job_id,
            "status": accepted.status,
            "idempotency_key": keys.key,
            "estimate": item.estimate.credits if item.estimate is not None else None,
            "prompt": item.prompt,
        }
    )


async def _make_room(transport: AsyncTransport, budget: Budget, credits: float, deadline: float) -> bool:
    """Wait for jobs in flight to end until the budget fits ``credits``; ``False`` if it never will."""
    while not budget.fits(credits):
        if not budget.in_flight or clock.now() > deadline:
            return False
        accepted = {name for name in budget.in_flight if not name.startswith("key:")}
        if not accepted:  # only submissions under way: their answers come soon
            await asyncio.sleep(0.05)
            continue
        async for job in scan(transport, accepted, deadline):
            if _is_terminal(job):
                budget.settle(job.id, charge(job))
        if not budget.fits(credits):
            await asyncio.sleep(STATUS_PAUSE)
    return True


def charge(job: Job) -> float:
    """What a job that ended cost: its ``creditCost`` if COMPLETED, else nothing."""
    return float(job.credit_cost or 0) if job.status == JobStatus.COMPLETED else 0.0


async def scan(transport: AsyncTransport, job_ids: set[str], deadline: float) -> AsyncIterator[Job]:
    """
    Yield the jobs of ``job_ids`` as they stand: from ``GET /v2/jobs`` pages, then one by one.

    The pages are read newest first until they showed every job, ran out, or the page budget (as
    the triggerer's job watcher counts it) is spent; a job they did not show is read on its own.

    :param transport: The transport.
    :param job_ids: The jobs (not changed).
    :param deadline: Retries of transient errors stop at this wall-clock time.
    """
    unseen = set(job_ids)
    tune = tuning.TUNING
    pages = math.ceil(len(unseen) / tune.page_size) * tune.pages_per_page_of_jobs + tune.extra_pages
    cursor: str | None = None
    retry = transport.config.retry.until(deadline)
    for _ in range(min(pages, tune.max_pages)):
        page = await transport.send(calls.scan_jobs(cursor=cursor), retry=retry)
        for raw in page.jobs:
            if raw.get("id") in unseen:
                unseen.discard(raw["id"])
                yield Job.model_validate(raw)
        if not unseen or not page.has_more or not page.next_cursor:
            break
        cursor = page.next_cursor
    for job_id in sorted(unseen):
        yield await transport.send(calls.get_job(job_id), retry=retry)


def _is_terminal(job: Job) -> bool:
    status = job.known_status
    return status is not None and status.is_terminal


def _known(status: str) -> JobStatus | None:
    try:
        return JobStatus(status)
    except ValueError:
        return None


async def wait_all(
    transport: AsyncTransport, job_ids: set[str], deadline: float, poll_interval: float, log: Logger
) -> None:
    """
    Wait in the worker (``deferrable=False``) until every job of ``job_ids`` ended or the deadline passed.

    :param transport: The transport.
    :param job_ids: The jobs; those that ended are removed.
    :param deadline: Wall-clock time the wait ends.
    :param poll_interval: Seconds between two reads of the statuses.
    :param log: The task's log (progress, at most every 30 s).
    """
    logged = clock.now()
    while job_ids and clock.now() < deadline:
        ended = [job.id async for job in scan(transport, job_ids, deadline) if _is_terminal(job)]
        job_ids.difference_update(ended)
        if job_ids and clock.now() - logged >= 30:
            log.info("Apiframe batch: %d job(s) still running", len(job_ids))
            logged = clock.now()
        if job_ids:
            await asyncio.sleep(min(poll_interval, max(deadline - clock.now(), 0)))
