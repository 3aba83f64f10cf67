"""What the triggers share: one event of one shape, and the wait that always ends with exactly one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, TypedDict

from airflow.triggers.base import BaseTrigger, TriggerEvent
from pydantic import BaseModel, ConfigDict, ValidationError

from airflow_provider_apiframe.core.errors import ApiframeError, ApiframeJobTimeoutError
from airflow_provider_apiframe.core.outcomes import killed_message
from airflow_provider_apiframe.hooks.apiframe import ApiframeHook

if TYPE_CHECKING:
    from typing_extensions import NotRequired, Self


class Ended(Protocol):
    """What a wait ends with (a job, a LoRA): its id, its status and the API's reason."""

    @property
    def id(self) -> str: ...

    @property
    def status(self) -> str: ...

    @property
    def error(self) -> str | None: ...

    def model_dump(self, *, mode: str, by_alias: bool) -> dict[str, Any]: ...


class WaitEvent(BaseModel):
    """
    The one event a :class:`WaitTrigger` fires; a subclass adds ``<noun>_id`` and ``<noun>``.

    - ``success``: the subject ended well; ``<noun>`` holds it.
    - ``failed``: it ended badly; ``<noun>`` holds it, with the API's ``error``.
    - ``timeout``: the deadline passed first; ``message`` says how to pick the subject up again.
    - ``error``: the API refused to answer (e.g. 401, 404); ``message`` is its error.

    ``deferred_on_try`` echoes the try that deferred, so that a task can tell an event meant for an
    earlier try (Airflow 3.1.0 hands a retry the previous try's event, apache/airflow#56704).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: What ends, as the messages name it (``job``, ``LoRA``); lower-cased, the subject's field.
    noun: ClassVar[str]
    #: The trigger, as the messages name it (``trigger``, ``LoRA trigger``).
    source: ClassVar[str]

    status: Literal["success", "failed", "timeout", "error"]
    message: str
    deferred_on_try: int | None = None

    @classmethod
    def parse(cls, event: Any) -> Self:
        """
        Read the event a deferred task resumes with; ``None`` or an unknown shape is an error.

        :param event: The payload ``execute_complete`` received.
        """
        if event is None:
            raise ApiframeError(f"The Apiframe {cls.source} resumed the task without an event.")
        try:
            parsed = cls.model_validate(event)
        except ValidationError:
            raise ApiframeError(
                f"The Apiframe {cls.source} resumed the task with an unknown event: {event!r:.300}"
            ) from None
        if parsed.status in ("success", "failed") and getattr(parsed, cls.noun.lower()) is None:
            raise ApiframeError(
                f"The Apiframe {cls.source}'s {parsed.status} event carries no {cls.noun}: {event!r:.300}"
            )
        return parsed

    @classmethod
    def id_field(cls) -> str:
        """The field of the subject's id (``job_id``, ``lora_id``), also the trigger's argument."""
        return f"{cls.noun.lower()}_id"

    @classmethod
    def ended(cls, subject: Ended, succeeded: bool, deferred_on_try: int | None) -> Self:
        """
        The event for a subject whose wait has ended.

        :param subject: The job or LoRA, in a terminal status.
        :param succeeded: Whether it ended well (``success``), else ``failed`` with its reason.
        :param deferred_on_try: The try that deferred.
        """
        reason = "" if succeeded else f": {subject.error or 'the API gave no reason'}"
        return cls.model_validate(
            {
                "status": "success" if succeeded else "failed",
                cls.id_field(): subject.id,
                "message": f"Apiframe {cls.noun} {subject.id} ended {subject.status}{reason}",
                cls.noun.lower(): subject.model_dump(mode="json", by_alias=True),
                "deferred_on_try": deferred_on_try,
            }
        )


class Waiting(TypedDict):
    """The arguments every :class:`WaitTrigger` takes after the id (see its parameters)."""

    deadline: float
    apiframe_conn_id: NotRequired[str]
    poll_interval: NotRequired[float]
    deferred_on_try: NotRequired[int | None]


class WaitTrigger(BaseTrigger):
    """
    Wait in the triggerer for one thing to end, then fire exactly one :class:`WaitEvent`.

    A subclass names its event type (whose ``id_field`` is also its serialized argument and its
    attribute) and provides :meth:`wait`. Only the id, connection id, poll interval, deadline and
    try number are serialized: the API key never leaves the connection.

    :param subject_id: The id of what to wait for.
    :param deadline: Wall-clock time (``time.time()``) at which a ``timeout`` event fires. Wall
        clock, not monotonic, because the trigger may resume in another triggerer process.
    :param apiframe_conn_id: The Apiframe connection.
    :param poll_interval: Longest wait between polls, in seconds (default: the subclass's).
    :param deferred_on_try: The try that deferred; echoed in the event.
    """

    event_type: ClassVar[type[WaitEvent]]
    default_poll_interval: ClassVar[float]
    #: What the subject is, in words.
    noun: ClassVar[str] = "job"

    def __init__(
        self,
        subject_id: str,
        *,
        deadline: float,
        apiframe_conn_id: str = ApiframeHook.default_conn_name,
        poll_interval: float | None = None,
        deferred_on_try: int | None = None,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        setattr(self, self.event_type.id_field(), subject_id)
        self.subject_id = subject_id
        self.deadline = deadline
        self.apiframe_conn_id = apiframe_conn_id
        self.poll_interval = self.default_poll_interval if poll_interval is None else poll_interval
        self.deferred_on_try = deferred_on_try

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Return the classpath and the (secret-free) arguments that rebuild this trigger."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                self.event_type.id_field(): self.subject_id,
                "deadline": self.deadline,
                "apiframe_conn_id": self.apiframe_conn_id,
                "poll_interval": self.poll_interval,
                "deferred_on_try": self.deferred_on_try,
            },
        )

    async def wait(self, hook: ApiframeHook) -> WaitEvent:
        """
        Wait until the subject ends, and return its event (``success`` or ``failed``).

        :param hook: The hook to poll with (closed by :meth:`run`).
        """
        raise NotImplementedError

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Wait and yield the one event: ended, ``timeout``, or ``error``."""
        hook = ApiframeHook(apiframe_conn_id=self.apiframe_conn_id)
        try:
            event = await self.wait(hook)
        except ApiframeJobTimeoutError as exc:
            event = self._event("timeout", str(exc))
        except ApiframeError as exc:
            event = self._event("error", str(exc))
        except Exception as exc:  # e.g. a missing connection: still end with one clear event
            event = self._event("error", f"{type(exc).__name__}: {exc}")
        finally:
            await hook.aclose()
        if event.status != "success":  # a success's last status line said it all
            self.log.info("%s", event.message)
        yield TriggerEvent(event.model_dump(mode="json"))  # type: ignore[no-untyped-call]

    async def on_kill(self) -> None:
        """Airflow 3.3+, when a user marks the deferred task failed or clears it: say the work goes on."""
        self.log.warning("%s", killed_message([self.subject_id], self.noun))

    def _event(self, status: Literal["timeout", "error"], message: str) -> WaitEvent:
        return self.event_type.model_validate(
            {
                "status": status,
                self.event_type.id_field(): self.subject_id,
                "message": message,
                "deferred_on_try": self.deferred_on_try,
            }
        )
