"""
The hook's LoRA and asset methods (``/v2/loras``, ``/v2/assets``), and the one wait for a training LoRA.

:class:`ApiframeResourcesMixin` is a base of :class:`~airflow_provider_apiframe.hooks.apiframe.ApiframeHook`:
it sends the calls of :mod:`~airflow_provider_apiframe.core.loras` over the hook's transports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_apiframe.core import assets, clock, loras
from airflow_provider_apiframe.core.errors import ApiframeError, ApiframeJobTimeoutError
from airflow_provider_apiframe.core.waiting import FIRST_POLL_INTERVAL, POLL_GROWTH

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow_provider_apiframe.core.assets import AssetCreated
    from airflow_provider_apiframe.core.loras import Lora, LoraCreated, LoraList
    from airflow_provider_apiframe.core.retry import Logger
    from airflow_provider_apiframe.transports.asynchronous import AsyncTransport
    from airflow_provider_apiframe.transports.sync import SyncTransport

#: Longest wait between two polls of a training LoRA by default: training takes minutes.
LORA_POLL_INTERVAL = 30.0


class LoraPoller:
    """
    When to poll a training LoRA next, and when to give up; one schedule for workers and triggers.

    Waits start at 2 s and grow by half up to ``max_interval``; the last one is cut short so that
    one final poll happens at the deadline.

    :param lora_id: The LoRA.
    :param deadline: Wall-clock time (:func:`~airflow_provider_apiframe.core.clock.now`) to give up at.
    :param max_interval: Longest wait between two polls, in seconds.
    :param log: Where each new status is reported.
    """

    def __init__(self, lora_id: str, *, deadline: float, max_interval: float, log: Logger):
        self.lora_id, self.deadline, self.log = lora_id, deadline, log
        self.max_interval = max(max_interval, 0.01)
        self._interval = min(FIRST_POLL_INTERVAL, self.max_interval)
        self._seen: str | None = None

    def next_wait(self) -> float:
        """Seconds to wait before the next poll."""
        wait = max(min(self._interval, self.deadline - clock.now()), 0.0)
        self._interval = min(self._interval * POLL_GROWTH, self.max_interval)
        return wait

    def after(self, lora: Lora) -> float | None:
        """
        Take in a poll's answer: ``None`` once training has ended, else the seconds to wait.

        :param lora: The LoRA as just read.
        :raises ApiframeJobTimeoutError: The deadline passed while it trains.
        """
        if lora.status != self._seen:
            self._seen = lora.status
            self.log.info("Apiframe LoRA %s (%s) is %s", lora.id, lora.name, lora.status)
        if lora.is_terminal:
            return None
        if clock.now() >= self.deadline:
            raise self.timeout(lora.status)
        return self.next_wait()

    def failed(self, error: ApiframeError) -> ApiframeError:
        """
        The error a failed poll ends the wait with: a transient one means the deadline came.

        :param error: What the poll raised (transient errors are ridden out until the deadline).
        """
        return self.timeout(f"error: {error}") if error.transient else error

    def timeout(self, last_seen: str) -> ApiframeJobTimeoutError:
        """
        The timeout, saying how to pick the LoRA up again.

        :param last_seen: What was last known of it.
        """
        return ApiframeJobTimeoutError(
            f"Apiframe LoRA {self.lora_id} did not finish training before the deadline (last seen: "
            f"{last_seen}). It may still finish at Apiframe: clearing the task re-attaches to it "
            f"(no new charge), or read it with ApiframeHook().get_lora({self.lora_id!r}).",
            job_id=self.lora_id,
        )


class ApiframeResourcesMixin:
    """LoRA training and provider assets: a base of :class:`~.apiframe.ApiframeHook`."""

    if TYPE_CHECKING:  # what the hook provides

        @property
        def log(self) -> Any: ...

        def get_conn(self) -> SyncTransport: ...

        async def _aget_transport(self) -> AsyncTransport: ...

    def create_lora(
        self, images: Sequence[tuple[str, bytes]], *, deadline: float | None = None, **fields: Any
    ) -> LoraCreated:
        """
        Start training a LoRA (``POST /v2/loras``, 2 credits up-front, refunded if it fails).

        The route takes no ``Idempotency-Key``: only ``429`` is retried, never a lost answer (see
        :class:`~airflow_provider_apiframe.operators.lora.ApiframeLoraTrainOperator` for safe retries).

        :param images: ``(filename, bytes)`` per training image: 15 to 30 PNG, JPEG or WebP files.
        :param deadline: No retry starts after this wall-clock time.
        :param fields: ``name``, ``subject_kind``, ``gender``, ``ethnicity``, ``age``, ``steps``,
            ``lora_rank``, ``webhook_url``, ``webhook_events``.
        :raises ApiframeInvalidParamsError: Naming every problem; nothing is sent.
        """
        transport = self.get_conn()
        call = loras.create_lora(images=images, **fields)
        return transport.send(call, retry=transport.config.retry.capped_at(deadline))

    def get_lora(self, lora_id: str, *, deadline: float | None = None) -> Lora:
        """
        Read a LoRA.

        :param lora_id: The LoRA.
        :param deadline: No retry starts after this wall-clock time.
        """
        transport = self.get_conn()
        return transport.send(loras.get_lora(lora_id), retry=transport.config.retry.capped_at(deadline))

    def list_lora_page(
        self, *, cursor: str | None = None, limit: int = 24, include_archived: bool = False
    ) -> LoraList:
        """
        Read one page of the team's LoRAs.

        :param cursor: ``next_cursor`` of the previous page.
        :param limit: Page size, 1..100.
        :param include_archived: Show archived LoRAs too.
        """
        call = loras.list_loras(cursor=cursor, limit=limit, include_archived=include_archived)
        return self.get_conn().send(call)

    def list_loras(self, *, include_archived: bool = False) -> list[Lora]:
        """
        Read every LoRA of the team, page after page (see :meth:`list_lora_page` for one page).

        :param include_archived: Show archived LoRAs too.
        """
        found: list[Lora] = []
        cursor: str | None = None
        while True:
            page = self.list_lora_page(cursor=cursor, limit=100, include_archived=include_archived)
            found += page.items
            if not page.next_cursor or not page.items:
                return found
            cursor = page.next_cursor

    def find_loras(self, name: str, *, include_archived: bool = False) -> list[Lora]:
        """
        The team's LoRAs named exactly ``name``, newest first.

        :param name: The name, as created (with its retry marker, if any).
        :param include_archived: Include archived LoRAs.
        """
        same = [lora for lora in self.list_loras(include_archived=include_archived) if lora.name == name]
        return sorted(same, key=lambda lora: lora.created_at or "", reverse=True)

    def archive_lora(self, lora_id: str) -> None:
        """
        Archive a LoRA (``DELETE /v2/loras/{id}``); archiving it again is harmless.

        :param lora_id: The LoRA.
        """
        self.get_conn().send(loras.archive_lora(lora_id))

    def wait_for_lora(
        self, lora_id: str, *, timeout: float, poll_interval: float = LORA_POLL_INTERVAL
    ) -> Lora:
        """
        Poll a LoRA until training ends (READY or FAILED), in this process; for ``deferrable=False``.

        The first poll waits (the LoRA was just created or read). Transient errors are ridden out
        until the deadline; permanent ones raise at once.

        :param lora_id: The LoRA.
        :param timeout: Seconds before raising :class:`ApiframeJobTimeoutError`.
        :param poll_interval: Longest wait between polls, in seconds.
        """
        transport = self.get_conn()
        poller = LoraPoller(lora_id, deadline=clock.now() + timeout, max_interval=poll_interval, log=self.log)
        wait: float | None = poller.next_wait()
        while wait is not None:
            clock.current().sleep(wait)
            try:
                lora = transport.send(
                    loras.get_lora(lora_id), retry=transport.config.retry.until(poller.deadline)
                )
            except ApiframeError as exc:
                raise poller.failed(exc) from None
            wait = poller.after(lora)
        return lora

    def create_asset(self, url: str, type: str) -> AssetCreated:
        """
        Register a media URL with the upstream provider (``POST /v2/assets/create``).

        :param url: An absolute URL of the media.
        :param type: ``image``, ``video`` or ``audio``.
        """
        return self.get_conn().send(assets.create_asset(url, type))

    def get_asset(self, asset_id: str) -> dict[str, Any]:
        """
        Read a registered asset: the provider's own object, as it is.

        :param asset_id: The id :meth:`create_asset` returned.
        """
        asset = self.get_conn().send(assets.get_asset(asset_id))
        return dict(asset.model_extra or {})

    async def aget_lora(self, lora_id: str, *, deadline: float | None = None) -> Lora:
        """
        Read a LoRA without blocking the event loop, over the connection's shared transport.

        :param lora_id: The LoRA.
        :param deadline: Transient errors are ridden out until this wall-clock time.
        """
        transport = await self._aget_transport()
        return await transport.send(
            loras.get_lora(lora_id), retry=transport.config.retry.until(deadline), log=self.log
        )

    async def await_for_lora(
        self, lora_id: str, *, deadline: float, poll_interval: float = LORA_POLL_INTERVAL
    ) -> Lora:
        """
        :meth:`wait_for_lora` without blocking the event loop; for triggers.

        :param lora_id: The LoRA.
        :param deadline: Wall-clock time at which to raise :class:`ApiframeJobTimeoutError`.
        :param poll_interval: Longest wait between polls, in seconds.
        """
        poller = LoraPoller(lora_id, deadline=deadline, max_interval=poll_interval, log=self.log)
        wait: float | None = poller.next_wait()
        while wait is not None:
            await clock.current().asleep(wait)
            try:
                lora = await self.aget_lora(lora_id, deadline=poller.deadline)
            except ApiframeError as exc:
                raise poller.failed(exc) from None
            wait = poller.after(lora)
        return lora
