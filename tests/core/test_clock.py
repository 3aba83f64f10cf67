"""The clock the core reads: the real one by default, a fake one swapped in as a whole by tests."""

from __future__ import annotations

import time

from support import FakeClock

from airflow_provider_apiframe.core import clock


def test_the_real_clock_is_in_use_by_default() -> None:
    assert isinstance(clock.current(), clock.SystemClock)
    assert abs(clock.now() - time.time()) < 5


def test_use_swaps_the_clock_for_the_block_and_nests() -> None:
    outer, inner = FakeClock(), FakeClock()
    inner.now += 60
    with clock.use(outer):
        assert clock.current() is outer
        assert clock.now() == outer.now
        with clock.use(inner):
            assert clock.now() == outer.now + 60
        assert clock.current() is outer
    assert isinstance(clock.current(), clock.SystemClock)


async def test_the_real_clock_sleeps_both_ways() -> None:
    real = clock.SystemClock()
    started = real.monotonic()
    real.sleep(0.01)
    await real.asleep(0.01)
    assert real.monotonic() - started >= 0.02
