"""
:class:`EmulatorState`: all the emulator knows, as one object over its parts.

Each part keeps one concern (see the package's docstring); the facade ties them together for the
routes, under the names the tests read (``state.jobs``, ``state.charges``, ``state.credits`` ...).
"""

from __future__ import annotations

import random
import time
from collections import Counter, deque
from typing import Any, Generic, TypeVar, overload

from airflow_provider_apiframe.emulator.config import EmulatorConfig
from airflow_provider_apiframe.emulator.state import loras, persistence, timeline, views
from airflow_provider_apiframe.emulator.state.jobs import JobRecord, JobStore, new_job
from airflow_provider_apiframe.emulator.state.ledger import Ledger, price
from airflow_provider_apiframe.emulator.state.outputs import Output
from airflow_provider_apiframe.emulator.state.ratelimit import RateLimiter
from airflow_provider_apiframe.emulator.state.replays import Replays
from airflow_provider_apiframe.emulator.state.rules import (
    FaultRule,
    OutcomeRule,
    apply_outcome,
    take_first,
)
from airflow_provider_apiframe.emulator.state.traffic import Traffic

_T = TypeVar("_T")


class PartField(Generic[_T]):
    """
    An attribute of the facade that lives in one of its parts: ``part.name``, read and set.

    :param part: The facade's attribute holding the part.
    :param name: The attribute in the part (default: the same name as on the facade).
    """

    def __init__(self, part: str, name: str | None = None):
        self.part = part
        self.name = name

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = self.name or name

    @overload
    def __get__(self, state: None, owner: type) -> PartField[_T]: ...
    @overload
    def __get__(self, state: object, owner: type) -> _T: ...
    def __get__(self, state: object | None, owner: type) -> PartField[_T] | _T:
        if state is None:
            return self
        value: _T = getattr(getattr(state, self.part), str(self.name))
        return value

    def __set__(self, state: object, value: _T) -> None:
        setattr(getattr(state, self.part), str(self.name), value)


