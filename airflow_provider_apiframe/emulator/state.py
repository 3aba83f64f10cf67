"""
The emulator's memory: jobs, idempotency keys, the credits ledger, uploads, injected faults.

A job's status is a function of time (QUEUED, then PROCESSING with progress climbing, then its
outcome), read when asked; the moment it ends, it is settled once: charged if COMPLETED, and its
webhook sent. Everything here runs on the emulator's event loop thread.
"""

from __future__ import annotations

import base64
import dataclasses
import fnmatch
import json
import math
import os
import random
import time
import uuid
from collections import Counter, deque
from datetime import datetime, timezone
from typing import Any, Literal

from airflow_provider_apiframe.core.catalog import IMAGE_MODELS, image_inputs_of, prompt_of
from airflow_provider_apiframe.emulator.config import EmulatorConfig
from airflow_provider_apiframe.emulator.images import ImageSpec, image_spec

Outcome = Literal["COMPLETED", "FAILED", "CANCELLED", "NEVER", "ARCHIVED"]
ResultShape = Literal["images", "string", "unknown"]
CONTENT_POLICY_ERROR = "Your request was rejected by the content policy (emulated)."

#: Illustrative prices in credits per image (the real API's prices are on its dashboard).
_GPT_PRICES = {"low": 2, "medium": 6, "high": 24, "auto": 6}
_FLAT_PRICE = 8


class InsufficientCredits(Exception):
    """The team cannot pay for a job: ``402``."""

    def __init__(self, required: int, available: int):
        super().__init__(f"{required} credits required, {available} available")
        self.required = required
        self.available = available


