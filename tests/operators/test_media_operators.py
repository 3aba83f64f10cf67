"""Video, music and follow-up action operators against the emulator over real HTTP: inputs, results, files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av
import httpx
import pytest
from support import API_KEY, INPUTS, RESULT_KEYS, FakeTI

from airflow_provider_apiframe._compat import AirflowFailException
from airflow_provider_apiframe.core.catalog import (
    MIDJOURNEY_ACTION,
    SUNO_ACTION,
    VIDEO_GENERATE,
    VIDEO_UPSCALE,
)
from airflow_provider_apiframe.emulator.video import VideoSpec, render_video
from airflow_provider_apiframe.operators.actions import (
    ApiframeMidjourneyActionOperator,
    ApiframeSunoActionOperator,
)
from airflow_provider_apiframe.operators.image import ApiframeImageGenerateOperator
from airflow_provider_apiframe.operators.music import ApiframeMusicGenerateOperator
from airflow_provider_apiframe.operators.video import (
    ApiframeVideoEditOperator,
    ApiframeVideoGenerateOperator,
    ApiframeVideoUpscaleOperator,
)

PRODUCT = INPUTS / "product.png"


def run(op: Any, ti: FakeTI | None = None) -> dict[str, Any]:
    return op.execute({"ti": ti or FakeTI()})  # type: ignore[no-any-return]


def fast(**kwargs: Any) -> dict[str, Any]:
    """Operator arguments that wait in the worker and poll quickly."""
    return {"task_id": "make", "deferrable": False, "poll_interval": 0.05, "timeout": 60, **kwargs}


def posts(api: Any) -> list[str]:
    return [path for method, path, _ in api.state.requests if method == "POST"]


def probe(path: str) -> tuple[int, int, float]:
    """Width, height and seconds of a video file, read back with PyAV."""
    with av.open(path) as container:
        stream = container.streams.video[0]
        seconds = float(container.duration or 0) / av.time_base
        return stream.codec_context.width, stream.codec_context.height, seconds


def test_image_to_video_uploads_the_local_start_image_and_saves_a_real_mp4(api: Any, tmp_path: Path) -> None:
    result = run(
        ApiframeVideoGenerateOperator(
            **fast(
                model="kling-2.6",
                prompt="The watch turns slowly",
                model_params={"start_image": str(PRODUCT), "duration": 5, "aspect_ratio": "16:9"},
                output_path=tmp_path,
            )
        )
    )

    assert set(result) == RESULT_KEYS
    (job,) = api.state.jobs.values()
    assert posts(api) == ["/v2/uploads", VIDEO_GENERATE]
    assert job.body["klingParams"]["start_image"].startswith(f"{api.url}/uploads/")
    assert result["images"] == result["audio"] == []
    (video,) = result["videos"]
    assert result["media"] == [{"url": video, "kind": "video", "content_type": "video/mp4"}]
    (file,) = result["files"]
    assert (file["kind"], file["content_type"]) == ("video", "video/mp4")
    assert file["path"] == str(tmp_path / f"{job.id}-1.mp4")
    width, height, seconds = probe(file["path"])
    assert width / height == pytest.approx(16 / 9, rel=0.02)
    assert seconds == pytest.approx(5, abs=0.3)
    assert result["credit_cost"] == job.cost


def test_a_local_video_input_is_checked_as_a_video_and_uploaded(api: Any, tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(render_video("a clip", VideoSpec((160, 90), 2.0), model="test"))

    result = run(
        ApiframeVideoUpscaleOperator(
            **fast(model_params={"video": str(clip), "target_resolution": "1080p", "target_fps": 30})
        )
    )

    assert posts(api) == ["/v2/uploads", VIDEO_UPSCALE]
    (upload,) = api.state.uploads.values()
    assert upload[1] == "video/mp4"
    assert len(result["videos"]) == 1


def test_an_image_given_where_a_video_goes_is_refused_before_anything_is_sent(api: Any) -> None:
    op = ApiframeVideoEditOperator(
        **fast(prompt="Make it snow", model_params={"video": str(PRODUCT)}),
    )
    with pytest.raises(AirflowFailException) as info:
        run(op)
    assert "model_params.video: got" in str(info.value)
    assert "which is not an MP4, WebM or MOV video" in str(info.value)
    assert posts(api) == []


def test_a_video_over_50_mb_is_refused_before_anything_is_sent(api: Any, tmp_path: Path) -> None:
    big = tmp_path / "big.mp4"
    big.write_bytes(render_video("a clip", VideoSpec((160, 90), 1.0), model="test"))
    with big.open("ab") as grow:
        grow.truncate(50 * 2**20 + 1)
    op = ApiframeVideoEditOperator(**fast(prompt="Make it snow", model_params={"video": str(big)}))
    with pytest.raises(AirflowFailException, match="takes input videos of at most 50 MB"):
        run(op)
    assert posts(api) == []


def test_a_contract_problem_of_a_video_model_names_the_field(api: Any) -> None:
    op = ApiframeVideoGenerateOperator(
        **fast(model="sora-2", prompt="A fox", model_params={"duration": 7, "colour": "red"})
    )
    with pytest.raises(AirflowFailException) as info:
        run(op)
    message = str(info.value)
    assert "model_params.duration: got 7; allowed: one of" in message
    assert "model_params.colour: unknown parameter" in message
    assert list(api.state.requests) == []


def test_music_saves_each_track_as_real_audio(api: Any, tmp_path: Path) -> None:
    result = run(
        ApiframeMusicGenerateOperator(
            **fast(
                model="suno",
                prompt="A cheerful jingle",
                model_params={"instrumental": True},
                output_path=tmp_path,
            )
        )
    )

    assert len(result["audio"]) == 2, "a Suno job makes two tracks"
    assert result["videos"] == []
    for file in result["files"]:
        assert file["kind"] == "audio"
        assert file["path"].endswith("." + file["content_type"].split("/")[1].replace("mpeg", "mp3"))
        with av.open(file["path"]) as container:
            assert container.streams.audio, file


def test_a_midjourney_grid_then_the_chosen_image_upsampled(api: Any, tmp_path: Path) -> None:
    grid = run(ApiframeImageGenerateOperator(**fast(model="midjourney", prompt="A lighthouse at dusk")))
    assert len(grid["images"]) == 4

    # The parent as an upstream task would hand it: its whole result, and the index rendered as text.
    upsampled = run(
        ApiframeMidjourneyActionOperator(
            **fast(action="upsample", index="3", parent_job_id=grid, output_path=tmp_path)
        )
    )

    action = api.state.jobs[upsampled["job_id"]]
    assert action.body == {"action": "upsample", "index": 3, "parentJobId": grid["job_id"]}
    assert action.route == MIDJOURNEY_ACTION
    assert len(upsampled["images"]) == 1
    (file,) = upsampled["files"]
    assert Path(file["path"]).exists()


def test_a_midjourney_action_refused_by_the_contract_names_the_operators_arguments(api: Any) -> None:
    op = ApiframeMidjourneyActionOperator(
        **fast(action="outpaint", zoom_ratio=3, parent_job_id="not-a-job-id")
    )
    with pytest.raises(AirflowFailException) as info:
        run(op)
    message = str(info.value)
    assert "zoom_ratio: got 3; allowed: one of 1.5, 2" in message
    assert "parent_job_id: got 'not-a-job-id'; allowed: a UUID" in message
    op = ApiframeMidjourneyActionOperator(**fast(action="zoom", parent_job_id="x"))
    with pytest.raises(AirflowFailException, match="action: got 'zoom'; allowed: 'upsample', 'variation'"):
        run(op)
    assert list(api.state.requests) == []


def test_suno_stems_of_a_track_by_id(api: Any, tmp_path: Path) -> None:
    song = run(ApiframeMusicGenerateOperator(**fast(model="suno", prompt="A sea shanty")))
    parent = api.state.jobs[song["job_id"]]
    track_id = api_job(api, parent.id)["result"]["tracks"][1]["id"]

    stems = run(
        ApiframeSunoActionOperator(
            **fast(action="stems", track_id=track_id, parent_job_id=song["job_id"], output_path=tmp_path)
        )
    )

    assert api.state.jobs[stems["job_id"]].body == {
        "action": "stems",
        "trackId": track_id,
        "parentJobId": song["job_id"],
    }
    assert api.state.jobs[stems["job_id"]].route == SUNO_ACTION
    assert len(stems["audio"]) == 2
    assert {f["kind"] for f in stems["files"]} == {"audio"}


def test_an_action_retried_reattaches_to_the_job_it_paid_for(api: Any) -> None:
    grid = run(ApiframeImageGenerateOperator(**fast(model="midjourney", prompt="A lighthouse at dusk")))
    ti = FakeTI()
    op = ApiframeMidjourneyActionOperator(**fast(action="variation", index=2, parent_job_id=grid["job_id"]))
    first = run(op, ti)
    again = run(op, ti.retry())
    assert again["job_id"] == first["job_id"]
    assert len(api.state.jobs) == 2
    assert [job_id for job_id, _ in api.state.charges].count(first["job_id"]) == 1


def api_job(api: Any, job_id: str) -> dict[str, Any]:
    answer = httpx.get(f"{api.url}/v2/jobs/{job_id}", headers={"X-API-Key": API_KEY})
    answer.raise_for_status()
    return answer.json()  # type: ignore[no-any-return]
