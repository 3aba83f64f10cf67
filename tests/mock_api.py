"""
A small stand-in for the Apiframe API that answers over real HTTP on loopback.

It checks the key, validates every job request against the official contract, replays
Idempotency-Keys, moves jobs QUEUED -> PROCESSING -> COMPLETED over ``job_seconds``, counts charges,
and can be told to answer the next requests with scripted faults.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

API_KEY = "afk_test_Zq8vXw3kLmN0pR7sT2uV"


@dataclass
class MockState:
    job_seconds: float = 0.3
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    charges: list[str] = field(default_factory=list)
    faults: list[tuple[int, dict[str, Any], dict[str, str]]] = field(default_factory=list)
    validator: Any = None


def create_app(state: MockState) -> FastAPI:
    app = FastAPI()

    @app.middleware("http")
    async def gate(request: Request, call_next: Any) -> Response:
        body = await request.body()
        state.requests.append(
            {
                "method": request.method,
                "path": request.url.path,
                "headers": dict(request.headers),
                "body": body,
            }
        )
        if state.faults:
            status, payload, headers = state.faults.pop(0)
            return JSONResponse(payload, status_code=status, headers=headers)
        if request.headers.get("x-api-key") != API_KEY:
            return JSONResponse(
                {"error": "Invalid API key"}, status_code=401, headers={"x-request-id": "req-401"}
            )
        return await call_next(request)

    @app.post("/v2/images/generate", status_code=202)
    async def generate(request: Request) -> Any:
        body = await request.json()
        if state.validator is not None:
            errors = {
                "/".join(map(str, e.absolute_path)) or "body": [e.message] for e in state.validator(body)
            }
            if errors:
                return JSONResponse({"error": "Validation failed", "details": errors}, status_code=400)
        key = request.headers.get("idempotency-key")
        if key and key in state.keys:
            job = state.jobs[state.keys[key]]
            return {"jobId": job["id"], "status": _advance(state, job)["status"]}
        job_id = str(uuid.uuid4())
        state.jobs[job_id] = {"id": job_id, "input": body, "created": time.time()}
        if key:
            state.keys[key] = job_id
        return {"jobId": job_id, "status": "QUEUED"}

    @app.get("/v2/jobs/{job_id}")
    async def get_job(job_id: str, request: Request) -> Any:
        job = state.jobs.get(job_id)
        if job is None:
            return JSONResponse({"error": "Job not found"}, status_code=404)
        return _public(_advance(state, job), str(request.base_url))

    @app.get("/v2/me")
    async def me() -> Any:
        return {
            "user": {"id": str(uuid.uuid4()), "email": "dev@example.com", "role": "OWNER"},
            "team": {
                "id": str(uuid.uuid4()),
                "name": "Test team",
                "credits": 1000 - 10 * len(state.charges),
                "plan": "pro",
                "customerId": None,
            },
            "apiKey": {"id": str(uuid.uuid4()), "name": "test", "prefix": "afk_test"},
        }

    return app


def _advance(state: MockState, job: dict[str, Any]) -> dict[str, Any]:
    if job.get("status") in ("COMPLETED", "FAILED"):
        return job
    elapsed = time.time() - job["created"]
    if elapsed < state.job_seconds / 3:
        job.update(status="QUEUED", progress=0)
    elif elapsed < state.job_seconds:
        job.update(status="PROCESSING", progress=int(100 * elapsed / state.job_seconds))
    elif "[fail]" in job["input"]["prompt"]:
        job.update(status="FAILED", progress=None, error="Request rejected by the content policy")
    else:
        job.update(status="COMPLETED", progress=100)
        state.charges.append(job["id"])
    return job


def _public(job: dict[str, Any], base_url: str) -> dict[str, Any]:
    params = job["input"].get("gptImageParams", {})
    n, ext = params.get("number_of_images", 1), params.get("output_format", "webp")
    done = job["status"] == "COMPLETED"
    return {
        "id": job["id"],
        "status": job["status"],
        "model": job["input"]["model"],
        "progress": job.get("progress"),
        "error": job.get("error"),
        "creditCost": 10 if done else None,
        "webhookStatus": None,
        "createdAt": "2026-11-24T12:00:00.000Z",
        "completedAt": "2026-11-24T12:00:15.000Z" if done else None,
        "result": {"images": [f"{base_url}files/{job['id']}-{i}.{ext}" for i in range(1, n + 1)]}
        if done
        else None,
        "expired": False,
    }


@contextmanager
def serve(state: MockState) -> Iterator[str]:
    """Serve the mock on a free loopback port; yields its base URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(state), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(5)
