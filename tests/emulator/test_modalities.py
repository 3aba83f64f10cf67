"""
Video, music and the follow-up actions, end to end over real HTTP: submitted, COMPLETED, their files
downloaded and decoded; Midjourney's grid and upsample, Suno's tracks and stems, the 409s; and the
same lifecycle as images: charges, idempotent replay, faults, outcomes, persistence.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from support import API_KEY, wait_for
from test_media import probe_audio, probe_video

from airflow_provider_apiframe.core.models import Job
from airflow_provider_apiframe.core.outcomes import result_media
from airflow_provider_apiframe.emulator import Emulator, EmulatorConfig
from airflow_provider_apiframe.emulator.state import EmulatorState, JobRecord

VIDEO = "/v2/videos/generate"
VIDEO_EDIT = "/v2/videos/edit"
VIDEO_UPSCALE = "/v2/videos/upscale"
MUSIC = "/v2/music/generate"
MJ = "/v2/images/midjourney/action"
SUNO = "/v2/music/suno/action"


@pytest.fixture
def client(emulator: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emulator.url, headers={"X-API-Key": API_KEY}, timeout=30) as http:
        yield http


def submit(client: httpx.Client, route: str, body: dict[str, Any], **headers: str) -> str:
    response = client.post(route, json=body, headers=headers)
    assert response.status_code == 202, f"{route}: {response.status_code} {response.text}"
    job_id: str = response.json()["jobId"]
    return job_id


def ended(client: httpx.Client, job_id: str) -> dict[str, Any]:
    """The job once it has ended."""
    answer: dict[str, Any] = {}

    def done() -> bool:
        answer.update(client.get(f"/v2/jobs/{job_id}").json())
        return answer["status"] not in ("QUEUED", "PROCESSING")

    assert wait_for(done, 10), answer
    return answer


def completed(client: httpx.Client, route: str, body: dict[str, Any], **headers: str) -> dict[str, Any]:
    job = ended(client, submit(client, route, body, **headers))
    assert job["status"] == "COMPLETED", job
    return job


def download(url: str, content_type: str) -> bytes:
    response = httpx.get(url)
    assert response.status_code == 200, url
    assert response.headers["content-type"] == content_type
    return response.content


def png_url(client: httpx.Client, color: tuple[int, int, int] = (20, 160, 40)) -> str:
    picture = io.BytesIO()
    Image.new("RGB", (96, 64), color).save(picture, "PNG")
    uploaded = client.post("/v2/uploads", files={"file": ("in.png", picture.getvalue(), "image/png")})
    url: str = uploaded.json()["url"]
    return url


# --- video ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "size", "seconds"),
    [
        ({"model": "kling-2.1", "prompt": "a fox runs", "klingParams": {"duration": 10}}, (320, 180), 10),
        (
            {
                "model": "sora-2",
                "prompt": "a tall tower",
                "soraParams": {"aspect_ratio": "9:16", "duration": 4},
            },
            (180, 320),
            4,
        ),
        ({"model": "luma-ray-2", "prompt": "a cube", "lumaParams": {"aspect_ratio": "1:1"}}, (240, 240), 5),
        ({"model": "veo-3", "prompt": "rain"}, (320, 180), 5),
    ],
    ids=["kling-10s", "sora-9:16", "luma-1:1", "veo-defaults"],
)
def test_video_generate(
    emulator: Emulator, client: httpx.Client, body: dict[str, Any], size: tuple[int, int], seconds: int
) -> None:
    job = completed(client, VIDEO, body)
    (url,) = job["result"]["videos"]
    assert url.endswith(".mp4")
    width, height, duration, frames, _ = probe_video(download(url, "video/mp4"))
    assert (width, height) == size
    assert duration == pytest.approx(seconds, abs=0.15)
    assert frames == seconds * 8
    assert job["creditCost"] == 4 * seconds  # per second asked for (5 s when not asked)
    assert (job["id"], 4 * seconds) in emulator.state.charges
    media = result_media(Job.model_validate(job))
    assert [(m["url"], m["kind"]) for m in media] == [(url, "video")]


def test_video_from_a_start_image(emulator: Emulator, client: httpx.Client) -> None:
    start = png_url(client, (230, 20, 20))
    job = completed(
        client, VIDEO, {"model": "kling-2.1", "prompt": "p", "klingParams": {"start_image": start}}
    )
    assert emulator.state.jobs[job["id"]].input_urls == (start,)
    with av_open(download(job["result"]["videos"][0], "video/mp4")) as container:
        r, g, _ = next(container.decode(video=0)).to_image().getpixel((160, 60))
    assert r > 150
    assert g < 90


def av_open(data: bytes) -> Any:
    import av

    return av.open(io.BytesIO(data))


def test_video_edit_and_upscale_fetch_their_video(emulator: Emulator, client: httpx.Client) -> None:
    source = completed(client, VIDEO, {"model": "veo-3", "prompt": "a source clip"})["result"]["videos"][0]
    edit = completed(
        client,
        VIDEO_EDIT,
        {
            "model": "wan-2.7-videoedit",
            "prompt": "make it snow",
            "wan27VideoeditParams": {"video": source, "duration": 3},
        },
    )
    assert emulator.state.jobs[edit["id"]].input_kinds == ("video",)
    width, height, seconds, _, _ = probe_video(download(edit["result"]["videos"][0], "video/mp4"))
    assert (width, height, round(seconds)) == (320, 180, 3)

    upscale = completed(
        client,
        VIDEO_UPSCALE,
        {
            "model": "topaz-video-upscale",
            "topazVideoParams": {"video": source, "target_resolution": "1080p", "target_fps": 24},
        },
    )
    width, height, seconds, frames, _ = probe_video(download(upscale["result"]["videos"][0], "video/mp4"))
    assert (width, height, frames) == (640, 360, 120)
    assert upscale["creditCost"] == 20


def test_a_missing_or_wrong_input_fails_a_video_job_uncharged(
    emulator: Emulator, client: httpx.Client
) -> None:
    missing = f"{emulator.url}/uploads/{uuid.uuid4()}"
    gone = ended(
        client,
        submit(
            client,
            VIDEO_EDIT,
            {"model": "wan-2.7-videoedit", "prompt": "p", "wan27VideoeditParams": {"video": missing}},
        ),
    )
    assert gone["status"] == "FAILED"
    assert gone["error"].startswith(f"Could not use input video {missing}: ")
    an_image = png_url(client)
    wrong = ended(
        client,
        submit(
            client,
            VIDEO_UPSCALE,
            {
                "model": "topaz-video-upscale",
                "topazVideoParams": {"video": an_image, "target_resolution": "720p", "target_fps": 30},
            },
        ),
    )
    assert wrong["status"] == "FAILED"
    assert "not a video file (image/png)" in wrong["error"]
    assert {gone["creditCost"], wrong["creditCost"]} == {0}
    assert emulator.state.charges == []


def test_video_jobs_replay_fault_and_fail_as_image_jobs_do(emulator: Emulator, client: httpx.Client) -> None:
    body = {"model": "kling-2.1", "prompt": "once", "klingParams": {"duration": 5}}
    key = {"Idempotency-Key": f"video-{uuid.uuid4()}"}
    first = submit(client, VIDEO, body, **key)
    replay = client.post(VIDEO, json=body, headers=key)
    assert replay.status_code == 202
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["jobId"] == first
    ended(client, first)
    assert [c for c in emulator.state.charges if c[0] == first] == [(first, 20)]
    assert len(emulator.state.jobs) == 1

    faulted = client.post(VIDEO, json=body, headers={"X-Emulator-Fault": "503"})
    assert faulted.status_code == 503
    assert len(emulator.state.jobs) == 1
    failed = ended(client, submit(client, VIDEO, body, **{"X-Emulator-Outcome": "failed"}))
    assert (failed["status"], failed["creditCost"], failed["result"]) == ("FAILED", 0, None)

    emulator.state.credits = 19
    poor = client.post(VIDEO, json=body)
    assert poor.status_code == 402
    assert poor.json()["creditsRequired"] == 20


def test_a_video_job_survives_a_restart(spec: dict[str, Any], tmp_path: Path) -> None:
    path = str(tmp_path / "state.json")
    config = EmulatorConfig(api_keys=(API_KEY,), job_seconds=0.3, jitter=0.0, spec=spec, state_file=path)
    with (
        Emulator(config).running() as first,
        httpx.Client(base_url=first.url, headers={"X-API-Key": API_KEY}) as c,
    ):
        job = completed(
            c,
            VIDEO,
            {"model": "sora-2", "prompt": "kept", "soraParams": {"aspect_ratio": "9:16", "duration": 8}},
        )
        record = first.state.jobs[job["id"]]
    saved = json.loads(Path(path).read_text())
    assert JobRecord.from_dict(json.loads(json.dumps(record.to_dict()))) == JobRecord(
        **{**record.__dict__, "files": {}}
    )
    restored = EmulatorState(config)
    restored.load(path)
    again = restored.jobs[job["id"]]
    assert (again.output, again.video, again.cost) == ("video", record.video, 32)
    assert len(saved["jobs"]) == 1
    with Emulator(config).running() as second:
        url = second.state.to_json(second.state.jobs[job["id"]], second.url)["result"]["videos"][0]
        width, height, seconds, _, _ = probe_video(download(url, "video/mp4"))
    assert (width, height, round(seconds)) == (180, 320, 8)


# --- music ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "count", "seconds", "content_type"),
    [
        (
            {"model": "elevenlabs-music", "prompt": "a march", "elevenlabsParams": {"music_length_ms": 5000}},
            1,
            5,
            "audio/mpeg",
        ),
        (
            {
                "model": "elevenlabs-music",
                "prompt": "a waltz",
                "elevenlabsParams": {"music_length_ms": 7000, "output_format": "wav_cd_quality"},
            },
            1,
            7,
            "audio/wav",
        ),
        ({"model": "mureka", "prompt": "a ballad"}, 2, 6, "audio/mpeg"),
        ({"model": "udio", "prompt": "a jig"}, 1, 6, "audio/mpeg"),
    ],
    ids=["elevenlabs-5s", "elevenlabs-wav", "mureka-pair", "udio"],
)
def test_music_generate(
    emulator: Emulator,
    client: httpx.Client,
    body: dict[str, Any],
    count: int,
    seconds: int,
    content_type: str,
) -> None:
    job = completed(client, MUSIC, body)
    urls = job["result"]["audio"]
    assert len(urls) == count
    for url in urls:
        duration, loudest = probe_audio(download(url, content_type))
        assert duration == pytest.approx(seconds, abs=0.1)
        assert loudest > 0.1
    assert job["creditCost"] == 20
    assert {m["kind"] for m in result_media(Job.model_validate(job))} == {"audio"}


# --- Midjourney -------------------------------------------------------------------------------------------


def test_midjourney_grid_upsample_inpaint(emulator: Emulator, client: httpx.Client) -> None:
    grid = completed(
        client,
        "/v2/images/generate",
        {"model": "midjourney", "prompt": "a castle", "midjourneyParams": {"aspect_ratio": "3:2"}},
    )
    assert len(grid["result"]["images"]) == 4
    assert grid["creditCost"] == 8
    pictures = [download(url, "image/png") for url in grid["result"]["images"]]
    assert len(set(pictures)) == 4

    upsample = completed(client, MJ, {"action": "upsample", "index": 3, "parentJobId": grid["id"]})
    (one,) = upsample["result"]["images"]
    assert upsample["model"] == "midjourney"
    assert upsample["input"] == {"action": "upsample", "index": 3, "parentJobId": grid["id"]}
    assert upsample["creditCost"] == 4
    record = emulator.state.jobs[upsample["id"]]
    assert record.input_urls == (grid["result"]["images"][2],)  # derived from the chosen image
    assert (record.output, record.parent_id) == ("upsample", grid["id"])
    with (
        Image.open(io.BytesIO(download(one, "image/png"))) as image,
        Image.open(io.BytesIO(pictures[2])) as chosen,
    ):
        assert image.size == chosen.size

    inpaint = completed(
        client, MJ, {"action": "inpaint", "parentJobId": upsample["id"], "mask": "AAAA", "prompt": "a flag"}
    )
    assert len(inpaint["result"]["images"]) == 4
    assert emulator.state.jobs[inpaint["id"]].prompt == "a flag"
    for action in ({"action": "outpaint", "zoomRatio": 2}, {"action": "pan", "direction": "left"}):
        assert len(completed(client, MJ, {**action, "parentJobId": upsample["id"]})["result"]["images"]) == 4
    variation = completed(client, MJ, {"action": "variation", "index": 1, "parentJobId": inpaint["id"]})
    assert len(variation["result"]["images"]) == 4  # a grid from a grid action acts on again


def test_midjourney_actions_not_available_are_409(emulator: Emulator, client: httpx.Client) -> None:
    grid = completed(client, "/v2/images/generate", {"model": "midjourney", "prompt": "a castle"})
    upsample = completed(client, MJ, {"action": "upsample", "index": 1, "parentJobId": grid["id"]})
    emulator.config.job_seconds = 30.0
    running = submit(client, "/v2/images/generate", {"model": "midjourney", "prompt": "slow"})
    jobs = len(emulator.state.jobs)
    for body in (
        {"action": "upsample", "index": 2, "parentJobId": upsample["id"]},
        {"action": "variation", "index": 2, "parentJobId": upsample["id"]},
        {"action": "inpaint", "mask": "AAAA", "parentJobId": grid["id"]},
        {"action": "outpaint", "zoomRatio": 1.5, "parentJobId": grid["id"]},
        {"action": "pan", "direction": "up", "parentJobId": grid["id"]},
        {"action": "upsample", "index": 1, "parentJobId": running},
    ):
        response = client.post(MJ, json=body)
        assert response.status_code == 409, (body, response.text)
        assert body["action"] in response.json()["error"]
    assert len(emulator.state.jobs) == jobs
    emulator.config.job_seconds = 0.3
    flux = completed(client, "/v2/images/generate", {"model": "flux-1.1-pro", "prompt": "not midjourney"})
    response = client.post(MJ, json={"action": "upsample", "index": 1, "parentJobId": flux["id"]})
    assert response.status_code == 400
    assert "parentJobId" in response.json()["details"]


# --- Suno -------------------------------------------------------------------------------------------------


def test_suno_tracks_extend_stems(emulator: Emulator, client: httpx.Client) -> None:
    song = completed(
        client, MUSIC, {"model": "suno", "prompt": "a song about the sea", "sunoParams": {"title": "Tides"}}
    )
    tracks = song["result"]["tracks"]
    assert [set(t) for t in tracks] == [{"id", "title", "audio_url", "duration"}] * 2
    assert [t["title"] for t in tracks] == ["Tides", "Tides"]
    assert len({t["id"] for t in tracks}) == 2
    for track in tracks:
        seconds, _ = probe_audio(download(track["audio_url"], "audio/mpeg"))
        assert seconds == pytest.approx(track["duration"], abs=0.1)
    assert song["creditCost"] == 20
    assert [m["kind"] for m in result_media(Job.model_validate(song))] == ["audio", "audio"]

    extended = completed(
        client,
        SUNO,
        {"action": "extend", "parentJobId": song["id"], "trackId": tracks[1]["id"], "continueAt": 3},
    )
    longer = extended["result"]["tracks"]
    assert [t["duration"] for t in longer] == [9.0, 9.0]
    assert probe_audio(download(longer[0]["audio_url"], "audio/mpeg"))[0] == pytest.approx(9.0, abs=0.1)
    assert longer[0]["id"] not in {t["id"] for t in tracks}

    stems = completed(client, SUNO, {"action": "stems", "parentJobId": extended["id"], "index": 2})
    assert set(stems["result"]) == {"vocals", "instrumental"}
    assert stems["creditCost"] == 10
    parts = [download(stems["result"][part], "audio/mpeg") for part in ("vocals", "instrumental")]
    assert parts[0] != parts[1]
    assert [round(probe_audio(p)[0]) for p in parts] == [9, 9]
    assert emulator.state.jobs[stems["id"]].source == f"{extended['id']}#2"

    for action in ({"action": "extend"}, {"action": "stems"}, {"action": "add_vocals", "prompt": "la la"}):
        refused = client.post(SUNO, json={**action, "parentJobId": stems["id"]})
        assert refused.status_code == 409, refused.text
        assert "stems" in refused.json()["error"]
    follow_ups: list[dict[str, Any]] = [
        {"action": "cover", "index": 1},
        {"action": "add_vocals", "prompt": "la la", "trackId": longer[0]["id"]},
    ]
    for action in follow_ups:
        again = completed(client, SUNO, {**action, "parentJobId": extended["id"]})
        assert [t["duration"] for t in again["result"]["tracks"]] == [9.0, 9.0]


def test_suno_action_problems(emulator: Emulator, client: httpx.Client) -> None:
    song = completed(client, MUSIC, {"model": "suno", "prompt": "a song"})
    first, second = (t["id"] for t in song["result"]["tracks"])
    udio = completed(client, MUSIC, {"model": "udio", "prompt": "not suno"})
    cases = [
        ({"action": "stems", "parentJobId": udio["id"]}, "parentJobId"),
        ({"action": "stems", "parentJobId": str(uuid.uuid4())}, "parentJobId"),
        ({"action": "stems", "parentJobId": song["id"], "trackId": "nope"}, "trackId"),
        ({"action": "stems", "parentJobId": song["id"], "trackId": second, "index": 1}, "index"),
        ({"action": "extend", "parentJobId": song["id"], "trackId": first, "continueAt": 6}, "continueAt"),
        ({"action": "add_vocals", "parentJobId": song["id"]}, "prompt"),
    ]
    for body, field in cases:
        response = client.post(SUNO, json=body)
        assert response.status_code == 400, (body, response.text)
        assert field in response.json()["details"], (body, response.json())
    assert completed(
        client, SUNO, {"action": "cover", "parentJobId": song["id"], "trackId": second, "index": 2}
    )
