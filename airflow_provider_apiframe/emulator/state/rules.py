"""Rules tests set: faults injected into requests, and the fates of new jobs."""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Callable
from typing import Literal, Protocol, TypeVar

from airflow_provider_apiframe.emulator.images import ImageSpec
from airflow_provider_apiframe.emulator.state.jobs import JobRecord

CONTENT_POLICY_ERROR = "Your request was rejected by the content policy (emulated)."


@dataclasses.dataclass
class FaultRule:
    """
    Answer matching requests with a fault, ``times`` times (``None``: until cleared).

    :param action: ``status`` (``status`` code, with ``retry_after`` for 429), ``drop`` (cut the
        connection mid-response), ``slow`` (wait ``delay`` seconds, then answer normally), ``late``
        (handle the request at once, then hold its answer ``delay`` seconds: a job is created
        and paid for while its client still waits) or ``malformed`` (``200`` with a body that is
        not JSON).
    """

    action: Literal["status", "drop", "slow", "late", "malformed"]
    method: str | None = None
    path: str = "/v2/*"
    status: int = 503
    retry_after: float | None = None
    delay: float = 0.0
    times: int | None = 1
    message: str | None = None

    def matches(self, method: str, path: str) -> bool:
        """
        Whether a request is affected.

        :param method: Its method.
        :param path: Its path.
        """
        return (self.method is None or self.method.upper() == method) and fnmatch.fnmatchcase(path, self.path)


@dataclasses.dataclass
class OutcomeRule:
    """
    Give the next matching new jobs a chosen fate, ``times`` times (``None``: until cleared).

    :param outcome: ``failed`` (content policy), ``cancelled``, ``never`` (never finishes),
        ``string-result`` (result is one URL string), ``unknown-result`` (result of an unknown
        shape), ``expired`` (results purged as soon as the job completes), ``large-result`` (one
        large PNG of random noise, ``EmulatorConfig.large_image_side`` pixels square, whatever the
        job would have made) or
        ``unknown-status`` (ends in a status the contract does not have, ``ARCHIVED``).
    :param prompt_contains: Only jobs whose prompt contains this text.
    """

    outcome: Literal[
        "failed",
        "cancelled",
        "never",
        "string-result",
        "unknown-result",
        "expired",
        "large-result",
        "unknown-status",
    ]
    prompt_contains: str | None = None
    times: int | None = 1

    def matches(self, prompt: str) -> bool:
        """
        Whether a new job is affected.

        :param prompt: Its prompt.
        """
        return self.prompt_contains is None or self.prompt_contains in prompt


class _Counted(Protocol):
    times: int | None


_Rule = TypeVar("_Rule", bound=_Counted)


def take_first(rules: list[_Rule], matches: Callable[[_Rule], bool]) -> _Rule | None:
    """
    The first rule that ``matches``, used up by one (and dropped once used up).

    :param rules: The rules, in the order they were added.
    :param matches: Whether a rule applies.
    """
    for rule in rules:
        if matches(rule):
            if rule.times is not None:
                rule.times -= 1
                if rule.times <= 0:
                    rules.remove(rule)
            return rule
    return None


def apply_outcome(job: JobRecord, outcome: str | None, large_image_side: int) -> None:
    """
    Give a new job the fate an :class:`OutcomeRule` (or ``X-Emulator-Outcome``) names.

    :param job: The new job.
    :param outcome: The fate, or ``None`` to leave it as it is (it completes).
    :param large_image_side: Side of the ``large-result`` image, in pixels.
    :raises ValueError: For an unknown fate.
    """
    if outcome == "failed":
        job.outcome, job.error = "FAILED", CONTENT_POLICY_ERROR
    elif outcome == "cancelled":
        job.outcome, job.error = "CANCELLED", "The job was cancelled (emulated)."
    elif outcome == "never":
        job.outcome, job.finishes_at = "NEVER", None
    elif outcome == "string-result":
        job.result_shape = "string"
    elif outcome == "unknown-result":
        job.result_shape = "unknown"
    elif outcome == "expired":
        job.expire_at_once = True
    elif outcome == "unknown-status":
        job.outcome = "ARCHIVED"
    elif outcome == "large-result":
        side = large_image_side
        job.images = ImageSpec(count=1, size=(side, side), fmt="png", transparent=False, noise=True)
        job.output, job.video, job.audio = "images", None, None
    elif outcome is not None:
        raise ValueError(f"unknown outcome {outcome!r}")
