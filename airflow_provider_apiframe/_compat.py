"""Imports that moved between the Airflow versions this provider supports (3.1 and later)."""

from __future__ import annotations

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

__all__ = ["AirflowFailException", "AirflowNotFoundException", "AirflowSensorTimeout"]
