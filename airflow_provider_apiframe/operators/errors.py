"""
The one mapping of the provider's errors to Airflow's.

- bad input (a refused parameter, a ``400``, an idempotency key reused for another request, a
  request over its ``max_credits``), and a paid job whose result expired, cannot get better by
  retrying: the task fails at once, without retries;
- a sensor's wait that timed out is a sensor timeout, so that ``soft_fail`` skips;
- every other :class:`~airflow_provider_apiframe.core.errors.ApiframeError` is left as it is, a
  failure Airflow retries as the task's ``retries`` say.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from airflow_provider_apiframe._compat import AirflowFailException, AirflowSensorTimeout
from airflow_provider_apiframe.core.budget import ApiframeBudgetError
from airflow_provider_apiframe.core.errors import (
    ApiframeBadRequestError,
    ApiframeConflictError,
    ApiframeInvalidParamsError,
    ApiframeJobExpiredError,
    ApiframeJobTimeoutError,
)


@contextmanager
def fail_fast_on_bad_input() -> Iterator[None]:
    """Bad input cannot get better by retrying: fail the task without retries."""
    try:
        yield
    except (
        ApiframeInvalidParamsError,
        ApiframeBadRequestError,
        ApiframeBudgetError,
        ApiframeJobExpiredError,
    ) as exc:
        raise AirflowFailException(str(exc)) from None
    except ApiframeConflictError as exc:
        raise AirflowFailException(
            f"{exc}\nThe idempotency_key was already used for a different request. Give this request "
            "its own key, or leave idempotency_key unset to use the derived one."
        ) from None


@contextmanager
def timeouts_as_sensor_timeouts() -> Iterator[None]:
    """A wait that timed out is a sensor timeout (so ``soft_fail`` skips the task)."""
    try:
        yield
    except ApiframeJobTimeoutError as exc:
        raise AirflowSensorTimeout(str(exc)) from None
