"""
Real video files for emulated jobs: short MP4s showing the prompt, shaped by the request.

- Size: about 57,600 pixels (240x240) at the request's ``aspect_ratio``, sides even: 16:9 is
  320x180, 9:16 is 180x320, 1:1 is 240x240, 4:3 is 278x208 (16:9 when the model takes no ratio,
  or ``auto``). An upscale (``/v2/videos/upscale``) is twice that: 640x360.
- Length: the model's ``duration`` parameter (seconds) when given, else 5 s; at most 20 s.
- Rate: 8 frames per second (an upscale's ``target_fps`` when given).
- Codec: H.264 (libx264, ``ultrafast``) when the PyAV build has it, else MPEG-4 part 2; ``yuv420p``.
  A 5 s clip encodes in well under a tenth of a second.
- Picture: the job's first input image, fitted and slowly panned, when it has one; else a gradient
  of the prompt's colours. A dot crosses the frame, the prompt sits on a card, and the model and
  the time are written in the corner.

PyAV (``av``) is imported on first use: it is only needed once a video is asked for.
"""

from __future__ import annotations

import dataclasses
import io
import math
import textwrap
from functools import cache
from typing import Any

from PIL import Image, ImageDraw, ImageOps

from airflow_provider_apiframe.emulator.images import colors, font

#: Pixels of a frame (240x240), shared out by the aspect ratio.
FRAME_AREA = 240 * 240
DEFAULT_RATIO = "16:9"
DEFAULT_SECONDS = 5
MAX_SECONDS = 20
FPS = 8
CONTENT_TYPE = "video/mp4"


@dataclasses.dataclass(frozen=True)
class VideoSpec:
    """
    What a job's result video looks like.

    :param size: ``(width, height)`` in pixels (even).
    :param seconds: Its length.
    :param fps: Frames per second.
    """

    size: tuple[int, int]
    seconds: float
    fps: int = FPS

    @property
    def frames(self) -> int:
        """How many frames it has."""
        return max(1, round(self.seconds * self.fps))


def requested_seconds(params: dict[str, Any]) -> float | None:
    """
    The length a video request asks for (its ``duration`` parameter), or None.

    :param params: The request's ``<family>Params`` block.
    """
    seconds = params.get("duration")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds <= 0:
        return None
    return float(seconds)


def video_spec(params: dict[str, Any], *, route: str) -> VideoSpec:
    """
    Work out a job's video from its parameters block.

    :param params: The request's ``<family>Params`` block (may be empty).
    :param route: The route it was submitted to.
    """
    seconds = min(MAX_SECONDS, requested_seconds(params) or DEFAULT_SECONDS)
    size = frame_size(str(params.get("aspect_ratio") or DEFAULT_RATIO))
    fps = FPS
    if route.endswith("upscale"):
        size = (size[0] * 2, size[1] * 2)
        target = params.get("target_fps")
        fps = int(target) if isinstance(target, (int, float)) and not isinstance(target, bool) else FPS
    return VideoSpec(size, seconds, max(1, fps))


def frame_size(ratio: str) -> tuple[int, int]:
    """
    Width and height of about :data:`FRAME_AREA` pixels at ``W:H``, both even.

    :param ratio: e.g. ``16:9`` (anything else: 16:9).
    """
    try:
        w, h = (float(part) for part in ratio.split(":"))
        scale = math.sqrt(FRAME_AREA / (w * h))
    except (ValueError, ZeroDivisionError):
        return frame_size(DEFAULT_RATIO)
    return max(16, round(w * scale / 2) * 2), max(16, round(h * scale / 2) * 2)


def render_video(prompt: str, spec: VideoSpec, *, model: str, inputs: tuple[bytes, ...] = ()) -> bytes:
    """
    Draw and encode one result video (MP4).

    :param prompt: The job's prompt, written on every frame.
    :param spec: Size, length and rate.
    :param model: The model, written in the corner.
    :param inputs: The job's input images; the first one is the picture.
    """
    import av

    width, height = spec.size
    margin = (width // 10, height // 10)  # the picture is larger than the frame, to pan over
    backdrop = _backdrop(prompt, (width + 2 * margin[0], height + 2 * margin[1]), inputs)
    card = _card(prompt, width)
    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as container:
        stream: Any = container.add_stream(_codec(), rate=spec.fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if stream.codec_context.name == "libx264":
            stream.options = {"preset": "ultrafast", "crf": "30"}
        for i in range(spec.frames):
            share = i / max(1, spec.frames - 1)
            x, y = round(2 * margin[0] * share), round(margin[1] * (1 - math.cos(math.pi * share)))
            frame = backdrop.crop((x, y, x + width, y + height))
            draw = ImageDraw.Draw(frame)
            radius = max(4, height // 14)
            cx, cy = round(radius + (width - 2 * radius) * share), height // 3
            draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=(255, 255, 255))
            frame.paste(card, (width // 20, height - card.height - height // 20))
            label = f"{model} · {i / spec.fps:4.1f}s"
            draw.text(
                (4, 4), label, font=font(10), fill=(255, 255, 255), stroke_width=1, stroke_fill=(0, 0, 0)
            )
            picture = av.VideoFrame.from_image(frame)  # type: ignore[no-untyped-call]
            for packet in stream.encode(picture):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


@cache
def _codec() -> str:
    """H.264 when this PyAV build encodes it, else MPEG-4 part 2 (every FFmpeg build has it)."""
    import av

    try:
        av.codec.Codec("libx264", "w")
    except Exception:
        return "mpeg4"
    return "libx264"


def _backdrop(prompt: str, size: tuple[int, int], inputs: tuple[bytes, ...]) -> Image.Image:
    """The picture the frames pan over: the first input image, else the prompt's gradient."""
    if inputs:
        with Image.open(io.BytesIO(inputs[0])) as source:
            flat = Image.new("RGBA", source.size, (255, 255, 255, 255))
            flat.alpha_composite(source.convert("RGBA"))
        return ImageOps.fit(flat.convert("RGB"), size)
    first, second = colors(prompt)
    return ImageOps.colorize(Image.linear_gradient("L").resize(size), first, second).convert("RGB")


def _card(prompt: str, width: int) -> Image.Image:
    """The prompt on a white card, up to two lines, nine tenths of the frame wide."""
    text = font(12)
    lines = textwrap.wrap(prompt, width=max(10, int(width * 0.9 / 7))) or [""]
    lines = lines[:2] if len(lines) <= 2 else [lines[0], lines[1][:-1] + "…"]
    card = Image.new("RGB", (width * 9 // 10, 8 + 15 * len(lines)), (255, 255, 255))
    draw = ImageDraw.Draw(card)
    for i, line in enumerate(lines):
        draw.text((6, 4 + 15 * i), line, font=text, fill=(20, 20, 30))
    return card
