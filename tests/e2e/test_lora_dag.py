"""The LoRA example DAG end to end: ``airflow dags test`` against the emulator over real HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import logged_text, run_dag

from airflow_provider_apiframe.emulator import Emulator

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("deferrable", ["true"])  # in the worker: tests/operators/test_lora_operator.py
def test_apiframe_lora_trains_on_rendered_images_and_draws_with_the_lora(
    airflow_env: dict[str, str], emulator: Emulator, output: Path, deferrable: str
) -> None:
    credits = emulator.state.credits
    log = run_dag("apiframe_lora", airflow_env, emulator, output, APIFRAME_EXAMPLE_DEFERRABLE=deferrable)

    (lora,) = emulator.state.loras.loras.values()
    assert lora.image_count == 15
    assert lora.name.startswith("Pip the paper fox ~")
    assert lora.status(float("inf")) == "READY"
    (training,) = output.glob("lora/*/training")
    assert len(list(training.iterdir())) == 15
    flux = [job for job in emulator.state.jobs.values() if job.model == "flux-lora"]
    assert len(flux) == 1
    assert flux[0].body["fluxLoraParams"]["loraId"] == lora.id
    assert flux[0].body["prompt"].startswith(f"afx{lora.id[:6]}, ")
    assert [path for _, path, status in emulator.state.requests if status == 400] == []
    assert credits - emulator.state.credits >= 2
    assert "Training Apiframe LoRA" in log + logged_text(airflow_env)
