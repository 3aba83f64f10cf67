"""Images in and out, over real HTTP against the emulator: uploads, saved files, Asset events, the link."""

from __future__ import annotations

import hashlib
import io
import re
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import Asset, AssetAlias, ObjectStoragePath
from PIL import Image
from support import API_KEY, INPUTS, RESULT_KEYS, FakeOutletEvents, FakeTI

from airflow_provider_apiframe import storage
from airflow_provider_apiframe._compat import AirflowFailException
from airflow_provider_apiframe.core import calls
from airflow_provider_apiframe.core.errors import ApiframeError, ApiframeJobError
from airflow_provider_apiframe.core.models import Job
from airflow_provider_apiframe.hooks.apiframe import ApiframeHook
from airflow_provider_apiframe.operators.gpt_image import GptImageGenerateOperator
from airflow_provider_apiframe.operators.links import ApiframeImageLink
from airflow_provider_apiframe.storage import save_images
from airflow_provider_apiframe.transports.base import CHUNK_BYTES
from airflow_provider_apiframe.transports.sync import SyncTransport
from airflow_provider_apiframe.triggers.job import ApiframeJobTrigger

try:  # Airflow >= 3.2
    from airflow.sdk.exceptions import TaskDeferred
except ImportError:  # Airflow 3.1
    from airflow.exceptions import TaskDeferred  # type: ignore[no-redef,attr-defined,unused-ignore]

PORTRAIT = INPUTS / "portrait.jpg"
PRODUCT = INPUTS / "product.png"
GENERATE = "/v2/images/generate"
UPLOADS = "/v2/uploads"
PIL_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP"}
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpeg", "image/webp": "webp"}


# --- fakes and helpers ----------------------------------------------------------------------------------


def gpt(**kwargs: Any) -> GptImageGenerateOperator:
    """A GPT Image 1.5 operator waiting in the worker, polling fast."""
    kwargs.setdefault("task_id", "draw")
    kwargs.setdefault("prompt", "a watercolor fox")
    kwargs.setdefault("quality", "low")
    kwargs.setdefault("deferrable", False)
    kwargs.setdefault("poll_interval", 0.05)
    kwargs.setdefault("timeout", 30)
    return GptImageGenerateOperator(**kwargs)


def run(op: Any, ti: FakeTI | None = None, **context: Any) -> dict[str, Any]:
    return op.execute({"ti": ti or FakeTI(), **context})  # type: ignore[arg-type]


def write_image(path: Path, fmt: str = "PNG", size: tuple[int, int] = (64, 48), color: Any = "teal") -> Path:
    """A small real image made with Pillow."""
    Image.new("RGB", size, color).save(path, fmt)
    return path


def requests_to(emulator: Any, method: str, path: str) -> list[tuple[str, str, int]]:
    return [r for r in emulator.state.requests if r[0] == method and re.fullmatch(path, r[1])]


def read_back(path: str) -> bytes:
    """A saved file's bytes, from whatever storage its path names."""
    data: bytes = ObjectStoragePath(path).read_bytes() if "://" in path else Path(path).read_bytes()
    return data


def check_files(
    result: dict[str, Any], *, count: int, content_type: str, size: tuple[int, int]
) -> list[bytes]:
    """Every file of a result is where it says, named after the job, real, and described truly."""
    job_id = result["job_id"]
    assert len(result["files"]) == count
    contents = []
    for n, file in enumerate(result["files"], start=1):
        assert set(file) == {"path", "bytes", "sha256", "content_type", "kind"}
        assert file["path"].endswith(f"/{job_id}-{n}.{EXTENSIONS[content_type]}")
        data = read_back(file["path"])
        assert file["bytes"] == len(data) > 0
        assert file["sha256"] == hashlib.sha256(data).hexdigest()
        assert file["content_type"] == content_type
        with Image.open(io.BytesIO(data)) as image:
            assert image.format == PIL_FORMATS[content_type]
            assert image.size == size
        contents.append(data)
    return contents


