"""
The one retry policy, shared by the sync and async transports (``tenacity`` runs the loop).

- ``429``: always retried, after the API's ``Retry-After`` (backoff when it sent none).
- ``5xx``, timeouts, dropped connections, unreadable success bodies: retried only when the call is
  safe to repeat (``GET``, or a ``POST`` carrying an ``Idempotency-Key``).
- Everything else (400, 401, 402, 403, 404, 409) fails at once with the API's message.
- Waits are full-jitter exponential (``uniform(0, min(cap, base * 2**n))``), or exactly the
  ``Retry-After`` the API asked for.
- Retries are bounded by ``max_attempts``. With a wall-clock ``deadline``, no retry starts past it,
  and rate limiting is ridden out until the deadline (the API said when to come back); polls
  (:meth:`RetryPolicy.until`) also ride out outages (``5xx``, no response) until the deadline.
  Without a deadline, a ``Retry-After`` longer than ``max_retry_after`` ends the retries rather
  than parking a worker.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from typing import Any, Protocol

import tenacity

from airflow_provider_apiframe.core import clock
from airflow_provider_apiframe.core.errors import (
    ApiframeError,
    ApiframeRateLimitError,
    ApiframeResponseError,
    ApiframeServerError,
    ApiframeTransportError,
)


class Attempted(Protocol):
    """What the policy needs to know of a call: how to name it, and whether repeating it is safe."""

    @property
    def label(self) -> str: ...

    @property
    def retry_safe(self) -> bool: ...


class Logger(Protocol):
    """What this package logs through: a ``logging.Logger`` or Airflow's ``self.log``."""

    def info(self, msg: str, /, *args: Any) -> Any: ...

    def warning(self, msg: str, /, *args: Any) -> Any: ...


@dataclasses.dataclass(frozen=True)
class RetryEvent:
    """
    One retry about to wait, as told to an observer (the provider's metrics).

    :param call: The call's label (``POST /v2/images/generate``).
    :param reason: What failed: the HTTP status (``"429"``, ``"503"``), ``"no_response"`` (a timeout
        or a dropped connection) or ``"bad_body"`` (a success whose body could not be read).
    :param attempt: Attempts made so far (1 after the first).
    :param wait: Seconds until the next attempt.
    """

    call: str
    reason: str
    attempt: int
    wait: float

    @property
    def rate_limited(self) -> bool:
        """Whether the API asked to slow down (``429``): the wait is a rate limit pause."""
        return self.reason == "429"

    @classmethod
    def of(cls, call: Attempted, error: BaseException | None, attempt: int, wait: float) -> RetryEvent:
        """
        The event of ``call`` failing with ``error``.

        :param call: The call.
        :param error: What it raised.
        :param attempt: Attempts made so far.
        :param wait: Seconds until the next one.
        """
        if isinstance(error, ApiframeTransportError):
            reason = "no_response"
        elif isinstance(error, ApiframeResponseError):
            reason = "bad_body"
        elif isinstance(error, ApiframeError) and error.status_code is not None:
            reason = str(error.status_code)
        else:
            reason = type(error).__name__
        return cls(call=call.label, reason=reason, attempt=attempt, wait=wait)


#: Who hears of each retry before its wait (see :class:`RetryEvent`); it must not raise.
OnRetry = Callable[[RetryEvent], None]


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """
    When to try a call again, and how long to wait first.

    :param max_attempts: Attempts in all, the first one included.
    :param base_delay: Backoff scale in seconds.
    :param max_delay: Cap of one backoff wait in seconds (``Retry-After`` may ask for longer).
    :param deadline: Wall-clock time (:func:`~airflow_provider_apiframe.core.clock.now`) after which no
        retry starts.
    :param ride_out_outages: Retry ``5xx`` and missing responses until the deadline, not just
        ``max_attempts`` times (for polls, which have nothing better to do).
    :param max_retry_after: Without a deadline, the longest ``Retry-After`` worth waiting for.
    """

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 8.0
    deadline: float | None = None
    ride_out_outages: bool = False
    max_retry_after: float = 120.0

    def capped_at(self, deadline: float | None) -> RetryPolicy:
        """
        Return this policy with no retry starting after ``deadline``; for one-off calls.

        :param deadline: Wall-clock deadline; ``None`` returns the policy unchanged.
        """
        return self if deadline is None else dataclasses.replace(self, deadline=deadline)

    def until(self, deadline: float | None) -> RetryPolicy:
        """
        Return this policy riding out transient errors until ``deadline``; for polls.

        :param deadline: Wall-clock deadline; ``None`` returns the policy unchanged.
        """
        if deadline is None:
            return self
        return dataclasses.replace(self, deadline=deadline, ride_out_outages=True)

    def should_retry(self, call: Attempted, error: BaseException) -> bool:
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

    def tenacity_kwargs(
        self, call: Attempted, log: Logger, on_retry: OnRetry | None = None
    ) -> dict[str, Any]:
        """
        Keyword arguments for ``tenacity.Retrying`` / ``AsyncRetrying`` running ``call``.

        :param call: The call to run.
        :param log: Where to warn before each wait.
        :param on_retry: Told of each retry before its wait.
        """

        def stop(state: tenacity.RetryCallState) -> bool:
            error = state.outcome.exception() if state.outcome else None
            sleep = state.upcoming_sleep or 0.0
            if self.deadline is None:
                if sleep > self.max_retry_after:
                    return True
            elif clock.now() + sleep >= self.deadline:
                return True
            elif isinstance(error, ApiframeRateLimitError) or (
                self.ride_out_outages and isinstance(error, (ApiframeServerError, ApiframeTransportError))
            ):
                return False
            return state.attempt_number >= self.max_attempts

        def before_sleep(state: tenacity.RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            log.warning(
                "%s; attempt %d, retrying in %.1f s", error, state.attempt_number, state.upcoming_sleep
            )
            if on_retry is not None:
                on_retry(RetryEvent.of(call, error, state.attempt_number, state.upcoming_sleep or 0.0))

        return {
            "retry": tenacity.retry_if_exception(lambda error: self.should_retry(call, error)),
            "wait": lambda state: self.wait_seconds(
                state.outcome.exception() if state.outcome else None, state.attempt_number
            ),
            "stop": stop,
            "before_sleep": before_sleep,
            "reraise": True,
        }
