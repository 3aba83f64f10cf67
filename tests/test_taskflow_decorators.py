"""``@task.apiframe_image`` and ``@task.apiframe_batch``: what the function returns, the operator sends."""

from __future__ import annotations

import inspect
import time
import typing
from pathlib import Path
from typing import Any

import jinja2
import pytest
from airflow.sdk import DAG, task
from support import RESULT_KEYS, FakeTI

from airflow_provider_apiframe._compat import AirflowFailException
from airflow_provider_apiframe.core.models import Job
from airflow_provider_apiframe.decorators import (
    ApiframeBatchDecoratedOperator,
    ApiframeImageDecoratedOperator,
    apiframe_batch_task,
    apiframe_image_task,
)
from airflow_provider_apiframe.hooks.apiframe import ApiframeHook
from airflow_provider_apiframe.operators.batch import ApiframeBatchOperator
from airflow_provider_apiframe.operators.image import ApiframeImageGenerateOperator
from airflow_provider_apiframe.triggers.job import ApiframeJobTrigger, JobEvent

try:  # Airflow >= 3.2
    from airflow.sdk.exceptions import TaskDeferred
except ImportError:  # Airflow 3.1
    from airflow.exceptions import TaskDeferred  # type: ignore[no-redef,attr-defined,unused-ignore]

FAST = {"deferrable": False, "poll_interval": 0.05, "timeout": 30}


@pytest.fixture
def api(emulator: Any, use_connection: Any) -> Any:
    """The emulator, with ``apiframe_default`` pointing at it."""
    use_connection(emulator.url)
    return emulator


def build(make: Any, *args: Any, **kwargs: Any) -> Any:
    """The operator a decorated function makes when called in a DAG."""
    with DAG("taskflow", schedule=None) as dag:
        make(*args, **kwargs)
    (op,) = dag.tasks
    return op


def image_op(returned: Any, **decorator: Any) -> ApiframeImageDecoratedOperator:
    """An ``@task.apiframe_image`` task whose function returns ``returned``."""

    @task.apiframe_image(**{"model": "flux-2-pro", **FAST, **decorator})
    def poster() -> Any:
        return returned

    op = build(poster)
    assert isinstance(op, ApiframeImageDecoratedOperator)
    return op


def run(op: Any, **context: Any) -> Any:
    return op.execute({"ti": FakeTI(task_id=op.task_id), **context})


def fails(op: Any) -> str:
    with pytest.raises(AirflowFailException) as info:
        run(op)
    return str(info.value)


# --- the decorators build their operators --------------------------------------------------------------


def test_task_apiframe_image_builds_the_image_operator_with_the_decorators_arguments() -> None:
    @task.apiframe_image(model="flux-2-pro", model_params={"aspect_ratio": "2:3"}, output_path="/tmp/x")
    def poster(city: str) -> dict[str, Any]:  # a dict annotation does not unroll the result
        """Draw a poster."""
        return {"prompt": city}

    op = build(poster, "Lisbon")

    assert type(op) is ApiframeImageDecoratedOperator
    assert isinstance(op, ApiframeImageGenerateOperator)
    assert op.task_id == "poster"
    assert (op.model, op.model_params, op.output_path) == ("flux-2-pro", {"aspect_ratio": "2:3"}, "/tmp/x")
    assert op.op_args == ("Lisbon",)
    assert op.multiple_outputs is False
    assert op.deferrable is True
    assert op.custom_operator_name == "@task.apiframe_image"
    assert {"op_args", "op_kwargs", "model", "prompt", "model_params", "output_path"} <= set(
        op.template_fields
    )
    assert op.doc_md == "Draw a poster."


def test_task_apiframe_batch_builds_the_batch_operator() -> None:
    @task.apiframe_batch(output_path="/tmp/batch", max_credits=50, concurrency=4)
    def items() -> list[dict[str, Any]]:
        return []

    op = build(items)

    assert type(op) is ApiframeBatchDecoratedOperator
    assert isinstance(op, ApiframeBatchOperator)
    assert (op.output_path, op.max_credits, op.concurrency) == ("/tmp/batch", 50, 4)
    assert op.custom_operator_name == "@task.apiframe_batch"
    assert {"op_args", "op_kwargs", "requests", "output_path"} <= set(op.template_fields)


def test_expand_maps_the_functions_arguments() -> None:
    @task.apiframe_image(model="flux-2-pro")
    def poster(city: str) -> str:
        return city

    with DAG("taskflow", schedule=None) as dag:
        poster.expand(city=["Lisbon", "Kyoto"])
    (mapped,) = dag.tasks

    assert mapped.operator_class is ApiframeImageDecoratedOperator
    assert mapped.partial_kwargs["model"] == "flux-2-pro"
    with pytest.raises(TypeError, match="unexpected keyword argument 'town'"):
        poster.expand(town=["Lisbon"])


