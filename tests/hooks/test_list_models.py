"""``ApiframeHook.list_models``: the public catalogue read once per process and base URL, filtered, typed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_apiframe.core import models_catalogue
from airflow_provider_apiframe.core.errors import ApiframeAuthenticationError, ApiframeInvalidParamsError
from airflow_provider_apiframe.hooks import apiframe
from airflow_provider_apiframe.hooks.apiframe import ApiframeHook

BASE_URL = "https://api.apiframe.test"
MODELS_URL = f"{BASE_URL}/v2/models"
CATALOGUE = {
    "models": [
        {
            "id": "gpt-image-2",
            "label": "GPT Image 2",
            "modality": "image",
            "costMin": 2,
            "costMax": 24,
            "pricingMode": "per-output",
            "controls": ["quality"],  # extra fields are allowed
        },
        {
            "id": "kling-3.0",
            "label": "Kling 3.0",
            "modality": "video",
            "costMin": 4.5,
            "pricingMode": "per-second",
        },
        {"id": "suno-v5", "label": "Suno v5", "modality": "music"},
    ]
}


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    apiframe._CATALOGUES.clear()
    yield
    apiframe._CATALOGUES.clear()


@pytest.fixture
def hook(connection: str) -> ApiframeHook:
    return ApiframeHook()


def test_reads_the_catalogue_with_the_key_and_no_filter(hook: ApiframeHook, requests_mock: Any) -> None:
    requests_mock.get(MODELS_URL, json=CATALOGUE)

    entries = hook.list_models()

    (request,) = requests_mock.request_history
    assert (request.method, request.url) == ("GET", MODELS_URL)
    assert request.headers["X-API-Key"]
    assert [e.id for e in entries] == ["gpt-image-2", "kling-3.0", "suno-v5"]


def test_entries_are_typed_under_the_contract_names(hook: ApiframeHook, requests_mock: Any) -> None:
    requests_mock.get(MODELS_URL, json=CATALOGUE)

    gpt, video, music = hook.list_models()

    assert (gpt.label, gpt.modality, gpt.cost_min, gpt.cost_max, gpt.pricing_mode) == (
        "GPT Image 2",
        "image",
        2,
        24,
        "per-output",
    )
    assert gpt.model_extra == {"controls": ["quality"]}
    assert gpt.routes == ("/v2/images/generate",)
    assert (video.cost_min, video.cost_max, video.pricing_mode) == (4.5, None, "per-second")
    assert (music.cost_min, music.pricing_mode, music.description) == (None, None, None)
    assert gpt.model_dump(by_alias=True, exclude_none=True)["costMin"] == 2


def test_a_second_call_makes_no_request(hook: ApiframeHook, requests_mock: Any) -> None:
    requests_mock.get(MODELS_URL, json=CATALOGUE)

    first = hook.list_models()
    again = ApiframeHook().list_models()  # another hook of the same connection, same process

    assert again == first
    assert requests_mock.call_count == 1


def test_refresh_reads_it_again(hook: ApiframeHook, requests_mock: Any) -> None:
    requests_mock.get(MODELS_URL, [{"json": CATALOGUE}, {"json": {"models": CATALOGUE["models"][:1]}}])

    hook.list_models()
    fresh = hook.list_models(refresh=True)

    assert [e.id for e in fresh] == ["gpt-image-2"]
    assert [e.id for e in hook.list_models()] == ["gpt-image-2"]
    assert requests_mock.call_count == 2


def test_the_cache_is_per_base_url(use_connection: Any, requests_mock: Any) -> None:
    other = "http://127.0.0.1:8080"
    requests_mock.get(MODELS_URL, json=CATALOGUE)
    requests_mock.get(f"{other}/v2/models", json={"models": []})

    use_connection(BASE_URL)
    assert len(ApiframeHook().list_models()) == 3
    use_connection(other)
    assert ApiframeHook().list_models() == []
    assert requests_mock.call_count == 2


@pytest.mark.parametrize(
    ("modality", "ids"), [("image", ["gpt-image-2"]), ("video", ["kling-3.0"]), ("music", ["suno-v5"])]
)
def test_the_modality_filter(hook: ApiframeHook, requests_mock: Any, modality: str, ids: list[str]) -> None:
    requests_mock.get(MODELS_URL, json=CATALOGUE)

    assert [e.id for e in hook.list_models(modality)] == ids
    assert [e.id for e in hook.list_models(modality=None)] == ["gpt-image-2", "kling-3.0", "suno-v5"]
    assert requests_mock.call_count == 1


def test_an_unknown_modality_fails_before_sending(hook: ApiframeHook, requests_mock: Any) -> None:
    with pytest.raises(
        ApiframeInvalidParamsError, match=r"modality: got 'audio'; allowed: 'image', 'video', 'music'"
    ):
        hook.list_models("audio")

    assert requests_mock.call_count == 0


def test_401_fails_at_once_with_the_api_message(
    hook: ApiframeHook, requests_mock: Any, retry_waits: list[float]
) -> None:
    requests_mock.get(
        MODELS_URL,
        status_code=401,
        json={"error": "Invalid API key."},
        headers={"x-request-id": "req-7"},
    )

    with pytest.raises(ApiframeAuthenticationError) as info:
        hook.list_models()

    assert requests_mock.call_count == 1
    assert retry_waits == []
    assert "Invalid API key." in str(info.value)
    assert apiframe._CATALOGUES == {}


def test_the_builder_sends_the_filter_as_a_query() -> None:
    assert models_catalogue.list_models().params is None
    call = models_catalogue.list_models("video")
    assert (call.method, call.path, call.params) == ("GET", "/v2/models", {"modality": "video"})
    assert call.retry_safe


def test_against_the_emulator(emulator: Any, use_connection: Any) -> None:
    use_connection(emulator.url)

    entries = ApiframeHook().list_models("image")

    gpt = next(e for e in entries if e.id == "gpt-image-1.5")
    assert (gpt.pricing_mode, gpt.cost_min, gpt.cost_max) == ("per-output", 2, 24)
    assert {e.modality for e in entries} == {"image"}
    assert {e.id for e in ApiframeHook().list_models("music")} == set(
        next(models for route, models in emulator.state.config.spec["models"].items() if "music" in route)
    )
