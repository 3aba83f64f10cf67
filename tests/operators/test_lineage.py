"""OpenLineage facets of the job operators, the sensor and the batch, run against the emulator."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import attrs
import pytest
from airflow.sdk import ObjectStoragePath
from support import API_KEY, INPUTS, FakeTI

pytest.importorskip("airflow.providers.openlineage")

from openlineage.client.serde import Serde

from airflow_provider_apiframe.core import calls
from airflow_provider_apiframe.hooks.apiframe import ApiframeHook
from airflow_provider_apiframe.operators import lineage
from airflow_provider_apiframe.operators.batch import ApiframeBatchOperator
from airflow_provider_apiframe.operators.gpt_image import GptImageGenerateOperator
from airflow_provider_apiframe.operators.image import ApiframeImageEditOperator
from airflow_provider_apiframe.sensors.job import ApiframeJobSensor

try:  # Airflow >= 3.2
    from airflow.sdk.exceptions import TaskDeferred
except ImportError:  # Airflow 3.1
    from airflow.exceptions import TaskDeferred  # type: ignore[no-redef,attr-defined,unused-ignore]

PROMPT = "A confidential prompt: put this watch on the portrait's wrist"
PORTRAIT = INPUTS / "portrait.jpg"
PRODUCT = INPUTS / "product.png"


def gpt(**kwargs: Any) -> GptImageGenerateOperator:
    options = {"task_id": "draw", "prompt": PROMPT, "quality": "low", "deferrable": False}
    return GptImageGenerateOperator(**{**options, "poll_interval": 0.05, "timeout": 30, **kwargs})


def pairs(datasets: list[Any]) -> list[tuple[str, str]]:
    return [(d.namespace, d.name) for d in datasets]


def serialized(facets: Any) -> str:
    """The lineage as OpenLineage sends it."""
    return json.dumps(
        {
            "inputs": [json.loads(Serde.to_json(d)) for d in facets.inputs],
            "outputs": [json.loads(Serde.to_json(d)) for d in facets.outputs],
            "run": {name: json.loads(Serde.to_json(f)) for name, f in facets.run_facets.items()},
        }
    )


# --- job operators ---------------------------------------------------------------------------------------


def test_a_job_reports_its_local_inputs_as_given_its_saved_files_and_its_job(
    api: Any, tmp_path: Path
) -> None:
    op = gpt(input_images=[str(PORTRAIT), ObjectStoragePath(f"file://{PRODUCT}")], output_path=str(tmp_path))
    result = op.execute({"ti": FakeTI()})  # type: ignore[arg-type]

    facets = op.get_openlineage_facets_on_complete(FakeTI())

    assert pairs(facets.inputs) == [("file", str(PORTRAIT)), ("file", str(PRODUCT))]
    assert pairs(facets.outputs) == [("file", f["path"]) for f in result["files"]] != []
    facet = facets.run_facets["apiframe_job"]
    assert isinstance(facet, lineage.ApiframeJobRunFacet)
    assert (facet.jobIds, facet.models, facet.status) == ([result["job_id"]], ["gpt-image-1.5"], "COMPLETED")
    assert facet.credits == result["credit_cost"] == dict(api.state.ledger.charges)[result["job_id"]]
    assert facet.estimatedCredits is None, "no budget, no estimate"
    assert facet.prompts is None
    sent = serialized(facets)
    assert API_KEY not in sent
    assert PROMPT not in sent
    assert "/uploads/" not in sent, "never the short-lived URLs the uploads returned"
    assert facet._schemaURL == lineage.SCHEMA_URL


def test_the_prompt_is_reported_only_when_the_task_opts_in(api: Any, tmp_path: Path) -> None:
    op = gpt(lineage_prompt=True, max_credits=50)
    op.execute({"ti": FakeTI()})  # type: ignore[arg-type]

    facet = op.get_openlineage_facets_on_complete(FakeTI()).run_facets["apiframe_job"]

    assert facet.prompts == [PROMPT]
    assert facet.estimatedCredits is not None
    assert 0 < facet.credits <= facet.estimatedCredits <= 50
    assert API_KEY not in serialized(op.get_openlineage_facets_on_complete(FakeTI()))


async def test_a_deferred_job_reports_from_the_fresh_instance_that_resumed(api: Any, tmp_path: Path) -> None:
    api.config.job_seconds = 1.0  # surely still running when the task checks it once
    ti = FakeTI()
    options = {"deferrable": True, "input_images": str(PORTRAIT), "output_path": str(tmp_path)}
    with pytest.raises(TaskDeferred) as info:
        gpt(max_credits=50, **options).execute({"ti": ti})  # type: ignore[arg-type]
    (event,) = [e.payload async for e in info.value.trigger.run()]

    resumed = gpt(max_credits=50, **options)  # a new worker process builds the operator again
    result = resumed.execute_complete({"ti": ti}, event, **info.value.kwargs)  # type: ignore[arg-type]
    facets = resumed.get_openlineage_facets_on_complete(ti)

    assert pairs(facets.inputs) == [("file", str(PORTRAIT))]
    assert pairs(facets.outputs) == [("file", f["path"]) for f in result["files"]]
    facet = facets.run_facets["apiframe_job"]
    assert facet.jobIds == [result["job_id"]]
    assert facet.estimatedCredits == result["estimated_credits"] is not None


def test_a_job_not_waited_for_reports_its_inputs_and_its_id(api: Any) -> None:
    api.config.job_seconds = 1.0
    op = gpt(input_images=str(PORTRAIT), wait_for_completion=False)
    result = op.execute({"ti": FakeTI()})  # type: ignore[arg-type]

    facets = op.get_openlineage_facets_on_complete(FakeTI())

    assert pairs(facets.inputs) == [("file", str(PORTRAIT))]
    assert facets.outputs == []
    assert facets.run_facets["apiframe_job"].jobIds == [result["job_id"]]
    assert facets.run_facets["apiframe_job"].status is None


def test_inputs_name_storage_and_urls_the_openlineage_way_without_credentials_or_signatures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    op = gpt(
        input_images=[
            "https://user:secret@cdn.example.com/in/a.png?X-Amz-Signature=abc#top",
            ObjectStoragePath("s3://bucket/inputs/b.png"),
            "gs://other/c.webp",
            "relative/d.png",
            f"file://{PRODUCT}",
            str(PRODUCT),  # the same file twice: one dataset
        ]
    )

    facets = op.get_openlineage_facets_on_complete(FakeTI())  # the task failed before submitting

    assert pairs(facets.inputs) == [
        ("https://cdn.example.com", "/in/a.png"),
        ("s3://bucket", "inputs/b.png"),
        ("gs://other", "c.webp"),
        ("file", str(tmp_path / "relative" / "d.png")),
        ("file", str(PRODUCT)),
    ]
    assert facets.outputs == []
    facet = facets.run_facets["apiframe_job"]
    assert (facet.jobIds, facet.models, facet.credits) == ([], ["gpt-image-1.5"], None)
    assert "secret" not in serialized(facets)
    assert "Signature" not in serialized(facets)


def test_a_model_operator_reports_the_media_among_its_parameters_and_their_prompt() -> None:
    op = ApiframeImageEditOperator(
        task_id="fill",
        model_params={"image": str(PORTRAIT), "prompt": PROMPT, "mode": "inpaint"},
        lineage_prompt=True,
    )

    facets = op.get_openlineage_facets_on_complete(FakeTI())

    assert pairs(facets.inputs) == [("file", str(PORTRAIT))]
    assert facets.run_facets["apiframe_job"].prompts == [PROMPT]
    assert facets.run_facets["apiframe_job"].models == ["flux-fill-pro"]


# --- the sensor ------------------------------------------------------------------------------------------


async def test_the_sensor_reports_the_files_it_saved_and_the_job_but_no_inputs(
    api: Any, tmp_path: Path
) -> None:
    api.config.job_seconds = 1.0
    call = calls.generate_image("gpt-image-1.5", prompt=PROMPT, quality="low")
    job_id = ApiframeHook().submit_job(call).job_id
    ti = FakeTI(task_id="wait")
    options = {"task_id": "wait", "job_id": job_id, "output_path": str(tmp_path), "poke_interval": 0.05}
    with pytest.raises(TaskDeferred) as info:
        ApiframeJobSensor(**options).execute({"ti": ti})  # type: ignore[arg-type]
    (event,) = [e.payload async for e in info.value.trigger.run()]

    resumed = ApiframeJobSensor(**options)
    result = resumed.execute_complete({"ti": ti}, event)  # type: ignore[arg-type]
    facets = resumed.get_openlineage_facets_on_complete(ti)

    assert facets.inputs == []
    assert pairs(facets.outputs) == [("file", f["path"]) for f in result["files"]] != []
    facet = facets.run_facets["apiframe_job"]
    assert (facet.jobIds, facet.models, facet.credits) == ([job_id], ["gpt-image-1.5"], result["credit_cost"])
    assert PROMPT not in serialized(facets)
    assert API_KEY not in serialized(facets)


# --- the batch -------------------------------------------------------------------------------------------

ITEMS = [
    {"key": "red", "model": "flux-2-pro", "prompt": "a red mug"},
    {"key": "blue", "model": "gpt-image-1.5", "prompt": "a blue mug", "model_params": {"quality": "low"}},
]


def batch(tmp_path: Path, requests: Any, **kwargs: Any) -> ApiframeBatchOperator:
    options = {"task_id": "render", "deferrable": False, "poll_interval": 0.05, "timeout": 60, **kwargs}
    return ApiframeBatchOperator(requests=requests, output_path=str(tmp_path / "out"), **options)


def test_a_batch_reports_its_folder_its_manifest_its_jobs_and_counts(api: Any, tmp_path: Path) -> None:
    jsonl = tmp_path / "items.jsonl"
    jsonl.write_text("".join(json.dumps(item) + "\n" for item in ITEMS))
    op = batch(tmp_path, str(jsonl))
    result = op.execute({"ti": FakeTI()})  # type: ignore[arg-type]

    facets = op.get_openlineage_facets_on_complete(FakeTI())

    assert pairs(facets.inputs) == [("file", str(jsonl))]
    out = tmp_path / "out"
    assert pairs(facets.outputs) == [("file", str(out)), ("file", str(out / "manifest.jsonl"))]
    facet = facets.run_facets["apiframe_job"]
    manifest = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert sorted(facet.jobIds) == sorted(line["job_id"] for line in manifest)
    assert facet.models == ["flux-2-pro", "gpt-image-1.5"]
    assert (facet.credits, facet.estimatedCredits) == (result["credits"], result["estimated_credits"])
    assert facet.batch == {"items": 2, "completed": 2, "failed": 0, "skipped": 0}
    assert facet.prompts is None
    sent = serialized(facets)
    assert "a red mug" not in sent
    assert API_KEY not in sent


def test_a_deferred_batch_opted_in_reports_its_prompts_from_the_instance_that_resumed(
    api: Any, tmp_path: Path
) -> None:
    ti = FakeTI()
    with pytest.raises(TaskDeferred) as info:
        batch(tmp_path, ITEMS, deferrable=True, lineage_prompt=True).execute({"ti": ti})  # type: ignore[arg-type]

    async def events() -> list[Any]:
        return [e.payload async for e in info.value.trigger.run()]

    (event,) = asyncio.run(events())
    resumed = batch(tmp_path, ITEMS, deferrable=True, lineage_prompt=True)
    resumed.execute_complete({"ti": ti}, event, **info.value.kwargs)  # type: ignore[arg-type]
    facet = resumed.get_openlineage_facets_on_complete(ti).run_facets["apiframe_job"]

    assert facet.prompts == ["a red mug", "a blue mug"]
    assert len(facet.jobIds) == 2
    assert facet.batch["completed"] == 2


def test_a_batch_reports_the_media_urls_of_its_items_each_once(tmp_path: Path) -> None:
    image = "https://cdn.example.com/products/mug.png?token=abc"
    items = [
        {"key": f"up-{n}", "model": "topaz-image-upscale", "model_params": {"image": image}} for n in range(3)
    ]

    facets = batch(tmp_path, items).get_openlineage_facets_on_complete(FakeTI())  # not run

    assert pairs(facets.inputs) == [("https://cdn.example.com", "/products/mug.png")]
    assert facets.outputs == []
    assert facets.run_facets["apiframe_job"].models == ["topaz-image-upscale"]


# --- the facet and the optional provider -----------------------------------------------------------------


def test_the_shipped_schema_describes_every_field_of_the_facet() -> None:
    schema = json.loads((Path(lineage.__file__).parent / "ApiframeJobRunFacet.json").read_text())
    (_base, own) = schema["$defs"]["ApiframeJobRunFacet"]["allOf"]
    fields = {f.name for f in attrs.fields(lineage.ApiframeJobRunFacet)} - {"_producer", "_schemaURL"}
    assert set(own["properties"]) == fields
    assert lineage.SCHEMA_URL.endswith("ApiframeJobRunFacet.json#/$defs/ApiframeJobRunFacet")


def test_without_the_openlineage_provider_nothing_imports_it() -> None:
    package = Path(lineage.__file__).parents[1]
    importing = [
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if re.search(r"^\s*(from|import) (airflow\.providers\.)?openlineage", path.read_text(), re.M)
    ]
    assert importing == ["operators/lineage.py"]
    code = (
        "import sys\n"
        "from airflow_provider_apiframe.operators import base, batch, gpt_image, lora, model_job\n"
        "from airflow_provider_apiframe.sensors import job\n"
        "gpt_image.GptImageGenerateOperator(task_id='t', prompt='p', lineage_prompt=True)\n"
        "assert 'airflow_provider_apiframe.operators.lineage' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=120)
