"""
The outermost ASGI layer: request ids, the request log, rate limits and injected faults.

Faults come from the ``X-Emulator-Fault`` header of a request or from the rules tests add
(``/_emulator/faults``, :meth:`Emulator.inject`); they apply to ``/v2/...`` routes only.

Every answer waits until the request's body has been read in full (:class:`_BodyReader`): an answer
given early (an unknown route, a refused key, a fault) on a connection the server then closes (the
client sent ``Connection: close``, as ``urllib`` does) would otherwise close a socket with the rest
of a large body unread in it, which resets the connection and loses the answer on the client side.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from airflow_provider_apiframe.emulator.state import EmulatorState, FaultRule

#: Per-request fault, e.g. ``503``, ``429; retry-after=2``, ``drop``, ``slow=2.5``, ``malformed``.
FAULT_HEADER = "x-emulator-fault"

_REASONS = {
    429: "Rate limit exceeded. Retry after the Retry-After seconds.",
    500: "Internal server error.",
    502: "Upstream provider error. Retry with backoff.",
    503: "Service temporarily unavailable. Retry with backoff.",
    504: "Upstream timeout.",
}


class FaultMiddleware:
    """
    Outermost layer: request ids, the request log, rate limits and injected faults.

    :param app: The routes.
    :param state: Where rules, limits and the log live.
    """

    def __init__(self, app: ASGIApp, state: EmulatorState):
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """
        Handle one ASGI connection scope.

        :param scope: The scope.
        :param receive: Its receive channel.
        :param send: Its send channel.
        """
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        request_id = f"req_{uuid.uuid4().hex[:16]}"
        status_seen = [0]
        body = _BodyReader(receive)
        receive = body.receive

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_seen[0] = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                await body.drain()
            await send(message)

        try:
            if path.startswith("/v2/"):
                headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
                try:
                    rule = parse_fault(headers.get(FAULT_HEADER)) or self.state.take_fault(method, path)
                except ValueError:
                    rule = FaultRule("status", status=400, message=f"Unreadable {FAULT_HEADER} header.")
                if rule is not None:
                    if rule.action == "slow":
                        await asyncio.sleep(rule.delay)
                    elif rule.action == "late":
                        await self.app(scope, receive, _held(send_with_id, rule.delay))
                        return
                    else:
                        await _answer_with_fault(rule, send_with_id)
                        return
                wait = self.state.rate_limited(headers.get("x-api-key", ""))
                if wait is not None:
                    await _answer_with_fault(FaultRule("status", status=429, retry_after=wait), send_with_id)
                    return
            await self.app(scope, receive, send_with_id)
        finally:
            self.state.count_request(method, path, status_seen[0])


class _BodyReader:
    """
    The request's receive channel, knowing whether the body has been read in full.

    :param receive: The server's receive channel.
    """

    def __init__(self, receive: Receive):
        self._receive = receive
        self.done = False

    async def receive(self) -> Message:
        """The next message, as the server gives it."""
        message = await self._receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            self.done = True
        return message

    async def drain(self) -> None:
        """Read and drop what the app left unread of the body."""
        while not self.done:
            await self.receive()


def parse_fault(header: str | None) -> FaultRule | None:
    """
    Read ``X-Emulator-Fault``: ``503``, ``429; retry-after=2``, ``drop``, ``slow=2.5``, ``malformed``.

    :param header: The header's value, if sent.
    :raises ValueError: When a number in it does not read.
    """
    if not header:
        return None
    head, *options = (part.strip() for part in header.split(";"))
    extra = dict(option.partition("=")[::2] for option in options)
    if head.isdigit():
        retry_after = extra.get("retry-after")
        return FaultRule("status", status=int(head), retry_after=float(retry_after) if retry_after else None)
    if head.startswith("slow"):
        return FaultRule("slow", delay=float(head.partition("=")[2] or 1))
    if head in ("drop", "malformed"):
        return FaultRule(head)  # type: ignore[arg-type]
    return None


def _held(send: Send, delay: float) -> Send:
    """``send``, holding the answer ``delay`` seconds before it starts."""

    async def held(message: Message) -> None:
        if message["type"] == "http.response.start":
            await asyncio.sleep(delay)
        await send(message)

    return held


async def _answer_with_fault(rule: FaultRule, send: Send) -> None:
    if rule.action == "drop":
        # Promise a body, send a fragment, stop: the client sees the connection cut mid-response.
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
            }
        )
        with contextlib.suppress(RuntimeError):  # the server notices the short body and closes the socket
            await send({"type": "http.response.body", "body": b'{"id": "', "more_body": False})
        return
    if rule.action == "malformed":
        body, status, headers = b'{"id": "truncated', 200, []
    else:
        status = rule.status
        body = json.dumps({"error": rule.message or _REASONS.get(status, "Emulated error.")}).encode()
        headers = (
            []
            if rule.retry_after is None
            else [(b"retry-after", str(max(1, round(rule.retry_after))).encode())]
        )
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), *headers],
        }
    )
    await send({"type": "http.response.body", "body": body})
