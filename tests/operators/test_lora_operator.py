"""ApiframeLoraTrainOperator over real HTTP against the emulator: train, refuse, re-attach, retrain, defer."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import ObjectStoragePath
from PIL import Image
from support import FakeTI

from airflow_provider_apiframe._compat import AirflowFailException
from airflow_provider_apiframe.core.errors import ApiframeJobError
from airflow_provider_apiframe.emulator.state import FaultRule, OutcomeRule
from airflow_provider_apiframe.hooks.apiframe import ApiframeHook
from airflow_provider_apiframe.operators.assets import ApiframeAssetCreateOperator
from airflow_provider_apiframe.operators.lora import ApiframeLoraTrainOperator
from airflow_provider_apiframe.triggers.lora import ApiframeLoraTrigger

try:  # Airflow >= 3.2
    from airflow.sdk.exceptions import TaskDeferred
except ImportError:  # Airflow 3.1
    from airflow.exceptions import TaskDeferred  # type: ignore[no-redef,attr-defined,unused-ignore]

RESULT_KEYS = {"lora_id", "name", "status", "trigger_word", "image_count"}


def image(n: int, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (n * 8 % 256, 40, 90)).save(buffer, fmt)
    return buffer.getvalue()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    shots = tmp_path / "shots"
    shots.mkdir()
    for n in range(16):
        (shots / f"{n:02}.{'jpg' if n % 2 else 'png'}").write_bytes(image(n, "JPEG" if n % 2 else "PNG"))
    (shots / "notes.txt").write_text("not an image: skipped")
    return shots


def train(images: Any, ti: FakeTI | None = None, **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("task_id", "train")
    kwargs.setdefault("name", "Ada")
    kwargs.setdefault("subject_kind", "person")
    kwargs.setdefault("gender", "female")
    kwargs.setdefault("ethnicity", "east asian")
    kwargs.setdefault("deferrable", False)
    kwargs.setdefault("poll_interval", 0.05)
    op = ApiframeLoraTrainOperator(images=images, **kwargs)
    return op.execute({"ti": ti or FakeTI()})  # type: ignore[arg-type]


def posts(api: Any) -> list[int]:
    return [status for method, path, status in api.state.requests if (method, path) == ("POST", "/v2/loras")]


def test_trains_from_a_folder_and_returns_the_lora(api: Any, folder: Path) -> None:
    ti = FakeTI()
    credits = api.state.credits
    result = train(str(folder), ti)
    assert set(result) == RESULT_KEYS
    assert result["status"] == "READY"
    assert result["image_count"] == 16
    assert result["trigger_word"]
    assert result["name"].startswith("Ada ~")
    assert len(result["name"]) == len("Ada ~") + 8
    assert ti.pushed[0] == ("lora_id", result["lora_id"])
    assert api.state.credits == credits - 2
    assert posts(api) == [202]


def test_a_list_of_paths_urls_and_storage_paths(api: Any, folder: Path) -> None:
    files = sorted(p for p in folder.iterdir() if p.suffix != ".txt")
    upload = ApiframeHook().upload_image("u.png", image(99), "image/png")
    images = [upload.url, ObjectStoragePath(f"file://{files[0]}"), *map(str, files[1:15])]
    assert train(images)["image_count"] == 16


@pytest.mark.parametrize(
    ("change", "field", "why"),
    [
        ({"images": "count:12"}, "images", "got 12 files; allowed: 15 to 30"),
        ({"images": "gif"}, "images[16]", "which is not a PNG, JPEG or WebP image"),
        ({"images": "big"}, "images[16]", "MB; allowed: at most 10 MB"),
        ({"images": "missing"}, "images", "which is not a folder"),
        ({"name": "n" * 51}, "name", "got 51 characters; allowed: 1 to 50"),
        ({"steps": 10}, "steps", "got 10; allowed: an integer from 500 to 3000"),
        ({"lora_rank": "big"}, "lora_rank", "got 'big'; allowed: an integer from 8 to 64"),
        ({"gender": None}, "gender", "required when subject_kind is 'person'"),
        ({"webhook_url": "nope"}, "webhook_url", "allowed: an absolute URI"),
        ({"images": 42}, "images", "got int; allowed: a folder or a list"),
    ],
)
def test_every_refusal_names_the_field_and_sends_nothing(
    api: Any, folder: Path, change: dict[str, Any], field: str, why: str
) -> None:
    images: Any = str(folder)
    kind = change.pop("images", None)
    if kind == "count:12":
        images = [str(p) for p in sorted(folder.glob("*.png"))[:6]] + [
            str(p) for p in sorted(folder.glob("*.jpg"))[:6]
        ]
    elif kind == "gif":
        Image.new("RGB", (4, 4)).save(folder / "zz.gif", "GIF")
    elif kind == "big":
        (folder / "zz.png").write_bytes(image(1) + b"\0" * (10 * 2**20))
    elif kind == "missing":
        images = str(folder / "nowhere")
    elif kind is not None:
        images = kind
    with pytest.raises(AirflowFailException) as info:
        train(images, **change)
    assert f"  - {field}: " in str(info.value)
    assert why in str(info.value)
    assert [path for _, path, _ in api.state.requests if path.startswith("/v2/loras")] == []


def test_a_retry_re_attaches_without_a_second_charge(api: Any, folder: Path) -> None:
    ti = FakeTI()
    first = train(str(folder), ti, wait_for_completion=False)
    assert first["status"] == "PENDING"
    credits = api.state.credits
    again = train(str(folder), ti.retry())
    assert again["lora_id"] == first["lora_id"]
    assert again["status"] == "READY"
    assert api.state.credits == credits
    assert posts(api) == [202]
    other_run = train(str(folder), FakeTI(run_id="another run"))
    assert other_run["lora_id"] != first["lora_id"]  # another run trains its own


def test_a_failed_training_fails_the_try_and_trains_again_on_the_next(api: Any, folder: Path) -> None:
    api.state.outcomes.append(OutcomeRule("failed", prompt_contains="Ada", times=1))
    ti = FakeTI()
    credits = api.state.credits
    with pytest.raises(ApiframeJobError, match="ended FAILED: Training failed"):
        train(str(folder), ti)
    assert api.state.credits == credits  # refunded
    result = train(str(folder), ti.retry())
    assert result["status"] == "READY"
    assert posts(api) == [202, 202]
    assert api.state.credits == credits - 2


def test_a_lost_answer_to_the_post_finds_the_lora_it_created(
    api: Any, folder: Path, use_connection: Any
) -> None:
    use_connection(api.url, timeout=0.5)
    api.state.faults.append(FaultRule("late", method="POST", path="/v2/loras", delay=1.5))
    result = train(str(folder))
    assert result["status"] == "READY"
    assert len(api.state.loras.loras) == 1  # listed again, found, not trained twice


async def test_deferrable_waits_in_the_trigger(api: Any, folder: Path) -> None:
    ti = FakeTI()
    op = ApiframeLoraTrainOperator(
        task_id="train", name="style", images=str(folder), subject_kind="style", poll_interval=0.05
    )
    with pytest.raises(TaskDeferred) as info:
        op.execute({"ti": ti})  # type: ignore[arg-type]
    trigger = info.value.trigger
    assert isinstance(trigger, ApiframeLoraTrigger)
    assert trigger.deferred_on_try == 1
    assert ti.pushed == [("lora_id", trigger.lora_id)]
    events = [event.payload async for event in trigger.run()]
    result = op.execute_complete({"ti": ti}, events[0])  # type: ignore[arg-type]
    assert (result["lora_id"], result["status"]) == (trigger.lora_id, "READY")


def test_asset_from_a_url_and_from_a_local_file(api: Any, folder: Path) -> None:
    by_url = ApiframeAssetCreateOperator(task_id="a", url="https://cdn.example.com/clip.mp4", type="video")
    assert by_url.execute({})["asset_id"]  # type: ignore[arg-type]
    local = ApiframeAssetCreateOperator(task_id="b", url=str(folder / "00.png"))
    result = local.execute({})  # type: ignore[arg-type]
    assert result["type"] == "image"
    assert "/uploads/" in result["url"]
    assert ApiframeHook().get_asset(result["asset_id"])["url"] == result["url"]
    with pytest.raises(AirflowFailException, match=r"url: got .*notes\.txt.*not an image, video or audio"):
        ApiframeAssetCreateOperator(task_id="c", url=str(folder / "notes.txt")).execute({})  # type: ignore[arg-type]
