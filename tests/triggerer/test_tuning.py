"""The job watcher's tuning: one frozen object, replaced as a whole by the ``tune`` fixture."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from airflow_provider_apiframe.triggerer import tuning
from airflow_provider_apiframe.triggerer.tuning import Tuning


def test_the_defaults_are_the_documented_numbers() -> None:
    assert Tuning() == tuning.TUNING
    assert (tuning.TUNING.batch_cycle_seconds, tuning.TUNING.batch_min_jobs) == (1.0, 4)
    assert (tuning.TUNING.page_size, tuning.TUNING.max_pages) == (100, 500)
    assert tuning.TUNING.page_retry.max_attempts == 2


def test_tuning_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        tuning.TUNING.max_pages = 1  # type: ignore[misc]


def test_tune_replaces_the_object_the_watcher_reads(tune: Callable[..., Tuning]) -> None:
    tuned = tune(extra_pages=0, max_pages=2)
    assert tuning.TUNING is tuned
    assert (tuned.extra_pages, tuned.max_pages, tuned.batch_min_jobs) == (0, 2, 4)
