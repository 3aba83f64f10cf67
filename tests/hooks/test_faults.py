"""
The fault table of the README, over real HTTP against the emulator, on both waiting paths: polling in
the worker (``deferrable=False``) and deferred (the trigger's async polling, then ``execute_complete``).

Each fault ends the task the way the table says: transient faults are ridden out and the task succeeds
(one job, one charge); job faults fail it with the API's words or a clear message naming the job. None
escapes as a raw ``KeyError``/``TypeError``, and the trigger always yields exactly one event.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from support import API_KEY, FakeTI

from airflow_provider_apiframe.core.errors import ApiframeError
from airflow_provider_apiframe.emulator.state import CONTENT_POLICY_ERROR
from airflow_provider_apiframe.operators.gpt_image import GptImageGenerateOperator

try:  # Airflow >= 3.2
    from airflow.sdk.exceptions import TaskDeferred
except ImportError:  # Airflow 3.1
    from airflow.exceptions import TaskDeferred  # type: ignore[no-redef,attr-defined,unused-ignore]

JOBS = "/v2/jobs/*"
TIMEOUT = 0.5  # the connection's request timeout, in seconds

# fault id -> the rules injected on the job's status reads (each used ``times`` times, then gone)
TRANSIENT = {
    "429-storm-with-retry-after": [{"action": "status", "status": 429, "retry_after": 2, "times": 4}],
    "503-burst": [{"action": "status", "status": 503, "times": 3}],
    "502-burst": [{"action": "status", "status": 502, "times": 3}],
    "dropped-connections": [{"action": "drop", "times": 3}],
    "slow-past-the-request-timeout": [{"action": "slow", "delay": TIMEOUT * 3, "times": 2}],
    "malformed-json": [{"action": "malformed", "times": 2}],
    "all-of-them": [
        {"action": "status", "status": 429, "retry_after": 1, "times": 1},
        {"action": "status", "status": 503, "times": 1},
        {"action": "drop", "times": 1},
        {"action": "malformed", "times": 1},
        {"action": "slow", "delay": TIMEOUT * 3, "times": 1},
    ],
}
# emulator outcome -> what the task's error says
JOB_FAULTS = {
    "failed": f"ended FAILED: {CONTENT_POLICY_ERROR}",
    "cancelled": "ended CANCELLED",
    "unknown-status": "has status 'ARCHIVED', which this provider does not know",
    "unknown-result": "result has a shape this provider cannot read",
    "expired": "result files were purged",
}


@pytest.fixture
def api(emulator: Any, use_connection: Any) -> Any:
    use_connection(emulator.url, timeout=TIMEOUT, max_retries=6)
    return emulator


async def run_task(deferrable: bool, **kwargs: Any) -> dict[str, Any]:
    """Run a GPT Image task as Airflow would: in the worker, or deferred through its trigger."""
    op = GptImageGenerateOperator(
        task_id="draw",
        prompt=kwargs.pop("prompt", "a fox"),
        deferrable=deferrable,
        poll_interval=0.05,
        **kwargs,
    )
    ti = FakeTI()
    if not deferrable:
        return op.execute({"ti": ti})  # type: ignore[arg-type]
    try:
        return op.execute({"ti": ti})  # type: ignore[arg-type]  # already finished: no deferral
    except TaskDeferred as deferred:
        events = [event.payload async for event in deferred.trigger.run()]
        assert len(events) == 1, "exactly one event, and the trigger is done"
        return op.execute_complete({"ti": ti}, events[0], **(deferred.kwargs or {}))  # type: ignore[arg-type]


def served(api: Any, status: int | None = None) -> list[tuple[str, str, int]]:
    return [r for r in api.state.requests if status is None or r[2] == status]


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferred", "in-worker"])
@pytest.mark.parametrize("fault", TRANSIENT, ids=list(TRANSIENT))
async def test_transient_faults_are_ridden_out(
    api: Any, fault: str, deferrable: bool, retry_waits: list[float]
) -> None:
    api.config.job_seconds = 0.4
    for rule in TRANSIENT[fault]:
        api.inject(method="GET", path=JOBS, **rule)

    result = await run_task(deferrable)

    assert result["status"] == "COMPLETED"
    assert len(result["images"]) == 1
    assert len(api.state.jobs) == 1
    assert len(api.state.charges) == 1, "paid once"
    assert api.state.faults == [], "every injected fault was served"
    if fault.startswith("429"):
        assert retry_waits.count(2.0) == 4, "each Retry-After was honoured"


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferred", "in-worker"])
async def test_a_submission_hit_by_503s_is_retried_with_its_key_and_paid_once(
    api: Any, deferrable: bool
) -> None:
    api.inject(method="POST", path="/v2/images/generate", action="status", status=503, times=2)
    api.inject(method="POST", path="/v2/images/generate", action="drop", times=1)

    result = await run_task(deferrable)

    assert result["status"] == "COMPLETED"
    assert len(api.state.jobs) == 1
    assert len(api.state.charges) == 1


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferred", "in-worker"])
@pytest.mark.parametrize("outcome", JOB_FAULTS, ids=list(JOB_FAULTS))
async def test_job_faults_fail_the_task_with_a_clear_message(
    api: Any, outcome: str, deferrable: bool
) -> None:
    api.decide(outcome=outcome)
    with pytest.raises(ApiframeError) as raised:
        await run_task(deferrable)
    message = str(raised.value)
    assert JOB_FAULTS[outcome] in message
    (job_id,) = api.state.jobs
    assert job_id in message, "the message names the job"
    assert API_KEY not in message
    charged = [job for job, _ in api.state.charges]
    assert charged == ([job_id] if outcome in ("unknown-result", "expired") else []), (
        "only completed jobs cost"
    )


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferred", "in-worker"])
async def test_a_job_that_never_finishes_times_out_naming_it(api: Any, deferrable: bool) -> None:
    api.decide(outcome="never")
    with pytest.raises(ApiframeError) as raised:
        await run_task(deferrable, timeout=1.0)
    (job_id,) = api.state.jobs
    assert f"Apiframe job {job_id}" in str(raised.value)
    assert "did not finish before the deadline" in str(raised.value)


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferred", "in-worker"])
async def test_a_string_result_is_read(api: Any, deferrable: bool) -> None:
    api.decide(outcome="string-result")
    result = await run_task(deferrable)
    assert result["status"] == "COMPLETED"
    assert len(result["images"]) == 1


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferred", "in-worker"])
async def test_an_outage_past_the_deadline_ends_in_a_clean_timeout(api: Any, deferrable: bool) -> None:
    api.config.job_seconds = 30
    api.inject(method="GET", path=JOBS, action="status", status=503, times=None)
    with pytest.raises(ApiframeError) as raised:
        await run_task(deferrable, timeout=1.5)
    message = str(raised.value)
    (job_id,) = api.state.jobs
    assert job_id in message
    assert "deadline" in message
    assert len(served(api, 503)) >= 2, "it kept trying until the deadline"


@pytest.mark.parametrize(
    ("refusal", "expected"),
    [
        ("401-unknown-key", "HTTP 401"),
        ("403-inactive-key", "HTTP 403"),
        ("402-out-of-credits", "HTTP 402"),
    ],
)
def test_permanent_refusals_fail_at_once_with_the_apis_words(
    emulator: Any, monkeypatch: pytest.MonkeyPatch, refusal: str, expected: str
) -> None:
    key = {"401-unknown-key": "afk_nobody", "403-inactive-key": "afk_inactive"}.get(refusal, API_KEY)
    emulator.config.inactive_keys = ("afk_inactive",)
    if refusal == "402-out-of-credits":
        emulator.state.credits = 0
    monkeypatch.setenv(
        "AIRFLOW_CONN_APIFRAME_DEFAULT",
        json.dumps({"conn_type": "apiframe", "password": key, "host": emulator.url}),
    )
    op = GptImageGenerateOperator(task_id="draw", prompt="a fox", deferrable=False, poll_interval=0.05)
    with pytest.raises(ApiframeError, match=expected) as raised:
        op.execute({"ti": FakeTI()})  # type: ignore[arg-type]
    assert "[request id req_" in str(raised.value), "the API's words and its request id"
    assert key not in str(raised.value)
    assert served(emulator) == [("POST", "/v2/images/generate", int(expected[-3:]))], "tried once"
    assert emulator.state.jobs == {}
