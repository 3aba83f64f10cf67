"""The batch's core: items checked all at once, their keys, and the budget while submitting."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from airflow_provider_apiframe.core.batch import (
    MAX_PROBLEMS_SHOWN,
    Budget,
    check_items,
    item_base_key,
    read_csv_rows,
    read_jsonl,
)
from airflow_provider_apiframe.core.budget import ApiframeBudgetError
from airflow_provider_apiframe.core.errors import ApiframeInvalidParamsError
from airflow_provider_apiframe.core.models_catalogue import CatalogueEntry


def entry(model: str, mode: str, cost_max: float) -> CatalogueEntry:
    fields = {
        "id": model,
        "label": model,
        "modality": "image",
        "pricingMode": mode,
        "costMin": 1,
        "costMax": cost_max,
    }
    return CatalogueEntry.model_validate(fields)


CATALOGUE = [entry("gpt-image-1.5", "per-output", 24), entry("flux-2-pro", "flat", 8)]


def items(count: int) -> list[dict[str, Any]]:
    return [{"model": "flux-2-pro", "prompt": f"mug {n}"} for n in range(count)]


def test_keys_default_to_positions_and_worst_cases_add_up() -> None:
    plan = check_items(
        [*items(2), {"model": "gpt-image-1.5", "prompt": "x", "model_params": {"number_of_images": 2}}],
        CATALOGUE,
        None,
    )

    assert (plan.items, plan.worst_case, plan.unpriced) == (3, 64, 0)


def test_without_a_budget_an_unpriced_item_is_counted_not_refused() -> None:
    plan = check_items([{"model": "seedream-4", "prompt": "x"}, *items(1)], CATALOGUE, None)
    assert (plan.items, plan.worst_case, plan.unpriced) == (2, 8, 1)

    with pytest.raises(
        ApiframeInvalidParamsError,
        match=r"items\[0\]\.model: the model catalogue does not price 'seedream-4'",
    ):
        check_items([{"model": "seedream-4", "prompt": "x"}], CATALOGUE, 100)


def test_an_item_over_the_whole_budget_is_refused_after_every_item_was_checked() -> None:
    big = {"key": "big", "model": "gpt-image-1.5", "prompt": "x", "model_params": {"number_of_images": 4}}
    with pytest.raises(ApiframeBudgetError, match=r"items\[1\] \(key 'big'\) may cost up to 96 credits"):
        check_items([*items(1), big], CATALOGUE, 50)
    with pytest.raises(ApiframeInvalidParamsError, match=r"items\[2\]\.model: got 'nope'"):  # bad input first
        check_items([*items(1), big, {"model": "nope"}], CATALOGUE, 50)


def test_many_bad_items_are_listed_up_to_a_limit_then_counted() -> None:
    bad = [{"model": "flux-2-pro", "prompt": "x", "colour": n} for n in range(MAX_PROBLEMS_SHOWN + 5)]

    with pytest.raises(ApiframeInvalidParamsError) as caught:
        check_items(bad, CATALOGUE, None)

    problems = caught.value.problems
    assert len(problems) == MAX_PROBLEMS_SHOWN + 2
    assert problems[-2] == ("...", "and 5 more problem(s)")
    assert problems[-1] == (
        "items",
        f"{MAX_PROBLEMS_SHOWN + 5} of {MAX_PROBLEMS_SHOWN + 5} item(s) are invalid",
    )


def test_an_items_key_is_stable_and_changes_with_its_key_its_request_and_the_run() -> None:
    one = check_items_item({"key": "a", "model": "flux-2-pro", "prompt": "x"})
    other = check_items_item({"key": "b", "model": "flux-2-pro", "prompt": "x"})
    changed = check_items_item({"key": "a", "model": "flux-2-pro", "prompt": "y"})
    identity = {"dag_id": "d", "task_id": "t", "run_id": "r", "map_index": -1}

    assert item_base_key(**identity, item=one) == item_base_key(**identity, item=one)
    assert item_base_key(**identity, item=one) != item_base_key(**identity, item=other)
    assert item_base_key(**identity, item=one) != item_base_key(**identity, item=changed)
    assert item_base_key(**identity, item=one) != item_base_key(**{**identity, "run_id": "r2"}, item=one)


def check_items_item(raw: dict[str, Any]) -> Any:
    from airflow_provider_apiframe.core.batch import check_item

    item, problems = check_item(raw, 0, CATALOGUE, priced=False)
    assert problems == []
    return item


def test_the_budget_counts_what_was_spent_and_the_worst_case_of_what_is_in_flight() -> None:
    budget = Budget(20, spent=4)
    budget.reserve("key:a", 8)
    assert budget.fits(8)
    assert not budget.fits(8.5)
    budget.rename("key:a", "job-a")
    budget.settle("job-a", 2)  # it cost less than its worst case: room for more
    assert (budget.spent, budget.committed) == (6, 6)
    budget.reserve("key:b", 8)
    budget.release("key:b")
    assert budget.committed == 6
    assert Budget(None).fits(10**9)
    assert budget.refusal("c", 24).startswith(
        "skipped: budget (spent 6 + in flight 0 + this item's worst case 24"
    )


def test_jsonl_and_csv_are_read_line_by_line_with_clear_errors() -> None:
    assert list(read_jsonl(['{"model": "a"}\n', "\n", '{"model": "b"}'], "in.jsonl")) == [
        {"model": "a"},
        {"model": "b"},
    ]
    with pytest.raises(ApiframeInvalidParamsError, match=r"requests: in\.jsonl line 2 is not JSON"):
        list(read_jsonl(['{"model": "a"}', "{oops"], "in.jsonl"))

    text = (
        "key,model,prompt,model_params\n"
        "k1,flux-2-pro,a mug,\n"
        'k2,gpt-image-1.5,a cup,"{""quality"": ""low""}"\n'
    )
    rows = list(read_csv_rows(csv.DictReader(io.StringIO(text)), "in.csv"))
    assert rows == [
        {"key": "k1", "model": "flux-2-pro", "prompt": "a mug"},
        {"key": "k2", "model": "gpt-image-1.5", "prompt": "a cup", "model_params": {"quality": "low"}},
    ]
    with pytest.raises(ApiframeInvalidParamsError, match=r"in\.csv line 2: model_params is not JSON"):
        list(read_csv_rows(csv.DictReader(io.StringIO("model,model_params\nx,{bad\n")), "in.csv"))
