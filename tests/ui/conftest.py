"""
The UI tier: Airflow 3's React UI of a real deployment, driven by Playwright in Debian's chromium.

One deployment (``tests/deployment/harness.py``: PostgreSQL, the emulator, api-server, scheduler,
dag-processor, triggerer; no login, every user an admin) and one headless browser serve every
test of the session. The fixtures, for ``tests/ui/test_ui_*.py``:

``airflow``
    The running :class:`harness.Deployment` (its DAG folder holds :data:`DAGS`).
``ui_url``
    The api-server's address, e.g. ``http://127.0.0.1:PORT`` (pages are ``ui_url + "/dags"``...).
``showcase_run``
    The run id of ``apiframe_showcase``, triggered once as the session starts (it runs while the
    connection tests do); wait for a task with ``airflow.task_instances``.
``browser``
    The session's headless chromium (``/usr/bin/chromium``; no browser is ever downloaded).
``page``
    A fresh browser context and page per test, its default timeout :data:`TIMEOUT` ms, its
    ``base_url`` set to ``ui_url`` (so ``page.goto("/connections")`` works).
``screenshot``
    ``screenshot(page, "name")`` saves the full page as ``out/ui/name.png`` and returns the path.

Every test here is marked ``ui`` and also ``deployment`` (so the Makefile's unit tier, ``-m "not
e2e and not deployment"``, leaves it out, and the deployment tier runs it).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

sys.path.insert(0, str(Path(__file__).parents[1] / "deployment"))

from harness import ROOT, Deployment, deployment
from support import API_KEY

#: The DAG files the UI deployment parses; add a file here to give its scenario a DAG.
DAGS: list[Path] = [
    ROOT / "example_dags" / "apiframe_showcase.py",
    ROOT / "example_dags" / "apiframe_midjourney_pick.py",
    ROOT / "tests" / "dags" / "ui_bad_size.py",
]

CHROMIUM = "/usr/bin/chromium"
#: Default timeout of every page action and ``expect`` (ms): the UI fetches as it renders.
TIMEOUT = 20_000
SCREENSHOTS = ROOT / "out" / "ui"
SHOWCASE_RUN = "ui_showcase"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every UI test ``deployment`` too: it needs the deployment tier's servers."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.deployment)


@pytest.fixture(scope="session")
def airflow() -> Iterator[Deployment]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Debian's chromium is missing at {CHROMIUM} (make chromium installs it)")
    # Every deferred task's trigger is picked up at once (the harness's default of two per loop
    # tests the triggerer's fairness), so that its log shows the job's progress as a person sees it.
    settings = {"AIRFLOW__TRIGGERER__MAX_TRIGGER_TO_SELECT_PER_LOOP": "50"}
    with deployment(DAGS, API_KEY, settings=settings) as running:
        yield running


@pytest.fixture(scope="session")
def ui_url(airflow: Deployment) -> str:
    return f"http://127.0.0.1:{airflow.api_port}"


@pytest.fixture(scope="session")
def showcase_run(airflow: Deployment) -> str:
    return airflow.trigger("apiframe_showcase", SHOWCASE_RUN)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Browser, ui_url: str) -> Iterator[Page]:
    context = browser.new_context(base_url=ui_url, viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(TIMEOUT)
    opened = context.new_page()
    try:
        yield opened
    finally:
        context.close()


@pytest.fixture
def screenshot() -> Callable[[Page, str], Path]:
    def save(page: Page, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return save
