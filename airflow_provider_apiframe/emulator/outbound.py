"""What the emulator sends out: input media downloads and webhook deliveries, over one pooled client."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from airflow_provider_apiframe.core.media import MAX_UPLOAD_BYTES
from airflow_provider_apiframe.core.webhooks import EVENT_HEADER, SIGNATURE_HEADER, sign_webhook_body
from airflow_provider_apiframe.emulator.state import EmulatorState, JobRecord, webhook_events


class LazyClient:
    """One pooled httpx client for input downloads and webhooks, made on first use."""

    def __init__(self) -> None:
        self._client: httpx.AsyncClient | None = None

    def _get(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=10.0, follow_redirects=True)
        return self._client

    async def get(self, url: str, limit: int = MAX_UPLOAD_BYTES["image"]) -> bytes:
        """
        Download an input file (at most ``limit`` bytes: 25 MB for images and audio, 50 MB for video).

        :param url: Its URL.
        :param limit: The most bytes it may have.
        """
        async with self._get().stream("GET", url) as response:
            response.raise_for_status()
            data = bytearray()
            async for chunk in response.aiter_bytes():
                data += chunk
                if len(data) > limit:
                    raise ValueError(f"larger than {limit // (1024 * 1024)} MB")
            return bytes(data)

    async def post(self, url: str, **kwargs: Any) -> httpx.Response:
        """
        POST to ``url``.

        :param url: Where.
        :param kwargs: As for :meth:`httpx.AsyncClient.post`.
        """
        return await self._get().post(url, **kwargs)

    async def aclose(self) -> None:
        """Close the client, if one was made."""
        if self._client is not None:
            await self._client.aclose()


def webhook_payload(state: EmulatorState, job: JobRecord, event: str, links: str) -> dict[str, Any]:
    """
    The body of a job's webhook for ``event`` (``progress``, ``completed`` or ``failed``).

    :param state: The emulator's state.
    :param job: The job.
    :param event: The event.
    :param links: The base URL its result links use.
    """
    snapshot = state.to_json(job, links)
    payload: dict[str, Any] = {
        "event": event,
        "jobId": job.id,
        "status": snapshot["status"],
        "model": job.model,
    }
    if event == "completed":
        payload |= {k: snapshot[k] for k in ("progress", "result", "creditCost", "completedAt")}
    elif event == "failed":
        payload["error"] = snapshot["error"]
    else:
        payload["progress"] = snapshot["progress"]
    return payload


async def deliver(state: EmulatorState, http: LazyClient, job: JobRecord, event: str, links: str) -> None:
    """
    Send a job's webhook for ``event``, signed with its key, if it subscribes to it: 3 attempts.

    Each delivery is logged in ``state.webhooks``; a terminal one sets the job's ``webhookStatus``.

    :param state: The emulator's state.
    :param http: The client to send with.
    :param job: The job.
    :param event: The event.
    :param links: The base URL its result links use.
    """
    if event not in webhook_events(job.body):
        return
    body = json.dumps(webhook_payload(state, job, event, links)).encode()
    headers = {
        "Content-Type": "application/json",
        EVENT_HEADER: event,
        SIGNATURE_HEADER: sign_webhook_body(job.api_key, body),
    }
    delivered, attempts = False, 0
    for attempts in range(1, 4):
        try:
            response = await http.post(str(job.body["webhookUrl"]), content=body, headers=headers)
            delivered = response.is_success
        except httpx.HTTPError:
            delivered = False
        if delivered:
            break
        if attempts < 3:
            await asyncio.sleep(0.5 * 2**attempts)
    state.webhooks.append({"jobId": job.id, "event": event, "delivered": delivered, "attempts": attempts})
    if event != "progress":
        job.webhook_status = "delivered" if delivered else "failed"
