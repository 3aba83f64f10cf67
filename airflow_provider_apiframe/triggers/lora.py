"""The trigger that waits in the triggerer for a LoRA to finish training, holding no worker slot."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Literal

from airflow.triggers.base import BaseTrigger, TriggerEvent
from pydantic import BaseModel, ConfigDict, ValidationError

from airflow_provider_apiframe.core.errors import ApiframeError, ApiframeJobTimeoutError
from airflow_provider_apiframe.core.loras import Lora, LoraStatus
from airflow_provider_apiframe.hooks.apiframe import ApiframeHook
from airflow_provider_apiframe.hooks.resources import LORA_POLL_INTERVAL


class LoraEvent(BaseModel):
    """
    The one event an :class:`ApiframeLoraTrigger` fires.

    - ``success``: the LoRA is READY; ``lora`` holds it.
    - ``failed``: training FAILED (or the LoRA was archived); ``lora`` holds it, with the API's ``error``.
    - ``timeout``: the deadline passed first; ``message`` says how to pick the LoRA up again.
    - ``error``: the API refused to answer (e.g. 401, 404); ``message`` is its error.

    ``deferred_on_try`` echoes the try that deferred (see :class:`~.job.JobEvent`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: Literal["success", "failed", "timeout", "error"]
    lora_id: str
    message: str
    lora: dict[str, Any] | None = None
    deferred_on_try: int | None = None

    @classmethod
    def parse(cls, event: Any) -> LoraEvent:
        """
        Read the event a deferred task resumes with; ``None`` or an unknown shape is an error.

        :param event: The payload ``execute_complete`` received.
        """
        try:
            parsed = cls.model_validate(event)
        except ValidationError:
            raise ApiframeError(f"The Apiframe LoRA trigger resumed the task with {event!r:.300}") from None
        if parsed.status in ("success", "failed") and parsed.lora is None:
            raise ApiframeError(f"The Apiframe LoRA trigger's {parsed.status} event carries no LoRA")
        return parsed

    @classmethod
    def for_lora(cls, lora: Lora, deferred_on_try: int | None = None) -> LoraEvent:
        """
        The event for a LoRA whose training has ended.

        :param lora: A LoRA in a terminal status.
        :param deferred_on_try: The try that deferred.
        """
        ready = lora.status == LoraStatus.READY
        return cls(
            status="success" if ready else "failed",
            lora_id=lora.id,
            message=f"Apiframe LoRA {lora.id} ended {lora.status}"
            + ("" if ready else f": {lora.error or 'the API gave no reason'}"),
            lora=lora.model_dump(mode="json", by_alias=True),
            deferred_on_try=deferred_on_try,
        )


class ApiframeLoraTrigger(BaseTrigger):
    """
    Poll a training LoRA until it is READY or FAILED, then fire exactly one :class:`LoraEvent`.

    Polls start every 2 s and slow down to ``poll_interval`` (30 s by default: training takes
    minutes), over the connection's pooled async transport; transient errors are ridden out until
    the deadline. Only ids, numbers and the connection id are serialized, never the API key.

    :param lora_id: The LoRA to wait for.
    :param deadline: Wall-clock time (``time.time()``) at which a ``timeout`` event fires.
    :param apiframe_conn_id: The Apiframe connection.
    :param poll_interval: Longest wait between polls, in seconds.
    :param deferred_on_try: The try that deferred; echoed in the event.
    """

    def __init__(
        self,
        lora_id: str,
        *,
        deadline: float,
        apiframe_conn_id: str = ApiframeHook.default_conn_name,
        poll_interval: float = LORA_POLL_INTERVAL,
        deferred_on_try: int | None = None,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.lora_id = lora_id
        self.deadline = deadline
        self.apiframe_conn_id = apiframe_conn_id
        self.poll_interval = poll_interval
        self.deferred_on_try = deferred_on_try

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Return the classpath and the (secret-free) arguments that rebuild this trigger."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "lora_id": self.lora_id,
                "deadline": self.deadline,
                "apiframe_conn_id": self.apiframe_conn_id,
                "poll_interval": self.poll_interval,
                "deferred_on_try": self.deferred_on_try,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Wait for training to end and yield its one event."""
        hook = ApiframeHook(apiframe_conn_id=self.apiframe_conn_id)
        try:
            lora = await hook.await_for_lora(
                self.lora_id, deadline=self.deadline, poll_interval=self.poll_interval
            )
            event = LoraEvent.for_lora(lora, self.deferred_on_try)
        except ApiframeJobTimeoutError as exc:
            event = self._event("timeout", str(exc))
        except ApiframeError as exc:
            event = self._event("error", str(exc))
        except Exception as exc:  # e.g. a missing connection: still end with one clear event
            event = self._event("error", f"{type(exc).__name__}: {exc}")
        finally:
            await hook.aclose()
        if event.status != "success":
            self.log.info("%s", event.message)
        yield TriggerEvent(event.model_dump(mode="json"))  # type: ignore[no-untyped-call]

    def _event(self, status: Literal["timeout", "error"], message: str) -> LoraEvent:
        return LoraEvent(
            status=status, lora_id=self.lora_id, message=message, deferred_on_try=self.deferred_on_try
        )
