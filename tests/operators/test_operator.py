"""ApiframeJobOperator / GptImageGenerateOperator: validation, submission, idempotency, waiting, results."""

from __future__ import annotations

import inspect
import json
import logging
import re
import time
from datetime import timedelta
from typing import Any

import jinja2
import pytest
from support import API_KEY, RESULT_KEYS, FakeClock, FakeTI, job_body

from airflow_provider_apiframe._compat import AirflowFailException
from airflow_provider_apiframe.core.errors import (
    ApiframeAuthenticationError,
    ApiframeError,
    ApiframeInsufficientCreditsError,
    ApiframeJobError,
    ApiframeJobTimeoutError,
)
from airflow_provider_apiframe.core.media import guess_from_url
from airflow_provider_apiframe.core.models import Job
from airflow_provider_apiframe.core.outcomes import timeout_message
from airflow_provider_apiframe.operators.gpt_image import GptImageGenerateOperator
from airflow_provider_apiframe.triggers.job import ApiframeJobTrigger, JobEvent

try:  # Airflow >= 3.2
    from airflow.sdk.exceptions import TaskDeferred
except ImportError:  # Airflow 3.1
    from airflow.exceptions import TaskDeferred  # type: ignore[no-redef,attr-defined,unused-ignore]

BASE_URL = "https://api.apiframe.test"
GENERATE_URL = f"{BASE_URL}/v2/images/generate"
JOB_URL = re.compile(re.escape(BASE_URL) + r"/v2/jobs/[^/?]+$")
CONTENT_POLICY = "Request rejected by the content policy"

# --- fakes ------------------------------------------------------------------------------------------


def job_payload(job_id: str, status: str, **overrides: Any) -> dict[str, Any]:
    """A ``GET /v2/jobs/{id}`` body as the API sends it."""
    ended_badly = status in ("FAILED", "CANCELLED")
    fields = {
        "id": job_id,
        "progress": 100 if status == "COMPLETED" else (None if ended_badly else 0),
        "error": CONTENT_POLICY if status == "FAILED" else None,
    }
    return job_body(status, **(fields | overrides))


class FakeApi:
    """
    requests-mock routes for ``POST /v2/images/generate`` and ``GET /v2/jobs/{id}``.

    Idempotency keys are replayed like the API does. The n-th new job answers its polls with
    ``plans[n]`` (the last plan is reused), one status per poll, repeating the last status; the
    submission's answer takes the first one (a job can be over that fast in a fake).
    ``jobs[job_id]`` can be rewritten between tries to make a job end differently.
    """

    def __init__(self, mocker: Any, *plans: list[str], **payload_overrides: Any):
        self.plans = [list(plan) for plan in plans] or [["QUEUED"]]
        self.payload_overrides = payload_overrides
        self.by_key: dict[str | None, str] = {}
        self.jobs: dict[str, list[str]] = {}
        mocker.post(GENERATE_URL, status_code=202, json=self._accept)
        mocker.get(JOB_URL, json=self._job)
        self.mocker = mocker

    def _accept(self, request: Any, context: Any) -> dict[str, Any]:
        key = request.headers.get("Idempotency-Key")
        if key in self.by_key:
            job_id = self.by_key[key]
            return {"jobId": job_id, "status": self.jobs[job_id][0]}
        job_id = f"job-{len(self.jobs) + 1}"
        self.jobs[job_id] = list(self.plans[min(len(self.jobs), len(self.plans) - 1)])
        self.by_key[key] = job_id
        statuses = self.jobs[job_id]
        return {"jobId": job_id, "status": statuses.pop(0) if len(statuses) > 1 else statuses[0]}

    def _job(self, request: Any, context: Any) -> dict[str, Any]:
        job_id = request.path.rsplit("/", 1)[-1]
        statuses = self.jobs[job_id]
        status = statuses.pop(0) if len(statuses) > 1 else statuses[0]
        return job_payload(job_id, status, **self.payload_overrides)

    def fail(self, job_id: str, status: str = "FAILED") -> None:
        self.jobs[job_id] = [status]

    @property
    def posts(self) -> list[Any]:
        return [r for r in self.mocker.request_history if r.method == "POST"]

    @property
    def gets(self) -> list[Any]:
        return [r for r in self.mocker.request_history if r.method == "GET"]

    @property
    def keys(self) -> list[str]:
        return [r.headers.get("Idempotency-Key") for r in self.posts]


def make_op(**kwargs: Any) -> GptImageGenerateOperator:
    kwargs.setdefault("task_id", "draw")
    kwargs.setdefault("prompt", "a watercolor fox")
    return GptImageGenerateOperator(**kwargs)


def run(op: GptImageGenerateOperator, ti: FakeTI | None = None) -> dict[str, Any]:
    return op.execute({"ti": ti or FakeTI()})  # type: ignore[arg-type]


def defer(op: GptImageGenerateOperator, ti: FakeTI) -> TaskDeferred:
    with pytest.raises(TaskDeferred) as info:
        op.execute({"ti": ti})  # type: ignore[arg-type]
    return info.value


def event_for(payload: dict[str, Any]) -> dict[str, Any]:
    """The event the trigger fires for a job that ended, as it reaches ``execute_complete``."""
    return JobEvent.for_job(Job.model_validate(payload)).model_dump(mode="json")


@pytest.fixture
def no_sleep(clock: FakeClock) -> list[float]:
    """Replace the worker's poll sleep with a recorder that returns at once (a fake clock)."""
    return clock.sleeps


