"""``GET /v2/models`` on the emulator: contract-valid for every query, and priced as the emulator charges."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from support import API_KEY, wait_for

from airflow_provider_apiframe.core import contract as contract_module
from airflow_provider_apiframe.emulator import Emulator

MODELS = "/v2/models"


@pytest.fixture
def client(emulator: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emulator.url, timeout=30) as http:  # no key: the route is public
        yield http


def modalities(spec: dict[str, Any]) -> list[str]:
    (parameter,) = spec["paths"][MODELS]["get"]["parameters"]
    assert (parameter["in"], parameter["name"]) == ("query", "modality")
    return list(parameter["schema"]["enum"])


def valid(contract: Any, response: httpx.Response) -> Any:
    name = contract.response_schema("GET", MODELS, response.status_code)
    body = response.json()
    assert contract.errors(name, body) == [], body
    assert response.headers["x-request-id"].startswith("req_")
    return body


@pytest.mark.parametrize("modality", [None, "image", "video", "music"])
def test_every_query_the_contract_allows_answers_a_valid_catalogue(
    client: httpx.Client, contract: Any, spec: dict[str, Any], modality: str | None
) -> None:
    assert modality is None or modality in modalities(spec)
    response = client.get(MODELS, params={"modality": modality} if modality else None)
    assert response.status_code == 200
    entries = valid(contract, response)["models"]
    assert entries
    assert all(modality in (None, e["modality"]) for e in entries)
    assert len({e["id"] for e in entries}) == len(entries)


def test_the_contract_lists_every_modality_tested(spec: dict[str, Any]) -> None:
    assert modalities(spec) == ["image", "video", "music"]


@pytest.mark.parametrize("modality", ["IMAGE", "audio", ""])
def test_an_unknown_modality_is_a_contract_valid_400(
    client: httpx.Client, contract: Any, modality: str
) -> None:
    response = client.get(MODELS, params={"modality": modality})
    assert response.status_code == 400
    assert "modality" in valid(contract, response)["details"]


def test_the_catalogue_holds_every_model_of_every_job_route(
    client: httpx.Client, spec: dict[str, Any]
) -> None:
    listed = {e["id"]: e for e in client.get(MODELS).json()["models"]}
    for route, models in contract_module.route_models(spec).items():
        kind = {"images": "image", "videos": "video", "music": "music"}[route.split("/")[2]]
        for model in models:
            assert listed[model]["modality"] == kind
            assert route in listed[model]["routes"]


def test_a_full_document_gives_the_same_catalogue(document: dict[str, Any], spec: dict[str, Any]) -> None:
    from airflow_provider_apiframe.emulator.routes.models import catalogue

    assert catalogue(document) == catalogue(spec)


def test_prices_are_what_the_emulator_charges(emulator: Emulator, client: httpx.Client) -> None:
    listed = {e["id"]: e for e in client.get(MODELS, params={"modality": "image"}).json()["models"]}
    gpt = listed["gpt-image-1.5"]
    assert (gpt["pricingMode"], gpt["costMin"], gpt["costMax"]) == ("per-output", 2, 24)
    flux = listed["flux-2-pro"]
    assert (flux["pricingMode"], flux["costMin"], flux["costMax"]) == ("per-output", 8, 8)
    jobs = {
        ("gpt-image-1.5", 2): {"gptImageParams": {"quality": "low", "number_of_images": 2}},
        ("gpt-image-1.5", 1): {"gptImageParams": {"quality": "high"}},
        ("flux-2-pro", 1): {},
    }
    charged: dict[str, tuple[str, int]] = {}
    with httpx.Client(base_url=emulator.url, headers={"X-API-Key": API_KEY}, timeout=30) as keyed:
        for (model, count), params in jobs.items():
            body = {"model": model, "prompt": "a lighthouse", **params}
            accepted = keyed.post("/v2/images/generate", json=body)
            assert accepted.status_code == 202, accepted.text
            charged[accepted.json()["jobId"]] = (model, count)
        for job_id, (model, count) in charged.items():
            done = wait_for(lambda job_id=job_id: keyed.get(f"/v2/jobs/{job_id}").json()["creditCost"])
            entry = listed[model]
            assert entry["costMin"] * count <= done <= entry["costMax"] * count
