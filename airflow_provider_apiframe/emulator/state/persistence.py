"""The state file: what a (graceful) restart keeps, namely jobs, idempotency keys, the ledger, uploads."""

from __future__ import annotations

import base64
import json
import os
from typing import TYPE_CHECKING

from airflow_provider_apiframe.emulator.state.jobs import JobRecord

if TYPE_CHECKING:
    from airflow_provider_apiframe.emulator.state.facade import EmulatorState


def save(state: EmulatorState, path: str) -> None:
    """
    Write what a restart should keep.

    :param state: The emulator's state.
    :param path: The state file (written atomically).
    """
    data = {
        "credits": state.credits,
        "reserved": state.reserved,
        "jobs": [job.to_dict() for job in state.store.in_order()],
        "idempotency": [
            [api_key, key, job_id, at] for (api_key, key), (job_id, at) in state.idempotency.items()
        ],
        "charges": state.charges,
        "uploads": {k: [base64.b64encode(d).decode(), t, e] for k, (d, t, e) in state.uploads.items()},
    }
    with open(f"{path}.tmp", "w") as handle:
        json.dump(data, handle)
    os.replace(f"{path}.tmp", path)


def load(state: EmulatorState, path: str) -> None:
    """
    Take back what :func:`save` wrote (nothing if the file does not exist).

    :param state: The emulator's state, fresh.
    :param path: The state file.
    """
    if not os.path.exists(path):
        return
    with open(path) as handle:
        data = json.load(handle)
    state.credits, state.reserved = data["credits"], data["reserved"]
    for saved in data["jobs"]:
        state.store.add(JobRecord.from_dict(saved))
    state.replays.keys = {(a, k): (j, at) for a, k, j, at in data["idempotency"]}
    state.ledger.charges = [(job_id, cost) for job_id, cost in data["charges"]]
    state.uploads = {k: (base64.b64decode(d), t, e) for k, (d, t, e) in data["uploads"].items()}