# --- validation, before anything is sent -----------------------------------------------------------

EVENTS = ["'progress'", "'completed'", "'failed'"]
# (arguments, field named in the message, fragments saying what is allowed); "http(s)" means
# "names both schemes", however the message spells it.
INVALID = {
    "aspect_ratio": ({"aspect_ratio": "4:3"}, "aspect_ratio", ["'1:1'", "'3:2'", "'2:3'"]),
    "quality": ({"quality": "ultra"}, "quality", ["'low'", "'medium'", "'high'", "'auto'"]),
    "background": ({"background": "none"}, "background", ["'auto'", "'transparent'", "'opaque'"]),
    "output_format": ({"output_format": "gif"}, "output_format", ["'png'", "'jpeg'", "'webp'"]),
    "input_fidelity": ({"input_fidelity": "medium"}, "input_fidelity", ["'low'", "'high'"]),
    "number_of_images=0": ({"number_of_images": 0}, "number_of_images", ["1 to 10"]),
    "number_of_images=11": ({"number_of_images": 11}, "number_of_images", ["1 to 10"]),
    "number_of_images='11'": ({"number_of_images": "11"}, "number_of_images", ["1 to 10"]),
    "number_of_images=True": ({"number_of_images": True}, "number_of_images", ["1 to 10"]),
    "prompt-empty": ({"prompt": ""}, "prompt", ["1 to 2000"]),
    "prompt-2001": ({"prompt": "x" * 2001}, "prompt", ["2000"]),
    "input_images": ({"input_images": "ftp://x"}, "input_images", ["http(s)"]),
    "input_images-2nd": (
        {"input_images": ["https://ok.test/a.png", "not a url"]},
        "input_images",
        ["http(s)"],
    ),
    "webhook_url": ({"webhook_url": "nope"}, "webhook_url", ["http(s)"]),
    "webhook_events-empty": ({"webhook_events": []}, "webhook_events", ["non-empty list", *EVENTS]),
    "webhook_events-bad": ({"webhook_events": ["done"]}, "webhook_events", EVENTS),
    "idempotency_key": ({"idempotency_key": "nightly\nfox"}, "idempotency_key", ["printable ASCII"]),
}


@pytest.mark.parametrize(("kwargs", "field", "allowed"), list(INVALID.values()), ids=list(INVALID))
def test_invalid_argument_fails_the_task_before_any_request(
    connection: str, requests_mock: Any, kwargs: dict[str, Any], field: str, allowed: list[str]
) -> None:
    FakeApi(requests_mock)
    ti = FakeTI()

    with pytest.raises(AirflowFailException) as info:
        run(make_op(**kwargs), ti)

    message = str(info.value)
    expected = [a for a in allowed if a != "http(s)"] + (["http", "https"] if "http(s)" in allowed else [])
    assert f"- {field}" in message, message
    missing = [fragment for fragment in expected if fragment not in message]
    assert not missing, f"{message!r} does not say what is allowed: missing {missing}"
    assert "nothing was sent" in message
    assert requests_mock.call_count == 0
    assert ti.pushed == []


def test_every_problem_is_listed_at_once(connection: str, requests_mock: Any) -> None:
    with pytest.raises(AirflowFailException) as info:
        run(make_op(prompt="", quality="best", number_of_images=42, webhook_url="nope"))

    message = str(info.value)
    for field in ("prompt", "quality", "number_of_images", "webhook_url"):
        assert f"- {field}:" in message
    assert requests_mock.call_count == 0


def test_invalid_argument_fails_even_without_a_connection(requests_mock: Any, monkeypatch: Any) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_APIFRAME_DEFAULT", raising=False)
    with pytest.raises(AirflowFailException, match="aspect_ratio"):
        run(make_op(aspect_ratio="16:9"))
    assert requests_mock.call_count == 0


@pytest.mark.parametrize("name", ["poll_interval", "timeout"])
@pytest.mark.parametrize(
    "value", [0, -1, 0.0, timedelta(0), timedelta(seconds=-5), "5", None, True, float("inf"), float("nan")]
)
def test_bad_poll_interval_or_timeout_is_rejected_at_construction(name: str, value: Any) -> None:
    with pytest.raises(ValueError, match=name) as info:
        make_op(**{name: value})
    assert not isinstance(info.value, AirflowFailException)


def test_poll_interval_and_timeout_accept_numbers_and_timedeltas() -> None:
    op = make_op(poll_interval=timedelta(seconds=3), timeout=timedelta(minutes=5))
    assert (op.poll_interval, op.timeout) == (3.0, 300.0)
    op = make_op(poll_interval=2, timeout=90.5)
    assert (op.poll_interval, op.timeout) == (2.0, 90.5)
    assert isinstance(op.poll_interval, float)


# --- templating and the request body ---------------------------------------------------------------


def test_every_argument_is_a_template_field() -> None:
    arguments = set(inspect.signature(GptImageGenerateOperator.__init__).parameters) - {"self", "kwargs"}
    assert arguments == {
        "prompt",
        "aspect_ratio",
        "quality",
        "background",
        "number_of_images",
        "output_format",
        "input_fidelity",
        "input_images",
        "webhook_url",
        "webhook_events",
    }
    assert arguments | {"idempotency_key"} <= set(GptImageGenerateOperator.template_fields)
    assert len(set(GptImageGenerateOperator.template_fields)) == len(GptImageGenerateOperator.template_fields)


