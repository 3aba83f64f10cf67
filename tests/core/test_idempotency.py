"""Idempotency keys: derived per task instance, and the key sequence after refused jobs."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_apiframe.core.calls import generate_gpt_image
from airflow_provider_apiframe.core.errors import (
    ApiframeInvalidParamsError,
)
from airflow_provider_apiframe.core.idempotency import (
    MAX_KEY_LENGTH,
    REFUSED,
    KeySequence,
    derive_key,
    nth_key,
)
from airflow_provider_apiframe.core.models import JobStatus

KEY_INPUTS: dict[str, Any] = {
    "dag_id": "images",
    "task_id": "generate",
    "run_id": "scheduled__2026-07-16T00:00:00+00:00",
    "map_index": -1,
    "body": {"prompt": "a fox", "model": "gpt-image-1.5", "gptImageParams": {"quality": "low"}},
}


def test_derive_key_is_stable() -> None:
    same_body_other_order = {
        "gptImageParams": {"quality": "low"},
        "model": "gpt-image-1.5",
        "prompt": "a fox",
    }
    key = derive_key(**KEY_INPUTS)
    assert derive_key(**KEY_INPUTS) == key
    assert derive_key(**{**KEY_INPUTS, "body": same_body_other_order}) == key
    assert key.startswith("airflow-")


@pytest.mark.parametrize(
    "change",
    [
        {"dag_id": "images2"},
        {"task_id": "generate_2"},
        {"run_id": "manual__2026-07-16T00:00:00+00:00"},
        {"map_index": 0},
        {"map_index": 1},
        {"body": {**KEY_INPUTS["body"], "prompt": "a fox "}},
        {"body": {**KEY_INPUTS["body"], "gptImageParams": {"quality": "high"}}},
        {"body": {**KEY_INPUTS["body"], "webhookUrl": "https://hooks.example.com"}},
        {"dag_id": "imagesgenerate", "task_id": ""},  # field boundaries matter
    ],
)
def test_derive_key_differs_for_any_change(change: dict[str, Any]) -> None:
    assert derive_key(**{**KEY_INPUTS, **change}) != derive_key(**KEY_INPUTS)


@pytest.mark.parametrize(
    "inputs",
    [
        KEY_INPUTS,
        {**KEY_INPUTS, "dag_id": "d" * 250, "task_id": "t" * 250, "run_id": "r" * 250, "map_index": 10**6},
        {
            **KEY_INPUTS,
            "dag_id": "bilder_\N{LATIN SMALL LETTER U WITH DIAERESIS}",
            "body": {"prompt": "\N{FOX FACE}" * 1000},
        },
    ],
)
def test_derive_key_is_a_valid_header(inputs: dict[str, Any]) -> None:
    key = derive_key(**inputs)
    assert len(key) <= MAX_KEY_LENGTH
    assert key.isascii()
    assert key.isprintable()
    assert generate_gpt_image(prompt="a fox", idempotency_key=key).headers == {"Idempotency-Key": key}


def test_nth_key_zero_is_the_base() -> None:
    assert nth_key("airflow-abc", 0) == "airflow-abc"
    assert nth_key("k" * 255, 0) == "k" * 255


@pytest.mark.parametrize(
    ("n", "expected"), [(1, "airflow-abc~1"), (2, "airflow-abc~2"), (10, "airflow-abc~10")]
)
def test_nth_key_suffixes(n: int, expected: str) -> None:
    assert nth_key("airflow-abc", n) == expected


@pytest.mark.parametrize("base", ["a", "airflow-" + "0" * 48, "k" * 250, "k" * 254, "k" * 255])
def test_nth_keys_fit_and_are_distinct(base: str) -> None:
    keys = [nth_key(base, n) for n in [*range(0, 150), 999, 1000, 123456789]]
    assert all(len(key) <= MAX_KEY_LENGTH for key in keys)
    assert len(set(keys)) == len(keys)
    for key in keys[1:]:
        generate_gpt_image(prompt="a fox", idempotency_key=key)  # each is a valid key


def test_nth_key_negative_is_rejected() -> None:
    with pytest.raises(ApiframeInvalidParamsError) as exc_info:
        nth_key("k", -1)
    assert exc_info.value.problems == [("n", "must be >= 0")]


# --- the key sequence of one task instance -------------------------------------------------------


def test_the_first_try_submits_under_key_0_and_never_moves_on() -> None:
    keys = KeySequence("base", try_number=1)
    assert keys.key == "base"
    assert not keys.move_on(JobStatus.FAILED)
    assert keys.key == "base"


@pytest.mark.parametrize("status", [JobStatus.FAILED, JobStatus.CANCELLED])
def test_a_retry_moves_past_refused_jobs_at_most_once_per_earlier_try(status: JobStatus) -> None:
    keys = KeySequence("base", try_number=3)
    assert keys.move_on(status)
    assert keys.key == "base~1"
    assert keys.move_on(status)
    assert keys.key == "base~2"
    assert not keys.move_on(status)  # this try's own job was refused: the task fails
    assert keys.key == "base~2"


@pytest.mark.parametrize(
    "status", [JobStatus.QUEUED, JobStatus.PROCESSING, JobStatus.COMPLETED, None], ids=str
)
def test_a_job_that_was_not_refused_keeps_its_key(status: JobStatus | None) -> None:
    keys = KeySequence("base", try_number=5)
    assert not keys.move_on(status)
    assert keys.key == "base"


def test_refused_statuses_are_the_uncharged_endings() -> None:
    assert set(REFUSED) == {JobStatus.FAILED, JobStatus.CANCELLED}


def test_a_try_number_of_0_counts_no_earlier_try() -> None:
    keys = KeySequence("base", try_number=0)
    assert not keys.move_on(JobStatus.FAILED)
