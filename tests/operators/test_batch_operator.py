"""ApiframeBatchOperator against the emulator over real HTTP: items checked, submitted, awaited, saved."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import Asset, AssetAlias, ObjectStoragePath
from support import FakeOutletEvents, FakeTI

from airflow_provider_apiframe._compat import AirflowFailException
from airflow_provider_apiframe.core.errors import ApiframeError
from airflow_provider_apiframe.operators import batch as batch_module
from airflow_provider_apiframe.operators.batch import ApiframeBatchOperator
from airflow_provider_apiframe.triggers.batch import ApiframeBatchTrigger

try:  # Airflow >= 3.2
    from airflow.sdk.exceptions import TaskDeferred
except ImportError:  # Airflow 3.1
    from airflow.exceptions import TaskDeferred  # type: ignore[no-redef,attr-defined,unused-ignore]

MIXED = [
    {"key": "sku-1", "model": "gpt-image-1.5", "prompt": "a red mug", "model_params": {"quality": "low"}},
    {"key": "sku-2", "model": "flux-2-pro", "prompt": "a blue mug"},
    {"key": "clip", "model": "kling-2.6", "prompt": "waves", "model_params": {"duration": 5}},
    {"key": "jingle", "model": "suno", "prompt": "a jingle", "model_params": {"instrumental": True}},
]


def batch(tmp_path: Path, requests: Any, **kwargs: Any) -> ApiframeBatchOperator:
    options = {"task_id": "render", "deferrable": False, "poll_interval": 0.05, "timeout": 60, **kwargs}
    return ApiframeBatchOperator(requests=requests, output_path=str(tmp_path / "out"), **options)


def posts(api: Any) -> list[str]:
    return [path for method, path, _ in api.state.requests if method == "POST"]


def manifest(tmp_path: Path) -> dict[str, dict[str, Any]]:
    lines = (tmp_path / "out" / "manifest.jsonl").read_text().splitlines()
    return {line["key"]: line for line in map(json.loads, lines)}


def test_a_batch_over_several_models_and_routes_saves_every_result_under_its_key(
    api: Any, tmp_path: Path
) -> None:
    result = batch(tmp_path, MIXED).execute({"ti": FakeTI()})

    lines = manifest(tmp_path)
    assert result == {
        "items": 4,
        "completed": 4,
        "failed": 0,
        "skipped": 0,
        "credits": sum(charge for _, charge in api.state.ledger.charges),
        "estimated_credits": result["estimated_credits"],
        "manifest": str(tmp_path / "out" / "manifest.jsonl"),
    }
    assert result["estimated_credits"] >= result["credits"] > 0
    assert sorted(lines) == ["clip", "jingle", "sku-1", "sku-2"]
    assert len(api.state.ledger.charges) == 4, "one charge per item"
    for key, line in lines.items():
        assert line["status"] == "COMPLETED"
        assert line["error"] is None
        assert line["files"], key
        for file in line["files"]:
            assert Path(file["path"]).parent == tmp_path / "out" / key
            assert Path(file["path"]).stat().st_size == file["bytes"]
    assert {f["kind"] for f in lines["clip"]["files"]} == {"video"}
    assert {f["kind"] for f in lines["jingle"]["files"]} == {"audio"}


def test_a_jsonl_file_and_a_csv_file_are_read_as_items(api: Any, tmp_path: Path) -> None:
    jsonl = tmp_path / "items.jsonl"
    jsonl.write_text("\n".join(json.dumps(item) for item in MIXED[:2]) + "\n\n")
    csv = tmp_path / "items.csv"
    csv.write_text('key,model,prompt,model_params\nmug,gpt-image-1.5,a mug,"{""quality"": ""low""}"\n')

    from_jsonl = batch(tmp_path, str(jsonl), task_id="a").execute({"ti": FakeTI(task_id="a")})
    from_csv = batch(tmp_path / "c", str(csv), task_id="b").execute({"ti": FakeTI(task_id="b")})

    assert (from_jsonl["completed"], from_csv["completed"]) == (2, 1)
    assert manifest(tmp_path / "c")["mug"]["status"] == "COMPLETED"


def test_every_invalid_item_is_listed_and_nothing_is_sent(api: Any, tmp_path: Path) -> None:
    items = [
        MIXED[0],
        {"key": "a", "model": "gpt-image-1.5", "prompt": "x", "model_params": {"quality": "ultra"}},
        {"key": "sku-1", "model": "flux-2-pro", "prompt": "again"},
        {"model": "no-such-model", "prompt": "x"},
        {"key": "../up", "model": "gpt-image-1.5", "prompt": "x", "colour": "red"},
        "not a mapping",
    ]

    with pytest.raises(AirflowFailException) as caught:
        batch(tmp_path, items).execute({"ti": FakeTI()})

    message = str(caught.value)
    assert "items[1].model_params.quality: got 'ultra'" in message
    assert "items[2].key: 'sku-1' is also the key of items[0]" in message
    assert "items[3].model: got 'no-such-model'" in message
    assert "items[4].colour: unknown field; allowed: key, model, route, prompt, model_params" in message
    assert "items[4].key: got '../up'" in message
    assert "items[5]: got str" in message
    assert "items: 5 of 6 item(s) are invalid" in message
    assert posts(api) == []


def test_a_deferred_batch_waits_in_one_trigger_and_resumes_with_counts_only(api: Any, tmp_path: Path) -> None:
    ti = FakeTI()
    op = batch(tmp_path, MIXED[:2], deferrable=True)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({"ti": ti})
    trigger = deferred.value.trigger
    assert isinstance(trigger, ApiframeBatchTrigger)
    _classpath, kwargs = trigger.serialize()
    assert len(kwargs["job_ids"]) == 2
    assert api.api_key not in json.dumps(kwargs)

    rebuilt = ApiframeBatchTrigger(**kwargs)
    events = asyncio.run(_all_events(rebuilt))

    assert len(events) == 1
    assert events[0]["status"] == "success"
    assert (events[0]["completed"], events[0]["failed"], events[0]["running"]) == (2, 0, 0)
    assert set(events[0]) == {
        "status",
        "message",
        "completed",
        "failed",
        "running",
        "credits",
        "deferred_on_try",
    }
    result = batch(tmp_path, MIXED[:2], deferrable=True).execute_complete(
        {"ti": ti}, events[0], **deferred.value.kwargs
    )
    assert result["completed"] == 2
    assert len(api.state.ledger.charges) == 2


async def _all_events(trigger: ApiframeBatchTrigger) -> list[dict[str, Any]]:
    return [event.payload async for event in trigger.run()]


def test_failed_items_fail_the_task_past_max_failed_items_after_saving_the_rest(
    api: Any, tmp_path: Path
) -> None:
    api.decide(outcome="failed", prompt_contains="blue", times=None)

    with pytest.raises(ApiframeError, match=r"1 item\(s\) failed, more than max_failed_items \(0\)"):
        batch(tmp_path, MIXED[:2]).execute({"ti": FakeTI()})
    lines = manifest(tmp_path)
    assert lines["sku-2"]["status"] == "FAILED"
    assert "content policy" in lines["sku-2"]["error"]
    assert lines["sku-1"]["status"] == "COMPLETED"
    assert lines["sku-1"]["files"]

    tolerant = batch(tmp_path, MIXED[:2], max_failed_items=1).execute({"ti": FakeTI(try_number=2)})
    assert (tolerant["completed"], tolerant["failed"]) == (1, 1)


def test_a_retry_resubmits_only_what_did_not_complete(api: Any, tmp_path: Path) -> None:
    api.decide(outcome="failed", prompt_contains="blue", times=1)
    with pytest.raises(ApiframeError):
        batch(tmp_path, MIXED[:2]).execute({"ti": FakeTI(try_number=1)})
    before = len(posts(api))

    result = batch(tmp_path, MIXED[:2]).execute({"ti": FakeTI(try_number=2)})

    assert result["completed"] == 2
    assert len(posts(api)) - before == 2, "key 0 of the failed item replays FAILED, then key 1 is a new job"
    assert len(api.state.ledger.charges) == 2, "the completed item was not paid for twice"


def mugs(count: int, model: str = "flux-2-pro") -> list[dict[str, Any]]:
    return [{"key": f"mug-{n}", "model": model, "prompt": f"mug number {n}"} for n in range(count)]


def test_a_429_storm_and_503s_during_submission_slow_the_batch_but_never_fail_it(
    api: Any, tmp_path: Path, retry_waits: list[float]
) -> None:
    api.inject(
        action="status", method="POST", path="/v2/images/generate", status=429, retry_after=0.2, times=12
    )
    api.inject(action="status", method="POST", path="/v2/images/generate", status=503, times=4)

    result = batch(tmp_path, mugs(8), concurrency=4).execute({"ti": FakeTI()})

    assert (result["completed"], result["failed"]) == (8, 0)
    refused = [r for r in api.state.requests if r[0] == "POST" and r[2] in (429, 503)]
    assert len(refused) == 16
    assert (len(api.state.jobs), len(api.state.ledger.charges)) == (8, 8), "one job and one charge per item"


def test_a_crash_half_way_through_submitting_then_a_retry_pays_once_per_item(
    api: Any, tmp_path: Path, use_connection: Any
) -> None:
    use_connection(api.url, timeout=0.5)
    # Two answers are lost after their jobs were made and paid for; then a permanent refusal ends the try.
    api.inject(action="late", method="POST", path="/v2/images/generate", delay=1.5, times=2)
    api.inject(action="status", method="POST", path="/v2/images/generate", status=403, times=1)

    with pytest.raises(ApiframeError, match="403"):
        batch(tmp_path, mugs(6), concurrency=3).execute({"ti": FakeTI(try_number=1)})
    made_by_first_try = len(api.state.jobs)
    assert 2 <= made_by_first_try < 6

    result = batch(tmp_path, mugs(6), concurrency=3).execute({"ti": FakeTI(try_number=2)})

    assert result["completed"] == 6
    assert len(api.state.jobs) == 6, "the retry re-attached to every job already made"
    assert len(api.state.ledger.charges) == 6, "one charge per item"


def test_a_batch_with_an_item_over_the_whole_budget_is_refused_up_front(api: Any, tmp_path: Path) -> None:
    items = [
        *mugs(2),
        {"key": "big", "model": "gpt-image-1.5", "prompt": "x", "model_params": {"number_of_images": 4}},
    ]

    with pytest.raises(AirflowFailException) as caught:
        batch(tmp_path, items, max_credits=50).execute({"ti": FakeTI()})

    assert str(caught.value) == (
        "max_credits: items[2] (key 'big') may cost up to 96 credits, over the budget of the whole batch, 50 "
        "(gpt-image-1.5 is per-output: 24 (costMax) x 4 (number_of_images)); it could never be submitted; "
        "nothing was submitted"
    )
    assert posts(api) == []


def test_an_unpriced_model_is_refused_only_when_the_batch_has_a_budget(api: Any, tmp_path: Path) -> None:
    items = [
        {
            "key": "clip",
            "model": "midjourney-video",
            "prompt": "waves",
            "model_params": {"start_image": "https://x.test/a.png"},
        }
    ]
    with pytest.raises(
        AirflowFailException, match=r"items\[0\]\.model: midjourney-video is priced per second"
    ):
        batch(tmp_path, items, max_credits=500).execute({"ti": FakeTI()})
    assert posts(api) == []

    result = batch(tmp_path, items, max_failed_items=1).execute(
        {"ti": FakeTI()}
    )  # the emulator can't fetch x.test
    assert result["estimated_credits"] is None, "no budget: an unpriced item is sent, the worst case unknown"
    assert len(posts(api)) == 1
    assert manifest(tmp_path)["clip"]["job_id"]


def test_a_budget_reached_mid_batch_skips_the_rest_and_is_never_exceeded(api: Any, tmp_path: Path) -> None:
    result = batch(tmp_path, mugs(5), max_credits=20, concurrency=2).execute({"ti": FakeTI()})

    lines = manifest(tmp_path)
    spent = sum(charge for _, charge in api.state.ledger.charges)
    assert spent == result["credits"] == 16 <= 20
    assert (result["completed"], result["skipped"], result["failed"]) == (2, 3, 0)
    skipped = [line for line in lines.values() if line["status"] == "SKIPPED"]
    assert len(skipped) == 3
    assert skipped[0]["error"].startswith(
        "skipped: budget (spent 16 + in flight 0 + this item's worst case 8"
    )
    assert len(posts(api)) == 2


def test_a_budget_waits_for_jobs_in_flight_to_learn_what_they_really_cost(api: Any, tmp_path: Path) -> None:
    # gpt-image-1.5 may cost 24 an image, but "low" costs 2: the real charges make room for every item.
    items = [{**item, "model": "gpt-image-1.5", "model_params": {"quality": "low"}} for item in mugs(5)]

    result = batch(tmp_path, items, max_credits=50, concurrency=5).execute({"ti": FakeTI()})

    assert (result["completed"], result["skipped"]) == (5, 0)
    assert result["credits"] == 10
    assert result["estimated_credits"] == 50


def test_a_batch_the_team_cannot_pay_for_fails_before_its_first_submission(api: Any, tmp_path: Path) -> None:
    api.state.credits = 30

    with pytest.raises(
        AirflowFailException, match=r"may cost up to 40 credits and the team has 30; nothing was submitted"
    ):
        batch(tmp_path, mugs(5)).execute({"ti": FakeTI()})
    assert posts(api) == []
    within = batch(tmp_path, mugs(5), max_credits=24).execute({"ti": FakeTI()})
    assert (within["completed"], within["skipped"]) == (3, 2)


def test_bad_arguments_are_refused_when_the_dag_is_parsed(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"concurrency: got 0; allowed: a whole number >= 1 and <= 256"):
        batch(tmp_path, [], concurrency=0)
    with pytest.raises(ValueError, match=r"max_failed_items: got -1; allowed: a whole number >= 0"):
        batch(tmp_path, [], max_failed_items=-1)
    with pytest.raises(ValueError, match=r"max_credits: got 'lots'"):
        batch(tmp_path, [], max_credits="lots")


def test_a_missing_input_file_names_the_field(api: Any, tmp_path: Path) -> None:
    with pytest.raises(AirflowFailException, match=r"requests: '.*nothing\.jsonl' does not exist"):
        batch(tmp_path, str(tmp_path / "nothing.jsonl")).execute({"ti": FakeTI()})
    with pytest.raises(AirflowFailException, match=r"requests: got '.*items\.txt'; allowed: a list of items"):
        batch(tmp_path, str(tmp_path / "items.txt")).execute({"ti": FakeTI()})


def test_asset_events_one_asset_per_file_for_an_alias_and_counts_for_an_asset(
    api: Any, memory_fs: Any, tmp_path: Path
) -> None:
    events = FakeOutletEvents()
    alias, asset = AssetAlias("catalogue-files"), Asset("memory://catalogue/")
    output = ObjectStoragePath(f"memory://bucket-{tmp_path.name}/catalogue/")
    op = ApiframeBatchOperator(
        task_id="render",
        requests=mugs(3),
        output_path=output,
        outlets=[alias, asset],
        deferrable=False,
        poll_interval=0.05,
    )

    result = op.execute({"ti": FakeTI(), "outlet_events": events})

    added = events[alias].added
    assert len(added) == 3
    for made, extra in added:
        assert made.uri.endswith(f"/catalogue/{extra['key']}/{extra['job_id']}-1.png")
        assert extra["prompt"].startswith("mug number")
        assert extra["credit_cost"] == 8
    assert events[asset].extra == result
    assert result["manifest"].startswith("memory://")
    manifest_lines = (output / "manifest.jsonl").read_text().splitlines()
    assert len(manifest_lines) == 3


def test_jobs_still_running_at_the_deadline_count_as_failed_and_are_named(api: Any, tmp_path: Path) -> None:
    api.decide(outcome="never", prompt_contains="number 1", times=None)

    with pytest.raises(ApiframeError, match=r"1 item\(s\) failed"):
        batch(tmp_path, mugs(3), timeout=3).execute({"ti": FakeTI()})

    line = manifest(tmp_path)["mug-1"]
    assert line["status"] in ("QUEUED", "PROCESSING")
    assert "when the task's timeout passed; the job keeps running at Apiframe" in line["error"]
    assert manifest(tmp_path)["mug-0"]["status"] == "COMPLETED"


def test_items_the_timeout_left_unsubmitted_count_as_failed(
    api: Any, tmp_path: Path, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    checking = batch_module.check_items

    def slow_checking(*args: Any, **kwargs: Any) -> Any:
        plan = checking(*args, **kwargs)
        clock.now += 120  # checking took longer than the task's timeout
        return plan

    monkeypatch.setattr(batch_module, "check_items", slow_checking)

    with pytest.raises(ApiframeError, match=r"3 item\(s\) failed"):
        batch(tmp_path, mugs(3), timeout=60).execute({"ti": FakeTI()})

    assert {line["status"] for line in manifest(tmp_path).values()} == {"NOT_SUBMITTED"}
    assert posts(api) == []


def test_a_retry_past_the_key_window_reattaches_to_the_jobs_an_earlier_try_submitted(
    api: Any, tmp_path: Path
) -> None:
    with pytest.raises(TaskDeferred):  # try 1 submits and defers; then its triggerer and worker go
        batch(tmp_path, mugs(3), deferrable=True).execute({"ti": FakeTI(try_number=1)})
    api.config.idempotency_seconds = 0.0  # 24 h later: no key replays its job any more

    result = batch(tmp_path, mugs(3)).execute({"ti": FakeTI(try_number=2)})

    assert result["completed"] == 3
    assert len(posts(api)) == 3, "the retry read the job ids from _submissions.jsonl: nothing sent again"
    assert len(api.state.ledger.charges) == 3


def test_a_killed_batch_says_its_jobs_go_on_and_that_a_retry_reattaches(
    api: Any, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    op = batch(tmp_path, mugs(2), deferrable=True)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({"ti": FakeTI()})

    op.on_kill()

    said = capfd.readouterr().out
    for job_id in deferred.value.trigger.job_ids:
        assert job_id in said
    assert "no cancel endpoint" in said
    assert "re-attaches to them rather than paying again" in said