def test_rendered_strings_are_validated_and_sent_with_the_right_types(
    connection: str, requests_mock: Any
) -> None:
    api = FakeApi(requests_mock, ["COMPLETED"])
    op = make_op(
        prompt="{{ params.subject }} at {{ ds }}",
        aspect_ratio="{{ params.ratio }}",
        quality="high",
        background="transparent",
        number_of_images="{{ params.n }}",
        output_format="png",
        input_fidelity="high",
        input_images="{{ params.source }}",
        webhook_url="https://hooks.example.test/{{ ds }}",
        webhook_events="completed",
        idempotency_key="fox-{{ ds }}",
    )
    context = {
        "ds": "2026-11-24",
        "params": {"subject": "a fox", "ratio": "3:2", "n": 4, "source": "https://img.test/in.png"},
    }

    op.render_template_fields(context, jinja_env=jinja2.Environment())  # type: ignore[arg-type]
    assert op.number_of_images == "4"  # templating renders strings
    run(op)

    (post,) = api.posts
    assert post.json() == {
        "prompt": "a fox at 2026-11-24",
        "model": "gpt-image-1.5",
        "webhookUrl": "https://hooks.example.test/2026-11-24",
        "webhookEvents": ["completed"],
        "gptImageParams": {
            "aspect_ratio": "3:2",
            "quality": "high",
            "background": "transparent",
            "number_of_images": 4,
            "output_format": "png",
            "input_fidelity": "high",
            "input_images": ["https://img.test/in.png"],
        },
    }
    assert post.headers["Idempotency-Key"] == "fox-2026-11-24"
    assert "idempotency_key" not in post.text


def test_unset_arguments_are_not_sent(connection: str, requests_mock: Any) -> None:
    api = FakeApi(requests_mock, ["COMPLETED"])
    run(make_op(prompt="a watercolor fox"))

    (post,) = api.posts
    assert post.json() == {"prompt": "a watercolor fox", "model": "gpt-image-1.5"}
    assert post.headers["Content-Type"] == "application/json"


def test_a_rendered_invalid_value_fails_without_a_request(connection: str, requests_mock: Any) -> None:
    op = make_op(number_of_images="{{ params.n }}")
    op.render_template_fields({"params": {"n": 12}}, jinja_env=jinja2.Environment())  # type: ignore[arg-type]

    with pytest.raises(AirflowFailException, match=r"number_of_images: got '12'; allowed: .*1 to 10"):
        run(op)
    assert requests_mock.call_count == 0


# --- deferrable (default) ---------------------------------------------------------------------------


def test_defers_to_the_trigger_after_pushing_the_job_id(connection: str, requests_mock: Any) -> None:
    api = FakeApi(requests_mock, ["QUEUED"])
    ti = FakeTI()
    op = make_op(poll_interval=7, timeout=timedelta(minutes=10))

    before = time.time()
    deferred = defer(op, ti)
    after = time.time()

    trigger = deferred.trigger
    assert isinstance(trigger, ApiframeJobTrigger)
    assert trigger.job_id == "job-1"
    assert trigger.apiframe_conn_id == "apiframe_default"
    assert trigger.poll_interval == 7.0
    assert before + 600 <= trigger.deadline <= after + 600
    assert deferred.method_name == "execute_complete"
    assert deferred.timeout is None
    assert trigger.deferred_on_try == 1, "the try that deferred goes with the trigger, into its event"
    # The push happened before TaskDeferred propagated, i.e. before deferring.
    assert ti.pushed == [("job_id", "job-1")]
    assert len(api.posts) == 1
    assert api.gets == [], "the worker only validates and submits: the 202 said QUEUED"


def test_deferral_uses_the_operator_connection_id(requests_mock: Any, monkeypatch: Any) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_APIFRAME_DEFAULT", raising=False)
    conn = {"conn_type": "apiframe", "password": API_KEY, "host": BASE_URL}
    monkeypatch.setenv("AIRFLOW_CONN_APIFRAME_STUDIO", json.dumps(conn))
    FakeApi(requests_mock, ["PROCESSING"])

    deferred = defer(make_op(apiframe_conn_id="apiframe_studio"), FakeTI())

    assert deferred.trigger.apiframe_conn_id == "apiframe_studio"
    assert deferred.trigger.serialize()[1]["apiframe_conn_id"] == "apiframe_studio"


def test_serialized_trigger_rebuilds_it_and_holds_no_secret(connection: str, requests_mock: Any) -> None:
    FakeApi(requests_mock, ["QUEUED"])
    trigger = defer(make_op(poll_interval=3), FakeTI()).trigger

    classpath, kwargs = trigger.serialize()

    assert classpath == "airflow_provider_apiframe.triggers.job.ApiframeJobTrigger"
    assert set(kwargs) == {"job_id", "deadline", "apiframe_conn_id", "poll_interval", "deferred_on_try"}
    assert API_KEY not in json.dumps(kwargs)
    assert API_KEY not in repr(trigger.__dict__)
    rebuilt = ApiframeJobTrigger(**kwargs)
    assert rebuilt.serialize() == (classpath, kwargs)


