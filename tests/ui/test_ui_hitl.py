"""
A person picks the Midjourney image to upsample, in the UI's *Required Actions* page.

``apiframe_midjourney_pick`` draws a grid, then waits for a person; the browser opens the task's
required action, sees the four grid images (loaded from the emulator, as they would be from the
API's file host), clicks ``Image 2``, and the run upsamples image 2.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from harness import Deployment, wait_for
from playwright.sync_api import Page, expect
from support import API_KEY

pytestmark = pytest.mark.ui

DAG_ID = "apiframe_midjourney_pick"
RUN_ID = "ui_pick"
#: A human-in-the-loop task waits in ``awaiting_input`` (Airflow 3.3+) or deferred (before).
WAITING = ("awaiting_input", "deferred")


def test_a_person_picks_the_image_to_upsample(
    airflow: Deployment, page: Page, screenshot: Callable[[Page, str], Path]
) -> None:
    airflow.trigger(DAG_ID, RUN_ID)

    def pick_state() -> str | None:
        state = airflow.task_instances(DAG_ID, RUN_ID).get(("pick", -1), (None, 0))[0]
        assert state not in ("failed", "upstream_failed"), airflow.task_log(DAG_ID, RUN_ID, "grid")[-3000:]
        return state if state in WAITING else None

    wait_for("the pick to wait for a person", pick_state, timeout=180)
    grid = airflow.results(DAG_ID, RUN_ID)[("grid", -1)]

    page.goto(f"/dags/{DAG_ID}/runs/{RUN_ID}/tasks/pick/required_actions")
    expect(page.get_by_text("Which lighthouse should be upsampled?").first).to_be_visible()
    expect(page.get_by_text(f"Midjourney drew four images for job {grid['job_id']}")).to_be_visible()
    images = page.get_by_role("img", name=re.compile(r"^Image [1-4]$"))
    expect(images).to_have_count(4)
    for n, url in enumerate(grid["images"], 1):
        image = page.get_by_role("img", name=f"Image {n}", exact=True)
        expect(image).to_have_attribute("src", url)
        image.scroll_into_view_if_needed()
        wait_for(
            f"Image {n} to load", lambda image=image: image.evaluate("i => i.complete && i.naturalWidth"), 20
        )
    screenshot(page, "hitl-choice")

    page.get_by_role("button", name="Image 2", exact=True).click()

    assert airflow.wait_for_run(DAG_ID, RUN_ID, timeout=240) == "success", airflow.task_log(
        DAG_ID, RUN_ID, "upsample"
    )[-3000:]
    results = airflow.results(DAG_ID, RUN_ID)
    pick, upsample = results[("pick", -1)], results[("upsample", -1)]
    assert pick["chosen_options"] == ["Image 2"]
    assert (pick["index"], pick["image"]) == (2, grid["images"][1])
    assert pick["responded_by_user"] is not None, "a person answered, not the timeout"
    # The emulator was asked to upsample image 2 of the grid.
    job = httpx.get(
        f"{airflow.emulator.url}/v2/jobs/{upsample['job_id']}", headers={"X-API-Key": API_KEY}
    ).json()
    assert job["input"] == {"action": "upsample", "index": 2, "parentJobId": grid["job_id"]}
    ((body,),) = airflow.postgres.query(
        "SELECT body FROM hitl_detail h JOIN task_instance ti ON ti.id = h.ti_id "
        "WHERE ti.dag_id = %s AND ti.run_id = %s AND ti.task_id = 'pick'",
        DAG_ID,
        RUN_ID,
    )
    assert grid["images"][1] in body
    (saved,) = (airflow.images / "midjourney_pick" / "upsampled").iterdir()
    assert saved.name.startswith(upsample["job_id"])
    assert [file["path"] for file in upsample["files"]] == [str(saved)]

    page.reload()
    expect(page.get_by_text("Image 2").first).to_be_visible()
    screenshot(page, "hitl-done")
