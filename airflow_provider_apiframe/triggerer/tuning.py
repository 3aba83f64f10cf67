"""
The numbers the triggerer's job watcher runs on, in one frozen object.

Code reads :data:`TUNING` where it needs a number; a test replaces that one object for its duration
(the ``tune`` fixture), not seven module globals.
"""

from __future__ import annotations

import dataclasses

from airflow_provider_apiframe.core.retry import RetryPolicy

_PAGE_RETRY = RetryPolicy(max_attempts=2)


@dataclasses.dataclass(frozen=True)
class Tuning:
    """
    How the job watcher reads ``GET /v2/jobs`` pages.

    :param batch_cycle_seconds: Seconds between two rounds of list pages.
    :param batch_min_jobs: Fewer awaited jobs than this are read one by one (a page a second would
        cost more).
    :param page_size: Largest page the API serves.
    :param pages_per_page_of_jobs: Pages read per round, at most, for every page's worth of awaited
        jobs (others' jobs interleave).
    :param extra_pages: And this many more.
    :param max_pages: Awaited jobs scatter as the others end: a round may read twice as many pages as
        the last one, never more than this many, though (50,000 jobs back).
    :param misses_before_giving_up: A job the pages did not show this many rounds running is left to
        be read on its own.
    :param page_retry: A list page is a shortcut: one retry, then the waiters read their jobs
        themselves.
    """

    batch_cycle_seconds: float = 1.0
    batch_min_jobs: int = 4
    page_size: int = 100
    pages_per_page_of_jobs: int = 2
    extra_pages: int = 10
    max_pages: int = 500
    misses_before_giving_up: int = 2
    page_retry: RetryPolicy = _PAGE_RETRY


#: The tuning the watcher runs on, read where a number is needed (tests replace it: ``tune``).
TUNING = Tuning()