def test_job_already_completed_at_first_check_returns_without_deferring(
    connection: str, requests_mock: Any
) -> None:
    api = FakeApi(requests_mock, ["COMPLETED"])
    ti = FakeTI()

    result = run(make_op(), ti)

    assert result == {
        "job_id": "job-1",
        "status": "COMPLETED",
        "model": "gpt-image-1.5",
        "media": [
            {"url": "https://cdn.apiframe.test/job-1-1.webp", "kind": "image", "content_type": "image/webp"}
        ],
        "images": ["https://cdn.apiframe.test/job-1-1.webp"],
        "videos": [],
        "audio": [],
        "credit_cost": 10,
        "progress": 100,
        "files": [],
        "estimated_credits": None,
    }
    assert json.loads(json.dumps(result)) == result
    assert ti.pushed == [("job_id", "job-1")]
    assert (len(api.posts), len(api.gets)) == (1, 1)


def test_job_failed_at_first_check_on_try_1_fails_with_the_api_error(
    connection: str, requests_mock: Any
) -> None:
    api = FakeApi(requests_mock, ["FAILED"])
    ti = FakeTI(try_number=1)

    with pytest.raises(ApiframeJobError) as info:
        run(make_op(), ti)

    assert CONTENT_POLICY in str(info.value)
    assert "job-1" in str(info.value)
    assert info.value.job_id == "job-1"
    assert len(api.posts) == 1  # no new key on the first try
    assert ti.pushed == [("job_id", "job-1")]


def test_job_cancelled_at_first_check_fails_without_a_reason_from_the_api(
    connection: str, requests_mock: Any
) -> None:
    FakeApi(requests_mock, ["CANCELLED"])
    with pytest.raises(ApiframeJobError, match="job-1 ended CANCELLED: the API gave no reason"):
        run(make_op())


def test_unknown_status_at_first_check_is_a_clear_error(connection: str, requests_mock: Any) -> None:
    FakeApi(requests_mock, ["ARCHIVED"])
    with pytest.raises(
        ApiframeJobError, match=r"'ARCHIVED'.*QUEUED, PROCESSING, COMPLETED, FAILED, CANCELLED"
    ):
        run(make_op())


# --- execute_complete ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("result", "images"),
    [
        pytest.param("https://cdn.apiframe.test/a.png", ["https://cdn.apiframe.test/a.png"], id="url-string"),
        pytest.param(
            {"images": ["https://cdn.apiframe.test/a-1.png", "https://cdn.apiframe.test/a-2.png"]},
            ["https://cdn.apiframe.test/a-1.png", "https://cdn.apiframe.test/a-2.png"],
            id="images-list",
        ),
    ],
)
def test_execute_complete_success_returns_the_result(result: Any, images: list[str]) -> None:
    event = event_for(job_payload("job-7", "COMPLETED", result=result, creditCost=20))
    assert event["status"] == "success"

    value = make_op().execute_complete({"ti": FakeTI()}, event)  # type: ignore[arg-type]

    assert set(value) == RESULT_KEYS
    assert value == {
        "job_id": "job-7",
        "status": "COMPLETED",
        "model": "gpt-image-1.5",
        "media": [{"url": url, "kind": "image", "content_type": guess_from_url(url)} for url in images],
        "images": images,
        "videos": [],
        "audio": [],
        "credit_cost": 20,
        "progress": 100,
        "files": [],
        "estimated_credits": None,
    }
    assert json.loads(json.dumps(value)) == value


def test_execute_complete_reads_a_hand_written_success_event() -> None:
    event = {
        "status": "success",
        "job_id": "job-7",
        "message": "done",
        "job": {
            "id": "job-7",
            "status": "COMPLETED",
            "model": "gpt-image-1.5",
            "result": "https://c.test/x.webp",
        },
    }
    value = make_op().execute_complete({"ti": FakeTI()}, event)  # type: ignore[arg-type]
    assert value["images"] == ["https://c.test/x.webp"]
    assert value["credit_cost"] is None
    assert set(value) == RESULT_KEYS


@pytest.mark.parametrize(
    "result",
    [None, "", {"urls": ["s3://c.test/x.png"]}, {"images": []}, {"images": [1]}, ["c.test/x.png"]],
)
def test_execute_complete_success_with_an_unknown_result_shape_is_a_clear_error(result: Any) -> None:
    event = event_for(job_payload("job-7", "COMPLETED", result=result))

    with pytest.raises(ApiframeJobError, match="job-7 is COMPLETED but its result has a shape") as info:
        make_op().execute_complete({"ti": FakeTI()}, event)  # type: ignore[arg-type]
    assert "no http(s) URL of a file in it" in str(info.value)


def test_execute_complete_with_an_expired_result_fails() -> None:
    event = event_for(job_payload("job-7", "COMPLETED", expired=True))
    with pytest.raises(ApiframeJobError, match="purged"):
        make_op().execute_complete({"ti": FakeTI()}, event)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "error", "reason"),
    [
        ("FAILED", CONTENT_POLICY, CONTENT_POLICY),
        ("CANCELLED", None, "the API gave no reason"),
    ],
)
def test_execute_complete_failed_event_raises_the_api_error(status: str, error: Any, reason: str) -> None:
    event = event_for(job_payload("job-7", status, error=error))
    assert event["status"] == "failed"

    with pytest.raises(ApiframeJobError) as info:
        make_op().execute_complete({"ti": FakeTI()}, event)  # type: ignore[arg-type]

    assert str(info.value) == f"Apiframe job job-7 ended {status}: {reason}"
    assert info.value.job_id == "job-7"
    assert not isinstance(info.value, ApiframeJobTimeoutError)


