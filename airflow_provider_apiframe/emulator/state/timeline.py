"""
A job's life in time: when it is QUEUED, PROCESSING (and how far), ended, and when its files go.

Also the hold that keeps new jobs QUEUED until released (benchmarks start thousands at one moment).
"""

from __future__ import annotations

import math

from airflow_provider_apiframe.emulator.state.jobs import JobRecord


def progress_at(job: JobRecord, job_seconds: float, now: float) -> tuple[str, int] | None:
    """
    A running job's status and progress at ``now``, or None once it has ended.

    :param job: The job.
    :param job_seconds: The typical job time (paces the progress of a job that never ends).
    :param now: The time to read it at.
    """
    if now < job.processing_at:
        return "QUEUED", 0
    ended = job.finishes_at is not None and now >= job.finishes_at and job.inputs is not None
    if ended:
        return None
    end = job.finishes_at or (job.created + 10 * max(job_seconds, 1))
    share = (now - job.processing_at) / max(end - job.processing_at, 1e-6)
    return "PROCESSING", max(1, min(99, int(100 * share)))


def expires_at(job: JobRecord, retention_seconds: float) -> float | None:
    """
    When a COMPLETED job's files are purged (None for any other job).

    :param job: The job.
    :param retention_seconds: How long result files stay.
    """
    if job.completed_at is None or job.outcome != "COMPLETED":
        return None
    if job.expire_at_once:
        return job.completed_at
    return job.completed_at + retention_seconds


class Hold:
    """New jobs stay QUEUED while holding; released, they run as if submitted at that moment."""

    def __init__(self) -> None:
        # job id -> when it would have started and ended; None: not holding
        self.held: dict[str, tuple[float, float | None]] | None = None

    def start(self) -> None:
        """Hold new jobs (until :meth:`release`)."""
        self.held = {} if self.held is None else self.held

    def park(self, job: JobRecord) -> None:
        """
        Keep a new job QUEUED if holding.

        :param job: The new job.
        """
        if self.held is not None:
            self.held[job.id] = (job.processing_at, job.finishes_at)
            job.processing_at = math.inf
            job.finishes_at = None if job.finishes_at is None else math.inf

    def release(self, jobs: dict[str, JobRecord], now: float) -> list[JobRecord]:
        """
        Start every held job now, as if it had just been submitted; stop holding. Returns them.

        :param jobs: Every job by id.
        :param now: The current time.
        """
        held, self.held = self.held or {}, None
        released = []
        for job_id, (processing_at, finishes_at) in held.items():
            job = jobs[job_id]
            shift = now - job.created
            job.processing_at = processing_at + shift
            job.finishes_at = None if finishes_at is None else finishes_at + shift
            released.append(job)
        return released
