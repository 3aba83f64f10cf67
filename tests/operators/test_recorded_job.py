"""The job id kept in the task state store (Airflow 3.3+): a retry re-attaches past the 24 h key window."""

from __future__ import annotations

from typing import Any

import airflow.sdk
import pytest
from support import FakeTI
from test_operator import FakeApi, TaskDeferred, defer, make_op

from airflow_provider_apiframe._compat import AirflowFailException
from airflow_provider_apiframe.operators.recorded_job import STORE_KEY


class FakeStateStore:
    """``context["task_state_store"]`` as Airflow 3.3 hands it to a task: get, set with a retention."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.retentions: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def set(self, key: str, value: Any, *, retention: Any = None) -> None:
        assert value is not None
        self.values[key] = value
        self.retentions[key] = retention


def run_with(op: Any, ti: FakeTI, store: FakeStateStore | None) -> dict[str, Any]:
    context: dict[str, Any] = {"ti": ti}
    if store is not None:
        context["task_state_store"] = store
    return op.execute(context)  # type: ignore[no-any-return]


def defer_with(op: Any, ti: FakeTI, store: FakeStateStore) -> Any:
    with pytest.raises(TaskDeferred) as info:
        run_with(op, ti, store)
    return info.value


def window_passed(api: FakeApi) -> None:
    """The API forgets every ``Idempotency-Key`` (24 h have passed): a replay makes a new job."""
    api.by_key.clear()


def test_the_job_is_recorded_as_soon_as_it_exists(connection: str, requests_mock: Any) -> None:
    FakeApi(requests_mock, ["QUEUED"])
    store = FakeStateStore()

    deferred = defer_with(make_op(), FakeTI(), store)

    recorded = store.values[STORE_KEY]
    assert recorded["job_id"] == deferred.trigger.job_id == "job-1"
    assert recorded["request"].startswith("airflow-")
    never = getattr(airflow.sdk, "NEVER_EXPIRE", None)  # Airflow 3.3+, where the store exists
    assert store.retentions[STORE_KEY] is never, "kept whatever the deployment's default retention"


def test_a_retry_past_the_key_window_reattaches_to_the_recorded_job(
    connection: str, requests_mock: Any
) -> None:
    api = FakeApi(requests_mock, ["QUEUED"], ["QUEUED"])
    store = FakeStateStore()
    first = FakeTI()
    defer_with(make_op(), first, store)
    window_passed(api)
    api.jobs["job-1"] = ["PROCESSING"]

    deferred = defer_with(make_op(), first.retry(), store)

    assert deferred.trigger.job_id == "job-1"
    assert len(api.posts) == 1, "nothing submitted again: nothing paid twice"
    assert list(api.jobs) == ["job-1"]


def test_without_a_state_store_the_key_window_is_the_limit(connection: str, requests_mock: Any) -> None:
    # Airflow 3.1 and 3.2: no task state store; past the 24 h window the API makes a new job.
    api = FakeApi(requests_mock, ["QUEUED"], ["QUEUED"])
    first = FakeTI()
    defer(make_op(), first)
    window_passed(api)

    assert defer(make_op(), first.retry()).trigger.job_id == "job-2"


def test_a_completed_recorded_job_is_finished_without_waiting(connection: str, requests_mock: Any) -> None:
    api = FakeApi(requests_mock, ["QUEUED"])
    store = FakeStateStore()
    first = FakeTI()
    defer_with(make_op(), first, store)
    window_passed(api)
    api.jobs["job-1"] = ["COMPLETED"]

    result = run_with(make_op(), first.retry(), store)

    assert result["job_id"] == "job-1"
    assert result["status"] == "COMPLETED"
    assert len(api.posts) == 1


def test_a_record_for_another_request_is_ignored(connection: str, requests_mock: Any) -> None:
    # The DAG's prompt changed, then the task was cleared: the new request is a new job.
    api = FakeApi(requests_mock, ["QUEUED"], ["QUEUED"])
    store = FakeStateStore()
    first = FakeTI()
    defer_with(make_op(), first, store)

    deferred = defer_with(make_op(prompt="a watercolor owl"), first.retry(), store)

    assert deferred.trigger.job_id == "job-2"
    assert len(api.posts) == 2
    assert store.values[STORE_KEY]["job_id"] == "job-2"


@pytest.mark.parametrize("ended", ["FAILED", "CANCELLED"])
def test_an_uncharged_recorded_job_is_submitted_anew(connection: str, requests_mock: Any, ended: str) -> None:
    api = FakeApi(requests_mock, ["QUEUED"], ["QUEUED"])
    store = FakeStateStore()
    first = FakeTI()
    defer_with(make_op(), first, store)
    api.fail("job-1", ended)

    deferred = defer_with(make_op(), first.retry(), store)

    key = api.keys[0]
    assert api.keys == [key, key, f"{key}~1"], "the key sequence moves on, as without a store"
    assert deferred.trigger.job_id == "job-2"
    assert store.values[STORE_KEY]["job_id"] == "job-2"


def expire(requests_mock: Any, api: FakeApi, how: str) -> None:
    if how == "expired":
        api.payload_overrides = {"expired": True}
        api.jobs["job-1"] = ["COMPLETED"]
    else:  # the API no longer knows the job
        requests_mock.get(
            "https://api.apiframe.test/v2/jobs/job-1", status_code=404, json={"error": "Job not found"}
        )


@pytest.mark.parametrize("how", ["expired"])
def test_a_recorded_job_whose_result_is_gone_fails_without_paying_again(
    connection: str, requests_mock: Any, how: str
) -> None:
    api = FakeApi(requests_mock, ["QUEUED"])
    store = FakeStateStore()
    first = FakeTI()
    defer_with(make_op(), first, store)
    window_passed(api)
    expire(requests_mock, api, how)

    with pytest.raises(AirflowFailException) as info:
        run_with(make_op(), first.retry(), store)

    message = str(info.value)
    assert "job-1" in message
    assert "renew_expired=True" in message
    assert len(api.posts) == 1


@pytest.mark.parametrize("how", ["expired"])
def test_renew_expired_pays_for_a_new_job_under_a_new_key(
    connection: str, requests_mock: Any, how: str
) -> None:
    api = FakeApi(requests_mock, ["QUEUED"], ["QUEUED"])
    store = FakeStateStore()
    first = FakeTI()
    defer_with(make_op(), first, store)
    expire(requests_mock, api, how)  # within the key window: the first key would replay job-1

    deferred = defer_with(make_op(renew_expired=True), first.retry(), store)

    first_key, renewal = api.keys
    assert renewal.startswith(first_key + "~renew-")
    assert deferred.trigger.job_id == "job-2"
    assert store.values[STORE_KEY] == {"job_id": "job-2", "request": first_key}


def test_a_killed_task_says_its_job_goes_on_and_that_a_retry_reattaches(
    connection: str, requests_mock: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    FakeApi(requests_mock, ["QUEUED"])
    op = make_op()
    op.on_kill()  # killed before any job existed: nothing to say
    assert "no cancel endpoint" not in capfd.readouterr().out
    defer_with(op, FakeTI(), FakeStateStore())

    op.on_kill()

    said = capfd.readouterr().out
    assert "Apiframe job job-1 was running" in said
    assert "will be charged" in said
    assert "re-attaches to it rather than paying again" in said


def test_a_recorded_job_the_api_no_longer_knows_is_submitted_under_its_key(
    connection: str, requests_mock: Any
) -> None:
    api = FakeApi(requests_mock, ["QUEUED"], ["QUEUED"])
    store = FakeStateStore()
    first = FakeTI()
    defer_with(make_op(), first, store)
    window_passed(api)
    expire(requests_mock, api, "unknown")

    deferred = defer_with(make_op(), first.retry(), store)

    assert deferred.trigger.job_id == "job-2"
    assert api.keys[1] == api.keys[0], "the request's own key, as without a record"
