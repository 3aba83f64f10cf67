"""LoRA and asset calls: local checks (naming fields as written, sending nothing), the form, the marker."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_apiframe.core import assets, loras
from airflow_provider_apiframe.core.calls import ApiCall
from airflow_provider_apiframe.core.errors import ApiframeInvalidParamsError, ApiframeNotFoundError

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\0" * 64
WEBP = b"RIFF\0\0\0\0WEBPVP8 " + b"\0" * 64
LORA_ID = "0b7c1e52-9a1d-4c3e-8f2a-6d5b4c3a2e1f"
PERSON = {"gender": "female", "ethnicity": "south asian"}


def images(count: int = 15, data: bytes = PNG) -> list[tuple[str, bytes]]:
    return [(f"{n:02}.png", data) for n in range(count)]


def problems(**fields: Any) -> dict[str, str]:
    fields.setdefault("images", images())
    fields.setdefault("name", "me")
    with pytest.raises(ApiframeInvalidParamsError) as info:
        loras.create_lora(**fields)
    assert str(info.value).startswith("Invalid Apiframe parameters (nothing was sent)")
    return dict(info.value.problems)


def test_a_valid_training_is_one_multipart_post_with_many_files() -> None:
    shots = [("a.png", PNG), ("b.jpg", JPEG), ("c.webp", WEBP)] * 5
    call = loras.create_lora(
        images=shots, name="Ada", steps="1200", lora_rank=32, webhook_events=["completed", "failed"], **PERSON
    )
    assert (call.method, call.path, call.response_model) == ("POST", "/v2/loras", loras.LoraCreated)
    assert call.form == {
        "name": "Ada",
        "gender": "female",
        "ethnicity": "south asian",
        "steps": "1200",
        "loraRank": "32",
        "webhookEvents": "completed,failed",
    }
    assert call.files is not None
    assert len(call.files) == 15
    assert list(call.files)[:3] == [
        ("images", ("a.png", PNG, "image/png")),
        ("images", ("b.jpg", JPEG, "image/jpeg")),
        ("images", ("c.webp", WEBP, "image/webp")),
    ]
    assert call.json is None
    assert call.idempotency_key is None
    assert not call.retry_safe  # no Idempotency-Key on this route: only 429 is retried


@pytest.mark.parametrize("count", [0, 14, 31])
def test_the_image_count_is_checked(count: int) -> None:
    assert problems(images=images(count), **PERSON)["images"] == f"got {count} files; allowed: 15 to 30"


def test_each_image_is_checked_by_its_bytes_and_size() -> None:
    shots = [
        *images(13),
        ("fox.gif", b"GIF89a" + b"\x00" * 20),
        ("notes.png", b"hello"),
        ("big.png", PNG + b"\x00" * (10 * 2**20)),
    ]
    found = problems(images=shots, **PERSON)
    assert found["images[13]"] == "got 'fox.gif', which is not a PNG, JPEG or WebP image"
    assert found["images[14]"] == "got 'notes.png', which is not a PNG, JPEG or WebP image"
    assert found["images[15]"].startswith("got 'big.png': 10.0 MB; allowed: at most 10 MB")
    assert "images" not in found


def test_the_total_size_is_checked() -> None:
    shots = images(15, PNG + b"\0" * (7 * 2**20))
    assert problems(images=shots, **PERSON)["images"] == "got 105.0 MB in all; allowed: at most 100 MB"


def test_every_field_is_checked_against_the_contract_and_named_as_written() -> None:
    found = problems(
        name="x" * 61,
        subject_kind="pet",
        gender="robot",
        ethnicity="",
        age="a" * 41,
        steps=100,
        lora_rank=True,
        webhook_url="not a url",
        webhook_events="done",
    )
    assert found == {
        "name": "got str of length 61; allowed: a string of 1 to 60 characters",
        "subject_kind": "got 'pet'; allowed: one of 'person', 'style', 'object'",
        "gender": "got 'robot'; allowed: one of 'female', 'male', 'non-binary'",
        "ethnicity": "got ''; allowed: a string of 1 to 40 characters",
        "age": f"got {'a' * 41!r}; allowed: a string of 1 to 40 characters",
        "steps": "got 100; allowed: an integer from 500 to 3000",
        "lora_rank": "got True; allowed: an integer from 8 to 64",
        "webhook_url": "got 'not a url'; allowed: an absolute URI (https://...)",
        "webhook_events": "got 'done'; allowed: one or more of 'progress', 'completed', 'failed'",
    }


def test_a_person_needs_gender_and_ethnicity_a_style_does_not() -> None:
    found = problems()
    assert set(found) == {"gender", "ethnicity"}
    assert found["gender"].startswith("missing; required when subject_kind is 'person'")
    assert loras.create_lora(images=images(), name="ink", subject_kind="style").form == {
        "name": "ink",
        "subjectKind": "style",
    }


def test_a_missing_name_is_named() -> None:
    assert problems(name=None, **PERSON)["name"].startswith("missing")


def test_the_retry_marker_is_stable_and_tells_requests_apart() -> None:
    base: dict[str, Any] = {
        "dag_id": "d",
        "task_id": "t",
        "run_id": "r",
        "map_index": -1,
        "form": {"name": "me"},
        "image_digests": ["a", "b"],
    }
    marker = loras.retry_marker(**base)
    assert len(marker) == 8
    assert int(marker, 16) >= 0
    assert loras.retry_marker(**base) == marker
    for change in (
        {"run_id": "r2"},
        {"map_index": 0},
        {"form": {"name": "you"}},
        {"image_digests": ["b", "a"]},
    ):
        assert loras.retry_marker(**{**base, **change}) != marker
    name = loras.marked_name("x" * 50, marker)
    assert len(name) == loras.MAX_NAME_LENGTH
    assert name.endswith(f" ~{marker}")


def test_read_list_and_archive_calls() -> None:
    assert loras.get_lora(LORA_ID).label == f"GET /v2/loras/{LORA_ID}"
    page = loras.list_loras(cursor=LORA_ID, limit=5, include_archived=True)
    assert page.params == {"limit": "5", "includeArchived": "true", "cursor": LORA_ID}
    assert loras.list_loras().params == {"limit": "100", "includeArchived": "false"}
    archive = loras.archive_lora(LORA_ID)
    assert (archive.method, archive.retry_safe) == ("DELETE", True)  # archiving twice is harmless
    with pytest.raises(ApiframeInvalidParamsError, match=r"lora_id: got '\.\./me'; allowed: a LoRA id"):
        loras.get_lora("../me")
    with pytest.raises(ApiframeInvalidParamsError, match="limit: got 0"):
        loras.list_loras(limit=0)


def test_an_empty_204_reads_as_no_content_and_errors_still_map() -> None:
    call = loras.archive_lora(LORA_ID)
    assert call.read(204, {}, b"") == loras.NoContent()
    with pytest.raises(ApiframeNotFoundError):
        call.read(404, {}, b'{"error": "LoRA not found."}')


def test_a_lora_reads_from_the_contract_shape() -> None:
    body = {
        "id": LORA_ID, "userId": LORA_ID, "teamId": LORA_ID, "name": "me ~0a1b2c3d", "subjectKind": "person",
        "gender": "male", "ethnicity": "x", "age": None, "status": "READY", "imageCount": 15, "steps": 1000,
        "loraRank": 16, "isReady": True, "error": None, "createdAt": "2026-01-01T00:00:00Z",
        "startedAt": None, "completedAt": None, "hasWeights": True, "triggerWord": "ohwx", "newField": 1,
    }  # fmt: skip
    lora = loras.get_lora(LORA_ID).read(200, {}, __import__("json").dumps(body).encode())
    assert (lora.status, lora.trigger_word, lora.is_terminal, lora.image_count) == ("READY", "ohwx", True, 15)
    page = loras.list_loras().read(200, {}, b'{"items": [], "nextCursor": null}')
    assert page.items == []
    assert page.next_cursor is None


def test_asset_calls() -> None:
    call = assets.create_asset("https://cdn.example.com/clip.mp4", "video")
    assert (call.method, call.path, call.json) == (
        "POST",
        "/v2/assets/create",
        {"url": "https://cdn.example.com/clip.mp4", "type": "video"},
    )
    with pytest.raises(ApiframeInvalidParamsError) as info:
        assets.create_asset("clip.mp4", "gif")
    assert dict(info.value.problems) == {
        "url": "got 'clip.mp4'; allowed: an absolute URI (https://...)",
        "type": "got 'gif'; allowed: one of 'image', 'video', 'audio'",
    }
    got: ApiCall[Any] = assets.get_asset("asset/1")
    assert got.path == "/v2/assets/asset%2F1"
    assert got.read(200, {}, b'{"id": "a", "anything": [1]}').model_extra == {"id": "a", "anything": [1]}
    with pytest.raises(ApiframeInvalidParamsError, match="asset_id"):
        assets.get_asset("")
