"""
What the provider checks before any HTTP call, and how it words what it refuses.

Every check reports ``(field, why)`` problems, the field named as the DAG author wrote it and
``why`` saying what was got and what is allowed; :class:`ApiframeInvalidParamsError` carries them all.
"""

from __future__ import annotations

import uuid
from typing import Any

from airflow_provider_apiframe.core.errors import ApiframeInvalidParamsError


def check_job_id(job_id: Any) -> str:
    """
    Check that ``job_id`` is a job id (a UUID) before asking the API about it.

    :param job_id: The value given, e.g. a rendered template.
    """
    try:
        return str(uuid.UUID(job_id)) if isinstance(job_id, str) and len(job_id) == 36 else _bad_id(job_id)
    except ValueError:
        return _bad_id(job_id)


def _bad_id(job_id: Any) -> str:
    raise ApiframeInvalidParamsError([("job_id", f"got {job_id!r}; allowed: a job id (a UUID)")])
