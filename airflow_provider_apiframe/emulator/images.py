"""Real image files for emulated jobs: the requested size, format and alpha, showing the prompt."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import textwrap
from functools import cache
from typing import Any

from PIL import Image, ImageDraw, ImageFont, ImageOps

#: GPT Image sizes by aspect ratio (OpenAI's sizes for the same ratios).
GPT_SIZES = {"1:1": (1024, 1024), "3:2": (1536, 1024), "2:3": (1024, 1536)}
CONTENT_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
_PIL_FORMATS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}


@dataclasses.dataclass(frozen=True)
class ImageSpec:
    """
    What a job's result images look like.

    :param count: Number of images.
    :param size: ``(width, height)`` in pixels.
    :param fmt: ``png``, ``jpeg`` or ``webp``.
    :param transparent: Whether the background is transparent (real alpha; png and webp only).
    """

    count: int
    size: tuple[int, int]
    fmt: str
    transparent: bool
    noise: bool = False

    @property
    def content_type(self) -> str:
        """The MIME type of the files."""
        return CONTENT_TYPES[self.fmt]


def image_spec(model: str, params: dict[str, Any], *, route: str) -> ImageSpec:
    """
    Work out a job's images from its model and parameters block.

    :param model: The ``model`` of the request.
    :param params: Its ``<family>Params`` block (may be empty).
    :param route: The route it was submitted to.
    """
    fmt = str(
        params.get("output_format") or params.get("format") or ("webp" if "gpt-image" in model else "png")
    )
    fmt = "jpeg" if fmt == "jpg" else fmt
    ratio = str(params.get("aspect_ratio") or "1:1")
    size = GPT_SIZES.get(ratio) or _size_for_ratio(ratio)
    if route.endswith("upscale"):
        factor = params.get("upscale_factor") or params.get("scale_factor") or 2
        side = min(4096, 1024 * int(factor)) if isinstance(factor, (int, float)) and factor > 0 else 2048
        size = (side, side)
    count = params.get("number_of_images")
    transparent = fmt != "jpeg" and (
        params.get("background") == "transparent" or route.endswith("background-remove")
    )
    return ImageSpec(count if isinstance(count, int) and count > 0 else 1, size, fmt, transparent)


def render(prompt: str, index: int, spec: ImageSpec, *, model: str, inputs: tuple[bytes, ...] = ()) -> bytes:
    """
    Draw one result image and encode it.

    :param prompt: The job's prompt, written on the image.
    :param index: Which image of the job (1-based).
    :param spec: Size, format and alpha.
    :param model: The model, written in the corner.
    :param inputs: The job's input images; the output is derived from them.
    """
    if spec.noise:  # a large file that does not compress: for streaming tests and benchmarks
        noise = Image.frombytes("RGB", spec.size, os.urandom(spec.size[0] * spec.size[1] * 3))
        out = io.BytesIO()
        noise.save(out, "PNG", compress_level=0)
        return out.getvalue()
    width, height = spec.size
    first, second = colors(f"{prompt}#{index}")
    gradient = ImageOps.colorize(Image.linear_gradient("L").resize(spec.size), first, second).convert("RGBA")
    picture = Image.blend(_collage(inputs, spec.size).convert("RGBA"), gradient, 0.2) if inputs else gradient
    if spec.transparent:  # the subject on a truly transparent background
        canvas = Image.new("RGBA", spec.size, (0, 0, 0, 0))
        mask = Image.new("L", spec.size, 0)
        ImageDraw.Draw(mask).ellipse((width // 6, height // 8, width * 5 // 6, height * 7 // 8), fill=255)
        canvas.paste(picture, (0, 0), mask)
    else:
        canvas = picture
    _caption(canvas, prompt, f"Apiframe emulator · {model} · image {index}/{spec.count}")
    out = io.BytesIO()
    image = canvas if spec.transparent else canvas.convert("RGB")
    options: dict[str, Any] = {"quality": 85, "method": 2} if spec.fmt == "webp" else {}
    image.save(out, _PIL_FORMATS[spec.fmt], **({"quality": 88} if spec.fmt == "jpeg" else options))
    return out.getvalue()


def check_image(data: bytes) -> None:
    """
    Raise ``ValueError`` unless ``data`` is an image Pillow can read.

    :param data: File contents.
    """
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
    except Exception as exc:
        raise ValueError(f"not an image ({type(exc).__name__})") from None


def _collage(inputs: tuple[bytes, ...], size: tuple[int, int]) -> Image.Image:
    """Fit the inputs side by side into ``size``."""
    width, height = size
    canvas = Image.new("RGB", size)
    panel = width // len(inputs)
    for i, data in enumerate(inputs):
        with Image.open(io.BytesIO(data)) as source:
            flat = Image.new("RGBA", source.size, (255, 255, 255, 255))  # transparent inputs sit on white
            flat.alpha_composite(source.convert("RGBA"))
        tile = ImageOps.fit(
            flat.convert("RGB"), (panel if i < len(inputs) - 1 else width - panel * i, height)
        )
        canvas.paste(tile, (panel * i, 0))
    return canvas


def _caption(canvas: Image.Image, prompt: str, label: str) -> None:
    """Write the prompt on an opaque card, and a label in the corner."""
    width, height = canvas.size
    draw = ImageDraw.Draw(canvas)
    text_font = font(max(16, width // 36))
    lines = textwrap.wrap(prompt, width=max(20, int(width / (text_font.size * 0.55))))[:8]
    line_height = int(text_font.size * 1.3)
    card_height = line_height * len(lines) + text_font.size * 2
    top = height - card_height - height // 12
    draw.rounded_rectangle(
        (width // 16, top, width * 15 // 16, top + card_height),
        radius=text_font.size,
        fill=(255, 255, 255, 255),
    )
    for i, line in enumerate(lines):
        draw.text(
            (width // 16 + text_font.size, top + text_font.size + i * line_height),
            line,
            font=text_font,
            fill=(20, 20, 30, 255),
        )
    small = font(max(12, width // 64))
    draw.text(
        (small.size, small.size),
        label,
        font=small,
        fill=(255, 255, 255, 255),
        stroke_width=2,
        stroke_fill=(0, 0, 0, 255),
    )


@cache
def font(size: int) -> ImageFont.FreeTypeFont:
    """
    Pillow's default font at ``size`` pixels (FreeType).

    :param size: Its size.
    """
    found = ImageFont.load_default(size=size)
    if not isinstance(found, ImageFont.FreeTypeFont):  # Pillow's wheels always have FreeType
        raise RuntimeError("Pillow was built without FreeType; the emulator needs it to draw text")
    return found


def colors(seed: str) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """
    Two colours from a seed (the same seed, the same colours).

    :param seed: Any text.
    """
    digest = hashlib.sha256(seed.encode()).digest()
    return (digest[0], digest[1], digest[2]), (digest[3], digest[4], digest[5])


def _size_for_ratio(ratio: str) -> tuple[int, int]:
    """About one megapixel at ``W:H``, in multiples of 64."""
    try:
        w, h = (float(part) for part in ratio.split(":"))
        scale = (1024 * 1024 / (w * h)) ** 0.5
        return max(64, round(w * scale / 64) * 64), max(64, round(h * scale / 64) * 64)
    except (ValueError, ZeroDivisionError):
        return 1024, 1024
