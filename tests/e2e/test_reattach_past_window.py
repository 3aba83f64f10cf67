"""Real Airflow (``airflow dags test``): a retry after the API's 24 h key window re-attaches on 3.3+."""

from __future__ import annotations

import pytest
from support import ROOT, STATE_STORE, run_dag

from airflow_provider_apiframe.emulator import Emulator

pytestmark = pytest.mark.e2e


def test_a_retry_past_the_key_window_reattaches_through_the_task_state_store(
    airflow_env: dict[str, str], emulator: Emulator
) -> None:
    # The first try submits, then its status check is refused (a permanent 404): the try fails.
    # By the retry the key no longer replays (the window is 0 s here, 24 h at Apiframe).
    emulator.config.idempotency_seconds = 0.0
    emulator.inject(action="status", method="GET", path="/v2/jobs/*", status=404, times=1)

    log = run_dag(
        "reattach_after_failed_try",
        airflow_env,
        emulator,
        AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "tests" / "dags"),
    )

    state = emulator.state
    submissions = [r for r in state.requests if r[:2] == ("POST", "/v2/images/generate")]
    if STATE_STORE:
        assert len(submissions) == 1, "the retry read the job id from the task state store"
        assert len(state.jobs) == 1
        assert len(state.charges) == 1
        assert "recorded by an earlier try of this task" in log
    else:  # Airflow 3.1 and 3.2 have no task state store: the key window is the limit (documented)
        assert len(submissions) == 2
        assert len(state.charges) == 2
