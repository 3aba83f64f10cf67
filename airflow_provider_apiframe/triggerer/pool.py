"""
One pooled async transport per connection and event loop, shared by the triggers of a triggerer.

The first trigger of a connection opens it (the connection is read once) and the last one to leave
closes it; with it go the connection's rate governor (a ``429`` slows every trigger of the
connection) and its :class:`~airflow_provider_apiframe.triggerer.watcher.JobWatcher`.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from airflow_provider_apiframe.triggerer.watcher import JobWatcher

if TYPE_CHECKING:
    from airflow_provider_apiframe.transports.asynchronous import AsyncTransport


class SharedConnection:
    """
    One connection's transport and job watcher, shared within an event loop.

    :param transport: The pooled transport.
    """

    def __init__(self, transport: AsyncTransport):
        self.transport = transport
        self.watcher = JobWatcher(transport)
        self.users = 0


_SHARED: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Future[SharedConnection]]]
_SHARED = weakref.WeakKeyDictionary()


async def acquire(conn_id: str, open_transport: Callable[[], Awaitable[AsyncTransport]]) -> SharedConnection:
    """
    Join the connection's shared transport in this event loop, opening it if nobody has.

    The connection is read once, by the first to join: a changed connection applies once every
    trigger of it in this triggerer has ended.

    :param conn_id: The connection.
    :param open_transport: Reads the connection and opens a transport; called by the first to join.
    """
    by_conn = _SHARED.setdefault(asyncio.get_running_loop(), {})
    opening = by_conn.get(conn_id)
    if opening is None:
        opening = by_conn[conn_id] = asyncio.get_running_loop().create_future()
        try:
            opening.set_result(SharedConnection(await open_transport()))
        except BaseException as exc:
            del by_conn[conn_id]
            opening.set_exception(exc)
            opening.exception()  # retrieved: no "never retrieved" warning when nobody else waited
            raise
    shared = await asyncio.shield(opening)
    shared.users += 1
    return shared


async def release(conn_id: str, shared: SharedConnection) -> None:
    """
    Leave the connection's shared transport; the last to leave closes it.

    :param conn_id: The connection.
    :param shared: What :func:`acquire` returned.
    """
    shared.users -= 1
    if shared.users > 0:
        return
    by_conn = _SHARED.get(asyncio.get_running_loop(), {})
    opening = by_conn.get(conn_id)
    if opening is not None and opening.done() and not opening.exception() and opening.result() is shared:
        del by_conn[conn_id]
    await shared.watcher.stop()
    await shared.transport.aclose()
