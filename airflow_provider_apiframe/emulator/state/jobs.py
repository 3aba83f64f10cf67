"""The jobs the emulator keeps: the record of one job, and the store of all in creation order."""

from __future__ import annotations

import base64
import dataclasses
import random
import uuid
from collections.abc import Iterator
from typing import Any, Literal

from airflow_provider_apiframe.core.catalog import prompt_of, spec_for
from airflow_provider_apiframe.emulator.audio import AudioSpec
from airflow_provider_apiframe.emulator.config import EmulatorConfig
from airflow_provider_apiframe.emulator.images import ImageSpec
from airflow_provider_apiframe.emulator.state.outputs import Output, OutputKind, plan
from airflow_provider_apiframe.emulator.video import CONTENT_TYPE as VIDEO_CONTENT_TYPE
from airflow_provider_apiframe.emulator.video import VideoSpec

Outcome = Literal["COMPLETED", "FAILED", "CANCELLED", "NEVER", "ARCHIVED"]
ResultShape = Literal["images", "string", "unknown"]

#: Events sent when a request names a webhookUrl but no webhookEvents (the docs leave this open).
DEFAULT_WEBHOOK_EVENTS = ("completed", "failed")


@dataclasses.dataclass
class JobRecord:
    """
    One job and everything needed to answer for it.

    What it makes (``output`` and the spec of its kind: ``images``, ``video`` or ``audio``) is
    decided at submission (see :mod:`~airflow_provider_apiframe.emulator.state.outputs`); its
    input media are ``input_urls`` of ``input_kinds``, fetched into ``inputs``.
    """

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
    images: ImageSpec | None
    input_urls: tuple[str, ...] = ()
    input_kinds: tuple[str, ...] = ()  # image, video or audio: one per input URL
    output: OutputKind = "images"
    video: VideoSpec | None = None
    audio: AudioSpec | None = None
    caption: str = ""  # the text its files show
    title: str = ""  # its tracks' title
    source: str = ""  # the seed of the track its stems split
    parent_id: str | None = None  # the job a follow-up action acted on
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
        inputs, images, video, audio = data["inputs"], data["images"], data.get("video"), data.get("audio")
        return cls(
            **{
                **data,
                "images": None if images is None else ImageSpec(**{**images, "size": tuple(images["size"])}),
                "video": None if video is None else VideoSpec(**{**video, "size": tuple(video["size"])}),
                "audio": None if audio is None else AudioSpec(**audio),
                "input_urls": tuple(data["input_urls"]),
                "input_kinds": tuple(data.get("input_kinds") or ("image",) * len(data["input_urls"])),
                "inputs": None if inputs is None else tuple(base64.b64decode(b) for b in inputs),
                "files": {},
            }
        )

    @property
    def prompt(self) -> str:
        """The text its files show: its prompt (or its parent's), wherever the route keeps it."""
        return self.caption or prompt_of(self.body, self.route) or self.model

    @property
    def file_count(self) -> int:
        """How many result files it has."""
        if self.output == "video":
            return 1
        if self.audio is not None and self.output in ("audio", "tracks", "stems"):
            return self.audio.count
        return self.images.count if self.images is not None else 0

    @property
    def file_ext(self) -> str:
        """The extension of its result files."""
        if self.output == "video":
            return "mp4"
        if self.audio is not None and self.output in ("audio", "tracks", "stems"):
            return self.audio.fmt
        return self.images.fmt if self.images is not None else "png"

    @property
    def content_type(self) -> str:
        """The MIME type of its result files."""
        if self.output == "video":
            return VIDEO_CONTENT_TYPE
        if self.audio is not None and self.output in ("audio", "tracks", "stems"):
            return self.audio.content_type
        return self.images.content_type if self.images is not None else "image/png"

    @property
    def image_inputs(self) -> tuple[bytes, ...]:
        """The input images fetched (its other inputs are not decoded)."""
        if not self.input_kinds:
            return self.inputs or ()
        return tuple(
            data for data, kind in zip(self.inputs or (), self.input_kinds, strict=False) if kind == "image"
        )


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
    config: EmulatorConfig,
    jitter: random.Random,
    api_key: str,
    route: str,
    body: dict[str, Any],
    now: float,
    *,
    output: Output | None = None,
    parent_id: str | None = None,
) -> JobRecord:
    """
    The record of a new job that completes in its time (outcome rules may change that later).

    :param config: The emulator's settings (job time, jitter, the share of each extra image).
    :param jitter: The random source of the timing jitter.
    :param api_key: The submitting key.
    :param route: The route.
    :param body: The validated body.
    :param now: The current time.
    :param output: What it makes, when its route decided (follow-up actions); else planned from
        the body's model.
    :param parent_id: The job a follow-up action acts on.
    """
    made = output or plan(route, body)
    extra = made.images.count - 1 if made.kind == "images" and made.images is not None else 0
    duration = config.job_seconds * (
        1 + jitter.uniform(-1, 1) * config.jitter + config.extra_image_share * extra
    )
    return JobRecord(
        id=str(uuid.uuid4()),
        api_key=api_key,
        route=route,
        model=spec.model if (spec := spec_for(body, route)) else str(body.get("model")),
        body=body,
        created=now,
        processing_at=now + duration * 0.15,
        finishes_at=now + duration,
        outcome="COMPLETED",
        error=None,
        result_shape="images",
        cost=made.cost,
        images=made.images,
        input_urls=tuple(url for url, _ in made.inputs),
        input_kinds=tuple(kind for _, kind in made.inputs),
        output=made.kind,
        video=made.video,
        audio=made.audio,
        caption=made.caption,
        title=made.title,
        source=made.source,
        parent_id=parent_id,
        webhook_status="pending" if wants_terminal_webhook(body) else None,
    )


def track_id(job_id: str, n: int) -> str:
    """
    The id of a Suno job's ``n``-th track (stable: derived from the job's id).

    :param job_id: The job.
    :param n: 1 or 2.
    """
    return str(uuid.uuid5(uuid.UUID(job_id), f"track-{n}"))