class EmulatorState:
    """
    All the emulator knows. Everything here runs on the emulator's event loop thread.

    A job's status is a function of time (QUEUED, then PROCESSING with progress climbing, then its
    outcome), read when asked; the moment it ends, it is settled once: charged if COMPLETED.

    :param config: Its settings.
    """

    def __init__(self, config: EmulatorConfig):
        self.config = config
        self.store = JobStore()
        self.ledger = Ledger(config.credits)
        self.replays = Replays(config)
        self.limiter = RateLimiter(config)
        self.traffic = Traffic()
        self.holding = timeline.Hold()
        self.uploads: dict[str, tuple[bytes, str, float]] = {}  # id -> data, content type, expiry
        self.loras = loras.LoraStore(config, self.ledger)  # LoRAs in training, trained, archived
        self.faults: list[FaultRule] = []
        self.outcomes: list[OutcomeRule] = []
        self._random = random.Random(config.seed)

    # --- the parts' data, under the names the routes and tests use ------------------------------------

    credits = PartField[int]("ledger")  # the team's balance (tests set it)
    reserved = PartField[int]("ledger")  # promised to jobs that will complete but have not yet
    charges = PartField[list[tuple[str, int]]]("ledger")  # (job id, credits)
    jobs = PartField[dict[str, JobRecord]]("store")  # by id
    order = PartField[list[str]]("store")  # job ids, oldest first
    position = PartField[dict[str, int]]("store")  # job id -> index in order
    idempotency = PartField[dict[tuple[str, str], tuple[str, float]]]("replays", "keys")
    requests = PartField[deque[tuple[str, str, int]]]("traffic")  # the last 100,000: method, path, status
    requests_by_route = PartField[Counter[str]]("traffic", "by_route")  # "GET /v2/jobs/{id}" -> count
    webhooks = PartField[deque[dict[str, Any]]]("traffic")  # deliveries made
    held = PartField[dict[str, tuple[float, float | None]] | None]("holding")  # None: not holding

    # --- jobs -----------------------------------------------------------------------------------------

    def create_job(
        self,
        api_key: str,
        route: str,
        body: dict[str, Any],
        *,
        outcome: str | None = None,
        now: float | None = None,
        output: Output | None = None,
        parent_id: str | None = None,
    ) -> JobRecord:
        """
        Record a new job (already validated and paid for in principle).

        :param api_key: The submitting key.
        :param route: The route.
        :param body: The validated body.
        :param outcome: A fate forced by the request (``X-Emulator-Outcome``), else the rules decide.
        :param now: The current time.
        :param output: What it makes, when its route decided (follow-up actions).
        :param parent_id: The job a follow-up action acts on.
        :raises InsufficientCredits: When the team cannot pay for it.
        :raises ValueError: For an unknown ``outcome``.
        """
        now = time.time() if now is None else now
        job = new_job(
            self.config, self._random, api_key, route, body, now, output=output, parent_id=parent_id
        )
        self.ledger.check(job.cost)
        rule = take_first(self.outcomes, lambda rule: rule.matches(job.prompt))
        apply_outcome(job, outcome or (rule.outcome if rule else None), self.config.large_image_side)
        self.holding.park(job)
        if not job.input_urls:
            job.inputs, job.inputs_at = (), now
        if job.outcome == "COMPLETED":
            self.ledger.reserved += job.cost
        self.store.add(job)
        return job

    def price(self, model: str, params: dict[str, Any], count: int) -> int:
        """
        Credits a job costs when it completes.

        :param model: The model.
        :param params: Its parameters block.
        :param count: Number of images.
        """
        return price(model, params, count)

    def status(self, job: JobRecord, now: float | None = None) -> tuple[str, int | None]:
        """
        A job's status and progress at ``now`` (settling it if it has just ended).

        :param job: The job.
        :param now: The time to read it at.
        """
        running = timeline.progress_at(job, self.config.job_seconds, time.time() if now is None else now)
        if running is not None:
            return running
        self.settle(job)
        return job.outcome, (100 if job.outcome == "COMPLETED" else None)

    def settle(self, job: JobRecord) -> bool:
        """
        Settle a job that has ended, once: charge it if COMPLETED. Returns True the first time.

        :param job: The job.
        """
        if job.settled or job.finishes_at is None or job.inputs is None:
            return False
        job.settled = True
        job.completed_at = max(job.finishes_at, job.inputs_at)
        if job.outcome == "COMPLETED":
            self.ledger.charge(job.id, job.cost)
        return True

    def fail_inputs(self, job: JobRecord, reason: str) -> None:
        """
        End a job whose input media could not be fetched (or were not of their kind): FAILED, not charged.

        :param job: The job.
        :param reason: What went wrong.
        """
        if job.outcome == "COMPLETED":
            self.ledger.reserved -= job.cost
        now = time.time()
        job.outcome, job.error, job.inputs, job.inputs_at = "FAILED", reason, (), now
        job.finishes_at = now if job.finishes_at is None else min(job.finishes_at, now)

    def expires_at(self, job: JobRecord) -> float | None:
        """
        When a COMPLETED job's files are purged.

        :param job: The job.
        """
        return timeline.expires_at(job, self.config.retention_seconds)

    def is_expired(self, job: JobRecord, now: float | None = None) -> bool:
        """
        Whether a job's result files were purged.

        :param job: The job.
        :param now: The time to read it at.
        """
        expiry = self.expires_at(job)
        return expiry is not None and (time.time() if now is None else now) >= expiry

    def to_json(self, job: JobRecord, base_url: str, now: float | None = None) -> dict[str, Any]:
        """
        The job as ``GET /v2/jobs/{id}`` shows it.

        :param job: The job.
        :param base_url: Base URL for result links.
        :param now: The time to read it at.
        """
        return views.job_json(self, job, base_url, now)

    def hold(self) -> None:
        """Keep new jobs QUEUED until :meth:`release` (benchmarks start thousands at one moment)."""
        self.holding.start()

    def release(self, now: float | None = None) -> list[JobRecord]:
        """
        Start every held job now, as if it had just been submitted; stop holding. Returns them.

        :param now: The current time.
        """
        return self.holding.release(self.jobs, time.time() if now is None else now)

    # --- idempotency, faults, rate limits, the request log ------------------------------------------

    def replay(self, api_key: str, key: str, now: float | None = None) -> JobRecord | None:
        """
        The job an ``Idempotency-Key`` created within the replay window, whatever the body now is.

        The contract documents replay ("returns the original job") and no ``409`` for job routes.

        :param api_key: The submitting key (keys are scoped to it).
        :param key: The Idempotency-Key.
        :param now: The current time.
        """
        job_id = self.replays.find(api_key, key, time.time() if now is None else now)
        return None if job_id is None else self.jobs[job_id]

    def remember(self, api_key: str, key: str, job: JobRecord) -> None:
        """
        Remember which job an Idempotency-Key created.

        :param api_key: The submitting key.
        :param key: The Idempotency-Key.
        :param job: The job.
        """
        self.replays.remember(api_key, key, job.id, job.created)

    def take_fault(self, method: str, path: str) -> FaultRule | None:
        """
        The first fault rule matching a request, used up by one.

        :param method: The request's method.
        :param path: Its path.
        """
        return take_first(self.faults, lambda rule: rule.matches(method, path))

    def rate_limited(self, api_key: str, now: float | None = None) -> float | None:
        """
        Seconds to wait if this request is over the key's rate, else None (token bucket).

        :param api_key: The request's key.
        :param now: The current time.
        """
        return self.limiter.wait(api_key, time.time() if now is None else now)

    def count_request(self, method: str, path: str, status: int) -> None:
        """
        Log a request (the last 100,000) and count it by route (all of them).

        :param method: Its method.
        :param path: Its path.
        :param status: Its answer's status.
        """
        self.traffic.count(method, path, status)

    # --- persistence and admin views --------------------------------------------------------------

    def save(self, path: str) -> None:
        """
        Write what a restart should keep: jobs, idempotency keys, the ledger and uploads.

        :param path: The state file (written atomically).
        """
        persistence.save(self, path)

    def load(self, path: str) -> None:
        """
        Take back what :meth:`save` wrote (nothing if the file does not exist).

        :param path: The state file.
        """
        persistence.load(self, path)

    def describe_jobs(self) -> list[dict[str, Any]]:
        """Every job, oldest first, as tests want to see it (status, cost, whether charged, its keys)."""
        return views.describe_jobs(self)

    def summary(self) -> dict[str, Any]:
        """What tests and people want to know at a glance."""
        return views.summary(self)
