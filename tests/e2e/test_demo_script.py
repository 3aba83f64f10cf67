"""
``make demo`` end to end: scripts/demo.py runs the showcase DAG against the emulator, then writes its
gallery (index.html and the contact sheet), into a throwaway output folder; Debian's chromium (the
browser tier's) opens the gallery and every image on it must load.
"""

from __future__ import annotations

import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest
from PIL import Image
from playwright.sync_api import sync_playwright
from support import ROOT

sys.path.insert(0, str(ROOT / "scripts"))

from gallery import sheet_size

pytestmark = [pytest.mark.e2e, pytest.mark.ui]

KEY = "afk_demo_e2e_Hq4tYw9zPbL2mC7x"
CHROMIUM = "/usr/bin/chromium"
SCREENSHOT = ROOT / "out" / "ui" / "demo-gallery.png"
#: Each image on the page as the browser loaded it: its file name and its decoded width (0: not loaded).
LOADED = "[...document.images].map(i => [decodeURIComponent(i.src.split('/').pop()), i.naturalWidth])"


class Links(HTMLParser):
    """The ``src`` of every image and the task of every figure of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.tasks: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "img" and found.get("src"):
            self.images.append(unquote(str(found["src"])))
        if tag == "figure":
            self.tasks.append(str(found["data-task"]))


def test_the_demo_ends_with_a_gallery_of_every_image(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "APIFRAME_DEMO_OUT": str(tmp_path),
        "APIFRAME_DEMO_JOB_SECONDS": "1",
        "APIFRAME_DEMO_EMULATOR_KEY": KEY,
    }
    for name in ("APIFRAME_API_KEY", "APIFRAME_BASE_URL", "AIRFLOW_HOME", "AIRFLOW_CONN_APIFRAME_DEFAULT"):
        env.pop(name, None)

    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    demo = tmp_path / "demo"
    index, sheet = demo / "index.html", demo / "contact-sheet.png"
    assert f"Gallery:       {index}" in proc.stdout
    assert f"Contact sheet: {sheet}" in proc.stdout
    assert KEY not in proc.stdout + proc.stderr

    images = sorted((demo / "showcase").iterdir())
    assert len(images) == 8, "six showcases and their two source images"
    page = Links()
    page.feed(index.read_text(encoding="utf-8"))
    assert sorted((demo / src).resolve() for src in page.images) == [p.resolve() for p in images]
    assert len(set(page.tasks)) == 8
    text = index.read_text(encoding="utf-8")
    assert "A studio portrait of a fashion model" in text, "the prompt comes from the rendered fields"
    assert "gpt-image-1.5" in text
    assert "<em>none</em>" not in text, "every showcase task has its prompt"
    for image in images:
        assert image.name.rpartition("-")[0] in text, "each job id is on the page"

    with Image.open(sheet) as contact:
        assert contact.format == "PNG"
        assert contact.size == sheet_size(8)

    # What a person sees: the page in a browser, every image loaded and decoded as it scrolls into
    # view (the page loads them lazily), none broken.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(index.as_uri(), wait_until="load")
            shown = page.locator("img")
            assert shown.count() == len(images)
            for image in shown.all():
                image.scroll_into_view_if_needed()
                image.evaluate("i => i.decode()")  # rejects, failing the test, if it cannot load
            loaded = dict(page.evaluate(LOADED))
            assert sorted(loaded) == [p.name for p in images]
            assert all(width > 0 for width in loaded.values()), loaded
            assert page.get_by_role("link", name="contact sheet").get_attribute("href") == sheet.name
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT), full_page=True)
        finally:
            browser.close()
