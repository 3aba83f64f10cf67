"""The jobs the emulator keeps: the record of one job, and the store of all in creation order."""

from __future__ import annotations

import base64
import dataclasses
import random
import uuid
from collections.abc import Iterator
from typing import Any, Literal

from airflow_provider_apiframe.core.catalog import IMAGE_MODELS, image_inputs_of, prompt_of
from airflow_provider_apiframe.emulator.config import EmulatorConfig
from airflow_provider_apiframe.emulator.images import ImageSpec, image_spec
from airflow_provider_apiframe.emulator.state.ledger import price

Outcome = Literal["COMPLETED", "FAILED", "CANCELLED", "NEVER", "ARCHIVED"]
ResultShape = Literal["images", "string", "unknown"]

#: Events sent when a request names a webhookUrl but no webhookEvents (the docs leave this open).
DEFAULT_WEBHOOK_EVENTS = ("completed", "failed")


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
        """
        Rebuild a record saved by :meth:`to_dict`.

        :param data: What :meth:`to_dict` gave.
        """
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


class JobStore:
    """Every job by id, and the order they were created in (for listing pages and cursors)."""

    def __init__(self) -> None:
        self.jobs: dict[str, JobRecord] = {}
        self.order: list[str] = []  # job ids, oldest first
        self.position: dict[str, int] = {}  # job id -> index in order

    def add(self, job: JobRecord) -> None:
        """
        Keep a job, after every job already kept.

        :param job: The job.
        """
        self.jobs[job.id] = job
        self.position[job.id] = len(self.order)
        self.order.append(job.id)

    def in_order(self) -> Iterator[JobRecord]:
        """The jobs, oldest first."""
        return (self.jobs[job_id] for job_id in self.order)


def webhook_events(body: dict[str, Any]) -> tuple[str, ...]:
    """
    The events a job's webhook subscribes to (none without a webhookUrl).

    :param body: The job's request body.
    """
    if not body.get("webhookUrl"):
        return ()
    return tuple(body.get("webhookEvents") or DEFAULT_WEBHOOK_EVENTS)


def wants_terminal_webhook(body: dict[str, Any]) -> bool:
    """
    Whether a job's webhook is told how it ended (its ``webhookStatus`` is then tracked).

    :param body: The job's request body.
    """
    return bool({"completed", "failed"} & set(webhook_events(body)))


def new_job(
    config: EmulatorConfig, jitter: random.Random, api_key: str, route: str, body: dict[str, Any], now: float
) -> JobRecord:
    """
    The record of a new job that completes in its time (outcome rules may change that later).

    :param config: The emulator's settings (job time, jitter, the share of each extra image).
    :param jitter: The random source of the timing jitter.
    :param api_key: The submitting key.
    :param route: The route.
    :param body: The validated body.
    :param now: The current time.
    """
    spec = IMAGE_MODELS[body["model"]]
    params = body.get(spec.params_key) or {}
    images = image_spec(spec.model, params, route=route)
    duration = config.job_seconds * (
        1 + jitter.uniform(-1, 1) * config.jitter + config.extra_image_share * (images.count - 1)
    )
    return JobRecord(
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
        cost=price(spec.model, params, images.count),
        images=images,
        input_urls=tuple(image_inputs_of(body)),
        webhook_status="pending" if wants_terminal_webhook(body) else None,
    )
