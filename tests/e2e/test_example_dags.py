"""
The example DAGs, end to end: real Airflow (``airflow dags test``, which runs each deferred task's
trigger inline from its serialized classpath and kwargs) against the emulator over real HTTP on
loopback. The emulator validates every job request against the official contract.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from PIL import Image
from support import API_KEY, STATE_STORE, airflow_db, logged_text, run_dag

from airflow_provider_apiframe.emulator import Emulator
from airflow_provider_apiframe.emulator.images import GPT_SIZES

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def assert_every_request_met_the_contract(emulator: Emulator) -> None:
    """The emulator checks each job request against the official contract: none was refused."""
    refused = [(method, path) for method, path, status in emulator.state.requests if status == 400]
    assert refused == []
    assert any(path == "/v2/images/generate" for _, path, _ in emulator.state.requests)


def check_saved_files(folder: Path, emulator: Emulator) -> list[Path]:
    """Each saved file is named ``<job_id>-<n>.<ext>`` after an emulator job, and opens as that image."""
    files = sorted(folder.iterdir())
    for path in files:
        job_id, _, rest = path.name.rpartition("-")
        job = emulator.state.jobs[job_id]
        number, ext = rest.split(".")
        assert 1 <= int(number) <= job.images.count
        with Image.open(path) as image:
            assert image.format.lower() == job.images.fmt == ext
            assert image.size == job.images.size
    return files


def check_result_files(emulator: Emulator) -> int:
    """Fetch every result image and check it has the format, size and alpha its request asked for."""
    checked = 0
    for record in emulator.state.jobs.values():
        job = httpx.get(f"{emulator.url}/v2/jobs/{record.id}", headers={"X-API-Key": API_KEY}).json()
        params = job["input"].get("gptImageParams", {})
        urls = job["result"]["images"]
        assert len(urls) == params.get("number_of_images", 1)
        for url in urls:
            response = httpx.get(url)
            assert response.status_code == 200, url
            image = Image.open(io.BytesIO(response.content))
            assert image.format.lower() == params.get("output_format", "webp"), url
            assert image.size == GPT_SIZES[params.get("aspect_ratio", "1:1")], url
            transparent = params.get("background") == "transparent"
            assert ("A" in image.getbands()) is transparent, url
            if transparent:
                assert image.getextrema()[-1][0] == 0, "a transparent background has fully transparent pixels"
            checked += 1
    return checked


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferrable", "in-worker"])
def test_showcase_dag(
    airflow_env: dict[str, str], emulator: Emulator, output: Path, deferrable: bool
) -> None:
    log = run_dag(
        "apiframe_showcase",
        airflow_env,
        emulator,
        output,
        APIFRAME_EXAMPLE_DEFERRABLE=str(deferrable).lower(),
    )

    assert ("running trigger in line" in log) is deferrable
    state = emulator.state
    # Eight jobs (six showcases and their two source images), each paid for once.
    assert len(state.jobs) == 8
    assert {state.status(job)[0] for job in state.jobs.values()} == {"COMPLETED"}
    assert sorted(job_id for job_id, _ in state.charges) == sorted(state.jobs)
    assert state.credits == state.config.credits - sum(cost for _, cost in state.charges)

    jobs = {job.prompt: job for job in state.jobs.values()}
    portrait = next(job for prompt, job in jobs.items() if prompt.startswith("A studio portrait"))
    navy = next(job for prompt, job in jobs.items() if prompt.startswith("Change only the shirt"))
    assert navy.body["gptImageParams"]["input_images"] == [f"{emulator.url}/files/{portrait.id}-1.jpeg"]
    assert navy.inputs is not None
    assert len(navy.inputs) == 1, "the edit was made from the fetched input"
    scene = next(job for prompt, job in jobs.items() if prompt.startswith("Place the smartwatch"))
    assert scene.inputs is not None
    assert len(scene.inputs) == 2

    assert check_result_files(emulator) == 8
    assert len(check_saved_files(output / "showcase", emulator)) == 8
    assert_every_request_met_the_contract(emulator)
    assert API_KEY not in log
    assert API_KEY not in logged_text(airflow_env)


@pytest.mark.parametrize(
    ("deferrable", "connection"),
    [(True, "environment"), (False, "environment"), (True, "database")],
    ids=["deferrable", "in-worker", "deferrable-connection-in-database"],
)
def test_catalogue_dag_fans_out(
    airflow_env: dict[str, str], emulator: Emulator, deferrable: bool, connection: str
) -> None:
    """The connection as most people make it, in Airflow's database, must reach the trigger too."""
    log = run_dag(
        "apiframe_catalogue",
        airflow_env,
        emulator,
        connection=connection,
        APIFRAME_EXAMPLE_DEFERRABLE=str(deferrable).lower(),
    )

    state = emulator.state
    assert len(state.jobs) == 3
    assert len(state.idempotency) == 3, "each mapped task instance has its own idempotency key"
    assert len(state.charges) == 3
    assert check_result_files(emulator) == 3
    assert_every_request_met_the_contract(emulator)
    assert "summarize" in log
    assert "isn't defined" not in log
    assert ("running trigger in line" in log) is deferrable
    assert API_KEY not in log


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferrable", "in-worker"])
def test_images_in_and_out(
    airflow_env: dict[str, str], emulator: Emulator, output: Path, deferrable: bool
) -> None:
    run_dag(
        "apiframe_images_in_out",
        airflow_env,
        emulator,
        output,
        APIFRAME_EXAMPLE_DEFERRABLE=str(deferrable).lower(),
    )

    state = emulator.state
    # In: the two local files were uploaded once each, and the jobs were made from them.
    assert len(state.uploads) == 2
    upload_urls = {f"{emulator.url}/uploads/{upload_id}" for upload_id in state.uploads}
    sent = {url for job in state.jobs.values() for url in job.body["gptImageParams"]["input_images"]}
    assert sent == upload_urls
    assert all(job.inputs for job in state.jobs.values())
    # Out: three files (one image, then two) saved as <job_id>-<n>.<ext>.
    assert len(check_saved_files(output / "in-out", emulator)) == 3
    # Assets: one event per file through the AssetAlias, carrying the job's details.
    rows = airflow_db(
        airflow_env, "SELECT a.uri, e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id"
    )
    events = {uri: json.loads(extra) for uri, extra in rows if str(output) in uri}
    assert len(events) == 3
    for uri, extra in events.items():
        job = state.jobs[extra["job_id"]]
        assert (extra["model"], extra["prompt"], extra["credit_cost"]) == (
            "gpt-image-1.5",
            job.prompt,
            job.cost,
        )
        assert uri.endswith(Path(extra["path"]).name)
    # The extra link: each task's first image.
    links = dict(
        airflow_db(airflow_env, "SELECT task_id, value FROM xcom WHERE key = '_link_ApiframeImageLink'")
    )
    assert json.loads(links["navy_shirt_from_local_portrait"]).startswith(f"{emulator.url}/files/")


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferrable", "in-worker"])
def test_the_whole_catalogue(
    airflow_env: dict[str, str], emulator: Emulator, output: Path, deferrable: bool
) -> None:
    run_dag(
        "apiframe_models", airflow_env, emulator, output, APIFRAME_EXAMPLE_DEFERRABLE=str(deferrable).lower()
    )

    state = emulator.state
    jobs = {job.model: job for job in state.jobs.values()}
    assert set(jobs) == {
        "flux-2-pro",
        "nano-banana-pro",
        "ideogram-v3-quality",
        "gpt-image-2",
        "seedream-4",
        "topaz-image-upscale",
        "bria-bg-remove",
        "flux-fill-pro",
    }
    routes = {job.route for job in jobs.values()}
    assert routes == {
        "/v2/images/generate",
        "/v2/images/upscale",
        "/v2/images/background-remove",
        "/v2/images/edit",
    }
    assert jobs["flux-2-pro"].body["fluxParams"] == {"aspect_ratio": "2:3"}
    assert jobs["nano-banana-pro"].body["nanoBananaParams"] == {"resolution": "1K", "output_format": "png"}
    assert jobs["gpt-image-2"].body["gptImage2Params"]["moderation"] == "auto"
    assert (
        jobs["topaz-image-upscale"]
        .body["topazUpscaleParams"]["image"]
        .endswith(f"{jobs['flux-2-pro'].id}-1.png")
    )
    assert len(state.charges) == len(state.jobs), "every job, the sensor's too, completed and was paid once"
    # Every task but the submit-only one saved its image; the sensor saved the submitted job's.
    files = check_saved_files(output / "models", emulator)
    assert {path.name.rpartition("-")[0] for path in files} == {job.id for job in jobs.values()}
    assert_every_request_met_the_contract(emulator)


