"""The trigger that waits in the triggerer for a LoRA to finish training, holding no worker slot."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_apiframe.core.loras import Lora, LoraStatus
from airflow_provider_apiframe.hooks.apiframe import ApiframeHook
from airflow_provider_apiframe.hooks.resources import LORA_POLL_INTERVAL
from airflow_provider_apiframe.triggers.base import WaitEvent, WaitTrigger

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from airflow_provider_apiframe.triggers.base import Waiting


class LoraEvent(WaitEvent):
    """
    The one event an :class:`ApiframeLoraTrigger` fires (see :class:`~.base.WaitEvent`).

    ``success``: the LoRA is READY; ``failed``: training FAILED (or the LoRA was archived); ``lora``
    holds it.
    """

    noun = "LoRA"
    source = "LoRA trigger"

    lora_id: str
    lora: dict[str, Any] | None = None

    @classmethod
    def for_lora(cls, lora: Lora, deferred_on_try: int | None = None) -> LoraEvent:
        """
        The event for a LoRA whose training has ended.

        :param lora: A LoRA in a terminal status.
        :param deferred_on_try: The try that deferred.
        """
        return cls.ended(lora, lora.status == LoraStatus.READY, deferred_on_try)


class ApiframeLoraTrigger(WaitTrigger):
    """
    Poll a training LoRA until it is READY or FAILED, then fire exactly one :class:`LoraEvent`.

    Polls start every 2 s and slow down to ``poll_interval`` (30 s by default: training takes
    minutes), over the connection's pooled async transport; transient errors are ridden out until
    the deadline.

    :param lora_id: The LoRA to wait for.
    :param kwargs: ``deadline``, ``apiframe_conn_id``, ``poll_interval``, ``deferred_on_try``
        (see :class:`~.base.WaitTrigger`).
    """

    event_type = LoraEvent
    default_poll_interval = LORA_POLL_INTERVAL
    noun = "LoRA training"
    lora_id: str

    def __init__(self, lora_id: str, **kwargs: Unpack[Waiting]) -> None:
        super().__init__(lora_id, **kwargs)

    async def wait(self, hook: ApiframeHook) -> LoraEvent:
        """
        Wait for training to end.

        :param hook: The hook to poll with.
        """
        lora = await hook.await_for_lora(
            self.lora_id, deadline=self.deadline, poll_interval=self.poll_interval
        )
        return LoraEvent.for_lora(lora, self.deferred_on_try)
