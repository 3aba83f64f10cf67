"""The worst case of a request from the model catalogue, and the budget it must fit."""

from __future__ import annotations

import pytest

from airflow_provider_apiframe.core.budget import (
    ApiframeBudgetError,
    Estimate,
    check_budget,
    check_max_credits,
    worst_case,
)
from airflow_provider_apiframe.core.catalog import MIDJOURNEY_ACTION, VIDEO_GENERATE
from airflow_provider_apiframe.core.models_catalogue import CatalogueEntry

GENERATE = "/v2/images/generate"


def entry(model: str, mode: str | None, cost_max: float | None, modality: str = "image") -> CatalogueEntry:
    return CatalogueEntry.model_validate(
        {
            "id": model,
            "label": model,
            "modality": modality,
            "pricingMode": mode,
            "costMin": 1,
            "costMax": cost_max,
        }
    )


CATALOGUE = [
    entry("gpt-image-1.5", "per-output", 24),
    entry("kling-2.6", "per-second", 4, "video"),
    entry("suno-v5", "flat", 20, "music"),
    entry("midjourney", "per-output", 8),
]


def test_a_per_output_model_costs_its_cost_max_per_image_asked_for() -> None:
    body = {"model": "gpt-image-1.5", "prompt": "a cat", "gptImageParams": {"number_of_images": 4}}

    estimate = worst_case(body, GENERATE, CATALOGUE)

    assert estimate == Estimate(96, "gpt-image-1.5 is per-output: 24 (costMax) x 4 (number_of_images)")


def test_a_per_output_model_without_a_count_makes_one_output() -> None:
    estimate = worst_case({"model": "gpt-image-1.5", "prompt": "a cat"}, GENERATE, CATALOGUE)

    assert estimate.credits == 24
    assert "one output, the default" in estimate.how


def test_a_per_second_model_costs_its_cost_max_per_requested_second() -> None:
    body = {"model": "kling-2.6", "prompt": "waves", "klingParams": {"duration": 5}}

    estimate = worst_case(body, VIDEO_GENERATE, CATALOGUE)

    assert estimate.credits == 20
    assert estimate.how == "kling-2.6 is per-second: 4 (costMax) x 5 s (duration)"


def test_a_per_second_model_without_a_duration_is_priced_at_the_longest_the_contract_allows() -> None:
    estimate = worst_case({"model": "kling-2.6", "prompt": "waves"}, VIDEO_GENERATE, CATALOGUE)

    assert estimate.credits == 40  # kling-2.6 takes 5 or 10 s
    assert "the longest the contract allows" in estimate.how


def test_a_flat_model_costs_its_cost_max_a_job() -> None:
    estimate = worst_case({"model": "suno-v5", "prompt": "a jingle"}, "/v2/music/generate", CATALOGUE)

    assert estimate == Estimate(20, "suno-v5 is flat: 20 (costMax) a job")


def test_an_action_is_priced_as_one_output_of_its_parent_model() -> None:
    body = {"action": "upsample", "parentJobId": "00000000-0000-4000-8000-000000000000", "index": 1}

    estimate = worst_case(body, MIDJOURNEY_ACTION, CATALOGUE)

    assert estimate.credits == 8
    assert "one output of midjourney" in estimate.how


@pytest.mark.parametrize(
    ("catalogue", "shown"),
    [
        ([], "no entry"),
        ([entry("gpt-image-1.5", "per-output", None)], "costMax None"),
        ([entry("gpt-image-1.5", "per-token", 3)], "pricingMode 'per-token'"),
    ],
)
def test_a_model_the_catalogue_does_not_price_cannot_be_kept_to_a_budget(
    catalogue: list[CatalogueEntry], shown: str
) -> None:
    with pytest.raises(ApiframeBudgetError, match=r"does not price 'gpt-image-1\.5'") as caught:
        worst_case({"model": "gpt-image-1.5", "prompt": "a cat"}, GENERATE, catalogue)

    assert shown in str(caught.value)
    assert "remove max_credits" in str(caught.value)


def test_a_per_second_model_whose_length_nothing_bounds_is_refused() -> None:
    catalogue = [entry("topaz-video-upscale", "per-second", 4, "video")]
    body = {"model": "topaz-video-upscale", "video": "https://example.com/a.mp4"}

    with pytest.raises(ApiframeBudgetError, match="neither the request nor the contract bounds its length"):
        worst_case(body, "/v2/videos/upscale", catalogue)


def test_a_request_over_budget_is_refused_with_the_estimate_and_its_working() -> None:
    estimate = Estimate(96, "gpt-image-1.5 is per-output: 24 (costMax) x 4 (number_of_images)")

    with pytest.raises(ApiframeBudgetError) as caught:
        check_budget(estimate, 50)

    assert str(caught.value) == (
        "max_credits: the request may cost up to 96 credits, over the budget of 50 "
        "(gpt-image-1.5 is per-output: 24 (costMax) x 4 (number_of_images)); nothing was submitted"
    )
    check_budget(estimate, 96)  # exactly the budget is within it
    check_budget(estimate, None)


@pytest.mark.parametrize("bad", [-1, "100", True, float("nan")])
def test_max_credits_must_be_a_number_of_credits(bad: object) -> None:
    with pytest.raises(
        ApiframeBudgetError, match=r"max_credits: got .*; allowed: a number of credits >= 0, or None"
    ):
        check_max_credits(bad)

    assert check_max_credits(None) is None
    assert check_max_credits(0) == 0.0
