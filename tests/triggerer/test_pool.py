"""One pooled client per connection and event loop, shared by the triggers of a triggerer."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from airflow_provider_apiframe.core.config import ClientConfig
from airflow_provider_apiframe.hooks.apiframe import ApiframeHook
from airflow_provider_apiframe.transports.asynchronous import AsyncTransport
from airflow_provider_apiframe.triggerer import pool


async def test_hooks_of_one_connection_share_one_client_closed_by_the_last(api: Any) -> None:
    hooks = [ApiframeHook() for _ in range(5)]
    transports = {id(await hook._aget_transport()) for hook in hooks}
    assert len(transports) == 1, "one client for the connection in this event loop"
    transport = await hooks[0]._aget_transport()

    for hook in hooks[:-1]:
        await hook.aclose()
    assert not transport._client.is_closed, "still in use by the last hook"
    await hooks[-1].aclose()
    assert transport._client.is_closed, "closed when the last one left"

    fresh = ApiframeHook()
    assert await fresh._aget_transport() is not transport, "a later user opens a new one"
    await fresh.aclose()


async def test_each_connection_has_its_own_client(api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_APIFRAME_OTHER",
        f'{{"conn_type": "apiframe", "password": "afk_o", "host": "{api.url}"}}',
    )
    default, other = ApiframeHook(), ApiframeHook("apiframe_other")
    try:
        assert await default._aget_transport() is not await other._aget_transport()
    finally:
        await default.aclose()
        await other.aclose()


async def test_concurrent_first_users_read_the_connection_once(
    api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []
    real_open = AsyncTransport.open

    async def counting_open(config: ClientConfig, **kwargs: Any) -> AsyncTransport:
        opened.append(config.base_url)
        await asyncio.sleep(0.01)  # while this one opens, the others arrive
        return await real_open(config, **kwargs)

    monkeypatch.setattr(AsyncTransport, "open", counting_open)
    hooks = [ApiframeHook() for _ in range(20)]
    transports = await asyncio.gather(*(hook._aget_transport() for hook in hooks))
    assert len(opened) == 1
    assert len({id(t) for t in transports}) == 1
    for hook in hooks:
        await hook.aclose()


async def test_a_failed_open_is_not_kept(api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_APIFRAME_DEFAULT", '{"conn_type": "apiframe", "host": "http://127.0.0.1:1"}'
    )
    with pytest.raises(Exception, match="no API key"):
        await ApiframeHook()._aget_transport()
    assert not pool._SHARED.get(asyncio.get_running_loop()), "nothing half-open is left"