@dataclasses.dataclass
class JobRecord:
    """One job and everything needed to answer for it."""

    id: str
    api_key: str
    route: str
    model: str
    body: dict[str, Any]
    created: float
    processing_at: float
    finishes_at: float | None  # None: never finishes
    outcome: Outcome
    error: str | None
    result_shape: ResultShape
    cost: int
    images: ImageSpec
    input_urls: tuple[str, ...] = ()
    inputs: tuple[bytes, ...] | None = None  # None while they are being fetched
    inputs_at: float = 0.0  # when the inputs were in hand
    expire_at_once: bool = False
    settled: bool = False
    completed_at: float | None = None
    webhook_status: str | None = None
    links: str = ""  # the base URL its result links use
    files: dict[int, bytes] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON (rendered files are not kept: they are drawn again on demand)."""
        data = dataclasses.asdict(self)
        data["files"] = {}
        data["inputs"] = None if self.inputs is None else [base64.b64encode(b).decode() for b in self.inputs]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobRecord:
        """Rebuild a record saved by :meth:`to_dict`."""
        inputs = data["inputs"]
        return cls(
            **{
                **data,
                "images": ImageSpec(**{**data["images"], "size": tuple(data["images"]["size"])}),
                "input_urls": tuple(data["input_urls"]),
                "inputs": None if inputs is None else tuple(base64.b64decode(b) for b in inputs),
                "files": {},
            }
        )

    @property
    def prompt(self) -> str:
        """The prompt, wherever the route keeps it."""
        return prompt_of(self.body) or self.model


@dataclasses.dataclass
class FaultRule:
    """
    Answer matching requests with a fault, ``times`` times (``None``: until cleared).

    :param action: ``status`` (``status`` code, with ``retry_after`` for 429), ``drop`` (cut the
        connection mid-response), ``slow`` (wait ``delay`` seconds, then answer normally), ``late``
        (handle the request at once, then hold its answer ``delay`` seconds: a job is created
        and paid for while its client still waits) or ``malformed`` (``200`` with a body that is
        not JSON).
    """

    action: Literal["status", "drop", "slow", "late", "malformed"]
    method: str | None = None
    path: str = "/v2/*"
    status: int = 503
    retry_after: float | None = None
    delay: float = 0.0
    times: int | None = 1
    message: str | None = None

    def matches(self, method: str, path: str) -> bool:
        """Whether a request is affected."""
        return (self.method is None or self.method.upper() == method) and fnmatch.fnmatchcase(path, self.path)


@dataclasses.dataclass
class OutcomeRule:
    """
    Give the next matching new jobs a chosen fate, ``times`` times (``None``: until cleared).

    :param outcome: ``failed`` (content policy), ``cancelled``, ``never`` (never finishes),
        ``string-result`` (result is one URL string), ``unknown-result`` (result of an unknown
        shape), ``expired`` (results purged as soon as the job completes), ``large-result`` (one
        large PNG of random noise, ``EmulatorConfig.large_image_side`` pixels square) or
        ``unknown-status`` (ends in a status the contract does not have, ``ARCHIVED``).
    :param prompt_contains: Only jobs whose prompt contains this text.
    """

    outcome: Literal[
        "failed",
        "cancelled",
        "never",
        "string-result",
        "unknown-result",
        "expired",
        "large-result",
        "unknown-status",
    ]
    prompt_contains: str | None = None
    times: int | None = 1


class EmulatorState:
    """
    All the emulator knows.

    :param config: Its settings.
    """

    def __init__(self, config: EmulatorConfig):
        self.config = config
        self.credits = config.credits
        self.reserved = 0  # credits promised to jobs that will complete but have not yet
        self.jobs: dict[str, JobRecord] = {}
        self.order: list[str] = []  # job ids, oldest first
        self.position: dict[str, int] = {}  # job id -> index in order
        self.idempotency: dict[tuple[str, str], tuple[str, float]] = {}  # -> job id, time
        self.charges: list[tuple[str, int]] = []  # (job id, credits)
        self.uploads: dict[str, tuple[bytes, str, float]] = {}  # id -> data, content type, expiry
        self.faults: list[FaultRule] = []
        self.outcomes: list[OutcomeRule] = []
        self.requests: deque[tuple[str, str, int]] = deque(maxlen=100_000)  # method, path, status
        # job id -> when it would have started and ended; see hold()
        self.held: dict[str, tuple[float, float | None]] | None = None
        self.requests_by_route: Counter[str] = Counter()  # "GET /v2/jobs/{id}" -> requests, all time
        self.webhooks: deque[dict[str, Any]] = deque(maxlen=10_000)  # deliveries made
        self._random = random.Random(config.seed)
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> tokens, last refill

    def hold(self) -> None:
        """Keep new jobs QUEUED until :meth:`release` (benchmarks start thousands at one moment)."""
        self.held = {} if self.held is None else self.held

    def release(self, now: float | None = None) -> list[JobRecord]:
        """Start every held job now, as if it had just been submitted; stop holding. Returns them."""
        now = time.time() if now is None else now
        held, self.held = self.held or {}, None
        released = []
        for job_id, (processing_at, finishes_at) in held.items():
            job = self.jobs[job_id]
            shift = now - job.created
            job.processing_at = processing_at + shift
            job.finishes_at = None if finishes_at is None else finishes_at + shift
            released.append(job)
        return released

    def count_request(self, method: str, path: str, status: int) -> None:
        """Log a request (the last 100,000) and count it by route (all of them)."""
        self.requests.append((method, path, status))
        route = "/v2/jobs/{id}" if path.startswith("/v2/jobs/") else path
        self.requests_by_route[f"{method} {route}"] += 1

    # --- jobs -------------------------------------------------------------------------------------

    def create_job(
        self,
        api_key: str,
        route: str,
        body: dict[str, Any],
        *,
        outcome: str | None = None,
        now: float | None = None,
    ) -> JobRecord:
        """
        Record a new job (already validated and paid for in principle).

        :param api_key: The submitting key.
        :param route: The route.
        :param body: The validated body.
        :param outcome: A fate forced by the request (``X-Emulator-Outcome``), else the rules decide.
        :param now: The current time.
        """
        now = time.time() if now is None else now
        spec = IMAGE_MODELS[body["model"]]
        params = body.get(spec.params_key) or {}
        images = image_spec(spec.model, params, route=route)
        duration = self.config.job_seconds * (
            1
            + self._random.uniform(-1, 1) * self.config.jitter
            + self.config.extra_image_share * (images.count - 1)
        )
        cost = self.price(spec.model, params, images.count)
        if self.credits - self.reserved < cost:
            raise InsufficientCredits(cost, max(0, self.credits - self.reserved))
        job = JobRecord(
            id=str(uuid.uuid4()),
            api_key=api_key,
            route=route,
            model=spec.model,
            body=body,
            created=now,
            processing_at=now + duration * 0.15,
            finishes_at=now + duration,
            outcome="COMPLETED",
            error=None,
            result_shape="images",
            cost=cost,
            images=images,
            input_urls=tuple(image_inputs_of(body)),
            webhook_status="pending" if _wants_terminal_webhook(body) else None,
        )
        self._apply_outcome(job, outcome or self._next_outcome(job.prompt))
        if self.held is not None:  # QUEUED until released, then as if submitted at that moment
            self.held[job.id] = (job.processing_at, job.finishes_at)
            job.processing_at = math.inf
            job.finishes_at = None if job.finishes_at is None else math.inf
        if not job.input_urls:
            job.inputs, job.inputs_at = (), now
        if job.outcome == "COMPLETED":
            self.reserved += job.cost
        self.jobs[job.id] = job
        self.position[job.id] = len(self.order)
        self.order.append(job.id)
        return job

    def _next_outcome(self, prompt: str) -> str | None:
        for rule in self.outcomes:
            if rule.prompt_contains is None or rule.prompt_contains in prompt:
                if rule.times is not None:
                    rule.times -= 1
                    if rule.times <= 0:
                        self.outcomes.remove(rule)
                return rule.outcome
        return None

    def _apply_outcome(self, job: JobRecord, outcome: str | None) -> None:
        if outcome == "failed":
            job.outcome, job.error = "FAILED", CONTENT_POLICY_ERROR
        elif outcome == "cancelled":
            job.outcome, job.error = "CANCELLED", "The job was cancelled (emulated)."
        elif outcome == "never":
            job.outcome, job.finishes_at = "NEVER", None
        elif outcome == "string-result":
            job.result_shape = "string"
        elif outcome == "unknown-result":
            job.result_shape = "unknown"
        elif outcome == "expired":
            job.expire_at_once = True
        elif outcome == "unknown-status":
            job.outcome = "ARCHIVED"
        elif outcome == "large-result":
            side = self.config.large_image_side
            job.images = ImageSpec(count=1, size=(side, side), fmt="png", transparent=False, noise=True)
        elif outcome is not None:
            raise ValueError(f"unknown outcome {outcome!r}")

    def price(self, model: str, params: dict[str, Any], count: int) -> int:
        """
        Credits a job costs when it completes.

        :param model: The model.
        :param params: Its parameters block.
        :param count: Number of images.
        """
        if model.startswith("gpt-image"):
            return _GPT_PRICES.get(str(params.get("quality") or "auto"), 6) * count
        return _FLAT_PRICE * count

    def status(self, job: JobRecord, now: float | None = None) -> tuple[str, int | None]:
        """
        A job's status and progress at ``now``.

        :param job: The job.
        :param now: The time to read it at.
        """
        now = time.time() if now is None else now
        if now < job.processing_at:
            return "QUEUED", 0
        ended = job.finishes_at is not None and now >= job.finishes_at and job.inputs is not None
        if not ended:
            end = job.finishes_at or (job.created + 10 * max(self.config.job_seconds, 1))
            share = (now - job.processing_at) / max(end - job.processing_at, 1e-6)
            return "PROCESSING", max(1, min(99, int(100 * share)))
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
            self.reserved -= job.cost
            self.credits -= job.cost
            self.charges.append((job.id, job.cost))
        return True

    def fail_inputs(self, job: JobRecord, reason: str) -> None:
        """
        End a job whose input images could not be fetched: FAILED, not charged.

        :param job: The job.
        :param reason: What went wrong.
        """
        if job.outcome == "COMPLETED":
            self.reserved -= job.cost
        now = time.time()
        job.outcome, job.error, job.inputs, job.inputs_at = "FAILED", reason, (), now
        job.finishes_at = now if job.finishes_at is None else min(job.finishes_at, now)

    def expires_at(self, job: JobRecord) -> float | None:
        """When a COMPLETED job's files are purged."""
        if job.completed_at is None or job.outcome != "COMPLETED":
            return None
        if job.expire_at_once:
            return job.completed_at
        return job.completed_at + self.config.retention_seconds

    def is_expired(self, job: JobRecord, now: float | None = None) -> bool:
        """Whether a job's result files were purged."""
        expiry = self.expires_at(job)
        return expiry is not None and (time.time() if now is None else now) >= expiry

    def to_json(self, job: JobRecord, base_url: str, now: float | None = None) -> dict[str, Any]:
        """
        The job as ``GET /v2/jobs/{id}`` shows it.

        :param job: The job.
        :param base_url: Base URL for result links.
        :param now: The time to read it at.
        """
        status, progress = self.status(job, now)
        completed = status == "COMPLETED"
        result: Any = None
        if completed:
            ext = job.images.fmt
            urls = [f"{base_url}/files/{job.id}-{n}.{ext}" for n in range(1, job.images.count + 1)]
            result = {"string": urls[0], "unknown": {"url": urls[0]}}.get(job.result_shape, {"images": urls})
        ended = status in ("COMPLETED", "FAILED", "CANCELLED")
        return {
            "id": job.id,
            "status": status,
            "model": job.model,
            "progress": progress,
            "error": job.error if status in ("FAILED", "CANCELLED") else None,
            "creditCost": job.cost if completed else (0 if ended else None),
            "webhookStatus": job.webhook_status,
            "createdAt": iso_time(job.created),
            "completedAt": iso_time(job.completed_at) if ended and job.completed_at else None,
            "result": result,
            "input": job.body,
            "expired": self.is_expired(job, now),
        }

    # --- idempotency -------------------------------------------------------------------------------

    def replay(self, api_key: str, key: str, now: float | None = None) -> JobRecord | None:
        """
        The job an ``Idempotency-Key`` created within the replay window, whatever the body now is.

        The contract documents replay ("returns the original job") and no ``409`` for job routes.

        :param api_key: The submitting key (keys are scoped to it).
        :param key: The Idempotency-Key.
        :param now: The current time.
        """
        now = time.time() if now is None else now
        seen = self.idempotency.get((api_key, key))
        if seen is None or now - seen[1] > self.config.idempotency_seconds:
            return None
        return self.jobs[seen[0]]

    def remember(self, api_key: str, key: str, job: JobRecord) -> None:
        """Remember which job an Idempotency-Key created."""
        self.idempotency[(api_key, key)] = (job.id, job.created)

    # --- faults and rate limits ----------------------------------------------------------------------

    def take_fault(self, method: str, path: str) -> FaultRule | None:
        """The first fault rule matching a request, used up by one."""
        for rule in self.faults:
            if rule.matches(method, path):
                if rule.times is not None:
                    rule.times -= 1
                    if rule.times <= 0:
                        self.faults.remove(rule)
                return rule
        return None

    def rate_limited(self, api_key: str, now: float | None = None) -> float | None:
        """Seconds to wait if this request is over the key's rate, else None (token bucket)."""
        rate = self.config.rate_limit
        if rate is None:
            return None
        now = time.time() if now is None else now
        tokens, last = self._buckets.get(api_key, (rate, now))
        tokens = min(rate, tokens + (now - last) * rate)
        if tokens < 1:
            self._buckets[api_key] = (tokens, now)
            return (1 - tokens) / rate
        self._buckets[api_key] = (tokens - 1, now)
        return None

    # --- persistence --------------------------------------------------------------------------------

    def save(self, path: str) -> None:
        """
        Write what a restart should keep: jobs, idempotency keys, the ledger and uploads.

        :param path: The state file (written atomically).
        """
        data = {
            "credits": self.credits,
            "reserved": self.reserved,
            "jobs": [self.jobs[job_id].to_dict() for job_id in self.order],
            "idempotency": [
                [api_key, key, job_id, at] for (api_key, key), (job_id, at) in self.idempotency.items()
            ],
            "charges": self.charges,
            "uploads": {k: [base64.b64encode(d).decode(), t, e] for k, (d, t, e) in self.uploads.items()},
        }
        with open(f"{path}.tmp", "w") as handle:
            json.dump(data, handle)
        os.replace(f"{path}.tmp", path)

    def load(self, path: str) -> None:
        """
        Take back what :meth:`save` wrote (nothing if the file does not exist).

        :param path: The state file.
        """
        if not os.path.exists(path):
            return
        with open(path) as handle:
            data = json.load(handle)
        self.credits, self.reserved = data["credits"], data["reserved"]
        for saved in data["jobs"]:
            job = JobRecord.from_dict(saved)
            self.jobs[job.id] = job
            self.position[job.id] = len(self.order)
            self.order.append(job.id)
        self.idempotency = {(a, k): (j, at) for a, k, j, at in data["idempotency"]}
        self.charges = [(job_id, cost) for job_id, cost in data["charges"]]
        self.uploads = {k: (base64.b64decode(d), t, e) for k, (d, t, e) in data["uploads"].items()}

    # --- inspection --------------------------------------------------------------------------------

    def describe_jobs(self) -> list[dict[str, Any]]:
        """Every job, oldest first, as tests want to see it (status, cost, whether charged, its keys)."""
        keys: dict[str, list[str]] = {}
        for (_, key), (job_id, _) in self.idempotency.items():
            keys.setdefault(job_id, []).append(key)
        charged = {job_id for job_id, _ in self.charges}
        return [
            {
                "id": job.id,
                "model": job.model,
                "route": job.route,
                "prompt": job.prompt,
                "status": self.status(job)[0],
                "cost": job.cost,
                "charged": job.id in charged,
                "idempotencyKeys": keys.get(job.id, []),
                "inputUrls": list(job.input_urls),
            }
            for job in (self.jobs[job_id] for job_id in self.order)
        ]

    def summary(self) -> dict[str, Any]:
        """What tests and people want to know at a glance."""
        by_status: dict[str, int] = {}
        for job in self.jobs.values():
            status = self.status(job)[0]
            by_status[status] = by_status.get(status, 0) + 1
        return {
            "credits": self.credits,
            "charges": [{"jobId": job_id, "credits": cost} for job_id, cost in self.charges],
            "idempotencyKeys": len(self.idempotency),
            "uploads": len(self.uploads),
            "jobs": len(self.jobs),
            "jobsByStatus": by_status,
            "requests": len(self.requests),
            "requestsByRoute": dict(self.requests_by_route),
            "webhooksDelivered": sum(1 for w in self.webhooks if w.get("delivered")),
        }


#: Events sent when a request names a webhookUrl but no webhookEvents (the docs leave this open).
DEFAULT_WEBHOOK_EVENTS = ("completed", "failed")


def webhook_events(body: dict[str, Any]) -> tuple[str, ...]:
    """The events a job's webhook subscribes to (none without a webhookUrl)."""
    if not body.get("webhookUrl"):
        return ()
    return tuple(body.get("webhookEvents") or DEFAULT_WEBHOOK_EVENTS)


def _wants_terminal_webhook(body: dict[str, Any]) -> bool:
    return bool({"completed", "failed"} & set(webhook_events(body)))


def iso_time(moment: float) -> str:
    """``moment`` as the API writes times: ISO 8601 UTC with milliseconds."""
    return (
        datetime.fromtimestamp(moment, tz=timezone.utc)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )
