"""
Pydantic models of the Apiframe v2 wire contract that this provider sends and reads.

Request models validate *before* anything is sent (``extra="forbid"`` mirrors the contract's
``additionalProperties: false``); response models are lenient about fields the contract may add.
Field names are the API's ``snake_case`` parameter names, which are also the operators' argument
names, so a validation error names the argument the DAG author wrote. The value types and the
wording of refusals live in :mod:`~airflow_provider_apiframe.core.validation`.
"""

from __future__ import annotations

import enum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from airflow_provider_apiframe.core.validation import (
    IdempotencyKey,
    ImageCount,
    ImageUris,
    Prompt,
    Uri,
    one_or_many,
)

GPT_IMAGE_MODEL = "gpt-image-1.5"
GPT_IMAGE_2_MODEL = "gpt-image-2"

WebhookEvent = Literal["progress", "completed", "failed"]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GptImageParams(_Request):
    """The ``gptImageParams`` block of a ``gpt-image-1.5`` generation request."""

    #: The only field the contract lets be ``null`` (the others are simply left out when unset).
    contract_nullable: ClassVar[frozenset[str]] = frozenset({"input_images"})

    aspect_ratio: Literal["1:1", "3:2", "2:3"] | None = None
    quality: Literal["low", "medium", "high", "auto"] | None = None
    background: Literal["auto", "transparent", "opaque"] | None = None
    number_of_images: ImageCount | None = None
    output_format: Literal["png", "jpeg", "webp"] | None = None
    input_fidelity: Literal["low", "high"] | None = None
    input_images: ImageUris | None = None


class GptImage2Params(_Request):
    """The ``gptImage2Params`` block of a ``gpt-image-2`` generation request."""

    contract_nullable: ClassVar[frozenset[str]] = frozenset({"input_images"})

    aspect_ratio: Literal["1:1", "3:2", "2:3"] | None = None
    quality: Literal["low", "medium", "high", "auto"] | None = None
    background: Literal["auto", "opaque"] | None = None
    moderation: Literal["auto", "low"] | None = None
    number_of_images: ImageCount | None = None
    output_format: Literal["png", "jpeg", "webp"] | None = None
    input_images: ImageUris | None = None


class JobOptions(_Request):
    """What every job-creating request carries besides its model's parameters."""

    webhook_url: Uri | None = None
    webhook_events: (
        Annotated[list[WebhookEvent], BeforeValidator(one_or_many), Field(min_length=1)] | None
    ) = None
    #: Sent as the ``Idempotency-Key`` header, not in the body.
    idempotency_key: IdempotencyKey | None = None


class PromptedJobOptions(JobOptions):
    """The shared fields of a generation request, which carries its prompt at the top."""

    prompt: Prompt


class GptImageRequest(GptImageParams, PromptedJobOptions):
    """Everything a GPT Image 1.5 generation sends, flat, as the operator's arguments name it."""


class GptImage2Request(GptImage2Params, PromptedJobOptions):
    """Everything a GPT Image 2 generation sends, flat, as the operator's arguments name it."""


#: Parameter blocks with request models of their own (conveniences, friendly names); every block,
#: these included, is also checked against the contract (:mod:`~airflow_provider_apiframe.core.schema_check`).
TYPED_PARAMS: dict[str, type[_Request]] = {
    "gptImageParams": GptImageParams,
    "gptImage2Params": GptImage2Params,
}
#: Flat request models of the typed operators, by model.
TYPED_REQUESTS: dict[str, type[PromptedJobOptions]] = {
    GPT_IMAGE_MODEL: GptImageRequest,
    GPT_IMAGE_2_MODEL: GptImage2Request,
}


# --- responses ------------------------------------------------------------------------------------


class JobStatus(str, enum.Enum):
    """Lifecycle of a job: ``QUEUED -> PROCESSING -> COMPLETED | FAILED``, or ``CANCELLED``."""

    QUEUED = "QUEUED"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def is_terminal(self) -> bool:
        """Whether the job will not change any more."""
        return self in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)


