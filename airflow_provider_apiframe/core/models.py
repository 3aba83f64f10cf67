"""
Pydantic models of the Apiframe v2 wire contract that this provider sends and reads.

Request models validate *before* anything is sent (``extra="forbid"`` mirrors the contract's
``additionalProperties: false``); response models are lenient about fields the contract may add.
Field names are the API's ``snake_case`` parameter names, which are also the operators' argument
names, so a validation error names the argument the DAG author wrote.
"""

from __future__ import annotations

import enum
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema
from pydantic_core import PydanticCustomError
from rfc3986_validator import validate_rfc3986

from airflow_provider_apiframe.core.errors import ApiframeInvalidParamsError

GPT_IMAGE_MODEL = "gpt-image-1.5"
GPT_IMAGE_2_MODEL = "gpt-image-2"

PROMPT_MAX_LENGTH = 2000


def _uri(value: str) -> str:
    # The contract's "format: uri", checked by the same RFC 3986 validator its schema checkers use.
    if not validate_rfc3986(value, rule="URI"):
        raise ValueError("must be an absolute URI such as https://example.com/image.png")
    return value


def _one_or_many(value: Any) -> Any:
    """Accept a single string where the API wants a list of them."""
    return [value] if isinstance(value, str) else value


def _no_bool(value: Any) -> Any:
    if isinstance(value, bool):  # pydantic's lax mode would take True for 1
        raise PydanticCustomError("int_type", "Input should be a valid integer, not a boolean")
    return value


Prompt = Annotated[str, Field(min_length=1, max_length=PROMPT_MAX_LENGTH)]
Uri = Annotated[str, AfterValidator(_uri), WithJsonSchema({"type": "string", "format": "uri"})]
WebhookEvent = Literal["progress", "completed", "failed"]


def _header_safe(value: str) -> str:
    if not value.isascii() or not value.isprintable() or value != value.strip():
        raise ValueError("must be printable ASCII without leading or trailing spaces")
    return value


IdempotencyKey = Annotated[str, Field(min_length=1, max_length=255), AfterValidator(_header_safe)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GptImageParams(_Request):
    """The ``gptImageParams`` block of a ``gpt-image-1.5`` generation request."""

    #: The only field the contract lets be ``null`` (the others are simply left out when unset).
    contract_nullable: ClassVar[frozenset[str]] = frozenset({"input_images"})

    aspect_ratio: Literal["1:1", "3:2", "2:3"] | None = None
    quality: Literal["low", "medium", "high", "auto"] | None = None
    background: Literal["auto", "transparent", "opaque"] | None = None
    number_of_images: Annotated[int, Field(ge=1, le=10), BeforeValidator(_no_bool)] | None = None
    output_format: Literal["png", "jpeg", "webp"] | None = None
    input_fidelity: Literal["low", "high"] | None = None
    input_images: Annotated[list[Uri], BeforeValidator(_one_or_many)] | None = None


class GptImage2Params(_Request):
    """The ``gptImage2Params`` block of a ``gpt-image-2`` generation request."""

    contract_nullable: ClassVar[frozenset[str]] = frozenset({"input_images"})

    aspect_ratio: Literal["1:1", "3:2", "2:3"] | None = None
    quality: Literal["low", "medium", "high", "auto"] | None = None
    background: Literal["auto", "opaque"] | None = None
    moderation: Literal["auto", "low"] | None = None
    number_of_images: Annotated[int, Field(ge=1, le=10), BeforeValidator(_no_bool)] | None = None
    output_format: Literal["png", "jpeg", "webp"] | None = None
    input_images: Annotated[list[Uri], BeforeValidator(_one_or_many)] | None = None


class JobOptions(_Request):
    """What every job-creating request carries besides its model's parameters."""

    webhook_url: Uri | None = None
    webhook_events: (
        Annotated[list[WebhookEvent], BeforeValidator(_one_or_many), Field(min_length=1)] | None
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


#: Parameter blocks this provider validates field by field (others are checked by the API).
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


# --- validation errors, worded for DAG authors ----------------------------------------------------


RequestT = TypeVar("RequestT", bound=_Request)


def validate_request(model: type[RequestT], values: dict[str, Any]) -> RequestT:
    """
    Validate ``values`` against a request model, or raise one error listing every bad field.

    Each problem names the field, says what is wrong, and what is allowed (read from the model's
    own schema, so the rule and its description cannot drift apart).

    :param model: The request model.
    :param values: Field values; ``None`` means "not set".
    """
    from pydantic import ValidationError

    try:
        return model.model_validate(values)
    except ValidationError as exc:
        schema = model.model_json_schema()
        problems = []
        for err in exc.errors(include_url=False):
            field = ".".join(str(part) for part in err["loc"]) or model.__name__
            got = "missing" if err["type"] == "missing" else f"got {_shown(err['input'])}"
            if err["type"] == "extra_forbidden":
                why = f"unknown parameter; allowed: {', '.join(sorted(schema['properties']))}"
            elif err["type"] == "value_error":  # our own validators say precisely what is wrong
                why = f"{err['msg'].removeprefix('Value error, ')} ({got})"
            elif allowed := _allowed(_schema_at(schema, err["loc"])):
                why = f"{got}; allowed: {allowed}"
            else:
                why = f"{err['msg']} ({got})"
            problems.append((field, why))
        raise ApiframeInvalidParamsError(problems) from None


def _schema_at(schema: dict[str, Any], loc: tuple[int | str, ...]) -> dict[str, Any]:
    """The JSON schema of the value at ``loc`` (a field, or an item of a list field)."""
    for part in loc:
        options = [s for s in schema.get("anyOf", [schema]) if s.get("type") != "null"]
        schema = options[0] if len(options) == 1 else {}
        schema = (
            schema.get("items", {}) if isinstance(part, int) else schema.get("properties", {}).get(part, {})
        )
    return schema


def _allowed(schema: dict[str, Any]) -> str:
    """Describe in words what a JSON schema (of one field) accepts."""
    options = [s for s in schema.get("anyOf", [schema]) if s.get("type") != "null"]
    if len(options) != 1:
        return ""
    option = options[0]
    if option.get("type") == "array":
        inner = _allowed(option.get("items", {})) or "values"
        size = "a non-empty list" if option.get("minItems") == 1 else "a list"
        return f"{size} of items, each {inner} (a single item is accepted too)"
    if "enum" in option:
        return "one of " + ", ".join(repr(v) for v in option["enum"])
    if "minimum" in option or "maximum" in option:
        return f"an integer from {option.get('minimum', '-inf')} to {option.get('maximum', 'inf')}"
    if option.get("format") == "uri":
        return "an absolute URI (https://...)"
    if "maxLength" in option:
        return f"a string of {option.get('minLength', 0)} to {option['maxLength']} characters"
    return ""


def _shown(value: Any) -> str:
    text = repr(value)
    if len(text) <= 60:
        return text
    if isinstance(value, (str, bytes, list, tuple, dict)):
        return f"{type(value).__name__} of length {len(value)}"
    return text[:57] + "..."