# --- outputs ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("form", "output_format", "content_type"),
    [
        ("folder", "png", "image/png"),
        ("file-url", "jpeg", "image/jpeg"),
        ("storage-path", "webp", "image/webp"),
        ("memory", "png", "image/png"),
    ],
)
def test_output_path_in_every_form_saves_real_images(
    api: Any, tmp_path: Path, memory_fs: Any, form: str, output_format: str, content_type: str
) -> None:
    folder = tmp_path / "out" / "nested"  # does not exist yet
    bucket = f"bucket-{tmp_path.name}"
    output_path: Any = {
        "folder": str(folder),
        "file-url": f"file://{folder}",
        "storage-path": ObjectStoragePath(f"file://{folder}/"),
        "memory": ObjectStoragePath(f"memory://{bucket}/x/"),
    }[form]

    result = run(gpt(output_format=output_format, output_path=output_path))

    assert set(result) == RESULT_KEYS
    assert result["status"] == "COMPLETED"
    (content,) = check_files(result, count=1, content_type=content_type, size=(1024, 1024))
    (file,) = result["files"]
    name = f"{result['job_id']}-1.{EXTENSIONS[content_type]}"
    if form == "memory":
        assert file["path"].startswith("memory://")
        assert re.search(rf"/{bucket}/x/{re.escape(name)}$", file["path"])
        assert memory_fs.cat_file(f"/{bucket}/x/{name}") == content
        assert not folder.exists()
    else:
        assert (folder / name).read_bytes() == content
        assert [p.name for p in folder.iterdir()] == [name]
    # The file is exactly what the API serves at the result URL.
    emulated = api.state.jobs[result["job_id"]].files[1]
    assert content == emulated


def test_three_images_give_three_distinct_files(api: Any, tmp_path: Path) -> None:
    result = run(gpt(number_of_images=3, aspect_ratio="3:2", output_format="jpeg", output_path=str(tmp_path)))

    assert len(result["images"]) == 3
    contents = check_files(result, count=3, content_type="image/jpeg", size=(1536, 1024))
    assert len(set(contents)) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{result['job_id']}-{n}.jpeg" for n in (1, 2, 3)]
    # Files are listed in the order of the result's URLs.
    assert [f["path"].rsplit("/", 1)[-1].split(".")[0] for f in result["files"]] == [
        u.rsplit("/", 1)[-1].split(".")[0] for u in result["images"]
    ]


async def test_deferrable_path_saves_files_after_the_trigger(api: Any, tmp_path: Path) -> None:
    api.config.job_seconds = 1.0  # surely still running when the task checks it once
    ti = FakeTI()
    op = gpt(deferrable=True, number_of_images=2, output_format="webp", output_path=str(tmp_path))
    with pytest.raises(TaskDeferred) as info:
        op.execute({"ti": ti})  # type: ignore[arg-type]
    trigger = info.value.trigger
    assert isinstance(trigger, ApiframeJobTrigger)
    assert ti.pushed == [("job_id", trigger.job_id)]
    assert list(tmp_path.iterdir()) == []  # nothing is saved before the job ends

    events = [event.payload async for event in trigger.run()]
    assert [e["status"] for e in events] == ["success"]
    # The task resumes on a fresh operator instance, as in a real worker.
    resumed = gpt(deferrable=True, number_of_images=2, output_format="webp", output_path=str(tmp_path))
    result = resumed.execute_complete({"ti": ti}, events[0])  # type: ignore[arg-type]

    assert result["job_id"] == trigger.job_id
    check_files(result, count=2, content_type="image/webp", size=(1024, 1024))
    assert len(list(tmp_path.iterdir())) == 2


def test_without_output_path_nothing_is_downloaded(api: Any) -> None:
    result = run(gpt())
    assert result["files"] == []
    assert len(result["images"]) == 1
    assert requests_to(api, "GET", r"/files/.*") == []


