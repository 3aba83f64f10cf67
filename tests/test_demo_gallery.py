"""The demo's gallery (scripts/gallery.py): the HTML page and the PNG contact sheet, from real files."""

from __future__ import annotations

import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest
from PIL import Image, ImageChops

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

from gallery import (
    CELL_HEIGHT,
    CELL_WIDTH,
    PAD,
    THUMB,
    Entry,
    sheet_size,
    write_contact_sheet,
    write_gallery,
)

RED, BLUE = (220, 20, 20), (20, 40, 220)


class Tags(HTMLParser):
    """Every start tag of a page, with its attributes, and the page's text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def of(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]


def parse(page: Path) -> Tags:
    tags = Tags()
    tags.feed(page.read_text(encoding="utf-8"))
    return tags


def png(path: Path, size: tuple[int, int], colour: tuple[int, ...], mode: str = "RGB") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, colour).save(path)
    return path


@pytest.fixture
def entries(tmp_path: Path) -> list[Entry]:
    media = tmp_path / "demo" / "showcase"
    return [
        Entry(
            "studio_portrait",
            png(media / "job-a-1.png", (200, 300), RED),
            "job-a",
            "gpt-image-1.5",
            10,
            "A portrait",
        ),
        Entry(
            "navy_shirt", png(media / "job b-1.png", (300, 200), BLUE), "job b", "gpt-image-1.5", 2.5, "Navy"
        ),
        Entry(
            "transparent",
            png(media / "job-c-1.png", (64, 64), (0, 0, 0, 0), mode="RGBA"),
            "job-c",
            "gpt-image-1.5",
            None,
            None,
        ),
    ]


def test_the_page_lists_every_entry_with_its_fields(tmp_path: Path, entries: list[Entry]) -> None:
    page = write_gallery(entries, tmp_path / "demo")

    assert page == tmp_path / "demo" / "index.html"
    tags = parse(page)
    figures = tags.of("figure")
    assert [f["data-task"] for f in figures] == ["studio_portrait", "navy_shirt", "transparent"]
    text = " ".join(tags.text)
    for entry in entries:
        assert entry.job_id in text
        assert entry.path.name in text
    assert "A portrait" in text
    assert "Navy" in text
    assert text.count("gpt-image-1.5") == 3
    assert "2.5" in text
    assert " ? " in f" {' '.join(text.split())} ", "an unknown credit cost shows as ?"
    assert "none" in text, "a task without a prompt says so"
    assert "3 files from 3 jobs" in text


def test_media_links_are_relative_and_resolve(tmp_path: Path, entries: list[Entry]) -> None:
    out = tmp_path / "demo"
    sheet = write_contact_sheet(entries, out / "contact-sheet.png")
    page = write_gallery(entries, out, contact_sheet=sheet)

    tags = parse(page)
    links = [a["src"] for a in tags.of("img")] + [a["href"] for a in tags.of("a")]
    assert len(links) == 3 + 3 * 2 + 1  # each image, its link twice (picture, file name), the sheet
    for link in links:
        assert link is not None
        assert not link.startswith(("/", "file:")), link
        assert (out / unquote(link)).is_file(), link
    assert "showcase/job%20b-1.png" in links, "a space in a file name is URL-quoted"
    assert "contact-sheet.png" in links


def test_a_prompt_holding_markup_is_escaped(tmp_path: Path, entries: list[Entry]) -> None:
    hostile = Entry(
        "<b>task</b>",
        entries[0].path,
        'job"><script>alert(2)</script>',
        "<i>model</i>",
        1,
        "<script>alert(1)</script> & \"quotes\" 'too'",
    )

    page = write_gallery([hostile], tmp_path / "demo")

    source = page.read_text(encoding="utf-8")
    assert "<script" not in source
    assert "<b>" not in source
    assert "<i>" not in source
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot; &#x27;too&#x27;" in source
    tags = parse(page)
    assert tags.of("figure") == [{"data-task": "<b>task</b>"}]
    assert "<script>alert(1)</script> & \"quotes\" 'too'" in "".join(tags.text)


@pytest.mark.parametrize(
    ("name", "tag"),
    [("clip.mp4", "video"), ("clip.webm", "video"), ("song.mp3", "audio"), ("song.wav", "audio")],
)
def test_videos_and_audio_are_playable(tmp_path: Path, name: str, tag: str) -> None:
    out = tmp_path / "demo"
    media = out / "music" / name
    media.parent.mkdir(parents=True)
    media.write_bytes(b"\0" * 16)

    page = write_gallery([Entry("make_it", media, "job-v", "some-model", 3, "go")], out)

    tags = parse(page)
    (player,) = tags.of(tag)
    assert "controls" in player
    assert player["src"] == f"music/{name}"
    assert tags.of("img") == []
    assert tags.of("video" if tag == "audio" else "audio") == []


def test_media_outside_the_page_folder_is_linked_upwards(tmp_path: Path) -> None:
    image = png(tmp_path / "elsewhere" / "x-1.png", (10, 10), RED)

    page = write_gallery([Entry("t", image, "x", "m", 1)], tmp_path / "demo")

    (img,) = parse(page).of("img")
    assert img["src"] == "../elsewhere/x-1.png"
    assert (page.parent / unquote(img["src"])).resolve() == image.resolve()


def test_the_contact_sheet_is_a_grid_of_captioned_thumbnails(tmp_path: Path, entries: list[Entry]) -> None:
    entries = [*entries, *entries[:2]]  # five: two rows of at most four

    sheet = write_contact_sheet(entries, tmp_path / "sheet" / "contact-sheet.png")

    with Image.open(sheet) as image:
        assert image.format == "PNG"
        assert image.size == (4 * (CELL_WIDTH + PAD) + PAD, 2 * (CELL_HEIGHT + PAD) + PAD)
        assert image.size == sheet_size(5)
        rgb = image.convert("RGB")

    def centre(n: int) -> tuple[int, int]:
        return (
            PAD + (n % 4) * (CELL_WIDTH + PAD) + THUMB // 2,
            PAD + (n // 4) * (CELL_HEIGHT + PAD) + THUMB // 2,
        )

    # Each cell shows its own image, in order, wrapping to the second row after four.
    assert rgb.getpixel(centre(0)) == RED
    assert rgb.getpixel(centre(1)) == BLUE
    assert rgb.getpixel(centre(3)) == RED
    assert rgb.getpixel(centre(4)) == BLUE
    # A transparent image is drawn on the background, not black.
    assert rgb.getpixel(centre(2)) == rgb.getpixel((1, 1))

    # The caption under a thumbnail has ink in it; the empty cells of the last row have none.
    def ink(n: int) -> int:
        x, y = centre(n)
        band = rgb.crop((x - THUMB // 2, y + THUMB // 2 + 4, x + THUMB // 2, y - THUMB // 2 + CELL_HEIGHT))
        blank = Image.new("RGB", band.size, rgb.getpixel((1, 1)))
        return sum(ImageChops.difference(band, blank).convert("L").histogram()[1:])

    assert all(ink(n) > 50 for n in range(5))
    assert ink(6) == 0
    # The portrait thumbnail is fitted in its box, its aspect ratio kept (200x300 -> 160x240).
    x, y = centre(0)
    assert rgb.getpixel((x - 79, y)) == RED
    assert rgb.getpixel((x - 82, y)) != RED


def test_a_single_entry_makes_a_one_cell_sheet_and_media_get_a_tile(tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\0" * 16)

    sheet = write_contact_sheet([Entry("video_task", clip, "v", "kling", 5)], tmp_path / "s.png")

    with Image.open(sheet) as image:
        assert image.size == (CELL_WIDTH + 2 * PAD, CELL_HEIGHT + 2 * PAD)
        rgb = image.convert("RGB")
    assert rgb.getpixel((PAD + 5, PAD + 5)) != rgb.getpixel((1, 1)), "a video gets a tile"