def test_execute_complete_timeout_event_says_how_to_pick_the_job_up() -> None:
    message = str(
        ApiframeJobTimeoutError(timeout_message("job-7", "PROCESSING, progress 40"), job_id="job-7")
    )
    event = JobEvent(status="timeout", job_id="job-7", message=message).model_dump(mode="json")

    with pytest.raises(ApiframeJobTimeoutError) as info:
        make_op().execute_complete({"ti": FakeTI()}, event)  # type: ignore[arg-type]

    text = str(info.value)
    assert info.value.job_id == "job-7"
    assert "job-7" in text
    assert "clear this task" in text
    assert "ApiframeHook().get_job('job-7')" in text


def test_execute_complete_error_event_raises_its_message() -> None:
    event = JobEvent(
        status="error",
        job_id="job-7",
        message="Apiframe GET /v2/jobs/job-7 failed with HTTP 404: Job not found",
    ).model_dump(mode="json")

    with pytest.raises(ApiframeError, match="HTTP 404: Job not found") as info:
        make_op().execute_complete({"ti": FakeTI()}, event)  # type: ignore[arg-type]
    assert not isinstance(info.value, ApiframeJobTimeoutError)


MALFORMED_EVENTS = {
    "none": (None, "without an event"),
    "unknown-status": ({"status": "finished", "job_id": "job-7", "message": "?"}, "unknown event"),
    "no-message": ({"status": "success", "job_id": "job-7"}, "unknown event"),
    "extra-key": ({"status": "error", "job_id": "job-7", "message": "x", "when": 1}, "unknown event"),
    "success-no-job": ({"status": "success", "job_id": "job-7", "message": "ok"}, "carries no job"),
    "failed-no-job": ({"status": "failed", "job_id": "job-7", "message": "x"}, "carries no job"),
    "string": ("COMPLETED", "unknown event"),
    "list": (["success"], "unknown event"),
    "int": (42, "unknown event"),
}


@pytest.mark.parametrize(("event", "match"), list(MALFORMED_EVENTS.values()), ids=list(MALFORMED_EVENTS))
def test_execute_complete_rejects_malformed_events(event: Any, match: str) -> None:
    with pytest.raises(ApiframeError, match=match):
        make_op().execute_complete({"ti": FakeTI()}, event)  # type: ignore[arg-type]


# --- deferrable=False and wait_for_completion=False ---------------------------------------------


def test_non_deferrable_polls_in_the_worker_until_completed(
    connection: str, requests_mock: Any, no_sleep: list[float]
) -> None:
    api = FakeApi(requests_mock, ["QUEUED", "QUEUED", "PROCESSING", "COMPLETED"])
    ti = FakeTI()

    result = run(make_op(deferrable=False, poll_interval=10), ti)

    assert result["job_id"] == "job-1"
    assert result["status"] == "COMPLETED"
    assert result["images"] == ["https://cdn.apiframe.test/job-1-1.webp"]
    assert set(result) == RESULT_KEYS
    assert len(api.posts) == 1
    assert len(api.gets) == 3  # three polls (QUEUED, PROCESSING, COMPLETED); the 202 said QUEUED
    # The submission just told the status, so even the first poll waits; waits grow x1.5.
    assert no_sleep == [2.0, 3.0, 4.5]
    assert ti.pushed == [("job_id", "job-1")]


def test_non_deferrable_fails_with_the_job_error(
    connection: str, requests_mock: Any, no_sleep: list[float]
) -> None:
    FakeApi(requests_mock, ["QUEUED", "PROCESSING", "FAILED"])
    with pytest.raises(ApiframeJobError, match=CONTENT_POLICY):
        run(make_op(deferrable=False))


def test_non_deferrable_times_out(connection: str, requests_mock: Any, clock: FakeClock) -> None:
    # A fake clock for the poller that each sleep moves forward: 30 s pass instantly.
    sleeps = clock.sleeps
    api = FakeApi(requests_mock, ["PROCESSING"])

    with pytest.raises(ApiframeJobTimeoutError) as info:
        run(make_op(deferrable=False, poll_interval=5, timeout=30))

    assert info.value.job_id == "job-1"
    assert "job-1" in str(info.value)
    assert "clear this task" in str(info.value)
    assert sum(sleeps) == pytest.approx(30, abs=0.5)
    assert max(sleeps) <= 5
    assert len(api.posts) == 1
    assert len(api.gets) == len(sleeps)  # one poll after each wait (the 202 told the status)


@pytest.mark.parametrize("deferrable", [True, False])
def test_without_waiting_returns_right_after_submitting(
    connection: str, requests_mock: Any, no_sleep: list[float], deferrable: bool
) -> None:
    api = FakeApi(requests_mock, ["QUEUED", "PROCESSING", "COMPLETED"])
    ti = FakeTI()

    result = run(make_op(wait_for_completion=False, deferrable=deferrable), ti)

    assert result == {
        "job_id": "job-1",
        "status": "QUEUED",
        "model": "gpt-image-1.5",
        "media": [],
        "images": [],
        "videos": [],
        "audio": [],
        "credit_cost": None,
        "progress": None,  # the 202 tells the status only
        "files": [],
        "estimated_credits": None,
    }
    assert (len(api.posts), len(api.gets)) == (1, 0), "nothing is read after submitting a new job"
    assert no_sleep == []
    assert ti.pushed == [("job_id", "job-1")]


@pytest.mark.parametrize(("status", "reason"), [("FAILED", CONTENT_POLICY), ("CANCELLED", "no reason")])
def test_without_waiting_a_job_that_already_ended_badly_still_fails_the_task(
    connection: str, requests_mock: Any, status: str, reason: str
) -> None:
    FakeApi(requests_mock, [status])
    with pytest.raises(ApiframeJobError, match=f"ended {status}.*{reason}"):
        run(make_op(wait_for_completion=False))


