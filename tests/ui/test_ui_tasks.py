"""
A task as a person opens it: the showcase's image behind its extra link, its rendered templates and
its log; and a task that failed on a bad parameter, whose log says which and what is allowed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from harness import Deployment
from playwright.sync_api import Page, expect
from support import API_KEY

pytestmark = pytest.mark.ui

DAG = "apiframe_showcase"
_PROGRESS = re.compile(r"Apiframe job \S+ is PROCESSING \(\d+%\)")


def task_url(run_id: str, task_id: str, tab: str = "", dag_id: str = DAG) -> str:
    return f"/dags/{dag_id}/runs/{run_id}/tasks/{task_id}" + (f"/{tab}" if tab else "")


@pytest.fixture(scope="module")
def showcase(airflow: Deployment, showcase_run: str) -> str:
    """The showcase run, finished; every task must have succeeded."""
    assert airflow.wait_for_run(DAG, showcase_run, timeout=420) == "success", airflow.logs()
    return showcase_run


def a_task_with_progress(airflow: Deployment, run_id: str) -> str:
    """A showcase task whose trigger saw its job running (most do: jobs take 8 s, polls start at 2 s)."""
    tasks = sorted(task for task, _ in airflow.task_instances(DAG, run_id))
    for task in tasks:
        if _PROGRESS.search(airflow.task_log(DAG, run_id, task)):
            return task
    raise AssertionError(f"no task of {tasks} logged its job's progress")


def test_the_extra_link_opens_the_image(
    airflow: Deployment, page: Page, showcase: str, screenshot: Callable[[Page, str], Path]
) -> None:
    result = airflow.results(DAG, showcase)[("smartwatch_on_marble", -1)]
    page.goto(task_url(showcase, "smartwatch_on_marble", "details"))
    expect(page.get_by_text("Extra Links")).to_be_visible()
    link = page.get_by_role("link", name="Apiframe image")
    expect(link).to_have_attribute("href", result["images"][0])
    screenshot(page, "task-extra-link")

    with page.context.expect_page() as opened:
        link.click()
    image = opened.value
    with image.expect_response(result["images"][0]) as answer:
        image.reload()
    assert answer.value.ok
    assert answer.value.headers["content-type"] == "image/png"
    # The very file the task saved.
    assert answer.value.body() == Path(result["files"][0]["path"]).read_bytes()


def test_rendered_templates_show_the_request_and_no_key(
    airflow: Deployment, page: Page, showcase: str
) -> None:
    (prompt,) = airflow.postgres.query(
        "SELECT rendered_fields->>'prompt' FROM rendered_task_instance_fields "
        "WHERE dag_id = %s AND run_id = %s AND task_id = 'smartwatch_on_marble'",
        DAG,
        showcase,
    )[0]
    page.goto(task_url(showcase, "smartwatch_on_marble", "rendered_templates"))
    expect(page.get_by_text("output_format")).to_be_visible()
    shown = page.locator("body").inner_text().replace("\n", "")
    assert prompt
    assert prompt in shown
    for field in ("quality", "high", "output_path"):
        assert field in shown
    assert API_KEY not in page.content()


def test_the_log_shows_the_jobs_statuses_and_progress(
    airflow: Deployment, page: Page, showcase: str, screenshot: Callable[[Page, str], Path]
) -> None:
    task = a_task_with_progress(airflow, showcase)
    job_id = airflow.results(DAG, showcase)[(task, -1)]["job_id"]
    page.goto(task_url(showcase, task))
    log = page.locator("code").first  # the log view; each line's parts are <code> inside it
    expect(log.get_by_text(f"Apiframe job {job_id} is QUEUED")).to_be_visible()
    expect(
        log.get_by_text(re.compile(rf"Apiframe job {job_id} is PROCESSING \(\d+%\)")).first
    ).to_be_visible()
    expect(log.get_by_text(f"Apiframe job {job_id} is COMPLETED (100%)")).to_be_visible()
    expect(
        log.get_by_text(re.compile(rf"Apiframe job {job_id} COMPLETED: 1 image, \d+ credits; saved to "))
    ).to_be_visible()
    assert API_KEY not in page.content()
    screenshot(page, "task-log")


def test_a_failed_tasks_first_error_names_the_field(
    airflow: Deployment, page: Page, screenshot: Callable[[Page, str], Path]
) -> None:
    run_id = airflow.trigger("ui_bad_size", "ui_bad_size_run")
    assert airflow.wait_for_run("ui_bad_size", run_id, timeout=180) == "failed"
    page.goto(task_url(run_id, "wrong_aspect_ratio", dag_id="ui_bad_size"))
    log = page.locator("code").first  # the log view; each line's parts are <code> inside it
    expect(log.get_by_text("Task failed with exception")).to_be_visible()
    text = log.inner_text()
    first_error = text[text.index("ERROR") :][:400]
    assert "Invalid Apiframe parameters (nothing was sent)" in first_error
    assert "aspect_ratio: got '4:3'; allowed: one of '1:1', '3:2', '2:3'" in first_error
    screenshot(page, "failed-task-log")