class _Response(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class JobAccepted(_Response):
    """``202`` answer to a job-creating call; an idempotent replay carries the job's current status."""

    job_id: str = Field(alias="jobId")
    status: str


class Job(_Response):
    """A job as returned by ``GET /v2/jobs/{id}``."""

    id: str
    status: str
    model: str
    progress: int | None = None
    error: str | None = None
    credit_cost: int | None = Field(default=None, alias="creditCost")
    webhook_status: str | None = Field(default=None, alias="webhookStatus")
    created_at: str | None = Field(default=None, alias="createdAt")
    completed_at: str | None = Field(default=None, alias="completedAt")
    result: Any = None
    input: dict[str, Any] | None = None
    expired: bool = False

    @property
    def known_status(self) -> JobStatus | None:
        """The status as a :class:`JobStatus`, or ``None`` when this provider does not know it."""
        try:
            return JobStatus(self.status)
        except ValueError:
            return None


class JobList(_Response):
    """A page of ``GET /v2/jobs``."""

    jobs: list[Job]
    next_cursor: str | None = Field(default=None, alias="nextCursor")
    has_more: bool = Field(default=False, alias="hasMore")


class JobPage(_Response):
    """A page of ``GET /v2/jobs`` with its jobs left as read, for scanning many statuses cheaply."""

    jobs: list[dict[str, Any]]
    next_cursor: str | None = Field(default=None, alias="nextCursor")
    has_more: bool = Field(default=False, alias="hasMore")


class Team(_Response):
    """The caller's team and its credit balance."""

    id: str
    name: str
    credits: int
    plan: str | None = None


class User(_Response):
    """The caller."""

    id: str
    email: str
    role: str | None = None


class Upload(_Response):
    """``201`` answer to ``POST /v2/uploads``: a short-lived URL for an input file."""

    id: str
    url: str
    kind: str
    content_type: str = Field(alias="contentType")
    byte_size: int = Field(alias="byteSize")
    expires_at: str | None = Field(default=None, alias="expiresAt")


class Me(_Response):
    """``GET /v2/me``: who the key belongs to, and the team's credits."""

    user: User
    team: Team | None = None


# --- LoRAs (``/v2/loras``) ------------------------------------------------------------------------


class LoraStatus(str, enum.Enum):
    """A LoRA's life: ``PENDING -> UPLOADING -> TRAINING -> READY | FAILED``; ``ARCHIVED`` once deleted."""

    PENDING = "PENDING"
    UPLOADING = "UPLOADING"
    TRAINING = "TRAINING"
    READY = "READY"
    FAILED = "FAILED"
    ARCHIVED = "ARCHIVED"


#: A LoRA in one of these will not train any further.
LORA_TERMINAL = frozenset({LoraStatus.READY.value, LoraStatus.FAILED.value, LoraStatus.ARCHIVED.value})
#: A LoRA in one of these cannot be used: a retry trains a new one rather than re-attaching.
LORA_UNUSABLE = frozenset({LoraStatus.FAILED.value, LoraStatus.ARCHIVED.value})


class LoraCreated(_Response):
    """``202`` answer to ``POST /v2/loras``: training is queued."""

    id: str
    status: str
    image_count: int = Field(alias="imageCount")


class Lora(_Response):
    """A LoRA as ``GET /v2/loras/{id}`` returns it."""

    id: str
    name: str
    status: str
    user_id: str | None = Field(default=None, alias="userId")
    team_id: str | None = Field(default=None, alias="teamId")
    subject_kind: str | None = Field(default=None, alias="subjectKind")
    gender: str | None = None
    ethnicity: str | None = None
    age: str | None = None
    image_count: int | None = Field(default=None, alias="imageCount")
    steps: int | None = None
    lora_rank: int | None = Field(default=None, alias="loraRank")
    is_ready: bool = Field(default=False, alias="isReady")
    error: str | None = None
    created_at: str | None = Field(default=None, alias="createdAt")
    started_at: str | None = Field(default=None, alias="startedAt")
    completed_at: str | None = Field(default=None, alias="completedAt")
    has_weights: bool = Field(default=False, alias="hasWeights")
    trigger_word: str | None = Field(default=None, alias="triggerWord")

    @property
    def is_terminal(self) -> bool:
        """Whether training has ended (READY or FAILED) or the LoRA was archived."""
        return self.status in LORA_TERMINAL


class LoraList(_Response):
    """A page of ``GET /v2/loras``."""

    items: list[Lora]
    next_cursor: str | None = Field(default=None, alias="nextCursor")


class NoContent(_Response):
    """An empty ``204`` answer."""
