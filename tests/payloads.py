"""API payloads shared by the unit tests, shaped exactly as the contract describes them."""

from __future__ import annotations

from typing import Any

#: A distinctive key, so that any leak of it is easy to find.
API_KEY = "afk_test_Zq8vXw3kLmN0pR7sT2uV"
JOB_ID = "4f0c7d1e-2b3a-4c5d-8e9f-0a1b2c3d4e5f"
IMAGE = f"https://cdn.apiframe.test/{JOB_ID}-1.webp"
ME_BODY = {
    "user": {"id": "u-1", "email": "dev@example.com", "role": "OWNER"},
    "team": {"id": "t-1", "name": "Pixels", "credits": 1234, "plan": "pro", "customerId": None},
    "apiKey": {"id": "k-1", "name": "ci", "prefix": "afk_test"},
}


def job_body(status: str = "COMPLETED", **fields: Any) -> dict[str, Any]:
    """A ``GET /v2/jobs/{id}`` body; ``fields`` override any key."""
    done = status == "COMPLETED"
    return {
        "id": JOB_ID,
        "status": status,
        "model": "gpt-image-1.5",
        "progress": 100 if done else 0,
        "error": None,
        "creditCost": 10 if done else None,
        "webhookStatus": None,
        "createdAt": "2026-11-24T12:00:00.000Z",
        "completedAt": "2026-11-24T12:00:15.000Z" if done else None,
        "result": {"images": [f"https://cdn.apiframe.test/{fields.get('id', JOB_ID)}-1.webp"]}
        if done
        else None,
        "expired": False,
        **fields,
    }
