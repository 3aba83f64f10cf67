"""Imports that moved between the Airflow versions this provider supports (3.1 and later)."""

from __future__ import annotations

from typing import Any

try:  # Airflow >= 3.2
    from airflow.sdk.exceptions import (  # type: ignore[attr-defined,unused-ignore]
        AirflowFailException,
        AirflowNotFoundException,
        AirflowSensorTimeout,
    )
except ImportError:  # Airflow 3.1
    from airflow.exceptions import (  # type: ignore[no-redef,attr-defined,unused-ignore]
        AirflowFailException,
        AirflowNotFoundException,
        AirflowSensorTimeout,
    )


def connection_outside_a_task(conn_id: str) -> Any:
    """
    Read a connection where the Task SDK cannot: Airflow 3.1 outside any task.

    ``airflow connections test`` on Airflow 3.1 runs the hook with no task supervisor to ask, and
    the SDK's lookup fails importing ``SUPERVISOR_COMMS``; Airflow's own lookup reaches every
    secrets backend and the metadata database there (later releases do this in the SDK).

    :param conn_id: The connection.
    """
    from airflow.models.connection import Connection

    return Connection.get_connection_from_secrets(conn_id)


__all__ = [
    "AirflowFailException",
    "AirflowNotFoundException",
    "AirflowSensorTimeout",
    "connection_outside_a_task",
]
