"""
What the provider checks before any HTTP call, and how it words what it refuses.

Every check reports ``(field, why)`` problems, the field named as the DAG author wrote it and
``why`` saying what was got and what is allowed; :class:`ApiframeInvalidParamsError` carries them all.
The value types the request models are built from live here too, with the rules they enforce.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Annotated, Any, TypeVar
from urllib.parse import SplitResult, urlsplit

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, ValidationError, WithJsonSchema
from pydantic_core import PydanticCustomError
from rfc3986_validator import validate_rfc3986

from airflow_provider_apiframe.core.errors import ApiframeConfigError, ApiframeInvalidParamsError

PROMPT_MAX_LENGTH = 2000

ModelT = TypeVar("ModelT", bound=BaseModel)


class Problems:
    """The ``(field, why)`` problems of several checks, raised together so that one run names them all."""

    def __init__(self) -> None:
        self.found: list[tuple[str, str]] = []

    def add(self, field: str, why: str) -> None:
        """
        Record one problem.

        :param field: The field, named as the DAG author wrote it.
        :param why: What was got, and what is allowed.
        """
        self.found.append((field, why))

    @contextmanager
    def collect(self, prefix: str = "") -> Iterator[None]:
        """
        Record the problems of the checks run inside, rather than raising them at once.

        :param prefix: Put before each field's name (``model_params.``).
        """
        try:
            yield
        except ApiframeInvalidParamsError as exc:
            self.found += [(f"{prefix}{field}", why) for field, why in exc.problems]

    def __bool__(self) -> bool:
        return bool(self.found)

    def raise_if_any(self) -> None:
        """Raise one :class:`ApiframeInvalidParamsError` listing every problem recorded, if any."""
        if self.found:
            raise ApiframeInvalidParamsError(self.found)


# --- value types of the request models ------------------------------------------------------------


def _uri(value: str) -> str:
    # The contract's "format: uri", checked by the same RFC 3986 validator its schema checkers use.
    if not validate_rfc3986(value, rule="URI"):
        raise ValueError("must be an absolute URI such as https://example.com/image.png")
    return value


def one_or_many(value: Any) -> Any:
    """Accept a single string where the API wants a list of them."""
    return [value] if isinstance(value, str) else value


def _no_bool(value: Any) -> Any:
    if isinstance(value, bool):  # pydantic's lax mode would take True for 1
        raise PydanticCustomError("int_type", "Input should be a valid integer, not a boolean")
    return value


def _header_safe(value: str) -> str:
    if not value.isascii() or not value.isprintable() or value != value.strip():
        raise ValueError("must be printable ASCII without leading or trailing spaces")
    return value


Prompt = Annotated[str, Field(min_length=1, max_length=PROMPT_MAX_LENGTH)]
Uri = Annotated[str, AfterValidator(_uri), WithJsonSchema({"type": "string", "format": "uri"})]
IdempotencyKey = Annotated[str, Field(min_length=1, max_length=255), AfterValidator(_header_safe)]
#: How many images one job makes.
ImageCount = Annotated[int, Field(ge=1, le=10), BeforeValidator(_no_bool)]
#: Input images: URIs, a single one accepted.
ImageUris = Annotated[list[Uri], BeforeValidator(one_or_many)]


# --- checks ---------------------------------------------------------------------------------------


def validate_request(model: type[ModelT], values: dict[str, Any]) -> ModelT:
    """
    Validate ``values`` against a request model, or raise one error listing every bad field.

    Each problem names the field, says what is wrong, and what is allowed (read from the model's
    own schema, so the rule and its description cannot drift apart).

    :param model: The request model.
    :param values: Field values; ``None`` means "not set".
    """
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
    schema = model.model_json_schema()
    problems = Problems()
    for err in errors:
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
        problems.add(field, why)
    raise ApiframeInvalidParamsError(problems.found)


def check_job_id(job_id: Any) -> str:
    """
    Check that ``job_id`` is a job id (a UUID) before asking the API about it.

    :param job_id: The value given, e.g. a rendered template.
    """
    try:
        return str(uuid.UUID(job_id)) if isinstance(job_id, str) and len(job_id) == 36 else _bad_id(job_id)
    except ValueError:
        return _bad_id(job_id)


def check_duration(name: str, value: float | timedelta) -> float:
    """
    Return a duration argument in seconds, or raise ``ValueError`` if it is not positive and finite.

    :param name: The argument, e.g. ``timeout``.
    :param value: Seconds, or a ``timedelta``.
    """
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds < math.inf:
        raise ValueError(
            f"{name} must be a positive, finite number of seconds or a timedelta (got {value!r})"
        )
    return float(seconds)


def check_api_key(api_key: str | None) -> str:
    """Check that the connection has an API key (its password)."""
    if not api_key:
        raise ApiframeConfigError(
            "The Apiframe connection has no API key: put your afk_... key in its password field."
        )
    return api_key


def check_extras(model: type[ModelT], values: dict[str, Any]) -> ModelT:
    """
    Validate the connection's extra fields, or raise one error naming each bad one.

    :param model: The model of the extras.
    :param values: The extras given.
    """
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ApiframeConfigError(f"Invalid extra field in the Apiframe connection: {problems}") from None


def check_base_url(host: str, port: int | None = None) -> SplitResult:
    """
    Check the connection's (non-empty) host field and return it split, as a base URL.

    :param host: A full URL (``http://127.0.0.1:8080``) or a bare host name (HTTPS is assumed).
    :param port: Port for a bare host name.
    """
    try:
        parts = urlsplit(host if "://" in host else f"https://{host}")
        if port and "://" not in host and parts.port is None:
            parts = parts._replace(netloc=f"{parts.netloc}:{port}")
        valid = (
            parts.scheme in ("http", "https")
            and bool(parts.hostname)
            and parts.port != 0
            and "@" not in parts.netloc  # credentials in a URL end up in logs; the key goes in the password
            and not parts.query
            and not parts.fragment
            and not any(c.isspace() for c in host)
        )
    except ValueError:
        valid = False
    if not valid:
        shown = "<a URL with credentials>" if "@" in host else repr(host)
        raise ApiframeConfigError(
            f"The Apiframe connection's host {shown} is not a base URL: use e.g. https://api.apiframe.ai "
            "or http://127.0.0.1:8080 (no credentials, query or spaces), or leave it empty for the "
            "public API."
        )
    return parts


def _bad_id(job_id: Any) -> str:
    raise ApiframeInvalidParamsError([("job_id", f"got {job_id!r}; allowed: a job id (a UUID)")])


def _schema_at(schema: dict[str, Any], loc: tuple[int | str, ...]) -> dict[str, Any]:
    """The JSON schema of the value at ``loc`` (a field, or an item of a list field)."""
    for part in loc:
        options = [s for s in schema.get("anyOf", [schema]) if s.get("type") != "null"]
        schema = options[0] if len(options) == 1 else {}
        schema = (
            schema.get("items", {}) if isinstance(part, int) else schema.get("properties", {}).get(part, {})
        )
    return schema


def _allowed(schema: dict[str, Any], *, one_item: bool = True) -> str:
    """
    Describe in words what a JSON schema (of one field) accepts: a request model's or the contract's.

    :param schema: The field's schema.
    :param one_item: Whether a single item stands for a list of one (the request models' convenience).
    """
    options = [s for s in schema.get("anyOf", schema.get("oneOf", [schema])) if _types(s) != ["null"]]
    if len(options) > 1 and all("enum" in option for option in options):
        return "one of " + ", ".join(repr(v) for option in options for v in option["enum"])
    if len(options) != 1:
        return ""
    option = options[0]
    kind = next((t for t in _types(option) if t != "null"), "")
    if kind == "array":
        inner = _allowed(option.get("items", {}), one_item=one_item) or "values"
        size = "a non-empty list" if option.get("minItems") == 1 else "a list"
        most = f" at most {option['maxItems']}" if "maxItems" in option else ""
        single = " (a single item is accepted too)" if one_item else ""
        return f"{size} of{most} items, each {inner}{single}"
    if "enum" in option:
        return "one of " + ", ".join(repr(v) for v in option["enum"])
    number = "a number" if kind == "number" else "an integer"
    if "minimum" in option or "maximum" in option:
        return f"{number} from {option.get('minimum', '-inf')} to {option.get('maximum', 'inf')}"
    if "exclusiveMinimum" in option:
        return f"{number} above {option['exclusiveMinimum']}"
    if option.get("format") == "uri":
        return "an absolute URI (https://...)"
    if option.get("format") == "uuid":
        return "a UUID"
    if "maxLength" in option:
        return f"a string of {option.get('minLength', 0)} to {option['maxLength']} characters"
    if "pattern" in option:
        return f"a string matching {option['pattern']}"
    kinds = {"string": "a string", "integer": "an integer", "number": "a number", "boolean": "true or false"}
    return kinds.get(kind, "a mapping" if kind == "object" else "")


def _types(schema: dict[str, Any]) -> list[str]:
    kind = schema.get("type", [])
    return [kind] if isinstance(kind, str) else list(kind)


def _shown(value: Any) -> str:
    text = repr(value)
    if len(text) <= 60:
        return text
    if isinstance(value, (str, bytes, list, tuple, dict)):
        return f"{type(value).__name__} of length {len(value)}"
    return text[:57] + "..."