def test_without_waiting_a_job_that_already_completed_returns_its_images(
    connection: str, requests_mock: Any
) -> None:
    FakeApi(requests_mock, ["COMPLETED"])
    result = run(make_op(wait_for_completion=False))
    assert result["images"] == ["https://cdn.apiframe.test/job-1-1.webp"]


# --- idempotency ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["COMPLETED", "QUEUED"])
def test_key_is_stable_across_tries_of_the_same_task_instance(
    connection: str, requests_mock: Any, status: str
) -> None:
    api = FakeApi(requests_mock, [status])
    first = FakeTI(try_number=1)
    second = first.retry()

    for ti in (first, second):
        if status == "QUEUED":
            assert defer(make_op(), ti).trigger.job_id == "job-1"
        else:
            assert run(make_op(), ti)["job_id"] == "job-1"

    assert len(api.keys) == 2
    assert api.keys[0] == api.keys[1]
    assert api.keys[0].startswith("airflow-")
    assert len(api.keys[0]) <= 255
    assert list(api.jobs) == ["job-1"]  # the retry re-attached; nothing new was created
    assert first.pushed == second.pushed == [("job_id", "job-1")]


def test_key_differs_between_task_instances_and_bodies(connection: str, requests_mock: Any) -> None:
    api = FakeApi(requests_mock, ["COMPLETED"])
    cases: list[tuple[dict[str, Any], dict[str, Any]]] = [
        ({}, {}),
        ({}, {"map_index": 0}),
        ({}, {"map_index": 1}),
        ({}, {"run_id": "scheduled__2026-11-25T00:00:00+00:00"}),
        ({"task_id": "draw_2"}, {"task_id": "draw_2"}),
        ({}, {"dag_id": "other_dag"}),
        ({"prompt": "a watercolor fox, at night"}, {}),
        ({"number_of_images": 2}, {}),
    ]
    for op_kwargs, ti_kwargs in cases:
        run(make_op(**op_kwargs), FakeTI(**ti_kwargs))

    assert len(set(api.keys)) == len(cases), api.keys


def test_unmapped_map_index_none_and_minus_one_share_a_key(connection: str, requests_mock: Any) -> None:
    api = FakeApi(requests_mock, ["COMPLETED"])
    run(make_op(), FakeTI(map_index=None))
    run(make_op(), FakeTI(map_index=-1))
    assert api.keys[0] == api.keys[1]


def test_user_key_is_sent_as_is(connection: str, requests_mock: Any) -> None:
    api = FakeApi(requests_mock, ["COMPLETED"])
    run(make_op(idempotency_key="nightly-fox-2026-11-24"), FakeTI(try_number=2))
    assert api.keys == ["nightly-fox-2026-11-24"]


@pytest.mark.parametrize("ended", ["FAILED", "CANCELLED"])
def test_retry_after_an_uncharged_job_moves_to_the_next_key(
    connection: str, requests_mock: Any, ended: str
) -> None:
    api = FakeApi(requests_mock, ["QUEUED"])
    first = FakeTI(try_number=1)
    assert defer(make_op(), first).trigger.job_id == "job-1"
    api.fail("job-1", ended)  # the trigger saw it end; try 1 failed
    second = first.retry()

    deferred = defer(make_op(), second)

    key = api.keys[0]
    assert api.keys == [key, key, f"{key}~1"]
    assert deferred.trigger.job_id == "job-2"
    assert second.pushed == [("job_id", "job-2")]
    assert list(api.jobs) == ["job-1", "job-2"]


def test_first_try_never_moves_to_another_key(connection: str, requests_mock: Any) -> None:
    api = FakeApi(requests_mock, ["QUEUED"])
    ti = FakeTI(try_number=1)
    defer(make_op(), ti)
    api.fail("job-1")

    # The same try runs again (e.g. the worker died before recording it): it must not pay twice.
    with pytest.raises(ApiframeJobError, match=CONTENT_POLICY):
        run(make_op(), FakeTI(try_number=1))

    assert len(set(api.keys)) == 1
    assert list(api.jobs) == ["job-1"]


def test_third_try_moves_at_most_two_keys(connection: str, requests_mock: Any) -> None:
    api = FakeApi(requests_mock, ["FAILED"])  # every new job is refused at once

    with pytest.raises(ApiframeJobError, match="job-3 ended FAILED") as info:
        run(make_op(), FakeTI(try_number=3))

    key = api.keys[0]
    assert api.keys == [key, f"{key}~1", f"{key}~2"]
    assert info.value.job_id == "job-3"


def test_third_try_uses_the_first_key_whose_job_is_not_refused(connection: str, requests_mock: Any) -> None:
    api = FakeApi(requests_mock, ["FAILED"], ["COMPLETED"])

    result = run(make_op(), FakeTI(try_number=3))

    key = api.keys[0]
    assert api.keys == [key, f"{key}~1"]
    assert result["job_id"] == "job-2"


def test_user_key_sequence_on_retry(connection: str, requests_mock: Any) -> None:
    api = FakeApi(requests_mock, ["FAILED"], ["QUEUED"])
    ti = FakeTI(try_number=2)

    deferred = defer(make_op(idempotency_key="nightly-fox"), ti)

    assert api.keys == ["nightly-fox", "nightly-fox~1"]
    assert deferred.trigger.job_id == "job-2"
    assert ti.pushed == [("job_id", "job-2")]


