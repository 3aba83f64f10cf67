"""How an emulator instance behaves: keys, credits, timing, retention."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from airflow_provider_apiframe.core import contract

#: The key the emulator accepts unless told otherwise (it is not a secret: it only opens the emulator).
EMULATOR_API_KEY = "afk_emulator_local"


@dataclasses.dataclass
class EmulatorConfig:
    """
    Settings of one emulator instance.

    :param api_keys: Keys that authenticate (``401`` for any other).
    :param inactive_keys: Keys that are known but inactive (``403``).
    :param credits: The team's starting balance.
    :param job_seconds: Typical time from submission to the end of a one-image job.
    :param jitter: Random spread of ``job_seconds``, as a fraction (0.2 = +/- 20 %).
    :param extra_image_share: Each image beyond the first adds this share of ``job_seconds``.
    :param retention_seconds: How long result files stay; then the job shows ``expired`` and they 404.
    :param idempotency_seconds: How long an ``Idempotency-Key`` replays its job.
    :param upload_seconds: How long uploaded files live.
    :param rate_limit: Requests per second per key before ``429`` (``None``: unlimited).
    :param spec: The contract job requests are validated against, exactly: the official OpenAPI
        document (e.g. a newer one), or ``None`` for the snapshot shipped with the package.
    :param public_url: Base URL for result links (default: the URL the request came in on).
    :param seed: Seed for the timing jitter (reproducible runs).
    :param large_image_side: Side in pixels of the ``large-result`` outcome's noise PNG (about
        ``3 * side**2`` bytes).
    :param state_file: Keep jobs, keys, the ledger and uploads across restarts: read at start,
        written at a graceful stop (a killed emulator forgets what happened since it started).
    """

    api_keys: tuple[str, ...] = (EMULATOR_API_KEY,)
    inactive_keys: tuple[str, ...] = ()
    credits: int = 100_000
    job_seconds: float = 15.0
    jitter: float = 0.2
    extra_image_share: float = 0.1
    retention_seconds: float = 24 * 3600.0
    idempotency_seconds: float = 24 * 3600.0
    upload_seconds: float = 90 * 60.0
    rate_limit: float | None = None
    spec: dict[str, Any] | None = None
    public_url: str | None = None
    seed: int | None = None
    large_image_side: int = 6000
    state_file: str | None = None


def load_spec(path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """
    The contract the emulator validates with: the document at ``path`` (or ``$APIFRAME_OPENAPI_SPEC``).

    Without either, the facts-only snapshot shipped with the package, which holds everything
    validation needs.

    :param path: A path to ``apiframe-openapi.json``.
    """
    return contract.load(contract.document_path(path, default=None))
