"""
The demo's gallery: an HTML page of every file a run saved, and a PNG contact sheet of them.

Both are pure functions of a list of :class:`Entry` (one per saved file). The page links its media
by paths relative to its own folder, so the folder opens from ``file://`` and can be served as is.
"""

from __future__ import annotations

import html
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from PIL import Image, ImageDraw, ImageFont

from airflow_provider_apiframe.core.media import Kind, guess_from_url, kind_of

#: A thumbnail's box on the contact sheet (the image is fitted inside, its aspect ratio kept).
THUMB = 240
#: The gap between cells and around the sheet.
PAD = 12
#: Caption lines under each thumbnail (task id, model, credits) and their height.
CAPTION_LINES = 3
LINE_HEIGHT = 16
#: The sheet's columns at most.
COLUMNS = 4
CELL_WIDTH = THUMB
CELL_HEIGHT = THUMB + 4 + CAPTION_LINES * LINE_HEIGHT
_BACKGROUND = (246, 246, 244)
_TILE = (226, 226, 222)
_INK = (34, 34, 34)
_MUTED = (96, 96, 96)


@dataclass(frozen=True)
class Entry:
    """
    One saved file of a run, with what made it.

    :param task_id: The task that saved it.
    :param path: The file.
    :param job_id: The Apiframe job.
    :param model: The job's model.
    :param credits: The job's credit cost.
    :param prompt: The task's prompt, if it had one.
    """

    task_id: str
    path: Path
    job_id: str
    model: str | None = None
    credits: float | None = None
    prompt: str | None = None

    @property
    def kind(self) -> Kind:
        """``image``, ``video`` or ``audio``, by the file's extension (``image`` when unknown)."""
        content_type = guess_from_url(self.path.name)
        return kind_of(content_type) if content_type else "image"


def credits_text(credits: float | None) -> str:
    """
    A credit cost as people read it: ``10``, ``2.5`` or ``?`` when unknown.

    :param credits: The cost.
    """
    return "?" if credits is None else f"{credits:g}"


def sheet_size(count: int, columns: int = COLUMNS) -> tuple[int, int]:
    """
    The size in pixels of the contact sheet of ``count`` entries.

    :param count: How many entries.
    :param columns: The most columns.
    """
    cols = max(1, min(columns, count))
    rows = max(1, math.ceil(count / cols))
    return cols * (CELL_WIDTH + PAD) + PAD, rows * (CELL_HEIGHT + PAD) + PAD