def test_next_key_of_a_maximal_user_key_stays_within_255_characters(
    connection: str, requests_mock: Any
) -> None:
    api = FakeApi(requests_mock, ["FAILED"], ["COMPLETED"])
    run(make_op(idempotency_key="k" * 255), FakeTI(try_number=2))
    assert api.keys == ["k" * 255, "k" * 253 + "~1"]


def test_a_completed_job_is_never_resubmitted(connection: str, requests_mock: Any) -> None:
    api = FakeApi(requests_mock, ["COMPLETED"])
    result = run(make_op(), FakeTI(try_number=3))
    assert len(api.posts) == 1
    assert result["job_id"] == "job-1"


# --- API errors -------------------------------------------------------------------------------------------


def test_bad_request_fails_the_task_with_the_api_details(connection: str, requests_mock: Any) -> None:
    requests_mock.post(
        GENERATE_URL,
        status_code=400,
        json={
            "error": "Validation failed",
            "details": {"gptImageParams.input_images.0": ["Invalid url", "Image is not reachable"]},
        },
        headers={"x-request-id": "req-400"},
    )
    ti = FakeTI()

    with pytest.raises(AirflowFailException) as info:
        run(make_op(input_images="https://img.test/missing.png"), ti)

    text = str(info.value)
    assert "HTTP 400: Validation failed" in text
    assert "gptImageParams.input_images.0: Invalid url; Image is not reachable" in text
    assert "req-400" in text
    assert requests_mock.call_count == 1
    assert ti.pushed == []


@pytest.mark.parametrize(
    ("status", "body", "error", "text"),
    [
        (401, {"error": "Invalid API key"}, ApiframeAuthenticationError, "HTTP 401: Invalid API key"),
        (
            402,
            {"error": "Insufficient credits", "creditsRequired": 40, "creditsAvailable": 3},
            ApiframeInsufficientCreditsError,
            "credits required: 40, available: 3",
        ),
    ],
)
def test_auth_and_credit_errors_fail_after_one_request(
    connection: str, requests_mock: Any, status: int, body: dict[str, Any], error: type, text: str
) -> None:
    requests_mock.post(GENERATE_URL, status_code=status, json=body)
    ti = FakeTI()

    with pytest.raises(ApiframeError) as info:
        run(make_op(), ti)

    assert type(info.value) is error
    assert not isinstance(info.value, AirflowFailException)
    assert text in str(info.value)
    assert requests_mock.call_count == 1
    assert ti.pushed == []


def test_a_reused_idempotency_key_fails_at_once_and_says_what_to_do(
    connection: str, requests_mock: Any
) -> None:
    requests_mock.post(
        GENERATE_URL, status_code=409, json={"error": "Idempotency-Key reused with a different body"}
    )
    with pytest.raises(AirflowFailException) as info:
        run(make_op(idempotency_key="nightly-fox"))
    text = str(info.value)
    assert "HTTP 409: Idempotency-Key reused with a different body" in text
    assert "idempotency_key" in text
    assert requests_mock.call_count == 1


def test_server_error_on_submit_is_retried_with_the_same_key(
    connection: str, requests_mock: Any, retry_waits: list[float]
) -> None:
    requests_mock.post(
        GENERATE_URL,
        [
            {"status_code": 503, "json": {"error": "Queue unavailable"}},
            {"status_code": 502, "json": {"error": "Bad gateway"}},
            {"status_code": 202, "json": {"jobId": "job-1", "status": "QUEUED"}},
        ],
    )
    requests_mock.get(JOB_URL, json=job_payload("job-1", "COMPLETED"))

    result = run(make_op(deferrable=False))

    posts = [r for r in requests_mock.request_history if r.method == "POST"]
    assert len(posts) == 3
    assert len({p.headers["Idempotency-Key"] for p in posts}) == 1
    assert len(retry_waits) == 2
    assert result["job_id"] == "job-1"


def test_transient_error_on_the_status_check_is_retried(
    connection: str, requests_mock: Any, retry_waits: list[float]
) -> None:
    # A replay of a job that has ended: its status is read whole, riding out the 429.
    requests_mock.post(GENERATE_URL, status_code=202, json={"jobId": "job-1", "status": "COMPLETED"})
    requests_mock.get(
        JOB_URL,
        [
            {"status_code": 429, "json": {"error": "Slow down"}, "headers": {"Retry-After": "1"}},
            {"status_code": 200, "json": job_payload("job-1", "COMPLETED")},
        ],
    )
    assert run(make_op())["status"] == "COMPLETED"
    assert retry_waits == [1.0]


# --- the API key stays secret -------------------------------------------------------------------------------