@pytest.mark.parametrize(
    ("typed", "operator"),
    [(apiframe_image_task, ApiframeImageGenerateOperator), (apiframe_batch_task, ApiframeBatchOperator)],
)
def test_the_typed_signatures_are_the_operators_arguments(typed: Any, operator: type) -> None:
    """Every keyword of the typed form is an argument of the operator, with the same default."""
    _bare, with_arguments = typing.get_overloads(typed)
    keywords = {
        name: param
        for name, param in inspect.signature(with_arguments).parameters.items()
        if param.kind is param.KEYWORD_ONLY and name != "multiple_outputs"
    }
    accepted = {
        name: param
        for cls in operator.__mro__
        if "__init__" in vars(cls) and cls.__module__.startswith("airflow_provider_apiframe")
        for name, param in inspect.signature(cls).parameters.items()
    }
    assert len(keywords) >= 10
    for name, param in keywords.items():
        assert name in accepted, name
        if accepted[name].default is not param.empty:
            assert param.default == accepted[name].default, name


# --- what the function returns ------------------------------------------------------------------------


def test_a_returned_str_becomes_the_prompt(api: Any, tmp_path: Path) -> None:
    result = run(image_op("A travel poster of Lisbon", output_path=str(tmp_path)))

    (job,) = api.state.jobs.values()
    assert job.body == {"model": "flux-2-pro", "prompt": "A travel poster of Lisbon"}
    assert set(result) == RESULT_KEYS
    assert (result["job_id"], result["status"], result["model"]) == (job.id, "COMPLETED", "flux-2-pro")
    (file,) = result["files"]
    assert Path(file["path"]).parent == tmp_path


def test_a_returned_dict_sets_the_operators_arguments(api: Any) -> None:
    returned = {
        "model": "gpt-image-1.5",
        "prompt": "A lighthouse at dusk",
        "model_params": {"aspect_ratio": "3:2", "quality": "low"},
        "idempotency_key": "lighthouse-1",
    }
    op = image_op(returned, model_params={"aspect_ratio": "1:1", "output_format": "png"})

    result = run(op)

    (job,) = api.state.jobs.values()
    assert job.body == {
        "model": "gpt-image-1.5",
        "prompt": "A lighthouse at dusk",
        "gptImageParams": {"aspect_ratio": "3:2", "quality": "low"},  # returned: replaces the decorator's
    }
    assert result["job_id"] == job.id
    assert [key for _, key in api.state.idempotency] == ["lighthouse-1"]


def test_the_function_gets_its_arguments_and_the_context_it_asks_for(api: Any) -> None:
    @task.apiframe_image(model="flux-2-pro", **FAST)
    def poster(city: str, style: str = "flat", ti: Any = None) -> str:
        return f"A {style} poster of {city} for {ti.task_id}"

    run(build(poster, "Kyoto", style="woodcut"))

    (job,) = api.state.jobs.values()
    assert job.body["prompt"] == "A woodcut poster of Kyoto for poster"


@pytest.mark.parametrize(
    ("returned", "field", "said"),
    [
        (42, "prompt", "returned 42 (int); allowed: a str (the prompt), or a dict"),
        (None, "prompt", "returned None (NoneType)"),
        (["a poster"], "prompt", "(list)"),
        ({"prompt": 7}, "prompt", "returned 7 (int)"),
        ({"prompt": "x", "model": ["flux-2-pro"]}, "model", "allowed: a str (the model"),
    ],
    ids=["int", "none", "list", "dict-prompt", "dict-model"],
)
def test_a_return_value_of_the_wrong_type_fails_naming_the_field(
    api: Any, returned: Any, field: str, said: str
) -> None:
    message = fails(image_op(returned))

    assert f"{field}: the function " in message
    assert said in message
    assert list(api.state.requests) == [], "nothing was sent"


def test_unknown_keys_fail_naming_each_of_them(api: Any) -> None:
    message = fails(image_op({"prompt": "x", "timeout": 5, "output_path": "/tmp/x"}))

    assert "timeout: returned by the function, but not an argument it may set" in message
    assert "output_path: returned by the function" in message
    assert (
        "allowed keys: model, prompt, model_params, webhook_url, webhook_events, idempotency_key" in message
    )
    assert "@task.apiframe_image(...)" in message
    assert list(api.state.requests) == []


def test_a_model_neither_given_nor_returned_is_required(api: Any) -> None:
    message = fails(image_op("A poster", model=None))

    assert "model: required: return it from the function, or give it to @task.apiframe_image()" in message
    assert list(api.state.requests) == []


@pytest.mark.parametrize(("prompt", "said"), [("", "1 to 2000"), ("x" * 2001, "2000")])
def test_a_returned_prompt_is_validated_as_the_operators_prompt(api: Any, prompt: str, said: str) -> None:
    message = fails(image_op(prompt))

    assert "prompt" in message
    assert said in message
    assert list(api.state.requests) == []


