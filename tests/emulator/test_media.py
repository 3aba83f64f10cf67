"""The emulator's video and audio files: real, decodable, shaped by the request, and cheap to make."""

from __future__ import annotations

import array
import io
import time
from typing import Any

import av
import pytest
from PIL import Image

from airflow_provider_apiframe.core.media import sniff_media
from airflow_provider_apiframe.emulator.audio import AudioSpec, audio_spec, render_audio
from airflow_provider_apiframe.emulator.video import VideoSpec, frame_size, render_video, video_spec


def probe_video(data: bytes) -> tuple[int, int, float, int, str]:
    """Width, height, seconds, frames and codec of an MP4, read by PyAV."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(video=0))
        assert container.duration is not None
        return stream.width, stream.height, container.duration / 1e6, frames, stream.codec_context.name


def probe_audio(data: bytes) -> tuple[float, float]:
    """Seconds (decoded samples / rate) and the loudest sample (0..1) of a sound file, read by PyAV."""
    with av.open(io.BytesIO(data)) as container:
        rate = container.streams.audio[0].sample_rate
        samples, loudest = 0, 0.0
        for frame in container.decode(audio=0):
            samples += frame.samples
            name = frame.format.name.rstrip("p")
            values = array.array({"s16": "h", "flt": "f", "s32": "i"}[name], bytes(frame.planes[0]))
            scale = {"s16": 32768, "flt": 1, "s32": 2**31}[name]
            loudest = max([loudest, *(abs(v) / scale for v in values[: frame.samples])])
        return samples / rate, loudest


@pytest.mark.parametrize(
    ("ratio", "size"),
    [
        ("16:9", (320, 180)),
        ("9:16", (180, 320)),
        ("1:1", (240, 240)),
        ("4:3", (278, 208)),
        ("auto", (320, 180)),
    ],
)
def test_frame_sizes(ratio: str, size: tuple[int, int]) -> None:
    assert frame_size(ratio) == size
    assert video_spec({"aspect_ratio": ratio}, route="/v2/videos/generate").size == size


def test_video_spec_follows_duration_and_upscale() -> None:
    assert video_spec({}, route="/v2/videos/generate") == VideoSpec((320, 180), 5.0, 8)
    assert video_spec({"duration": 10, "aspect_ratio": "9:16"}, route="/v2/videos/generate") == VideoSpec(
        (180, 320), 10.0, 8
    )
    assert video_spec({"duration": 99}, route="/v2/videos/generate").seconds == 20
    upscale = video_spec({"target_fps": 24, "video": "https://a.b/v.mp4"}, route="/v2/videos/upscale")
    assert upscale == VideoSpec((640, 360), 5.0, 24)


def test_a_video_is_a_real_mp4_of_its_size_and_length_made_quickly() -> None:
    started = time.perf_counter()
    data = render_video("a paper boat on a river", VideoSpec((180, 320), 4.0), model="sora-2")
    assert time.perf_counter() - started < 1.0
    assert sniff_media(data[:16]) == ("video", "video/mp4")
    width, height, seconds, frames, codec = probe_video(data)
    assert (width, height, frames) == (180, 320, 32)
    assert seconds == pytest.approx(4.0, abs=0.15)
    assert codec in ("h264", "mpeg4")


def test_a_video_from_a_start_image_shows_it() -> None:
    red = io.BytesIO()
    Image.new("RGB", (400, 300), (220, 20, 20)).save(red, "PNG")
    data = render_video("p", VideoSpec((240, 240), 1.0), model="kling-2.1", inputs=(red.getvalue(),))
    with av.open(io.BytesIO(data)) as container:
        first = next(container.decode(video=0)).to_image()
    r, g, b = first.getpixel((200, 60))
    assert r > 150
    assert max(g, b) < 90


@pytest.mark.parametrize(("fmt", "content_type"), [("mp3", "audio/mpeg"), ("wav", "audio/wav")])
def test_a_sound_is_real_audio_of_its_length(fmt: str, content_type: str) -> None:
    started = time.perf_counter()
    data = render_audio("a sea shanty", AudioSpec(1, 5.0, fmt))
    assert time.perf_counter() - started < 1.0
    assert sniff_media(data[:16]) == ("audio", content_type)
    seconds, loudest = probe_audio(data)
    assert seconds == pytest.approx(5.0, abs=0.1)
    assert loudest > 0.1  # audible, not silence


def test_the_same_seed_is_the_same_tune_and_stems_differ() -> None:
    spec = AudioSpec(1, 2.0)
    assert render_audio("x", spec) == render_audio("x", spec)
    assert len({render_audio("x", spec, part) for part in ("mix", "vocals", "instrumental")}) == 3


@pytest.mark.parametrize(
    ("model", "params", "expected"),
    [
        ("udio", {}, AudioSpec(1, 6.0, "mp3")),
        ("mureka", {}, AudioSpec(2, 6.0, "mp3")),
        ("mureka", {"n": 3}, AudioSpec(3, 6.0, "mp3")),
        ("elevenlabs-music", {"music_length_ms": 8000}, AudioSpec(1, 8.0, "mp3")),
        (
            "elevenlabs-music",
            {"music_length_ms": 300000, "output_format": "wav_cd_quality"},
            AudioSpec(1, 20.0, "wav"),
        ),
    ],
)
def test_audio_spec(model: str, params: dict[str, Any], expected: AudioSpec) -> None:
    assert audio_spec(model, params) == expected
