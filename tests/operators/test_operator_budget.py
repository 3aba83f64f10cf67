"""``max_credits`` on the job operators: the worst case refused before anything is sent, and reported."""

from __future__ import annotations

from typing import Any

import pytest
from support import BASE_URL, FakeTI

from airflow_provider_apiframe._compat import AirflowFailException
from airflow_provider_apiframe.hooks import apiframe
from airflow_provider_apiframe.operators.gpt_image import GptImageGenerateOperator
from airflow_provider_apiframe.operators.video import ApiframeVideoGenerateOperator
from airflow_provider_apiframe.triggers.job import JobEvent

try:  # Airflow >= 3.2
    from airflow.sdk.exceptions import TaskDeferred
except ImportError:  # Airflow 3.1
    from airflow.exceptions import TaskDeferred  # type: ignore[no-redef,attr-defined,unused-ignore]


def fast(**kwargs: Any) -> dict[str, Any]:
    return {"task_id": "draw", "deferrable": False, "poll_interval": 0.05, "timeout": 60, **kwargs}


def posts(api: Any) -> list[str]:
    return [path for method, path, _ in api.state.requests if method == "POST"]


def test_a_request_over_budget_fails_at_once_without_retries_and_nothing_is_sent(api: Any) -> None:
    op = GptImageGenerateOperator(**fast(prompt="a cat", number_of_images=4, max_credits=50))

    with pytest.raises(AirflowFailException) as caught:
        op.execute({"ti": FakeTI()})

    assert str(caught.value) == (
        "max_credits: the request may cost up to 96 credits, over the budget of 50 "
        "(gpt-image-1.5 is per-output: 24 (costMax) x 4 (number_of_images)); nothing was submitted"
    )
    assert posts(api) == []
    assert api.state.ledger.charges == []


def test_a_request_within_budget_reports_its_worst_case_beside_what_it_spent(
    api: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    op = GptImageGenerateOperator(**fast(prompt="a cat", number_of_images=2, max_credits=100))

    result = op.execute({"ti": FakeTI()})
    logged = capfd.readouterr().out

    assert result["estimated_credits"] == 48
    assert result["credit_cost"] == 12  # 2 images of quality "auto", as the emulator charges
    assert "may cost up to 48 credits (gpt-image-1.5 is per-output" in logged
    assert (
        f"Apiframe job {result['job_id']} spent 12 credit(s); its worst case was 48, the budget 100" in logged
    )


def test_without_a_budget_the_catalogue_is_not_read(api: Any) -> None:
    result = GptImageGenerateOperator(**fast(prompt="a cat")).execute({"ti": FakeTI()})

    assert result["estimated_credits"] is None
    assert [path for _, path, _ in api.state.requests if path == "/v2/models"] == []


def test_a_video_is_budgeted_per_requested_second(api: Any) -> None:
    within = ApiframeVideoGenerateOperator(
        **fast(model="kling-2.6", prompt="waves", model_params={"duration": 5}, max_credits=20)
    )
    over = ApiframeVideoGenerateOperator(**fast(model="kling-2.6", prompt="waves", max_credits=20))

    assert within.execute({"ti": FakeTI()})["estimated_credits"] == 20
    with pytest.raises(AirflowFailException, match=r"up to 40 credits.*x 10 s \(no duration given"):
        over.execute({"ti": FakeTI()})
    assert posts(api) == ["/v2/videos/generate"]


def test_the_worst_case_goes_with_the_deferral_and_comes_back_in_the_result(api: Any) -> None:
    op = GptImageGenerateOperator(task_id="draw", prompt="a cat", max_credits=30, poll_interval=0.05)
    ti = FakeTI()
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({"ti": ti})
    assert deferred.value.kwargs == {"estimated_credits": 24}
    job = op.hook.wait_for_job(ti.xcom_pull(key="job_id"), timeout=30, poll_interval=0.05)

    resumed = GptImageGenerateOperator(task_id="draw", prompt="a cat", max_credits=30)
    event = JobEvent.for_job(job, deferred_on_try=1).model_dump(mode="json")
    result = resumed.execute_complete({"ti": ti}, event, **deferred.value.kwargs)

    assert result["job_id"] == job.id
    assert result["estimated_credits"] == 24
    assert result["credit_cost"] == 6


def test_a_model_the_catalogue_does_not_price_fails_when_a_budget_is_set(
    connection: str, requests_mock: Any
) -> None:
    apiframe._CATALOGUES.pop(BASE_URL, None)
    requests_mock.get(f"{BASE_URL}/v2/models", json={"models": []})
    op = GptImageGenerateOperator(**fast(prompt="a cat", max_credits=100))

    with pytest.raises(
        AirflowFailException, match=r"the model catalogue does not price 'gpt-image-1\.5' \(no entry\)"
    ):
        op.execute({"ti": FakeTI()})

    assert [r.method for r in requests_mock.request_history] == ["GET"]
    apiframe._CATALOGUES.pop(BASE_URL, None)


def test_max_credits_is_checked_when_the_dag_is_parsed() -> None:
    with pytest.raises(ValueError, match=r"max_credits: got -5; allowed: a number of credits >= 0, or None"):
        GptImageGenerateOperator(task_id="draw", prompt="a cat", max_credits=-5)