def test_returned_values_and_the_decorators_arguments_are_rendered(api: Any, tmp_path: Path) -> None:
    @task.apiframe_image(model="flux-2-pro", output_path=str(tmp_path) + "/{{ params.folder }}", **FAST)
    def poster(city: str) -> str:
        return "A poster of " + city + " for {{ params.event }}"

    op = build(poster, "{{ params.city }}")
    context = {
        "ti": FakeTI(task_id="poster"),
        "params": {"city": "Porto", "event": "the fair", "folder": "p"},
    }
    op.render_template_fields(context, jinja_env=jinja2.Environment())

    result = op.execute(context)

    (job,) = api.state.jobs.values()
    assert job.body["prompt"] == "A poster of Porto for the fair"
    assert op.prompt == "A poster of Porto for the fair", "the rendered field shows what was sent"
    assert Path(result["files"][0]["path"]).parent == tmp_path / "p"


# --- deferring --------------------------------------------------------------------------------------


def test_the_decorated_task_defers_and_resumes_as_the_operator_does(api: Any) -> None:
    calls: list[str] = []

    @task.apiframe_image(model="flux-2-pro", deferrable=True, poll_interval=3)
    def poster(city: str) -> str:
        calls.append(city)
        return f"A poster of {city}"

    op = build(poster, "Lisbon")
    ti = FakeTI(task_id="poster")
    with pytest.raises(TaskDeferred) as info:
        op.execute({"ti": ti})
    deferred = info.value
    assert isinstance(deferred.trigger, ApiframeJobTrigger)
    assert deferred.method_name == "execute_complete"
    assert deferred.trigger.poll_interval == 3.0
    job_id = deferred.trigger.job_id
    assert ti.pushed == [("job_id", job_id)]

    event = JobEvent.for_job(ended(job_id), deferred_on_try=1).model_dump(mode="json")
    resumed = build(poster, "Lisbon")  # a worker resumes a task built anew from the DAG file
    result = resumed.execute_complete({"ti": ti}, event)

    assert calls == ["Lisbon"], "the function is not called again on resuming"
    assert set(result) == RESULT_KEYS
    assert (result["job_id"], result["status"]) == (job_id, "COMPLETED")
    assert len(api.state.jobs) == 1
    # The resumed task's lineage names its job, though the function's prompt went with the first try.
    pytest.importorskip("airflow.providers.openlineage")
    facet = resumed.get_openlineage_facets_on_complete(ti).run_facets["apiframe_job"]
    assert (facet.jobIds, facet.models, facet.prompts) == ([job_id], ["flux-2-pro"], None)


def ended(job_id: str) -> Job:
    """The job, once the emulator has finished it."""
    hook = ApiframeHook()
    for _ in range(100):
        job = hook.get_job(job_id)
        if job.status == "COMPLETED":
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not complete")


# --- the batch -----------------------------------------------------------------------------------------


def batch_op(returned: Any, output: Path) -> ApiframeBatchDecoratedOperator:
    @task.apiframe_batch(output_path=str(output), **FAST)
    def items() -> Any:
        return returned

    op = build(items)
    assert isinstance(op, ApiframeBatchDecoratedOperator)
    return op


def items(*prompts: str) -> list[dict[str, Any]]:
    return [
        {"key": f"item-{n}", "model": "gpt-image-1.5", "prompt": p, "model_params": {"quality": "low"}}
        for n, p in enumerate(prompts)
    ]


@pytest.mark.parametrize("container", [list, tuple], ids=["list", "tuple"])
def test_the_returned_items_are_the_batch(api: Any, tmp_path: Path, container: type) -> None:
    result = run(batch_op(container(items("a red kite", "a blue kite")), tmp_path))

    assert sorted(job.prompt for job in api.state.jobs.values()) == ["a blue kite", "a red kite"]
    assert (result["items"], result["completed"], result["failed"]) == (2, 2, 0)
    assert Path(result["manifest"]) == tmp_path / "manifest.jsonl"
    assert sorted(path.name for path in tmp_path.iterdir() if path.is_dir()) == ["item-0", "item-1"]


def test_a_returned_path_is_read_as_the_operator_reads_it(api: Any, tmp_path: Path) -> None:
    source = tmp_path / "items.jsonl"
    source.write_text('{"key": "kite", "model": "gpt-image-1.5", "prompt": "a kite"}\n')

    result = run(batch_op(str(source), tmp_path / "out"))

    assert result["completed"] == 1
    (job,) = api.state.jobs.values()
    assert job.prompt == "a kite"


@pytest.mark.parametrize(
    ("returned", "said"),
    [
        (5, "requests: the function returned 5 (int); allowed: a list of items"),
        ({"requests": items("a"), "max_credits": 5}, "max_credits: returned by the function"),
        ([{"key": "x", "model": "no-such-model", "prompt": "a"}], "no-such-model"),
    ],
    ids=["int", "unknown-key", "bad-item"],
)
def test_bad_returned_items_fail_before_anything_is_sent(
    api: Any, tmp_path: Path, returned: Any, said: str
) -> None:
    message = fails(batch_op(returned, tmp_path))

    assert said in message
    assert [r for r in api.state.requests if r[0] == "POST"] == []
