"""The emulator's HTTP surface: the Apiframe v2 routes, result files, and an admin API for tests."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import math
import re
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from airflow_provider_apiframe.core.catalog import ROUTE_SCHEMAS
from airflow_provider_apiframe.core.media import MAX_UPLOAD_BYTES, sniff_media
from airflow_provider_apiframe.core.webhooks import EVENT_HEADER, SIGNATURE_HEADER, sign_webhook_body
from airflow_provider_apiframe.emulator.images import check_image, render
from airflow_provider_apiframe.emulator.state import (
    EmulatorState,
    FaultRule,
    InsufficientCredits,
    JobRecord,
    OutcomeRule,
    iso_time,
    webhook_events,
)
from airflow_provider_apiframe.emulator.validation import RequestValidator

#: Per-request fault, e.g. ``503``, ``429; retry-after=2``, ``drop``, ``slow=2.5``, ``malformed``.
FAULT_HEADER = "x-emulator-fault"
#: Per-request job fate on submission (see :class:`OutcomeRule`), e.g. ``failed`` or ``never``.
OUTCOME_HEADER = "x-emulator-outcome"

_FILE_NAME = re.compile(r"^(?P<job>[0-9a-f-]{36})-(?P<n>\d+)\.(?P<ext>png|jpeg|webp)$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
_JOB_STATUSES = ("QUEUED", "PROCESSING", "COMPLETED", "FAILED", "CANCELLED")


def create_app(state: EmulatorState) -> ASGIApp:
    """
    Build the emulator's ASGI app over ``state``.

    :param state: What the emulator knows; shared with whoever wants to inspect it.
    """
    validator = RequestValidator(state.config.spec)
    background: set[asyncio.Task[Any]] = set()
    http = _LazyClient()

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if state.config.state_file:
            state.load(state.config.state_file)
            for job in state.jobs.values():
                if not job.settled:
                    schedule(job, job.links)
        yield
        if state.config.state_file:
            state.save(state.config.state_file)
        await http.aclose()

    app = FastAPI(
        title="Apiframe API emulator",
        version="2.0.0",
        docs_url="/_emulator/docs",
        redoc_url=None,
        lifespan=lifespan,
    )

    def spawn(coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        background.add(task)
        task.add_done_callback(background.discard)

    def base_url(request: Request) -> str:
        return state.config.public_url or str(request.base_url).rstrip("/")

    def authenticate(request: Request) -> str | JSONResponse:
        key = request.headers.get("x-api-key")
        if not key:
            return _error(401, "Missing API key: send it in the X-API-Key header.")
        if key in state.config.inactive_keys:
            return _error(403, "This API key is inactive.")
        if key not in state.config.api_keys:
            return _error(401, "Invalid API key.")
        return key

    # --- jobs -----------------------------------------------------------------------------------------

    def submit_route(route: str) -> Any:
        async def submit(request: Request) -> Response:
            key = authenticate(request)
            if isinstance(key, Response):
                return key
            try:
                body = json.loads(await request.body())
            except ValueError:
                return _error(400, "Request body is not valid JSON.")
            problems = validator.validate(route, body)
            idempotency_key = request.headers.get("idempotency-key")
            if idempotency_key is not None and not 1 <= len(idempotency_key) <= 255:
                problems["Idempotency-Key"] = ["String must contain at most 255 character(s)"]
            if problems:
                return JSONResponse({"error": "Validation failed", "details": problems}, status_code=400)
            if idempotency_key and (seen := state.replay(key, idempotency_key)) is not None:
                status = state.status(seen)[0]
                # JobAccepted has no CANCELLED: a cancelled job replays as FAILED (ended, uncharged).
                accepted = "FAILED" if status == "CANCELLED" else status
                return JSONResponse(
                    {"jobId": seen.id, "status": accepted},
                    status_code=202,
                    headers={"Idempotent-Replayed": "true"},
                )
            try:
                job = state.create_job(key, route, body, outcome=request.headers.get(OUTCOME_HEADER))
            except InsufficientCredits as exc:
                return JSONResponse(
                    {
                        "error": "Insufficient credits",
                        "creditsRequired": exc.required,
                        "creditsAvailable": exc.available,
                    },
                    status_code=402,
                )
            except ValueError as exc:  # an unknown X-Emulator-Outcome
                return _error(400, str(exc))
            if idempotency_key:
                state.remember(key, idempotency_key, job)
            job.links = base_url(request)
            schedule(job, job.links)
            return JSONResponse({"jobId": job.id, "status": "QUEUED"}, status_code=202)

        return submit

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> Response:
        return _error(exc.status_code, str(exc.detail))

    for route in ROUTE_SCHEMAS:
        app.add_api_route(route, submit_route(route), methods=["POST"], status_code=202)

    def schedule(job: JobRecord, links: str) -> None:
        if job.inputs is None:
            spawn(fetch_inputs(job, links))
        if "progress" in webhook_events(job.body):
            halfway = (job.processing_at + (job.finishes_at or job.processing_at)) / 2
            for moment in (job.processing_at, halfway):
                _at(moment, lambda: spawn(deliver(job, "progress", links)))
        if job.finishes_at is not None and math.isfinite(job.finishes_at):  # held jobs: at release
            _at(job.finishes_at, lambda: end(job, links))

    def end(job: JobRecord, links: str) -> None:
        if state.settle(job) and webhook_events(job.body):
            spawn(deliver(job, "completed" if job.outcome == "COMPLETED" else "failed", links))

    async def fetch(url: str, links: str) -> bytes:
        if url.startswith(f"{links}/"):  # one of our own results or uploads: no round trip
            local = await _local_file(state, url)
            if local is None:
                raise ValueError("404 not found (unknown, not ready yet, or purged)")
            return local
        return await http.get(url)

    async def fetch_inputs(job: JobRecord, links: str) -> None:
        fetched = []
        for url in job.input_urls:
            try:
                data = await fetch(url, links)
                check_image(data)
            except Exception as exc:
                state.fail_inputs(job, f"Could not use input image {url}: {exc}")
                break
            fetched.append(data)
        else:
            job.inputs, job.inputs_at = tuple(fetched), time.time()
        if job.finishes_at is not None and time.time() >= job.finishes_at:
            end(job, links)

    async def deliver(job: JobRecord, event: str, links: str) -> None:
        if event not in webhook_events(job.body):
            return
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
        body = json.dumps(payload).encode()
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

    @app.get("/v2/jobs/{job_id}")
    async def get_job(job_id: str, request: Request) -> Response:
        key = authenticate(request)
        if isinstance(key, Response):
            return key
        if not _UUID.match(job_id):
            return _error(400, "Invalid job id: expected a UUID.")
        job = state.jobs.get(job_id)
        if job is None or job.api_key != key:
            return _error(404, "Job not found.")
        return JSONResponse(state.to_json(job, base_url(request)))

    @app.get("/v2/jobs")
    async def list_jobs(request: Request) -> Response:
        key = authenticate(request)
        if isinstance(key, Response):
            return key
        query = request.query_params
        problems: dict[str, list[str]] = {}
        status = query.get("status")
        if status is not None and status not in _JOB_STATUSES:
            problems["status"] = [
                f"Invalid enum value. Expected {' | '.join(_JOB_STATUSES)}, received '{status}'"
            ]
        try:
            limit = int(query.get("limit", "20"))
            if not 1 <= limit <= 100:
                raise ValueError
        except ValueError:
            problems["limit"] = ["Number must be an integer from 1 to 100"]
        if query.get("scope", "user") not in ("user", "team"):
            problems["scope"] = ["Invalid enum value. Expected 'user' | 'team'"]
        search = query.get("search")
        if search is not None and not _UUID.match(search):
            problems["search"] = ["Invalid uuid"]
        start = len(state.order)
        if cursor := query.get("cursor"):
            position = _read_cursor(cursor, state)
            if position is None:
                problems["cursor"] = ["Invalid cursor"]
            else:
                start = position
        if problems:
            return JSONResponse({"error": "Invalid query parameters", "details": problems}, status_code=400)
        links, model = base_url(request), query.get("model")
        jobs: list[dict[str, Any]] = []
        index = start
        while index > 0 and len(jobs) < limit + 1:
            index -= 1
            job = state.jobs[state.order[index]]
            if job.api_key != key or (model and job.model != model) or (search and job.id != search):
                continue
            shown = state.to_json(job, links)
            if status and shown["status"] != status:
                continue
            del shown["input"]
            jobs.append(shown)
        has_more = len(jobs) > limit
        jobs = jobs[:limit]
        page: dict[str, Any] = {
            "jobs": jobs,
            "nextCursor": _cursor(state.jobs[jobs[-1]["id"]]) if has_more and jobs else None,
            "hasMore": has_more,
        }
        if query.get("include_models") == "true":
            page["models"] = sorted({j.model for j in state.jobs.values() if j.api_key == key})
        return JSONResponse(page)

    @app.get("/v2/me")
    async def me(request: Request) -> Response:
        key = authenticate(request)
        if isinstance(key, Response):
            return key
        return JSONResponse(
            {
                "user": {"id": _uuid_for("user", key), "email": "emulator@apiframe.local", "role": "OWNER"},
                "team": {
                    "id": _uuid_for("team", key),
                    "name": "Emulator team",
                    "credits": max(0, state.credits),
                    "plan": "emulator",
                    "customerId": None,
                },
                "apiKey": {"id": _uuid_for("key", key), "name": "emulator", "prefix": key[:8]},
            }
        )

    # --- uploads and files ----------------------------------------------------------------------------

    @app.post("/v2/uploads", status_code=201)
    async def upload(request: Request) -> Response:
        key = authenticate(request)
        if isinstance(key, Response):
            return key
        try:
            form = await request.form(max_files=1)
        except Exception:
            return _validation("file", "Expected a multipart/form-data body with one file")
        file = form.get("file")
        if file is None or isinstance(file, str):
            return _validation("file", "Required")
        data = await file.read()
        kind, content_type = sniff_media(data[:16]) or (None, "")
        if kind is None:
            return _validation(
                "file", "Unsupported file type (PNG, JPEG, WebP, GIF, MP4, WebM, MOV, MP3, WAV, OGG, M4A)"
            )
        limit = MAX_UPLOAD_BYTES[kind]
        if len(data) > limit:
            return _validation("file", f"File too large: at most {limit // (1024 * 1024)} MB for {kind}")
        upload_id = str(uuid.uuid4())
        expires = time.time() + state.config.upload_seconds
        state.uploads[upload_id] = (data, content_type, expires)
        return JSONResponse(
            {
                "id": upload_id,
                "url": f"{base_url(request)}/uploads/{upload_id}",
                "kind": kind,
                "contentType": content_type,
                "byteSize": len(data),
                "expiresAt": iso_time(expires),
            },
            status_code=201,
        )

    @app.get("/uploads/{upload_id}")
    async def uploaded(upload_id: str) -> Response:
        entry = state.uploads.get(upload_id)
        if entry is None or time.time() >= entry[2]:
            return _error(404, "Upload not found or expired.")
        return Response(entry[0], media_type=entry[1])

    @app.get("/files/{name}")
    async def result_file(name: str) -> Response:
        data = await _result_file(state, name)
        if data is None:
            return _error(404, "File not found (unknown, not ready, or purged after the retention period).")
        return Response(data, media_type=state.jobs[name[:36]].images.content_type)

    # --- admin API for tests -----------------------------------------------------------------------------

    @app.get("/_emulator/state")
    async def admin_state() -> Response:
        return JSONResponse(state.summary())

    @app.post("/_emulator/faults", status_code=201)
    async def admin_fault(request: Request) -> Response:
        state.faults.append(FaultRule(**await request.json()))
        return JSONResponse({"faults": len(state.faults)}, status_code=201)

    @app.post("/_emulator/outcomes", status_code=201)
    async def admin_outcome(request: Request) -> Response:
        state.outcomes.append(OutcomeRule(**await request.json()))
        return JSONResponse({"outcomes": len(state.outcomes)}, status_code=201)

    @app.delete("/_emulator/rules")
    async def admin_clear() -> Response:
        state.faults.clear()
        state.outcomes.clear()
        return JSONResponse({})

    @app.post("/_emulator/hold")
    async def admin_hold() -> Response:
        state.hold()
        return JSONResponse({"holding": True})

    @app.post("/_emulator/release")
    async def admin_release() -> Response:
        released = state.release()
        for job in released:  # they end (charge, terminal webhook) from now on
            if job.finishes_at is not None:
                _at(job.finishes_at, lambda job=job: end(job, job.links))
        return JSONResponse({"released": len(released)})

    @app.put("/_emulator/credits")
    async def admin_credits(request: Request) -> Response:
        state.credits = int((await request.json())["credits"])
        return JSONResponse({"credits": state.credits})

    @app.get("/_emulator/jobs")
    async def admin_jobs() -> Response:
        return JSONResponse(state.describe_jobs())

    @app.get("/_emulator/requests")
    async def admin_requests() -> Response:
        return JSONResponse([list(request) for request in state.requests])

    @app.get("/_emulator/webhooks")
    async def admin_webhooks() -> Response:
        return JSONResponse(list(state.webhooks))

    return FaultMiddleware(app, state)


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
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        request_id = f"req_{uuid.uuid4().hex[:16]}"
        status_seen = [0]

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_seen[0] = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            if path.startswith("/v2/"):
                headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
                try:
                    rule = _parse_fault(headers.get(FAULT_HEADER)) or self.state.take_fault(method, path)
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


_REASONS = {
    429: "Rate limit exceeded. Retry after the Retry-After seconds.",
    500: "Internal server error.",
    502: "Upstream provider error. Retry with backoff.",
    503: "Service temporarily unavailable. Retry with backoff.",
    504: "Upstream timeout.",
}


def _at(moment: float, callback: Any) -> None:
    """Run ``callback`` on the loop once the wall clock reaches ``moment`` (loop timers may fire early)."""
    delay = moment - time.time()
    if delay > 0:
        asyncio.get_running_loop().call_later(delay + 0.001, _at, moment, callback)
    else:
        callback()


def _parse_fault(header: str | None) -> FaultRule | None:
    """Read ``X-Emulator-Fault``: ``503``, ``429; retry-after=2``, ``drop``, ``slow=2.5``, ``malformed``."""
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


async def _result_file(state: EmulatorState, name: str) -> bytes | None:
    match = _FILE_NAME.match(name)
    job = state.jobs.get(match["job"]) if match else None
    if match is None or job is None or match["ext"] != job.images.fmt:
        return None
    n = int(match["n"])
    if state.status(job)[0] != "COMPLETED" or state.is_expired(job) or not 1 <= n <= job.images.count:
        return None
    if n not in job.files:
        job.files[n] = await run_in_threadpool(
            render, job.prompt, n, job.images, model=job.model, inputs=job.inputs or ()
        )
    return job.files[n]


async def _local_file(state: EmulatorState, url: str) -> bytes | None:
    """Serve the emulator's own result files and uploads without a round trip over HTTP."""
    path = urlsplit(url).path
    if path.startswith("/files/"):
        return await _result_file(state, path.removeprefix("/files/"))
    if path.startswith("/uploads/"):
        entry = state.uploads.get(path.removeprefix("/uploads/"))
        return entry[0] if entry and time.time() < entry[2] else None
    return None


