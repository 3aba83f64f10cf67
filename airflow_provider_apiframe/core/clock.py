"""
The clock the core reads: wall time for deadlines, monotonic time for pacing, and sleeping.

One process-wide clock, swappable as a whole (``use``), so tests move time by hand instead of
patching ``time`` in each module.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol


class Clock(Protocol):
    """What the core needs of a clock."""

    def time(self) -> float:
        """Wall-clock seconds since the epoch (deadlines)."""

    def monotonic(self) -> float:
        """Seconds that never go backwards (pacing)."""

    def sleep(self, seconds: float) -> None:
        """Block for ``seconds``."""

    async def asleep(self, seconds: float) -> None:
        """Wait ``seconds`` without blocking the event loop."""


class SystemClock:
    """The real clock."""

    def time(self) -> float:
        """Wall-clock seconds since the epoch."""
        return time.time()

    def monotonic(self) -> float:
        """Monotonic seconds."""
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        """Block for ``seconds``."""
        time.sleep(seconds)

    async def asleep(self, seconds: float) -> None:
        """Wait ``seconds`` on the event loop."""
        await asyncio.sleep(seconds)


_current: list[Clock] = [SystemClock()]


def current() -> Clock:
    """The clock in use."""
    return _current[0]


def now() -> float:
    """Wall-clock seconds since the epoch, from the clock in use."""
    return _current[0].time()


@contextmanager
def use(clock: Clock) -> Iterator[Clock]:
    """
    Use ``clock`` instead of the real one until the block ends (tests).

    :param clock: The clock to read.
    """
    _current.insert(0, clock)
    try:
        yield clock
    finally:
        _current.remove(clock)
