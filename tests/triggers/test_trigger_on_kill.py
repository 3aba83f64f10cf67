"""``on_kill`` of the triggers (Airflow 3.3+): the user killed the deferred task; its work goes on."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from airflow_provider_apiframe.triggers.batch import ApiframeBatchTrigger
from airflow_provider_apiframe.triggers.job import ApiframeJobTrigger
from airflow_provider_apiframe.triggers.lora import ApiframeLoraTrigger


def said(trigger: object, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> str:
    caplog.set_level(logging.INFO)
    asyncio.run(trigger.on_kill())  # type: ignore[attr-defined]
    out, err = capfd.readouterr()
    return caplog.text + out + err


def test_a_killed_job_trigger_names_its_job_and_says_a_retry_reattaches(
    caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    text = said(ApiframeJobTrigger("job-42", deadline=time.time() + 60), caplog, capfd)

    assert "Apiframe job job-42 was running" in text
    assert "no cancel endpoint" in text
    assert "re-attaches to it rather than paying again" in text


def test_a_killed_lora_trigger_names_its_training(
    caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    text = said(ApiframeLoraTrigger("lora-7", deadline=time.time() + 60), caplog, capfd)

    assert "Apiframe LoRA training lora-7 was running" in text


def test_a_killed_batch_trigger_names_its_jobs_ten_at_most(
    caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    ids = [f"job-{n}" for n in range(25)]

    text = said(ApiframeBatchTrigger(ids, deadline=time.time() + 60), caplog, capfd)

    assert "Apiframe jobs job-0, job-1" in text
    assert "job-9 and 15 more were running" in text
    assert "job-10" not in text
    assert "re-attaches to them rather than paying again" in text