class _LazyClient:
    """One pooled httpx client for input downloads and webhooks, made on first use."""

    def __init__(self) -> None:
        self._client: httpx.AsyncClient | None = None

    def _get(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=10.0, follow_redirects=True)
        return self._client

    async def get(self, url: str) -> bytes:
        async with self._get().stream("GET", url) as response:
            response.raise_for_status()
            data = bytearray()
            async for chunk in response.aiter_bytes():
                data += chunk
                if len(data) > MAX_UPLOAD_BYTES["image"]:
                    raise ValueError("larger than 25 MB")
            return bytes(data)

    async def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self._get().post(url, **kwargs)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()


def _cursor(job: JobRecord) -> str:
    return base64.urlsafe_b64encode(json.dumps([iso_time(job.created), job.id]).encode()).decode()


def _read_cursor(cursor: str, state: EmulatorState) -> int | None:
    """The position (in creation order) a cursor continues from, or None if it is not one of ours."""
    try:
        _, job_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError, binascii.Error):
        return None
    return state.position.get(job_id) if isinstance(job_id, str) else None


def _uuid_for(kind: str, key: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"apiframe-emulator:{kind}:{key}"))


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _validation(field: str, message: str) -> JSONResponse:
    return JSONResponse({"error": "Validation failed", "details": {field: [message]}}, status_code=400)
