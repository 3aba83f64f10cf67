"""The async transport: one rate governor per connection, shared by every caller."""

from __future__ import annotations

import asyncio
import time

import httpx

from airflow_provider_apiframe.core import calls
from airflow_provider_apiframe.core.config import ClientConfig
from airflow_provider_apiframe.core.retry import RetryPolicy
from airflow_provider_apiframe.transports.asynchronous import AsyncTransport

JOB_ID = "0b9e4c38-6f2a-4a0e-9d7c-2f1d6f0e8a11"


async def test_a_429_pauses_every_caller_of_the_connection() -> None:
    served: list[tuple[float, int]] = []
    started = time.monotonic()

    def handler(request: httpx.Request) -> httpx.Response:
        if not served:
            served.append((time.monotonic() - started, 429))
            return httpx.Response(429, json={"error": "Slow down"}, headers={"Retry-After": "1"})
        served.append((time.monotonic() - started, 200))
        return httpx.Response(200, json={"id": JOB_ID, "status": "QUEUED", "model": "gpt-image-1.5"})

    config = ClientConfig(
        api_key="afk_x", base_url="https://api.example.test", retry=RetryPolicy(max_attempts=3)
    )
    client = httpx.AsyncClient(base_url=config.base_url, transport=httpx.MockTransport(handler))
    transport = AsyncTransport(config, client)
    first = asyncio.ensure_future(transport.send(calls.get_job(JOB_ID)))
    while not served:
        await asyncio.sleep(0.001)
    # Others of the connection call while the API has asked for a pause: they wait it out too.
    others = await asyncio.gather(*(transport.send(calls.get_job(JOB_ID)) for _ in range(10)))
    await first
    await transport.aclose()

    assert len(others) == 10
    (refused_at, _), *answered = served
    assert all(at - refused_at >= 0.95 for at, status in answered), served
    assert len(answered) == 11, "nobody else was refused: no thundering herd"
