"""
The batched job-status reader of one connection: many awaited jobs, a few ``GET /v2/jobs`` pages.

While several jobs are awaited, :class:`JobWatcher` reads their statuses with list pages (100 jobs
a call) instead of one ``GET /v2/jobs/{id}`` each, and wakes a waiter only when its job's status
changes. Jobs the pages do not show (older than the pages read, another user's) are read one by one,
as without it. A waiter only asks :meth:`Sighting.look`: "the job, or read it yourself".

Its rounds run on the event loop (their waits serve every trigger of the loop); the numbers it runs
on are :data:`~airflow_provider_apiframe.triggerer.tuning.TUNING`.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import math
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from airflow_provider_apiframe.core import calls, clock
from airflow_provider_apiframe.core.errors import ApiframeError
from airflow_provider_apiframe.core.models import Job
from airflow_provider_apiframe.triggerer import tuning

if TYPE_CHECKING:
    from airflow_provider_apiframe.transports.asynchronous import AsyncTransport

log = logging.getLogger(__name__)


class Pending(enum.Enum):
    """:meth:`Sighting.next` found no news yet, and the first round of pages with the job is under way."""

    PENDING = "pending"


#: See :class:`Pending`.
PENDING = Pending.PENDING


class Sighting:
    """
    One waiter's view of its job through the pages; see :meth:`JobWatcher.watch`.

    :param job_id: The job.
    :param watcher: The watcher whose pages show it.
    """

    def __init__(self, job_id: str, watcher: JobWatcher):
        self.job_id = job_id
        self.watcher = watcher
        self.first_round = watcher.rounds_started + 1  # the first round sure to look for it
        self.job: Job | None = None  # as the pages showed it when its status last changed
        self.progress: int | None = None  # as the pages last showed it
        self._news = False  # the status changed since the waiter last looked
        self._dropped = False  # the pages stopped: the waiter must read the job itself
        self._waiter: asyncio.Future[None] | None = None

    def show(self, item: dict[str, Any]) -> None:
        """Take in the job as a page shows it (unparsed); wake the waiter if its status changed."""
        # Only a new status is parsed and kept (and wakes the waiter); the progress is kept as a
        # number: parsing and holding every job of every round would cost thousands of waiters dear.
        progress = item.get("progress")
        self.progress = progress if isinstance(progress, int) else None
        if self.job is not None and item.get("status") == self.job.status:
            return
        try:
            self.job = Job.model_validate(item)
        except ValidationError:  # let the waiter read it itself, and meet the error there
            self.drop()
            return
        self._news = True
        self._wake()

    def drop(self) -> None:
        """Tell the waiter that the pages stopped: it must read its job itself, now."""
        self._dropped = True
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def next(self, timeout: float) -> Job | Pending | None:
        """
        Wait up to ``timeout`` seconds for news of the job, then say what the pages know.

        Return the job as the pages showed it: at once when its status changed, else after
        ``timeout`` if the last round showed it. :data:`PENDING`: no round with it has ended yet.
        ``None``: the pages do not cover it (any more), read it.

        :param timeout: Seconds to wait.
        """
        if not self._news and not self._dropped and timeout > 0:
            loop = asyncio.get_running_loop()
            self._waiter = waiter = loop.create_future()
            timer = loop.call_later(timeout, _settle, waiter)
            try:
                await waiter
            finally:
                timer.cancel()
                self._waiter = None
        if self._news:
            self._news = False
            return self._latest()
        watcher = self.watcher
        if self._dropped or watcher.pages_failing or not watcher.batching:
            self._dropped = False
            return None
        if self.job is None:
            return PENDING if watcher.rounds_done < self.first_round else None
        return self._latest() if watcher.misses(self.job_id) == 0 else None

    async def look(self, wait: float, deadline: float) -> Job | None:
        """
        Wait ``wait`` seconds before the next poll; return the job if the pages showed it, else ``None``.

        While enough jobs are awaited, the wait ends early when the job's status changes; while the
        first round of pages with the job is under way, it is awaited (up to ``deadline``). Otherwise
        this is a plain wait on the clock, and ``None`` says: read the job yourself.

        :param wait: Seconds until the next poll, as the poll schedule says.
        :param deadline: Wall-clock time the waiting ends.
        """
        while True:
            seen: Job | Pending | None = None
            if self.watcher.batching:
                seen = await self.next(wait)
            elif wait:
                await clock.current().asleep(wait)
            if seen is PENDING and clock.now() < deadline:
                wait = min(tuning.TUNING.batch_cycle_seconds, deadline - clock.now())
                continue  # the first round of pages with this job is under way: wait for it
            return seen if isinstance(seen, Job) else None

    def _latest(self) -> Job | None:
        if self.job is None or self.job.progress == self.progress:
            return self.job
        return self.job.model_copy(update={"progress": self.progress})


def _moment(iso: Any) -> datetime | None:
    """A ``createdAt`` as a datetime (``None`` if absent or unreadable)."""
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")) if isinstance(iso, str) else None
    except ValueError:
        return None


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class JobWatcher:
    """
    Reads the statuses of the awaited jobs of one connection with ``GET /v2/jobs`` pages.

    :param transport: The connection's shared transport.
    """

    def __init__(self, transport: AsyncTransport):
        self.transport = transport
        self._sightings: dict[str, list[Sighting]] = {}
        self._created: dict[str, datetime | None] = {}  # job id -> createdAt, as the pages showed it
        self._misses: dict[str, int] = {}  # job id -> rounds running the pages did not show it
        self._rounds: asyncio.Task[None] | None = None
        self.pages_read = 0
        self.rounds_started = 0
        self.rounds_done = 0  # the last round that ended well
        self.pages_failing = False  # the last round failed
        self._last_round_pages = 0

    def misses(self, job_id: str) -> int:
        """Rounds running that the pages did not show ``job_id``."""
        return self._misses.get(job_id, 0)

    @property
    def batching(self) -> bool:
        """Whether enough jobs are awaited for the pages to serve them."""
        return len(self._sightings) >= tuning.TUNING.batch_min_jobs

    @contextlib.contextmanager
    def watch(self, job_id: str) -> Iterator[Sighting]:
        """
        Await ``job_id`` through the pages for the duration of the block.

        :param job_id: The job.
        """
        sighting = Sighting(job_id, self)
        self._sightings.setdefault(job_id, []).append(sighting)
        if self._rounds is None or self._rounds.done():
            self._rounds = asyncio.get_running_loop().create_task(self._read_rounds())
        try:
            yield sighting
        finally:
            waiting = self._sightings[job_id]
            waiting.remove(sighting)
            if not waiting:
                del self._sightings[job_id]
                self._created.pop(job_id, None)
                self._misses.pop(job_id, None)

    async def _read_rounds(self) -> None:
        batched = False
        while self._sightings:
            started = clock.current().monotonic()
            if self.batching:
                batched = True
                try:
                    await self._read_pages()
                except ApiframeError as exc:  # the waiters read their jobs themselves meanwhile
                    log.warning("Reading Apiframe job pages failed (%s); jobs are read one by one", exc)
            elif batched:  # too few jobs left for pages: their waiters go back to reading them
                batched = False
                for sightings in self._sightings.values():
                    for sighting in sightings:
                        sighting.drop()
            elapsed = clock.current().monotonic() - started
            await asyncio.sleep(max(tuning.TUNING.batch_cycle_seconds - elapsed, 0.05))

    async def _read_pages(self) -> None:
        """Read one round of pages; a job they did not show counts a miss (unless the round failed)."""
        most = tuning.TUNING.misses_before_giving_up
        targets = {j for j in self._sightings if self._misses.get(j, 0) < most}
        if not targets:
            return
        unseen = set(targets)
        self.rounds_started += 1
        this_round = self.rounds_started
        try:
            await self._sweep(unseen)
        except ApiframeError:
            self.pages_failing = True  # the waiters read their jobs themselves, on their schedule
            raise
        self.pages_failing = False
        self.rounds_done = this_round
        for job_id in targets:
            self._misses[job_id] = self._misses.get(job_id, 0) + 1 if job_id in unseen else 0

    async def _sweep(self, unseen: set[str]) -> None:
        """
        Read pages newest first, showing each job of ``unseen`` to its waiters (and removing it).

        Stop once all were seen, or the pages have gone past the oldest of them (created before
        the page's last job), or the page budget is spent.
        """
        created = [self._created.get(job_id) for job_id in unseen]
        oldest = None if None in created else min(c for c in created if c is not None)
        cursor: str | None = None
        tune = tuning.TUNING
        budget = math.ceil(len(unseen) / tune.page_size) * tune.pages_per_page_of_jobs + tune.extra_pages
        budget = min(max(budget, 2 * self._last_round_pages), tune.max_pages)
        self._last_round_pages = 0
        for _ in range(budget):
            page = await self.transport.send(calls.scan_jobs(cursor=cursor), retry=tune.page_retry, log=log)
            self.pages_read += 1
            self._last_round_pages += 1
            for item in page.jobs:
                job_id = item.get("id")
                if job_id in unseen:
                    unseen.discard(job_id)
                    if job_id not in self._created:
                        self._created[job_id] = _moment(item.get("createdAt"))
                    for sighting in self._sightings.get(job_id, ()):
                        sighting.show(item)
            if not unseen or not page.has_more or not page.next_cursor or not page.jobs:
                return
            last = _moment(page.jobs[-1].get("createdAt"))
            if oldest is not None and last is not None and last < oldest:
                return
            cursor = page.next_cursor
            del page  # not held across the next request: a round's pages are garbage at once

    async def stop(self) -> None:
        """Stop reading pages."""
        if self._rounds is not None:
            self._rounds.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._rounds
