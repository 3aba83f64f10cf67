"""
The video, music and Midjourney example DAGs end to end: ``airflow dags test`` (each deferred task's
trigger rebuilt from its serialized kwargs and run inline) against the emulator over real HTTP.
Every saved file is opened with PyAV or Pillow and checked against what its request asked for.
"""

from __future__ import annotations

from pathlib import Path

import av
import pytest
from PIL import Image
from support import API_KEY, logged_text, run_dag

from airflow_provider_apiframe.core.catalog import (
    MIDJOURNEY_ACTION,
    SUNO_ACTION,
    VIDEO_GENERATE,
    VIDEO_UPSCALE,
)
from airflow_provider_apiframe.emulator import Emulator

pytestmark = pytest.mark.e2e


def refused(emulator: Emulator) -> list[str]:
    return [path for _, path, status in emulator.state.requests if status >= 400]


def charged_once_each(emulator: Emulator) -> None:
    state = emulator.state
    assert {state.status(job)[0] for job in state.jobs.values()} == {"COMPLETED"}
    assert sorted(job_id for job_id, _ in state.charges) == sorted(state.jobs)


def test_image_to_video(airflow_env: dict[str, str], emulator: Emulator, output: Path) -> None:
    log = run_dag("apiframe_image_to_video", airflow_env, emulator, output)

    assert "running trigger in line" in log
    jobs = {job.route: job for job in emulator.state.jobs.values()}
    assert set(jobs) == {"/v2/images/generate", VIDEO_GENERATE, VIDEO_UPSCALE}
    clip, upscale = jobs[VIDEO_GENERATE], jobs[VIDEO_UPSCALE]
    # The shot was saved locally, then uploaded again as the clip's start image (a local input).
    (shot_file,) = (output / "video" / "shots").iterdir()
    assert clip.body["klingParams"]["start_image"].startswith(f"{emulator.url}/uploads/")
    assert clip.inputs is not None
    assert clip.inputs[0] == shot_file.read_bytes()
    assert upscale.body["topazVideoParams"]["video"] == f"{emulator.url}/files/{clip.id}-1.mp4"
    for folder, job, ratio in (("clips", clip, 16 / 9), ("upscaled", upscale, 16 / 9)):
        (path,) = (output / "video" / folder).iterdir()
        assert path.name == f"{job.id}-1.mp4"
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            assert stream.codec_context.width / stream.codec_context.height == pytest.approx(ratio, rel=0.02)
            assert float(container.duration or 0) / av.time_base == pytest.approx(5, abs=0.3)
    charged_once_each(emulator)
    assert refused(emulator) == []
    assert API_KEY not in log + logged_text(airflow_env)


def test_music_jingle_and_its_stems(airflow_env: dict[str, str], emulator: Emulator, output: Path) -> None:
    log = run_dag("apiframe_music_jingle", airflow_env, emulator, output)

    jobs = {job.route: job for job in emulator.state.jobs.values()}
    assert set(jobs) == {"/v2/music/generate", SUNO_ACTION}
    jingle, stems = jobs["/v2/music/generate"], jobs[SUNO_ACTION]
    assert stems.body == {"action": "stems", "index": 1, "parentJobId": jingle.id}
    tracks = sorted((output / "music" / "jingle").iterdir())
    parts = sorted((output / "music" / "stems").iterdir())
    assert [p.name.rsplit(".", 1)[0] for p in tracks] == [f"{jingle.id}-1", f"{jingle.id}-2"]
    assert [p.name.rsplit(".", 1)[0] for p in parts] == [f"{stems.id}-1", f"{stems.id}-2"]
    for path in [*tracks, *parts]:
        with av.open(str(path)) as container:
            assert len(container.streams.audio) == 1
            assert float(container.duration or 0) / av.time_base > 1, path
    charged_once_each(emulator)
    assert refused(emulator) == []
    assert API_KEY not in log + logged_text(airflow_env)


def test_midjourney_grid_then_the_chosen_variant_upsampled(
    airflow_env: dict[str, str], emulator: Emulator, output: Path
) -> None:
    log = run_dag("apiframe_midjourney", airflow_env, emulator, output)

    jobs = {job.route: job for job in emulator.state.jobs.values()}
    grid, upsample = jobs["/v2/images/generate"], jobs[MIDJOURNEY_ACTION]
    assert upsample.body == {"action": "upsample", "index": 3, "parentJobId": grid.id}
    grid_files = sorted((output / "midjourney" / "grid").iterdir())
    assert len(grid_files) == 4
    (upsampled,) = (output / "midjourney" / "upsampled").iterdir()
    with Image.open(upsampled) as image, Image.open(grid_files[2]) as chosen:
        assert image.size[0] >= chosen.size[0]
    assert upsample.inputs is not None, "the upsample is drawn from the chosen grid image"
    charged_once_each(emulator)
    assert refused(emulator) == []
    assert API_KEY not in log + logged_text(airflow_env)
