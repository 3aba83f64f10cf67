"""
The one retry policy, shared by the sync and async transports (``tenacity`` runs the loop).

- ``429``: always retried, after the API's ``Retry-After`` (backoff when it sent none). With a
  deadline, rate limiting is ridden out until the deadline, since the API says when to come back.
- ``5xx``, timeouts, dropped connections, unreadable success bodies: retried only when the call is
  safe to repeat (``GET``, or a ``POST`` carrying an ``Idempotency-Key``).
- Everything else (400, 401, 402, 403, 404, 409) fails at once with the API's message.
- Waits are full-jitter exponential (``uniform(0, min(cap, base * 2**n))``); attempts are bounded by
  ``max_attempts``, by a wall-clock ``deadline``, or both; no wait runs past the deadline.
"""

from __future__ import annotations

import dataclasses
import random
import time
from typing import TYPE_CHECKING, Any, Protocol

import tenacity

from airflow_provider_apiframe.core.errors import ApiframeError, ApiframeRateLimitError

if TYPE_CHECKING:
    from airflow_provider_apiframe.core.calls import ApiCall


class Logger(Protocol):
    """What this package logs through: a ``logging.Logger`` or Airflow's ``self.log``."""

    def info(self, msg: str, /, *args: Any) -> Any: ...

    def warning(self, msg: str, /, *args: Any) -> Any: ...


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """
    When to try a call again, and how long to wait first.

    :param max_attempts: Attempts in all (the first one included); ``None`` for "until the deadline".
    :param base_delay: Backoff scale in seconds.
    :param max_delay: Cap of one backoff wait in seconds (``Retry-After`` may ask for longer).
    :param deadline: Wall-clock time (``time.time()``) after which no attempt starts.
    """

    max_attempts: int | None = 5
    base_delay: float = 0.5
    max_delay: float = 8.0
    deadline: float | None = None

    def __post_init__(self) -> None:
        if self.max_attempts is None and self.deadline is None:
            raise ValueError("a RetryPolicy needs max_attempts, a deadline, or both")

    def until(self, deadline: float | None) -> RetryPolicy:
        """
        Return this policy bounded by ``deadline`` instead of an attempt count.

        :param deadline: Wall-clock deadline; ``None`` returns the policy unchanged.
        """
        if deadline is None:
            return self
        return dataclasses.replace(self, max_attempts=None, deadline=deadline)

    def should_retry(self, call: ApiCall[Any], error: BaseException) -> bool:
        """
        Whether ``error`` from ``call`` is worth another attempt.

        :param call: The call that failed.
        :param error: What it raised.
        """
        if isinstance(error, ApiframeRateLimitError):
            return True
        return isinstance(error, ApiframeError) and error.transient and call.retry_safe

    def wait_seconds(self, error: BaseException | None, attempt: int) -> float:
        """
        Seconds to wait before attempt ``attempt + 1``.

        :param error: What the last attempt raised.
        :param attempt: How many attempts were made so far (1 after the first).
        """
        if isinstance(error, ApiframeRateLimitError) and error.retry_after is not None:
            return error.retry_after
        return random.uniform(0, min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))

    def tenacity_kwargs(self, call: ApiCall[Any], log: Logger) -> dict[str, Any]:
        """
        Keyword arguments for ``tenacity.Retrying`` / ``AsyncRetrying`` running ``call``.

        :param call: The call to run.
        :param log: Where to warn before each wait.
        """

        def stop(state: tenacity.RetryCallState) -> bool:
            if self.deadline is not None and time.time() + (state.upcoming_sleep or 0) >= self.deadline:
                return True
            if self.max_attempts is None:
                return False
            rate_limited = state.outcome is not None and isinstance(
                state.outcome.exception(), ApiframeRateLimitError
            )
            if rate_limited and self.deadline is not None:
                return False
            return state.attempt_number >= self.max_attempts

        def before_sleep(state: tenacity.RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            log.warning(
                "%s; attempt %d, retrying in %.1f s", error, state.attempt_number, state.upcoming_sleep
            )

        return {
            "retry": tenacity.retry_if_exception(lambda error: self.should_retry(call, error)),
            "wait": lambda state: self.wait_seconds(
                state.outcome.exception() if state.outcome else None, state.attempt_number
            ),
            "stop": stop,
            "before_sleep": before_sleep,
            "reraise": True,
        }