def test_a_retried_task_reattaches_to_the_job_it_paid_for(
    airflow_env: dict[str, str], emulator: Emulator
) -> None:
    # The first try submits, then its status check is refused (a permanent 404): the try fails.
    # On 3.3+ the retry reads the job id from the task state store and submits nothing; before
    # 3.3 it submits again with the same key and the API replays the job. Nothing is paid twice.
    emulator.inject(action="status", method="GET", path="/v2/jobs/*", status=404, times=1)

    log = run_dag(
        "reattach_after_failed_try",
        airflow_env,
        emulator,
        AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "tests" / "dags"),
    )

    state = emulator.state
    submissions = [r for r in state.requests if r[:2] == ("POST", "/v2/images/generate")]
    assert len(submissions) == (1 if STATE_STORE else 2)
    assert len(state.jobs) == 1, "the retry re-attached instead of creating a job"
    assert len(state.charges) == 1
    assert "failed with HTTP 404" in log


def test_airflow_cli_lists_the_provider_and_connection_type(airflow_env: dict[str, str]) -> None:
    def cli(*args: str) -> str:
        proc = subprocess.run(
            [sys.executable, "-m", "airflow", *args], env=airflow_env, capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        return proc.stdout

    assert "airflow-provider-apiframe" in cli("providers", "list")
    hooks = cli("providers", "hooks", "-o", "json")
    (apiframe,) = [h for h in json.loads(hooks) if h["connection_type"] == "apiframe"]
    assert apiframe["class"] == "airflow_provider_apiframe.hooks.apiframe.ApiframeHook"