def test_result_files_are_fetched_without_the_api_key(
    api: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import requests

    seen: list[tuple[str, dict[str, str]]] = []
    send = requests.Session.send

    def recording(self: requests.Session, request: Any, **kwargs: Any) -> Any:
        seen.append((request.url, dict(request.headers)))
        return send(self, request, **kwargs)

    monkeypatch.setattr(requests.Session, "send", recording)
    run(gpt(number_of_images=2, output_path=tmp_path))

    files = [headers for url, headers in seen if "/files/" in url]
    api_calls = [headers for url, headers in seen if "/v2/" in url]
    assert len(files) == 2
    assert api_calls
    assert all(headers.get("X-API-Key") == API_KEY for headers in api_calls)
    for headers in files:
        assert "X-API-Key" not in headers
        assert API_KEY not in repr(headers)


def test_a_large_result_is_streamed_in_bounded_chunks(
    api: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.config.large_image_side = 1200  # a ~4.3 MB PNG of noise: several chunks
    api.decide(outcome="large-result")
    writes: list[int] = []
    original = SyncTransport.download

    def spying(self: SyncTransport, url: str, open_sink: Any) -> Any:
        from contextlib import contextmanager

        @contextmanager
        def counting_sink(content_type: str) -> Any:
            with open_sink(content_type) as sink:

                class Sink:
                    def write(self, data: bytes) -> int:
                        writes.append(len(data))
                        return int(sink.write(data) or 0)

                yield Sink()

        return original(self, url, counting_sink)

    monkeypatch.setattr(SyncTransport, "download", spying)
    result = run(gpt(output_path=tmp_path))

    (content,) = check_files(result, count=1, content_type="image/png", size=(1200, 1200))
    assert len(content) > 3 * CHUNK_BYTES
    assert sum(writes) == len(content)
    assert len(writes) > 3
    assert max(writes) <= CHUNK_BYTES


# --- concurrency ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [None, 2])
def test_images_of_a_job_download_concurrently_within_the_limit(
    api: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: int | None
) -> None:
    if limit is not None:
        monkeypatch.setattr(storage, "MAX_PARALLEL_DOWNLOADS", limit)
    expected = limit or storage.MAX_PARALLEL_DOWNLOADS
    in_flight, peak, lock = [0], [0], threading.Lock()
    original = ApiframeHook.download_result

    def slow(self: ApiframeHook, url: str, open_sink: Any) -> Any:
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        try:
            time.sleep(0.15)
            return original(self, url, open_sink)
        finally:
            with lock:
                in_flight[0] -= 1

    monkeypatch.setattr(ApiframeHook, "download_result", slow)
    result = run(gpt(number_of_images=6, output_format="jpeg", output_path=tmp_path))

    assert len(result["files"]) == 6
    assert peak[0] == expected
    assert 1 < peak[0] <= storage.MAX_PARALLEL_DOWNLOADS
    assert len(requests_to(api, "GET", r"/files/.*")) == 6


# --- purged results --------------------------------------------------------------------------------------


def test_an_expired_job_fails_saying_its_result_was_purged(api: Any, tmp_path: Path) -> None:
    api.decide(outcome="expired")
    with pytest.raises(ApiframeJobError, match="purged") as info:
        run(gpt(output_path=tmp_path))

    (job_id,) = api.state.jobs
    assert info.value.job_id == job_id
    assert job_id in str(info.value)
    assert requests_to(api, "GET", r"/files/.*") == []
    assert not tmp_path.exists() or list(tmp_path.iterdir()) == []


def test_a_result_file_gone_404_fails_naming_the_job(
    api: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The files are purged between reading the job (not expired yet) and downloading them."""
    # The emulator never faults /files/* (its fault rules only apply to /v2/*): purge for real.
    original = SyncTransport.download

    def purge_first(self: SyncTransport, url: str, open_sink: Any) -> Any:
        for job in api.state.jobs.values():
            job.expire_at_once = True
        return original(self, url, open_sink)

    monkeypatch.setattr(SyncTransport, "download", purge_first)
    with pytest.raises(ApiframeJobError) as info:
        run(gpt(output_path=tmp_path))

    (job_id,) = api.state.jobs
    message = str(info.value)
    assert f"Result file 1 of Apiframe job {job_id} was purged (HTTP 404)" in message
    assert "Run the job again" in message
    assert info.value.job_id == job_id
    assert requests_to(api, "GET", rf"/files/{job_id}-1\.webp") == [("GET", f"/files/{job_id}-1.webp", 404)]
    assert list(tmp_path.iterdir()) == []


# --- path safety ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("job_id", ["../../etc", "a/b", "", "..", "-rf", "x" * 65, "a\\b", "job 1"])
def test_save_images_refuses_a_job_id_that_is_not_an_id(
    api: Any, tmp_path: Path, job_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(ApiframeHook, "download_result", lambda self, url, sink: calls.append(url))
    target = ObjectStoragePath(f"file://{tmp_path}/out/")
    with pytest.raises(ApiframeError, match="not an id"):
        save_images(ApiframeHook(), job_id, [f"{api.url}/files/x-1.png"], target)
    assert calls == []
    assert list(tmp_path.iterdir()) == []
    assert list(api.state.requests) == []


@pytest.mark.parametrize(("fmt", "extension"), [("PNG", "png"), ("JPEG", "jpeg")])
def test_a_server_supplied_name_never_decides_the_path(
    connection: str, requests_mock: Any, tmp_path: Path, fmt: str, extension: str
) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), "red").save(buffer, fmt)
    requests_mock.get(
        re.compile(r"https://cdn\.apiframe\.test/.*"),
        content=buffer.getvalue(),
        headers={
            "Content-Type": "application/x-sh",
            "Content-Disposition": 'attachment; filename="../../x.sh"',
        },
    )
    job_id = "4f0c7d1e-2b3a-4c5d-8e9f-0a1b2c3d4e5f"
    folder = tmp_path / "a" / "b"
    job = Job.model_validate(
        {
            "id": job_id,
            "status": "COMPLETED",
            "model": "gpt-image-1.5",
            "progress": 100,
            "creditCost": 2,
            "result": {"images": ["https://cdn.apiframe.test/files/../../x.sh"]},
        }
    )

    result = gpt(output_path=str(folder)).finish(job, {"ti": FakeTI()})  # type: ignore[arg-type]

    (file,) = result["files"]
    assert file["path"] == str(folder / f"{job_id}-1.{extension}")
    assert [p.name for p in folder.iterdir()] == [f"{job_id}-1.{extension}"]
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == [folder / f"{job_id}-1.{extension}"]
    assert file["content_type"] == f"image/{extension}"
    # The download carried no key either.
    assert "X-API-Key" not in requests_mock.request_history[0].headers


def test_a_result_that_is_not_an_image_is_refused_and_not_written(
    connection: str, requests_mock: Any, tmp_path: Path
) -> None:
    requests_mock.get("https://cdn.apiframe.test/files/x-1.png", text="<html>Not an image</html>")
    target = ObjectStoragePath(f"file://{tmp_path}/")
    with pytest.raises(ApiframeError, match="did not return an image"):
        save_images(ApiframeHook(), "x", ["https://cdn.apiframe.test/files/x-1.png"], target)
    assert list(tmp_path.iterdir()) == []


def _png(color: str = "red") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), color).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("status", [404, 410])
def test_a_result_file_gone_is_reported_as_purged(
    connection: str, requests_mock: Any, tmp_path: Path, status: int
) -> None:
    url = "https://cdn.apiframe.test/files/job-7-2.png"
    requests_mock.get("https://cdn.apiframe.test/files/job-7-1.png", content=_png())
    requests_mock.get(url, status_code=status, json={"error": "gone"})
    target = ObjectStoragePath(f"file://{tmp_path}/")
    with pytest.raises(ApiframeJobError) as info:
        save_images(ApiframeHook(), "job-7", ["https://cdn.apiframe.test/files/job-7-1.png", url], target)
    assert str(info.value).startswith(f"Result file 2 of Apiframe job job-7 was purged (HTTP {status})")
    assert info.value.job_id == "job-7"


def test_a_transient_download_error_is_retried_and_the_file_written_once(
    connection: str, requests_mock: Any, tmp_path: Path, retry_waits: list[float]
) -> None:
    content = _png("blue")
    url = "https://cdn.apiframe.test/files/job-8-1.png"
    requests_mock.get(url, [{"status_code": 503, "json": {"error": "busy"}}, {"content": content}])
    target = ObjectStoragePath(f"file://{tmp_path}/")

    (file,) = save_images(ApiframeHook(), "job-8", [url], target)

    assert file == {
        "path": f"file://{tmp_path}/job-8-1.png",
        "bytes": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
        "content_type": "image/png",
        "kind": "image",
    }
    assert (tmp_path / "job-8-1.png").read_bytes() == content
    assert len(requests_mock.request_history) == 2
    assert len(retry_waits) == 1


# --- uploads of local inputs ---------------------------------------------------------------------------


def _generate_body(api: Any) -> dict[str, Any]:
    (job,) = api.state.jobs.values()
    params: dict[str, Any] = job.body["gptImageParams"]
    return params


def _upload_urls(api: Any) -> list[str]:
    return [f"{api.url}/uploads/{upload_id}" for upload_id in api.state.uploads]


@pytest.mark.parametrize("form", ["str", "storage-path", "file-url"])
def test_a_local_input_is_uploaded_and_the_job_is_made_from_it(api: Any, form: str) -> None:
    value: Any = {
        "str": str(PORTRAIT),
        "storage-path": ObjectStoragePath(f"file://{PORTRAIT}"),
        "file-url": f"file://{PORTRAIT}",
    }[form]
    result = run(gpt(input_images=value, input_fidelity="high", aspect_ratio="2:3"))

    assert result["status"] == "COMPLETED"
    ((data, content_type, _),) = api.state.uploads.values()
    assert data == PORTRAIT.read_bytes()
    assert content_type == "image/jpeg"
    (url,) = _upload_urls(api)
    assert _generate_body(api)["input_images"] == [url]
    job = api.state.jobs[result["job_id"]]
    assert job.input_urls == (url,)
    assert job.inputs == (PORTRAIT.read_bytes(),)
    # One upload, before the job was submitted.
    methods_paths = [(m, p) for m, p, _ in api.state.requests]
    assert methods_paths.count(("POST", UPLOADS)) == 1
    assert methods_paths.index(("POST", UPLOADS)) < methods_paths.index(("POST", GENERATE))


def test_a_list_mixing_a_url_and_paths_uploads_only_the_paths(api: Any, tmp_path: Path) -> None:
    hook = ApiframeHook()
    own = write_image(tmp_path / "own.png", color="orange")
    already = hook.upload_image("own.png", own.read_bytes(), "image/png").url
    drawn = write_image(tmp_path / "drawn.webp", "WEBP", color="navy")

    result = run(gpt(input_images=[already, str(PRODUCT), ObjectStoragePath(f"file://{drawn}")]))

    assert len(api.state.uploads) == 3  # the one made above, and one per local file
    assert [(data, kind) for data, kind, _ in api.state.uploads.values()] == [
        (own.read_bytes(), "image/png"),
        (PRODUCT.read_bytes(), "image/png"),
        (drawn.read_bytes(), "image/webp"),
    ]
    urls = _upload_urls(api)
    assert _generate_body(api)["input_images"] == urls
    job = api.state.jobs[result["job_id"]]
    assert job.inputs == (own.read_bytes(), PRODUCT.read_bytes(), drawn.read_bytes())
    assert len(requests_to(api, "POST", UPLOADS)) == 3


def test_the_same_file_twice_is_uploaded_once(api: Any) -> None:
    result = run(
        gpt(input_images=[str(PRODUCT), ObjectStoragePath(f"file://{PRODUCT}"), f"{INPUTS}/./product.png"])
    )

    assert len(api.state.uploads) == 1
    assert len(requests_to(api, "POST", UPLOADS)) == 1
    (url,) = _upload_urls(api)
    assert _generate_body(api)["input_images"] == [url, url, url]
    assert api.state.jobs[result["job_id"]].inputs == (PRODUCT.read_bytes(),) * 3


def test_local_inputs_work_on_the_deferrable_path_too(api: Any) -> None:
    api.config.job_seconds = 1.0
    ti = FakeTI()
    with pytest.raises(TaskDeferred) as info:
        gpt(deferrable=True, input_images=str(PRODUCT)).execute({"ti": ti})  # type: ignore[arg-type]
    job = api.state.jobs[info.value.trigger.job_id]
    assert job.input_urls == tuple(_upload_urls(api))
    assert len(api.state.uploads) == 1


def _sparse(path: Path, size: int) -> Path:
    with path.open("wb") as file:
        file.write(b"\x89PNG\r\n\x1a\n")
        file.truncate(size)
    return path


@pytest.mark.parametrize(
    ("make", "field", "reason"),
    [
        (lambda tmp: str(tmp / "missing.png"), "input_images", "does not exist"),
        (lambda tmp: ObjectStoragePath(f"file://{tmp}/missing.png"), "input_images", "does not exist"),
        (
            lambda tmp: str((tmp / "notes.txt").write_text("just some text") and tmp / "notes.txt"),
            "input_images",
            "is not a PNG, JPEG, WebP or GIF image",
        ),
        (lambda tmp: str(_sparse(tmp / "huge.png", 25 * 2**20 + 1)), "input_images", "at most 25 MB"),
        (lambda tmp: "ftp://files.example.test/in.png", "input_images", "http:// or https:// URL"),
        (lambda tmp: 42, "input_images", "got int"),
        (lambda tmp: ["https://img.example.test/a.png", 3.5], "input_images.1", "got float"),
        (lambda tmp: [str(PRODUCT), b"\x89PNG"], "input_images.1", "got bytes"),
        (lambda tmp: [{"url": "https://img.example.test/a.png"}], "input_images.0", "got dict"),
    ],
    ids=[
        "missing",
        "missing-storage-path",
        "text",
        "over-25-MB",
        "ftp",
        "int",
        "float-in-list",
        "bytes-in-list",
        "dict-in-list",
    ],
)
def test_invalid_inputs_fail_naming_the_field_before_any_request(
    api: Any, tmp_path: Path, make: Any, field: str, reason: str
) -> None:
    with pytest.raises(AirflowFailException) as info:
        run(gpt(input_images=make(tmp_path)))
    message = str(info.value)
    assert f"  - {field}: " in message
    assert reason in message
    assert "nothing was sent" in message
    assert list(api.state.requests) == []
    assert api.state.uploads == {}


@pytest.mark.parametrize("make", [lambda tmp: str(tmp), lambda tmp: ""], ids=["directory", "empty-string"])
def test_a_directory_or_an_empty_path_fails_naming_the_field(api: Any, tmp_path: Path, make: Any) -> None:
    """Not an image file: the task fails at once (no retries) naming the argument, like a missing file."""
    with pytest.raises(AirflowFailException) as info:
        run(gpt(input_images=make(tmp_path)))
    assert "  - input_images: " in str(info.value)
    assert list(api.state.requests) == []


def test_every_bad_input_is_listed_at_once(api: Any, tmp_path: Path) -> None:
    text = tmp_path / "a.txt"
    text.write_text("not an image")
    with pytest.raises(AirflowFailException) as info:
        run(gpt(input_images=[str(tmp_path / "nope.png"), str(PRODUCT), str(text)]))
    message = str(info.value)
    assert "input_images.0: " in message
    assert "input_images.2: " in message
    assert "input_images.1" not in message
    assert list(api.state.requests) == []


def test_an_input_of_exactly_25_mb_is_accepted(tmp_path: Path) -> None:
    """The limit is inclusive, as the API's is."""
    exactly = _sparse(tmp_path / "exact.png", 25 * 2**20)
    image = storage.read_input_image(str(exactly))
    assert len(image.data) == 25 * 2**20
    assert image.content_type == "image/png"


def test_an_uppercase_url_scheme_is_a_url_not_a_local_path(api: Any) -> None:
    """URL schemes are case-insensitive (RFC 3986, 3.1): ``HTTP://`` is an http URL, not a file."""
    # A real upload, so that the job can complete: the emulator answers its own URLs.
    uploaded = ApiframeHook().upload_image("p.png", PRODUCT.read_bytes(), "image/png").url
    url = "HTTP://" + uploaded.removeprefix("http://")
    result = run(gpt(input_images=url))
    assert result["status"] == "COMPLETED"
    assert len(api.state.uploads) == 1  # sent as the URL it is, not read as a local file


# --- idempotency with uploads -----------------------------------------------------------------------------


def _submitted_keys(monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    keys: list[str | None] = []
    original = ApiframeHook.submit_job

    def recording(self: ApiframeHook, call: Any, **kwargs: Any) -> Any:
        keys.append(call.idempotency_key)
        return original(self, call, **kwargs)

    monkeypatch.setattr(ApiframeHook, "submit_job", recording)
    return keys


def test_the_key_depends_on_the_file_not_on_its_upload_url(
    api: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = _submitted_keys(monkeypatch)
    source = write_image(tmp_path / "in.png", color="olive")
    ti = FakeTI()

    first = run(gpt(input_images=str(source)), ti)
    second = run(gpt(input_images=str(source)), ti.retry())

    # The second try uploaded again (upload URLs are short-lived) but re-attached to the same job.
    assert len(api.state.uploads) == 2
    assert len(set(_upload_urls(api))) == 2
    assert keys[0] == keys[1]
    assert keys[0] is not None
    assert keys[0].startswith("airflow-")
    assert second["job_id"] == first["job_id"]
    assert len(api.state.jobs) == 1
    assert [job_id for job_id, _ in api.state.charges] == [first["job_id"]]
    assert requests_to(api, "POST", GENERATE) == [("POST", GENERATE, 202)] * 2

    # New content at the same path: a new key and a new job.
    write_image(source, color="crimson")
    third = run(gpt(input_images=str(source)), ti.retry().retry())
    assert keys[2] != keys[0]
    assert third["job_id"] != first["job_id"]
    assert len(api.state.jobs) == 2
    assert api.state.jobs[third["job_id"]].inputs == (source.read_bytes(),)


# --- Asset events -----------------------------------------------------------------------------------------


def test_an_asset_alias_gets_one_asset_per_file(api: Any, tmp_path: Path) -> None:
    events = FakeOutletEvents()
    alias = AssetAlias("apiframe-new-images")
    op = gpt(number_of_images=2, output_format="png", output_path=str(tmp_path), outlets=[alias])

    result = run(op, outlet_events=events)

    ((kind, name),) = events.events
    assert (kind, name) == ("AssetAlias", "apiframe-new-images")
    added = events[alias].added
    assert len(added) == 2
    job = api.state.jobs[result["job_id"]]
    for (asset, extra), file in zip(added, result["files"], strict=True):
        assert isinstance(asset, Asset)
        assert asset.uri == f"file://{file['path']}"
        assert extra == {
            "job_id": result["job_id"],
            "model": "gpt-image-1.5",
            "prompt": "a watercolor fox",
            "credit_cost": job.cost,
            **file,
        }
    assert result["credit_cost"] == job.cost
    assert events[alias].extra == {}


def test_an_asset_alias_names_object_store_files_by_their_url(
    api: Any, memory_fs: Any, tmp_path: Path
) -> None:
    events = FakeOutletEvents()
    alias = AssetAlias("pics")
    output = ObjectStoragePath(f"memory://bucket-{tmp_path.name}/pics/")
    result = run(gpt(output_path=output, outlets=[alias]), outlet_events=events)

    ((asset, extra),) = events[alias].added
    (file,) = result["files"]
    assert extra["path"] == file["path"]
    assert file["path"].startswith("memory://")  # the file's own URL, not a local path
    # The Asset is the file's URL as Airflow normalizes it (Airflow 3.1 writes memory paths as
    # memory:///bucket/..., which it normalizes to memory:/bucket/...).
    assert asset.uri == Asset(file["path"]).uri
    assert asset.uri.startswith("memory:/")
    assert asset.uri.endswith(f"bucket-{tmp_path.name}/pics/{result['job_id']}-1.webp")


def test_an_asset_outlet_gets_the_job_and_its_files_in_its_extra(api: Any, tmp_path: Path) -> None:
    events = FakeOutletEvents()
    asset = Asset(f"file://{tmp_path}/")
    op = gpt(prompt="a fox in the snow", number_of_images=2, output_path=tmp_path, outlets=[asset])

    result = run(op, outlet_events=events)

    job = api.state.jobs[result["job_id"]]
    assert events[asset].extra == {
        "job_id": result["job_id"],
        "model": "gpt-image-1.5",
        "prompt": "a fox in the snow",
        "credit_cost": job.cost,
        "files": [f["path"] for f in result["files"]],
    }
    assert events[asset].added == []


def test_a_job_from_the_triggerers_pages_is_read_whole_for_its_asset_prompt(api: Any, tmp_path: Path) -> None:
    """Job pages carry no ``input``: the worker reads the job once, only because an Asset needs it."""
    from airflow_provider_apiframe.hooks.apiframe import ApiframeHook
    from airflow_provider_apiframe.triggers.job import JobEvent

    job_id = ApiframeHook().submit_image_generation(calls.generate_gpt_image(prompt="a fox at dawn")).job_id
    ApiframeHook().wait_for_job(job_id, timeout=10, poll_interval=0.05)
    (listed,) = [j for j in ApiframeHook().list_jobs(limit=5).jobs if j.id == job_id]
    assert listed.input is None
    events, asset = FakeOutletEvents(), Asset(f"file://{tmp_path}/")
    api.state.requests.clear()

    op = gpt(prompt="a fox at dawn", output_path=tmp_path, outlets=[asset])
    event = JobEvent.for_job(listed).model_dump(mode="json")
    op.execute_complete({"ti": FakeTI(), "outlet_events": events}, event)  # type: ignore[arg-type]

    assert events[asset].extra["prompt"] == "a fox at dawn"
    assert [p for m, p, _ in api.state.requests if m == "GET" and p.startswith("/v2/jobs/")] == [
        f"/v2/jobs/{job_id}"
    ]


def test_both_outlets_together_and_no_outlets_need_no_outlet_events(api: Any, tmp_path: Path) -> None:
    events = FakeOutletEvents()
    alias, asset = AssetAlias("a"), Asset("file:///images/")
    result = run(gpt(output_path=tmp_path, outlets=[alias, asset]), outlet_events=events)
    assert len(events[alias].added) == 1
    assert events[asset].extra["files"] == [result["files"][0]["path"]]

    # Without outlets the context needs no outlet_events at all.
    assert run(gpt(prompt="another fox", output_path=tmp_path))["status"] == "COMPLETED"


def test_an_edit_job_asset_event_carries_its_prompt(api: Any, tmp_path: Path) -> None:
    """Routes without a top-level prompt keep it in their parameters; the Asset extra still has it."""
    from airflow_provider_apiframe.operators.image import ApiframeImageEditOperator

    events = FakeOutletEvents()
    alias = AssetAlias("edits")
    op = ApiframeImageEditOperator(
        task_id="edit",
        deferrable=False,
        poll_interval=0.05,
        model_params={"image": str(PRODUCT), "prompt": "add a red hat", "mode": "inpaint"},
        output_path=tmp_path,
        outlets=[alias],
    )
    result = run(op, outlet_events=events)
    ((_, extra),) = events[alias].added
    assert extra["job_id"] == result["job_id"]
    assert extra["model"] == "flux-fill-pro"
    assert extra["prompt"] == "add a red hat"


# --- the extra link ---------------------------------------------------------------------------------------


def _ti_key() -> Any:
    from airflow.models.taskinstancekey import TaskInstanceKey

    return TaskInstanceKey(dag_id="images_in_out", task_id="draw", run_id="manual", try_number=1)


def test_the_extra_link_is_the_first_image_once_the_task_finished(api: Any) -> None:
    op = gpt(number_of_images=2)
    link = ApiframeImageLink()
    assert link.name == "Apiframe image"
    assert any(isinstance(link, ApiframeImageLink) for link in op.operator_extra_links)
    assert link.get_link(op, ti_key=_ti_key()) == ""

    result = run(op)

    assert link.get_link(op, ti_key=_ti_key()) == result["images"][0]
    assert result["images"][0].endswith(f"/files/{result['job_id']}-1.webp")


async def test_the_extra_link_after_a_deferred_task_resumes(api: Any) -> None:
    api.config.job_seconds = 1.0
    ti = FakeTI()
    with pytest.raises(TaskDeferred) as info:
        gpt(deferrable=True).execute({"ti": ti})  # type: ignore[arg-type]
    (event,) = [e.payload async for e in info.value.trigger.run()]
    resumed = gpt(deferrable=True)
    assert ApiframeImageLink().get_link(resumed, ti_key=_ti_key()) == ""
    result = resumed.execute_complete({"ti": ti}, event)  # type: ignore[arg-type]
    assert ApiframeImageLink().get_link(resumed, ti_key=_ti_key()) == result["images"][0]


def test_the_extra_link_stays_empty_when_the_job_failed(api: Any) -> None:
    api.decide(outcome="failed")
    op = gpt()
    with pytest.raises(ApiframeJobError):
        run(op)
    assert ApiframeImageLink().get_link(op, ti_key=_ti_key()) == ""


def test_request_log_counts_are_what_the_task_needs(api: Any, tmp_path: Path) -> None:
    """One upload, one submission, a few polls, one download: nothing else."""
    run(gpt(input_images=str(PRODUCT), output_path=tmp_path))
    counts = Counter((m, re.sub(r"/[0-9a-f-]{36}.*", "/<id>", p)) for m, p, _ in api.state.requests)
    assert counts[("POST", UPLOADS)] == 1
    assert counts[("POST", GENERATE)] == 1
    assert counts[("GET", "/files/<id>")] == 1
    assert counts[("GET", "/v2/jobs/<id>")] >= 2
    assert set(counts) == {
        ("POST", UPLOADS),
        ("POST", GENERATE),
        ("GET", "/files/<id>"),
        ("GET", "/v2/jobs/<id>"),
    }