def write_contact_sheet(entries: Sequence[Entry], out_path: Path, columns: int = COLUMNS) -> Path:
    """
    Draw every entry's thumbnail in a grid, captioned with its task id, model and credits; save a PNG.

    Videos and audio get a labelled tile instead of a thumbnail; transparent images are shown on
    the sheet's background.

    :param entries: The files, in the order to show them.
    :param out_path: Where to write the PNG.
    :param columns: The most columns.
    :return: ``out_path``.
    """
    cols = max(1, min(columns, len(entries)))
    sheet = Image.new("RGB", sheet_size(len(entries), columns), _BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=13)
    for n, entry in enumerate(entries):
        x = PAD + (n % cols) * (CELL_WIDTH + PAD)
        y = PAD + (n // cols) * (CELL_HEIGHT + PAD)
        thumb = _thumbnail(entry)
        sheet.paste(thumb, (x + (THUMB - thumb.width) // 2, y + (THUMB - thumb.height) // 2))
        caption = [entry.task_id, entry.model or "?", f"{credits_text(entry.credits)} credits"]
        for line, (text, colour) in enumerate(zip(caption, (_INK, _MUTED, _MUTED), strict=True)):
            draw.text((x, y + THUMB + 4 + line * LINE_HEIGHT), _fit(draw, text, font), fill=colour, font=font)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out_path, format="PNG")
    return out_path


def _thumbnail(entry: Entry) -> Image.Image:
    """The entry's image fitted in the thumbnail box, or a labelled tile for other media."""
    if entry.kind == "image":
        with Image.open(entry.path) as image:
            image.thumbnail((THUMB, THUMB))
            rgba = image.convert("RGBA")
        shown = Image.new("RGBA", rgba.size, (*_BACKGROUND, 255))
        return Image.alpha_composite(shown, rgba).convert("RGB")
    tile = Image.new("RGB", (THUMB, THUMB), _TILE)
    draw = ImageDraw.Draw(tile)
    label = f"{entry.kind} ({entry.path.suffix.lstrip('.')})"
    draw.text((THUMB // 2, THUMB // 2), label, fill=_MUTED, anchor="mm", font=ImageFont.load_default(size=18))
    return tile


def _fit(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.ImageFont | ImageFont.FreeTypeFont) -> str:
    """``text``, cut short with an ellipsis if it is wider than a cell."""
    if draw.textlength(text, font=font) <= CELL_WIDTH:
        return text
    while text and draw.textlength(text + "…", font=font) > CELL_WIDTH:
        text = text[:-1]
    return text + "…"


def media_link(path: Path, out_dir: Path) -> str:
    """
    The URL of a file relative to the page's folder (``showcase/a%20b.png``), for ``src`` and ``href``.

    :param path: The file.
    :param out_dir: The folder the page is in.
    """
    relative = os.path.relpath(path.resolve(), out_dir.resolve())
    return quote(Path(relative).as_posix())


def write_gallery(entries: Sequence[Entry], out_dir: Path, contact_sheet: Path | None = None) -> Path:
    """
    Write ``index.html`` in ``out_dir``: each file with its task, prompt, model, credits and job id.

    Images show as images, videos and audio as playable ``<video controls>`` and ``<audio controls>``;
    every text is HTML-escaped; media are linked by relative paths.

    :param entries: The files, in the order to show them.
    :param out_dir: The folder to write the page in.
    :param contact_sheet: The contact sheet, linked from the page's header if given.
    :return: The page's path.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    jobs = len({entry.job_id for entry in entries})
    sheet = f' · <a href="{media_link(contact_sheet, out_dir)}">contact sheet</a>' if contact_sheet else ""
    cards = "\n".join(_card(entry, out_dir) for entry in entries)
    page = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Apiframe demo gallery</title>
<style>
body {{ font: 15px/1.4 system-ui, sans-serif; margin: 2rem; background: #f6f6f4; color: #222; }}
main {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(280px, 1fr)); gap: 1.25rem; }}
figure {{ margin: 0; background: #fff; border-radius: 8px; overflow: hidden; box-shadow: 0 1px 3px #0002; }}
figure img, figure video {{ display: block; width: 100%; height: 280px; object-fit: contain; }}
figure img, figure video {{ background: #eee; }}
figure audio {{ display: block; width: 100%; margin: 1rem 0; }}
figcaption {{ padding: .75rem 1rem; }}
dl {{ display: grid; grid-template-columns: auto 1fr; gap: .2rem .75rem; margin: 0; }}
dt {{ color: #666; }} dd {{ margin: 0; min-width: 0; overflow-wrap: anywhere; }} code {{ font-size: 13px; }}
</style>
</head>
<body>
<h1>Apiframe demo gallery</h1>
<p>{len(entries)} files from {jobs} jobs{sheet}</p>
<main>
{cards}
</main>
</body>
</html>
"""
    index = out_dir / "index.html"
    index.write_text(page, encoding="utf-8")
    return index


def _card(entry: Entry, out_dir: Path) -> str:
    """One entry's ``<figure>``: its media and what made it."""
    link = media_link(entry.path, out_dir)
    name = html.escape(entry.path.name)
    if entry.kind == "video":
        media = f'<video controls preload="metadata" src="{link}"></video>'
    elif entry.kind == "audio":
        media = f'<audio controls preload="metadata" src="{link}"></audio>'
    else:
        media = f'<a href="{link}"><img src="{link}" alt="{name}" loading="lazy"></a>'
    fields = [
        ("task", f"<code>{html.escape(entry.task_id)}</code>"),
        ("prompt", html.escape(entry.prompt) if entry.prompt else "<em>none</em>"),
        ("model", html.escape(entry.model or "?")),
        ("credits", html.escape(credits_text(entry.credits))),
        ("job id", f"<code>{html.escape(entry.job_id)}</code>"),
        ("file", f'<a href="{link}">{name}</a>'),
    ]
    rows = "".join(f"<dt>{label}</dt><dd>{value}</dd>" for label, value in fields)
    task = html.escape(entry.task_id)
    return f'<figure data-task="{task}">\n{media}\n<figcaption><dl>{rows}</dl></figcaption>\n</figure>'