def test_api_key_never_leaks(
    connection: str,
    requests_mock: Any,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    no_sleep: list[float],
    retry_waits: list[float],
) -> None:
    caplog.set_level(logging.DEBUG)
    api = FakeApi(requests_mock, ["QUEUED"], ["QUEUED", "COMPLETED"])
    ti = FakeTI()
    seen: list[str] = []

    deferred = defer(make_op(), ti)
    seen.append(repr(deferred.trigger.serialize()))
    result = run(make_op(deferrable=False, task_id="sync"), FakeTI(task_id="sync"))
    seen.append(json.dumps(result))
    failures = [
        [{"status_code": 503, "json": {"error": "Queue unavailable"}}, {"status_code": 401, "json": {}}],
        [{"status_code": 402, "json": {"error": "Insufficient credits", "creditsRequired": 9}}],
        [{"status_code": 400, "json": {"error": "Bad", "details": {"prompt": ["too long"]}}}],
    ]
    for responses in failures:
        requests_mock.post(GENERATE_URL, responses)
        with pytest.raises(Exception) as info:  # noqa: PT011 - any error; only its text matters
            run(make_op(), ti)
        seen.extend([str(info.value), repr(info.value), repr(vars(info.value))])
    with pytest.raises(ApiframeJobError) as failed:
        make_op().execute_complete({"ti": ti}, event_for(job_payload("job-1", "FAILED")))  # type: ignore[arg-type]
    seen.append(str(failed.value))

    # Airflow 3 sends task logs through structlog to stdout, not through stdlib logging: read both,
    # and make sure the operator's, the hook's and the retry policy's lines are really in there.
    out, err = capfd.readouterr()
    logs = caplog.text + out + err
    assert "Apiframe job job-1 is QUEUED (model gpt-image-1.5" in logs
    assert "Apiframe job job-2 is COMPLETED (100%)" in logs
    # Counted as a person reads them: "1 image", never "1 images".
    assert re.search(r"Apiframe job job-2 COMPLETED: 1 image, \d+ credits?; at https://\S+-1\.webp", logs)
    assert "HTTP 503: Queue unavailable; attempt 1, retrying in" in logs
    assert len(retry_waits) == 1
    # The key did go out, in its header only.
    assert {r.headers["X-API-Key"] for r in requests_mock.request_history} == {API_KEY}
    assert all(API_KEY not in (r.text or "") for r in requests_mock.request_history)
    assert len(api.posts) == 6
    for text in [*seen, repr(ti.pushed), logs]:
        assert API_KEY not in text
        assert API_KEY[4:] not in text


# --- round trip through the real trigger, over loopback HTTP --------------------------------------------


async def test_round_trip_through_the_trigger_and_a_timeout_then_clear(
    emulator: Any, use_connection: Any
) -> None:
    use_connection(emulator.url)
    emulator.config.job_seconds = 1.0  # QUEUED for its first 0.15 s: try 1 surely defers before it ends
    state = emulator.state
    ti = FakeTI()

    # Try 1: submit, defer, and the trigger's deadline passes before the job ends.
    deferred = defer(make_op(timeout=0.05, poll_interval=0.05), ti)
    events = [e.payload async for e in deferred.trigger.run()]
    assert [e["status"] for e in events] == ["timeout"]
    with pytest.raises(ApiframeJobTimeoutError, match="clear this task") as info:
        make_op().execute_complete({"ti": ti}, events[0])  # type: ignore[arg-type]
    job_id = deferred.trigger.job_id
    assert info.value.job_id == job_id

    # Try 2 (the task was cleared): the same key re-attaches to the same job, which completes.
    deferred = defer(make_op(poll_interval=0.05), ti.retry())
    assert deferred.trigger.job_id == job_id
    events = [e.payload async for e in deferred.trigger.run()]
    assert [e["status"] for e in events] == ["success"]
    result = make_op().execute_complete({"ti": ti}, events[0])  # type: ignore[arg-type]

    assert result["job_id"] == job_id
    assert result["status"] == "COMPLETED"
    assert len(result["images"]) == 1
    assert [job for job, _ in state.charges] == [job_id]
    assert len(state.jobs) == 1
    assert API_KEY not in json.dumps(events) + json.dumps(result)


async def test_a_retry_handed_the_previous_tries_event_starts_over(
    emulator: Any, use_connection: Any
) -> None:
    """
    Airflow 3.1.0 resumes a retry with the failed try's event (apache/airflow#56704).

    The event names the try that deferred; ``airflow dags test`` drops the deferral's own kwargs, so
    the event is the only place this can travel.
    """
    use_connection(emulator.url)
    emulator.config.job_seconds = 0.3
    ti = FakeTI()
    deferred = defer(make_op(poll_interval=0.05), ti)
    assert deferred.kwargs is None, "the deferral carries nothing the event does not"
    trigger = deferred.trigger
    emulator.inject(
        action="status", method="GET", path="/v2/jobs/*", status=404, message="Job not found", times=1
    )
    (stale,) = [event.payload async for event in trigger.run()]  # the trigger meets a 404
    assert (stale["status"], stale["deferred_on_try"]) == ("error", 1)
    with pytest.raises(ApiframeError, match="Job not found"):
        make_op().execute_complete({"ti": ti}, stale)  # type: ignore[arg-type]

    # The retry is resumed with the stale event: it starts over (re-attaching to the same job).
    retry = ti.retry()
    with pytest.raises(TaskDeferred) as again:
        make_op(poll_interval=0.05).execute_complete({"ti": retry}, stale)  # type: ignore[arg-type]
    assert again.value.trigger.job_id == trigger.job_id
    assert again.value.trigger.deferred_on_try == 2
    assert len(emulator.state.jobs) == 1, "one job, re-attached to"


def test_the_completion_line_never_reports_credits_the_api_did_not_give(
    requests_mock: Any, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    done = job_payload("job-1", "COMPLETED")
    done["creditCost"] = None
    make_op().execute_complete({"ti": FakeTI()}, event_for(done))  # type: ignore[arg-type]
    out, err = capfd.readouterr()
    logs = caplog.text + out + err
    assert re.search(r"Apiframe job job-1 COMPLETED: 1 image, credits not reported; at https://", logs)
    assert "0 credits" not in logs
